/** NAT in words: plan lines of its entries, and the changes between two topologies. */
import { formatAddr, formatCidr } from '../../spec/ipv4.js';
import type { Topology } from '../../spec/model.js';
import type { NameView } from '../types.js';
import {
  natEntryCodec, natFloatCodec, natFloatKeyCodec, natFwdCodec, natFwdKeyCodec, natKeyCodec, natMasqKeyCodec, natNetCodec,
  VNF_NAT_FLOAT_BY_OUTSIDE, VNF_NAT_NET_OUTSIDE,
} from './codec.js';
import { NAT_KINDS } from './mappings.js';
import { natsOf, type NatFloating, type NatForward, type RouterNat } from './model.js';

const PROTO_NAMES: Record<number, string> = { 1: 'icmp', 6: 'tcp', 17: 'udp' };
const range = ([lo, hi]: readonly [number, number]): string => (lo === hi ? String(lo) : `${lo}-${hi}`);

export function describeNet(key: Buffer, value: Buffer | undefined, names: NameView): string {
  const head = `NAT role of network ${names.network(key.readUInt32LE(0))}`;
  if (!value) return head;
  const n = natNetCodec.decode(value);
  const role = n.flags & VNF_NAT_NET_OUTSIDE ? 'outside' : 'inside';
  return `${head}: ${role} of router ${names.router(n.router_id)} (${formatAddr(n.outside_ip)}, ports ${n.port_min}-${n.port_max})`;
}

export function describeMasq(key: Buffer, _v: Buffer | undefined, names: NameView): string {
  const k = natMasqKeyCodec.decode(key);
  return `NAT ${names.router(k.router_id)} masquerade ${formatAddr(k.addr)}/${k.prefixlen - 32}`;
}

export function describeFloat(key: Buffer, value: Buffer | undefined, names: NameView): string {
  const k = natFloatKeyCodec.decode(key);
  const other = value ? formatAddr(natFloatCodec.decode(value).addr) : '?';
  const [outside, inside] = k.which === VNF_NAT_FLOAT_BY_OUTSIDE ? [formatAddr(k.addr), other] : [other, formatAddr(k.addr)];
  return `NAT ${names.router(k.router_id)} floating ${outside} <-> ${inside} (by ${k.which === VNF_NAT_FLOAT_BY_OUTSIDE ? 'outside' : 'inside'})`;
}

export function describeFwd(key: Buffer, value: Buffer | undefined, names: NameView): string {
  const k = natFwdKeyCodec.decode(key);
  const head = `NAT ${names.router(k.router_id)} forward ${PROTO_NAMES[k.proto] ?? k.proto} ${k.port}`;
  if (!value) return head;
  const f = natFwdCodec.decode(value);
  return `${head} -> ${formatAddr(f.addr)}:${f.port}`;
}

export function describeMapping(key: Buffer, value: Buffer | undefined, names: NameView): string {
  const k = natKeyCodec.decode(key);
  const head = `NAT mapping ${names.router((k.zone & 0x7fffffff) >>> 0)} ${PROTO_NAMES[k.proto] ?? k.proto} ` +
    `${formatAddr(k.saddr)}:${k.sport} -> ${formatAddr(k.daddr)}:${k.dport}`;
  if (!value) return head;
  const e = natEntryCodec.decode(value);
  return `${head} as ${formatAddr(e.saddr)}:${e.sport} -> ${formatAddr(e.daddr)}:${e.dport} (${NAT_KINDS[e.kind] ?? `kind ${e.kind}`}${e.dir ? ', reply' : ''})`;
}

/* ---- changes ------------------------------------------------------------------ */

const fmtFloating = (f: NatFloating): string => `${formatAddr(f.inside)} <-> ${formatAddr(f.outside)}`;
const fmtForward = (f: NatForward): string => `${f.proto} ${f.port} -> ${formatAddr(f.to)}:${f.toPort}`;

function listDiff(router: string, what: string, before: string[], after: string[]): string[] {
  const b = new Set(before);
  const a = new Set(after);
  return [
    ...before.filter((x) => !a.has(x)).map((x) => `nat ${router}: ${what} ${x} removed`),
    ...after.filter((x) => !b.has(x)).map((x) => `nat ${router}: ${what} ${x} added`),
  ];
}

function describeNat(n: RouterNat): string {
  const parts = [`outside ${n.outside} (${formatAddr(n.outsideIp)})`];
  if (n.masquerade.length) parts.push(`masquerade ${n.masquerade.map(formatCidr).join(', ')} (ports ${range(n.ports)})`);
  if (n.floating.length) parts.push(`${n.floating.length} floating`);
  if (n.forward.length) parts.push(`${n.forward.length} forwarded`);
  return parts.join(', ');
}

/** Plan notes for NAT edits, e.g. "nat r1: forward tcp 8080 -> 10.1.0.10:80 added". */
export function natChanges(before: Topology | undefined, after: Topology): string[] {
  const b = new Map(natsOf(before).map((n) => [n.router, n]));
  const a = new Map(natsOf(after).map((n) => [n.router, n]));
  const out: string[] = [];
  for (const name of b.keys()) if (!a.has(name)) out.push(`nat ${name}: removed`);
  for (const [name, n] of a) {
    const o = b.get(name);
    if (!o) {
      out.push(`nat ${name}: added (${describeNat(n)})`);
      continue;
    }
    if (o.outside !== n.outside || o.outsideIp !== n.outsideIp) {
      out.push(`nat ${name}: outside ${o.outside} (${formatAddr(o.outsideIp)}) -> ${n.outside} (${formatAddr(n.outsideIp)})`);
    }
    out.push(...listDiff(name, 'inside network', o.inside, n.inside));
    out.push(...listDiff(name, 'masquerade', o.masquerade.map(formatCidr), n.masquerade.map(formatCidr)));
    if (o.ports[0] !== n.ports[0] || o.ports[1] !== n.ports[1]) out.push(`nat ${name}: ports ${range(o.ports)} -> ${range(n.ports)}`);
    out.push(...listDiff(name, 'floating', o.floating.map(fmtFloating), n.floating.map(fmtFloating)));
    out.push(...listDiff(name, 'forward', o.forward.map(fmtForward), n.forward.map(fmtForward)));
  }
  return out;
}
