/**
 * Port equivalence classes of one port field of a rule set: the field's
 * range boundaries cut 0..65535 into elementary intervals; every interval
 * some rule names gets a class id (1..65534). A rule's range is then the
 * set of classes it covers, and a packet's port is one class.
 */
import { FirewallTooComplexError } from './errors.js';

export type Range = readonly [number, number];

export interface PortClasses {
  /** Covered intervals in ascending order, each with its class id. */
  intervals: Array<{ lo: number; hi: number; id: number }>;
}

export function buildPortClasses(ranges: ReadonlyArray<Range>, what: string): PortClasses {
  const cuts = new Set<number>();
  for (const [lo, hi] of ranges) {
    cuts.add(lo);
    cuts.add(hi + 1);
  }
  const bounds = [...cuts].sort((a, b) => a - b);
  // Mark which elementary intervals some range covers (difference array over interval indexes).
  const idx = new Map(bounds.map((b, i) => [b, i]));
  const diff = new Int32Array(bounds.length + 1);
  for (const [lo, hi] of ranges) {
    diff[idx.get(lo)!]! += 1;
    diff[idx.get(hi + 1)!]! -= 1;
  }
  const intervals: PortClasses['intervals'] = [];
  let depth = 0;
  for (let i = 0; i + 1 < bounds.length; i++) {
    depth += diff[i]!;
    if (depth > 0) intervals.push({ lo: bounds[i]!, hi: bounds[i + 1]! - 1, id: intervals.length + 1 });
  }
  if (intervals.length > 65534) throw new FirewallTooComplexError(`${what}: ${intervals.length} distinct port intervals; at most 65534 are supported`);
  return { intervals };
}

/** Class ids of the intervals inside [lo, hi] (a range the classes were built from). */
export function classesIn(pc: PortClasses, [lo, hi]: Range): number[] {
  const iv = pc.intervals;
  let a = 0;
  let b = iv.length;
  while (a < b) {
    const m = (a + b) >> 1;
    if (iv[m]!.lo < lo) a = m + 1;
    else b = m;
  }
  const out: number[] = [];
  for (let i = a; i < iv.length && iv[i]!.hi <= hi; i++) out.push(iv[i]!.id);
  return out;
}

/** The class of a port, or undefined when no rule names it. */
export function classOf(pc: PortClasses, port: number): number | undefined {
  const iv = pc.intervals;
  let a = 0;
  let b = iv.length - 1;
  while (a <= b) {
    const m = (a + b) >> 1;
    if (port < iv[m]!.lo) b = m - 1;
    else if (port > iv[m]!.hi) a = m + 1;
    else return iv[m]!.id;
  }
  return undefined;
}
