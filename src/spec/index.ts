/**
 * The spec stage: topology text -> validated, normalized Topology, or every issue at once.
 *
 *   parseSource (syntax, positions) -> schema (shapes, value syntax) -> rules (references,
 *   addressing) -> normalize (defaults, ids, MACs)
 *
 * Rules run only on a topology that passed the schema: they need well-formed values.
 */
import { readFileSync } from 'node:fs';
import { SpecError, sortIssues, type PendingIssue, type SpecIssue } from './errors.js';
import { topologyJsonSchema } from './json-schema.js';
import type { Topology } from './model.js';
import { normalize } from './normalize.js';
import { checkRules } from './rules.js';
import { fromZodIssues, schemaErrorMap } from './schema-issues.js';
import { TopologySchema } from './schema.js';
import { parseSource, type Locate } from './source.js';

export type ParseResult = { ok: true; topology: Topology } | { ok: false; issues: SpecIssue[] };

/** Validates plain data (an already-parsed topology); issues carry paths but no positions. */
export function validateTopology(data: unknown, locate?: Locate, file?: string): ParseResult {
  const place = (issues: PendingIssue[]): SpecIssue[] =>
    sortIssues(
      issues.map(({ path, message, at }) => ({
        path,
        message,
        ...(file !== undefined ? { file } : {}),
        ...(locate?.(path, at) ?? {}),
      })),
    );

  if (data === null || data === undefined) {
    const message = 'the topology is empty; it needs at least apiVersion, name and networks';
    return { ok: false, issues: place([{ path: [], message }]) };
  }
  const parsed = TopologySchema.safeParse(data, { error: schemaErrorMap });
  if (!parsed.success) return { ok: false, issues: place(fromZodIssues(parsed.error.issues, data, TopologySchema)) };
  const problems = checkRules(parsed.data);
  if (problems.length > 0) return { ok: false, issues: place(problems) };
  return { ok: true, topology: normalize(parsed.data) };
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

/** Reads and parses a topology file; throws SpecError (with every issue) when it is unreadable or invalid. */
export function loadTopology(file: string): Topology {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const reason = e instanceof Error ? e.message : String(e);
    throw new SpecError([{ path: [], message: `cannot read topology file: ${reason}`, file }], file);
  }
  const result = parseTopology(text, file);
  if (!result.ok) throw new SpecError(result.issues, file);
  return result.topology;
}

/** The topology format as a JSON Schema object (draft 2020-12). */
export function topologySchemaJson(): Record<string, unknown> {
  return topologyJsonSchema();
}

export { SpecError, formatIssue, formatPath, type SpecIssue, type SpecPath } from './errors.js';
export { formatAddr, formatCidr } from './ipv4.js';
export { TOPOLOGY_SCHEMA_ID } from './json-schema.js';
export type * from './model.js';
export { API_VERSION, type RawTopology } from './schema.js';
