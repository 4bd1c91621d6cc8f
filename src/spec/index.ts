/**
 * The spec stage: topology text -> validated, normalized Topology, or every issue at once.
 *
 *   parseSource (syntax, positions) -> schema (shapes, value syntax) -> rules (references,
 *   addressing, capacity; core and every VNF module) -> normalize (defaults, MACs)
 *
 * Every stage reports: the rules run on the part of the file that passed the schema, so one
 * malformed entry does not hide the problems of the others.
 */
import { readFileSync } from 'node:fs';
import type * as z from 'zod';
import { formatPath, isWarning, SpecError, sortIssues, type PendingIssue, type SpecIssue, type SpecPath } from './errors.js';
import { topologyJsonSchema } from './json-schema.js';
import type { Topology } from './model.js';
import { normalize } from './normalize.js';
import { checkRules } from './rules.js';
import { fromZodIssues, schemaErrorMap } from './schema-issues.js';
import { API_VERSION, topologySchema, type RawTopology } from './schema.js';
import { parseSource, type Locate } from './source.js';

/**
 * The topology, or every issue. Warnings (severity 'warning': legal but almost certainly not
 * meant, like a firewall rule that can never match) never make a file invalid: they come with
 * the topology, and among the issues of an invalid file.
 */
export type ParseResult = { ok: true; topology: Topology; warnings: SpecIssue[] } | { ok: false; issues: SpecIssue[] };

/** Keys that plain JavaScript objects cannot hold as data ("__proto__" sets the prototype instead). */
const FORBIDDEN_KEYS = new Set(['__proto__']);

function forbiddenKeys(data: unknown, path: SpecPath, out: PendingIssue[]): void {
  if (Array.isArray(data)) {
    data.forEach((v, i) => forbiddenKeys(v, [...path, i], out));
  } else if (typeof data === 'object' && data !== null) {
    for (const key of Object.getOwnPropertyNames(data)) {
      if (FORBIDDEN_KEYS.has(key)) {
        out.push({ path: [...path, key], message: `"${key}" cannot be used as a key or name`, at: 'key' });
        continue;
      }
      forbiddenKeys((data as Record<string, unknown>)[key], [...path, key], out);
    }
  }
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The part of `data` without the entries that have schema issues: a named entry (networks.x,
 * firewalls.y, ...) with an issue anywhere below it is left out and named in `invalid`; an
 * unknown or invalid top-level key is left out; apiVersion and name get placeholders.
 */
function validPart(data: Record<string, unknown>, issues: ReadonlyArray<{ path: PropertyKey[] }>): { subset: Record<string, unknown>; invalid: Set<string> } {
  const subset: Record<string, unknown> = {};
  for (const key of Object.keys(data)) {
    const v = data[key];
    subset[key] = isRecord(v) ? { ...v } : v;
  }
  const invalid = new Set<string>();
  for (const { path } of issues) {
    const [top, entry] = path;
    if (typeof top !== 'string') continue;
    if (top === 'apiVersion') subset['apiVersion'] = API_VERSION;
    else if (top === 'name') subset['name'] = 'invalid';
    else if (path.length >= 2 && typeof entry === 'string' && isRecord(subset[top]) && top !== 'settings') {
      delete (subset[top] as Record<string, unknown>)[entry];
      invalid.add(`${top}/${entry}`);
    } else {
      delete subset[top];
    }
  }
  if (!('apiVersion' in subset)) subset['apiVersion'] = API_VERSION;
  if (!('name' in subset)) subset['name'] = 'invalid';
  return { subset, invalid };
}

/** Validates plain data (an already-parsed topology); issues carry paths but no positions. */
export function validateTopology(data: unknown, locate?: Locate, file?: string): ParseResult {
  // Errors are placed first: once one has paid for positions, the warnings get theirs too; a
  // valid large file's warnings go without (their spec path says where).
  const place = (issues: PendingIssue[]): SpecIssue[] => {
    const one = ({ path, message, at, severity }: PendingIssue): SpecIssue => ({
      path,
      message,
      ...(severity ? { severity } : {}),
      ...(file !== undefined ? { file } : {}),
      ...(locate?.(path, at, { onlyIfCheap: severity === 'warning' }) ?? {}),
    });
    const errors = issues.filter((i) => !isWarning(i)).map(one);
    return sortIssues([...errors, ...issues.filter(isWarning).map(one)]);
  };

  if (data === null || data === undefined) {
    const message = 'the topology is empty; it needs at least apiVersion, name and networks';
    return { ok: false, issues: place([{ path: [], message }]) };
  }
  const issues: PendingIssue[] = [];
  forbiddenKeys(data, [], issues);
  const schema = topologySchema();
  const parsed = schema.safeParse(data, { error: schemaErrorMap });
  let raw: RawTopology | undefined;
  let invalid = new Set<string>();
  if (parsed.success) {
    raw = parsed.data as RawTopology;
  } else {
    // Where a forbidden key was, the schema saw an object without it: its complaints there
    // ("needs at least one port") are consequences of the issue already reported.
    const mangled = new Set(issues.map((i) => formatPath(i.path.slice(0, -1))));
    issues.push(...fromZodIssues(parsed.error.issues, data, schema).filter((i) => !mangled.has(formatPath(i.path))));
    if (isRecord(data)) {
      const part = validPart(data, parsed.error.issues as z.core.$ZodIssue[]);
      const again = schema.safeParse(part.subset);
      if (again.success) {
        raw = again.data as RawTopology;
        invalid = part.invalid;
      }
    }
  }
  if (raw) issues.push(...checkRules(raw, invalid));
  if (!raw || issues.some((i) => !isWarning(i))) return { ok: false, issues: place(issues) };
  return { ok: true, topology: normalize(raw), warnings: place(issues) };
}

/**
 * Parses topology text (YAML, or JSON when `file` ends in .json). Never throws on user mistakes:
 * returns the normalized topology, or all issues with paths and `file:line:col` positions.
 */
export function parseTopology(text: string, file?: string): ParseResult {
  const source = parseSource(text, file);
  if (!source.ok) return { ok: false, issues: source.issues };
  return validateTopology(source.document.data, source.document.locate, file);
}

/** The file name `-` means standard input; its issues name it "<stdin>". */
export const STDIN = '-';
export const sourceName = (file: string): string => (file === STDIN ? '<stdin>' : file);

/** Standard input is read once per process: several `-f -` share it. */
let stdinText: string | undefined;

function readText(file: string): string {
  if (file !== STDIN) return readFileSync(file, 'utf8');
  stdinText ??= readFileSync(0, 'utf8');
  return stdinText;
}

/**
 * Reads and parses a topology file (`-`: standard input); throws SpecError (with every issue,
 * warnings included) when it is unreadable or invalid. Returns the warnings of a valid file.
 */
export function readTopology(file: string): { topology: Topology; warnings: SpecIssue[] } {
  const { topology, warnings } = readTopologySource(file);
  return { topology, warnings };
}

/** readTopology, with the text it read (apply --store stores the file as written). */
export function readTopologySource(file: string): { topology: Topology; warnings: SpecIssue[]; text: string } {
  const name = sourceName(file);
  let text: string;
  try {
    text = readText(file);
  } catch (e) {
    const reason = e instanceof Error ? e.message : String(e);
    throw new SpecError([{ path: [], message: `cannot read topology file: ${reason}`, file: name }], name);
  }
  const result = parseTopology(text, name);
  if (!result.ok) throw new SpecError(result.issues, name);
  return { topology: result.topology, warnings: result.warnings, text };
}

/**
 * One file's verdict, never throwing on user mistakes: the topology when it is valid, and every
 * issue (errors and warnings) with `file` named as the user gave it (`<stdin>` for `-`).
 */
export function checkTopologyFile(file: string): { file: string; topology?: Topology; issues: SpecIssue[] } {
  try {
    const r = readTopology(file);
    return { file: sourceName(file), topology: r.topology, issues: r.warnings };
  } catch (e) {
    if (e instanceof SpecError) return { file: sourceName(file), issues: e.issues };
    throw e;
  }
}

/** readTopology without the warnings. */
export function loadTopology(file: string): Topology {
  return readTopology(file).topology;
}

/** The topology format as a JSON Schema object (draft 2020-12). */
export function topologySchemaJson(): Record<string, unknown> {
  return topologyJsonSchema();
}

export { SpecError, formatIssue, formatPath, isWarning, type SpecIssue, type SpecPath } from './errors.js';
export { formatAddr, formatCidr } from './ipv4.js';
export { TOPOLOGY_SCHEMA_ID } from './json-schema.js';
export type * from './model.js';
export { API_VERSION, type RawTopology } from './schema.js';
