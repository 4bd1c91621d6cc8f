/** Firewall rules as text, and rule-level differences between two versions of a topology. */
import { formatAddr } from '../../spec/ipv4.js';
import type { Topology } from '../../spec/model.js';
import { firewallsOf, type FirewallDirection, type FirewallRule } from './model.js';

const cidr = (p: { addr: number; prefix: number }): string => `${formatAddr(p.addr)}/${p.prefix}`;
const ranges = (rs: ReadonlyArray<readonly [number, number]>): string => rs.map(([a, b]) => (a === b ? `${a}` : `${a}-${b}`)).join(',');
const isAll = (rs: ReadonlyArray<readonly [number, number]>): boolean => rs.length === 1 && rs[0]![0] === 0 && rs[0]![1] === 65535;

export function formatRule(r: FirewallRule): string {
  const parts: string[] = [r.action, r.proto];
  if (r.src.prefix > 0) parts.push(`from ${cidr(r.src)}`);
  if (r.dst.prefix > 0) parts.push(`to ${cidr(r.dst)}`);
  if ((r.proto === 'tcp' || r.proto === 'udp') && !isAll(r.sports)) parts.push(`srcPorts ${ranges(r.sports)}`);
  if ((r.proto === 'tcp' || r.proto === 'udp') && !isAll(r.dports)) parts.push(`ports ${ranges(r.dports)}`);
  if (r.proto === 'icmp' && r.icmpType !== undefined) parts.push(`icmpType ${r.icmpType}`);
  if (r.name) parts.push(`(${r.name})`);
  return parts.join(' ');
}

/**
 * A rule as data for `get -o json`: the fields of the file (ports as the file writes them,
 * "80" or "5000-5100"); null where the rule matches anything. The default row has only its action.
 */
export function ruleFields(r: FirewallRule | undefined, action: string): Record<string, string | number | null | readonly string[]> {
  const portList = (rs: ReadonlyArray<readonly [number, number]>): string[] | null => (isAll(rs) ? null : rs.map(([a, b]) => (a === b ? `${a}` : `${a}-${b}`)));
  return {
    action,
    proto: r?.proto ?? null,
    from: r && r.src.prefix > 0 ? cidr(r.src) : null,
    to: r && r.dst.prefix > 0 ? cidr(r.dst) : null,
    ports: r ? portList(r.dports) : null,
    srcPorts: r ? portList(r.sports) : null,
    icmpType: r?.icmpType ?? null,
    name: r?.name ?? null,
  };
}

function diffDirection(label: string, a: FirewallDirection | undefined, b: FirewallDirection | undefined): string[] {
  const out: string[] = [];
  if (a?.default !== b?.default) out.push(`  ~ ${label} default: ${a?.default ?? '(none)'} -> ${b?.default ?? '(none)'}`);
  const x = (a?.rules ?? []).map(formatRule);
  const y = (b?.rules ?? []).map(formatRule);
  let pre = 0;
  while (pre < x.length && pre < y.length && x[pre] === y[pre]) pre++;
  let suf = 0;
  while (suf < x.length - pre && suf < y.length - pre && x[x.length - 1 - suf] === y[y.length - 1 - suf]) suf++;
  const removed = x.slice(pre, x.length - suf);
  const added = y.slice(pre, y.length - suf);
  const show = (sign: string, rules: string[], base: number): void => {
    rules.slice(0, 20).forEach((r, i) => out.push(`  ${sign} ${label} rule ${base + i}: ${r}`));
    if (rules.length > 20) out.push(`  ${sign} ${label}: ... and ${rules.length - 20} more rules`);
  };
  show('-', removed, pre);
  show('+', added, pre);
  return out;
}

/** Rule-level changes per firewall between the applied topology and a new one. */
export function firewallRuleDiff(before: Topology | undefined, after: Topology): string[] {
  const was = new Map(firewallsOf(before).map((f) => [f.name, f]));
  const now = new Map(firewallsOf(after).map((f) => [f.name, f]));
  const out: string[] = [];
  for (const name of [...new Set([...was.keys(), ...now.keys()])].sort()) {
    const a = was.get(name);
    const b = now.get(name);
    const lines = [...diffDirection('ingress', a?.ingress, b?.ingress), ...diffDirection('egress', a?.egress, b?.egress)];
    if (!a) out.push(`firewall ${name}: new (${b!.ingress.rules.length} ingress, ${b!.egress.rules.length} egress rules)`);
    else if (!b) out.push(`firewall ${name}: removed`);
    else if (lines.length) out.push(`firewall ${name}:`, ...lines);
  }
  return out;
}
