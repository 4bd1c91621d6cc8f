/**
 * A strict JSON syntax check that says where the first error is.
 *
 * Topology files are read with the YAML parser (JSON is YAML), which also gives every node its
 * position. But YAML accepts more than JSON (trailing commas, unquoted strings, comments) and
 * words its errors in YAML terms, so files named *.json are checked here first. V8's own
 * JSON.parse messages do not reliably carry a position, hence this small recursive-descent scanner.
 */

export interface JsonSyntaxError {
  /** Offset of the offending character in the text. */
  offset: number;
  message: string;
}

const MAX_DEPTH = 512;
const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
const ESCAPES = new Set(['"', '\\', '/', 'b', 'f', 'n', 'r', 't']);
const HEX4 = /^[0-9a-fA-F]{4}$/;

class Fail {
  constructor(readonly error: JsonSyntaxError) {}
}

/** Returns the first syntax error of `text` as JSON, or undefined when it is valid JSON. */
export function checkJsonSyntax(text: string): JsonSyntaxError | undefined {
  let pos = text.startsWith('\uFEFF') ? 1 : 0;

  const fail = (message: string, at = pos): never => {
    throw new Fail({ offset: at, message });
  };
  const describe = (at: number): string => {
    if (at >= text.length) return 'unexpected end of input';
    const ch = text[at];
    if (ch === '/' || ch === '#') return 'comments are not allowed in JSON';
    return `unexpected character ${JSON.stringify(ch)}`;
  };
  const skipSpace = (): void => {
    while (pos < text.length && ' \t\n\r'.includes(text[pos] as string)) pos++;
  };
  const expect = (ch: string, what: string): void => {
    skipSpace();
    if (text[pos] !== ch) fail(`expected ${what}; ${describe(pos)}`);
    pos++;
  };

  const string = (): void => {
    pos++; // opening quote
    for (;;) {
      if (pos >= text.length) fail('unterminated string');
      const ch = text[pos] as string;
      if (ch === '"') {
        pos++;
        return;
      }
      if (ch.charCodeAt(0) < 0x20) fail('control characters (such as newlines) must be escaped in JSON strings');
      if (ch === '\\') {
        const esc = text[pos + 1] ?? '';
        if (esc === 'u') {
          if (!HEX4.test(text.slice(pos + 2, pos + 6))) fail('invalid \\u escape: expected 4 hex digits');
          pos += 6;
          continue;
        }
        if (!ESCAPES.has(esc)) fail(`invalid escape "\\${esc}"`);
        pos += 2;
        continue;
      }
      pos++;
    }
  };

  const value = (depth: number): void => {
    if (depth > MAX_DEPTH) fail('nesting is too deep');
    skipSpace();
    const ch = text[pos];
    if (ch === '{') return object(depth);
    if (ch === '[') return array(depth);
    if (ch === '"') return string();
    for (const word of ['true', 'false', 'null']) {
      if (text.startsWith(word, pos)) {
        pos += word.length;
        return;
      }
    }
    NUMBER.lastIndex = pos;
    if (ch !== undefined && /[-0-9]/.test(ch) && NUMBER.test(text)) {
      pos = NUMBER.lastIndex;
      return;
    }
    if (ch === "'") fail('strings must use double quotes in JSON');
    fail(`expected a value; ${describe(pos)}`);
  };

  const object = (depth: number): void => {
    pos++; // {
    skipSpace();
    if (text[pos] === '}') {
      pos++;
      return;
    }
    for (;;) {
      skipSpace();
      if (text[pos] !== '"') fail(`expected a double-quoted property name; ${describe(pos)}`);
      string();
      expect(':', "':' after the property name");
      value(depth + 1);
      skipSpace();
      if (text[pos] === '}') {
        pos++;
        return;
      }
      if (text[pos] !== ',') fail(`expected ',' or '}' after the property value; ${describe(pos)}`);
      const comma = pos++;
      skipSpace();
      if (text[pos] === '}') fail('trailing comma is not allowed in JSON', comma);
    }
  };

  const array = (depth: number): void => {
    pos++; // [
    skipSpace();
    if (text[pos] === ']') {
      pos++;
      return;
    }
    for (;;) {
      value(depth + 1);
      skipSpace();
      if (text[pos] === ']') {
        pos++;
        return;
      }
      if (text[pos] !== ',') fail(`expected ',' or ']' after the list element; ${describe(pos)}`);
      const comma = pos++;
      skipSpace();
      if (text[pos] === ']') fail('trailing comma is not allowed in JSON', comma);
    }
  };

  try {
    value(0);
    skipSpace();
    if (pos < text.length) fail(`unexpected content after the end of the JSON value; ${describe(pos)}`);
    return undefined;
  } catch (e) {
    if (e instanceof Fail) return e.error;
    throw e;
  }
}
