/**
 * What the dataplane must do with a frame, written from its specification
 * (README, design.md and the comments of bpf/*.bpf.c) as plain TypeScript
 * over a model of the maps the test wrote: for the packet fuzz test
 * (test/bpf/fuzz.test.ts). For a frame entering at a port it predicts every
 * verdict and reason each VNF counts on the way (vnf_stats), the TC return
 * value, and what the output frame must be (unchanged, routed, an ICMP error,
 * an echo reply, an ARP reply or request, a firewall's RST or ICMP
 * unreachable). Learned state (FDB entries, neighbours) is followed as the
 * kernel learns it.
 *
 * The firewall's verdict comes from a hook: the fuzz test's stateless model
 * (fwStateless: the reference classifier on the parsed tuple), or "observe"
 * where conntrack decides (the test then reads what the firewall counted and
 * checks it against the connections it saw opened).
 */
import { REASON, statsIndex, VNF_DIR_RX, VNF_DIR_TX, VNF_ID_CORE } from '../../src/vnf/common/codec.js';
import { VNF_ID_BRIDGE, VNF_LEARN_PER_PORT } from '../../src/vnf/bridge/codec.js';
import {
  VNF_ICMP_BURST, VNF_ICMP_DEF_RATELIMIT_MS, VNF_ID_ROUTER, VNF_NEIGH_DEF_FAILED_MS, VNF_NEIGH_DEF_MCAST_PROBES, VNF_NEIGH_DEF_REACHABLE_MS,
  VNF_NEIGH_DEF_RETRANS_MS, VNF_NEIGH_DEF_UCAST_PROBES,
} from '../../src/vnf/router/codec.js';
import { VNF_ID_FIREWALL } from '../../src/vnf/firewall/codec.js';
import type { FirewallDirection, FirewallRule } from '../../src/vnf/firewall/model.js';
import { PROTO, type FwPacket } from '../../src/vnf/firewall/packet.js';
import { referenceClassify } from '../../src/vnf/firewall/reference.js';
import { ET, inPrefix, isMulticastMac, isZeroMac, macStr, maskOf, P, TCPF } from './fuzz-frames.js';

export const CORE = VNF_ID_CORE;
export const BRIDGE = VNF_ID_BRIDGE;
export const ROUTER = VNF_ID_ROUTER;
export const FW = VNF_ID_FIREWALL;
export const VNF_NAME: Record<number, string> = { [CORE]: 'core', [BRIDGE]: 'bridge', [ROUTER]: 'router', [FW]: 'firewall' };

export const TC = { OK: 0, SHOT: 2, REDIRECT: 7 } as const;
export const TC_NAME: Record<number, string> = { 0: 'OK', 2: 'SHOT', 7: 'REDIRECT' };

/** vnf_stats index of (vnf, reason name). */
export function idx(vnf: number, reason: string): number {
  const r = REASON[reason];
  if (r === undefined) throw new Error(`unknown reason ${reason}`);
  return statsIndex(vnf, r);
}

/** Every reason each VNF may count (what a full read covers). */
export const REASONS_OF: Record<number, string[]> = {
  [CORE]: ['pass', 'deliver', 'drop:no-port', 'drop:no-chain', 'drop:tail-call', 'drop:malformed', 'drop:redirect', 'drop:loop',
    'drop:spoof-mac', 'drop:spoof-ip', 'drop:spoof-arp', 'drop:vlan', 'drop:ethertype', 'drop:not-for-port', 'drop:cross-network'],
  [BRIDGE]: ['pass', 'forward', 'flood', 'to-router', 'learn-limit', 'drop:no-port', 'drop:no-chain', 'drop:tail-call', 'drop:malformed',
    'drop:no-network', 'drop:hairpin', 'drop:redirect', 'drop:loop', 'drop:cross-network'],
  [ROUTER]: ['routed', 'arp-reply', 'icmp-error', 'arp-request', 'arp-learn', 'icmp-echo-reply', 'arp-probe', 'tcp-reset',
    'neigh-update', 'drop:no-port', 'drop:no-chain', 'drop:tail-call', 'drop:malformed', 'drop:ttl', 'drop:no-route',
    'drop:neigh-miss', 'drop:no-network', 'drop:unsupported', 'drop:not-for-us', 'drop:loop', 'drop:cross-network',
    'drop:redirect', 'drop:neigh-failed', 'drop:neigh-pending', 'drop:martian', 'drop:no-socket', 'drop:icmp-ratelimit'],
  [FW]: ['pass', 'fw-allow', 'fw-established', 'fw-reply', 'fw-related', 'fw-reject-sent', 'fw-not-ip', 'ct-new', 'ct-expired',
    'ct-revalidated', 'drop:malformed', 'drop:unsupported', 'drop:redirect', 'drop:policy', 'drop:no-policy', 'drop:ct-invalid',
    'drop:reject', 'drop:ct-full', 'drop:no-chain', 'drop:tail-call', 'drop:loop', 'drop:no-port', 'drop:cross-network'],
};

/** What the output frame must be. */
export type OutSpec =
  | { kind: 'same' }
  | { kind: 'routed'; dstMac: Buffer; srcMac: Buffer }
  | { kind: 'icmp-error'; type: number; code: number; srcMac: Buffer; srcIp: number }
  | { kind: 'echo-reply'; srcMac: Buffer }
  | { kind: 'arp-reply'; mac: Buffer; ip: number }
  | { kind: 'arp-request'; dst: Buffer; mac: Buffer; sip: number; tip: number }
  /** A RST back to the sender: from `srcMac` (default: the segment's destination MAC), IPv4 TOS `tos`. */
  | { kind: 'rst'; srcMac?: Buffer; tos: number }
  | { kind: 'unreach' }
  | { kind: 'observe' };

export class Expect {
  /** vnf_stats index -> count this frame must add. */
  readonly counts = new Map<number, number>();
  /** Indices read but not compared (decided by state the model does not follow). */
  readonly observe = new Set<number>();
  retval: number = TC.SHOT;
  out: OutSpec = { kind: 'same' };
  /** BPF_PROG_TEST_RUN refuses the input (EINVAL) before any program runs. */
  refused = false;
  /** The firewall's verdict is observed, not predicted. */
  observed = false;
  readonly path: string[] = [];

  add(vnf: number, reason: string): void {
    const i = idx(vnf, reason);
    this.counts.set(i, (this.counts.get(i) ?? 0) + 1);
    this.path.push(`${VNF_NAME[vnf]}:${reason}`);
  }
}

/**
 * Frames BPF_PROG_TEST_RUN refuses with EINVAL before running anything:
 * shorter than an Ethernet header, IPv4 without a whole 20-byte header, IPv6
 * without a whole 40-byte header (measured on this kernel, 6.18).
 */
export function refusedByTestRun(f: Buffer): boolean {
  if (f.length < 14) return true;
  const et = f.readUInt16BE(12);
  return (et === ET.IP && f.length < 34) || (et === ET.IPV6 && f.length < 54);
}

/* ---- configuration ------------------------------------------------------ */

export type Stage = 'fw' | 'bridge' | 'deliver';

export interface PortCfg {
  ifindex: number;
  network: number;
  /** null: the control plane does not know the container's MAC. */
  mac: Buffer | null;
  ip: number;
  spoofchk: boolean;
  /** Prefixes it may also send from (vnf_port_src): [addr, plen]. */
  allowed: Array<[number, number]>;
  chainIn: Stage[];
  chainOut: Stage[];
}

export interface NetCfg {
  id: number;
  routerId: number;
  routerIp: number;
  routerMac: Buffer;
  routerPrefix: number;
}

export interface RouteCfg {
  routerId: number;
  addr: number;
  plen: number;
  network: number;
  nexthop: number;
  connected: boolean;
}

/** The firewall's decision for one run (reasons it counts besides 'pass'). */
export type FwDecision =
  | { action: 'pass'; reasons: string[] }
  | { action: 'drop'; reasons: string[] }
  | { action: 'answer'; answer: 'rst' | 'unreach'; reasons: string[] }
  | { action: 'observe' };

export type FwHook = (f: Buffer, point: number, dir: number, egressHook: boolean) => FwDecision;

interface Md {
  in: number;
  out: number;
  chain: Stage[];
  pos: number;
  net: number;
  fromRouter: boolean;
  egressHook: boolean;
}

const eq = (a: Uint8Array, b: Uint8Array): boolean => a[0] === b[0] && a[1] === b[1] && a[2] === b[2] && a[3] === b[3] && a[4] === b[4] && a[5] === b[5];

/* ---- identity ----------------------------------------------------------- */

/** null when the frame may enter the port (identity_check's spec), else the drop reason. */
export function identityDrop(f: Buffer, p: PortCfg): string | null {
  const src = f.subarray(6, 12);
  if (p.mac && !eq(src, p.mac)) return 'drop:spoof-mac';
  const et = f.readUInt16BE(12);
  const mayUse = (a: number): boolean => a === p.ip || p.allowed.some(([n, l]) => inPrefix(a, n, l));
  if (et === ET.IP) return mayUse(f.readUInt32BE(26)) ? null : 'drop:spoof-ip';
  if (et === ET.ARP) {
    if (f.length < 42) return 'drop:spoof-arp';
    if (f.readUInt16BE(14) !== 1 || f.readUInt16BE(16) !== ET.IP || f[18] !== 6 || f[19] !== 4) return 'drop:spoof-arp';
    const sha = f.subarray(22, 28);
    if (!eq(sha, p.mac ?? src)) return 'drop:spoof-arp';
    const sip = f.readUInt32BE(28);
    return sip === 0 || mayUse(sip) ? null : 'drop:spoof-arp';
  }
  return 'drop:ethertype';
}

export const IDENTITY_DROPS = ['drop:spoof-mac', 'drop:spoof-ip', 'drop:spoof-arp', 'drop:ethertype', 'drop:vlan', 'drop:malformed'];

/* ---- the dataplane ------------------------------------------------------ */

/** Router settings (vnf_router_cfg), in milliseconds. */
export interface RouterSettings {
  reachableMs: number;
  retransMs: number;
  failedMs: number;
  ucastProbes: number;
  mcastProbes: number;
  icmpRatelimitMs: number;
}

/**
 * A time no test run outlasts: a timer of at least this long never expires in
 * it, and one of 0 has always expired. The model follows only these two (the
 * rest would depend on how fast the frames are run).
 */
export const LONG_MS = 3_600_000;

export interface LearnedNeigh {
  mac: Buffer;
  state: 'reachable' | 'stale';
  /** Unicast probes claimed since the last confirmation. */
  probes: number;
  /** The port its ARP came from. */
  ifindex: number;
  /** Confirmed with a reachable time of LONG_MS or more: its jiffies deadline is far (the forwarding shortcut). */
  untilFar: boolean;
}

export interface PendingNeigh {
  state: 'incomplete' | 'failed';
  /** Broadcast requests sent. */
  probes: number;
}

const BCAST = Buffer.alloc(6, 0xff);

/** The ARP request frame the router turns a packet into (router_arp_request): 60 bytes. */
function arpRequestFrame(dst: Buffer, src: Buffer): Buffer {
  const f = Buffer.alloc(60);
  dst.copy(f, 0);
  src.copy(f, 6);
  f.writeUInt16BE(ET.ARP, 12);
  return f;
}

export class DpModel {
  readonly ports = new Map<number, PortCfg>();
  readonly nets = new Map<number, NetCfg>();
  readonly routes: RouteCfg[] = [];
  readonly staticFdb = new Map<string, number>();
  readonly learnedFdb = new Map<string, number>();
  readonly learnCount = new Map<number, number>();
  readonly staticNeigh = new Map<string, Buffer>();
  /** vnf_neigh: resolved neighbours, REACHABLE or STALE. */
  readonly learnedNeigh = new Map<string, LearnedNeigh>();
  /** vnf_neigh_pend: next hops being resolved (INCOMPLETE) or that failed to be. */
  readonly pendingNeigh = new Map<string, PendingNeigh>();
  /** ICMP errors sent per (network, destination) under a rate limit of LONG_MS. */
  readonly icmpSent = new Map<string, number>();
  /** vnf_router_cfg as the test wrote it (Linux's defaults until then: timers the model cannot follow). */
  cfg: RouterSettings = {
    reachableMs: VNF_NEIGH_DEF_REACHABLE_MS, retransMs: VNF_NEIGH_DEF_RETRANS_MS, failedMs: VNF_NEIGH_DEF_FAILED_MS,
    ucastProbes: VNF_NEIGH_DEF_UCAST_PROBES, mcastProbes: VNF_NEIGH_DEF_MCAST_PROBES, icmpRatelimitMs: VNF_ICMP_DEF_RATELIMIT_MS,
  };
  /**
   * Whether the programs know the kernel's tick rate (CONFIG_HZ, which libbpf
   * reads from the kernel's config): without it no neighbour gets the
   * forwarding shortcut (vnf/router_cfg.h).
   */
  hzKnown = true;
  fw: FwHook | undefined;

  static fdbKey = (net: number, m: Uint8Array): string => `${net}/${macStr(m)}`;
  static neighKey = (net: number, a: number): string => `${net}/${a >>> 0}`;

  /** A frame from the container behind `ifindex` (vnf_entry_in). */
  entryIn(f: Buffer, ifindex: number): Expect {
    const e = new Expect();
    if (refusedByTestRun(f)) {
      e.refused = true;
      return e;
    }
    const p = this.ports.get(ifindex);
    if (!p) {
      e.add(CORE, 'drop:no-port');
      return e;
    }
    if (p.spoofchk) {
      const why = identityDrop(f, p);
      if (why) {
        e.add(CORE, why);
        return e;
      }
    }
    e.add(CORE, 'pass');
    this.run(e, f, { in: ifindex, out: 0, chain: p.chainIn, pos: 0, net: p.network, fromRouter: false, egressHook: false });
    return e;
  }

  /** A flooded copy at the tcx egress of `ifindex` (vnf_entry_out). */
  entryOut(f: Buffer, ifindex: number): Expect {
    const e = new Expect();
    if (refusedByTestRun(f)) {
      e.refused = true;
      return e;
    }
    const p = this.ports.get(ifindex);
    if (!p) {
      e.add(CORE, 'drop:no-port');
      return e;
    }
    const dst = f.subarray(0, 6);
    if (!isMulticastMac(dst) && p.mac && !isZeroMac(p.mac) && !eq(dst, p.mac)) {
      e.add(CORE, 'drop:not-for-port');
      return e;
    }
    e.add(CORE, 'pass');
    this.run(e, f, { in: 0, out: ifindex, chain: p.chainOut, pos: 0, net: p.network, fromRouter: false, egressHook: true });
    return e;
  }

  /** vnf_router run directly, as the bridge of `net` hands it a frame from port `inIf`. */
  routerDirect(f: Buffer, inIf: number, net: number): Expect {
    const e = new Expect();
    if (refusedByTestRun(f)) {
      e.refused = true;
      return e;
    }
    this.router(e, f, { in: inIf, out: 0, chain: [], pos: 0, net, fromRouter: false, egressHook: false });
    return e;
  }

  /* vnf_run_at: the stage at md.pos of md.chain. */
  private run(e: Expect, f: Buffer, md: Md): void {
    const st = md.chain[md.pos];
    if (st === 'bridge') this.bridge(e, f, md);
    else if (st === 'deliver') this.deliver(e, md);
    else if (st === 'fw') this.fwStage(e, f, md);
    else throw new Error('chain ran off its end');
  }

  private next(e: Expect, f: Buffer, md: Md, caller: number): void {
    e.add(caller, 'pass');
    md.pos++;
    this.run(e, f, md);
  }

  private deliver(e: Expect, md: Md): void {
    if (!md.out) {
      e.add(CORE, 'drop:no-port');
      return;
    }
    e.add(CORE, 'deliver');
    e.retval = md.egressHook ? TC.OK : TC.REDIRECT;
  }

  private forwardToPort(e: Expect, f: Buffer, md: Md, caller: number, reason: string, out: number): void {
    const p = this.ports.get(out);
    if (!p) {
      e.add(caller, 'drop:no-port');
      return;
    }
    if (p.network !== md.net) {
      e.add(caller, 'drop:cross-network');
      return;
    }
    e.add(caller, reason);
    md.out = out;
    md.chain = p.chainOut;
    md.pos = 0;
    this.run(e, f, md);
  }

  /* ---- bridge ---- */

  private fdbLearn(e: Expect, net: number, src: Uint8Array, inIf: number): void {
    const k = DpModel.fdbKey(net, src);
    if (this.staticFdb.has(k)) return;
    if (!this.learnedFdb.has(k)) {
      const c = this.learnCount.get(inIf) ?? 0;
      if (c >= VNF_LEARN_PER_PORT) {
        e.add(BRIDGE, 'learn-limit');
        return;
      }
      this.learnCount.set(inIf, c + 1);
    }
    this.learnedFdb.set(k, inIf);
  }

  private bridge(e: Expect, f: Buffer, md: Md): void {
    const n = this.nets.get(md.net);
    if (!n) {
      e.add(BRIDGE, 'drop:no-network');
      return;
    }
    const dst = f.subarray(0, 6);
    const src = f.subarray(6, 12);
    if (!md.fromRouter && md.in && !isMulticastMac(src) && !isZeroMac(src) && !eq(src, n.routerMac)) this.fdbLearn(e, md.net, src, md.in);
    if (n.routerId && !md.fromRouter) {
      // An ARP request for the router's address (the first 28 bytes of ARP present).
      const arpFor = isMulticastMac(dst) && f.readUInt16BE(12) === ET.ARP && f.length >= 42 && f.readUInt16BE(20) === 1 && f.readUInt32BE(38) === n.routerIp;
      if (eq(dst, n.routerMac) || arpFor) {
        e.add(BRIDGE, 'to-router');
        this.router(e, f, md);
        return;
      }
      // The router's hook: broadcast ARP about to be flooded may be a gratuitous one.
      if (f.readUInt16BE(12) === ET.ARP && isMulticastMac(dst)) this.gratuitousArp(e, f, md, n);
    }
    if (!isMulticastMac(dst)) {
      const k = DpModel.fdbKey(md.net, dst);
      const out = this.staticFdb.get(k) ?? this.learnedFdb.get(k);
      if (out) {
        if (out === md.in) {
          e.add(BRIDGE, 'drop:hairpin');
          return;
        }
        this.forwardToPort(e, f, md, BRIDGE, 'forward', out);
        return;
      }
    }
    e.add(BRIDGE, 'flood');
    e.retval = TC.SHOT;
  }

  /* ---- neighbours (vnf/neigh.h, vnf/router_neigh.h) ---- */

  /** Whether `ip` may be learned on the network whose router port is routerIp/prefix (neigh_may_learn). */
  static mayLearn(ip: number, routerIp: number, prefix: number): boolean {
    if (ip === 0 || ip === routerIp || ip >>> 28 >= 0xe) return false;
    if (prefix === 0 || prefix > 32) return false;
    const host = prefix === 32 ? 0 : (0xffffffff >>> prefix) >>> 0;
    if ((((ip ^ routerIp) & ~host) >>> 0) !== 0) return false;
    return prefix >= 31 || ((ip & host) >>> 0) !== host;
  }

  /** ARP that asks (create) or answers the router: neigh_learn. Whether something was learned or refreshed. */
  private neighLearn(net: number, ip: number, m: Uint8Array, ifindex: number, create: boolean): boolean {
    const k = DpModel.neighKey(net, ip);
    if (this.staticNeigh.has(k)) return false;
    const cur = this.learnedNeigh.get(k);
    if (!cur && !create && !this.pendingNeigh.has(k)) return false;
    // A refresh (same MAC, REACHABLE, unprobed, same port) or a new REACHABLE value: the same entry either way.
    this.learnedNeigh.set(k, { mac: Buffer.from(m), state: 'reachable', probes: 0, ifindex, untilFar: this.hzKnown && this.long(this.cfg.reachableMs) });
    this.pendingNeigh.delete(k);
    return true;
  }

  /** The bridge's hook (neigh_gratuitous_arp): a gratuitous ARP from a known neighbour gives it its MAC, STALE. */
  private gratuitousArp(e: Expect, f: Buffer, md: Md, n: NetCfg): void {
    if (f.length < 42) return;
    if (f.readUInt16BE(14) !== 1 || f.readUInt16BE(16) !== ET.IP || f[18] !== 6 || f[19] !== 4) return;
    const op = f.readUInt16BE(20);
    if (op !== 1 && op !== 2) return;
    const sip = f.readUInt32BE(28);
    if (sip !== f.readUInt32BE(38) || !DpModel.mayLearn(sip, n.routerIp, n.routerPrefix)) return;
    const sha = f.subarray(22, 28);
    if (isMulticastMac(sha) || isZeroMac(sha)) return;
    const k = DpModel.neighKey(md.net, sip);
    if (this.staticNeigh.has(k)) return;
    const cur = this.learnedNeigh.get(k);
    if (cur ? eq(cur.mac, sha) : !this.pendingNeigh.has(k)) return;
    this.learnedNeigh.set(k, { mac: Buffer.from(sha), state: 'stale', probes: 0, ifindex: md.in, untilFar: false });
    this.pendingNeigh.delete(k);
    e.add(ROUTER, 'neigh-update');
  }

  /**
   * A timer of the settings against the time between packets: 0 has always
   * elapsed (a clock that never goes back), LONG_MS never does within a test
   * run; the model follows nothing in between (it would depend on timing).
   */
  private elapsed(ms: number): boolean {
    if (ms === 0) return true;
    if (ms >= LONG_MS) return false;
    throw new Error(`the model follows timers of 0 or at least ${LONG_MS} ms, not ${ms}`);
  }

  private long(ms: number): boolean {
    return !this.elapsed(ms);
  }

  /** neigh_resolve: what to do with a packet whose next hop is `ip` on `net` (the out network). */
  private neighResolve(net: number, ip: number): { v: 'go' | 'go-probe' | 'request' | 'wait' | 'fail'; mac?: Buffer; ifindex?: number } {
    const k = DpModel.neighKey(net, ip);
    const st = this.staticNeigh.get(k);
    if (st) return { v: 'go', mac: st };
    const e = this.learnedNeigh.get(k);
    if (e) {
      const c = this.cfg;
      const go = { mac: e.mac, ifindex: e.ifindex };
      // REACHABLE: by the jiffies it was confirmed until, or by the clock against the reachable time.
      if (e.state === 'reachable' && (e.untilFar || this.long(c.reachableMs))) return { v: 'go', ...go };
      // STALE (or aged): probed at most once per retransmit time, ucast_probes times.
      if (e.probes && !this.elapsed(c.retransMs)) return { v: 'go', ...go };
      e.probes++;
      if (e.probes <= c.ucastProbes) return { v: 'go-probe', ...go };
      // Every probe unanswered: the MAC is forgotten, resolved anew by broadcast.
      this.learnedNeigh.delete(k);
    }
    const p = this.pendingNeigh.get(k);
    if (!p) {
      this.pendingNeigh.set(k, { state: 'incomplete', probes: 1 });
      return { v: 'request' };
    }
    if (p.state === 'failed') {
      if (!this.elapsed(this.cfg.failedMs)) return { v: 'fail' };
      p.state = 'incomplete';
      p.probes = 1;
      return { v: 'request' };
    }
    if (!this.elapsed(this.cfg.retransMs)) return { v: 'wait' };
    if (p.probes < this.cfg.mcastProbes) {
      p.probes++;
      return { v: 'request' };
    }
    p.state = 'failed';
    return { v: 'fail' };
  }

  /** icmp_rl_allow: whether an ICMP error to `dst` on `net` may go (a limit of LONG_MS: a burst, then none). */
  private icmpAllowed(net: number, dst: number): boolean {
    const ms = this.cfg.icmpRatelimitMs;
    if (ms === 0) return true;
    if (ms < LONG_MS) throw new Error(`the model follows ICMP rate limits of 0 or at least ${LONG_MS} ms, not ${ms}`);
    const k = DpModel.neighKey(net, dst);
    const sent = this.icmpSent.get(k) ?? 0;
    if (sent >= VNF_ICMP_BURST) return false;
    this.icmpSent.set(k, sent + 1);
    return true;
  }

  /* ---- router ---- */

  private lpm(routerId: number, a: number): RouteCfg | undefined {
    let best: RouteCfg | undefined;
    for (const r of this.routes) {
      if (r.routerId !== routerId || !inPrefix(a, r.addr, r.plen)) continue;
      if (!best || r.plen > best.plen) best = r;
    }
    return best;
  }

  private router(e: Expect, f: Buffer, md: Md): void {
    const n = this.nets.get(md.net);
    if (!n) return e.add(ROUTER, 'drop:no-network');
    if (!n.routerId) return e.add(ROUTER, 'drop:not-for-us');
    const et = f.readUInt16BE(12);
    if (et === ET.ARP) return this.routerArp(e, f, md, n);
    if (et !== ET.IP) return e.add(ROUTER, 'drop:unsupported');
    if (f.length < 34) return e.add(ROUTER, 'drop:malformed');
    const ver = f[14]! >> 4;
    const ihl = f[14]! & 0x0f;
    if (ver !== 4 || ihl < 5) return e.add(ROUTER, 'drop:malformed');
    const hlen = ihl * 4;
    const tot = f.readUInt16BE(16);
    if (tot < hlen || tot > f.length - 14) return e.add(ROUTER, 'drop:malformed');
    // Martian sources are invalid headers to a router.
    const s0 = f[26]!;
    if (s0 === 0 || s0 === 127 || s0 >= 224) return e.add(ROUTER, 'drop:malformed');
    const daddr = f.readUInt32BE(30);
    let local = daddr === n.routerIp;
    let rt: RouteCfg | undefined;
    let o: NetCfg | undefined;
    if (!local) {
      const d0 = f[30]!;
      if (d0 >= 224) return e.add(ROUTER, 'drop:not-for-us');
      if (d0 === 0 || d0 === 127) return e.add(ROUTER, 'drop:martian');
      rt = this.lpm(n.routerId, daddr);
      if (!rt) return this.icmpError(e, f, md, n, n.routerIp, 3, 0, 'drop:no-route', hlen, tot);
      o = this.nets.get(rt.network);
      if (!o || o.routerId !== n.routerId) return e.add(ROUTER, 'drop:no-network');
      local = daddr === o.routerIp;
    }
    if (local) return this.routerLocal(e, f, md, n, daddr, hlen, tot);
    if (!rt || !o) throw new Error('unreachable');
    // A directed broadcast of a connected subnet is not forwarded.
    const pfx = o.routerPrefix;
    if (rt.connected && pfx > 0 && pfx < 31) {
      const host = (0xffffffff >>> pfx) >>> 0;
      if (((daddr & host) >>> 0) === host) return e.add(ROUTER, 'drop:not-for-us');
    }
    if (f[22]! <= 1) return this.icmpError(e, f, md, n, n.routerIp, 11, 0, 'drop:ttl', hlen, tot);
    const nh = rt.nexthop || daddr;
    const res = this.neighResolve(o.id, nh);
    if (res.v === 'fail') return this.icmpError(e, f, md, n, n.routerIp, 3, 1, 'drop:neigh-failed', hlen, tot);
    if (res.v === 'wait') return e.add(ROUTER, 'drop:neigh-pending');
    md.net = o.id;
    md.fromRouter = true;
    md.in = 0;
    if (res.v === 'request') {
      // The packet becomes the broadcast request, flooded on the out network.
      e.add(ROUTER, 'drop:neigh-miss');
      e.add(ROUTER, 'arp-request');
      e.out = { kind: 'arp-request', dst: BCAST, mac: o.routerMac, sip: o.routerIp, tip: nh };
      this.bridge(e, arpRequestFrame(BCAST, o.routerMac), md);
      return;
    }
    const out = Buffer.from(f);
    res.mac!.copy(out, 0);
    o.routerMac.copy(out, 6);
    if (res.v === 'go-probe') {
      // The routed copy goes to the neighbour's port's egress, the packet becomes the unicast probe (there too).
      const p = this.ports.get(res.ifindex!);
      if (p && p.network === o.id) {
        e.add(ROUTER, 'routed');
        e.add(ROUTER, 'arp-probe');
        e.retval = TC.REDIRECT;
        e.out = { kind: 'arp-request', dst: res.mac!, mac: o.routerMac, sip: o.routerIp, tip: nh };
        return;
      }
      // A port that is gone or elsewhere gets neither: the packet goes on unprobed.
    }
    e.add(ROUTER, 'routed');
    e.out = { kind: 'routed', dstMac: res.mac!, srcMac: o.routerMac };
    this.bridge(e, out, md);
  }

  /* Whether Linux would send an ICMP error about this (icmp_error_allowed). */
  private static icmpErrorAllowed(f: Buffer, hlen: number, tot: number): boolean {
    if (isMulticastMac(f.subarray(0, 6))) return false;
    if (f[30]! >> 4 >= 0xe) return false;
    if (f.readUInt16BE(20) & 0x1fff) return false;
    if (f[23] === P.ICMP) {
      if (tot < hlen + 1 || 14 + hlen + 1 > f.length) return false;
      if (icmpTypeIsError(f[14 + hlen]!)) return false;
    }
    return true;
  }

  /** An ICMP error from (n's MAC, src) back to the sender, counted under `why` either way (router_icmp_error). */
  private icmpError(e: Expect, f: Buffer, md: Md, n: NetCfg, src: number, type: number, code: number, why: string, hlen: number, tot: number): void {
    e.add(ROUTER, why);
    if (!DpModel.icmpErrorAllowed(f, hlen, tot)) return;
    if (!this.icmpAllowed(n.id, f.readUInt32BE(26))) {
      e.add(ROUTER, 'drop:icmp-ratelimit');
      return;
    }
    e.out = { kind: 'icmp-error', type, code, srcMac: n.routerMac, srcIp: src };
    this.forwardToPort(e, f, md, ROUTER, 'icmp-error', md.in);
  }

  /** IPv4 to one of the router's addresses (daddr): echo answered, TCP reset, UDP and others unreachable (router_local). */
  private routerLocal(e: Expect, f: Buffer, md: Md, n: NetCfg, daddr: number, hlen: number, tot: number): void {
    if (f.readUInt16BE(20) & 0x3fff) return e.add(ROUTER, 'drop:unsupported');
    const proto = f[23]!;
    const l4 = 14 + hlen;
    if (proto === P.TCP) {
      // tcp_v4_send_reset: none for a RST, a header cut short or a link-layer multicast.
      const ok = l4 + 20 <= f.length && f[l4 + 12]! >> 4 >= 5 && tot >= hlen + (f[l4 + 12]! >> 4) * 4 &&
        !(f[l4 + 13]! & TCPF.RST) && !isMulticastMac(f.subarray(0, 6)) && daddr >>> 28 < 0xe;
      e.add(ROUTER, 'drop:no-socket');
      if (!ok) return;
      e.out = { kind: 'rst', srcMac: n.routerMac, tos: f[15]! };
      this.forwardToPort(e, f, md, ROUTER, 'tcp-reset', md.in);
      return;
    }
    if (proto !== P.ICMP) return this.icmpError(e, f, md, n, daddr, 3, proto === P.UDP ? 3 : 2, 'drop:no-socket', hlen, tot);
    if (tot < hlen + 8 || l4 + 8 > f.length) return e.add(ROUTER, 'drop:malformed');
    if (f[l4] !== 8) return e.add(ROUTER, 'drop:not-for-us');
    e.out = { kind: 'echo-reply', srcMac: n.routerMac };
    this.forwardToPort(e, f, md, ROUTER, 'icmp-echo-reply', md.in);
  }

  private routerArp(e: Expect, f: Buffer, md: Md, n: NetCfg): void {
    if (f.length < 42) return e.add(ROUTER, 'drop:malformed');
    if (f.readUInt16BE(14) !== 1 || f.readUInt16BE(16) !== ET.IP || f[18] !== 6 || f[19] !== 4) return e.add(ROUTER, 'drop:unsupported');
    if (f.readUInt32BE(38) !== n.routerIp) return e.add(ROUTER, 'drop:not-for-us');
    const sha = f.subarray(22, 28);
    if (isMulticastMac(sha) || isZeroMac(sha)) return e.add(ROUTER, 'drop:malformed');
    const sip = f.readUInt32BE(28);
    const learn = DpModel.mayLearn(sip, n.routerIp, n.routerPrefix);
    const op = f.readUInt16BE(20);
    if (op === 1) {
      if (learn) this.neighLearn(md.net, sip, sha, md.in, true);
      e.out = { kind: 'arp-reply', mac: n.routerMac, ip: n.routerIp };
      this.forwardToPort(e, f, md, ROUTER, 'arp-reply', md.in);
      return;
    }
    if (op === 2 && learn && this.neighLearn(md.net, sip, sha, md.in, false)) return e.add(ROUTER, 'arp-learn');
    e.add(ROUTER, 'drop:not-for-us');
  }

  /* ---- firewall stage ---- */

  private fwStage(e: Expect, f: Buffer, md: Md): void {
    if (!this.fw) throw new Error('a chain runs the firewall but the model has no firewall hook');
    const point = md.out || md.in;
    const dir = md.out ? VNF_DIR_TX : VNF_DIR_RX;
    const d = this.fw(f, point, dir, md.egressHook);
    if (d.action === 'observe') {
      // Conntrack decides: what the firewall and everything after it count is read, not predicted.
      e.observed = true;
      e.out = { kind: 'observe' };
      for (const v of [FW, BRIDGE]) for (const r of REASONS_OF[v]!) e.observe.add(idx(v, r));
      for (const r of ['deliver', 'drop:no-port', 'drop:cross-network']) e.observe.add(idx(CORE, r));
      return;
    }
    for (const r of d.reasons) e.add(FW, r);
    if (d.action === 'drop') return;
    if (d.action === 'pass') {
      this.next(e, f, md, FW);
      return;
    }
    e.out = d.answer === 'rst' ? { kind: 'rst', tos: 0 } : { kind: 'unreach' };
    if (dir === VNF_DIR_RX) {
      // Straight back to the sender (bpf_redirect_peer).
      e.retval = TC.REDIRECT;
      return;
    }
    // To the container: the answer leaves as if the container sent it, through its bridge.
    const answer = Buffer.alloc(60);
    f.copy(answer, 0, 6, 12);
    f.copy(answer, 6, 0, 6);
    answer.writeUInt16BE(ET.IP, 12);
    this.bridge(e, answer, { ...md, in: point, out: 0, fromRouter: false, egressHook: false });
  }
}

/** Types the router never answers with an error (Linux: icmp_pointers[].error, and unknown types above 18). */
export function icmpTypeIsError(t: number): boolean {
  return t === 3 || t === 4 || t === 5 || t === 11 || t === 12 || t > 18;
}

/* ---- the firewall's view of a frame -------------------------------------- */

export const FwKind = { PORTS: 0, OTHER: 1, ECHO_REQ: 2, ECHO_REP: 3, ICMP: 4, ICMP_ERR: 5, FRAG: 6 } as const;

export interface FwParsed {
  saddr: number;
  daddr: number;
  proto: number;
  kind: number;
  /** Conntrack ports (ICMP echo: id, 0). */
  sport: number;
  dport: number;
  /** Classification ports (ICMP: 0, type). */
  csport: number;
  cdport: number;
  tcpFlags: number;
  firstFrag: boolean;
  ipId: number;
  hlen: number;
  tot: number;
  /** ICMP errors: the quoted packet could be read, and its tuple. */
  inOk: boolean;
  inSaddr: number;
  inDaddr: number;
  inProto: number;
  inSport: number;
  inDport: number;
  /** Quoted ICMP: 8 request, 0 reply, 0xff anything else. */
  inEcho: number;
}

/** Linux's icmp_is_err(): the ICMP errors conntrack relates to another packet. */
const fwIcmpIsError = (t: number): boolean => t === 3 || t === 4 || t === 5 || t === 11 || t === 12;

/**
 * The IPv4 packet as the firewall must read it, or null when no host would
 * accept it (bad version or header length, a total length beyond the frame,
 * an L4 header cut short, a TCP fragment at offset 8).
 */
export function fwParse(f: Buffer): FwParsed | null {
  if (f.length < 34) return null;
  const ver = f[14]! >> 4;
  const ihl = f[14]! & 0x0f;
  if (ver !== 4 || ihl < 5) return null;
  const hlen = ihl * 4;
  const tot = f.readUInt16BE(16);
  if (tot < hlen || tot > f.length - 14) return null;
  const proto = f[23]!;
  const frag = f.readUInt16BE(20);
  const foff = frag & 0x1fff;
  const p: FwParsed = {
    saddr: f.readUInt32BE(26), daddr: f.readUInt32BE(30), proto, kind: FwKind.OTHER, sport: 0, dport: 0, csport: 0, cdport: 0,
    tcpFlags: 0, firstFrag: (frag & 0x2000) !== 0 && foff === 0, ipId: f.readUInt16BE(18), hlen, tot,
    inOk: false, inSaddr: 0, inDaddr: 0, inProto: 0, inSport: 0, inDport: 0, inEcho: 0xff,
  };
  if (foff) {
    if (foff === 1 && proto === P.TCP) return null;
    p.kind = FwKind.FRAG;
    return p;
  }
  const l4 = 14 + hlen;
  const l4len = tot - hlen;
  if (proto === P.TCP) {
    if (l4len < 20) return null;
    const doff = f[l4 + 12]! >> 4;
    if (doff < 5 || doff * 4 > l4len) return null;
    p.kind = FwKind.PORTS;
    p.sport = p.csport = f.readUInt16BE(l4);
    p.dport = p.cdport = f.readUInt16BE(l4 + 2);
    p.tcpFlags = f[l4 + 13]!;
    return p;
  }
  if (proto === P.UDP || proto === P.ICMP) {
    if (l4len < 8) return null;
    if (proto === P.UDP) {
      p.kind = FwKind.PORTS;
      p.sport = p.csport = f.readUInt16BE(l4);
      p.dport = p.cdport = f.readUInt16BE(l4 + 2);
      return p;
    }
    const type = f[l4]!;
    p.cdport = type;
    if (type === 8 || type === 0) {
      p.kind = type === 8 ? FwKind.ECHO_REQ : FwKind.ECHO_REP;
      p.sport = f.readUInt16BE(l4 + 4);
      return p;
    }
    if (fwIcmpIsError(type)) {
      p.kind = FwKind.ICMP_ERR;
      p.inOk = !p.firstFrag && parseQuote(f, l4 + 8, l4len - 8, p);
      return p;
    }
    p.kind = FwKind.ICMP;
    return p;
  }
  return p;
}

function parseQuote(f: Buffer, off: number, avail: number, p: FwParsed): boolean {
  if (avail < 20) return false;
  const ver = f[off]! >> 4;
  const ihl = f[off]! & 0x0f;
  if (ver !== 4 || ihl < 5) return false;
  p.inSaddr = f.readUInt32BE(off + 12);
  p.inDaddr = f.readUInt32BE(off + 16);
  p.inProto = f[off + 9]!;
  p.inSport = 0;
  p.inDport = 0;
  p.inEcho = 0xff;
  if (p.inProto !== P.TCP && p.inProto !== P.UDP && p.inProto !== P.ICMP) return true;
  if (f.readUInt16BE(off + 6) & 0x1fff) return false;
  if (avail < ihl * 4 + 8) return false;
  const l4 = off + ihl * 4;
  if (p.inProto === P.ICMP) {
    const t = f[l4]!;
    if (t === 8 || t === 0) {
      p.inEcho = t;
      p.inSport = f.readUInt16BE(l4 + 4);
    }
    return true;
  }
  p.inSport = f.readUInt16BE(l4);
  p.inDport = f.readUInt16BE(l4 + 2);
  return true;
}

/** The classifier's packet of a parsed frame. */
export const fwPacketOf = (p: FwParsed): FwPacket => ({ proto: p.proto, saddr: p.saddr, daddr: p.daddr, sport: p.csport, dport: p.cdport });

const isFull = (rs: ReadonlyArray<readonly [number, number]>): boolean => rs.length === 1 && rs[0]![0] === 0 && rs[0]![1] === 65535;

/**
 * A rule against a packet without its L4 header (a non-first fragment whose
 * first was not seen): only rules that name no ports and no ICMP type can
 * match it (README: "classified on addresses and protocol only").
 */
export function ruleMatchesPortless(r: FirewallRule, p: FwPacket): boolean {
  if (r.proto !== 'any' && PROTO[r.proto] !== p.proto) return false;
  if (!inPrefix(p.saddr, r.src.addr, r.src.prefix) || !inPrefix(p.daddr, r.dst.addr, r.dst.prefix)) return false;
  if (r.proto === 'tcp' || r.proto === 'udp') return isFull(r.sports) && isFull(r.dports);
  if (r.proto === 'icmp') return r.icmpType === undefined;
  return true;
}

export function referenceClassifyPortless(d: FirewallDirection, p: FwPacket): { rule: number; action: 'allow' | 'drop' | 'reject' } {
  for (const r of d.rules) if (ruleMatchesPortless(r, p)) return { rule: r.index, action: r.action };
  return { rule: -1, action: d.default };
}

/** The reference's verdict for a parsed frame (portless for a non-first fragment). */
export function referenceFor(d: FirewallDirection, p: FwParsed): { rule: number; action: 'allow' | 'drop' | 'reject' } {
  return p.kind === FwKind.FRAG ? referenceClassifyPortless(d, fwPacketOf(p)) : referenceClassify(d, fwPacketOf(p));
}

export interface FwPrediction {
  decision: FwDecision;
  parsed: FwParsed | null;
  /** The reference's verdict, when the frame was classified. */
  ref?: { rule: number; action: 'allow' | 'drop' | 'reject' };
  /** A conntrack entry is created (its key: zone, parsed tuple). */
  tracked: boolean;
}

/**
 * The firewall's verdict for a frame of a connection it does not track (no
 * conntrack entry and no remembered first fragment): what the README says a
 * new packet gets. ARP passes, other non-IPv4 is dropped, malformed IPv4 is
 * dropped, ICMP errors relate to nothing, TCP opens only with a bare SYN, and
 * the rest is classified by the reference: allow passes (tracked for TCP, UDP,
 * other protocols and echo requests, unless it is a broadcast/multicast copy at
 * the egress hook), drop drops, reject answers with a RST
 * or ICMP port unreachable where Linux's REJECT would.
 */
export function fwStateless(f: Buffer, d: FirewallDirection, egressHook: boolean): FwPrediction {
  const et = f.readUInt16BE(12);
  if (et === ET.ARP) return { decision: { action: 'pass', reasons: ['fw-not-ip'] }, parsed: null, tracked: false };
  if (et !== ET.IP) return { decision: { action: 'drop', reasons: ['drop:unsupported'] }, parsed: null, tracked: false };
  const p = fwParse(f);
  if (!p) return { decision: { action: 'drop', reasons: ['drop:malformed'] }, parsed: null, tracked: false };
  if (p.kind === FwKind.ICMP_ERR) return { decision: { action: 'drop', reasons: ['drop:ct-invalid'] }, parsed: p, tracked: false };
  if (p.proto === P.TCP && p.kind !== FwKind.FRAG && (p.tcpFlags & (TCPF.SYN | TCPF.ACK | TCPF.RST | TCPF.FIN)) !== TCPF.SYN) {
    return { decision: { action: 'drop', reasons: ['drop:ct-invalid'] }, parsed: p, tracked: false };
  }
  const ref = referenceFor(d, p);
  if (ref.action === 'allow') {
    // A broadcast/multicast copy flooded to the port's egress hook is allowed but opens no
    // connection in the port's zone (README, "Connection tracking holds under pressure").
    const floodedToAll = egressHook && (f[0]! & 1) === 1;
    const tracked = (p.kind === FwKind.PORTS || p.kind === FwKind.OTHER || p.kind === FwKind.ECHO_REQ) && !floodedToAll;
    return { decision: { action: 'pass', reasons: tracked ? ['ct-new', 'fw-allow'] : ['fw-allow'] }, parsed: p, ref, tracked };
  }
  if (ref.action === 'drop') return { decision: { action: 'drop', reasons: ['drop:policy'] }, parsed: p, ref, tracked: false };
  const nonfirst = p.kind === FwKind.FRAG;
  const answer = !nonfirst && !egressHook ? rejectAnswer(f, p) : null;
  return {
    decision: answer ? { action: 'answer', answer, reasons: ['drop:reject', 'fw-reject-sent'] } : { action: 'drop', reasons: ['drop:reject'] },
    parsed: p, ref, tracked: false,
  };
}

/** The answer Linux's REJECT sends for a packet, or null when it sends none. */
export function rejectAnswer(f: Buffer, p: FwParsed): 'rst' | 'unreach' | null {
  if (isMulticastMac(f.subarray(0, 6)) || p.daddr >>> 28 >= 0xe) return null;
  if (p.proto === P.TCP) return p.tcpFlags & TCPF.RST ? null : 'rst';
  if (f.readUInt16BE(20) & 0x1fff) return null;
  if (p.proto === P.ICMP && icmpTypeIsError(f[14 + p.hlen]!)) return null;
  return 'unreach';
}

export { maskOf };
