/** Transport port lists: `[80, 443, "5000-5100"]` -> merged inclusive ranges. */
import { failed, parsed, type Parsed } from './result.js';

/** An inclusive range of ports. */
export type PortRange = [lo: number, hi: number];

/** What a rule without `ports` matches: every port, including 0. */
export const ANY_PORT: PortRange = [0, 65535];

export const PORT_SPEC_PATTERN = '^[0-9]{1,5}(-[0-9]{1,5})?$';
const RANGE = /^([0-9]{1,5})(?:-([0-9]{1,5}))?$/;

function checkPort(port: number, text: string): string | undefined {
  return port >= 1 && port <= 65535 ? undefined : `port ${text} is out of range 1-65535`;
}

/** Parses one entry of a port list: a number, or a string "N" or "LO-HI". */
export function parsePortSpec(spec: number | string): Parsed<PortRange> {
  if (typeof spec === 'number') {
    if (!Number.isInteger(spec)) return failed(`port ${spec} is not a whole number`);
    const error = checkPort(spec, String(spec));
    return error ? failed(error) : parsed([spec, spec]);
  }
  const match = RANGE.exec(spec);
  if (!match) return failed(`"${spec}" is not a port or port range; write 80 or "5000-5100"`);
  const loText = match[1] ?? '';
  const hiText = match[2] ?? loText;
  const lo = Number(loText);
  const hi = Number(hiText);
  const error = checkPort(lo, loText) ?? checkPort(hi, hiText);
  if (error) return failed(error);
  if (lo > hi) return failed(`port range "${spec}" is reversed; write "${hi}-${lo}"`);
  return parsed([lo, hi]);
}

/** Sorts ranges and merges those that overlap or touch: [[80,80],[70,90],[91,95]] -> [[70,95]]. */
export function mergeRanges(ranges: PortRange[]): PortRange[] {
  const sorted = [...ranges].sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const out: PortRange[] = [];
  for (const [lo, hi] of sorted) {
    const prev = out[out.length - 1];
    if (prev && lo <= prev[1] + 1) prev[1] = Math.max(prev[1], hi);
    else out.push([lo, hi]);
  }
  return out;
}
