/**
 * Output rendering shared by the commands: -o table|wide|json|yaml.
 *
 * Tables are plain text like kubectl's: a header row (unless --no-headers) and columns aligned
 * with spaces, no borders and no colour, so they read the same in a terminal and in a pipe.
 * JSON and YAML are the data itself: an absent value is null, never a "-" placeholder.
 */
import { createRequire } from 'node:module';
import { formatIssue, type SpecIssue } from '../src/spec/errors.js';

export type OutputFormat = 'table' | 'wide' | 'json' | 'yaml';

export const OUTPUT_HELP = 'table | wide | json | yaml';

export function parseFormat(v: string): OutputFormat {
  const f = v.toLowerCase();
  if (f === 'table' || f === 'wide' || f === 'json' || f === 'yaml') return f;
  throw new UsageError(`unknown output format "${v}" (use table, wide, json or yaml)`);
}

/** Whether the format is one of the data formats (json, yaml) rather than a table. */
export const isData = (f: OutputFormat): f is 'json' | 'yaml' => f === 'json' || f === 'yaml';

/** Commander's collector for a repeatable option (`-f a -f b`). */
export const collect = (v: string, prev: string[]): string[] => [...prev, v];

/** Invalid invocation or input: exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

function replacer(_k: string, v: unknown): unknown {
  return typeof v === 'bigint' ? Number(v) : v;
}

export function renderData(data: unknown, format: 'json' | 'yaml'): string {
  if (format === 'json') return JSON.stringify(data, replacer, 2);
  const { stringify } = createRequire(import.meta.url)('yaml') as typeof import('yaml');
  return stringify(JSON.parse(JSON.stringify(data, replacer)));
}

/** Table settings for this run (set once from the global options before a command runs). */
export const tableSettings = { headers: true };

type Cell = string | number | bigint | null | undefined;

/** Plain aligned columns, kubectl style: upper-case header, two spaces between columns, no trailing blanks. */
export function formatTable(head: string[], rows: Cell[][], opts: { headers?: boolean } = {}): string {
  const text = (c: Cell): string => (c === undefined || c === null ? '-' : String(c));
  const body = rows.map((r) => head.map((_, i) => text(r[i])));
  const lines = (opts.headers ?? tableSettings.headers) ? [head.map((h) => h.toUpperCase()), ...body] : body;
  const widths = head.map((_, i) => Math.max(0, ...lines.map((l) => [...(l[i] ?? '')].length)));
  return lines.map((l) => l.map((c, i) => (i === l.length - 1 ? c : c + ' '.repeat(widths[i]! - [...c].length + 2))).join('').trimEnd()).join('\n');
}

/** formatTable, kept async for the commands that await it. */
export async function table(head: string[], rows: Cell[][]): Promise<string> {
  return formatTable(head, rows);
}

/** For commands that wait on a topology's lock: says whom they wait for, once. */
export const lockWait = {
  onWait: (holder: string): void => {
    console.error(`waiting for ${holder} to finish changing this topology...`);
  },
};

/** `3 problems (2 errors, 1 warning)`: the last line of a validation report. */
export function problemSummary(issues: ReadonlyArray<{ severity?: 'warning' }>): string {
  const warnings = issues.filter((i) => i.severity === 'warning').length;
  const errors = issues.length - warnings;
  const n = (k: number, w: string): string => `${k} ${w}${k === 1 ? '' : 's'}`;
  return `${n(issues.length, 'problem')} (${n(errors, 'error')}, ${n(warnings, 'warning')})`;
}

/** Warnings of a valid file (plan, apply, lab up): shown on stderr, never fatal. */
export function showWarnings(warnings: readonly SpecIssue[]): void {
  for (const w of warnings) console.error(formatIssue(w));
}

/** Issues as objects for editors and CI (validate -o json): positions are null where unknown. */
export function problemObjects(issues: readonly SpecIssue[], formatPath: (p: SpecIssue['path']) => string): Array<Record<string, unknown>> {
  return issues.map((i) => ({
    file: i.file ?? null,
    line: i.line ?? null,
    column: i.line !== undefined ? (i.col ?? 1) : null,
    path: formatPath(i.path),
    message: i.message,
    severity: i.severity ?? 'error',
  }));
}
