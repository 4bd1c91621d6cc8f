/**
 * zod issues -> spec issues with messages written for someone editing a YAML file:
 * "is required", "expected a list, got a mapping", one issue per unknown key with the keys that
 * are allowed there, and for unions (port 80 or "80-90") only the branch the value was aiming at.
 */
import * as z from 'zod';
import type { PendingIssue, SpecPath } from './errors.js';
import { didYouMean } from './suggest.js';

const EXPECTED: Record<string, string> = {
  object: 'a mapping',
  record: 'a mapping',
  array: 'a list',
  string: 'a string',
  number: 'a number',
  int: 'a whole number',
  boolean: 'true or false',
  null: 'null',
};

function expectedName(expected: string): string {
  return EXPECTED[expected] ?? expected;
}

/** How a value reads in a message. */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'an empty value (null)';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 37)}...` : value);
  return String(value);
}

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;

/** Default messages, for checks that do not carry their own (pass as `error` to safeParse). */
export const schemaErrorMap: z.core.$ZodErrorMap = (iss) => {
  switch (iss.code) {
    case 'invalid_type':
      if (iss.input === undefined) return 'is required';
      return `expected ${expectedName(iss.expected)}, got ${describeValue(iss.input)}`;
    case 'invalid_value': {
      if (iss.input === undefined) return 'is required';
      const values = iss.values.map((v) => (typeof v === 'string' ? v : String(v)));
      if (values.length === 1) return `expected ${JSON.stringify(iss.values[0])}, got ${describeValue(iss.input)}`;
      const hint = typeof iss.input === 'string' ? didYouMean(iss.input, values) : '';
      return `expected one of ${values.join(', ')}, got ${describeValue(iss.input)}${hint}`;
    }
    case 'too_small':
      if (iss.origin === 'array') return `must have at least ${plural(Number(iss.minimum), 'item')}`;
      if (iss.origin === 'string') return `must be at least ${plural(Number(iss.minimum), 'character')} long`;
      return `must be at least ${String(iss.minimum)}`;
    case 'too_big':
      if (iss.origin === 'array') return `must have at most ${plural(Number(iss.maximum), 'item')}`;
      if (iss.origin === 'string') return `must be at most ${plural(Number(iss.maximum), 'character')} long`;
      return `must be at most ${String(iss.maximum)}`;
    default:
      return undefined;
  }
};

function valueAt(data: unknown, path: readonly PropertyKey[]): unknown {
  let value = data;
  for (const segment of path) {
    if (typeof value !== 'object' || value === null) return undefined;
    value = (value as Record<PropertyKey, unknown>)[segment];
  }
  return value;
}

/** The keys an object schema at `path` allows (used to help with unknown keys). */
function allowedKeys(schema: z.core.$ZodType, path: readonly PropertyKey[]): string[] | undefined {
  let node: z.core.$ZodType | undefined = schema;
  for (let i = 0; node !== undefined; ) {
    if (node instanceof z.core.$ZodOptional) {
      node = node._zod.def.innerType;
      continue;
    }
    if (i === path.length) break;
    const segment = path[i++];
    if (node instanceof z.core.$ZodObject) node = node._zod.def.shape[String(segment)];
    else if (node instanceof z.core.$ZodRecord) node = node._zod.def.valueType;
    else if (node instanceof z.core.$ZodArray) node = node._zod.def.element;
    else node = undefined;
  }
  return node instanceof z.core.$ZodObject ? Object.keys(node._zod.def.shape) : undefined;
}

/** True when a union branch failed because the value has another type than the branch's. */
function wrongType(issues: z.core.$ZodIssue[], input: unknown): boolean {
  return issues.some(
    (iss) =>
      iss.path.length === 0 &&
      (iss.code === 'invalid_type' ||
        (iss.code === 'invalid_value' && iss.values.every((v) => typeof v !== typeof input))),
  );
}

function branchExpectation(issues: z.core.$ZodIssue[]): string | undefined {
  const root = issues.find((iss) => iss.path.length === 0);
  if (root?.code === 'invalid_type') return expectedName(root.expected);
  if (root?.code === 'invalid_value') return expectedName(typeof root.values[0]);
  return undefined;
}

function convert(issue: z.core.$ZodIssue, base: SpecPath, data: unknown, schema: z.core.$ZodType): PendingIssue[] {
  const path: SpecPath = [...base, ...issue.path.map((p) => (typeof p === 'number' ? p : String(p)))];
  switch (issue.code) {
    case 'unrecognized_keys': {
      const allowed = allowedKeys(schema, path) ?? [];
      return issue.keys.map((key) => {
        const hint = didYouMean(key, allowed) || (allowed.length > 0 ? `; allowed here: ${allowed.join(', ')}` : '');
        return { path: [...path, key], message: `unknown key "${key}"${hint}`, at: 'key' };
      });
    }
    case 'invalid_union': {
      const input = valueAt(data, path);
      const aimed = issue.errors.filter((branch) => !wrongType(branch, input));
      const chosen = aimed[0];
      if (chosen !== undefined) return chosen.flatMap((inner) => convert(inner, path, data, schema));
      const expected = [...new Set(issue.errors.map(branchExpectation).filter((e) => e !== undefined))];
      const message =
        expected.length > 0
          ? `expected ${expected.join(' or ')}, got ${describeValue(input)}`
          : issue.message;
      return [{ path, message }];
    }
    case 'custom':
      return [{ path, message: issue.message, ...(issue.params?.['at'] === 'key' ? { at: 'key' as const } : {}) }];
    default:
      return [{ path, message: issue.message }];
  }
}

/** Converts the issues of `schema.safeParse(data, { error: schemaErrorMap })`. */
export function fromZodIssues(issues: z.core.$ZodIssue[], data: unknown, schema: z.core.$ZodType): PendingIssue[] {
  return issues.flatMap((issue) => convert(issue, [], data, schema));
}
