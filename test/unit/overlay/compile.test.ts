/**
 * The overlay module's compile, without a kernel: a host's slice (ext.overlay) and its VXLAN
 * device give the device a port of no network, chain_in [overlay, bridge] and chain_out [deliver],
 * no identity check, no place in any flood list; remote endpoints get REMOTE static FDB entries
 * (and static neighbours on routed networks); the overlay maps say where each endpoint and host
 * is; a topology without ext.overlay writes none of it; a missing device is one input error.
 */
import t from 'tap';
import { parseTopology } from '../../../src/spec/index.js';
import { compile, type CompileInput } from '../../../src/model/compile.js';
import { assignIds, emptyIds } from '../../../src/model/ids.js';
import { hostVethName } from '../../../src/model/names.js';
import { hex } from '../../../src/model/desired.js';
import { u32 } from '../../../src/codec/struct.js';
import { chainCodec, floodKeyCodec, portCodec, VNF_ID_DELIVER, VNF_PORT_F_OVERLAY, VNF_PORT_F_SPOOFCHK } from '../../../src/vnf/common/codec.js';
import { fdbEntryCodec, fdbKeyCodec, VNF_FDB_F_REMOTE, VNF_FDB_F_STATIC, VNF_ID_BRIDGE } from '../../../src/vnf/bridge/codec.js';
import { neighKeyCodec } from '../../../src/vnf/router/codec.js';
import { ovlCfgCodec, ovlEpCodec, ovlEpKeyCodec, ovlNetCodec, vtepBytes, VNF_ID_OVERLAY, VNF_OVL_CFG_F_SET } from '../../../src/vnf/overlay/codec.js';
import { resolveInterfaces } from '../../../src/ops/topology.js';
import { InputError } from '../../../src/ops/errors.js';
import type { OverlayModel } from '../../../src/vnf/overlay/model.js';
import type { Topology } from '../../../src/spec/model.js';

const YAML = `
apiVersion: vnf/v1
name: ovu
containers:
  a: { interfaces: { eth0: { network: n1, ip: 10.80.1.10/24, mac: "02:80:00:00:01:0a" } } }
networks:
  n1: { subnet: 10.80.1.0/24 }
  n2: { subnet: 10.80.2.0/24 }
  n3: { subnet: 10.80.3.0/24 }
routers:
  r: { ports: { n1: 10.80.1.1/24, n2: 10.80.2.1/24 } }
`;
const ip = (s: string): number => s.split('.').reduce((a, x) => a * 256 + Number(x), 0);

const OVERLAY: OverlayModel = {
  host: 'h1', device: 'vx0', local: ip('10.250.0.1'), mtu: 1450, vnis: { n1: 101, n2: 102, n3: 103 },
  hosts: [{ name: 'h2', vtep: ip('10.250.0.2') }, { name: 'h3', vtep: ip('10.250.0.3') }],
  remotes: [
    { host: 'h2', container: 'b', iface: 'eth0', network: 'n1', ip: ip('10.80.1.20'), prefix: 24, mac: '02:80:00:00:01:14', forwards: false },
    { host: 'h2', container: 'c', iface: 'eth0', network: 'n2', ip: ip('10.80.2.30'), prefix: 24, mac: '02:80:00:00:02:1e', forwards: true },
    { host: 'h3', container: 'd', iface: 'eth0', network: 'n1', ip: ip('10.80.1.40'), prefix: 24, mac: '02:80:00:00:01:28', forwards: false },
    { host: 'h3', container: 'e', iface: 'eth0', network: 'n3', ip: ip('10.80.3.50'), prefix: 24, mac: '02:80:00:00:03:32', forwards: false },
    // A host that is not live (not in `hosts`): nothing of it is written.
    { host: 'h9', container: 'z', iface: 'eth0', network: 'n1', ip: ip('10.80.1.90'), prefix: 24, mac: '02:80:00:00:01:5a', forwards: false },
  ],
};

function topology(withOverlay: boolean): Topology {
  const r = parseTopology(YAML);
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  if (withOverlay) r.topology.ext.overlay = OVERLAY;
  return r.topology;
}

const DEVICE = 50;
function input(t: Topology, device = true): CompileInput {
  return {
    topology: t, attachments: [], ids: assignIds(emptyIds(), t),
    fileInterfaces: new Map([['a/eth0', { ifname: hostVethName(t.name, 'a', 'eth0'), ifindex: 10 }]]),
    ...(device ? { overlay: { ifname: 'vx0', ifindex: DEVICE } } : {}),
  };
}

t.test('the VXLAN device is a port of no network: chain_in [overlay, bridge], chain_out [deliver], no identity check', async (t) => {
  const d = compile(input(topology(true)));
  const port = portCodec.decode(d.maps['vnf_ports']!.get(hex(u32(DEVICE)))!);
  t.equal(port.network, 0, 'no network');
  t.equal(port.flags & VNF_PORT_F_OVERLAY, VNF_PORT_F_OVERLAY, 'flagged OVERLAY');
  t.equal(port.flags & VNF_PORT_F_SPOOFCHK, 0, 'no identity check (the overlay checks each host)');
  const chain = (id: number): number[] => { const c = chainCodec.decode(d.maps['vnf_chains']!.get(hex(u32(id)))!); return c.vnf.slice(0, c.len); };
  t.same(chain(port.chain_in), [VNF_ID_OVERLAY, VNF_ID_BRIDGE], 'chain_in');
  t.same(chain(port.chain_out), [VNF_ID_DELIVER], 'chain_out only delivers (passes on the egress hook)');
  const local = portCodec.decode(d.maps['vnf_ports']!.get(hex(u32(10)))!);
  t.notOk(chain(local.chain_in).includes(VNF_ID_OVERLAY), 'a container port does not run the overlay');
  const floods = [...d.maps['vnf_flood']!.values()].map((v) => v.readUInt32LE(0));
  t.notOk(floods.includes(DEVICE), 'the device is in no flood list');
  t.equal(d.live.ports.get(DEVICE), 0, 'live: a port of network 0');
  t.equal(d.interfaces.find((i) => i.ifindex === DEVICE)?.source, 'overlay');
});

t.test('remote endpoints: REMOTE static FDB entries to the device, static neighbours on routed networks, live hosts only', async (t) => {
  const tp = topology(true);
  const d = compile(input(tp));
  const ids = assignIds(emptyIds(), tp);
  const net = (n: string): number => ids.networks.get(n)!;
  const fdb = d.maps['vnf_fdb_static']!;
  for (const r of OVERLAY.remotes.filter((x) => x.host !== 'h9')) {
    const v = fdb.get(hex(fdbKeyCodec.encode({ network: net(r.network), mac: r.mac })));
    t.ok(v, `${r.container}: an FDB entry`);
    const e = fdbEntryCodec.decode(v!);
    t.equal(e.ifindex, DEVICE, `${r.container}: to the device`);
    t.equal(e.flags, VNF_FDB_F_STATIC | VNF_FDB_F_REMOTE, `${r.container}: STATIC | REMOTE`);
  }
  t.notOk(fdb.get(hex(fdbKeyCodec.encode({ network: net('n1'), mac: '02:80:00:00:01:5a' }))), 'none for an endpoint of a host that is not live');
  const neigh = d.maps['vnf_neigh_static']!;
  t.ok(neigh.get(hex(neighKeyCodec.encode({ network: net('n1'), ip: ip('10.80.1.20') }))), 'b (routed n1): a static neighbour');
  t.ok(neigh.get(hex(neighKeyCodec.encode({ network: net('n2'), ip: ip('10.80.2.30') }))), 'c (routed n2): a static neighbour');
  t.notOk(neigh.get(hex(neighKeyCodec.encode({ network: net('n3'), ip: ip('10.80.3.50') }))), 'e (n3 has no router): none');

  const cfg = ovlCfgCodec.decode(d.maps['vnf_ovl_cfg']!.get(hex(u32(0)))!);
  t.same(cfg, { ifindex: DEVICE, mtu: 1450, local: ip('10.250.0.1'), flags: VNF_OVL_CFG_F_SET }, 'the device settings');
  t.same([...d.maps['vnf_ovl_hosts']!.keys()].sort(), [hex(vtepBytes(ip('10.250.0.2'))), hex(vtepBytes(ip('10.250.0.3')))].sort(), 'the live hosts');
  t.equal(d.maps['vnf_ovl_vni']!.get(hex(u32(102)))!.readUInt32LE(0), net('n2'), 'VNI 102 is n2');
  const c = ovlEpCodec.decode(d.maps['vnf_ovl_ep']!.get(hex(ovlEpKeyCodec.encode({ network: net('n2'), mac: '02:80:00:00:02:1e' })))!);
  t.same(c, { vtep: ip('10.250.0.2'), vni: 102, ip: ip('10.80.2.30'), flags: 1 }, 'c: its host, VNI, address and that it forwards');
  t.equal(d.maps['vnf_ovl_ep']!.size, 4, 'four endpoints on live hosts');

  // Replication lists: n1 has ports on h2 and h3, n2 on h2, n3 on h3.
  const list = (n: string): number[] => {
    const o = ovlNetCodec.decode(d.maps['vnf_ovl_net']!.get(hex(u32(net(n))))!);
    return Array.from({ length: o.flood_count }, (_, index) =>
      d.maps['vnf_ovl_flood']!.get(hex(floodKeyCodec.encode({ network: net(n), version: o.flood_version, index })))!.readUInt32BE(0));
  };
  t.same(list('n1'), [ip('10.250.0.2'), ip('10.250.0.3')], 'n1 goes to h2 and h3');
  t.same(list('n2'), [ip('10.250.0.2')], 'n2 to h2 only');
  t.same(list('n3'), [ip('10.250.0.3')], 'n3 to h3 only');
});

t.test('a topology without ext.overlay writes no overlay state', async (t) => {
  const d = compile(input(topology(false), false));
  const cfg = ovlCfgCodec.decode(d.maps['vnf_ovl_cfg']!.get(hex(u32(0)))!);
  t.same(cfg, { ifindex: 0, mtu: 0, local: 0, flags: 0 }, 'the settings entry (an array\'s, never deleted) says off');
  for (const m of ['vnf_ovl_hosts', 'vnf_ovl_vni', 'vnf_ovl_ep', 'vnf_ovl_flood', 'vnf_ovl_net']) {
    t.equal(d.maps[m]?.size ?? 0, 0, `${m} is empty`);
  }
  t.notOk([...d.maps['vnf_fdb_static']!.values()].some((v) => fdbEntryCodec.decode(v).flags & VNF_FDB_F_REMOTE), 'no REMOTE FDB entry');
});

t.test('a slice whose VXLAN device does not exist: one input error naming it', async (t) => {
  const tp = topology(true);
  tp.ext.overlay = { ...OVERLAY, device: 'vxnope0' };
  let err: unknown;
  try {
    resolveInterfaces(tp, [], true);
  } catch (e) {
    err = e;
  }
  t.ok(err instanceof InputError, 'an InputError (exit 2)');
  t.match((err as Error).message, /the overlay device vxnope0 of host h1 does not exist: create it with `ip link add vxnope0 type vxlan external dstport 4789`/);
});
