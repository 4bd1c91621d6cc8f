/**
 * The router's BPF-tier lab: the whole dataplane (entry, bridge, router) loaded with
 * BPF_PROG_TEST_RUN in mind, router 1 with a port on network 1 (10.0.1.1/24, R1) and network 2
 * (10.0.2.1/24, R2); veth host ends stand for the container ports: `a` on network 1, `b` and `c`
 * on network 2. Shared by the router's test files.
 */
import type { Test } from 'tap';
import { skbContext } from '../../src/bpf/skb.js';
import { parseMac } from '../../src/codec/struct.js';
import { REASON, VNF_ID_DELIVER, sumCounters } from '../../src/vnf/common/codec.js';
import { routeStatsKeyCodec, VNF_ID_ROUTER, VNF_ROUTE_F_CONNECTED } from '../../src/vnf/router/codec.js';
import { createPorts, loadDataplane, type TestPort, type TestDataplane } from './dataplane.js';
import { ETH_P_IP, IPPROTO_ICMP, IPPROTO_UDP, eth, inetChecksum, ip4, ipv4, udp } from './packets.js';

export const R1 = '02:00:00:00:01:01';
export const R2 = '02:00:00:00:02:01';
export const H1 = '02:00:00:00:01:0a'; // 10.0.1.10 behind port a
export const H2 = '02:00:00:00:02:14'; // 10.0.2.20 behind port b
export const BCAST = 'ff:ff:ff:ff:ff:ff';
export const TC_ACT_SHOT = 2;
export const TC_ACT_REDIRECT = 7;

export const mac = (s: string): Buffer => parseMac(s);
export const ipBytes = (s: string): Buffer => u32be(ip4(s));
function u32be(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
}

export interface Lab {
  dp: TestDataplane;
  a: TestPort;
  b: TestPort;
  c: TestPort;
  /** Runs vnf_router as if the bridge of `network` handed it a packet from `from`. */
  run(data: Buffer, from?: TestPort, network?: number): { retval: number; data: Buffer };
  /** Runs vnf_bridge as if the entry program of `from` (on `network`) handed it a packet. */
  bridge(data: Buffer, from: TestPort, network: number): { retval: number; data: Buffer };
  stat(reason: string, vnf?: number): bigint;
  /** Packets counted on router `routerId`'s route to `to` (a.b.c.d/len). */
  routeStat(routerId: number, to: string): bigint;
}

export async function lab(t: Test): Promise<Lab> {
  const dp = await loadDataplane(t, ['entry', 'bridge', 'router']);
  const [a, b, c] = createPorts(t, 3) as [TestPort, TestPort, TestPort];
  for (const [p, network] of [[a, 1], [b, 2], [c, 2]] as const) {
    dp.setPort(p.ifindex, { network, chain_out: dp.addChain([VNF_ID_DELIVER]) });
  }
  dp.setNetwork(1, { router_id: 1, router_ip: ip4('10.0.1.1'), router_mac: R1, router_prefix: 24, ports: [a.ifindex] });
  dp.setNetwork(2, { router_id: 1, router_ip: ip4('10.0.2.1'), router_mac: R2, router_prefix: 24, ports: [b.ifindex, c.ifindex] });
  dp.setRoute(1, ip4('10.0.1.0'), 24, { network: 1, nexthop: 0, flags: VNF_ROUTE_F_CONNECTED });
  dp.setRoute(1, ip4('10.0.2.0'), 24, { network: 2, nexthop: 0, flags: VNF_ROUTE_F_CONNECTED });
  const router = dp.program('vnf_router');
  const bridge = dp.program('vnf_bridge');
  return {
    dp, a, b, c,
    run(data, from = a, network = 1) {
      return router.testRun({ data, ctx: skbContext({ ifindex: from.ifindex, cb: [from.ifindex, 0, 0, network, 0] }) });
    },
    bridge(data, from, network) {
      return bridge.testRun({ data, ctx: skbContext({ ifindex: from.ifindex, cb: [from.ifindex, 0, 0, network, 0] }) });
    },
    stat: (reason, vnf = VNF_ID_ROUTER) => dp.stat(vnf, REASON[reason]!).packets,
    routeStat(routerId, to) {
      const [addr, len] = to.split('/');
      const m = dp.map('vnf_route_stats');
      const v = m.lookup(routeStatsKeyCodec.encode({ router_id: routerId, addr: ip4(addr!), prefixlen: Number(len) }));
      return v ? sumCounters(m.splitPerCpu(v)).packets : 0n;
    },
  };
}

/** A UDP datagram from 10.0.1.10 (behind a) to the router's MAC. */
export function udpPacket(dst: string, o: { ttl?: number; data?: Buffer; srcMac?: string; dstMac?: string; src?: string } = {}): Buffer {
  const src = o.src ?? '10.0.1.10';
  const data = o.data ?? Buffer.from('payload of the datagram, unchanged');
  return eth(o.dstMac ?? R1, o.srcMac ?? H1, ETH_P_IP, ipv4({ src, dst, proto: IPPROTO_UDP, ttl: o.ttl ?? 64, id: 0x1234 }, udp(src, dst, 4000, 5000, data)));
}

/** An IP id for which the UDP header built by ipv4() gets checksum `target` (null if none does). */
export function idForChecksum(src: string, dst: string, ttl: number, target: number): number | null {
  const h = ipv4({ src, dst, proto: IPPROTO_UDP, ttl, id: 0 }, udp(src, dst, 1, 2, Buffer.alloc(4))).subarray(0, 20);
  for (let id = 0; id <= 0xffff; id++) {
    h.writeUInt16BE(id, 4);
    h.writeUInt16BE(0, 10);
    if (inetChecksum(h) === target) return id;
  }
  return null;
}

/** IPv4 with options (ihl > 5); `opts` is padded to a multiple of 4 bytes. */
export function ipv4WithOptions(o: { src: string; dst: string; proto: number; ttl: number }, opts: Buffer, payload: Buffer): Buffer {
  const olen = Math.ceil(opts.length / 4) * 4;
  const h = Buffer.alloc(20 + olen);
  h[0] = 0x40 | ((20 + olen) / 4);
  h.writeUInt16BE(h.length + payload.length, 2);
  h.writeUInt16BE(0x4242, 4);
  h[8] = o.ttl;
  h[9] = o.proto;
  h.writeUInt32BE(ip4(o.src), 12);
  h.writeUInt32BE(ip4(o.dst), 16);
  opts.copy(h, 20);
  h.writeUInt16BE(inetChecksum(h), 10);
  return Buffer.concat([h, payload]);
}

/**
 * Checks an ICMP error produced about `orig` (a whole frame): Ethernet back to
 * the sender from the router port, outer IPv4 from the router's address with
 * valid checksums, and the quote = original IP header with options + 8 bytes.
 */
export function checkIcmpError(t: Test, out: Buffer, orig: Buffer, e: { type: number; code: number; routerMac: string; routerIp: string }): void {
  const oihl = (orig[14]! & 0x0f) * 4;
  const otot = orig.readUInt16BE(16);
  const qlen = oihl + Math.min(8, otot - oihl);
  t.equal(out.length, 14 + 20 + 8 + qlen, 'frame length: eth + IPv4 + ICMP + quote');
  t.same(out.subarray(0, 6), orig.subarray(6, 12), 'eth dst = original eth src');
  t.same(out.subarray(6, 12), mac(e.routerMac), 'eth src = router port MAC');
  t.equal(out.readUInt16BE(12), ETH_P_IP, 'ethertype IPv4');
  const ip = out.subarray(14, 34);
  t.equal(ip[0], 0x45, 'outer IPv4, no options');
  t.equal(ip[1], 0xc0 | (orig[15]! & 0x1e), 'TOS: internetwork control precedence');
  t.equal(ip.readUInt16BE(2), 20 + 8 + qlen, 'outer total length');
  t.equal(ip.readUInt16BE(6), 0, 'no DF, no fragment');
  t.equal(ip[8], 64, 'outer TTL 64');
  t.equal(ip[9], IPPROTO_ICMP, 'proto ICMP');
  t.same(ip.subarray(12, 16), ipBytes(e.routerIp), 'outer src = router port address');
  t.same(ip.subarray(16, 20), orig.subarray(26, 30), 'outer dst = original src');
  t.equal(inetChecksum(ip), 0, 'outer IPv4 header checksum is valid');
  const icmp = out.subarray(34);
  t.equal(icmp[0], e.type, 'ICMP type');
  t.equal(icmp[1], e.code, 'ICMP code');
  t.equal(icmp.readUInt32BE(4), 0, 'unused word is zero');
  t.equal(inetChecksum(icmp), 0, 'ICMP checksum over header + quote is valid');
  t.same(icmp.subarray(8), orig.subarray(14, 14 + qlen), 'quote = original IPv4 header (with options) + first 8 payload bytes');
}
