/**
 * The overlay VNF with BPF_PROG_TEST_RUN and a real VXLAN device (external mode, a random UDP
 * port so that no other test's device collides). Nothing leaves the machine: ovl_test_seen
 * (test/bpf/progs/overlay_test.bpf.c) sits on the device's tcx egress, records the VTEP and VNI
 * of every frame the overlay sends and drops it before encapsulation. Frames "received" from
 * other hosts run through ovl_test_rx, which sets the tunnel key a decapsulating device would
 * and then runs the device's chain_in as vnf_entry_in does.
 */
import t, { type Test } from 'tap';
import { attachTc, detachTc } from '../../src/bpf/attach.js';
import { BpfObject } from '../../src/bpf/object.js';
import { skbContext } from '../../src/bpf/skb.js';
import { u32 } from '../../src/codec/struct.js';
import { enum_vnf_reason as R } from '../../src/abi/vnf_common.js';
import { floodKeyCodec, VNF_DIR_TX, VNF_ID_CORE, VNF_ID_DELIVER, VNF_PORT_F_OVERLAY } from '../../src/vnf/common/codec.js';
import { VNF_FDB_F_REMOTE, VNF_FDB_F_STATIC, VNF_ID_BRIDGE } from '../../src/vnf/bridge/codec.js';
import {
  ovlCfgCodec, ovlEpCodec, ovlEpKeyCodec, ovlNetCodec, vtepBytes, VNF_ID_OVERLAY, VNF_OVL_CFG_F_SET, VNF_OVL_EP_F_FORWARDS,
} from '../../src/vnf/overlay/codec.js';
import { createPorts, loadDataplane, type TestDataplane, type TestPort } from '../helpers/dataplane.js';
import { nsExec, randomName } from '../helpers/netns.js';
import { arp, eth, ETH_P_ARP, ETH_P_IP, IPPROTO_UDP, ip4, ipv4, udp } from '../helpers/packets.js';
import { testObject } from '../helpers/paths.js';
import { requirePrivileges } from '../helpers/privilege.js';
import { loadTraceInstanceAt } from '../../src/trace/instance.js';
import { traceRecCodec, VNF_MAP_TRACE, VNF_TRACE_FLOOD, VNF_TRACE_SLOTS } from '../../src/trace/codec.js';
import { run, sh } from '../helpers/sh.js';

const NET = 1;
const NET2 = 2;
const VNI = 100;
const VNI2 = 200;
const TC_ACT_SHOT = 2;
const TC_ACT_REDIRECT = 7;
const ROUTER_MAC = '02:00:00:00:00:fe';
const MAC_A = '02:00:00:00:00:0a';
const MAC_B = '02:00:00:00:00:0b';
/** Remote endpoints: R2 on host H2, R3 on host H3, R4 (network NET2) on host H4. */
const R2 = '02:00:00:00:02:02';
const R3 = '02:00:00:00:03:03';
const R4 = '02:00:00:00:04:04';
const LOCAL = ip4('10.99.0.1');
const H2 = ip4('10.99.0.2');
const H3 = ip4('10.99.0.3');
const H4 = ip4('10.99.0.4');
const MTU = 1450;

interface Overlay {
  dp: TestDataplane;
  ports: TestPort[];
  vx: { name: string; ifindex: number };
  test: BpfObject;
  /** (vtep, vni) -> frames the overlay sent, read from ovl_test_seen's map. */
  seen(): Map<string, number>;
  /** Runs a frame as received on the device from `outerSrc` with `vni` (outerSrc 0: no tunnel key). */
  rx(outerSrc: number, vni: number, frame: Buffer): number;
  ostat(reason: number): bigint;
  bstat(reason: number): bigint;
}

const key = (vtep: number, vni: number): string => `${vtep >>> 0}/${vni}`;

async function overlay(t: Test): Promise<Overlay> {
  const dp = await loadDataplane(t, ['entry', 'bridge', 'router', 'overlay']);
  const test = await BpfObject.load(testObject('overlay_test'), { pinRoot: dp.pinRoot });
  t.teardown(() => test.close());
  const ports = createPorts(t, 2);
  const name = randomName('vtx');
  t.teardown(() => {
    run('ip', ['link', 'del', name]);
  });
  const port = String(20000 + Math.floor(Math.random() * 20000));
  sh('ip', ['link', 'add', name, 'type', 'vxlan', 'external', 'dstport', port]);
  sh('sysctl', ['-qw', `net.ipv6.conf.${name}.disable_ipv6=1`]);
  sh('ip', ['link', 'set', name, 'up']);
  const vx = { name, ifindex: Number(sh('cat', [`/sys/class/net/${name}/ifindex`]).trim()) };
  const seenProg = test.programs().find((p) => p.name === 'ovl_test_seen')!;
  const a = attachTc(seenProg, name, 'egress', { mode: 'tcx' });
  t.teardown(() => detachTc(a));

  const [A, B] = [ports[0]!.ifindex, ports[1]!.ifindex];
  const local = { chain_in: dp.addChain([VNF_ID_BRIDGE]), chain_out: dp.addChain([VNF_ID_DELIVER]) };
  dp.setPort(A, { network: NET, ...local, mac: MAC_A, ip: ip4('10.0.0.10'), prefix: 24 });
  dp.setPort(B, { network: NET, ...local, mac: MAC_B, ip: ip4('10.0.0.11'), prefix: 24 });
  dp.setPort(vx.ifindex, { network: 0, chain_in: dp.addChain([VNF_ID_OVERLAY, VNF_ID_BRIDGE]), chain_out: dp.addChain([VNF_ID_DELIVER]), flags: VNF_PORT_F_OVERLAY });
  dp.setNetwork(NET, { ports: [A, B], router_id: 1, router_ip: ip4('10.0.0.1'), router_mac: ROUTER_MAC, router_prefix: 24 });
  dp.setNetwork(NET2, { ports: [] });

  dp.map('vnf_ovl_cfg').update(u32(0), ovlCfgCodec.encode({ ifindex: vx.ifindex, mtu: MTU, local: LOCAL, flags: VNF_OVL_CFG_F_SET }));
  for (const h of [H2, H3, H4]) dp.map('vnf_ovl_hosts').update(vtepBytes(h), u32(1));
  dp.map('vnf_ovl_vni').update(u32(VNI), u32(NET));
  dp.map('vnf_ovl_vni').update(u32(VNI2), u32(NET2));
  const ep = (network: number, mac: string, vtep: number, vni: number, ip: string, flags = 0): void =>
    dp.map('vnf_ovl_ep').update(ovlEpKeyCodec.encode({ network, mac }), ovlEpCodec.encode({ vtep, vni, ip: ip4(ip), flags }));
  ep(NET, R2, H2, VNI, '10.0.0.20');
  ep(NET, R3, H3, VNI, '10.0.0.30');
  ep(NET2, R4, H4, VNI2, '10.0.2.40');
  const list = (network: number, version: number, vteps: number[]): void => {
    vteps.forEach((v, index) => dp.map('vnf_ovl_flood').update(floodKeyCodec.encode({ network, version, index }), vtepBytes(v)));
  };
  list(NET, 7, [H2, H3]);
  list(NET2, 8, [H4]);
  dp.map('vnf_ovl_net').update(u32(NET), ovlNetCodec.encode({ vni: VNI, flood_version: 7, flood_count: 2 }));
  dp.map('vnf_ovl_net').update(u32(NET2), ovlNetCodec.encode({ vni: VNI2, flood_version: 8, flood_count: 1 }));
  dp.setFdb(NET, MAC_A, { ifindex: A, flags: VNF_FDB_F_STATIC });
  dp.setFdb(NET, MAC_B, { ifindex: B, flags: VNF_FDB_F_STATIC });
  for (const mac of [R2, R3]) dp.setFdb(NET, mac, { ifindex: vx.ifindex, flags: VNF_FDB_F_STATIC | VNF_FDB_F_REMOTE });

  const rxProg = test.programs().find((p) => p.name === 'ovl_test_rx')!;
  const keyMap = test.map('ovl_test_key');
  const seenMap = test.map('ovl_seen');
  return {
    dp, ports, vx, test,
    seen() {
      const out = new Map<string, number>();
      for (const [k, v] of seenMap.entries()) out.set(key(k.readUInt32LE(0), k.readUInt32LE(4)), Number(v.readBigUInt64LE(0)));
      return out;
    },
    rx(outerSrc, vni, frame) {
      const b = Buffer.alloc(8);
      b.writeUInt32LE(outerSrc >>> 0, 0);
      b.writeUInt32LE(vni, 4);
      keyMap.update(u32(0), b);
      return rxProg.testRun({ data: frame, ctx: skbContext({ ifindex: vx.ifindex }) }).retval;
    },
    ostat: (reason) => dp.stat(VNF_ID_OVERLAY, reason).packets,
    bstat: (reason) => dp.stat(VNF_ID_BRIDGE, reason).packets,
  };
}

const BCAST = 'ff:ff:ff:ff:ff:ff';
/** An ARP request (broadcast) from `mac` as `ip`. */
const arpRequest = (mac: string, ip: string, target: string): Buffer => eth(BCAST, mac, ETH_P_ARP, arp(1, mac, ip, '00:00:00:00:00:00', target));

const udpFrame = (dstMac: string, srcMac: string, src: string, dst: string, size = 32): Buffer =>
  eth(dstMac, srcMac, ETH_P_IP, ipv4({ src, dst, proto: IPPROTO_UDP }, udp(src, dst, 4000, 5000, Buffer.alloc(size, 0x5a))));

/** Sends `frame` from the container end of `port` (a raw AF_PACKET socket in its namespace). */
function inject(port: TestPort, frame: Buffer): void {
  const py = `import socket,sys; s=socket.socket(socket.AF_PACKET, socket.SOCK_RAW); s.bind((sys.argv[1], 0)); s.send(bytes.fromhex(sys.argv[2]))`;
  nsExec(port.ns, ['python3', '-c', py, port.peer, frame.toString('hex')]);
}

async function until(f: () => boolean, ms = 2000): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (f()) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return f();
}

if (requirePrivileges(t)) {
  t.test('transmit: a REMOTE FDB entry hands the frame to the overlay, which sets the tunnel key and redirects to the device', async (t) => {
    const o = await overlay(t);
    const A = o.ports[0]!;
    const frame = udpFrame(R2, MAC_A, '10.0.0.10', '10.0.0.20');

    const fwd = o.bstat(R.VNF_R_FORWARD);
    const tx = o.ostat(R.VNF_R_OVL_TX);
    const r = o.dp.runFrom(A.ifindex, frame);
    t.equal(r.retval, TC_ACT_REDIRECT, 'redirected (to the device)');
    t.equal(o.bstat(R.VNF_R_FORWARD) - fwd, 1n, 'the bridge forwarded it (to the overlay)');
    t.equal(o.ostat(R.VNF_R_OVL_TX) - tx, 1n, 'the overlay counted a transmit');
    t.equal(o.dp.portStat(A.ifindex, VNF_DIR_TX).packets, 0n, 'nothing delivered locally');

    // The same frame for real, from the container: it reaches the device's egress with the key.
    const a = attachTc(o.dp.program('vnf_entry_in'), A.name, 'ingress', { mode: 'tcx' });
    t.teardown(() => detachTc(a));
    inject(A, frame);
    t.ok(await until(() => (o.seen().get(key(H2, VNI)) ?? 0) >= 1), 'the device got it with remote VTEP H2 and VNI 100');
    t.same([...o.seen().keys()], [key(H2, VNI)], 'and nothing else');
  });

  t.test('transmit: a frame larger than the overlay MTU is a counted drop', async (t) => {
    const o = await overlay(t);
    const A = o.ports[0]!;
    const before = o.ostat(R.VNF_R_DROP_OVL_MTU);
    const big = udpFrame(R2, MAC_A, '10.0.0.10', '10.0.0.20', MTU - 28 + 1); // IP total length MTU + 1
    t.equal(o.dp.runFrom(A.ifindex, big).retval, TC_ACT_SHOT, 'dropped');
    t.equal(o.ostat(R.VNF_R_DROP_OVL_MTU) - before, 1n, 'as drop:ovl-mtu');
    const fits = udpFrame(R2, MAC_A, '10.0.0.10', '10.0.0.20', MTU - 28);
    t.equal(o.dp.runFrom(A.ifindex, fits).retval, TC_ACT_REDIRECT, 'a frame of exactly the MTU goes');
  });

  t.test('flood: a broadcast is replicated to exactly the hosts with ports on its network', async (t) => {
    const o = await overlay(t);
    const A = o.ports[0]!;
    const flood = o.ostat(R.VNF_R_OVL_FLOOD);
    const r = o.dp.runFrom(A.ifindex, arpRequest(MAC_A, '10.0.0.10', '10.0.0.30'));
    t.equal(r.retval, TC_ACT_SHOT, 'the original ends after its copies');
    t.equal(o.ostat(R.VNF_R_OVL_FLOOD) - flood, 1n, 'the overlay counted one replication');
    t.same(o.seen(), new Map([[key(H2, VNI), 1], [key(H3, VNI), 1]]), 'one copy to H2 and one to H3 (VNI 100), none to H4 (no port on the network)');
  });

  t.test('receive: a genuine remote endpoint and the router MAC pass to the local port, never learned', async (t) => {
    const o = await overlay(t);
    const A = o.ports[0]!;
    const rx = o.ostat(R.VNF_R_OVL_RX);
    const deliver = o.dp.stat(VNF_ID_CORE, R.VNF_R_DELIVER).packets;
    t.equal(o.rx(H3, VNI, udpFrame(MAC_A, R3, '10.0.0.30', '10.0.0.10')), TC_ACT_REDIRECT, 'R3 from H3: delivered');
    t.equal(o.ostat(R.VNF_R_OVL_RX) - rx, 1n, 'counted as ovl-rx');
    t.equal(o.dp.stat(VNF_ID_CORE, R.VNF_R_DELIVER).packets - deliver, 1n, 'through the port\'s chain_out (DELIVER)');
    t.equal(o.dp.portStat(A.ifindex, VNF_DIR_TX).packets, 1n, 'into port A');
    t.equal(o.dp.learnedFdb(NET, R3), null, 'the remote MAC was not learned');

    t.equal(o.rx(H2, VNI, udpFrame(MAC_A, ROUTER_MAC, '10.0.5.5', '10.0.0.10')), TC_ACT_REDIRECT, 'the router MAC (routed on H2) from any address: delivered');
    t.equal(o.dp.portStat(A.ifindex, VNF_DIR_TX).packets, 2n, 'into port A');
    t.equal(o.dp.learnedFdb(NET, ROUTER_MAC), null, 'not learned');
  });

  t.test('receive: forged and unknown frames are counted drops', async (t) => {
    const o = await overlay(t);
    const A = o.ports[0]!;
    const cases: Array<[string, number, number, Buffer, number]> = [
      ['no tunnel key', 0, VNI, udpFrame(MAC_A, R2, '10.0.0.20', '10.0.0.10'), R.VNF_R_DROP_OVL_NO_TUNNEL],
      ['unknown VNI', H2, 999, udpFrame(MAC_A, R2, '10.0.0.20', '10.0.0.10'), R.VNF_R_DROP_OVL_UNKNOWN_VNI],
      ['an outer source that is no live host', ip4('10.99.0.9'), VNI, udpFrame(MAC_A, R2, '10.0.0.20', '10.0.0.10'), R.VNF_R_DROP_OVL_UNKNOWN_HOST],
      ['the MAC of an endpoint of another host (R3 from H2)', H2, VNI, udpFrame(MAC_A, R3, '10.0.0.30', '10.0.0.10'), R.VNF_R_DROP_OVL_SPOOF],
      ['an unknown source MAC', H2, VNI, udpFrame(MAC_A, '02:00:00:00:09:09', '10.0.0.20', '10.0.0.10'), R.VNF_R_DROP_OVL_SPOOF],
      ['the right MAC on the wrong VNI (R4 on VNI 100)', H4, VNI, udpFrame(MAC_A, R4, '10.0.2.40', '10.0.0.10'), R.VNF_R_DROP_OVL_SPOOF],
      ['a forged inner IPv4 source', H2, VNI, udpFrame(MAC_A, R2, '10.0.0.99', '10.0.0.10'), R.VNF_R_DROP_SPOOF_IP],
      ['a forged ARP sender', H2, VNI, arpRequest(R2, '10.0.0.99', '10.0.0.10'), R.VNF_R_DROP_SPOOF_ARP],
      ['a frame to the router MAC (routed by the sender)', H2, VNI, udpFrame(ROUTER_MAC, R2, '10.0.0.20', '10.0.9.9'), R.VNF_R_DROP_NOT_FOR_US],
      ['a frame to another host\'s endpoint (not relayed)', H2, VNI, udpFrame(R3, R2, '10.0.0.20', '10.0.0.30'), R.VNF_R_DROP_HAIRPIN],
    ];
    for (const [what, src, vni, frame, reason] of cases) {
      const vnf = reason === R.VNF_R_DROP_NOT_FOR_US || reason === R.VNF_R_DROP_HAIRPIN ? VNF_ID_BRIDGE : VNF_ID_OVERLAY;
      const before = o.dp.stat(vnf, reason).packets;
      t.equal(o.rx(src, vni, frame), TC_ACT_SHOT, `${what}: dropped`);
      t.equal(o.dp.stat(vnf, reason).packets - before, 1n, `${what}: counted`);
    }
    t.equal(o.dp.portStat(A.ifindex, VNF_DIR_TX).packets, 0n, 'nothing reached port A');
    t.same(o.seen(), new Map(), 'nothing went back to the overlay');

    // An endpoint that forwards for others: only its MAC is checked.
    o.dp.map('vnf_ovl_ep').update(ovlEpKeyCodec.encode({ network: NET, mac: R2 }), ovlEpCodec.encode({ vtep: H2, vni: VNI, ip: ip4('10.0.0.20'), flags: VNF_OVL_EP_F_FORWARDS }));
    t.equal(o.rx(H2, VNI, udpFrame(MAC_A, R2, '10.0.0.99', '10.0.0.10')), TC_ACT_REDIRECT, 'a forwarding endpoint may send from another address');
  });

  t.test('receive: a broadcast from the overlay is flooded locally, never back to the overlay', async (t) => {
    const o = await overlay(t);
    const flood = o.ostat(R.VNF_R_OVL_FLOOD);
    const bflood = o.bstat(R.VNF_R_FLOOD);
    t.equal(o.rx(H2, VNI, arpRequest(R2, '10.0.0.20', '10.0.0.10')), TC_ACT_SHOT, 'the original ends after its copies');
    t.equal(o.bstat(R.VNF_R_FLOOD) - bflood, 1n, 'flooded by the bridge');
    t.equal(o.ostat(R.VNF_R_OVL_FLOOD) - flood, 0n, 'not replicated by the overlay');
    t.same(o.seen(), new Map(), 'no copy left through the device');
    t.equal(o.dp.learnedFdb(NET, R2), null, 'not learned');
  });

  t.test('trace: a replication is recorded per remote host, never sent', async (t) => {
    const o = await overlay(t);
    const trace = await loadTraceInstanceAt(o.dp.pinRoot);
    t.teardown(() => trace.close());
    const A = o.ports[0]!;
    const r = trace.entry.testRun({ data: arpRequest(MAC_A, '10.0.0.10', '10.0.0.30'), ctx: skbContext({ ifindex: A.ifindex }) });
    t.equal(r.retval, TC_ACT_SHOT, 'the same verdict as the live run');
    const m = trace.maps.get(VNF_MAP_TRACE)!;
    const n = traceRecCodec.decode(m.lookup(Buffer.alloc(4))!).arg;
    const recs = Array.from({ length: Math.min(n, VNF_TRACE_SLOTS - 1) }, (_, i) => traceRecCodec.decode(m.lookup(u32(i + 1))!));
    const floods = recs.filter((x) => x.kind === VNF_TRACE_FLOOD && x.vnf === VNF_ID_OVERLAY);
    t.equal(floods.length, 2, 'two "would send" records of the overlay (H2, H3)');
    t.ok(floods.every((x) => x.arg === o.vx.ifindex), 'through the device');
    t.same(o.seen(), new Map(), 'nothing reached the device');
    t.equal(o.ostat(R.VNF_R_OVL_FLOOD), 0n, 'the live counters are untouched');
  });
}
