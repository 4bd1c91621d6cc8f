/**
 * The trace instance (vnf-ctl trace) against a live dataplane of the real objects: the same
 * frames through the live programs and through the trace programs. The live run learns, counts
 * and floods (real clones, counted as TX by the ports' egress hooks); the trace run records the
 * same decisions and changes nothing: no pinned map differs afterwards, no clone leaves, no pin
 * is added.
 */
import t, { type Test } from 'tap';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { attachTc, detachTc } from '../../src/bpf/attach.js';
import { BpfMap } from '../../src/bpf/map.js';
import { skbContext } from '../../src/bpf/skb.js';
import { VNF_DIR_TX, VNF_ID_CORE, VNF_ID_DELIVER } from '../../src/vnf/common/codec.js';
import { VNF_ID_BRIDGE, VNF_FDB_F_STATIC } from '../../src/vnf/bridge/codec.js';
import { VNF_R_DELIVER, VNF_R_FLOOD, VNF_R_FORWARD, VNF_R_PASS } from '../../src/abi/vnf_common.js';
import { loadTraceInstanceAt, type TraceInstance } from '../../src/trace/instance.js';
import { traceRecCodec, VNF_MAP_TRACE, VNF_TRACE_FLOOD, VNF_TRACE_HOP, VNF_TRACE_SLOTS, VNF_TRACE_VERDICT, type TraceRec } from '../../src/trace/codec.js';
import { createPorts, loadDataplane, type TestDataplane, type TestPort } from '../helpers/dataplane.js';
import { ETH_P_ARP, arp, eth, ip4, pingPacket } from '../helpers/packets.js';
import { lab as routerLab, udpPacket, H2, R2, BCAST as BC } from '../helpers/router-lab.js';
import { VNF_ID_ROUTER } from '../../src/vnf/router/codec.js';
import { VNF_R_ARP_PROBE, VNF_R_ROUTED } from '../../src/abi/vnf_common.js';
import { VNF_TRACE_PROBE } from '../../src/trace/codec.js';
import { requirePrivileges } from '../helpers/privilege.js';
import { sh } from '../helpers/sh.js';

const NET = 1;
const TC_ACT_REDIRECT = 7;
const MAC = ['02:00:00:00:01:0a', '02:00:00:00:01:0b', '02:00:00:00:01:0c'] as const;
const BCAST = 'ff:ff:ff:ff:ff:ff';
const frame = (dst: string, src: string): Buffer => pingPacket({ srcMac: src, dstMac: dst, src: '10.0.0.10', dst: '10.0.0.11' });

interface Setup {
  dp: TestDataplane;
  ports: TestPort[];
  ix: number[];
  trace: TraceInstance;
}

async function setup(t: Test): Promise<Setup> {
  const dp = await loadDataplane(t, ['entry', 'bridge']);
  const ports = createPorts(t, 3);
  const ix = ports.map((p) => p.ifindex);
  const chainIn = dp.addChain([VNF_ID_BRIDGE]);
  const chainOut = dp.addChain([VNF_ID_DELIVER]);
  for (const i of ix) dp.setPort(i, { network: NET, chain_in: chainIn, chain_out: chainOut });
  dp.setNetwork(NET, { ports: ix });
  // Flooded clones run the port's chain_out at its egress and are counted there as TX.
  for (const p of ports) {
    const a = attachTc(dp.program('vnf_entry_out'), p.name, 'egress', { mode: 'tcx' });
    t.teardown(() => detachTc(a));
  }
  dp.setFdb(NET, MAC[1], { ifindex: ix[1]!, flags: VNF_FDB_F_STATIC });
  const trace = await loadTraceInstanceAt(dp.pinRoot);
  t.teardown(() => trace.close());
  return { dp, ports, ix, trace };
}

/** Every pinned map under `root` (not progs/ or links/), entry by entry, as hex. */
function snapshot(root: string): Record<string, Record<string, string>> {
  const out: Record<string, Record<string, string>> = {};
  for (const name of readdirSync(root)) {
    if (statSync(join(root, name)).isDirectory()) continue;
    const m = BpfMap.openPinned(join(root, name));
    try {
      if (m.info.typeName === 'prog_array' || m.info.typeName === 'ringbuf') continue; // values are not readable; a ring buffer has no entries
      out[name] = Object.fromEntries(m.entries().map(([k, v]) => [k.toString('hex'), v.toString('hex')]));
    } finally {
      m.close();
    }
  }
  return out;
}

/** tx_packets of the host-side veths, as the kernel counts them. */
const txPackets = (ports: TestPort[]): number[] => ports.map((p) => Number(sh('cat', [`/sys/class/net/${p.name}/statistics/tx_packets`]).trim()));

function records(tr: TraceInstance): TraceRec[] {
  const m = tr.maps.get(VNF_MAP_TRACE)!;
  const n = traceRecCodec.decode(m.lookup(Buffer.alloc(4))!).arg;
  const out: TraceRec[] = [];
  for (let i = 1; i <= Math.min(n, VNF_TRACE_SLOTS - 1); i++) {
    const k = Buffer.alloc(4);
    k.writeUInt32LE(i);
    out.push(traceRecCodec.decode(m.lookup(k)!));
  }
  return out;
}

function resetRecords(tr: TraceInstance): void {
  tr.maps.get(VNF_MAP_TRACE)!.update(Buffer.alloc(4), Buffer.alloc(traceRecCodec.size));
}

if (requirePrivileges(t)) {
  t.test('a flood through the trace instance is recorded, not sent, and changes nothing', async (t) => {
    const s = await setup(t);
    const before = snapshot(s.dp.pinRoot);
    const pins = readdirSync(s.dp.pinRoot).sort();
    const tx0 = txPackets(s.ports);
    const r = s.trace.entry.testRun({ data: frame(BCAST, MAC[0]), ctx: skbContext({ ifindex: s.ix[0]! }) });
    const recs = records(s.trace);
    t.same(recs.filter((x) => x.kind === VNF_TRACE_FLOOD).map((x) => x.arg).sort(), [s.ix[1], s.ix[2]].sort(), 'would flood to the two other ports');
    t.same(recs.filter((x) => x.kind === VNF_TRACE_VERDICT).map((x) => [x.vnf, x.reason]), [[VNF_ID_CORE, VNF_R_PASS], [VNF_ID_BRIDGE, VNF_R_FLOOD]]);
    t.equal(r.retval, 2, 'the original is dropped after flooding, as in the live run');
    t.same(snapshot(s.dp.pinRoot), before, 'every pinned map is unchanged (no learning, no counters)');
    t.same(readdirSync(s.dp.pinRoot).sort(), pins, 'no pin added');
    t.same(txPackets(s.ports), tx0, 'no clone left any port');
    t.equal(s.dp.learnedFdb(NET, MAC[0]), null, 'the source MAC was not learned');

    // The live programs, same frame: they learn, count and send clones (the comparison is not vacuous).
    s.dp.runFrom(s.ix[0]!, frame(BCAST, MAC[0]));
    t.ok(s.dp.learnedFdb(NET, MAC[0]), 'the live run learns');
    t.same(s.ix.map((i) => Number(s.dp.portStat(i, VNF_DIR_TX).packets)), [0, 1, 1], 'the live run floods, counted at the egress hooks');
    t.notSame(snapshot(s.dp.pinRoot), before, 'and changes the pinned maps');
  });

  t.test('a unicast to a known MAC: the hops in order, ending in DELIVER to its port', async (t) => {
    const s = await setup(t);
    const before = snapshot(s.dp.pinRoot);
    resetRecords(s.trace);
    const r = s.trace.entry.testRun({ data: frame(MAC[1], MAC[0]), ctx: skbContext({ ifindex: s.ix[0]! }) });
    t.equal(r.retval, TC_ACT_REDIRECT, 'redirected (bpf_redirect_peer only sets per-CPU state in a test run)');
    const recs = records(s.trace);
    t.same(recs.map((x) => [x.kind, x.kind === VNF_TRACE_HOP ? x.arg : x.reason]), [
      [VNF_TRACE_VERDICT, VNF_R_PASS], [VNF_TRACE_HOP, VNF_ID_BRIDGE],
      [VNF_TRACE_VERDICT, VNF_R_FORWARD], [VNF_TRACE_HOP, VNF_ID_DELIVER],
      [VNF_TRACE_VERDICT, VNF_R_DELIVER],
    ]);
    const last = recs.filter((x) => x.kind === VNF_TRACE_HOP).at(-1)!;
    t.equal(last.out, s.ix[1], 'delivered to the port of the destination MAC');
    t.equal(last.in, s.ix[0], 'from the port it entered');
    t.equal(last.network, NET);
    t.same(snapshot(s.dp.pinRoot), before, 'nothing changed');
    const counted = s.trace.maps.get('vnf_port_stats')!.entries().length;
    t.ok(counted > 0, 'the instance counted into its own port counters');
  });

  t.test('the trace instance keeps its own program array and counters', async (t) => {
    const s = await setup(t);
    const livePins = new BpfMap(s.dp.map('vnf_progs').handle);
    t.not(s.trace.maps.get('vnf_progs')!.info.id, livePins.info.id, 'a private vnf_progs');
    t.not(s.trace.maps.get('vnf_stats')!.info.id, s.dp.map('vnf_stats').info.id, 'private counters');
    t.equal(s.trace.maps.get('vnf_ports'), undefined, 'configuration is read from the pins, not copied');
    t.ok(s.trace.copied.includes('vnf_fdb'), 'learned state is copied');
  });

  t.test('a stale neighbour: the probe is recorded, not sent, and the traced packet goes on to the port', async (t) => {
    const l = await routerLab(t);
    // 10.0.2.20 learned behind port b from its ARP request, then aged to STALE (30 s).
    l.dp.setFdb(2, H2, { ifindex: l.b.ifindex, flags: VNF_FDB_F_STATIC });
    l.run(eth(BC, H2, ETH_P_ARP, arp(1, H2, '10.0.2.20', '00:00:00:00:00:00', '10.0.2.1')), l.b, 2);
    l.dp.editNeigh('vnf_neigh', 2, ip4('10.0.2.20'), (e) => ({ updated_ns: e.updated_ns - 31_000_000_000n, reachable_until: 0n }));
    const chainIn = l.dp.addChain([VNF_ID_BRIDGE]);
    l.dp.setPort(l.a.ifindex, { network: 1, chain_in: chainIn, chain_out: l.dp.addChain([VNF_ID_DELIVER]) });
    const trace = await loadTraceInstanceAt(l.dp.pinRoot);
    t.teardown(() => trace.close());
    const before = snapshot(l.dp.pinRoot);
    const tx0 = txPackets([l.a, l.b, l.c]);
    const r = trace.entry.testRun({ data: udpPacket('10.0.2.20'), ctx: skbContext({ ifindex: l.a.ifindex }) });
    const recs = records(trace);
    t.same(recs.filter((x) => x.kind === VNF_TRACE_PROBE).map((x) => x.arg), [l.b.ifindex], 'would probe 10.0.2.20 through port b');
    t.ok(recs.some((x) => x.kind === VNF_TRACE_VERDICT && x.vnf === VNF_ID_ROUTER && x.reason === VNF_R_ROUTED), 'routed');
    t.notOk(recs.some((x) => x.kind === VNF_TRACE_VERDICT && x.reason === VNF_R_ARP_PROBE), 'the traced packet does not become the probe');
    const last = recs.filter((x) => x.kind === VNF_TRACE_HOP).at(-1)!;
    t.same([last.arg, last.out, r.retval], [VNF_ID_DELIVER, l.b.ifindex, TC_ACT_REDIRECT], 'delivered to port b, as the live copy is');
    t.same(r.data.subarray(0, 12), Buffer.concat([Buffer.from(H2.split(':').map((x) => parseInt(x, 16))), Buffer.from(R2.split(':').map((x) => parseInt(x, 16)))]), 'to the cached MAC, from the router port');
    t.same(snapshot(l.dp.pinRoot), before, 'the neighbour entry (probe count, times) and the counters are unchanged');
    t.same(txPackets([l.a, l.b, l.c]), tx0, 'nothing sent');
  });
}

