/**
 * Topology text -> plain data, plus a map from spec paths back to source positions.
 *
 * One parser serves YAML and JSON (JSON is YAML 1.2); files named *.json are first held to strict
 * JSON syntax by checkJsonSyntax. Syntax errors stop here: the first one is reported (later ones
 * are usually its echoes), except duplicate keys, which are independent and all reported.
 */
import jsyaml from 'js-yaml';
import { createRequire } from 'node:module';
import type * as YamlLib from 'yaml';
import type { Document, Pair } from 'yaml';
import type { SpecIssue, SpecPath } from './errors.js';
import { checkJsonSyntax } from './json-syntax.js';

/** The `yaml` library, loaded on first use: only diagnostics and positions need it. */
let yamlLib: typeof YamlLib | undefined;
const Y = (): typeof YamlLib => (yamlLib ??= createRequire(import.meta.url)('yaml') as typeof YamlLib);
const isAlias = (n: unknown): n is YamlLib.Alias => Y().isAlias(n);
const isMap = (n: unknown): n is YamlLib.YAMLMap => Y().isMap(n);
const isScalar = (n: unknown): n is YamlLib.Scalar => Y().isScalar(n);
const isSeq = (n: unknown): n is YamlLib.YAMLSeq => Y().isSeq(n);

export interface SourcePosition {
  /** 1-based */
  line: number;
  /** 1-based */
  col: number;
}

/**
 * Finds the source position of the node at `path`: the value (or, with at='key', the key of the
 * last segment). A block collection value is located at its key, the line a reader looks for.
 * A missing key is located at its nearest existing parent.
 */
/**
 * The position of a path in the source. `onlyIfCheap`: none rather than a slow parse (warnings of
 * a valid large file: a position costs the thorough parse, tens of seconds at 100,000 rules).
 */
export type Locate = (path: SpecPath, at?: 'key' | 'value', o?: { onlyIfCheap?: boolean }) => SourcePosition | undefined;

/** Up to this size, the thorough parse that gives positions takes well under a second. */
export const CHEAP_POSITIONS_BYTES = 256 * 1024;

export interface SourceDocument {
  /** The document as plain JSON-like data (objects, arrays, strings, numbers, booleans, null). */
  data: unknown;
  locate: Locate;
}

export type SourceResult = { ok: true; document: SourceDocument } | { ok: false; issues: SpecIssue[] };

/** True for file names that are held to strict JSON syntax. */
export function isJsonFile(file: string | undefined): boolean {
  return file !== undefined && file.toLowerCase().endsWith('.json');
}

/** Nodes a document may expand to through aliases, per byte of text, before it is refused. */
const EXPANSION_PER_BYTE = 4;

/** Whether walking `data` (aliases are shared references) visits more than `budget` nodes. */
function expandsBeyond(data: unknown, budget: number): boolean {
  let left = budget;
  const stack: unknown[] = [data];
  while (stack.length) {
    const v = stack.pop();
    if (--left < 0) return true;
    if (Array.isArray(v)) for (const x of v) stack.push(x);
    else if (typeof v === 'object' && v !== null) for (const k of Object.getOwnPropertyNames(v)) stack.push((v as Record<string, unknown>)[k]);
  }
  return false;
}

/**
 * The document as data, the fast way (JSON.parse, js-yaml's YAML 1.2 core schema): undefined
 * when anything about it is unusual (a syntax error, a duplicate key, an explicit complex key,
 * aliases that expand too much), which the thorough parser then reports with positions.
 */
function fastData(text: string, file: string | undefined): { data: unknown } | undefined {
  try {
    // JSON is YAML: js-yaml also refuses duplicate keys, which JSON.parse silently merges.
    if (isJsonFile(file) && checkJsonSyntax(text)) return undefined;
    if (/^\s*\?(\s|$)/m.test(text)) return undefined; // explicit keys: possibly not plain strings
    const data = jsyaml.load(text, { schema: jsyaml.CORE_SCHEMA });
    return expandsBeyond(data, EXPANSION_PER_BYTE * text.length + 64) ? undefined : { data };
  } catch {
    return undefined;
  }
}

/**
 * Topology text -> data, and positions for issues. The data comes from a fast parser; the
 * positions (and the diagnostics of anything unusual) from the thorough one, which is run only
 * when needed: on a 100,000-rule file it takes tens of seconds, js-yaml about one.
 */
export function parseSource(text: string, file?: string): SourceResult {
  const fast = fastData(text, file);
  if (!fast) return parseSourceThorough(text, file);
  let thorough: SourceResult | undefined;
  const locate: Locate = (path, at, o) => {
    if (!thorough && o?.onlyIfCheap && text.length > CHEAP_POSITIONS_BYTES) return undefined;
    thorough ??= parseSourceThorough(text, file);
    return thorough.ok ? thorough.document.locate(path, at) : undefined;
  };
  return { ok: true, document: { data: fast.data, locate } };
}

/** Parses with the `yaml` library: every syntax problem reported with its position. */
export function parseSourceThorough(text: string, file?: string): SourceResult {
  const lines = new (Y().LineCounter)();
  const doc = Y().parseDocument(text, { lineCounter: lines, prettyErrors: true, uniqueKeys: true });
  const position = (offset: number): SourcePosition => lines.linePos(offset);
  const issue = (path: SpecPath, message: string, offset: number): SpecIssue => ({
    path,
    message,
    ...(file !== undefined ? { file } : {}),
    ...position(offset),
  });

  if (isJsonFile(file)) {
    const error = checkJsonSyntax(text);
    if (error) return { ok: false, issues: [issue([], `JSON syntax error: ${error.message}`, error.offset)] };
  }

  if (doc.errors.some((e) => e.code === 'MULTIPLE_DOCS')) {
    const starts = Y().parseAllDocuments(text, { lineCounter: new (Y().LineCounter)() });
    const docs = Array.isArray(starts) ? starts : [starts];
    const lineList = docs.map((d) => position(d.range[0]).line);
    const second = docs[1]?.range[0] ?? 0;
    return { ok: false, issues: [issue([], `one topology per file; found ${docs.length} documents, at lines ${lineList.join(', ')} (split them into separate files)`, second)] };
  }

  if (doc.errors.length > 0) {
    const duplicates = doc.errors.filter((e) => e.code === 'DUPLICATE_KEY');
    if (duplicates.length === doc.errors.length) {
      return {
        ok: false,
        issues: duplicates.map((e) => {
          const found = keyPathAt(doc.contents, e.pos[0], []);
          const name = found ? String(found[found.length - 1]) : text.slice(e.pos[0], e.pos[1]);
          return issue(found ?? [], `duplicate key "${name}"`, e.pos[0]);
        }),
      };
    }
    const first = doc.errors.find((e) => e.code !== 'DUPLICATE_KEY') ?? doc.errors[0];
    if (first) {
      const message = (first.message.split('\n')[0] ?? '').replace(/ at line \d+, column \d+:?$/, '');
      return { ok: false, issues: [issue([], `${isJsonFile(file) ? 'JSON' : 'YAML'} syntax error: ${message}`, first.pos[0])] };
    }
  }

  const badKey = findComplexKey(doc.contents, []);
  if (badKey) {
    return { ok: false, issues: [issue(badKey.path, 'keys must be plain strings, not lists or mappings', badKey.offset)] };
  }

  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 100 });
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    return { ok: false, issues: [issue([], `cannot read document: ${message}`, 0)] };
  }

  const locate: Locate = (path, at = 'value') => {
    const offset = offsetOf(doc, path, at);
    return offset === undefined ? undefined : position(offset);
  };
  return { ok: true, document: { data, locate } };
}

function startOf(node: unknown): number | undefined {
  if (isScalar(node) || isMap(node) || isSeq(node) || isAlias(node)) return node.range?.[0];
  return undefined;
}

function isBlockCollection(node: unknown): boolean {
  return (isMap(node) || isSeq(node)) && !node.flow;
}

/** `key:` with nothing after it: a null scalar with no source text of its own. */
function isEmptyScalar(node: unknown): boolean {
  return isScalar(node) && node.range !== undefined && node.range !== null && node.range[0] === node.range[1];
}

function keyText(pair: Pair<unknown, unknown>): string | undefined {
  return isScalar(pair.key) ? String(pair.key.value) : undefined;
}

function offsetOf(doc: Document.Parsed, path: SpecPath, at: 'key' | 'value'): number | undefined {
  let node: unknown = doc.contents;
  // Best position known so far: where the current node is introduced (its key, or its list item).
  let anchor = startOf(node) ?? 0;
  for (const [i, segment] of path.entries()) {
    const last = i === path.length - 1;
    if (isAlias(node)) node = node.resolve(doc);
    let keyStart: number | undefined;
    if (isMap(node)) {
      const pair = node.items.find((p) => keyText(p) === String(segment));
      if (!pair) return anchor;
      keyStart = startOf(pair.key);
      node = pair.value;
    } else if (isSeq(node) && typeof segment === 'number') {
      node = node.items[segment];
      if (node === undefined) return anchor;
    } else {
      return anchor;
    }
    const valueStart = startOf(node);
    if (last && at === 'key' && keyStart !== undefined) return keyStart;
    if (keyStart !== undefined && (valueStart === undefined || isBlockCollection(node) || isEmptyScalar(node))) {
      anchor = keyStart;
    } else {
      anchor = valueStart ?? anchor;
    }
  }
  return anchor;
}

/** The path of the map key that starts at `offset`, if any. */
function keyPathAt(node: unknown, offset: number, path: SpecPath): SpecPath | undefined {
  if (isMap(node)) {
    for (const pair of node.items) {
      const key = keyText(pair);
      if (key === undefined) continue;
      if (startOf(pair.key) === offset) return [...path, key];
      const found = keyPathAt(pair.value, offset, [...path, key]);
      if (found) return found;
    }
  } else if (isSeq(node)) {
    for (const [i, item] of node.items.entries()) {
      const found = keyPathAt(item, offset, [...path, i]);
      if (found) return found;
    }
  }
  return undefined;
}

/** The first map key that is not a scalar (YAML allows `? [a, b]: c`; a topology does not). */
function findComplexKey(node: unknown, path: SpecPath): { path: SpecPath; offset: number } | undefined {
  if (isMap(node)) {
    for (const pair of node.items) {
      if (pair.key !== null && !isScalar(pair.key)) return { path, offset: startOf(pair.key) ?? startOf(node) ?? 0 };
      const found = findComplexKey(pair.value, [...path, keyText(pair) ?? '']);
      if (found) return found;
    }
  } else if (isSeq(node)) {
    for (const [i, item] of node.items.entries()) {
      const found = findComplexKey(item, [...path, i]);
      if (found) return found;
    }
  }
  return undefined;
}
