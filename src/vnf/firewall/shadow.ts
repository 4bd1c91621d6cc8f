/**
 * Rules that can never match: a rule is shadowed when an earlier rule of the same direction
 * matches every packet it matches (first match wins, so it never decides anything).
 *
 * The check is sound — it warns only when containment holds on every field: the earlier rule's
 * source and destination prefixes contain the later one's, its protocol is the same or any, its
 * port ranges cover the later one's, and its ICMP type is the same or any. It is not complete: a
 * rule covered only by several earlier rules together is not reported, and a very large rule set
 * stops being checked after a fixed amount of work (so validate stays fast at 100,000 rules).
 */
import { mask } from '../../spec/ipv4.js';
import type { Ipv4Prefix, PortRange } from '../../spec/model.js';
import type { FirewallRule } from './model.js';

export interface Shadowed {
  /** Index of the rule that can never match. */
  rule: number;
  /** Index of the earlier rule that matches everything it does. */
  by: number;
}

/** Comparisons and index probes allowed per direction before the check gives up (sound, not complete). */
export const SHADOW_BUDGET = 1_000_000;

/** A prefix as one exact number: its network address (32 bits) and length (6 bits). */
const prefixKey = (p: Ipv4Prefix, len: number): number => ((p.addr & mask(len)) >>> 0) * 64 + len;

function portsCover(outer: PortRange[], inner: PortRange[]): boolean {
  return inner.every(([lo, hi]) => outer.some(([a, b]) => a <= lo && hi <= b));
}

/** Whether `a` matches every packet `b` matches, prefixes aside (the index already checked them). */
function coversRest(a: FirewallRule, b: FirewallRule): boolean {
  if (a.proto !== 'any' && a.proto !== b.proto) return false;
  if (a.icmpType !== undefined && a.icmpType !== b.icmpType) return false;
  return portsCover(a.dports, b.dports) && portsCover(a.sports, b.sports);
}

/** Whether `a` matches every packet `b` matches. */
export function covers(a: FirewallRule, b: FirewallRule): boolean {
  const within = (o: Ipv4Prefix, i: Ipv4Prefix): boolean => o.prefix <= i.prefix && ((o.addr ^ i.addr) & mask(o.prefix)) === 0;
  return within(a.src, b.src) && within(a.dst, b.dst) && coversRest(a, b);
}

/**
 * The shadowed rules of one direction, in order. Earlier rules are indexed by their exact source
 * and destination prefixes, so a rule is compared only with those whose prefixes contain its own
 * (one probe per prefix length in use); a shadowed rule is not indexed, since whatever it covers
 * its own shadower covers too.
 */
export function shadowedRules(rules: readonly FirewallRule[], budget = SHADOW_BUDGET): Shadowed[] {
  const out: Shadowed[] = [];
  const index = new Map<number, Map<number, FirewallRule[]>>(); // source prefix -> destination prefix -> rules
  const srcLens = new Set<number>();
  const dstLens = new Set<number>();
  let left = budget;
  for (const b of rules) {
    let by: FirewallRule | undefined;
    for (const sl of srcLens) {
      if (sl > b.src.prefix) continue;
      const bySrc = index.get(prefixKey(b.src, sl));
      if (!bySrc) {
        if (--left < 0) return out;
        continue;
      }
      for (const dl of dstLens) {
        if (dl > b.dst.prefix) continue;
        if (--left < 0) return out;
        for (const a of bySrc.get(prefixKey(b.dst, dl)) ?? []) {
          if (--left < 0) return out;
          if ((!by || a.index < by.index) && coversRest(a, b)) {
            by = a;
            break; // a bucket is in file order: its first cover is its earliest
          }
        }
      }
    }
    if (by) {
      out.push({ rule: b.index, by: by.index });
      continue;
    }
    const sk = prefixKey(b.src, b.src.prefix);
    const dk = prefixKey(b.dst, b.dst.prefix);
    let bySrc = index.get(sk);
    if (!bySrc) index.set(sk, (bySrc = new Map()));
    let bucket = bySrc.get(dk);
    if (!bucket) bySrc.set(dk, (bucket = []));
    bucket.push(b);
    srcLens.add(b.src.prefix);
    dstLens.add(b.dst.prefix);
  }
  out.sort((x, y) => x.rule - y.rule);
  return out;
}
