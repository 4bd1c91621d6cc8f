/**
 * The NAT lab of the BPF tier: entry + bridge + nat loaded with router 7's NAT in their maps
 * (outside network WAN, its address 192.0.2.2; inside network FRONT; masquerade 10.1.0.0/24
 * and 10.2.0.0/24, ports 20000-29999; floating 10.1.0.10 <-> 192.0.2.10; forwards tcp 8080 ->
 * 10.1.0.10:80, udp 5353 -> 10.2.0.10:53), the three points to run frames at, and frame
 * builders and checks (checksums recomputed from the output bytes, never trusted).
 */
import { enum_vnf_reason } from '../../src/abi/vnf_common.js';
import { enum_vnf_ct_state } from '../../src/abi/conntrack.js';
import type { Test } from 'tap';
import { u32 } from '../../src/codec/struct.js';
import { VNF_ID_DELIVER } from '../../src/vnf/common/codec.js';
import { VNF_FDB_F_STATIC, VNF_ID_BRIDGE } from '../../src/vnf/bridge/codec.js';
import { ctCfgCodec, ctEntryCodec, ctKeyCodec, type CtKey } from '../../src/vnf/conntrack/codec.js';
import {
  natFloatCodec, natFloatKeyCodec, natFwdCodec, natFwdKeyCodec, natMasqKeyCodec, natNetCodec, natZone, VNF_ID_NAT,
  VNF_MAP_NAT, VNF_MAP_NAT_FLOAT, VNF_MAP_NAT_FWD, VNF_MAP_NAT_GC, VNF_MAP_NAT_MASQ, VNF_MAP_NAT_NETS,
  VNF_NAT_FLOAT_BY_INSIDE, VNF_NAT_FLOAT_BY_OUTSIDE, VNF_NAT_NET_INSIDE, VNF_NAT_NET_OUTSIDE, VNF_MAP_NAT_SRC,
  natSrcCodec, natSrcKeyCodec, type NatNet,
} from '../../src/vnf/nat/codec.js';
import { createPorts, loadDataplane, type TestDataplane, type TestPort } from './dataplane.js';
import { eth, ETH_P_IP, icmpEcho, inetChecksum, ip4, ip4str, IPPROTO_ICMP, IPPROTO_TCP, IPPROTO_UDP, ipv4, tcp, udp } from './packets.js';

export const TC_ACT_OK = 0;
export const TC_ACT_SHOT = 2;
export const TC_ACT_REDIRECT = 7;
export const ROUTER = 7;
export const WAN = 1;
export const FRONT = 2;
export const OUTSIDE = '192.0.2.2';
export const R_WAN = '02:00:00:00:ff:01';
export const GW = '02:00:00:00:00:01';
export const SINK = '02:00:00:00:00:5e';
export const HOST = '02:00:00:00:01:05';
export const BCAST = 'ff:ff:ff:ff:ff:ff';

/** enum vnf_reason (bpf/abi/vnf_common.h) */
/** Reason codes by their names without VNF_R_ (generated from bpf/abi/vnf_common.h). */
export const R = Object.fromEntries(Object.entries(enum_vnf_reason).map(([k, v]) => [k.replace(/^VNF_R_/, ''), v])) as Record<string, number>;
/** Conntrack states by their names without VNF_CT_ (generated from bpf/abi/conntrack.h). */
export const CT = Object.fromEntries(Object.entries(enum_vnf_ct_state).map(([k, v]) => [k.replace(/^VNF_CT_/, ''), v])) as Record<string, number>;

export interface NatLab {
  dp: TestDataplane;
  wan: TestPort;
  wsink: TestPort;
  front: TestPort;
  outOut(f: Buffer): Buffer;
  outIn(f: Buffer, expect?: number): Buffer;
  inIn(f: Buffer, expect?: number): Buffer;
  run(point: 'outOut' | 'outIn' | 'inIn', f: Buffer): { retval: number; data: Buffer; duration: number };
  stat(reason: number): bigint;
  setNet(n: Partial<NatNet>): void;
  mappings(): number;
  ct(k: Omit<CtKey, 'zone'>): ReturnType<typeof ctEntryCodec.decode> | null;
  setTimeouts(sec: number): void;
  gcRemoved(): bigint;
}

/** vnf_nat_src's count of a source (as signed; 0 when absent). */
export function srcCount(l: NatLab, addr: string): bigint {
  const v = l.dp.map(VNF_MAP_NAT_SRC).lookup(natSrcKeyCodec.encode({ zone: natZone(ROUTER), addr: ip4(addr) }));
  return v ? BigInt.asIntN(64, natSrcCodec.decode(v).count) : 0n;
}

export async function lab(t: Test): Promise<NatLab> {
  const dp = await loadDataplane(t, ['entry', 'bridge', 'nat']);
  const [wan, wsink, front, fsink] = createPorts(t, 4) as [TestPort, TestPort, TestPort, TestPort];
  const natIn = dp.addChain([VNF_ID_NAT, VNF_ID_BRIDGE]);
  const natOut = dp.addChain([VNF_ID_NAT, VNF_ID_DELIVER]);
  dp.setPort(wan.ifindex, { network: WAN, chain_in: natIn, chain_out: natOut });
  dp.setPort(front.ifindex, { network: FRONT, chain_in: natIn, chain_out: natOut });
  dp.setPort(wsink.ifindex, { network: WAN });
  dp.setPort(fsink.ifindex, { network: FRONT });
  dp.setNetwork(WAN, { ports: [wan.ifindex, wsink.ifindex], router_id: ROUTER, router_ip: ip4(OUTSIDE), router_mac: R_WAN, router_prefix: 24 });
  dp.setNetwork(FRONT, { ports: [front.ifindex, fsink.ifindex], router_id: ROUTER, router_ip: ip4('10.1.0.1'), router_mac: '02:00:00:00:ff:02', router_prefix: 24 });
  dp.setFdb(WAN, SINK, { ifindex: wsink.ifindex, flags: VNF_FDB_F_STATIC });
  dp.setFdb(FRONT, SINK, { ifindex: fsink.ifindex, flags: VNF_FDB_F_STATIC });
  dp.setFdb(WAN, GW, { ifindex: wan.ifindex, flags: VNF_FDB_F_STATIC });

  const nets = dp.map(VNF_MAP_NAT_NETS);
  let wanNet: NatNet = { router_id: ROUTER, flags: VNF_NAT_NET_OUTSIDE, outside_ip: ip4(OUTSIDE), port_min: 20000, port_max: 29999, max_per_source: 0, max_inbound: 0 };
  nets.update(u32(WAN), natNetCodec.encode(wanNet));
  nets.update(u32(FRONT), natNetCodec.encode({ router_id: ROUTER, flags: VNF_NAT_NET_INSIDE, outside_ip: ip4(OUTSIDE), port_min: 20000, port_max: 29999, max_per_source: 0, max_inbound: 0 }));
  for (const p of ['10.1.0.0', '10.2.0.0']) {
    dp.map(VNF_MAP_NAT_MASQ).update(natMasqKeyCodec.encode({ prefixlen: 32 + 24, router_id: ROUTER, addr: ip4(p) }), u32(1));
  }
  const fl = dp.map(VNF_MAP_NAT_FLOAT);
  fl.update(natFloatKeyCodec.encode({ router_id: ROUTER, addr: ip4('192.0.2.10'), which: VNF_NAT_FLOAT_BY_OUTSIDE }), natFloatCodec.encode({ addr: ip4('10.1.0.10') }));
  fl.update(natFloatKeyCodec.encode({ router_id: ROUTER, addr: ip4('10.1.0.10'), which: VNF_NAT_FLOAT_BY_INSIDE }), natFloatCodec.encode({ addr: ip4('192.0.2.10') }));
  const fw = dp.map(VNF_MAP_NAT_FWD);
  fw.update(natFwdKeyCodec.encode({ router_id: ROUTER, port: 8080, proto: IPPROTO_TCP }), natFwdCodec.encode({ addr: ip4('10.1.0.10'), port: 80 }));
  fw.update(natFwdKeyCodec.encode({ router_id: ROUTER, port: 5353, proto: IPPROTO_UDP }), natFwdCodec.encode({ addr: ip4('10.2.0.10'), port: 53 }));

  const l: NatLab = {
    dp,
    wan,
    wsink,
    front,
    run(point, f) {
      if (point === 'outOut') return dp.runEgress(wan.ifindex, f);
      return dp.runFrom(point === 'outIn' ? wan.ifindex : front.ifindex, f);
    },
    outOut(f) {
      const r = dp.runEgress(wan.ifindex, f);
      if (r.retval !== TC_ACT_OK) throw new Error(`OUT_OUT: verdict ${r.retval}`);
      return r.data;
    },
    outIn(f, expect = TC_ACT_REDIRECT) {
      const r = dp.runFrom(wan.ifindex, f);
      if (r.retval !== expect) throw new Error(`OUT_IN: verdict ${r.retval}`);
      return r.data;
    },
    inIn(f, expect = TC_ACT_REDIRECT) {
      const r = dp.runFrom(front.ifindex, f);
      if (r.retval !== expect) throw new Error(`IN_IN: verdict ${r.retval}`);
      return r.data;
    },
    stat: (reason) => dp.stat(VNF_ID_NAT, reason).packets,
    setNet(n) {
      wanNet = { ...wanNet, ...n };
      nets.update(u32(WAN), natNetCodec.encode(wanNet));
    },
    mappings: () => dp.map(VNF_MAP_NAT).keys().length,
    ct(k) {
      const v = dp.map('vnf_ct').lookup(ctKeyCodec.encode({ zone: natZone(ROUTER), ...k }));
      return v ? ctEntryCodec.decode(v) : null;
    },
    setTimeouts(sec) {
      dp.map('vnf_ct_cfg').update(u32(0), ctCfgCodec.encode({ timeout: new Array<number>(16).fill(sec), max_assured: 0, max_new: 0, gc_interval_ms: 0 }));
    },
    gcRemoved() {
      const v = dp.map(VNF_MAP_NAT_GC).lookup(u32(0))!;
      return v.readBigUInt64LE(24);
    },
  };
  return l;
}

/* ---- packets and checks -------------------------------------------------- */

export const udpF = (src: string, dst: string, sp: number, dp: number, o: { zero?: boolean; dmac?: string; smac?: string } = {}): Buffer =>
  eth(o.dmac ?? SINK, o.smac ?? HOST, ETH_P_IP, ipv4({ src, dst, proto: IPPROTO_UDP, id: 0x2222 }, udp(src, dst, sp, dp, Buffer.from('datagram payload!'), o.zero)));
export const tcpF = (src: string, dst: string, sp: number, dp: number, flags: number, seq: number, ack = 0): Buffer =>
  eth(SINK, HOST, ETH_P_IP, ipv4({ src, dst, proto: IPPROTO_TCP, id: 0x1111 }, tcp(src, dst, sp, dp, flags, seq, ack)));
export const echoF = (src: string, dst: string, type: 8 | 0, id: number): Buffer =>
  eth(SINK, HOST, ETH_P_IP, ipv4({ src, dst, proto: IPPROTO_ICMP, id: 0x3333 }, icmpEcho(type, id, 1)));

export interface Parsed { src: string; dst: string; proto: number; sport: number; dport: number; l4: Buffer; ip: Buffer }
export function parse(f: Buffer): Parsed {
  const ihl = (f[14]! & 0xf) * 4;
  const tot = f.readUInt16BE(16);
  const ip = f.subarray(14, 14 + ihl);
  const l4 = f.subarray(14 + ihl, 14 + tot);
  const proto = f[23]!;
  return {
    src: ip4str(f.readUInt32BE(26)), dst: ip4str(f.readUInt32BE(30)), proto, ip, l4,
    sport: proto === IPPROTO_ICMP ? l4.readUInt16BE(4) : l4.readUInt16BE(0),
    dport: proto === IPPROTO_ICMP ? 0 : l4.readUInt16BE(2),
  };
}

export function pseudo(ip: Buffer, proto: number, len: number): number {
  let s = 0;
  for (let i = 12; i < 20; i += 2) s += ip.readUInt16BE(i);
  return s + proto + len;
}

/** Every checksum of the frame, recomputed from scratch. */
export function checkSums(t: Test, f: Buffer, what: string): void {
  const p = parse(f);
  t.equal(inetChecksum(p.ip), 0, `${what}: IPv4 header checksum`);
  if (p.proto === IPPROTO_TCP) t.equal(inetChecksum(p.l4, pseudo(p.ip, IPPROTO_TCP, p.l4.length)), 0, `${what}: TCP checksum`);
  if (p.proto === IPPROTO_UDP) {
    if (p.l4.readUInt16BE(6) !== 0) t.equal(inetChecksum(p.l4, pseudo(p.ip, IPPROTO_UDP, p.l4.length)), 0, `${what}: UDP checksum`);
  }
  if (p.proto === IPPROTO_ICMP) t.equal(inetChecksum(p.l4), 0, `${what}: ICMP checksum`);
}

export function inRange(t: Test, port: number, min = 20000, max = 29999): void {
  t.ok(port >= min && port <= max, `port ${port} in ${min}-${max}`);
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

