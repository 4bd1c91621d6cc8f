/**
 * The router VNF (bpf/router.bpf.c) at packet level: vnf_router run directly
 * with BPF_PROG_TEST_RUN, as the bridge would hand it a packet (md.in = the
 * container port, md.network = the network it came from), with the whole
 * dataplane loaded so its hand-offs reach the bridge and DELIVER.
 *
 * Topology: router 1 with a port on network 1 (10.0.1.1/24, R1) and network 2
 * (10.0.2.1/24, R2); dummy interfaces stand for the container ports: `a` on
 * network 1, `b` and `c` on network 2. Checksums are recomputed from the
 * output bytes, never compared with constants.
 */
import t, { type Test } from 'tap';
import { skbContext } from '../../src/bpf/skb.js';
import { parseMac } from '../../src/codec/struct.js';
import { REASON, VNF_DIR_TX, VNF_ID_DELIVER, sumCounters } from '../../src/vnf/common/codec.js';
import { VNF_ID_BRIDGE, VNF_FDB_F_STATIC } from '../../src/vnf/bridge/codec.js';
import { routeStatsKeyCodec, VNF_ID_ROUTER, VNF_NEIGH_F_LEARNED, VNF_NEIGH_F_STATIC, VNF_ROUTE_F_CONNECTED, VNF_ROUTE_F_STATIC } from '../../src/vnf/router/codec.js';
import { createPorts, loadDataplane, type TestPort, type TestDataplane } from '../helpers/dataplane.js';
import {
  ETH_P_ARP, ETH_P_IP, IPPROTO_ICMP, IPPROTO_UDP, arp, eth, icmpEcho, inetChecksum, ip4, ipv4, udp,
} from '../helpers/packets.js';
import { requirePrivileges } from '../helpers/privilege.js';

const R1 = '02:00:00:00:01:01';
const R2 = '02:00:00:00:02:01';
const H1 = '02:00:00:00:01:0a'; // 10.0.1.10 behind port a
const H2 = '02:00:00:00:02:14'; // 10.0.2.20 behind port b
const BCAST = 'ff:ff:ff:ff:ff:ff';
const TC_ACT_SHOT = 2;
const TC_ACT_REDIRECT = 7;

const mac = (s: string): Buffer => parseMac(s);
const ipBytes = (s: string): Buffer => u32be(ip4(s));
function u32be(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
}

interface Lab {
  dp: TestDataplane;
  a: TestPort;
  b: TestPort;
  c: TestPort;
  /** Runs vnf_router as if the bridge of `network` handed it a packet from `from`. */
  run(data: Buffer, from?: TestPort, network?: number): { retval: number; data: Buffer };
  stat(reason: string, vnf?: number): bigint;
  /** Packets counted on router `routerId`'s route to `to` (a.b.c.d/len). */
  routeStat(routerId: number, to: string): bigint;
}

async function lab(t: Test): Promise<Lab> {
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
  return {
    dp, a, b, c,
    run(data, from = a, network = 1) {
      return router.testRun({ data, ctx: skbContext({ ifindex: from.ifindex, cb: [from.ifindex, 0, 0, network, 0] }) });
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
function udpPacket(dst: string, o: { ttl?: number; data?: Buffer; srcMac?: string; dstMac?: string; src?: string } = {}): Buffer {
  const src = o.src ?? '10.0.1.10';
  const data = o.data ?? Buffer.from('payload of the datagram, unchanged');
  return eth(o.dstMac ?? R1, o.srcMac ?? H1, ETH_P_IP, ipv4({ src, dst, proto: IPPROTO_UDP, ttl: o.ttl ?? 64, id: 0x1234 }, udp(src, dst, 4000, 5000, data)));
}

/** An IP id for which the UDP header built by ipv4() gets checksum `target` (null if none does). */
function idForChecksum(src: string, dst: string, ttl: number, target: number): number | null {
  const h = ipv4({ src, dst, proto: IPPROTO_UDP, ttl, id: 0 }, udp(src, dst, 1, 2, Buffer.alloc(4))).subarray(0, 20);
  for (let id = 0; id <= 0xffff; id++) {
    h.writeUInt16BE(id, 4);
    h.writeUInt16BE(0, 10);
    if (inetChecksum(h) === target) return id;
  }
  return null;
}

/** IPv4 with options (ihl > 5); `opts` is padded to a multiple of 4 bytes. */
function ipv4WithOptions(o: { src: string; dst: string; proto: number; ttl: number }, opts: Buffer, payload: Buffer): Buffer {
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
function checkIcmpError(t: Test, out: Buffer, orig: Buffer, e: { type: number; code: number; routerMac: string; routerIp: string }): void {
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

if (requirePrivileges(t)) {
  t.test('ARP request for the router address: reply in place, requester learned', async (t) => {
    const l = await lab(t);
    const req = eth(BCAST, H1, ETH_P_ARP, arp(1, H1, '10.0.1.10', '00:00:00:00:00:00', '10.0.1.1'));
    const r = l.run(req);
    t.equal(r.retval, TC_ACT_REDIRECT, 'delivered back to the requester port');
    const o = r.data;
    t.equal(o.length, req.length, 'same length');
    t.same(o.subarray(0, 6), mac(H1), 'eth dst = requester');
    t.same(o.subarray(6, 12), mac(R1), 'eth src = router MAC');
    t.equal(o.readUInt16BE(12), ETH_P_ARP, 'ethertype ARP');
    t.equal(o.readUInt16BE(14), 1, 'hrd Ethernet');
    t.equal(o.readUInt16BE(16), ETH_P_IP, 'pro IPv4');
    t.equal(o[18], 6, 'hln');
    t.equal(o[19], 4, 'pln');
    t.equal(o.readUInt16BE(20), 2, 'op reply');
    t.same(o.subarray(22, 28), mac(R1), 'sha = router MAC');
    t.same(o.subarray(28, 32), ipBytes('10.0.1.1'), 'sip = router IP');
    t.same(o.subarray(32, 38), mac(H1), 'tha = requester MAC');
    t.same(o.subarray(38, 42), ipBytes('10.0.1.10'), 'tip = requester IP');
    t.equal(l.stat('arp-reply'), 1n, 'ARP_REPLY counted');
    t.equal(l.dp.portStat(l.a.ifindex, VNF_DIR_TX).packets, 1n, 'sent out of the ingress port');
    const n = l.dp.neigh(1, ip4('10.0.1.10'));
    t.ok(n, 'requester learned');
    t.equal(n?.mac, H1, 'learned MAC');
    t.equal(n?.flags, VNF_NEIGH_F_LEARNED, 'learned, not static');
    t.ok((n?.updated_ns ?? 0n) > 0n, 'timestamped');
    t.equal(l.dp.neigh(2, ip4('10.0.1.10')), null, 'learned on the network it came from only');
  });

  t.test('ARP learning never overwrites a static neighbour; probes are answered, not learned', async (t) => {
    const l = await lab(t);
    l.dp.setNeigh(1, ip4('10.0.1.11'), { mac: '02:00:00:00:01:0b', flags: VNF_NEIGH_F_STATIC });
    let r = l.run(eth(BCAST, '02:00:00:00:0e:0e', ETH_P_ARP, arp(1, '02:00:00:00:0e:0e', '10.0.1.11', '00:00:00:00:00:00', '10.0.1.1')));
    t.equal(r.retval, TC_ACT_REDIRECT, 'still answered');
    t.same(l.dp.neigh(1, ip4('10.0.1.11')), { updated_ns: 0n, mac: '02:00:00:00:01:0b', flags: VNF_NEIGH_F_STATIC }, 'static entry untouched');

    r = l.run(eth(BCAST, H1, ETH_P_ARP, arp(1, H1, '0.0.0.0', '00:00:00:00:00:00', '10.0.1.1')));
    t.equal(r.retval, TC_ACT_REDIRECT, 'address probe answered');
    t.same(r.data.subarray(38, 42), ipBytes('0.0.0.0'), 'reply to the probe targets 0.0.0.0');
    t.equal(l.dp.neigh(1, 0), null, 'nothing learned from a probe');

    r = l.run(eth(BCAST, BCAST, ETH_P_ARP, arp(1, BCAST, '10.0.1.12', '00:00:00:00:00:00', '10.0.1.1')));
    t.equal(r.retval, TC_ACT_SHOT, 'broadcast sender MAC dropped');
    t.equal(l.stat('drop:malformed'), 1n);
  });

  t.test('ARP reply to the router: learned and consumed', async (t) => {
    const l = await lab(t);
    const r = l.run(eth(R2, H2, ETH_P_ARP, arp(2, H2, '10.0.2.20', R2, '10.0.2.1')), l.b, 2);
    t.equal(r.retval, TC_ACT_SHOT, 'consumed');
    t.equal(l.stat('arp-learn'), 1n, 'ARP_LEARN counted');
    t.equal(l.dp.neigh(2, ip4('10.0.2.20'))?.mac, H2, 'sender learned');
    t.equal(l.dp.neigh(2, ip4('10.0.2.20'))?.flags, VNF_NEIGH_F_LEARNED);
    t.equal(l.dp.portStat(l.b.ifindex, VNF_DIR_TX).packets, 0n, 'nothing sent');

    // A later reply with a new MAC replaces the learned one.
    l.run(eth(R2, '02:00:00:00:02:99', ETH_P_ARP, arp(2, '02:00:00:00:02:99', '10.0.2.20', R2, '10.0.2.1')), l.b, 2);
    t.equal(l.dp.neigh(2, ip4('10.0.2.20'))?.mac, '02:00:00:00:02:99', 'learned entry updated');
  });

  t.test('other ARP is dropped with its reason', async (t) => {
    const l = await lab(t);
    let r = l.run(eth(BCAST, H1, ETH_P_ARP, arp(1, H1, '10.0.1.10', '00:00:00:00:00:00', '10.0.1.99')));
    t.equal(r.retval, TC_ACT_SHOT, 'request for another IP dropped');
    t.equal(l.stat('drop:not-for-us'), 1n, 'NOT_FOR_US');
    t.equal(l.dp.neigh(1, ip4('10.0.1.10')), null, 'nothing learned from it');

    const other = arp(1, H1, '10.0.1.10', '00:00:00:00:00:00', '10.0.1.1');
    other.writeUInt16BE(6, 0); // IEEE 802 hardware
    r = l.run(eth(BCAST, H1, ETH_P_ARP, other));
    t.equal(r.retval, TC_ACT_SHOT);
    t.equal(l.stat('drop:unsupported'), 1n, 'non-Ethernet ARP unsupported');

    r = l.run(eth(BCAST, H1, ETH_P_ARP, arp(1, H1, '10.0.1.10', '00:00:00:00:00:00', '10.0.1.1').subarray(0, 20)));
    t.equal(r.retval, TC_ACT_SHOT);
    t.equal(l.stat('drop:malformed'), 1n, 'truncated ARP malformed');
  });

  t.test('routed packet: TTL - 1, valid checksum, MACs rewritten, handed to the bridge of the out network', async (t) => {
    const l = await lab(t);
    l.dp.setNeigh(2, ip4('10.0.2.20'), { mac: H2 });
    l.dp.setFdb(2, H2, { ifindex: l.b.ifindex, flags: VNF_FDB_F_STATIC });
    const pkt = udpPacket('10.0.2.20', { ttl: 64 });
    const r = l.run(pkt);
    t.equal(r.retval, TC_ACT_REDIRECT, 'router -> bridge (network 2) -> deliver');
    const o = r.data;
    t.equal(o.length, pkt.length, 'same length');
    t.same(o.subarray(0, 6), mac(H2), 'eth dst = neighbour MAC');
    t.same(o.subarray(6, 12), mac(R2), 'eth src = out router port MAC');
    t.equal(o.readUInt16BE(12), ETH_P_IP);
    t.equal(o[22], 63, 'TTL decremented by 1');
    t.equal(inetChecksum(o.subarray(14, 34)), 0, 'IPv4 header checksum valid');
    const expect = Buffer.from(pkt.subarray(14, 34));
    expect[8] = 63;
    expect.writeUInt16BE(0, 10);
    expect.writeUInt16BE(inetChecksum(expect), 10);
    t.same(o.subarray(14, 34), expect, 'header = original with TTL - 1 and its recomputed checksum');
    t.same(o.subarray(34), pkt.subarray(34), 'payload unchanged');
    t.equal(l.dp.portStat(l.b.ifindex, VNF_DIR_TX).packets, 1n, 'transmitted on the destination port');
    t.equal(l.dp.portStat(l.c.ifindex, VNF_DIR_TX).packets, 0n, 'not on the other port');
    t.equal(l.dp.portStat(l.a.ifindex, VNF_DIR_TX).packets, 0n, 'not back to the sender');
    t.equal(l.stat('routed'), 1n, 'ROUTED counted');
    t.equal(l.stat('forward', VNF_ID_BRIDGE), 1n, 'the bridge forwarded it to a known port');
    t.equal(l.routeStat(1, '10.0.2.0/24'), 1n, 'route 10.0.2.0/24 counted');
    t.equal(l.routeStat(1, '10.0.1.0/24'), 0n, 'other route not counted');

    // The incremental update at the edges of one's complement arithmetic:
    // headers (found by varying the IP id) whose checksum makes the update
    // carry around or land on 0x0000/0xffff, and every TTL value.
    const targets = [0xfeff, 0xfeff - 1, 0xff00, 0xfffe, 0x00ff, 0x0000, 0x0100, 0x7fff];
    let runs = 1;
    for (const target of targets) {
      const id = idForChecksum('10.0.1.10', '10.0.2.20', 64, target);
      if (id === null) continue;
      const p = eth(R1, H1, ETH_P_IP, ipv4({ src: '10.0.1.10', dst: '10.0.2.20', proto: IPPROTO_UDP, ttl: 64, id }, udp('10.0.1.10', '10.0.2.20', 1, 2, Buffer.alloc(4))));
      t.equal(p.readUInt16BE(24), target, `input checksum 0x${target.toString(16)}`);
      const q = l.run(p).data;
      runs++;
      t.equal(q[22], 63, 'TTL - 1');
      t.equal(inetChecksum(q.subarray(14, 34)), 0, `checksum valid after the update of 0x${target.toString(16)}`);
    }
    for (let ttl = 2; ttl <= 255; ttl++) {
      const q = l.run(udpPacket('10.0.2.20', { ttl })).data;
      runs++;
      if (q[22] !== ttl - 1 || inetChecksum(q.subarray(14, 34)) !== 0) {
        t.fail(`TTL ${ttl}: got ttl ${q[22]}, checksum residue ${inetChecksum(q.subarray(14, 34))}`);
        break;
      }
    }
    t.equal(l.routeStat(1, '10.0.2.0/24'), BigInt(runs), 'every run counted on the route');
  });

  t.test('routed packet with IP options keeps them', async (t) => {
    const l = await lab(t);
    l.dp.setNeigh(2, ip4('10.0.2.20'), { mac: H2 });
    l.dp.setFdb(2, H2, { ifindex: l.b.ifindex, flags: VNF_FDB_F_STATIC });
    const opts = Buffer.from([0x94, 0x04, 0x00, 0x00]); // router alert
    const pkt = eth(R1, H1, ETH_P_IP, ipv4WithOptions({ src: '10.0.1.10', dst: '10.0.2.20', proto: IPPROTO_UDP, ttl: 9 }, opts, udp('10.0.1.10', '10.0.2.20', 1, 2, Buffer.from('x'))));
    const r = l.run(pkt);
    t.equal(r.retval, TC_ACT_REDIRECT);
    t.equal(r.data[22], 8, 'TTL - 1');
    t.equal(inetChecksum(r.data.subarray(14, 38)), 0, '24-byte header checksum valid');
    t.same(r.data.subarray(34), pkt.subarray(34), 'options and payload unchanged');
  });

  t.test('TTL expiry: ICMP time exceeded back to the ingress port', async (t) => {
    const l = await lab(t);
    l.dp.setNeigh(2, ip4('10.0.2.20'), { mac: H2 });
    const pkt = udpPacket('10.0.2.20', { ttl: 1 });
    const r = l.run(pkt);
    t.equal(r.retval, TC_ACT_REDIRECT, 'delivered to the sender');
    checkIcmpError(t, r.data, pkt, { type: 11, code: 0, routerMac: R1, routerIp: '10.0.1.1' });
    t.equal(l.stat('icmp-error'), 1n, 'ICMP_ERROR verdict');
    t.equal(l.stat('drop:ttl'), 1n, 'the TTL drop counted too');
    t.equal(l.stat('routed'), 0n, 'not routed');
    t.equal(l.dp.portStat(l.a.ifindex, VNF_DIR_TX).packets, 1n, 'sent out of the ingress port');
    t.equal(l.dp.portStat(l.b.ifindex, VNF_DIR_TX).packets, 0n);

    const z = l.run(udpPacket('10.0.2.20', { ttl: 0 }));
    t.equal(z.data[34], 11, 'TTL 0 also expires');
  });

  t.test('ICMP error quotes IP options and short payloads', async (t) => {
    const l = await lab(t);
    // 8-byte option block (NOPs + EOL) and a 3-byte payload of protocol 253.
    const opts = Buffer.from([1, 1, 1, 1, 1, 1, 1, 0]);
    const pkt = eth(R1, H1, ETH_P_IP, ipv4WithOptions({ src: '10.0.1.10', dst: '10.0.2.20', proto: 253, ttl: 1 }, opts, Buffer.from([7, 8, 9])));
    let r = l.run(pkt);
    t.equal(r.retval, TC_ACT_REDIRECT);
    checkIcmpError(t, r.data, pkt, { type: 11, code: 0, routerMac: R1, routerIp: '10.0.1.1' });
    t.equal(r.data.length, 14 + 28 + 28 + 3, '28-byte header + 3 payload bytes quoted');

    // The longest header (60 bytes) and a payload longer than 8: padding after
    // the IP packet (Ethernet minimum) is not quoted.
    const long = eth(R1, H1, ETH_P_IP, ipv4WithOptions({ src: '10.0.1.10', dst: '10.9.9.9', proto: IPPROTO_UDP, ttl: 64 }, Buffer.alloc(40, 1), udp('10.0.1.10', '10.9.9.9', 7, 9, Buffer.alloc(100, 0x5a))));
    r = l.run(Buffer.concat([long, Buffer.alloc(6, 0xee)]));
    checkIcmpError(t, r.data, long, { type: 3, code: 0, routerMac: R1, routerIp: '10.0.1.1' });
    t.equal(r.data.length, 14 + 28 + 68, 'maximum quote: 60 + 8');
  });

  t.test('no route: ICMP net unreachable; never an error about an error', async (t) => {
    const l = await lab(t);
    const pkt = udpPacket('192.168.9.9', { ttl: 1 });
    let r = l.run(pkt);
    t.equal(r.retval, TC_ACT_REDIRECT, 'delivered to the sender');
    checkIcmpError(t, r.data, pkt, { type: 3, code: 0, routerMac: R1, routerIp: '10.0.1.1' });
    t.equal(l.stat('drop:no-route'), 1n, 'NO_ROUTE counted (route lookup comes before the TTL, as in Linux)');
    t.equal(l.stat('drop:ttl'), 0n);
    t.equal(l.stat('icmp-error'), 1n);

    // An echo request without a route gets an error too (echo is no error).
    const ping = eth(R1, H1, ETH_P_IP, ipv4({ src: '10.0.1.10', dst: '192.168.9.9', proto: IPPROTO_ICMP }, icmpEcho(8, 7, 1)));
    r = l.run(ping);
    checkIcmpError(t, r.data, ping, { type: 3, code: 0, routerMac: R1, routerIp: '10.0.1.1' });

    // Errors about errors, non-first fragments and link-layer broadcasts: none.
    const unreach = Buffer.concat([Buffer.from([3, 1, 0, 0, 0, 0, 0, 0]), Buffer.alloc(28, 0x45)]);
    unreach.writeUInt16BE(inetChecksum(unreach), 2);
    const aboutError = eth(R1, H1, ETH_P_IP, ipv4({ src: '10.0.1.10', dst: '192.168.9.9', proto: IPPROTO_ICMP }, unreach));
    r = l.run(aboutError);
    t.equal(r.retval, TC_ACT_SHOT, 'ICMP error about an ICMP error: dropped');
    t.same(r.data, aboutError, 'packet untouched');

    const frag = udpPacket('192.168.9.9');
    frag.writeUInt16BE(0x0001, 20); // offset 8 bytes, no DF
    frag.writeUInt16BE(0, 24);
    frag.writeUInt16BE(inetChecksum(frag.subarray(14, 34)), 24);
    r = l.run(frag);
    t.equal(r.retval, TC_ACT_SHOT, 'non-first fragment: dropped silently');

    r = l.run(udpPacket('192.168.9.9', { dstMac: BCAST }));
    t.equal(r.retval, TC_ACT_SHOT, 'link-layer broadcast: dropped silently');

    t.equal(l.stat('drop:no-route'), 5n, 'every one counted as NO_ROUTE');
    t.equal(l.stat('icmp-error'), 2n, 'errors only for the first two');
    t.equal(l.dp.portStat(l.a.ifindex, VNF_DIR_TX).packets, 2n);
  });

  t.test('LPM: the most specific route wins; router tables do not leak', async (t) => {
    const l = await lab(t);
    const gw = { g16: ['10.0.2.16', '02:00:00:00:02:16'], g24: ['10.0.2.24', '02:00:00:00:02:24'], gdef: ['10.0.2.254', '02:00:00:00:02:fe'] } as const;
    for (const [ip, m] of Object.values(gw)) {
      l.dp.setNeigh(2, ip4(ip), { mac: m });
      l.dp.setFdb(2, m, { ifindex: l.b.ifindex, flags: VNF_FDB_F_STATIC });
    }
    // Router 2's table (a default route and a /16) is not router 1's.
    l.dp.setRoute(2, 0, 0, { network: 2, nexthop: ip4('10.0.2.254'), flags: VNF_ROUTE_F_STATIC });
    l.dp.setRoute(2, ip4('10.5.0.0'), 16, { network: 2, nexthop: ip4('10.0.2.16'), flags: VNF_ROUTE_F_STATIC });
    let r = l.run(udpPacket('10.5.1.9'));
    t.equal(r.data[34], 3, 'router 1 without a route: unreachable although router 2 has one');
    t.equal(l.routeStat(2, '0.0.0.0/0') + l.routeStat(2, '10.5.0.0/16'), 0n, "router 2's routes unused");

    l.dp.setRoute(1, ip4('10.5.0.0'), 16, { network: 2, nexthop: ip4(gw.g16[0]), flags: VNF_ROUTE_F_STATIC });
    l.dp.setRoute(1, ip4('10.5.1.0'), 24, { network: 2, nexthop: ip4(gw.g24[0]), flags: VNF_ROUTE_F_STATIC });
    l.dp.setRoute(1, 0, 0, { network: 2, nexthop: ip4(gw.gdef[0]), flags: VNF_ROUTE_F_STATIC });
    const cases = [['10.5.1.9', gw.g24[1], '10.5.1.0/24'], ['10.5.2.9', gw.g16[1], '10.5.0.0/16'], ['10.6.0.1', gw.gdef[1], '0.0.0.0/0'], ['10.0.1.77', null, '10.0.1.0/24']] as const;
    for (const [dst, m, id] of cases) {
      r = l.run(udpPacket(dst));
      if (m) {
        t.equal(r.retval, TC_ACT_REDIRECT, `${dst} routed`);
        t.same(r.data.subarray(0, 6), mac(m), `${dst} -> next hop of route ${id}`);
        t.same(r.data.subarray(30, 34), ipBytes(dst), 'destination address unchanged');
      }
      t.equal(l.routeStat(1, id), 1n, `${dst} counted on route ${id}`);
    }
    t.equal(l.routeStat(2, '0.0.0.0/0') + l.routeStat(2, '10.5.0.0/16'), 0n, "router 2's routes still unused");
  });

  t.test('neighbour miss: broadcast ARP request for the next hop instead', async (t) => {
    const l = await lab(t);
    let r = l.run(udpPacket('10.0.2.30'));
    t.equal(r.retval, TC_ACT_SHOT, 'flooded by the bridge (clones), original consumed');
    const o = r.data;
    t.equal(o.length, 60, 'one minimum Ethernet frame');
    t.same(o.subarray(0, 6), mac(BCAST), 'eth dst broadcast');
    t.same(o.subarray(6, 12), mac(R2), 'eth src = out router MAC');
    t.equal(o.readUInt16BE(12), ETH_P_ARP, 'ethertype ARP');
    t.same(o.subarray(14, 22), Buffer.from([0, 1, 8, 0, 6, 4, 0, 1]), 'Ethernet/IPv4 request');
    t.same(o.subarray(22, 28), mac(R2), 'sha = out router MAC');
    t.same(o.subarray(28, 32), ipBytes('10.0.2.1'), 'sip = out router IP');
    t.same(o.subarray(32, 38), Buffer.alloc(6), 'tha unknown');
    t.same(o.subarray(38, 42), ipBytes('10.0.2.30'), 'tip = destination (connected route)');
    t.same(o.subarray(42), Buffer.alloc(18), 'zero padding: nothing of the dropped packet leaks');
    t.equal(l.stat('drop:neigh-miss'), 1n, 'NEIGH_MISS counted');
    t.equal(l.stat('arp-request'), 1n, 'ARP_REQUEST verdict');
    t.equal(l.stat('flood', VNF_ID_BRIDGE), 1n, 'the bridge of network 2 flooded it');
    t.equal(l.stat('routed'), 0n);

    // Through a gateway: ARP for the gateway, not for the destination. A
    // long packet is trimmed to the same 60 bytes.
    l.dp.setRoute(1, ip4('10.8.0.0'), 16, { network: 2, nexthop: ip4('10.0.2.254'), flags: VNF_ROUTE_F_STATIC });
    r = l.run(udpPacket('10.8.1.1', { data: Buffer.alloc(1000, 0x77) }));
    t.equal(r.data.length, 60);
    t.same(r.data.subarray(38, 42), ipBytes('10.0.2.254'), 'who-has the next hop');
    t.same(r.data.subarray(42), Buffer.alloc(18), 'zero padding');
    t.equal(l.stat('drop:neigh-miss'), 2n);
    t.equal(l.routeStat(1, '10.8.0.0/16'), 1n, 'route counted');
  });

  t.test('echo request to a router address: echo reply', async (t) => {
    const l = await lab(t);
    for (const [dst, ttl] of [['10.0.1.1', 64], ['10.0.2.1', 1]] as const) {
      const ping = eth(R1, H1, ETH_P_IP, ipv4({ src: '10.0.1.10', dst, proto: IPPROTO_ICMP, ttl, id: 99 }, icmpEcho(8, 0x4242, 7)));
      const r = l.run(ping);
      t.equal(r.retval, TC_ACT_REDIRECT, `ping ${dst} (ttl ${ttl}) answered`);
      const o = r.data;
      t.equal(o.length, ping.length);
      t.same(o.subarray(0, 6), mac(H1), 'eth dst = sender');
      t.same(o.subarray(6, 12), mac(R1), 'eth src = router MAC of the sender network');
      t.same(o.subarray(26, 30), ipBytes(dst), 'src = the pinged router address');
      t.same(o.subarray(30, 34), ipBytes('10.0.1.10'), 'dst = sender');
      t.equal(o[22], 64, 'TTL 64 (a fresh packet, as Linux)');
      t.equal(o[23], IPPROTO_ICMP);
      t.equal(inetChecksum(o.subarray(14, 34)), 0, 'IPv4 checksum valid');
      t.equal(o[34], 0, 'echo reply');
      t.equal(o[35], 0, 'code 0');
      t.equal(inetChecksum(o.subarray(34)), 0, 'ICMP checksum valid');
      t.same(o.subarray(38), ping.subarray(38), 'id, sequence and data echoed');
    }
    t.equal(l.stat('icmp-echo-reply'), 2n);
    t.equal(l.dp.portStat(l.a.ifindex, VNF_DIR_TX).packets, 2n);

    let r = l.run(udpPacket('10.0.1.1'));
    t.equal(r.retval, TC_ACT_SHOT, 'UDP to the router');
    t.equal(l.stat('drop:not-for-us'), 1n, 'NOT_FOR_US');
    r = l.run(eth(R1, H1, ETH_P_IP, ipv4({ src: '10.0.1.10', dst: '10.0.1.1', proto: IPPROTO_ICMP }, icmpEcho(0, 1, 1))));
    t.equal(r.retval, TC_ACT_SHOT, 'echo reply to the router');
    t.equal(l.stat('drop:not-for-us'), 2n);
  });

  t.test('malformed, non-IPv4 and martian packets are dropped with their reasons', async (t) => {
    const l = await lab(t);
    const good = udpPacket('10.0.2.20');
    const mutate = (f: (b: Buffer) => void): Buffer => {
      const b = Buffer.from(good);
      f(b);
      return b;
    };
    // (A frame shorter than Ethernet + 20 bytes with ethertype IPv4 cannot be
    // tested: this kernel's BPF_PROG_TEST_RUN refuses it with EINVAL.)
    const malformed: Array<[string, Buffer]> = [
      ['version 6 in an IPv4 frame', mutate((b) => { b[14] = 0x65; })],
      ['ihl 4', mutate((b) => { b[14] = 0x44; })],
      ['total length beyond the packet', mutate((b) => { b.writeUInt16BE(good.length - 14 + 1, 16); })],
      ['total length below the header', mutate((b) => { b.writeUInt16BE(19, 16); })],
      ['header longer than the packet', mutate((b) => { b[14] = 0x4f; b.writeUInt16BE(60, 16); }).subarray(0, 14 + 40)],
      ['source 0.0.0.0', mutate((b) => { b.writeUInt32BE(0, 26); })],
      ['multicast source', mutate((b) => { b.writeUInt32BE(ip4('224.0.0.5'), 26); })],
    ];
    for (const [name, pkt] of malformed) {
      const r = l.run(pkt);
      t.equal(r.retval, TC_ACT_SHOT, name);
    }
    t.equal(l.stat('drop:malformed'), BigInt(malformed.length), 'each counted as MALFORMED');

    const v6 = eth(R1, H1, 0x86dd, Buffer.alloc(40));
    t.equal(l.run(v6).retval, TC_ACT_SHOT, 'IPv6');
    t.equal(l.run(eth(R1, H1, 0x88cc, Buffer.alloc(46))).retval, TC_ACT_SHOT, 'LLDP');
    t.equal(l.stat('drop:unsupported'), 2n, 'non-IPv4 counted as UNSUPPORTED');

    t.equal(l.run(udpPacket('224.0.0.9')).retval, TC_ACT_SHOT, 'multicast destination not routed');
    t.equal(l.run(udpPacket('10.0.2.255')).retval, TC_ACT_SHOT, 'directed broadcast of a connected subnet not forwarded');
    t.equal(l.stat('drop:not-for-us'), 2n);

    t.equal(l.run(good, l.a, 9).retval, TC_ACT_SHOT, 'unknown network');
    t.equal(l.stat('drop:no-network'), 1n, 'NO_NETWORK');
    l.dp.setNetwork(3, { router_id: 0 });
    t.equal(l.run(good, l.a, 3).retval, TC_ACT_SHOT, 'network without a router port');
    t.equal(l.stat('drop:not-for-us'), 3n);
    l.dp.setRoute(1, ip4('10.3.0.0'), 16, { network: 3, nexthop: 0, flags: VNF_ROUTE_F_STATIC });
    t.equal(l.run(udpPacket('10.3.0.1')).retval, TC_ACT_SHOT, "route into a network where router 1 has no port");
    t.equal(l.stat('drop:no-network'), 2n);
    t.equal(l.stat('routed') + l.stat('icmp-error'), 0n, 'none of them forwarded or answered');
  });
}
