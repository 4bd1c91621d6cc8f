/** Issues found in a topology file, and the error that carries them. */

/** Where in the spec an issue is: keys and list indexes from the root, e.g. ['networks', 'front', 'subnet']. */
export type SpecPath = (string | number)[];

export interface SpecIssue {
  path: SpecPath;
  message: string;
  file?: string;
  /** 1-based line of the node at `path` (or of its nearest existing parent when the key is missing). */
  line?: number;
  /** 1-based column. */
  col?: number;
  /** A warning (e.g. a firewall rule that can never match) does not make the file invalid; absent means error. */
  severity?: 'warning';
}

/** An issue before it is given a source position. */
export interface PendingIssue {
  path: SpecPath;
  message: string;
  /** Point at the key of the last path segment instead of its value (names, unknown keys). */
  at?: 'key' | 'value';
  severity?: 'warning';
}

export const isWarning = (i: { severity?: 'warning' }): boolean => i.severity === 'warning';

const PLAIN_KEY = /^[A-Za-z0-9_-]+$/;

/** `networks.front.subnet`, `routers.r1.routes[0].via`, `containers["a.b"]`. */
export function formatPath(path: SpecPath): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else if (PLAIN_KEY.test(segment)) out += out === '' ? segment : `.${segment}`;
    else out += `[${JSON.stringify(segment)}]`;
  }
  return out;
}

/** `topology.yaml:12:7: networks.front.subnet: message` */
export function formatIssue(issue: SpecIssue): string {
  let where = issue.file ?? '<input>';
  if (issue.line !== undefined) where += `:${issue.line}:${issue.col ?? 1}`;
  const path = formatPath(issue.path);
  const message = isWarning(issue) ? `warning: ${issue.message}` : issue.message;
  return path === '' ? `${where}: ${message}` : `${where}: ${path}: ${message}`;
}

/** Orders issues by source position; issues without a position keep their order, after the others. */
export function sortIssues(issues: SpecIssue[]): SpecIssue[] {
  const rank = (i: SpecIssue): number =>
    i.line === undefined ? Number.MAX_SAFE_INTEGER : i.line * 1e6 + (i.col ?? 0);
  return issues
    .map((issue, order) => ({ issue, order }))
    .sort((a, b) => rank(a.issue) - rank(b.issue) || a.order - b.order)
    .map((x) => x.issue);
}

/** Thrown by loadTopology when a topology file is unreadable or invalid; lists every issue. */
export class SpecError extends Error {
  override readonly name = 'SpecError';
  readonly issues: SpecIssue[];
  readonly file: string | undefined;

  constructor(issues: SpecIssue[], file?: string) {
    super(issues.map(formatIssue).join('\n'));
    this.issues = issues;
    this.file = file;
  }

  /** One line per issue, `file:line:col: path: message`. */
  format(): string {
    return this.issues.map(formatIssue).join('\n');
  }
}
