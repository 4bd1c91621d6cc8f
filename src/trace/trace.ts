/**
 * vnf-ctl trace: one packet through the real programs of a port's chain, on the live
 * configuration, without side effects (see instance.ts for why nothing live can change), and
 * each stage's decision read back from the trace records, the instance's own counters (which
 * firewall rule, which route) and its private copies of the state maps (what the packet would
 * have created: connections, NAT mappings, learned entries).
 */
import type { StatusValue } from '../vnf/types.js';
import { skbContext } from '../bpf/skb.js';
import type { BpfMap } from '../bpf/map.js';
import type { Topology } from '../spec/model.js';
import { formatAddr } from '../spec/ipv4.js';
import { readRecord } from '../state/store.js';
import { InputError } from '../ops/errors.js';
import { requireEnvironment } from '../ops/topology.js';
import { requireTopology } from '../ops/status.js';
import { MAPS, VNFS, vnfName } from '../vnf/registry.js';
import { REASONS, isDrop, sumCounters } from '../vnf/common/codec.js';
import type { NameView, StatusReader } from '../vnf/types.js';
import { readRaw } from '../observe/kernel.js';
import { pinDir } from '../model/names.js';
import { join } from 'node:path';
import { VNF_ID_DELIVER, VNF_R_DELIVER, VNF_R_FW_REJECT_SENT, VNF_R_ICMP_ERROR, VNF_R_NAT_ICMP_ERROR, VNF_R_TCP_RESET } from '../abi/vnf_common.js';
import { VNF_MAP_CT } from '../abi/conntrack.js';
import { ctKeyCodec } from '../vnf/conntrack/codec.js';
import { loadTraceInstance } from './instance.js';
import { buildProbe, viewFrame, type FrameView, type TraceProto } from './packet.js';
import { nextHopMac, readEndpoints, resolveFrom, resolveTo, type Endpoints } from './endpoints.js';
import { traceRecCodec, VNF_MAP_TRACE, VNF_TRACE_FLOOD, VNF_TRACE_HOP, VNF_TRACE_PROBE, VNF_TRACE_SLOTS, VNF_TRACE_VERDICT, type TraceRec } from './codec.js';

export interface TraceOptions {
  from: string;
  to: string;
  proto: TraceProto;
  /** Destination port (TCP/UDP); ICMP: ignored. */
  port?: number;
  /** Source port (TCP/UDP) or ICMP echo identifier. */
  sport?: number;
}

export interface TraceStage {
  vnf: string;
  /** verdict: a VNF's decision (its reason); hop: a tail call into the next VNF; flood/probe: a copy the kernel would send. */
  event: 'verdict' | 'hop' | 'flood' | 'probe';
  what: string;
  drop: boolean;
  detail: string;
}

export interface TracePacket {
  srcMac: string;
  dstMac: string;
  src: string;
  dst: string;
  proto: string;
  sport?: number;
  dport?: number;
  ttl: number;
}

/**
 * delivered: into another port's container; answered: the router answered the source itself
 * (echo reply, ARP reply); rejected: a VNF refused it and sent something back (TCP reset, ICMP
 * error); dropped; passed: handed to the host's stack.
 */
export type TraceVerdict = 'delivered' | 'answered' | 'rejected' | 'dropped' | 'passed';

export interface TraceResult {
  topology: string;
  from: { port: string; ifname: string; network: string };
  to: { address: string; port?: string; nextHop: string };
  packet: TracePacket;
  stages: TraceStage[];
  verdict: TraceVerdict;
  /** delivered or answered: the exit status of vnf-ctl trace is 0 exactly then. */
  allowed: boolean;
  /** The first drop reason, when dropped or rejected. */
  reason?: string;
  deliveredTo?: { port: string; ifname: string; network: string };
  /** The packet as it would leave (NAT, TTL and MAC rewrites applied). */
  out?: TracePacket;
  /** Counters the packet moved, as the modules show them (firewall rules, routes). */
  matched: Array<{ section: string; row: Record<string, StatusValue> }>;
  /** What the packet would create or change in learned state (connections, NAT mappings, FDB, neighbours). */
  state: Array<{ map: string; change: 'new' | 'changed'; entry: string }>;
  retval: number;
  durationNs: number;
}

/** Reasons of answers that refuse the packet: the trace counts them as a denial. */
const ERROR_ANSWERS = new Set([VNF_R_ICMP_ERROR, VNF_R_TCP_RESET, VNF_R_FW_REJECT_SENT, VNF_R_NAT_ICMP_ERROR]);
const PROTO_NAME: Record<number, string> = { 1: 'icmp', 6: 'tcp', 17: 'udp' };
const TC_ACT_OK = 0;
const TC_ACT_REDIRECT = 7;

function packetView(v: FrameView): TracePacket {
  return {
    srcMac: v.srcMac, dstMac: v.dstMac, src: formatAddr(v.src), dst: formatAddr(v.dst), proto: PROTO_NAME[v.proto] ?? String(v.proto),
    ...(v.sport !== undefined ? { sport: v.sport } : {}), ...(v.dport !== undefined ? { dport: v.dport } : {}), ttl: v.ttl,
  };
}

export function checkTraceOptions(o: TraceOptions): void {
  if (!['tcp', 'udp', 'icmp'].includes(o.proto)) throw new InputError(`--proto ${o.proto}: expected tcp, udp or icmp`);
  for (const [flag, v] of [['--port', o.port], ['--sport', o.sport]] as const) {
    if (v !== undefined && (!Number.isInteger(v) || v < (flag === '--sport' ? 0 : 1) || v > 65535)) throw new InputError(`${flag} ${v}: expected a port number 1-65535`);
  }
  if (o.proto !== 'icmp' && o.port === undefined) throw new InputError(`--proto ${o.proto} needs --port`);
}

function readRecords(raw: Array<[Buffer, Buffer]>): TraceRec[] {
  const byIndex = new Map(raw.map(([k, v]) => [k.readUInt32LE(0), traceRecCodec.decode(v)]));
  const n = Math.min(byIndex.get(0)?.arg ?? 0, VNF_TRACE_SLOTS - 1);
  const out: TraceRec[] = [];
  for (let i = 1; i <= n; i++) out.push(byIndex.get(i)!);
  return out;
}

function stageOf(r: TraceRec, e: Endpoints): TraceStage {
  const vnf = vnfName(r.vnf);
  if (r.kind === VNF_TRACE_VERDICT) {
    const what = REASONS[r.reason] ?? `reason ${r.reason}`;
    return { vnf, event: 'verdict', what, drop: isDrop(r.reason), detail: '' };
  }
  const where = [`network ${e.network(r.network)}`, r.in ? `in ${e.label(r.in)}` : '', r.out ? `out ${e.label(r.out)}` : ''].filter(Boolean).join(', ');
  if (r.kind === VNF_TRACE_HOP) return { vnf, event: 'hop', what: `-> ${r.arg === VNF_ID_DELIVER ? 'deliver' : vnfName(r.arg)}`, drop: false, detail: `chain ${r.chain} position ${r.pos}; ${where}` };
  if (r.kind === VNF_TRACE_FLOOD) return { vnf, event: 'flood', what: `would flood to ${e.label(r.arg)}`, drop: false, detail: `not sent by a trace; ${where}` };
  if (r.kind === VNF_TRACE_PROBE) return { vnf, event: 'probe', what: `would send an ARP probe out of ${e.label(r.arg)}`, drop: false, detail: where };
  return { vnf, event: 'verdict', what: `record kind ${r.kind}`, drop: false, detail: '' };
}

const hexOf = (b: Buffer): string => b.toString('hex');

export async function trace(name: string, o: TraceOptions): Promise<TraceResult> {
  checkTraceOptions(o);
  requireTopology(name);
  const rec = readRecord(name);
  if (!rec) throw new InputError(`topology ${name} has no record to name its ports (apply it again)`);
  const topology = rec.topology;
  const e = readEndpoints(topology);
  const from = resolveFrom(e, o.from);
  const to = resolveTo(e, o.to);
  const hop = nextHopMac(topology, from, to);
  requireEnvironment();
  const sport = o.sport ?? 40000;
  const frame = buildProbe({ srcMac: from.mac, dstMac: hop.mac, src: from.ip, dst: to.ip, proto: o.proto, sport, dport: o.port ?? 0 });
  const inst = await loadTraceInstance(name);
  try {
    // The instance's copies of the learned state, just before the run: what the packet adds is
    // the difference (the live maps go on changing with other tenants' traffic meanwhile).
    const learned = [...MAPS.values()].filter((m) => m.kind === 'learned' && inst.maps.has(m.name));
    const before = new Map(learned.map((m) => [m.name, new Map(inst.maps.get(m.name)!.entries().map(([k, v]) => [hexOf(k), hexOf(v)]))]));
    const res = inst.entry.testRun({ data: frame, ctx: skbContext({ ifindex: from.ifindex }), dataOutSize: frame.length + 256 });
    const records = readRecords(inst.maps.get(VNF_MAP_TRACE)!.entries());
    const stages = records.map((r) => stageOf(r, e));
    const lastHop = [...records].reverse().find((r) => r.kind === VNF_TRACE_HOP);
    const lastVerdict = [...records].reverse().find((r) => r.kind === VNF_TRACE_VERDICT);
    const drop = records.find((r) => r.kind === VNF_TRACE_VERDICT && (isDrop(r.reason) || ERROR_ANSWERS.has(r.reason)));
    let verdict: TraceVerdict;
    let deliveredTo: TraceResult['deliveredTo'];
    if (res.retval === TC_ACT_REDIRECT && lastVerdict?.reason === VNF_R_DELIVER && lastHop?.arg === VNF_ID_DELIVER && lastHop.out) {
      const p = e.byIfindex.get(lastHop.out);
      deliveredTo = { port: p?.name ?? e.ifname(lastHop.out), ifname: e.ifname(lastHop.out), network: p?.network ?? e.network(lastHop.network) };
      if (drop) verdict = 'rejected';
      else verdict = lastHop.out === from.ifindex ? 'answered' : 'delivered';
    } else if (res.retval === TC_ACT_REDIRECT) verdict = drop ? 'rejected' : 'answered';
    else if (res.retval === TC_ACT_OK && !drop) verdict = 'passed';
    else verdict = 'dropped';
    const outView = viewFrame(res.data);
    const names: NameView = { network: e.network, router: e.router, ifname: (i) => e.label(i) };
    return {
      topology: name,
      from: { port: from.name, ifname: from.ifname, network: from.network },
      to: { address: formatAddr(to.ip), ...(to.port ? { port: to.port.name } : {}), nextHop: hop.via },
      packet: packetView(viewFrame(frame)!),
      stages,
      verdict,
      allowed: verdict === 'delivered' || verdict === 'answered',
      ...(drop ? { reason: REASONS[drop.reason] ?? String(drop.reason) } : {}),
      ...(deliveredTo ? { deliveredTo } : {}),
      ...(outView && verdict !== 'dropped' ? { out: packetView(outView) } : {}),
      matched: matchedCounters(name, inst.maps, names, topology),
      state: stateChanges(inst.maps, before, names),
      retval: res.retval,
      durationNs: res.duration,
    };
  } finally {
    inst.close();
  }
}

/** The modules' status rows over the instance's own counters (they start at zero: any packet counted is this one). */
function matchedCounters(name: string, maps: TraceInstanceMaps, names: NameView, topology: Topology): TraceResult['matched'] {
  const dir = pinDir(name);
  const r: StatusReader = {
    names,
    topology,
    entries: (map) => {
      if (MAPS.get(map)?.kind === 'stats') return maps.get(map)?.entries() ?? [];
      return readRaw(join(dir, map)) ?? [];
    },
    counter: (map, value) => {
      const m = maps.get(map);
      return m ? sumCounters(m.splitPerCpu(value)) : sumCounters([value]);
    },
    now: process.hrtime.bigint(),
  };
  const out: TraceResult['matched'] = [];
  for (const v of VNFS) {
    if (!v.status || !v.maps.some((m) => m.kind === 'stats')) continue;
    for (const s of v.status(r)) {
      if (!s.columns.includes('packets')) continue;
      for (const row of s.rows) {
        if (!row['packets'] || BigInt(row['packets'] as number | bigint) === 0n) continue;
        out.push({ section: s.title, row: Object.fromEntries(Object.entries(row).filter(([, x]) => x !== undefined)) });
      }
    }
  }
  return out;
}

/** Learned maps whose module gives no one-line description. */
const STATE_DESCRIBERS: Record<string, (key: Buffer, value: Buffer, names: NameView) => string> = {
  [VNF_MAP_CT]: (key) => {
    const k = ctKeyCodec.decode(key);
    const proto = PROTO_NAME[k.proto] ?? `proto ${k.proto}`;
    return `connection ${proto} ${formatAddr(k.saddr)}:${k.sport} -> ${formatAddr(k.daddr)}:${k.dport} (zone ${k.zone})`;
  },
};

function stateChanges(maps: TraceInstanceMaps, before: Map<string, Map<string, string>>, names: NameView): TraceResult['state'] {
  const out: TraceResult['state'] = [];
  for (const [map, old] of before) {
    const m = maps.get(map);
    if (!m) continue;
    const decl = MAPS.get(map);
    for (const [k, v] of m.entries()) {
      const was = old.get(hexOf(k));
      if (was === hexOf(v)) continue;
      const change = was === undefined ? 'new' : 'changed';
      const describe = decl?.describe ?? STATE_DESCRIBERS[map];
      // Without a description (per-port occupancy counters) or with only a refreshed time, it is not news.
      if (!describe || (change === 'changed' && !decl?.describe)) continue;
      out.push({ map, change, entry: describe(k, v, names) });
    }
  }
  return out;
}

type TraceInstanceMaps = ReadonlyMap<string, BpfMap>;
