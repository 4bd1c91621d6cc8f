/**
 * A dataplane with firewalls for BPF_PROG_TEST_RUN tests: entry + bridge +
 * firewall objects loaded with their maps pinned under a fresh bpffs folder,
 * one network of veth ports whose chains run the firewall as the control
 * plane sets them up:
 *   chain_in  [firewall, bridge]   (from the container: its egress policy, VNF_DIR_RX)
 *   chain_out [firewall, deliver]  (to the container: its ingress policy, VNF_DIR_TX)
 * Every port starts with allow-all rule sets bound in both directions and a
 * static FDB entry for its container's MAC, so a packet run from one port
 * crosses the sender's egress policy, the bridge and the receiver's ingress
 * policy, and is delivered (TC_ACT_REDIRECT) when both allow it.
 */
import type { Test } from 'tap';
import { skbContext } from '../../src/bpf/skb.js';
import { BPF_ANY } from '../../src/bpf/map.js';
import { u32 } from '../../src/codec/struct.js';
import { unhex, type MapEntries } from '../../src/model/desired.js';
import type { FirewallDirection, FirewallRule, Protocol } from '../../src/vnf/firewall/model.js';
import { sumCounters, VNF_DIR_RX, VNF_DIR_TX, VNF_ID_DELIVER, type Counter } from '../../src/vnf/common/codec.js';
import { VNF_FDB_F_STATIC, VNF_ID_BRIDGE } from '../../src/vnf/bridge/codec.js';
import { ctCfgCodec, ctEntryCodec, ctKeyCodec, timeoutTable, type CtEntry, type CtKey } from '../../src/vnf/conntrack/codec.js';
import { compileRuleSet, type CompiledRuleSet } from '../../src/vnf/firewall/classifier.js';
import { fwBindCodec, fwBindKeyCodec, VNF_ID_FIREWALL } from '../../src/vnf/firewall/codec.js';
import { ruleSetEntries } from '../../src/vnf/firewall/entries.js';
import { DEFAULT_CONNTRACK_TIMEOUTS, type ConntrackTimeouts } from '../../src/vnf/conntrack/model.js';
import type { NativeTestRunResult } from '../../src/native/binding.js';
import { createPorts, loadDataplane, type TestPort, type TestDataplane } from './dataplane.js';
import {
  eth, ETH_P_IP, inetChecksum, ip4, IPPROTO_ICMP, IPPROTO_TCP, IPPROTO_UDP, ipv4, tcp, tcpOptions, udp, icmpEcho,
  TCP_ACK, TCP_FIN, TCP_SYN, type TcpOpts,
} from './packets.js';

export { VNF_DIR_RX, VNF_DIR_TX, VNF_ID_FIREWALL };

export const TC_ACT_OK = 0;
export const TC_ACT_SHOT = 2;
export const TC_ACT_REDIRECT = 7;
export const NET = 1;

/** The core's DELIVER reason (counted under VNF_ID_CORE, not the firewall). */
export const R_DELIVER = 8;

/** Reason codes of enum vnf_reason the firewall counts (bpf/abi/vnf_common.h). */
export const R = {
  PASS: 0,
  FW_ALLOW: 11,
  FW_ESTABLISHED: 12,
  FW_REPLY: 13,
  FW_RELATED: 14,
  FW_REJECT_SENT: 15,
  FW_NOT_IP: 16,
  CT_NEW: 17,
  CT_EXPIRED: 18,
  CT_REVALIDATED: 19,
  DROP_MALFORMED: 35,
  DROP_UNSUPPORTED: 41,
  DROP_REDIRECT: 42,
  DROP_POLICY: 43,
  DROP_NO_POLICY: 46,
  DROP_CT_INVALID: 47,
  DROP_REJECT: 48,
  DROP_CT_FULL: 49,
} as const;
export type ReasonName = keyof typeof R;

/** enum vnf_ct_state */
export const CT = {
  SYN_SENT: 1, SYN_RECV: 2, ESTABLISHED: 3, FIN_WAIT: 4, CLOSE_WAIT: 5, LAST_ACK: 6, TIME_WAIT: 7, CLOSE: 8, UDP: 9, UDP_REPLIED: 10, ICMP: 11,
  SYN_SENT2: 12,
} as const;

export interface FwPort extends TestPort {
  /** Container MAC and address behind the port. */
  mac: string;
  ip: string;
  chainIn: number;
  chainOut: number;
}

/** A rule in the shorthand tests write; normalized like the spec does. */
export interface RuleSpec {
  action: 'allow' | 'drop' | 'reject';
  proto?: Protocol;
  from?: string; // a.b.c.d/len or a.b.c.d
  to?: string;
  ports?: Array<[number, number]>;
  sports?: Array<[number, number]>;
  icmpType?: number;
}

const ANY: Array<[number, number]> = [[0, 65535]];

function prefix(s: string | undefined): { addr: number; prefix: number } {
  if (!s) return { addr: 0, prefix: 0 };
  const [a, l] = s.split('/');
  const plen = l === undefined ? 32 : Number(l);
  const mask = plen === 0 ? 0 : (0xffffffff << (32 - plen)) >>> 0;
  return { addr: (ip4(a!) & mask) >>> 0, prefix: plen };
}

/** A firewall direction from shorthand rules (indexes in order). */
export function direction(def: 'allow' | 'drop', rules: RuleSpec[] = []): FirewallDirection {
  return {
    default: def,
    rules: rules.map((r, index): FirewallRule => ({
      index,
      action: r.action,
      proto: r.proto ?? 'any',
      src: prefix(r.from),
      dst: prefix(r.to),
      dports: r.ports ?? ANY,
      sports: r.sports ?? ANY,
      ...(r.icmpType !== undefined ? { icmpType: r.icmpType } : {}),
    })),
  };
}

export interface FwLab {
  dp: TestDataplane;
  ports: FwPort[];
  /** Compiles a direction, writes its rule set and binds it to (port, dir). */
  bind(port: FwPort, dir: number, d: FirewallDirection, name?: string): CompiledRuleSet;
  /** Writes a compiled rule set's entries (batched). */
  /** Writes a compiled rule set into rule set `id` (its own content id by default). */
  writeRuleSet(c: CompiledRuleSet, id?: number): void;
  /** Removes every entry of rule set `id` (root and leaves). */
  clearRuleSet(id: number): void;
  /** Points (port, dir) at a rule set id (the one-update flip). */
  bindId(port: FwPort, dir: number, ruleset: number): void;
  unbind(port: FwPort, dir: number): void;
  setTimeouts(t: Partial<ConntrackTimeouts>): void;
  /** vnf_ct_cfg: timeouts (Linux's defaults), quotas and the collector's period (0: the kernel's defaults). */
  setConntrack(c: { timeouts?: Partial<ConntrackTimeouts>; maxPerPort?: number; maxNewPerPort?: number; gcIntervalMs?: number }): void;
  /** A packet from the container behind `port` (vnf_entry_in: chain_in). */
  runFrom(port: FwPort, pkt: Buffer): NativeTestRunResult;
  /** A packet to the container behind `port`, handed over as the bridge does
   * (vnf_firewall run with md = [in, out=port, chain_out, NET, 0]). */
  runTo(port: FwPort, pkt: Buffer, from?: FwPort): NativeTestRunResult;
  /** vnf_firewall run directly with an explicit md (cb[0..4]). */
  runFirewall(pkt: Buffer, cb: number[], ifindex: number, repeat?: number): NativeTestRunResult;
  /** Firewall counters (vnf_stats of VNF_ID_FIREWALL) by reason. */
  stat(reason: ReasonName): bigint;
  stats(): Record<ReasonName, bigint>;
  /** Per-rule counter (vnf_fw_stats) by counter id. */
  ruleCounter(counter: number): Counter;
  ct(key: CtKey): CtEntry | null;
  setCt(key: CtKey, e: CtEntry): void;
  ctEntries(): Array<[CtKey, CtEntry]>;
  clearCt(): void;
}

const MACS = ['02:00:00:00:00:0a', '02:00:00:00:00:0b', '02:00:00:00:00:0c', '02:00:00:00:00:0d'];

/** Map entries -> [key, value] pairs for updateMany. */
const pairs = (m: MapEntries): Array<[Buffer, Buffer]> => [...m.entries()].map(([k, v]) => [unhex(k), v]);

/**
 * Loads entry + bridge + firewall, creates `n` ports on network NET
 * (10.0.0.1.. behind them) with firewall chains and allow-all rule sets.
 */
export async function firewallLab(t: Test, n = 2): Promise<FwLab> {
  const dp = await loadDataplane(t, ['entry', 'bridge', 'firewall']);
  // The slot, whether or not dataplane.ts's SLOTS lists the firewall.
  dp.map('vnf_progs').update(u32(VNF_ID_FIREWALL), u32(dp.objects.get('firewall')!.program('vnf_firewall').fd));
  const raw = createPorts(t, n);
  const chainIn = dp.addChain([VNF_ID_FIREWALL, VNF_ID_BRIDGE]);
  const chainOut = dp.addChain([VNF_ID_FIREWALL, VNF_ID_DELIVER]);
  const ports: FwPort[] = raw.map((p, i) => ({ ...p, mac: MACS[i]!, ip: `10.0.0.${i + 1}`, chainIn, chainOut }));
  for (const p of ports) {
    dp.setPort(p.ifindex, { network: NET, chain_in: chainIn, chain_out: chainOut, mac: p.mac, ip: ip4(p.ip), prefix: 24 });
    dp.setFdb(NET, p.mac, { ifindex: p.ifindex, flags: VNF_FDB_F_STATIC });
  }
  dp.setNetwork(NET, { ports: ports.map((p) => p.ifindex) });
  const fw = dp.program('vnf_firewall');

  const lab: FwLab = {
    dp,
    ports,
    writeRuleSet(c, id = c.id) {
      const e = ruleSetEntries(c, undefined, id);
      // Leaves first, the set last: a packet never sees a set whose parts are missing.
      for (const m of ['vnf_fw_rules', 'vnf_fw_ports', 'vnf_fw_cls', 'vnf_fw_tuples', 'vnf_fw_sets'] as const) {
        dp.map(m).updateMany(pairs(e[m]), BPF_ANY);
      }
    },
    clearRuleSet(id) {
      for (const m of ['vnf_fw_sets', 'vnf_fw_tuples', 'vnf_fw_cls', 'vnf_fw_ports', 'vnf_fw_rules'] as const) {
        const map = dp.map(m);
        const of = (k: Buffer): number => (m === 'vnf_fw_ports' ? k.readUInt32BE(4) : k.readUInt32LE(0));
        for (const k of map.keys()) if (of(k) === id) map.delete(k);
      }
    },
    bindId(port, dir, ruleset) {
      dp.map('vnf_fw_bind').update(fwBindKeyCodec.encode({ ifindex: port.ifindex, dir }), fwBindCodec.encode({ ruleset, flags: 0 }));
    },
    bind(port, dir, d, name = 'fw') {
      const c = compileRuleSet(name, dir === VNF_DIR_RX ? 'egress' : 'ingress', d);
      lab.writeRuleSet(c);
      lab.bindId(port, dir, c.id);
      return c;
    },
    unbind(port, dir) {
      dp.map('vnf_fw_bind').delete(fwBindKeyCodec.encode({ ifindex: port.ifindex, dir }));
    },
    setTimeouts(tmo) {
      const cur = ctCfgCodec.decode(dp.map('vnf_ct_cfg').lookup(u32(0))!);
      const table = timeoutTable({ ...DEFAULT_CONNTRACK_TIMEOUTS, ...tmo });
      dp.map('vnf_ct_cfg').update(u32(0), ctCfgCodec.encode({ ...cur, timeout: table }));
    },
    setConntrack(c) {
      const cur = ctCfgCodec.decode(dp.map('vnf_ct_cfg').lookup(u32(0))!);
      dp.map('vnf_ct_cfg').update(u32(0), ctCfgCodec.encode({
        timeout: c.timeouts ? timeoutTable({ ...DEFAULT_CONNTRACK_TIMEOUTS, ...c.timeouts }) : cur.timeout,
        max_assured: c.maxPerPort ?? cur.max_assured,
        max_new: c.maxNewPerPort ?? cur.max_new,
        gc_interval_ms: c.gcIntervalMs ?? cur.gc_interval_ms,
      }));
    },
    runFrom(port, pkt) {
      return dp.runFrom(port.ifindex, pkt);
    },
    runTo(port, pkt, from) {
      return lab.runFirewall(pkt, [from?.ifindex ?? 0, port.ifindex, port.chainOut, NET, 0], port.ifindex);
    },
    runFirewall(pkt, cb, ifindex, repeat) {
      return fw.testRun({ data: pkt, ctx: skbContext({ ifindex, cb }), ...(repeat ? { repeat } : {}) });
    },
    stat: (reason) => dp.stat(VNF_ID_FIREWALL, R[reason]).packets,
    stats() {
      return Object.fromEntries(Object.keys(R).map((k) => [k, lab.stat(k as ReasonName)])) as Record<ReasonName, bigint>;
    },
    ruleCounter(counter) {
      const m = dp.map('vnf_fw_stats');
      const v = m.lookup(u32(counter));
      return v ? sumCounters(m.splitPerCpu(v)) : { packets: 0n, bytes: 0n };
    },
    ct(key) {
      const v = dp.map('vnf_ct').lookup(ctKeyCodec.encode(key));
      return v ? ctEntryCodec.decode(v) : null;
    },
    setCt(key, e) {
      dp.map('vnf_ct').update(ctKeyCodec.encode(key), ctEntryCodec.encode(e));
    },
    ctEntries() {
      return dp.map('vnf_ct').entries().map(([k, v]) => [ctKeyCodec.decode(k), ctEntryCodec.decode(v)]);
    },
    clearCt() {
      const m = dp.map('vnf_ct');
      m.deleteMany(m.keys());
    },
  };
  for (const p of ports) {
    lab.bind(p, VNF_DIR_RX, direction('allow'), 'open');
    lab.bind(p, VNF_DIR_TX, direction('allow'), 'open');
  }
  return lab;
}

/** Counts of a set of reasons before/after a run: the deltas. */
export function delta(lab: FwLab, run: () => void): Partial<Record<ReasonName, bigint>> {
  const before = lab.stats();
  run();
  const after = lab.stats();
  const out: Partial<Record<ReasonName, bigint>> = {};
  for (const k of Object.keys(R) as ReasonName[]) if (after[k] !== before[k]) out[k] = after[k] - before[k];
  return out;
}

/* ---- packets ------------------------------------------------------------ */

export interface Ends {
  src: FwPort | { mac: string; ip: string };
  dst: FwPort | { mac: string; ip: string };
}

export function tcpFrame(e: Ends, sport: number, dport: number, flags: number, seq = 1000, ack = 0, data: Buffer = Buffer.alloc(0), o: TcpOpts = {}): Buffer {
  return eth(e.dst.mac, e.src.mac, ETH_P_IP, ipv4({ src: e.src.ip, dst: e.dst.ip, proto: IPPROTO_TCP, id: 0x1111 }, tcp(e.src.ip, e.dst.ip, sport, dport, flags, seq, ack, data, o)));
}

/** One end of a TcpSession: what its stack would put in the next segment. */
export interface TcpEnd {
  port: FwPort;
  portNo: number;
  /** Next sequence number it sends (SND.NXT). */
  nxt: number;
  /** What it acknowledges (RCV.NXT). */
  ack: number;
  /** Raw window field it advertises (scaled by its wscale once both SYNs had one; a SYN carries it unscaled, at most 65535). */
  win: number;
  /** Window scale option of its SYN (undefined: none). */
  wscale?: number;
  sackPerm: boolean;
}

export interface SegOpts {
  /** Payload, or its length (zero-filled). */
  data?: Buffer | number;
  seq?: number;
  ack?: number;
  win?: number;
  options?: Buffer;
  /** Move the sender's SND.NXT and the peer's RCV.NXT past this segment (default true). */
  advance?: boolean;
}

/**
 * A TCP connection between two ports as two real stacks would number it:
 * each end keeps its next sequence number and what it acknowledges, so
 * tests write "the client sends 1000 bytes" and get realistic segments, or
 * override seq/ack/window to forge or replay one. `frame()` only builds the
 * segment (the test runs it through the lab); by default it moves the
 * numbers on as if it was delivered.
 */
export class TcpSession {
  readonly c: TcpEnd;
  readonly s: TcpEnd;

  constructor(client: FwPort, server: FwPort, sport: number, dport: number,
    o: { cIsn?: number; sIsn?: number; cWin?: number; sWin?: number; cWscale?: number; sWscale?: number; sack?: boolean } = {}) {
    this.c = { port: client, portNo: sport, nxt: o.cIsn ?? 0x1000_0000, ack: 0, win: o.cWin ?? 64240, wscale: o.cWscale, sackPerm: o.sack ?? false };
    this.s = { port: server, portNo: dport, nxt: o.sIsn ?? 0x7000_0000, ack: 0, win: o.sWin ?? 65160, wscale: o.sWscale, sackPerm: o.sack ?? false };
  }

  /** A segment from `who` ('c' client, 's' server) with `flags`. */
  frame(who: 'c' | 's', flags: number, o: SegOpts = {}): Buffer {
    const me = who === 'c' ? this.c : this.s;
    const peer = who === 'c' ? this.s : this.c;
    const data: Buffer = typeof o.data === 'number' ? Buffer.alloc(o.data, 0x61) : Buffer.from(o.data ?? Buffer.alloc(0));
    const seq = o.seq ?? me.nxt;
    const ack = o.ack ?? me.ack;
    let options = o.options;
    if (!options && (flags & TCP_SYN)) {
      options = tcpOptions({ mss: 1460, sackPerm: me.sackPerm, ...(me.wscale !== undefined ? { wscale: me.wscale } : {}) });
    }
    const synWin = Math.min(65535, me.win * 2 ** (me.wscale ?? 0));
    const f = tcpFrame({ src: me.port, dst: peer.port }, me.portNo, peer.portNo, flags, seq, (flags & TCP_ACK) ? ack : 0, data,
      { window: o.win ?? ((flags & TCP_SYN) ? synWin : me.win), ...(options ? { options } : {}) });
    if (o.advance ?? true) {
      const end = (seq + data.length + ((flags & TCP_SYN) ? 1 : 0) + ((flags & TCP_FIN) ? 1 : 0)) >>> 0;
      if (((end - me.nxt) | 0) > 0) me.nxt = end;
      if (((end - peer.ack) | 0) > 0 || peer.ack === 0) peer.ack = end;
    }
    return f;
  }
}

export function udpFrame(e: Ends, sport: number, dport: number, data = Buffer.from('datagram payload')): Buffer {
  return eth(e.dst.mac, e.src.mac, ETH_P_IP, ipv4({ src: e.src.ip, dst: e.dst.ip, proto: IPPROTO_UDP, id: 0x2222 }, udp(e.src.ip, e.dst.ip, sport, dport, data)));
}

export function echoFrame(e: Ends, type: 8 | 0, id: number, seq = 1): Buffer {
  return eth(e.dst.mac, e.src.mac, ETH_P_IP, ipv4({ src: e.src.ip, dst: e.dst.ip, proto: IPPROTO_ICMP, id: 0x3333 }, icmpEcho(type, id, seq)));
}

/** An ICMP message of any type: 4 bytes of header rest, then `body`. */
export function icmpMsg(type: number, code: number, body: Buffer, rest = Buffer.alloc(4)): Buffer {
  const m = Buffer.concat([Buffer.from([type, code, 0, 0]), rest, body]);
  m.writeUInt16BE(inetChecksum(m), 2);
  return m;
}

export function icmpFrame(e: Ends, type: number, code: number, body = Buffer.alloc(8)): Buffer {
  return eth(e.dst.mac, e.src.mac, ETH_P_IP, ipv4({ src: e.src.ip, dst: e.dst.ip, proto: IPPROTO_ICMP, id: 0x4444 }, icmpMsg(type, code, body)));
}

/** An ICMP error from `e.src` to `e.dst` quoting `inner` (a whole frame): its IPv4 header + 8 bytes. */
export function icmpErrorFrame(e: Ends, type: number, code: number, inner: Buffer): Buffer {
  const ihl = (inner[14]! & 0x0f) * 4;
  return icmpFrame(e, type, code, Buffer.from(inner.subarray(14, 14 + ihl + 8)));
}

/** Any IP protocol with an opaque payload. */
export function protoFrame(e: Ends, proto: number, payload = Buffer.alloc(24, 0x5a)): Buffer {
  return eth(e.dst.mac, e.src.mac, ETH_P_IP, ipv4({ src: e.src.ip, dst: e.dst.ip, proto, id: 0x5555 }, payload));
}

/** An IPv4 fragment: `payload` at byte offset `offset` (multiple of 8) of the datagram `id`. */
export function fragmentFrame(e: Ends, proto: number, id: number, offset: number, more: boolean, payload: Buffer): Buffer {
  const h = Buffer.alloc(20);
  h[0] = 0x45;
  h.writeUInt16BE(20 + payload.length, 2);
  h.writeUInt16BE(id, 4);
  h.writeUInt16BE((more ? 0x2000 : 0) | (offset / 8), 6);
  h[8] = 64;
  h[9] = proto;
  h.writeUInt32BE(ip4(e.src.ip), 12);
  h.writeUInt32BE(ip4(e.dst.ip), 16);
  h.writeUInt16BE(inetChecksum(h), 10);
  return eth(e.dst.mac, e.src.mac, ETH_P_IP, Buffer.concat([h, payload]));
}

/** The conntrack key of a TCP/UDP flow in its original direction at `zone`. */
export function flowKey(zone: FwPort, proto: number, src: string, dst: string, sport: number, dport: number): CtKey {
  return { zone: zone.ifindex, saddr: ip4(src), daddr: ip4(dst), sport, dport, proto };
}
