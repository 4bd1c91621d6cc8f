/** compile and plan are pure: checked here without a kernel, against an in-memory one. */
import t from 'tap';
import { join } from 'node:path';
import { loadTopology, parseTopology } from '../../../src/spec/index.js';
import { compile, type CompileInput } from '../../../src/model/compile.js';
import { assignIds, emptyIds, idEntries, readIds } from '../../../src/model/ids.js';
import { hostVethName } from '../../../src/model/names.js';
import { plan, summarize, type Build, type Op } from '../../../src/plan/plan.js';
import { formatPlan } from '../../../src/plan/format.js';
import { portCodec, networkCodec, floodKeyCodec } from '../../../src/vnf/common/codec.js';
import { fdbEntryCodec, fdbKeyCodec, VNF_FDB_F_STATIC } from '../../../src/vnf/bridge/codec.js';
import { neighCodec, neighKeyCodec, routeCodec, routeKeyCodec, VNF_NEIGH_F_LEARNED } from '../../../src/vnf/router/codec.js';
import { hex, unhex } from '../../../src/model/desired.js';
import type { Topology } from '../../../src/spec/model.js';
import { ROOT } from '../../helpers/paths.js';
import { emptyKernel, infoOf, kernelAfter } from '../../helpers/observed.js';

const topo = loadTopology(join(ROOT, 'examples', 'demo.yaml'));
const builds: Build[] = [
  { object: 'entry', hash: 'aaaaaaaaaaaa', programs: ['vnf_entry_in', 'vnf_entry_out', 'vnf_deliver'] },
  { object: 'bridge', hash: 'bbbbbbbbbbbb', programs: ['vnf_bridge'] },
  { object: 'router', hash: 'cccccccccccc', programs: ['vnf_router'] },
  { object: 'firewall', hash: 'eeeeeeeeeeee', programs: ['vnf_firewall'] },
  { object: 'nat', hash: 'ffffffffffff', programs: ['vnf_nat'] },
  { object: 'overlay', hash: '111111111111', programs: ['vnf_overlay'] },
];

function input(t: Topology = topo, ids = assignIds(emptyIds(), t), ifindexBase = 100): CompileInput {
  const fileInterfaces = new Map<string, { ifname: string; ifindex: number }>();
  let i = ifindexBase;
  for (const c of t.containers) for (const x of c.interfaces) fileInterfaces.set(`${c.name}/${x.name}`, { ifname: hostVethName(t.name, c.name, x.name), ifindex: i++ });
  return { topology: t, fileInterfaces, attachments: [], ids };
}

const u32key = (n: number): string => hex(Buffer.from(Uint32Array.of(n).buffer));

t.test('compile is deterministic', async (t) => {
  const a = compile(input());
  const b = compile(input());
  for (const m of Object.keys(a.maps)) t.same([...a.maps[m]!.entries()], [...b.maps[m]!.entries()], `map ${m}`);
});

t.test('compile: ports, networks, flood lists, static FDB and neighbours, routes', async (t) => {
  const inp = input();
  const d = compile(inp);
  t.equal(d.interfaces.length, 4, 'four container interfaces');
  t.equal(d.maps.vnf_ports!.size, 4);
  const webIndex = inp.fileInterfaces.get('web/eth0')!.ifindex;
  const web = portCodec.decode(d.maps.vnf_ports!.get(u32key(webIndex))!);
  t.equal(web.network, inp.ids.networks.get('front'), 'web is on front');
  t.equal(web.mac, topo.containers.find((c) => c.name === 'web')!.interfaces[0]!.mac);
  t.ok(web.chain_in > 0 && web.chain_out > 0 && web.chain_in !== web.chain_out);
  t.equal(d.maps.vnf_networks!.size, 3);
  const back = inp.ids.networks.get('back')!;
  const net = networkCodec.decode(d.maps.vnf_networks!.get(u32key(back))!);
  t.equal(net.flood_count, 2, 'db and ops eth1 on back');
  t.equal(net.router_id, inp.ids.routers.get('r1'));
  t.equal(net.fdb_aging_sec, 600, 'network aging from the file');
  const floods = [...d.maps.vnf_flood!.keys()].map((k) => floodKeyCodec.decode(unhex(k))).filter((k) => k.network === back);
  t.same(floods.map((f) => f.version), [net.flood_version, net.flood_version], 'flood list under the live version');
  t.equal(d.maps.vnf_fdb_static!.size, 4, 'static FDB entry per interface');
  for (const v of d.maps.vnf_fdb_static!.values()) t.equal(fdbEntryCodec.decode(v).flags & VNF_FDB_F_STATIC, VNF_FDB_F_STATIC);
  t.equal(d.maps.vnf_neigh_static!.size, 3, 'neighbours only on routed networks (front, back)');
  t.notOk('vnf_fdb' in d.maps, 'the learned FDB is not the control plane\'s');
  t.notOk('vnf_neigh' in d.maps, 'learned neighbours are not the control plane\'s');
  const routes = [...d.maps.vnf_routes!.entries()].map(([k, v]) => ({ key: routeKeyCodec.decode(unhex(k)), route: routeCodec.decode(v) }));
  t.equal(routes.length, 3, 'two connected + one static');
  t.ok(routes.some((r) => r.key.prefixlen === 32 + 24 && r.route.nexthop !== 0 && r.route.prefixlen === 24), 'static route has a next hop, and carries its own prefix');
});

t.test('stable ids: adding a network renumbers nothing; a removed name is never reused', async (t) => {
  const ids = assignIds(emptyIds(), topo);
  const bigger = structuredClone(topo);
  bigger.networks.unshift({ name: 'aaa', subnet: { addr: 0x0a090000, prefix: 24 }, fdbAgingSeconds: 300 });
  const again = assignIds(readIds(idEntries(ids)), bigger); // through the pinned form
  for (const [name, id] of ids.networks) t.equal(again.networks.get(name), id, `${name} keeps id ${id}`);
  t.ok(again.networks.get('aaa')! >= ids.next, 'the new network gets a new id');
  const smaller = structuredClone(topo);
  smaller.networks = smaller.networks.filter((n) => n.name !== 'mgmt');
  const after = assignIds(readIds(idEntries(assignIds(ids, smaller))), topo);
  t.not(after.networks.get('mgmt'), ids.networks.get('mgmt'), 'a network removed and added again gets a new id');
  t.ok(after.networks.get('mgmt')! > Math.max(...ids.networks.values(), ...ids.routers.values()), 'from the counter, not a freed slot');
});

t.test('plan from nothing: loads, slots, entries, links in a safe order; against a perfect kernel it is empty', async (t) => {
  const d = compile(input());
  const p = plan(d, emptyKernel(topo.name), builds);
  const kinds = p.ops.map((o) => o.kind);
  t.equal(kinds.filter((k) => k === 'load').length, builds.length);
  t.equal(kinds.filter((k) => k === 'slot').length, builds.length, 'every VNF slot is a plan operation');
  t.equal(kinds.filter((k) => k === 'attach').length, 8, 'ingress + egress per interface');
  const firstAttach = kinds.indexOf('attach');
  const idx = (map: string): number[] => p.ops.flatMap((o, i) => (o.kind === 'upsert' && o.map === map ? [i] : []));
  t.ok(Math.max(...idx('vnf_ports')) < firstAttach, 'ports are bound before links attach');
  t.ok(Math.min(...idx('vnf_networks'), ...idx('vnf_fdb_static'), ...idx('vnf_neigh_static')) > kinds.lastIndexOf('attach'), 'ports become reachable only after their links are attached');
  t.equal(p.ops[p.ops.length - 1]!.kind === 'upsert' && (p.ops[p.ops.length - 1] as { map: string }).map, 'vnf_meta', 'the applied generation is written last');
  t.match(formatPlan(p), /to add/);
  t.same(plan(d, kernelAfter(d, builds), builds).ops, [], 'nothing to do when the kernel matches');
  t.match(formatPlan(plan(d, kernelAfter(d, builds), builds)), /no changes/);
});

t.test('learned neighbours and FDB entries are the dataplane\'s: plan keeps them (defect: every plan deleted learned neighbours)', async (t) => {
  const inp = input();
  const d = compile(inp);
  const k = kernelAfter(d, builds);
  const back = inp.ids.networks.get('back')!;
  k.maps.vnf_neigh = new Map([[hex(neighKeyCodec.encode({ network: back, ip: 0x0a0200fe })), neighCodec.encode({ updated_ns: 5n, mac: '02:00:00:00:00:77', flags: VNF_NEIGH_F_LEARNED })]]);
  k.maps.vnf_fdb = new Map([[hex(fdbKeyCodec.encode({ network: back, mac: '02:00:00:00:00:77' })), fdbEntryCodec.encode({ ifindex: inp.fileInterfaces.get('db/eth0')!.ifindex, flags: 0, updated_ns: 5n })]]);
  t.same(plan(d, k, builds).ops, [], 'plan after traffic: no changes');
  const changed = structuredClone(topo);
  changed.networks.find((n) => n.name === 'front')!.fdbAgingSeconds = 42;
  const p = plan(compile(input(changed, inp.ids)), k, builds);
  t.same(p.ops.map((o) => (o.kind === 'upsert' ? o.map : o.kind)), ['vnf_networks', 'vnf_meta'], 'an edit elsewhere touches no learned entry');
});

t.test('a data change is map updates only: no loads, no link changes', async (t) => {
  const inp = input();
  const before = compile(inp);
  const changed = structuredClone(topo);
  changed.networks.find((n) => n.name === 'front')!.fdbAgingSeconds = 42;
  const p = plan(compile(input(changed, inp.ids)), kernelAfter(before, builds), builds);
  const kinds = p.ops.map((o) => (o.kind === 'upsert' ? `${o.kind} ${o.map}` : o.kind));
  t.same(kinds, ['upsert vnf_networks', 'upsert vnf_meta'], 'the network entry, then the generation');
  t.equal(summarize(p).change, 2);
});

t.test('a new build replaces links atomically instead of detaching', async (t) => {
  const d = compile(input());
  const newer = builds.map((b) => (b.object === 'entry' ? { ...b, hash: 'dddddddddddd' } : b));
  const p = plan(d, kernelAfter(d, builds), newer);
  t.same(p.ops.filter((o) => o.kind === 'load').map((o) => (o.kind === 'load' ? o.object : '')), ['entry']);
  t.same(p.ops.filter((o) => o.kind === 'slot').map((o) => (o.kind === 'slot' ? o.vnf : '')), ['core'], 'the DELIVER slot moves to the new build');
  t.equal(p.ops.filter((o) => o.kind === 'update-link').length, 8);
  t.equal(p.ops.filter((o) => o.kind === 'detach').length, 0, 'never detach to replace');
  t.equal(p.ops.filter((o) => o.kind === 'unpin-program').length, 3, 'old entry program pins dropped last');
  t.equal(p.ops[p.ops.length - 1]!.kind, 'unpin-program');
});

t.test('program slots are observed: a cleared slot is planned back (defect: plan said "no changes")', async (t) => {
  const d = compile(input());
  const k = kernelAfter(d, builds);
  k.slots.delete(2); // the bridge's slot
  const p = plan(d, k, builds);
  t.same(p.ops.map((o) => (o.kind === 'slot' ? `slot ${o.vnf}` : o.kind)), ['slot bridge']);
  t.match(formatPlan(p), /slot +bridge -> vnf_bridge \(empty\)/);
});

t.test('a program that uses a map that is no longer pinned is reloaded (defect: orphaned maps)', async (t) => {
  const d = compile(input());
  const k = kernelAfter(d, builds);
  k.pinned.set('vnf_ports', infoOf('vnf_ports')); // the pin now names another map than the programs use
  const p = plan(d, k, builds);
  t.equal(p.ops.filter((o) => o.kind === 'load').length, builds.length, 'every object reloaded');
  t.equal(p.ops.filter((o) => o.kind === 'slot').length, builds.length, 'and every slot moved to the reloaded programs');
  t.equal(p.ops.filter((o) => o.kind === 'update-link').length, 8, 'and every link');
});

t.test('a pinned map of another layout blocks the plan', async (t) => {
  const d = compile(input());
  const k = kernelAfter(d, builds);
  k.pinned.set('vnf_fdb', { ...infoOf('vnf_fdb'), valueSize: 8 });
  const p = plan(d, k, builds);
  t.match(p.blocked.join('\n'), /map vnf_fdb is pinned as lru_hash, key 12 B, value 8 B/);
  t.match(formatPlan(p), /cannot be applied/);
});

t.test('removed interfaces: unpublished, detached, then their entries deleted; learned state of gone ports swept, of live ports kept', async (t) => {
  const inp = input();
  const d = compile(inp);
  const k = kernelAfter(d, builds);
  const front = inp.ids.networks.get('front')!;
  const back = inp.ids.networks.get('back')!;
  k.maps.vnf_fdb = new Map([
    [hex(fdbKeyCodec.encode({ network: front, mac: '02:00:00:00:00:99' })), fdbEntryCodec.encode({ ifindex: inp.fileInterfaces.get('web/eth0')!.ifindex, flags: 0, updated_ns: 1n })],
    [hex(fdbKeyCodec.encode({ network: back, mac: '02:00:00:00:00:98' })), fdbEntryCodec.encode({ ifindex: inp.fileInterfaces.get('db/eth0')!.ifindex, flags: 0, updated_ns: 1n })],
  ]);
  const smaller = structuredClone(topo);
  smaller.containers = smaller.containers.filter((c) => c.name !== 'web');
  const si = input(smaller, inp.ids);
  si.fileInterfaces = new Map([...inp.fileInterfaces].filter(([key]) => key !== 'web/eth0'));
  const p = plan(compile(si), k, builds);
  const kinds = p.ops.map((o) => o.kind);
  t.equal(kinds.filter((x) => x === 'detach').length, 2);
  const flip = p.ops.findIndex((o) => o.kind === 'upsert' && o.map === 'vnf_networks');
  t.ok(flip >= 0 && flip < kinds.indexOf('detach'), 'the flood list without the port is live before the detach');
  const portDelete = p.ops.findIndex((o) => o.kind === 'delete' && o.map === 'vnf_ports');
  t.ok(portDelete > kinds.lastIndexOf('detach'), 'port entry deleted after its links are gone');
  const sweep = p.ops.find((o): o is Extract<Op, { kind: 'sweep' }> => o.kind === 'sweep' && o.map === 'vnf_fdb');
  t.ok(sweep, 'learned FDB swept');
  t.same(sweep?.keys.map((x) => fdbKeyCodec.decode(x).mac), ['02:00:00:00:00:99'], 'only the entry on the removed port');
});

t.test('a learned FDB entry of a port that moved to another network is swept', async (t) => {
  const two = parseTopology(`
apiVersion: vnf/v1
name: mv
containers:
  a: { interfaces: { eth0: { network: n1, ip: 10.1.0.10/24 } } }
networks:
  n1: { subnet: 10.1.0.0/24 }
  n2: { subnet: 10.2.0.0/24 }
`);
  if (!two.ok) throw new Error('fixture');
  const moved = parseTopology(`
apiVersion: vnf/v1
name: mv
containers:
  a: { interfaces: { eth0: { network: n2, ip: 10.2.0.10/24 } } }
networks:
  n1: { subnet: 10.1.0.0/24 }
  n2: { subnet: 10.2.0.0/24 }
`);
  if (!moved.ok) throw new Error('fixture');
  const inp = input(two.topology);
  const k = kernelAfter(compile(inp), builds);
  const a = inp.fileInterfaces.get('a/eth0')!.ifindex;
  k.maps.vnf_fdb = new Map([[hex(fdbKeyCodec.encode({ network: inp.ids.networks.get('n1')!, mac: '02:00:00:00:00:55' })), fdbEntryCodec.encode({ ifindex: a, flags: 0, updated_ns: 1n })]]);
  const p = plan(compile(input(moved.topology, inp.ids)), k, builds);
  t.ok(p.ops.some((o) => o.kind === 'sweep' && o.map === 'vnf_fdb' && o.keys.length === 1), 'swept: its port left that network');
  t.equal(inp.ids.networks.get('n1'), assignIds(inp.ids, moved.topology).networks.get('n1'), 'ids kept');
});
