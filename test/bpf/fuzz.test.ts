/**
 * Packet fuzzing of every program (issue 8): generated and mutated frames
 * (test/helpers/fuzz-frames.ts) through the real programs with
 * BPF_PROG_TEST_RUN, entering where traffic enters — vnf_entry_in of ports
 * whose identity is enforced as the control plane sets it, vnf_entry_out (the
 * egress path of flooded copies), and vnf_router as the bridge hands it frames
 * — and running the real chains (firewall, bridge, router, DELIVER) by tail
 * call.
 *
 * For every frame, a model of the dataplane (test/helpers/fuzz-model.ts,
 * written from the README's and the sources' specification) predicts each
 * reason every VNF counts, the TC verdict and what comes out; the test reads
 * the counters (vnf_stats) and the output and checks:
 *   - test run:  no error except BPF_PROG_TEST_RUN's own refusal of frames too
 *                short for their ethertype (EINVAL before any program runs,
 *                predicted exactly); a verdict of TC_ACT_OK, SHOT or REDIRECT
 *   - model:     the counters moved exactly as predicted, the verdict is the
 *                predicted one
 *   - identity:  a frame not from the port's MAC / IPv4 address / ARP sender
 *                (or an address it may use) stops at vnf_entry_in, counted
 *                under a spoof/ethertype/vlan/malformed reason, and nothing
 *                after the entry program counts it
 *   - firewall:  a frame counted FW_ALLOW (a new connection) is one the
 *                reference classifier allows on its parsed tuple, and the
 *                rule that matched (its counter) is the reference's; a frame
 *                the reference drops or rejects is not passed; IPv4 that is
 *                not valid for the firewall is dropped with a drop reason;
 *                with conntrack (stateful part) every ESTABLISHED/REPLY/
 *                RELATED pass belongs to a connection a FW_ALLOW opened and
 *                the current rule set still allows
 *   - checksum:  every frame a program rewrites and hands on (routed, echo
 *                reply, ICMP error, RST, port unreachable) has a valid IPv4
 *                header checksum and L4 checksum (recomputed from the output
 *                bytes; an update in place keeps a valid checksum valid)
 *   - rewrite:   fields a program must not change (addresses, options,
 *                payload) are unchanged; frames passed on are byte for byte
 *   - length:    output IPv4 has IHL >= 5 and a total length within the frame
 *   - neighbours: after each router part, the router's learned (vnf_neigh)
 *                and pending (vnf_neigh_pend) tables hold exactly the model's
 *                entries, with their state, MAC, probe count and port
 * Counters are read per frame for what the model predicts plus a watch set;
 * at the end of each part every counter of every VNF is read and must equal
 * the sum of what was read per frame (nothing was counted unseen).
 *
 * The router's neighbour state machine and ICMP rate limit run on clocks: the
 * test writes settings (vnf_router_cfg) whose timers are 0 (always elapsed)
 * or an hour (never, within a run), which the model follows exactly — two
 * sets, one per router part (SETTINGS_A, SETTINGS_B), so that every state and
 * transition is reached: INCOMPLETE with requests, FAILED with host
 * unreachable, a new resolution, a pending next hop dropping, REACHABLE,
 * STALE after a gratuitous ARP with unicast probes, re-resolution after
 * unanswered probes, and ICMP errors beyond a host's burst held back.
 *
 * Seeded and reproducible: VNF_FUZZ_SEED=<n> (default 20261108), and
 * VNF_FUZZ_SCALE=<x> multiplies the frame counts. Each frame has its own PRNG
 * from (seed, stream, index): a failure names them and shows the frame in hex.
 * VNF_FUZZ_TRACE=1 reads every counter after every frame (slow; for pinning
 * down a total that does not add up to the frame that caused it).
 */
import t, { type Test } from 'tap';
import { existsSync } from 'node:fs';
import { release } from 'node:os';
import type { BpfMap } from '../../src/bpf/map.js';
import { skbContext } from '../../src/bpf/skb.js';
import { u32 } from '../../src/codec/struct.js';
import { BpfError } from '../../src/native/errors.js';
import type { NativeTestRunResult } from '../../src/native/binding.js';
import { portSrcKeyCodec, VNF_DIR_RX, VNF_DIR_TX, VNF_ID_DELIVER, VNF_PORT_F_SPOOFCHK } from '../../src/vnf/common/codec.js';
import { VNF_FDB_F_STATIC, VNF_ID_BRIDGE } from '../../src/vnf/bridge/codec.js';
import {
  neighCodec, neighKeyCodec, VNF_NEIGH_FAILED, VNF_NEIGH_INCOMPLETE, VNF_NEIGH_REACHABLE, VNF_NEIGH_STALE, VNF_ROUTE_F_CONNECTED, VNF_ROUTE_F_STATIC,
} from '../../src/vnf/router/codec.js';
import { ctKeyCodec } from '../../src/vnf/conntrack/codec.js';
import { compileRuleSet, type CompiledRuleSet } from '../../src/vnf/firewall/classifier.js';
import type { FirewallDirection, FirewallRule } from '../../src/vnf/firewall/model.js';
import type { FwPacket } from '../../src/vnf/firewall/packet.js';
import { referenceClassify } from '../../src/vnf/firewall/reference.js';
import { randomRules } from '../helpers/fw-gen.js';
import { createPorts, loadDataplane, type TestDataplane, type TestPort } from '../helpers/dataplane.js';
import { firewallLab, VNF_ID_FIREWALL, type FwLab } from '../helpers/firewall-dp.js';
import {
  BCAST_MAC, echo, ET, ethFrame, fuzzFrame, icmp, icmpError, ip, ipv4, mac, macStr, mix, mutate, P, Rng, streamId, tcp,
  TCPF, udp, type Endpoint, type Scene,
} from '../helpers/fuzz-frames.js';
import {
  BRIDGE, CORE, DpModel, Expect, FW, fwParse, FwKind, fwPacketOf, fwStateless, IDENTITY_DROPS, identityDrop, idx, LONG_MS, REASONS_OF,
  referenceFor, refusedByTestRun, ROUTER, TC, TC_NAME, type FwParsed, type FwPrediction, type PortCfg, type RouterSettings,
} from '../helpers/fuzz-model.js';
import { checkOutput } from '../helpers/fuzz-check.js';
import { requirePrivileges } from '../helpers/privilege.js';

const SEED = process.env.VNF_FUZZ_SEED ? Number(process.env.VNF_FUZZ_SEED) >>> 0 : 20261108;
const SCALE = process.env.VNF_FUZZ_SCALE ? Number(process.env.VNF_FUZZ_SCALE) : 1;
const TRACE = process.env.VNF_FUZZ_TRACE === '1';
const n = (x: number): number => Math.max(1, Math.round(x * SCALE));
/** Coverage thresholds shrink with a smaller scale. */
const MIN = Math.min(1, SCALE);

const CATEGORIES = ['test-run', 'retval', 'model', 'identity', 'firewall', 'checksum', 'rewrite', 'length', 'state'] as const;
type Category = (typeof CATEGORIES)[number];

/* ---- counters ------------------------------------------------------------ */

const ALL_IDX: number[] = Object.entries(REASONS_OF).flatMap(([v, rs]) => rs.map((r) => idx(Number(v), r)));
const IDX_NAME = new Map<number, string>();
for (const [v, rs] of Object.entries(REASONS_OF)) for (const r of rs) IDX_NAME.set(idx(Number(v), r), `${({ 1: 'core', 2: 'bridge', 3: 'router', 4: 'firewall' } as Record<string, string>)[v]}:${r}`);
const nameOf = (i: number): string => IDX_NAME.get(i) ?? `#${i}`;

/** Packets of a per-CPU counter map value, summed over CPUs. */
function sumPackets(m: BpfMap, v: Buffer | null): number {
  if (!v) return 0;
  let s = 0;
  for (const c of m.splitPerCpu(v)) s += Number(c.readBigUInt64LE(0));
  return s;
}

/** vnf_stats read by index: deltas since the last read of each index, and what was seen in total. */
class Stats {
  private readonly last = new Map<number, number>();
  readonly seen = new Map<number, number>();
  private readonly key = Buffer.alloc(4);
  constructor(private readonly m: BpfMap) {
    for (const i of ALL_IDX) this.last.set(i, this.read(i));
  }
  private read(i: number): number {
    this.key.writeUInt32LE(i);
    return sumPackets(this.m, this.m.lookup(this.key));
  }
  delta(indices: Iterable<number>): Map<number, number> {
    const d = new Map<number, number>();
    for (const i of indices) {
      if (d.has(i)) continue;
      const v = this.read(i);
      const x = v - (this.last.get(i) ?? 0);
      this.last.set(i, v);
      d.set(i, x);
      if (x) this.seen.set(i, (this.seen.get(i) ?? 0) + x);
    }
    return d;
  }
  /** Counts no per-frame read saw (should be none). */
  unseen(): string[] {
    const d = this.delta(ALL_IDX);
    return [...d].filter(([, x]) => x !== 0).map(([i, x]) => `${nameOf(i)} +${x}`);
  }
}

/* ---- findings and tallies ------------------------------------------------ */

class Findings {
  readonly by = new Map<Category, string[]>();
  readonly count = new Map<Category, number>();
  add(cat: Category, msg: string): void {
    this.count.set(cat, (this.count.get(cat) ?? 0) + 1);
    const l = this.by.get(cat) ?? [];
    if (l.length < 5) l.push(msg);
    this.by.set(cat, l);
  }
  assert(t: Test, what: string): void {
    for (const c of CATEGORIES) {
      const k = this.count.get(c) ?? 0;
      t.equal(k, 0, `${what}: ${c} invariant holds for every frame`, k ? { diagnostic: true, first: this.by.get(c) } : {});
    }
  }
}

class Tally {
  frames = 0;
  refused = 0;
  readonly retval = new Map<number, number>();
  readonly reasons = new Map<number, number>();
  /** Rewritten frames checked, by kind. */
  readonly rewritten = new Map<string, number>();
  constructor(readonly name: string) {}
  bump<K>(m: Map<K, number>, k: K, by = 1): void {
    m.set(k, (m.get(k) ?? 0) + by);
  }
  text(): string {
    const rv = [...this.retval].sort().map(([k, v]) => `${TC_NAME[k] ?? k} ${v}`).join(', ');
    const per: Record<string, string[]> = {};
    for (const [i, v] of [...this.reasons].sort((a, b) => a[0] - b[0])) {
      const vnf = nameOf(i).split(':', 1)[0]!;
      (per[vnf] ??= []).push(`${nameOf(i).slice(vnf.length + 1)} ${v}`);
    }
    const rw = [...this.rewritten].map(([k, v]) => `${k} ${v}`).join(', ');
    return `${this.name}: ${this.frames} frames (${this.refused} refused by BPF_PROG_TEST_RUN before running); verdicts ${rv}` +
      Object.entries(per).map(([vnf, rs]) => `\n  ${vnf}: ${rs.join(', ')}`).join('') + (rw ? `\n  rewritten frames checked: ${rw}` : '');
  }
}

/** What the run saw of one frame, for the checks. */
interface Ran {
  res: NativeTestRunResult;
  d: Map<number, number>;
}

interface Ctx {
  stats: Stats;
  find: Findings;
  tally: Tally;
  watch: number[];
}

const where = (stream: string, i: number, what: string, frame: Buffer): string =>
  `${stream} #${i} (VNF_FUZZ_SEED=${SEED}) ${what}\n    frame ${frame.toString('hex')}`;

/**
 * Runs one frame and checks what does not depend on the lab: the test run
 * itself, the verdict, the counters against the model, the output. Returns
 * the result and counter deltas (null when the run was refused or failed).
 */
function runFrame(c: Ctx, stream: string, i: number, what: string, frame: Buffer, e: Expect, run: () => NativeTestRunResult, extra: readonly number[] = []): Ran | null {
  const at = (): string => where(stream, i, what, frame);
  c.tally.frames++;
  let res: NativeTestRunResult;
  try {
    res = run();
  } catch (err) {
    const einval = err instanceof BpfError && err.code === 'EINVAL';
    if (e.refused && einval) {
      c.tally.refused++;
      return null;
    }
    c.find.add('test-run', `${at()}: test run failed: ${(err as Error).message}`);
    return null;
  }
  if (e.refused) {
    c.find.add('test-run', `${at()}: BPF_PROG_TEST_RUN was expected to refuse this frame, it ran (verdict ${res.retval})`);
    return null;
  }
  c.tally.bump(c.tally.retval, res.retval);
  if (res.retval !== TC.OK && res.retval !== TC.SHOT && res.retval !== TC.REDIRECT) {
    c.find.add('retval', `${at()}: verdict ${res.retval} is not TC_ACT_OK/SHOT/REDIRECT`);
  }
  const read = new Set<number>([...e.counts.keys(), ...e.observe, ...c.watch, ...extra]);
  const d = c.stats.delta(TRACE ? ALL_IDX : read);
  for (const [k, v] of d) if (v) c.tally.bump(c.tally.reasons, k, v);
  const diffs: string[] = [];
  for (const k of read) {
    if (e.observe.has(k)) continue;
    const got = d.get(k) ?? 0;
    const want = e.counts.get(k) ?? 0;
    if (got !== want) diffs.push(`${nameOf(k)} ${got} (want ${want})`);
  }
  if (TRACE) for (const [k, v] of d) if (v && !read.has(k)) diffs.push(`${nameOf(k)} ${v} (want 0)`);
  if (!e.observed && res.retval !== e.retval) diffs.push(`verdict ${TC_NAME[res.retval] ?? res.retval} (want ${TC_NAME[e.retval]})`);
  if (diffs.length) {
    // Whatever else this frame counted (unread so far) is its own: read it now, so no later frame is blamed for it.
    const rest = c.stats.delta(ALL_IDX);
    const also = [...rest].filter(([k, v]) => v && !read.has(k)).map(([k, v]) => `${nameOf(k)} +${v}`);
    for (const [k, v] of rest) if (v) d.set(k, (d.get(k) ?? 0) + v);
    c.find.add('model', `${at()}: ${diffs.join(', ')}${also.length ? `; also counted ${also.join(' ')}` : ''}; the model's path: ${e.path.join(' ')}`);
  }
  if (!e.observed) {
    for (const p of checkOutput(frame, res.data, e.out)) c.find.add(p.kind, `${at()}: ${e.out.kind}: ${p.msg}\n    output ${res.data.toString('hex')}`);
    if (e.out.kind !== 'same' && e.out.kind !== 'observe') c.tally.bump(c.tally.rewritten, e.out.kind);
  }
  return { res, d };
}

/**
 * What the identity invariant reads for a frame from `port`: nothing more for
 * a frame the port may send; for one it may not, every identity drop reason
 * and the first verdicts of the VNFs after the entry program.
 */
function identityReads(frame: Buffer, port: PortCfg): number[] {
  if (refusedByTestRun(frame) || !identityDrop(frame, port)) return [];
  return [...IDENTITY_DROPS.map((r) => idx(CORE, r)), ...['forward', 'flood', 'to-router', 'drop:hairpin'].map((r) => idx(BRIDGE, r)), idx(FW, 'pass'), idx(FW, 'drop:policy')];
}

/** The identity invariant: a frame the port may not send stops at vnf_entry_in, under an identity reason. */
function checkIdentity(c: Ctx, stream: string, i: number, what: string, frame: Buffer, port: PortCfg, r: Ran): void {
  const why = identityDrop(frame, port);
  if (!why) return;
  const dropped = IDENTITY_DROPS.reduce((s, x) => s + (r.d.get(idx(CORE, x)) ?? 0), 0);
  const later = [...r.d].filter(([k, v]) => v && Math.floor(k / 128) !== CORE).map(([k, v]) => `${nameOf(k)} +${v}`);
  if ((r.d.get(idx(CORE, 'pass')) ?? 0) !== 0 || dropped !== 1 || r.res.retval !== TC.SHOT || later.length) {
    c.find.add('identity', `${where(stream, i, what, frame)}: not the port's (${why}) but: verdict ${r.res.retval}, ` +
      `core pass ${r.d.get(idx(CORE, 'pass')) ?? 0}, identity drops ${dropped}${later.length ? `, then ${later.join(' ')}` : ''}`);
  }
}

/** Reports a lab's tallies and checks that nothing was counted outside the per-frame reads. */
function finish(t: Test, stats: Stats, find: Findings, tallies: Tally[], what: string): void {
  for (const tl of tallies) t.comment(tl.text());
  const unseen = stats.unseen();
  t.same(unseen, [], `${what}: every count was seen by a per-frame read (the totals add up)`);
  find.assert(t, what);
}

/* ---- the router lab: entry -> bridge -> router -> bridge -> DELIVER ---------- */

const R1 = mac('02:00:00:00:01:01');
const R2 = mac('02:00:00:00:02:01');
const R4 = mac('02:00:00:00:04:01');

/**
 * Router settings the model can follow (timers of 0 or LONG_MS: see
 * fuzz-model.ts). Part 1: neighbours never age, and every packet to an
 * unresolved or stale next hop finds the retransmit time elapsed: a STALE
 * neighbour is probed twice and then resolved anew, an unresolved one gets two
 * broadcast requests and then FAILS (ICMP host unreachable), and FAILED ends
 * at once (the next packet starts a new resolution); no ICMP rate limit.
 * Part 3: the opposite — nothing confirmed from now on stays REACHABLE (one
 * probe each), the retransmit and failed times never end (a pending next hop
 * drops its packets, a failed one answers every packet with host
 * unreachable), and each host gets one burst of ICMP errors (VNF_ICMP_BURST),
 * then none.
 */
const SETTINGS_A: RouterSettings = { reachableMs: 86_400_000, retransMs: 0, failedMs: 0, ucastProbes: 2, mcastProbes: 2, icmpRatelimitMs: 0 };
const SETTINGS_B: RouterSettings = { reachableMs: 0, retransMs: LONG_MS, failedMs: LONG_MS, ucastProbes: 3, mcastProbes: 3, icmpRatelimitMs: LONG_MS };

function applySettings(dp: TestDataplane, model: DpModel, s: RouterSettings): void {
  dp.setRouterCfg({ reachable_ms: s.reachableMs, retrans_ms: s.retransMs, failed_ms: s.failedMs, ucast_probes: s.ucastProbes, mcast_probes: s.mcastProbes, icmp_ratelimit_ms: s.icmpRatelimitMs });
  model.cfg = { ...s };
}

const NEIGH_STATE: Record<string, number> = { reachable: VNF_NEIGH_REACHABLE, stale: VNF_NEIGH_STALE, incomplete: VNF_NEIGH_INCOMPLETE, failed: VNF_NEIGH_FAILED };

/**
 * The router's neighbour tables against the model's: every learned
 * (vnf_neigh) and pending (vnf_neigh_pend) entry with its state, MAC, probes
 * and port, none more, none fewer. Returns the differences.
 */
function neighDiff(dp: TestDataplane, model: DpModel): string[] {
  const out: string[] = [];
  const key = (k: Buffer): string => {
    const d = neighKeyCodec.decode(k);
    return DpModel.neighKey(d.network, d.ip);
  };
  const tables = [
    ['vnf_neigh', model.learnedNeigh as Map<string, { state: string; probes: number; mac?: Buffer; ifindex?: number }>],
    ['vnf_neigh_pend', model.pendingNeigh as Map<string, { state: string; probes: number; mac?: Buffer; ifindex?: number }>],
  ] as const;
  for (const [name, want] of tables) {
    const got = new Map(dp.map(name).entries().map(([k, v]) => [key(k), neighCodec.decode(v)]));
    for (const [k, w] of want) {
      const g = got.get(k);
      if (!g) {
        out.push(`${name} ${k}: missing (model: ${w.state}, ${w.probes} probes)`);
        continue;
      }
      const wm = w.mac ? macStr(w.mac) : '00:00:00:00:00:00';
      const gotS = `${g.state}/${g.mac}/${g.probes}/${g.ifindex}`;
      const wantS = `${NEIGH_STATE[w.state]}/${wm}/${w.probes}/${w.ifindex ?? 0}`;
      if (gotS !== wantS) out.push(`${name} ${k}: state/mac/probes/port ${gotS}, model ${wantS}`);
    }
    for (const k of got.keys()) if (!want.has(k)) out.push(`${name} ${k}: not in the model`);
  }
  return out;
}

interface RouterLab {
  dp: TestDataplane;
  model: DpModel;
  ports: TestPort[];
  cfg: PortCfg[];
  scenes: Scene[];
}

/**
 * Router 1 with a port on network 1 (10.1.0.1/24) and network 2 (10.2.0.1/24);
 * network 3 has no router port; router 2 has one on network 4 (10.4.0.1/24).
 * Ports (identity enforced, as the control plane sets it): p0 10.1.0.10, p1
 * 10.1.0.11 (may also send from 10.7.0.0/16), p2 10.1.0.12 (MAC unknown: the
 * bridge learns it, the router learns its neighbour from ARP), p3 10.2.0.20,
 * p4 10.2.0.21 (a gateway: 10.9.0.0/16 behind it), p5 10.4.0.10. Routes of
 * router 1: both connected networks, 10.9.0.0/16 via p4, 10.3.0.0/16 into
 * network 3 (no port of this router there), default via 10.2.0.99 (never
 * answers ARP). Router 2: its connected network and 10.1.0.0/16 into network
 * 1 (router 1's), nothing else (net unreachable). Static FDB entries and
 * neighbours for every port but p2.
 */
async function routerLab(t: Test): Promise<RouterLab> {
  const dp = await loadDataplane(t, ['entry', 'bridge', 'router']);
  const ports = createPorts(t, 6);
  const model = new DpModel();
  const chainIn = dp.addChain([VNF_ID_BRIDGE]);
  const chainOut = dp.addChain([VNF_ID_DELIVER]);
  const defs: Array<{ net: number; mac: string | null; ip: string; allowed?: [string, number] }> = [
    { net: 1, mac: '02:00:00:01:00:0a', ip: '10.1.0.10' },
    { net: 1, mac: '02:00:00:01:00:0b', ip: '10.1.0.11', allowed: ['10.7.0.0', 16] },
    { net: 1, mac: null, ip: '10.1.0.12' },
    { net: 2, mac: '02:00:00:02:00:14', ip: '10.2.0.20' },
    { net: 2, mac: '02:00:00:02:00:15', ip: '10.2.0.21', allowed: ['10.9.0.0', 16] },
    { net: 4, mac: '02:00:00:04:00:0a', ip: '10.4.0.10' },
  ];
  const cfg: PortCfg[] = defs.map((d, k) => ({
    ifindex: ports[k]!.ifindex, network: d.net, mac: d.mac ? mac(d.mac) : null, ip: ip(d.ip), spoofchk: true,
    allowed: d.allowed ? [[ip(d.allowed[0]), d.allowed[1]]] : [], chainIn: ['bridge'], chainOut: ['deliver'],
  }));
  cfg.forEach((p, k) => {
    const d = defs[k]!;
    dp.setPort(p.ifindex, { network: p.network, chain_in: chainIn, chain_out: chainOut, flags: VNF_PORT_F_SPOOFCHK, ip: p.ip, mac: d.mac ?? '00:00:00:00:00:00', prefix: 24 });
    if (d.allowed) dp.map('vnf_port_src').update(portSrcKeyCodec.encode({ prefixlen: 32 + d.allowed[1], ifindex: p.ifindex, addr: ip(d.allowed[0]) }), u32(1));
    if (p.mac) {
      dp.setFdb(p.network, d.mac!, { ifindex: p.ifindex, flags: VNF_FDB_F_STATIC });
      model.staticFdb.set(DpModel.fdbKey(p.network, p.mac), p.ifindex);
      dp.setNeigh(p.network, p.ip, { mac: d.mac! });
      model.staticNeigh.set(DpModel.neighKey(p.network, p.ip), p.mac);
    }
    model.ports.set(p.ifindex, p);
  });
  dp.setNetwork(1, { router_id: 1, router_ip: ip('10.1.0.1'), router_mac: macStr(R1), router_prefix: 24, ports: cfg.filter((p) => p.network === 1).map((p) => p.ifindex) });
  dp.setNetwork(2, { router_id: 1, router_ip: ip('10.2.0.1'), router_mac: macStr(R2), router_prefix: 24, ports: cfg.filter((p) => p.network === 2).map((p) => p.ifindex) });
  dp.setNetwork(3, { router_id: 0 });
  // libbpf reads CONFIG_HZ from one of these (the programs' __kconfig).
  model.hzKnown = existsSync('/proc/config.gz') || existsSync(`/boot/config-${release()}`);
  dp.setNetwork(4, { router_id: 2, router_ip: ip('10.4.0.1'), router_mac: macStr(R4), router_prefix: 24, ports: cfg.filter((p) => p.network === 4).map((p) => p.ifindex) });
  applySettings(dp, model, SETTINGS_A);
  model.nets.set(1, { id: 1, routerId: 1, routerIp: ip('10.1.0.1'), routerMac: R1, routerPrefix: 24 });
  model.nets.set(2, { id: 2, routerId: 1, routerIp: ip('10.2.0.1'), routerMac: R2, routerPrefix: 24 });
  model.nets.set(3, { id: 3, routerId: 0, routerIp: 0, routerMac: Buffer.alloc(6), routerPrefix: 0 });
  model.nets.set(4, { id: 4, routerId: 2, routerIp: ip('10.4.0.1'), routerMac: R4, routerPrefix: 24 });
  const routes: Array<[number, string, number, number, string, boolean]> = [
    [1, '10.1.0.0', 24, 1, '0.0.0.0', true],
    [1, '10.2.0.0', 24, 2, '0.0.0.0', true],
    [1, '10.9.0.0', 16, 2, '10.2.0.21', false],
    [1, '10.3.0.0', 16, 3, '0.0.0.0', false],
    [1, '0.0.0.0', 0, 2, '10.2.0.99', false],
    // Router 2 knows only its own subnet: anything else is ICMP net unreachable; 10.1/16 is router 1's network.
    [2, '10.4.0.0', 24, 4, '0.0.0.0', true],
    [2, '10.1.0.0', 16, 1, '0.0.0.0', false],
  ];
  for (const [rid, a, l, net, nh, conn] of routes) {
    dp.setRoute(rid, ip(a), l, { network: net, nexthop: ip(nh), flags: conn ? VNF_ROUTE_F_CONNECTED : VNF_ROUTE_F_STATIC });
    model.routes.push({ routerId: rid, addr: ip(a), plen: l, network: net, nexthop: ip(nh), connected: conn });
  }
  // What each port's container may try to send as and to.
  const p2mac = mac('02:00:00:01:00:0c');
  const self = (k: number): Endpoint => ({ mac: cfg[k]!.mac ?? p2mac, ip: cfg[k]!.ip });
  const others = [0, 1, 2, 3, 4, 5].map(self);
  const dstIps = ['10.1.0.10', '10.1.0.11', '10.1.0.12', '10.1.0.77', '10.1.0.255', '10.1.0.1', '10.2.0.20', '10.2.0.21', '10.2.0.99', '10.2.0.255',
    '10.2.0.1', '10.9.3.4', '10.9.255.255', '10.3.0.5', '10.4.0.10', '10.4.0.1', '10.4.0.66', '8.8.8.8', '192.0.2.1', '224.0.0.5', '255.255.255.255', '0.0.0.0', '127.0.0.1'].map(ip);
  const srcIps = ['10.7.1.2', '10.7.255.255', '10.9.3.4', '10.1.0.10', '10.1.0.11', '10.1.0.12', '10.2.0.20', '10.2.0.21', '10.1.0.1', '192.0.2.7', '10.1.0.0'].map(ip);
  const macs = [...others.map((e) => e.mac), R1, R2, R4, mac('02:00:00:01:00:99'), mac('02:aa:00:00:00:01')];
  const scenes = [0, 1, 2, 3, 4, 5].map((k): Scene => {
    const net = cfg[k]!.network;
    const peers = [0, 1, 2, 3, 4, 5].filter((j) => j !== k && cfg[j]!.network === net).map(self);
    const n = model.nets.get(net)!;
    const router = { mac: n.routerMac, ip: n.routerIp };
    const srcMacs = k === 2 ? [...macs, mac('02:00:00:01:00:0d'), mac('02:00:00:01:00:0e'), mac('06:11:22:33:44:55'), mac('01:00:5e:00:00:01')] : macs;
    return { self: self(k), peers, router, srcIps, dstIps, srcMacs, dstMacs: macs };
  });
  return { dp, model, ports, cfg, scenes };
}

/* ---- the firewall lab ----------------------------------------------------- */

const DEFAULT_COUNTER = 0x7ffffff0;
const counterOf = (k: number, rule: number): number => (rule >= 0 ? k * 1_000_000 + rule + 1 : DEFAULT_COUNTER + k);

/** A compiled set with a counter per rule (and the default) of its own. */
function uniqueCounters(c: CompiledRuleSet, k: number): CompiledRuleSet {
  return { ...c, rules: c.rules.map((r) => ({ ...r, counter: counterOf(k, r.index) })), set: { ...c.set, default_counter: counterOf(k, -1) }, defaultCounter: counterOf(k, -1) };
}

/** Per-rule counters (vnf_fw_stats) by id: deltas since the last read. */
class RuleCounters {
  private readonly last = new Map<number, number>();
  constructor(private readonly m: BpfMap) {}
  delta(id: number): number {
    const v = sumPackets(this.m, this.m.lookup(u32(id)));
    const d = v - (this.last.get(id) ?? 0);
    this.last.set(id, v);
    return d;
  }
}

/** A classifier packet for `rules`: half drawn from a rule's shape (so rules match), half anywhere in 10.0.0.0/14. */
function packetFor(rng: Rng, rules: FirewallRule[]): FwPacket {
  const rand = (): number => (0x0a000000 | rng.int(0x40000)) >>> 0;
  const base = rules.length && rng.bool(0.6) ? rng.pick(rules) : undefined;
  const within = (p: { addr: number; prefix: number }): number => (p.prefix === 0 ? rand() : (p.addr | rng.int(2 ** (32 - p.prefix))) >>> 0);
  const protoName = base && base.proto !== 'any' ? base.proto : rng.pick(['tcp', 'tcp', 'udp', 'icmp', 'other'] as const);
  const proto = protoName === 'tcp' ? P.TCP : protoName === 'udp' ? P.UDP : protoName === 'icmp' ? P.ICMP : rng.pick([P.GRE, P.SCTP]);
  const inRange = (rs: Array<[number, number]> | undefined): number => {
    if (rs && rng.bool(0.8)) {
      const [lo, hi] = rng.pick(rs);
      return rng.bool(0.3) ? rng.pick([lo, hi]) : rng.range(lo, hi);
    }
    return rng.bool(0.5) ? rng.pick([22, 53, 80, 443, 8080]) : rng.int(65536);
  };
  let sport = 0;
  let dport = 0;
  if (proto === P.TCP || proto === P.UDP) {
    sport = inRange(base?.sports);
    dport = inRange(base?.dports);
  } else if (proto === P.ICMP) dport = base?.icmpType ?? rng.pick([8, 8, 0, 3, 11, 13, 5]);
  return { proto, saddr: base && rng.bool(0.9) ? within(base.src) : rand(), daddr: base && rng.bool(0.9) ? within(base.dst) : rand(), sport, dport };
}

/** An address moved into a /15 half of 10.0.0.0/14 (bit 17 set or cleared). */
const intoHalf = (a: number, half: 0 | 1): number => (half ? (a | 0x20000) : (a & ~0x20000)) >>> 0;

/** A frame carrying the classifier packet `p` (TCP mostly a SYN; sometimes options, fragments, other flags). */
function frameFor(rng: Rng, p: FwPacket, src: Buffer, dst: Buffer): { frame: Buffer; what: string } {
  const data = rng.bool(0.3) ? rng.bytes(rng.range(1, 64)) : Buffer.alloc(0);
  let l4: Buffer;
  let what: string;
  if (p.proto === P.TCP) {
    const flags = rng.weighted<number>([[12, TCPF.SYN], [2, TCPF.SYN | TCPF.ECE | TCPF.CWR], [1, TCPF.SYN | TCPF.PSH | TCPF.URG], [1, TCPF.ACK], [1, TCPF.SYN | TCPF.ACK], [1, TCPF.RST], [1, TCPF.FIN], [1, 0]]);
    l4 = tcp(p.saddr, p.daddr, { sport: p.sport, dport: p.dport, flags, seq: rng.u32(), ack: rng.u32(), options: rng.bool(0.4) ? Buffer.from([2, 4, 5, 180, 1, 3, 3, 7]) : undefined, data });
    what = `tcp ${p.sport}>${p.dport} flags 0x${flags.toString(16)}`;
  } else if (p.proto === P.UDP) {
    l4 = udp(p.saddr, p.daddr, p.sport, p.dport, data);
    what = `udp ${p.sport}>${p.dport}`;
  } else if (p.proto === P.ICMP) {
    const type = p.dport;
    if (type === 8 || type === 0) l4 = echo(type, rng.int(65536), rng.int(65536), data);
    else if ([3, 4, 5, 11, 12].includes(type)) {
      const inner = ipv4({ src: p.daddr, dst: p.saddr, proto: P.UDP, id: rng.int(65536) }, udp(p.daddr, p.saddr, rng.range(1024, 65535), 53, Buffer.alloc(8)));
      l4 = icmpError(type, rng.int(4), inner);
    } else l4 = icmp(type, 0, rng.bytes(4), data);
    what = `icmp type ${type}`;
  } else {
    l4 = rng.bytes(rng.range(8, 40));
    what = `proto ${p.proto}`;
  }
  let frag = 0x4000;
  let payload = l4;
  if (rng.bool(0.1)) {
    const k = rng.pick(['first', 'middle', 'last'] as const);
    if (k === 'first') {
      frag = 0x2000;
      payload = l4.subarray(0, Math.max(8, Math.min(l4.length, 24)));
    } else {
      frag = (k === 'middle' ? 0x2000 : 0) | rng.range(2, 200);
      payload = rng.bytes(rng.pick([8, 16, 24]));
    }
    what += ` fragment ${k}`;
  }
  const options = rng.bool(0.08) ? Buffer.from([148, 4, 0, 0, 1, 1, 1, 0]) : undefined;
  return { frame: ethFrame(dst, src, ET.IP, ipv4({ src: p.saddr, dst: p.daddr, proto: p.proto, id: rng.int(65536), frag, options }, payload)), what };
}

interface FirewallLabX {
  l: FwLab;
  model: DpModel;
  A: PortCfg;
  B: PortCfg;
  /** Current policy per direction of A, and its counter pass. */
  policy: Record<number, { d: FirewallDirection; k: number }>;
  /** The firewall hook's last prediction (stateless mode). */
  last: { pred: FwPrediction; dir: number } | null;
  stateful: boolean;
  bindPolicy(dir: number, d: FirewallDirection, k: number): void;
  sceneA: Scene;
  sceneB: Scene;
}

/**
 * Network 1 with two ports, identity enforced. A (10.0.0.1, may send from
 * 10.0.0.0/15) runs the firewall in both chains ([firewall, bridge] and
 * [firewall, deliver]) with random rule sets (fw-gen, as firewall-diff
 * does) in both directions; B (10.2.0.2, may send from 10.2.0.0/15) has no
 * firewall: every frame crosses exactly one firewall, A's egress policy
 * (VNF_DIR_RX) from A, its ingress policy (VNF_DIR_TX) from B.
 */
async function firewallLabX(t: Test, seed: number): Promise<FirewallLabX> {
  const l = await firewallLab(t, 2);
  const [pa, pb] = l.ports as unknown as [TestPort & { mac: string }, TestPort & { mac: string }];
  const dp = l.dp;
  const model = new DpModel();
  const A: PortCfg = { ifindex: pa.ifindex, network: 1, mac: mac(pa.mac), ip: ip('10.0.0.1'), spoofchk: true, allowed: [[ip('10.0.0.0'), 15]], chainIn: ['fw', 'bridge'], chainOut: ['fw', 'deliver'] };
  const B: PortCfg = { ifindex: pb.ifindex, network: 1, mac: mac(pb.mac), ip: ip('10.2.0.2'), spoofchk: true, allowed: [[ip('10.2.0.0'), 15]], chainIn: ['bridge'], chainOut: ['deliver'] };
  dp.setPort(A.ifindex, { network: 1, chain_in: dp.addChain([VNF_ID_FIREWALL, VNF_ID_BRIDGE]), chain_out: dp.addChain([VNF_ID_FIREWALL, VNF_ID_DELIVER]), flags: VNF_PORT_F_SPOOFCHK, ip: A.ip, mac: pa.mac, prefix: 24 });
  dp.setPort(B.ifindex, { network: 1, chain_in: dp.addChain([VNF_ID_BRIDGE]), chain_out: dp.addChain([VNF_ID_DELIVER]), flags: VNF_PORT_F_SPOOFCHK, ip: B.ip, mac: pb.mac, prefix: 24 });
  for (const p of [A, B]) {
    dp.map('vnf_port_src').update(portSrcKeyCodec.encode({ prefixlen: 32 + p.allowed[0]![1], ifindex: p.ifindex, addr: p.allowed[0]![0] }), u32(1));
    model.ports.set(p.ifindex, p);
    model.staticFdb.set(DpModel.fdbKey(1, p.mac!), p.ifindex);
  }
  model.nets.set(1, { id: 1, routerId: 0, routerIp: 0, routerMac: Buffer.alloc(6), routerPrefix: 0 });
  const x: FirewallLabX = {
    l, model, A, B, policy: {}, last: null, stateful: false,
    bindPolicy(dir, d, k) {
      const c = uniqueCounters(compileRuleSet(`fuzz${k}`, dir === VNF_DIR_RX ? 'egress' : 'ingress', d), k);
      l.writeRuleSet(c);
      l.bindId(pa as never, dir, c.id);
      x.policy[dir] = { d, k };
    },
    sceneA: null as unknown as Scene,
    sceneB: null as unknown as Scene,
  };
  const rng = new Rng(mix(seed, streamId('policies')));
  // Without broad rules (a /0 or /8 source to a /0 destination decides most
  // packets, as firewall-diff notes): rules and the default all decide some.
  const randomPolicy = (s: number): FirewallDirection => ({
    default: rng.pick(['allow', 'drop'] as const),
    rules: randomRules(400, s).filter((r) => r.src.prefix + r.dst.prefix >= 24).slice(0, 40)
      .map((r, index) => ({ ...r, index, action: rng.weighted<'allow' | 'drop' | 'reject'>([[4, 'allow'], [3, 'drop'], [3, 'reject']]) })),
  });
  x.bindPolicy(VNF_DIR_RX, randomPolicy(mix(seed, 1)), 1);
  x.bindPolicy(VNF_DIR_TX, randomPolicy(mix(seed, 2)), 2);
  model.fw = (f, point, dir, hook) => {
    if (point !== A.ifindex) throw new Error('only A has a firewall');
    if (x.stateful) return { action: 'observe' };
    const pred = fwStateless(f, x.policy[dir]!.d, hook);
    x.last = { pred, dir };
    return pred.decision;
  };
  const others = ['10.1.2.3', '10.3.4.5', '10.0.0.1', '10.2.0.2', '192.0.2.1', '0.0.0.0'].map(ip);
  const macs = [A.mac!, B.mac!, BCAST_MAC, mac('02:00:00:00:00:99')];
  x.sceneA = { self: { mac: A.mac!, ip: A.ip }, peers: [{ mac: B.mac!, ip: B.ip }], srcIps: others, dstIps: others, srcMacs: macs, dstMacs: macs };
  x.sceneB = { self: { mac: B.mac!, ip: B.ip }, peers: [{ mac: A.mac!, ip: A.ip }], srcIps: others, dstIps: others, srcMacs: macs, dstMacs: macs };
  return x;
}

const FW_PASSES = ['fw-allow', 'fw-established', 'fw-reply', 'fw-related', 'fw-not-ip'];
const fwd = (d: Map<number, number>, r: string): number => d.get(idx(FW, r)) ?? 0;

/** The conntrack key of a parsed frame as the firewall keys it (zone, tuple in the packet's direction). */
function ctKeyOf(zone: number, p: { saddr: number; daddr: number; proto: number; kind: number; sport: number; dport: number }): Buffer {
  const ports = p.kind === FwKind.PORTS || p.kind === FwKind.ECHO_REQ || p.kind === FwKind.ECHO_REP;
  return ctKeyCodec.encode({ zone, saddr: p.saddr, daddr: p.daddr, sport: ports ? p.sport : 0, dport: ports ? p.dport : 0, proto: p.proto });
}

/** The key of vnf_fw_frags (kernel-only: struct fw_frag_key). */
function fragKey(zone: number, p: FwParsed): Buffer {
  const k = Buffer.alloc(16);
  k.writeUInt32LE(zone, 0);
  k.writeUInt32BE(p.saddr, 4);
  k.writeUInt32BE(p.daddr, 8);
  k.writeUInt16BE(p.ipId, 12);
  k[14] = p.proto;
  return k;
}

/* ---- the test ------------------------------------------------------------- */

if (requirePrivileges(t)) {
  t.comment(`seed ${SEED} (replay: VNF_FUZZ_SEED=${SEED} npx tap test/bpf/fuzz.test.ts), scale ${SCALE}`);
  const totals = { frames: 0, ran: 0 };
  const started = process.hrtime.bigint();

  t.test('entry, bridge, router: frames from identity-checked ports, the egress path, the router directly', async (t) => {
    const lab = await routerLab(t);
    const { dp, model, cfg, scenes } = lab;
    const stats = new Stats(dp.map('vnf_stats'));
    const find = new Findings();
    // Read after every frame besides what the model predicts (the totals at the end catch the rest).
    const watch = [idx(CORE, 'pass'), idx(CORE, 'deliver')];
    const tIn = new Tally('vnf_entry_in (identity -> bridge -> router -> bridge -> DELIVER)');
    const tOut = new Tally('vnf_entry_out (egress path -> DELIVER)');
    const tRt = new Tally('vnf_router run directly (as the bridge hands it frames)');
    const weights: Array<[number, number]> = [[30, 0], [20, 1], [20, 2], [20, 3], [10, 4], [6, 5]];

    // 1. From the containers, through vnf_entry_in.
    const ctxIn: Ctx = { stats, find, tally: tIn, watch };
    const N_IN = n(45_000);
    for (let i = 0; i < N_IN; i++) {
      const k = new Rng(mix(SEED, streamId('in-port'), i)).weighted(weights);
      const g = fuzzFrame(SEED, `in${k}`, i, scenes[k]!);
      const e = model.entryIn(g.frame, cfg[k]!.ifindex);
      const r = runFrame(ctxIn, 'in', i, `from p${k}: ${g.what}`, g.frame, e, () => dp.runFrom(cfg[k]!.ifindex, g.frame), identityReads(g.frame, cfg[k]!));
      if (r) checkIdentity(ctxIn, 'in', i, `from p${k}: ${g.what}`, g.frame, cfg[k]!, r);
    }

    // 2. Flooded copies at a port's egress (vnf_entry_out): only its container's MAC, broadcast and multicast go on.
    const ctxOut: Ctx = { stats, find, tally: tOut, watch: [idx(CORE, 'pass'), idx(CORE, 'deliver'), idx(CORE, 'drop:not-for-port')] };
    for (let i = 0; i < n(5_000); i++) {
      const rng = new Rng(mix(SEED, streamId('out-port'), i));
      const k = rng.int(6);
      const g = fuzzFrame(SEED, 'out', i, scenes[rng.int(6)]!);
      const e = model.entryOut(g.frame, cfg[k]!.ifindex);
      runFrame(ctxOut, 'out', i, `to p${k}: ${g.what}`, g.frame, e, () => dp.runEgress(cfg[k]!.ifindex, g.frame));
    }

    // The default route's next hop (never answers) driven to FAILED before the settings change: in part 3,
    // where FAILED never ends, every packet routed through it is answered with host unreachable.
    const dflt = DpModel.neighKey(2, ip('10.2.0.99'));
    for (let i = 0; i < 10 && model.pendingNeigh.get(dflt)?.state !== 'failed'; i++) {
      const rng = new Rng(mix(SEED, streamId('prime'), i));
      const f = ethFrame(R2, cfg[3]!.mac!, ET.IP, ipv4({ src: cfg[3]!.ip, dst: ip('192.0.2.1'), proto: P.UDP, id: rng.int(65536) }, udp(cfg[3]!.ip, ip('192.0.2.1'), 1024 + rng.int(60000), 53, rng.bytes(rng.int(40)))));
      const r = runFrame(ctxIn, 'prime', i, 'from p3: UDP by the default route', f, model.entryIn(f, cfg[3]!.ifindex), () => dp.runFrom(cfg[3]!.ifindex, f));
      if (r) checkIdentity(ctxIn, 'prime', i, 'from p3: UDP by the default route', f, cfg[3]!, r);
    }
    t.equal(model.pendingNeigh.get(dflt)?.state, 'failed', 'the default route\'s next hop has FAILED');
    t.same(neighDiff(dp, model), [], 'parts 1-2: the neighbour tables are the model\'s');

    // 3. The router directly, with any source (martians too): as the bridge of a network hands it a frame from a port.
    applySettings(dp, model, SETTINGS_B);
    const ctxRt: Ctx = { stats, find, tally: tRt, watch };
    const router = dp.program('vnf_router');
    for (let i = 0; i < n(20_000); i++) {
      const rng = new Rng(mix(SEED, streamId('rt-port'), i));
      const k = rng.pick([0, 0, 2, 3, 4, 5]);
      const net = rng.weighted<number>([[96, cfg[k]!.network], [2, 3], [2, 9]]);
      // Any source: the scene's sender with its identity loosened.
      const sc = scenes[k]!;
      const g = fuzzFrame(SEED, 'rt', i, { ...sc, srcIps: [...sc.srcIps, ip('127.0.0.1'), ip('0.0.0.0'), ip('224.0.0.1'), ip('240.0.0.1'), ip('172.16.0.1')] });
      const e = model.routerDirect(g.frame, cfg[k]!.ifindex, net);
      runFrame(ctxRt, 'rt', i, `p${k} net ${net}: ${g.what}`, g.frame, e,
        () => router.testRun({ data: g.frame, ctx: skbContext({ ifindex: cfg[k]!.ifindex, cb: [cfg[k]!.ifindex, 0, 0, net, 0] }) }));
    }
    t.same(neighDiff(dp, model), [], 'part 3: the neighbour tables are the model\'s');
    finish(t, stats, find, [tIn, tOut, tRt], 'entry/bridge/router');
    const states = (m: Map<string, { state: string }>): string => [...m.values()].map((v) => v.state).sort().join(' ');
    t.comment(`learned: ${model.learnedFdb.size} FDB entries; neighbours ${states(model.learnedNeigh) || 'none'}; pending ${states(model.pendingNeigh) || 'none'}`);
    for (const tl of [tIn, tOut, tRt]) {
      totals.frames += tl.frames;
      totals.ran += tl.frames - tl.refused;
    }
    const routed = (tIn.reasons.get(idx(ROUTER, 'routed')) ?? 0) + (tRt.reasons.get(idx(ROUTER, 'routed')) ?? 0);
    const errors = (tIn.reasons.get(idx(ROUTER, 'icmp-error')) ?? 0) + (tRt.reasons.get(idx(ROUTER, 'icmp-error')) ?? 0);
    t.ok(routed > 1000 * MIN && errors > 200 * MIN, `routing (${routed}) and ICMP errors (${errors}) were exercised`);
    // Every path of the router's state machines and answers was taken (at a scale that makes it likely).
    if (SCALE >= 0.5) {
      const seen = (tl: Tally, r: string): number => tl.reasons.get(idx(ROUTER, r)) ?? 0;
      const want: Array<[Tally, string[]]> = [
        [tIn, ['arp-request', 'arp-probe', 'neigh-update', 'drop:neigh-failed', 'tcp-reset', 'drop:no-socket', 'icmp-echo-reply', 'arp-reply', 'arp-learn', 'drop:martian', 'drop:ttl', 'drop:no-route', 'drop:no-network']],
        [tRt, ['arp-request', 'arp-probe', 'drop:neigh-pending', 'drop:neigh-failed', 'drop:icmp-ratelimit', 'icmp-error', 'tcp-reset', 'arp-learn']],
      ];
      for (const [tl, rs] of want) {
        const missing = rs.filter((r) => !seen(tl, r));
        t.same(missing, [], `${tl.name}: every router path counted at least once`);
      }
    }
  });

  t.test('firewall: new connections against the reference classifier (no state kept between frames)', async (t) => {
    const x = await firewallLabX(t, SEED);
    const { l, model, A, B } = x;
    const stats = new Stats(l.dp.map('vnf_stats'));
    const rules = new RuleCounters(l.dp.map('vnf_fw_stats'));
    const find = new Findings();
    // Every pass of the firewall is read (the firewall invariant is about them), whatever the model says.
    const watch = [idx(CORE, 'pass'), ...FW_PASSES.map((r) => idx(FW, r)), idx(FW, 'pass'), idx(FW, 'fw-reject-sent'), idx(FW, 'ct-new'), idx(FW, 'drop:malformed')];
    const ct = l.dp.map('vnf_ct');
    const frags = l.dp.map('vnf_fw_frags');
    const tallies = { a: new Tally('vnf_entry_in from A (firewall: A egress policy -> bridge -> DELIVER)'), b: new Tally('vnf_entry_in from B (bridge -> firewall: A ingress policy -> DELIVER)'), h: new Tally('vnf_entry_out at A (egress hook: firewall: A ingress policy -> DELIVER)') };
    const verdicts = { allow: 0, drop: 0, reject: 0, answered: 0, checkedRule: 0 };

    const one = (stream: 'a' | 'b' | 'h', i: number): void => {
      const rng = new Rng(mix(SEED, streamId(`fw-${stream}`), i));
      const dir = stream === 'a' ? VNF_DIR_RX : VNF_DIR_TX;
      const from = stream === 'a' ? A : B;
      const to = stream === 'a' ? B : A;
      const scene = stream === 'a' ? x.sceneA : x.sceneB;
      let g: { frame: Buffer; what: string };
      if (rng.bool(0.12)) g = fuzzFrame(SEED, `fw-${stream}-any`, i, scene);
      else {
        const p = packetFor(rng, x.policy[dir]!.d.rules);
        // Sources into the sender's half (what its identity allows) mostly; the egress hook takes any.
        if (stream !== 'h' && rng.bool(0.92)) p.saddr = intoHalf(p.saddr, from === A ? 0 : 1);
        const dstMac = rng.weighted<Buffer>([[85, to.mac!], [7, BCAST_MAC], [4, mac('01:00:5e:01:02:03')], [4, mac('02:00:00:00:00:99')]]);
        g = frameFor(rng, p, stream === 'h' && rng.bool(0.3) ? rng.bytes(6) : from.mac!, dstMac);
        const muts = rng.weighted<number>([[60, 0], [30, 1], [10, 2]]);
        for (let m = 0; m < muts; m++) {
          const mm = mutate(rng, g.frame, scene);
          g = { frame: mm.frame, what: `${g.what} | ${mm.what}` };
        }
      }
      x.last = null;
      const e = stream === 'h' ? model.entryOut(g.frame, A.ifindex) : model.entryIn(g.frame, from.ifindex);
      const tally = tallies[stream];
      const c: Ctx = { stats, find, tally, watch };
      const last = x.last as { pred: FwPrediction; dir: number } | null;
      const r = runFrame(c, `fw-${stream}`, i, g.what, g.frame, e,
        () => (stream === 'h' ? l.dp.runEgress(A.ifindex, g.frame) : l.dp.runFrom(from.ifindex, g.frame)), stream === 'h' ? [] : identityReads(g.frame, from));
      if (!r) return;
      if (stream !== 'h') checkIdentity(c, `fw-${stream}`, i, g.what, g.frame, from, r);
      const at = where(`fw-${stream}`, i, g.what, g.frame);
      const allowed = fwd(r.d, 'fw-allow');
      const passed = FW_PASSES.reduce((s, k) => s + fwd(r.d, k), 0);
      const p = fwParse(g.frame);
      // The firewall invariants, on what the firewall counted (whatever the model said).
      if (allowed) {
        const ref = p ? referenceFor(x.policy[dir]!.d, p) : null;
        if (!p || ref!.action !== 'allow') find.add('firewall', `${at}: FW_ALLOW counted but the reference says ${ref ? `${ref.action} (rule ${ref.rule})` : 'it is not valid IPv4'}`);
        if (p && p.proto === P.TCP && p.kind !== FwKind.FRAG && (p.tcpFlags & 0x17) !== TCPF.SYN) find.add('firewall', `${at}: a TCP connection opened without a bare SYN (flags 0x${p.tcpFlags.toString(16)})`);
      }
      if (last && g.frame.readUInt16BE(12) === ET.IP) {
        if (!p && passed) find.add('firewall', `${at}: IPv4 that is not valid for the firewall passed`);
        if (!p && !fwd(r.d, 'drop:malformed')) find.add('firewall', `${at}: IPv4 that is not valid for the firewall was not dropped as malformed`);
        if (p && last.pred.ref && last.pred.ref.action !== 'allow' && passed) find.add('firewall', `${at}: passed (${FW_PASSES.filter((k) => fwd(r.d, k)).join(',')}) a new connection the reference ${last.pred.ref.action}s (rule ${last.pred.ref.rule})`);
      }
      // Which rule matched: its counter (and only its) moved.
      if (last?.pred.ref) {
        verdicts.checkedRule++;
        verdicts[last.pred.ref.action]++;
        if (last.pred.decision.action === 'answer') verdicts.answered++;
        const got = rules.delta(counterOf(x.policy[last.dir]!.k, last.pred.ref.rule));
        if (got !== 1) find.add('firewall', `${at}: the reference matched ${last.pred.ref.rule < 0 ? 'the default' : `rule ${last.pred.ref.rule}`} (${last.pred.ref.action}); its counter moved by ${got}`);
      }
      // No state outlives the frame: the entry (zone A) and the remembered first fragment go.
      if (fwd(r.d, 'ct-new')) {
        if (!p || !ct.delete(ctKeyOf(A.ifindex, p))) find.add('firewall', `${at}: CT_NEW counted but no entry under the frame's own tuple in zone A`);
      }
      if (p?.firstFrag && passed) frags.delete(fragKey(A.ifindex, p));
    };
    const counts = { a: n(15_000), b: n(10_000), h: n(5_000) };
    for (const s of ['a', 'b', 'h'] as const) for (let i = 0; i < counts[s]; i++) one(s, i);
    finish(t, stats, find, Object.values(tallies), 'firewall (stateless)');
    t.comment(`classified by the firewall and checked against the reference (rule counter and verdict): ${verdicts.checkedRule} ` +
      `(allow ${verdicts.allow}, drop ${verdicts.drop}, reject ${verdicts.reject}, of which ${verdicts.answered} answered with a RST/ICMP)`);
    // Coverage (how much of each depends on the seed's random policies: a default of allow makes most frames allowed).
    for (const a of ['allow', 'drop', 'reject'] as const) t.ok(verdicts[a] > 300 * MIN, `${a}: ${verdicts[a]} frames`);
    t.ok(verdicts.answered > 150 * MIN, `${verdicts.answered} reject answers checked`);
    for (const tl of Object.values(tallies)) {
      totals.frames += tl.frames;
      totals.ran += tl.frames - tl.refused;
    }
  });

  t.test('firewall with conntrack: connections, their mutations, a rule set switch', async (t) => {
    const x = await firewallLabX(t, mix(SEED, 7));
    x.stateful = true;
    const { l, model, A, B } = x;
    const stats = new Stats(l.dp.map('vnf_stats'));
    const find = new Findings();
    const watch = [idx(CORE, 'pass')];
    const tally = new Tally('vnf_entry_in from A and B, stateful (connections and mutations of their frames)');
    const c: Ctx = { stats, find, tally, watch };
    /** Connections opened by a FW_ALLOW with an entry: key -> the direction that allowed it. */
    const opened = new Map<string, { dir: number; p: FwPacket; q: FwParsed }>();
    /** First fragments that passed (zone A): (saddr, daddr, id, proto) -> their tuple. */
    const firstFrags = new Map<string, FwParsed>();
    const keyStr = (s: number, d: number, sp: number, dp: number, proto: number): string => `${s}>${d}:${sp}>${dp}/${proto}`;
    const fragStr = (p: FwParsed): string => `${p.saddr}>${p.daddr}#${p.ipId}/${p.proto}`;
    const stillAllowed = (o: { dir: number; p: FwPacket }): boolean => referenceClassify(x.policy[o.dir]!.d, o.p).action === 'allow';
    const counts = { frames: 0, allow: 0, est: 0, reply: 0, related: 0, revalidated: 0, cut: 0, rejected: 0 };

    /** The tuple of a parsed frame as conntrack sees it (a non-first fragment takes its first's), or null. */
    const tupleOf = (p: FwParsed): FwParsed | null => {
      if (p.kind !== FwKind.FRAG) return p;
      const f = firstFrags.get(fragStr(p));
      return f ? { ...p, kind: f.kind, sport: f.sport, dport: f.dport, csport: f.csport, cdport: f.cdport } : null;
    };
    const origKey = (q: FwParsed): string => keyStr(q.saddr, q.daddr, q.sport, q.kind === FwKind.PORTS ? q.dport : 0, q.proto);
    const replyKey = (q: FwParsed): string => (q.kind === FwKind.ECHO_REP ? keyStr(q.daddr, q.saddr, q.sport, 0, q.proto) : keyStr(q.daddr, q.saddr, q.kind === FwKind.PORTS ? q.dport : 0, q.sport, q.proto));

    const send = (fromA: boolean, frame: Buffer, what: string, stream: string, i: number): void => {
      counts.frames++;
      const from = fromA ? A : B;
      const dir = fromA ? VNF_DIR_RX : VNF_DIR_TX;
      const e = model.entryIn(frame, from.ifindex);
      const r = runFrame(c, stream, i, what, frame, e, () => l.dp.runFrom(from.ifindex, frame), identityReads(frame, from));
      if (!r) return;
      checkIdentity(c, stream, i, what, frame, from, r);
      if (!e.observed) return; // did not reach the firewall: predicted in full
      const at = where(stream, i, what, frame);
      const d = r.d;
      const passes = FW_PASSES.reduce((s, k) => s + fwd(d, k), 0);
      const drops = REASONS_OF[FW]!.filter((k) => k.startsWith('drop:')).reduce((s, k) => s + fwd(d, k), 0);
      if (passes + drops !== 1) find.add('state', `${at}: ${passes} passes and ${drops} drops counted for one firewall run`);
      if (fwd(d, 'pass') !== passes) find.add('state', `${at}: the firewall handed on ${fwd(d, 'pass')} times for ${passes} passes`);
      const p = fwParse(frame);
      const et = frame.readUInt16BE(12);
      if (et === ET.IP && !p && (passes || !fwd(d, 'drop:malformed'))) find.add('firewall', `${at}: IPv4 that is not valid for the firewall was not dropped as malformed`);
      if (et !== ET.IP) return;
      if (!p) return;
      const q = tupleOf(p);
      if (fwd(d, 'fw-allow')) {
        counts.allow++;
        const pol = x.policy[dir]!.d;
        const ok = referenceFor(pol, p).action === 'allow' || (q && q !== p && referenceClassify(pol, fwPacketOf(q)).action === 'allow');
        if (!ok) find.add('firewall', `${at}: FW_ALLOW but the reference does not allow it`);
        if (p.proto === P.TCP && p.kind !== FwKind.FRAG && (p.tcpFlags & 0x17) !== TCPF.SYN) find.add('firewall', `${at}: a TCP connection opened without a bare SYN`);
        if (fwd(d, 'ct-new') && q) opened.set(origKey(q), { dir, p: fwPacketOf(q), q });
      }
      if (fwd(d, 'fw-established') || fwd(d, 'fw-reply')) {
        const est = fwd(d, 'fw-established') > 0;
        est ? counts.est++ : counts.reply++;
        const o = q ? opened.get(est ? origKey(q) : replyKey(q)) : undefined;
        if (!o) find.add('state', `${at}: passed as ${est ? 'ESTABLISHED' : 'REPLY'} but no connection with this tuple was opened`);
        else if ((o.dir === dir) !== est) find.add('state', `${at}: passed as ${est ? 'ESTABLISHED' : 'REPLY'} in the wrong direction of its connection`);
        else if (!stillAllowed(o)) find.add('firewall', `${at}: passed a connection the current rule set does not allow`);
      }
      if (fwd(d, 'fw-related')) {
        counts.related++;
        const inQ: FwParsed = { ...p, saddr: p.inSaddr, daddr: p.inDaddr, proto: p.inProto, sport: p.inSport, dport: p.inDport,
          kind: p.inProto === P.ICMP ? (p.inEcho === 8 ? FwKind.ECHO_REQ : p.inEcho === 0 ? FwKind.ECHO_REP : FwKind.ICMP) : p.inProto === P.TCP || p.inProto === P.UDP ? FwKind.PORTS : FwKind.OTHER };
        const o = opened.get(origKey(inQ)) ?? opened.get(replyKey(inQ));
        if (p.kind !== FwKind.ICMP_ERR || !p.inOk || p.daddr !== p.inSaddr) find.add('state', `${at}: RELATED for something that is not an ICMP error back to the quoted packet's sender`);
        else if (!o) find.add('state', `${at}: RELATED but the quoted packet belongs to no connection opened`);
        else if (!stillAllowed(o)) find.add('firewall', `${at}: RELATED to a connection the current rule set does not allow`);
      }
      if (fwd(d, 'ct-revalidated')) counts.revalidated++;
      if (fwd(d, 'drop:policy') && q) {
        // A new connection the policy drops, or one the switched rule set cut (its entry goes).
        const ref = referenceFor(x.policy[dir]!.d, p).action;
        const ko = opened.has(origKey(q)) ? origKey(q) : opened.has(replyKey(q)) ? replyKey(q) : null;
        if (ko && !stillAllowed(opened.get(ko)!)) {
          counts.cut++;
          opened.delete(ko);
        } else if (ref !== 'drop') find.add('firewall', `${at}: dropped by policy, but the reference says ${ref} and no connection was cut`);
      }
      if (fwd(d, 'fw-reject-sent')) {
        counts.rejected++;
        const ref = referenceFor(x.policy[dir]!.d, p);
        if (ref.action !== 'reject') find.add('firewall', `${at}: a reject answer for what the reference ${ref.action}s`);
        for (const pr of checkOutput(frame, r.res.data, p.proto === P.TCP ? { kind: 'rst', tos: 0 } : { kind: 'unreach' })) find.add(pr.kind, `${at}: reject answer: ${pr.msg}`);
      } else if (passes && !r.res.data.equals(frame)) find.add('rewrite', `${at}: a frame the firewall passed came out changed`);
      if (passes && p.firstFrag) firstFrags.set(fragStr(p), p);
    };

    // Sessions: a connection between A and B (either opens it), by the rules of the policy it crosses.
    const N_SESS = n(900);
    const half = Math.floor(N_SESS / 2);
    const active: Array<{ steps: Array<() => { fromA: boolean; frame: Buffer; what: string }>; k: number; id: number }> = [];
    let frameNo = 0;
    const makeSession = (id: number): (typeof active)[number] => {
      const rng = new Rng(mix(SEED, streamId('session'), id));
      const aOpens = rng.bool(0.6);
      const dir = aOpens ? VNF_DIR_RX : VNF_DIR_TX;
      // Most connections are ones the policy lets open (so conntrack has something to follow); the rest any.
      const wantOpen = rng.bool(0.75);
      let pk: FwPacket;
      let cIp: number;
      let sIp: number;
      for (let tries = 0; ; tries++) {
        pk = packetFor(rng, x.policy[dir]!.d.rules);
        cIp = intoHalf(pk.saddr, aOpens ? 0 : 1);
        sIp = intoHalf(pk.daddr, aOpens ? 1 : 0);
        if (pk.proto === P.TCP || pk.proto === P.UDP) pk.sport ||= 1024 + rng.int(60000);
        const cls = { ...pk, saddr: cIp, daddr: sIp, ...(pk.proto === P.ICMP ? { sport: 0, dport: 8 } : {}) };
        if (!wantOpen || tries >= 50 || referenceClassify(x.policy[dir]!.d, cls).action === 'allow') break;
      }
      const cE = aOpens ? A : B;
      const sE = aOpens ? B : A;
      const cm = cE.mac!;
      const sm = sE.mac!;
      const ipf = (fromC: boolean, proto: number, payload: Buffer, o: { id?: number; frag?: number } = {}): Buffer =>
        ethFrame(fromC ? sm : cm, fromC ? cm : sm, ET.IP, ipv4({ src: fromC ? cIp : sIp, dst: fromC ? sIp : cIp, proto, id: o.id ?? rng.int(65536), frag: o.frag ?? 0x4000 }, payload));
      const steps: Array<() => { fromA: boolean; frame: Buffer; what: string }> = [];
      const st = (fromC: boolean, what: string, f: () => Buffer): void => {
        steps.push(() => ({ fromA: fromC === aOpens, frame: f(), what: `session ${id} ${aOpens ? 'A->B' : 'B->A'} ${what}` }));
      };
      const sp = pk.sport;
      const dp = pk.dport;
      if (pk.proto === P.TCP) {
        let cs = rng.u32();
        let ss = rng.u32();
        const seg = (fromC: boolean, flags: number, len = 0, opts?: Buffer): Buffer => {
          const f = tcp(fromC ? cIp : sIp, fromC ? sIp : cIp, { sport: fromC ? sp : dp, dport: fromC ? dp : sp, flags, seq: fromC ? cs : ss, ack: flags & TCPF.ACK ? (fromC ? ss : cs) : 0, win: 64240, options: opts, data: Buffer.alloc(len, 0x61) });
          const adv = len + (flags & TCPF.SYN ? 1 : 0) + (flags & TCPF.FIN ? 1 : 0);
          if (fromC) cs = (cs + adv) >>> 0;
          else ss = (ss + adv) >>> 0;
          return ipf(fromC, P.TCP, f);
        };
        const synOpts = Buffer.from([2, 4, 5, 180, 1, 1, 4, 2, 1, 3, 3, 7]);
        st(true, 'SYN', () => seg(true, TCPF.SYN, 0, synOpts));
        st(false, 'SYN-ACK', () => seg(false, TCPF.SYN | TCPF.ACK, 0, synOpts));
        st(true, 'ACK', () => seg(true, TCPF.ACK));
        st(true, 'data', () => seg(true, TCPF.ACK | TCPF.PSH, rng.range(1, 200)));
        st(false, 'data', () => seg(false, TCPF.ACK | TCPF.PSH, rng.range(1, 200)));
        st(true, 'ACK', () => seg(true, TCPF.ACK));
        if (rng.bool(0.3)) st(false, 'RST', () => seg(false, TCPF.RST | TCPF.ACK));
        st(true, 'FIN', () => seg(true, TCPF.FIN | TCPF.ACK));
        st(false, 'FIN', () => seg(false, TCPF.FIN | TCPF.ACK));
        st(true, 'last ACK', () => seg(true, TCPF.ACK));
        if (rng.bool(0.3)) st(true, 'SYN again (reopen)', () => ((cs = rng.u32()), seg(true, TCPF.SYN, 0, synOpts)));
      } else if (pk.proto === P.UDP) {
        const dg = (fromC: boolean, len: number): Buffer => ipf(fromC, P.UDP, udp(fromC ? cIp : sIp, fromC ? sIp : cIp, fromC ? sp : dp, fromC ? dp : sp, rng.bytes(len)));
        let lastC: Buffer = Buffer.alloc(0);
        st(true, 'datagram', () => (lastC = dg(true, rng.range(0, 100))));
        st(false, 'answer', () => dg(false, rng.range(0, 100)));
        st(true, 'datagram', () => (lastC = dg(true, rng.range(0, 100))));
        st(false, 'port unreachable about it', () => ipf(false, P.ICMP, icmpError(3, 3, lastC.subarray(14))));
        if (rng.bool(0.5)) {
          const idf = rng.int(65536);
          const whole = udp(cIp, sIp, sp, dp, rng.bytes(40));
          st(true, 'first fragment', () => ipf(true, P.UDP, whole.subarray(0, 24), { id: idf, frag: 0x2000 }));
          st(true, 'middle fragment', () => ipf(true, P.UDP, whole.subarray(24, 40), { id: idf, frag: 0x2000 | 3 }));
          st(true, 'last fragment', () => ipf(true, P.UDP, whole.subarray(40), { id: idf, frag: 5 }));
          st(false, 'answer', () => dg(false, 10));
        }
      } else if (pk.proto === P.ICMP) {
        const idv = rng.int(65536);
        let req: Buffer = Buffer.alloc(0);
        st(true, 'echo request', () => (req = ipf(true, P.ICMP, echo(8, idv, 1, rng.bytes(16)))));
        st(false, 'echo reply', () => ipf(false, P.ICMP, echo(0, idv, 1, rng.bytes(16))));
        st(true, 'echo request', () => (req = ipf(true, P.ICMP, echo(8, idv, 2, rng.bytes(16)))));
        st(false, 'time exceeded about it', () => ipf(false, P.ICMP, icmpError(11, 0, req.subarray(14))));
        st(false, 'echo reply', () => ipf(false, P.ICMP, echo(0, idv, 2, rng.bytes(16))));
      } else {
        st(true, `proto ${pk.proto}`, () => ipf(true, pk.proto, rng.bytes(20)));
        st(false, `proto ${pk.proto} back`, () => ipf(false, pk.proto, rng.bytes(20)));
        st(true, `proto ${pk.proto}`, () => ipf(true, pk.proto, rng.bytes(20)));
      }
      return { steps, k: 0, id };
    };
    let nextSession = 0;
    const scene = (fromA: boolean): Scene => (fromA ? x.sceneA : x.sceneB);
    while (nextSession < N_SESS || active.length) {
      while (active.length < 8 && nextSession < N_SESS) {
        if (nextSession === half) {
          // The rule sets change under live connections: each is re-checked on its next packet.
          const rng = new Rng(mix(SEED, streamId('switch')));
          for (const [dir, k] of [[VNF_DIR_RX, 3], [VNF_DIR_TX, 4]] as const) {
            const old = x.policy[dir]!.d;
            // Half of the old rules kept (so connections survive), the rest new.
            const rulesNew = [...old.rules.filter(() => rng.bool(0.5)), ...randomRules(200, mix(SEED, k)).filter((r) => r.src.prefix + r.dst.prefix >= 24).slice(0, 20)].map((r, index) => ({ ...r, index }));
            x.bindPolicy(dir, { default: rng.pick(['allow', 'drop'] as const), rules: rulesNew }, k);
          }
          t.comment(`rule sets switched after ${frameNo} frames, ${opened.size} connections open`);
          // One more packet of every connection, from its opener: each is re-checked against the new set.
          let k = 0;
          for (const [key, o] of [...opened]) {
            const fromA = o.dir === VNF_DIR_RX;
            const q = o.q;
            const r2 = new Rng(mix(SEED, streamId('revisit'), k));
            const l4 = q.proto === P.TCP ? tcp(q.saddr, q.daddr, { sport: q.sport, dport: q.dport, flags: TCPF.ACK, seq: r2.u32(), ack: r2.u32() })
              : q.proto === P.UDP ? udp(q.saddr, q.daddr, q.sport, q.dport, r2.bytes(8))
              : q.kind === FwKind.ECHO_REQ ? echo(8, q.sport, 99, r2.bytes(8)) : r2.bytes(20);
            const f = ethFrame(fromA ? B.mac! : A.mac!, fromA ? A.mac! : B.mac!, ET.IP, ipv4({ src: q.saddr, dst: q.daddr, proto: q.proto, id: r2.int(65536) }, l4));
            send(fromA, f, `revisit ${key} after the switch`, 'revisit', k++);
          }
        }
        active.push(makeSession(nextSession++));
      }
      const pick = new Rng(mix(SEED, streamId('interleave'), frameNo)).int(active.length);
      const s = active[pick]!;
      const step = s.steps[s.k++]!();
      const i = frameNo++;
      send(step.fromA, step.frame, step.what, 'ct', i);
      // Mutations of the frame just sent, from the same side (forged, truncated, corrupted segments of a live connection).
      const rng = new Rng(mix(SEED, streamId('ct-mut'), i));
      const m = rng.weighted<number>([[40, 0], [40, 1], [20, 2]]);
      for (let j = 0; j < m; j++) {
        const g = mutate(rng, step.frame, scene(step.fromA));
        send(step.fromA, g.frame, `${step.what} | ${g.what}`, `ct-mut${j}`, i);
      }
      if (s.k >= s.steps.length) active.splice(pick, 1);
    }
    finish(t, stats, find, [tally], 'firewall (stateful)');
    t.comment(`stateful: ${counts.frames} frames, ${N_SESS} sessions; FW_ALLOW ${counts.allow}, ESTABLISHED ${counts.est}, REPLY ${counts.reply}, ` +
      `RELATED ${counts.related}, revalidated ${counts.revalidated}, cut by the new rule set ${counts.cut}, reject answers ${counts.rejected}`);
    t.ok(counts.est > 500 * MIN && counts.reply > 500 * MIN && counts.related > 50 * MIN && counts.revalidated + counts.cut > 20 * MIN,
      'connections were followed (ESTABLISHED, REPLY, RELATED passes and revalidations checked)');
    totals.frames += tally.frames;
    totals.ran += tally.frames - tally.refused;
  });

  t.test('totals', async (t) => {
    const s = Number(process.hrtime.bigint() - started) / 1e9;
    t.comment(`${totals.frames} frames generated, ${totals.ran} run through the programs, in ${s.toFixed(1)} s (seed ${SEED})`);
    t.ok(totals.frames >= 100_000 * Math.min(1, SCALE), `at least ${100_000 * Math.min(1, SCALE)} frames (${totals.frames})`);
  });
}

