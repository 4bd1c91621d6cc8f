/**
 * The same firewall rules for the Linux reference datapaths, in a router namespace's FORWARD
 * path, with the semantics vnf's firewall has on the server's ingress: stateful (replies and
 * established connections pass first), then the rules in order (first match wins), then the
 * default drop; traffic the server sends is allowed (vnf's egress default).
 *   - iptables-legacy: one rule per rule, in a chain jumped to from FORWARD for packets from `a`;
 *   - nftables linear: the same, one rule per rule — except that a rule with several port ranges
 *     becomes one rule per range, consecutive, with the same verdict (equivalent; an anonymous set
 *     per rule made `nft -f` of the 100k random set take 78 s instead of 8 here);
 *   - nftables sets: tcp/udp allow rules folded into interval sets of concatenations
 *     (saddr . daddr . dport), one lookup per protocol; other allow rules follow, linear. Only exact
 *     for rule sets whose rules all allow (then order does not matter): the realistic set; a mixed
 *     random set is not expressible as sets without changing first-match semantics, and is refused.
 */
import { formatAddr } from '../../src/spec/ipv4.js';
import type { FirewallRule } from '../../src/vnf/firewall/model.js';

type Ranges = Array<readonly [number, number]>;
const full = (rs: Ranges): boolean => rs.length === 1 && rs[0]![0] === 0 && rs[0]![1] === 65535;
const cidr = (p: { addr: number; prefix: number }): string => `${formatAddr(p.addr)}/${p.prefix}`;

/** Interfaces of the router namespace: `a` faces the client, `b` the server. */
export const FROM_CLIENT = 'a';
export const FROM_SERVER = 'b';

function iptPorts(flag: 'sport' | 'dport', rs: Ranges): string[] {
  if (full(rs)) return [];
  const one = (r: readonly [number, number]): string => (r[0] === r[1] ? `${r[0]}` : `${r[0]}:${r[1]}`);
  if (rs.length === 1) return [`--${flag}`, one(rs[0]!)];
  return ['-m', 'multiport', `--${flag}s`, rs.map(one).join(',')];
}

function iptRule(r: FirewallRule): string {
  const m: string[] = [];
  if (r.proto !== 'any') m.push('-p', r.proto);
  if (r.src.prefix) m.push('-s', cidr(r.src));
  if (r.dst.prefix) m.push('-d', cidr(r.dst));
  if (r.proto === 'tcp' || r.proto === 'udp') m.push(...iptPorts('sport', r.sports), ...iptPorts('dport', r.dports));
  if (r.proto === 'icmp' && r.icmpType !== undefined) m.push('--icmp-type', String(r.icmpType));
  const target = r.action === 'allow' ? 'ACCEPT' : r.action === 'drop' ? 'DROP' : r.proto === 'tcp' ? 'REJECT --reject-with tcp-reset' : 'REJECT';
  return `-A VNFB ${m.join(' ')} -j ${target}`.replace(/ {2,}/g, ' ');
}

/** Input for iptables-legacy-restore. */
export function iptablesRestore(rules: FirewallRule[]): string {
  return [
    '*filter',
    ':INPUT ACCEPT [0:0]',
    ':FORWARD DROP [0:0]',
    ':OUTPUT ACCEPT [0:0]',
    ':VNFB - [0:0]',
    '-A FORWARD -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT',
    `-A FORWARD -i ${FROM_SERVER} -j ACCEPT`,
    `-A FORWARD -i ${FROM_CLIENT} -j VNFB`,
    ...rules.map(iptRule),
    'COMMIT',
    '',
  ].join('\n');
}

/** One match per range: ['tcp dport 80', 'tcp dport 1000-2000'], or [''] for any port. */
function nftPorts(proto: string, field: 'sport' | 'dport', rs: Ranges): string[] {
  if (full(rs)) return [''];
  return rs.map((r) => `${proto} ${field} ${r[0] === r[1] ? `${r[0]}` : `${r[0]}-${r[1]}`}`);
}

function nftRule(r: FirewallRule): string[] {
  const m: string[] = [];
  if (r.src.prefix) m.push(`ip saddr ${cidr(r.src)}`);
  if (r.dst.prefix) m.push(`ip daddr ${cidr(r.dst)}`);
  const verdict = r.action === 'allow' ? 'accept' : r.action === 'drop' ? 'drop' : r.proto === 'tcp' ? 'reject with tcp reset' : 'reject';
  if (r.proto === 'tcp' || r.proto === 'udp') {
    const out: string[] = [];
    for (const sp of nftPorts(r.proto, 'sport', r.sports)) {
      for (const dp of nftPorts(r.proto, 'dport', r.dports)) {
        const ports = [sp, dp].filter(Boolean);
        out.push(`    ${[...m, ...(ports.length ? ports : [`ip protocol ${r.proto}`])].join(' ')} ${verdict}`);
      }
    }
    return out;
  }
  if (r.proto === 'icmp') m.push(r.icmpType !== undefined ? `icmp type ${r.icmpType}` : 'ip protocol icmp');
  return [`    ${m.join(' ')} ${verdict}`.replace(/ {5,}/, '    ')];
}

function nftTable(body: string[], chainRules: string[]): string {
  return [
    'table ip vnfb {',
    ...body,
    '  chain svc {',
    ...chainRules,
    '  }',
    '  chain forward {',
    '    type filter hook forward priority filter; policy drop;',
    '    ct state established,related accept',
    `    iifname "${FROM_SERVER}" accept`,
    `    iifname "${FROM_CLIENT}" jump svc`,
    '  }',
    '}',
    '',
  ].join('\n');
}

/** An nft -f script: the rules one after another. */
export function nftLinear(rules: FirewallRule[]): string {
  return nftTable([], rules.flatMap(nftRule));
}

/** Whether nftSets can express the rule set exactly. */
export function setsExpressible(rules: FirewallRule[]): string | undefined {
  const r = rules.find((x) => x.action !== 'allow');
  return r ? `rule ${r.index} is ${r.action}: sets lose first-match order between verdicts` : undefined;
}

const settable = (r: FirewallRule): boolean => (r.proto === 'tcp' || r.proto === 'udp') && full(r.sports);

/** An nft -f script: all-allow rules as two interval sets of saddr . daddr . dport (+ the rest, linear). */
export function nftSets(rules: FirewallRule[]): string {
  const why = setsExpressible(rules);
  if (why) throw new Error(`this rule set cannot be written as nftables sets: ${why}`);
  const elems: Record<'tcp' | 'udp', Set<string>> = { tcp: new Set(), udp: new Set() };
  for (const r of rules.filter(settable)) {
    const p = r.proto as 'tcp' | 'udp';
    for (const [lo, hi] of r.dports) elems[p].add(`${cidr(r.src)} . ${cidr(r.dst)} . ${lo === hi ? lo : `${lo}-${hi}`}`);
  }
  const body: string[] = [];
  const chain: string[] = [];
  for (const p of ['tcp', 'udp'] as const) {
    if (!elems[p].size) continue;
    body.push(`  set svc_${p} {`, `    type ipv4_addr . ipv4_addr . inet_service`, '    flags interval', `    elements = { ${[...elems[p]].join(',\n      ')} }`, '  }');
    chain.push(`    ip saddr . ip daddr . ${p} dport @svc_${p} accept`);
  }
  chain.push(...rules.filter((r) => !settable(r)).flatMap(nftRule));
  return nftTable(body, chain);
}
