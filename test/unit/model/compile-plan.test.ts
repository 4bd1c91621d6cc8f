/** compile and plan are pure: checked here without a kernel. */
import t from 'tap';
import { join } from 'node:path';
import { loadTopology } from '../../../src/spec/index.js';
import { compile, type CompileInput } from '../../../src/model/compile.js';
import { hostVethName, linkPin } from '../../../src/model/names.js';
import { formatPlan, plan, summarize, type Build } from '../../../src/plan/plan.js';
import type { ActualState } from '../../../src/observe/kernel.js';
import { portCodec, networkCodec, floodKeyCodec } from '../../../src/vnf/common/codec.js';
import { fdbEntryCodec, fdbKeyCodec, VNF_FDB_F_STATIC } from '../../../src/vnf/bridge/codec.js';
import { routeCodec, routeKeyCodec } from '../../../src/vnf/router/codec.js';
import { hex, unhex } from '../../../src/model/desired.js';
import { ROOT } from '../../helpers/paths.js';

const topo = loadTopology(join(ROOT, 'examples', 'demo.yaml'));
const builds: Build[] = [
  { object: 'entry', hash: 'aaaaaaaaaaaa', programs: ['vnf_entry_in', 'vnf_entry_out', 'vnf_deliver'] },
  { object: 'bridge', hash: 'bbbbbbbbbbbb', programs: ['vnf_bridge'] },
  { object: 'router', hash: 'cccccccccccc', programs: ['vnf_router'] },
];

function input(ifindexBase = 100): CompileInput {
  const fileInterfaces = new Map<string, { ifname: string; ifindex: number }>();
  let i = ifindexBase;
  for (const c of topo.containers) for (const x of c.interfaces) fileInterfaces.set(`${c.name}/${x.name}`, { ifname: hostVethName(topo.name, c.name, x.name), ifindex: i++ });
  return { topology: topo, fileInterfaces, attachments: [] };
}

/** What the kernel would hold after a perfect apply of `d`. */
function actualFrom(d: ReturnType<typeof compile>): ActualState {
  const maps = Object.fromEntries(Object.entries(d.maps).map(([k, v]) => [k, new Map(v)]));
  maps.vnf_routes ??= new Map();
  return {
    topology: d.topology,
    exists: true,
    maps,
    links: d.interfaces.flatMap((i) => (['ingress', 'egress'] as const).map((direction) => ({
      pin: linkPin(d.topology, i.ifname, direction), ifname: i.ifname, direction, ifindex: i.ifindex, progId: direction === 'ingress' ? 11 : 12,
    }))),
    programs: builds.flatMap((b) => b.programs.map((p, n) => ({ pin: `/x/${p}@${b.hash}`, name: p, build: b.hash, id: p === 'vnf_entry_in' ? 11 : p === 'vnf_entry_out' ? 12 : 20 + n }))),
  };
}

t.test('compile is deterministic', async (t) => {
  const a = compile(input());
  const b = compile(input());
  for (const m of Object.keys(a.maps)) t.same([...a.maps[m]!.entries()], [...b.maps[m]!.entries()], `map ${m}`);
});

t.test('compile: ports, networks, flood lists, static FDB and neighbours, routes', async (t) => {
  const d = compile(input());
  t.equal(d.interfaces.length, 4, 'four container interfaces');
  t.equal(d.maps.vnf_ports!.size, 4);
  const webIndex = input().fileInterfaces.get('web/eth0')!.ifindex;
  const web = portCodec.decode(d.maps.vnf_ports!.get(hex(Buffer.from(Uint32Array.of(webIndex).buffer)))!);
  t.equal(web.network, topo.networks.find((n) => n.name === 'front')!.id, 'web is on front');
  t.equal(web.mac, topo.containers.find((c) => c.name === 'web')!.interfaces[0]!.mac);
  t.ok(web.chain_in > 0 && web.chain_out > 0 && web.chain_in !== web.chain_out);
  t.equal(d.maps.vnf_networks!.size, 3);
  const back = topo.networks.find((n) => n.name === 'back')!;
  const net = networkCodec.decode(d.maps.vnf_networks!.get(hex(Buffer.from(Uint32Array.of(back.id).buffer)))!);
  t.equal(net.flood_count, 2, 'db and ops eth1 on back');
  t.equal(net.router_id, 1);
  t.equal(net.fdb_aging_sec, 600, 'network aging from the file');
  const floods = [...d.maps.vnf_flood!.keys()].map((k) => floodKeyCodec.decode(unhex(k))).filter((k) => k.network === back.id);
  t.same(floods.map((f) => f.version), [net.flood_version, net.flood_version], 'flood list under the live version');
  t.equal(d.maps.vnf_fdb!.size, 4, 'static FDB entry per interface');
  for (const v of d.maps.vnf_fdb!.values()) t.equal(fdbEntryCodec.decode(v).flags & VNF_FDB_F_STATIC, VNF_FDB_F_STATIC);
  t.equal(d.maps.vnf_neigh!.size, 3, 'neighbours only on routed networks (front, back)');
  const routes = [...d.maps.vnf_routes!.entries()].map(([k, v]) => ({ ...routeKeyCodec.decode(unhex(k)), ...routeCodec.decode(v) }));
  t.equal(routes.length, 3, 'two connected + one static');
  t.ok(routes.some((r) => r.prefixlen === 32 + 24 && r.nexthop !== 0), 'static route has a next hop');
});

t.test('plan from nothing loads, fills, attaches; against a perfect kernel it is empty', async (t) => {
  const d = compile(input());
  const empty: ActualState = { topology: topo.name, exists: false, maps: {}, links: [], programs: [] };
  const p = plan(d, empty, builds);
  t.equal(p.ops.filter((o) => o.kind === 'load').length, 3);
  t.equal(p.ops.filter((o) => o.kind === 'attach').length, 8, 'ingress + egress per interface');
  const firstAttach = p.ops.findIndex((o) => o.kind === 'attach');
  const lastUpsert = p.ops.map((o) => o.kind).lastIndexOf('upsert');
  t.ok(lastUpsert < firstAttach, 'entries are written before any link is attached');
  t.match(formatPlan(p), /to add/);
  t.same(plan(d, actualFrom(d), builds).ops, [], 'nothing to do when the kernel matches');
  t.match(formatPlan(plan(d, actualFrom(d), builds)), /no changes/);
});

t.test('a data change is map updates only: no loads, no link changes', async (t) => {
  const before = compile(input());
  const changed = structuredClone(topo);
  changed.networks.find((n) => n.name === 'front')!.fdbAgingSeconds = 42;
  const after = compile({ ...input(), topology: changed });
  const p = plan(after, actualFrom(before), builds);
  t.same(p.ops.map((o) => o.kind), ['upsert']);
  t.equal(summarize(p).change, 1);
});

t.test('a new build replaces links atomically instead of detaching', async (t) => {
  const d = compile(input());
  const newer = builds.map((b) => (b.object === 'entry' ? { ...b, hash: 'dddddddddddd' } : b));
  const p = plan(d, actualFrom(d), newer);
  t.same(p.ops.filter((o) => o.kind === 'load').map((o) => (o.kind === 'load' ? o.object : '')), ['entry']);
  t.equal(p.ops.filter((o) => o.kind === 'update-link').length, 8);
  t.equal(p.ops.filter((o) => o.kind === 'detach').length, 0, 'never detach to replace');
  t.equal(p.ops.filter((o) => o.kind === 'unpin-program').length, 3, 'old entry program pins dropped last');
  t.equal(p.ops[p.ops.length - 1]!.kind, 'unpin-program');
});

t.test('removed interfaces: links detached before their entries are deleted; learned FDB entries of gone ports pruned', async (t) => {
  const d = compile(input());
  const actual = actualFrom(d);
  const smaller = structuredClone(topo);
  smaller.containers = smaller.containers.filter((c) => c.name !== 'web');
  const inp = input();
  inp.topology = smaller;
  const learnedOnWeb = fdbEntryCodec.encode({ ifindex: inp.fileInterfaces.get('web/eth0')!.ifindex, flags: 0, updated_ns: 1n });
  const learnedOnDb = fdbEntryCodec.encode({ ifindex: inp.fileInterfaces.get('db/eth0')!.ifindex, flags: 0, updated_ns: 1n });
  actual.maps.vnf_fdb!.set(hex(fdbKeyCodec.encode({ network: 1, mac: '02:00:00:00:00:99' })), learnedOnWeb);
  actual.maps.vnf_fdb!.set(hex(fdbKeyCodec.encode({ network: 2, mac: '02:00:00:00:00:98' })), learnedOnDb);
  inp.fileInterfaces.delete('web/eth0');
  const p = plan(compile(inp), actual, builds);
  const kinds = p.ops.map((o) => o.kind);
  t.equal(kinds.filter((k) => k === 'detach').length, 2);
  const lastDetach = kinds.lastIndexOf('detach');
  const portDelete = p.ops.findIndex((o) => o.kind === 'delete' && o.map === 'vnf_ports');
  t.ok(portDelete > lastDetach, 'port entry deleted after its links are gone');
  const fdbDeletes = p.ops.filter((o) => o.kind === 'delete' && o.map === 'vnf_fdb').map((o) => (o.kind === 'delete' ? o.text : ''));
  t.ok(fdbDeletes.some((x) => x.includes('02:00:00:00:00:99')), 'learned entry on the removed port pruned');
  t.notOk(fdbDeletes.some((x) => x.includes('02:00:00:00:00:98')), 'learned entry on a live port kept');
});
