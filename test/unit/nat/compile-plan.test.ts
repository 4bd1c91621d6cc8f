/** NAT through compile and plan (pure, against an in-memory kernel): entries, chains, re-apply, removal, sweeps. */
import t from 'tap';
import { compile, chainsFor, type CompileInput } from '../../../src/model/compile.js';
import { assignIds, emptyIds, reverseIds, type IdTable } from '../../../src/model/ids.js';
import { formatPlan } from '../../../src/plan/format.js';
import { hostVethName } from '../../../src/model/names.js';
import { hex, unhex, type MapEntries } from '../../../src/model/desired.js';
import { plan, type Build, type Op } from '../../../src/plan/plan.js';
import { u32 } from '../../../src/codec/struct.js';
import { parseAddr } from '../../../src/spec/ipv4.js';
import type { Topology } from '../../../src/spec/model.js';
import { chainCodec, portCodec, VNF_ID_DELIVER } from '../../../src/vnf/common/codec.js';
import { VNF_ID_BRIDGE } from '../../../src/vnf/bridge/codec.js';
import { VNF_ID_FIREWALL } from '../../../src/vnf/firewall/codec.js';
import { ctEntryCodec, ctKeyCodec } from '../../../src/vnf/conntrack/codec.js';
import {
  natEntryCodec, natFloatCodec, natFloatKeyCodec, natFwdCodec, natFwdKeyCodec, natKeyCodec, natMasqKeyCodec, natNetCodec,
  natZone, VNF_ID_NAT, VNF_NAT_AT_OUT_IN, VNF_NAT_AT_OUT_OUT, VNF_NAT_FLOAT_BY_INSIDE, VNF_NAT_FLOAT_BY_OUTSIDE,
  VNF_MAP_NAT, VNF_NAT_K_MASQ, VNF_NAT_NET_INSIDE, VNF_NAT_NET_OUTSIDE,
} from '../../../src/vnf/nat/codec.js';
import { natChanges } from '../../../src/vnf/nat/describe.js';
import { emptyKernel, kernelAfter } from '../../helpers/observed.js';
import { edit } from '../spec/fixture.js';
import { NAT, topologyOf } from './fixture.js';

const builds: Build[] = [
  { object: 'entry', hash: 'aaaaaaaaaaaa', programs: ['vnf_entry_in', 'vnf_entry_out', 'vnf_deliver'] },
  { object: 'bridge', hash: 'bbbbbbbbbbbb', programs: ['vnf_bridge'] },
  { object: 'router', hash: 'cccccccccccc', programs: ['vnf_router'] },
  { object: 'firewall', hash: 'eeeeeeeeeeee', programs: ['vnf_firewall'] },
  { object: 'nat', hash: 'ffffffffffff', programs: ['vnf_nat'] },
  { object: 'overlay', hash: '111111111111', programs: ['vnf_overlay'] },
];

const WITH_FIREWALL = `${NAT}firewalls:\n  fw:\n    attach: [web/eth0]\n`;
const topo = topologyOf(WITH_FIREWALL);

const ip = (s: string): number => {
  const a = parseAddr(s);
  if (!a.ok) throw new Error(s);
  return a.value;
};

/** Interfaces get ifindexes in container order from 100: dns 100, isp 101, other 102, web 103. */
function input(t: Topology = topo, ids: IdTable = assignIds(emptyIds(), t)): CompileInput {
  const fileInterfaces = new Map<string, { ifname: string; ifindex: number }>();
  let i = 100;
  for (const c of t.containers) for (const x of c.interfaces) fileInterfaces.set(`${c.name}/${x.name}`, { ifname: hostVethName(t.name, c.name, x.name), ifindex: i++ });
  return { topology: t, fileInterfaces, attachments: [], ids };
}

const decoded = <K, V>(m: MapEntries | undefined, key: { decode(b: Buffer): K }, value: { decode(b: Buffer): V }): Array<{ k: K; v: V }> =>
  [...(m ?? new Map<string, Buffer>())].map(([k, v]) => ({ k: key.decode(unhex(k)), v: value.decode(v) }));

t.test('compile: roles, masquerade, floating both ways, forwards', async (t) => {
  const inp = input();
  const d = compile(inp);
  const r1 = inp.ids.routers.get('r1')!;
  const net = (name: string): number => inp.ids.networks.get(name)!;

  const nets = new Map(decoded(d.maps.vnf_nat_nets, { decode: (b: Buffer) => b.readUInt32LE(0) }, natNetCodec).map((e) => [e.k, e.v]));
  t.equal(nets.size, 3, 'front, back, wan; not lan (r2 has no nat)');
  const common = { router_id: r1, outside_ip: ip('192.0.2.2'), port_min: 20000, port_max: 29999, max_per_source: 4096, max_inbound: 16384 };
  t.same(nets.get(net('wan')), { ...common, flags: VNF_NAT_NET_OUTSIDE }, 'wan is outside');
  t.same(nets.get(net('front')), { ...common, flags: VNF_NAT_NET_INSIDE }, 'front is inside');
  t.same(nets.get(net('back')), { ...common, flags: VNF_NAT_NET_INSIDE }, 'back is inside');

  const masq = decoded(d.maps.vnf_nat_masq, natMasqKeyCodec, { decode: (b: Buffer) => b.readUInt32LE(0) });
  t.same(masq.map((e) => e.k).sort((a, b) => a.addr - b.addr), [
    { prefixlen: 56, router_id: r1, addr: ip('10.1.0.0') },
    { prefixlen: 56, router_id: r1, addr: ip('10.2.0.0') },
  ], 'masquerade keys: prefixlen 32 + prefix, under the router id');
  t.ok(masq.every((e) => e.v === 1));
  const rawKey = unhex([...d.maps.vnf_nat_masq!.keys()][0]!);
  t.equal(rawKey.readUInt32BE(4), r1, 'the router id is big-endian in the trie key');

  const float = decoded(d.maps.vnf_nat_float, natFloatKeyCodec, natFloatCodec);
  t.same(float.sort((a, b) => a.k.which - b.k.which).map((e) => [e.k, e.v]), [
    [{ router_id: r1, addr: ip('192.0.2.10'), which: VNF_NAT_FLOAT_BY_OUTSIDE }, { addr: ip('10.1.0.10') }],
    [{ router_id: r1, addr: ip('10.1.0.10'), which: VNF_NAT_FLOAT_BY_INSIDE }, { addr: ip('192.0.2.10') }],
  ], 'one entry each way');

  const fwd = decoded(d.maps.vnf_nat_fwd, natFwdKeyCodec, natFwdCodec);
  t.same(fwd.sort((a, b) => a.k.port - b.k.port).map((e) => [e.k, e.v]), [
    [{ router_id: r1, port: 5353, proto: 17 }, { addr: ip('10.2.0.10'), port: 5353 }],
    [{ router_id: r1, port: 8080, proto: 6 }, { addr: ip('10.1.0.10'), port: 80 }],
  ], 'forwards: the published port, to the inside address and port (the same port when the file gives none)');
  const fwdKey = natFwdKeyCodec.encode({ router_id: r1, port: 8080, proto: 6 });
  t.equal(fwdKey.readUInt16BE(4), 8080, 'ports in network order');
  t.notOk(VNF_MAP_NAT in d.maps, 'the mappings are the dataplane\'s');
});

t.test('chains: NAT after the firewall on every port of a NAT network, not elsewhere', async (t) => {
  const inp = input();
  const d = compile(inp);
  const chainOf = (ifindex: number, dir: 'chain_in' | 'chain_out'): number[] => {
    const p = portCodec.decode(d.maps.vnf_ports!.get(hex(u32(ifindex)))!);
    const c = chainCodec.decode(d.maps.vnf_chains!.get(hex(u32(p[dir])))!);
    return c.vnf.slice(0, c.len);
  };
  const at = (name: string): number => inp.fileInterfaces.get(name)!.ifindex;
  t.same([chainOf(at('web/eth0'), 'chain_in'), chainOf(at('web/eth0'), 'chain_out')],
    [[VNF_ID_FIREWALL, VNF_ID_NAT, VNF_ID_BRIDGE], [VNF_ID_FIREWALL, VNF_ID_NAT, VNF_ID_DELIVER]], 'front, with a firewall: [firewall, nat, bridge] / [firewall, nat, deliver]');
  for (const p of ['dns/eth0', 'isp/eth0']) {
    t.same([chainOf(at(p), 'chain_in'), chainOf(at(p), 'chain_out')], [[VNF_ID_NAT, VNF_ID_BRIDGE], [VNF_ID_NAT, VNF_ID_DELIVER]], `${p}: nat`);
  }
  t.same([chainOf(at('other/eth0'), 'chain_in'), chainOf(at('other/eth0'), 'chain_out')], [[VNF_ID_BRIDGE], [VNF_ID_DELIVER]], 'lan (a router without nat): no nat');
  const attached = { ifname: 'up0', ifindex: 500, source: 'attach' as const, network: 'wan', networkId: 3, ip: 0, prefix: 24, allowedSources: [], options: {} };
  t.same(chainsFor(attached, topo).chainIn, [VNF_ID_NAT, VNF_ID_BRIDGE], 'an attached port on the outside network runs NAT too');
  // A firewall on an outside port: NAT runs first in what comes in (PREROUTING), last in what
  // goes out (POSTROUTING), so the policy sees the inside addresses of a masqueraded connection
  // both ways (it saw them leave before the source NAT).
  const guarded = { ...attached, options: { firewall: 'fw' } };
  t.same(chainsFor(guarded, topo), {
    chainIn: [VNF_ID_NAT, VNF_ID_FIREWALL, VNF_ID_BRIDGE],
    chainOut: [VNF_ID_FIREWALL, VNF_ID_NAT, VNF_ID_DELIVER],
  }, 'outside port with a firewall: [nat, firewall, bridge] / [firewall, nat, deliver]');
});

t.test('plan: from nothing, NAT is loaded and slotted; a re-apply plans nothing and keeps every mapping', async (t) => {
  const inp = input();
  const d = compile(inp);
  const first = plan(d, emptyKernel(topo.name), builds);
  t.ok(first.ops.some((o) => o.kind === 'load' && o.object === 'nat'));
  t.ok(first.ops.some((o) => o.kind === 'slot' && o.vnf === 'nat' && o.slot === VNF_ID_NAT));
  const idx = (map: string): number => first.ops.findIndex((o) => o.kind === 'upsert' && o.map === map);
  t.ok(idx('vnf_nat_masq') < first.ops.findIndex((o) => o.kind === 'attach'), 'masquerade defined before links attach');
  t.ok(idx('vnf_nat_nets') > first.ops.map((o) => o.kind).lastIndexOf('attach'), 'roles published after links attach');
  t.ok(['vnf_nat_masq', 'vnf_nat_float', 'vnf_nat_fwd'].every((m) => idx(m) < idx('vnf_nat_nets')), 'roles after what they refer to');
  const text = formatPlan(first, { ...reverseIds(inp.ids), ifname: (i) => `if${i}` });
  for (const line of [
    '+ vnf_nat_nets     NAT role of network wan: outside of router r1 (192.0.2.2, ports 20000-29999)',
    '+ vnf_nat_nets     NAT role of network front: inside of router r1 (192.0.2.2, ports 20000-29999)',
    '+ vnf_nat_masq     NAT r1 masquerade 10.1.0.0/24',
    '+ vnf_nat_float    NAT r1 floating 192.0.2.10 <-> 10.1.0.10 (by outside)',
    '+ vnf_nat_float    NAT r1 floating 192.0.2.10 <-> 10.1.0.10 (by inside)',
    '+ vnf_nat_fwd      NAT r1 forward tcp 8080 -> 10.1.0.10:80',
  ]) t.ok(text.includes(line), `plan shows: ${line}`);

  const k = kernelAfter(d, builds);
  const r1 = inp.ids.routers.get('r1')!;
  k.maps[VNF_MAP_NAT] = new Map([mapping(r1, 0), mapping(r1, 1)]);
  k.maps.vnf_ct = new Map([[hex(ctKeyCodec.encode({ zone: natZone(r1), saddr: ip('10.1.0.20'), daddr: ip('198.51.100.1'), sport: 40000, dport: 443, proto: 6 })), Buffer.alloc(ctEntryCodec.size)]]);
  t.same(plan(compile(input(topologyOf(WITH_FIREWALL), inp.ids)), k, builds).ops, [], 'same file again: nothing to do');
  const other = topologyOf(edit(WITH_FIREWALL, '  lan: { subnet: 10.9.0.0/24 }', '  lan: { subnet: 10.9.0.0/24, fdbAgingSeconds: 42 }'));
  const p = plan(compile(input(other, inp.ids)), k, builds);
  t.same(p.ops.map((o) => (o.kind === 'upsert' ? o.map : o.kind)), ['vnf_networks', 'vnf_meta'], 'an edit elsewhere touches no NAT entry and sweeps no mapping');
});

/** A vnf_nat entry of router `rid` (dir 0: original, 1: reply). */
function mapping(rid: number, n: number): [string, Buffer] {
  return [
    hex(natKeyCodec.encode({ zone: natZone(rid), saddr: ip('10.1.0.20'), daddr: ip('198.51.100.1'), sport: 40000 + n, dport: 443, proto: 6, at: VNF_NAT_AT_OUT_OUT })),
    natEntryCodec.encode({ saddr: ip('192.0.2.2'), daddr: ip('198.51.100.1'), sport: 20000 + n, dport: 443, ct: Buffer.alloc(20), dir: 0, kind: VNF_NAT_K_MASQ, peer_at: VNF_NAT_AT_OUT_IN }),
  ];
}

const withoutNat = (text: string): string => text.replace(/    nat:\n(      .*\n|        .*\n)*/, '');

t.test('plan: removing the nat removes its config entries (roles first); mappings stay while the router lives', async (t) => {
  const inp = input();
  const k = kernelAfter(compile(inp), builds);
  const r1 = inp.ids.routers.get('r1')!;
  k.maps[VNF_MAP_NAT] = new Map([mapping(r1, 0)]);
  const p = plan(compile(input(topologyOf(withoutNat(WITH_FIREWALL)), inp.ids)), k, builds);
  const deletes = p.ops.filter((o): o is Extract<Op, { kind: 'delete' }> => o.kind === 'delete');
  const count = (m: string): number => deletes.filter((o) => o.map === m).length;
  t.same([count('vnf_nat_nets'), count('vnf_nat_masq'), count('vnf_nat_float'), count('vnf_nat_fwd')], [3, 2, 2, 2], 'every NAT config entry');
  const first = (m: string): number => p.ops.findIndex((o) => o.kind === 'delete' && o.map === m);
  t.ok(first('vnf_nat_nets') < first('vnf_nat_masq'), 'roles go first: no port translates with half a config');
  t.notOk(p.ops.some((o) => o.kind === 'sweep'), 'no mapping swept: the router lives');
  t.ok(p.ops.some((o) => o.kind === 'upsert' && o.map === 'vnf_ports'), 'ports move to chains without NAT');
});

t.test('plan: mappings and NAT connections of a removed router are swept, those of live routers kept', async (t) => {
  const withR2 = edit(WITH_FIREWALL, '    ports: { lan: 10.9.0.1/24 }\n', '    ports: { lan: 10.9.0.1/24, wan2: 198.51.100.2/24 }\n    nat: { outside: wan2, masquerade: [10.9.0.0/24] }\n')
    .replace('  lan: { subnet: 10.9.0.0/24 }\n', '  lan: { subnet: 10.9.0.0/24 }\n  wan2: { subnet: 198.51.100.0/24 }\n');
  const before = topologyOf(withR2);
  const inp = input(before);
  const k = kernelAfter(compile(inp), builds);
  const r1 = inp.ids.routers.get('r1')!;
  const r2 = inp.ids.routers.get('r2')!;
  k.maps[VNF_MAP_NAT] = new Map([mapping(r1, 0), mapping(r1, 1), mapping(r2, 0)]);
  const ct = (zone: number): [string, Buffer] => [hex(ctKeyCodec.encode({ zone, saddr: ip('10.9.0.10'), daddr: ip('203.0.113.1'), sport: 1000, dport: 53, proto: 17 })), Buffer.alloc(ctEntryCodec.size)];
  k.maps.vnf_ct = new Map([ct(natZone(r1)), ct(natZone(r2))]);
  // r1 leaves the file (and with it front/back/wan's gateway; the networks stay).
  const noR1 = topologyOf(withR2.replace(/  r1:\n(    .*\n|      .*\n|        .*\n)*/, ''));
  t.notOk(noR1.routers.some((r) => r.name === 'r1'), 'fixture: r1 removed');
  const p = plan(compile(input(noR1, assignIds(inp.ids, noR1))), k, builds);
  const sweep = (map: string): Buffer[] => p.ops.flatMap((o) => (o.kind === 'sweep' && o.map === map ? o.keys : []));
  t.same(sweep(VNF_MAP_NAT).map((key) => natKeyCodec.decode(key).zone).sort(), [natZone(r1), natZone(r1)], "r1's two mappings swept, r2's kept");
  t.same(sweep('vnf_ct').map((key) => ctKeyCodec.decode(key).zone), [natZone(r1)], "r1's NAT connection swept, r2's kept");
});

t.test('plan notes: what changed in a NAT', async (t) => {
  const before = topologyOf(NAT);
  const after = topologyOf(edit(edit(NAT, '        - { proto: udp, port: 5353, to: 10.2.0.10 }\n', '        - { proto: tcp, port: 9090, to: 10.2.0.10:90 }\n'),
    'ports: "20000-29999"', 'ports: "30000-39999"'));
  t.same(natChanges(before, after), [
    'nat r1: ports 20000-29999 -> 30000-39999',
    'nat r1: forward udp 5353 -> 10.2.0.10:5353 removed',
    'nat r1: forward tcp 9090 -> 10.2.0.10:90 added',
  ]);
  t.same(natChanges(undefined, before), ['nat r1: added (outside wan (192.0.2.2), masquerade 10.1.0.0/24, 10.2.0.0/24 (ports 20000-29999), 1 floating, 2 forwarded)']);
  t.same(natChanges(before, topologyOf(withoutNat(NAT))), ['nat r1: removed']);
  t.same(natChanges(before, before), []);
});
