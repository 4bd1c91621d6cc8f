/**
 * The reference classifier: a straightforward first-match scan over the
 * normalized rules, written to be obviously right. Tests check the kernel's
 * tuple-space classifier against it packet by packet.
 */
import type { Ipv4Prefix } from '../../spec/model.js';
import type { FirewallDirection, FirewallRule } from './model.js';
import { PROTO, type FwPacket } from './packet.js';
import { addrMask } from './ports.js';

const inPrefix = (p: Ipv4Prefix, a: number): boolean => ((a & addrMask(p.prefix)) >>> 0) === p.addr;
const inRanges = (rs: ReadonlyArray<readonly [number, number]>, v: number): boolean => rs.some(([lo, hi]) => v >= lo && v <= hi);

export function ruleMatches(r: FirewallRule, p: FwPacket): boolean {
  if (r.proto !== 'any' && PROTO[r.proto] !== p.proto) return false;
  if (!inPrefix(r.src, p.saddr) || !inPrefix(r.dst, p.daddr)) return false;
  if (r.proto === 'tcp' || r.proto === 'udp') return inRanges(r.sports, p.sport) && inRanges(r.dports, p.dport);
  if (r.proto === 'icmp') return r.icmpType === undefined || r.icmpType === p.dport;
  return true;
}

/** Index of the first matching rule, or -1 for the default action; and the action. */
export function referenceClassify(d: FirewallDirection, p: FwPacket): { rule: number; action: 'allow' | 'drop' | 'reject' } {
  for (const r of d.rules) if (ruleMatches(r, p)) return { rule: r.index, action: r.action };
  return { rule: -1, action: d.default };
}
