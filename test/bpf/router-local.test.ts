/**
 * What the router answers as a host (issue 8, defect 11) at packet level with BPF_PROG_TEST_RUN:
 * TCP to one of its addresses gets a RST and UDP an ICMP port unreachable (it has no sockets,
 * as Linux without a listener), other protocols an ICMP protocol unreachable; its ICMP errors are
 * rate-limited per destination like Linux's icmp_ratelimit; 127/8 and 0/8 destinations are
 * martian and dropped, whatever the routes say.
 */
import t, { type Test } from 'tap';
import { VNF_DIR_TX } from '../../src/vnf/common/codec.js';
import { VNF_FDB_F_STATIC } from '../../src/vnf/bridge/codec.js';
import { icmpRlCodec, neighKeyCodec, VNF_ROUTE_F_STATIC } from '../../src/vnf/router/codec.js';
import {
  ETH_P_IP, IPPROTO_TCP, TCP_ACK, TCP_RST, TCP_SYN, eth, inetChecksum, ip4, ipv4, pingPacket, tcp,
} from '../helpers/packets.js';
import { requirePrivileges } from '../helpers/privilege.js';
import { BCAST, H1, R1, TC_ACT_REDIRECT, TC_ACT_SHOT, checkIcmpError, ipBytes, ipv4WithOptions, lab, mac, udpPacket } from '../helpers/router-lab.js';

const S = 1_000_000_000n;

function tcpPacket(dst: string, flags: number, seq: number, ack: number, data = Buffer.alloc(0), src = '10.0.1.10'): Buffer {
  return eth(R1, H1, ETH_P_IP, ipv4({ src, dst, proto: IPPROTO_TCP, id: 77, tos: 0x10 }, tcp(src, dst, 40000, 22, flags, seq, ack, data)));
}

/** Checks a RST built from `orig` (a frame): addresses and ports swapped, from the address it was sent to. */
function checkRst(t: Test, out: Buffer, orig: Buffer, e: { flags: number; seq: number; ack: number }): void {
  const oihl = (orig[14]! & 0x0f) * 4;
  t.equal(out.length, Math.max(54, 14 + oihl + 20), 'frame: Ethernet + IPv4 + TCP (padded to the original headers)');
  t.same(out.subarray(0, 6), orig.subarray(6, 12), 'eth dst = sender');
  t.same(out.subarray(6, 12), mac(R1), 'eth src = router port MAC');
  const ip = out.subarray(14, 34);
  t.equal(ip[0], 0x45, 'IPv4 without options');
  t.equal(ip[1], orig[15], 'TOS of the segment');
  t.equal(ip.readUInt16BE(2), 40, 'total length 40');
  t.equal(ip.readUInt16BE(4), 0, 'id 0');
  t.equal(ip.readUInt16BE(6), 0x4000, 'DF');
  t.equal(ip[8], 64, 'TTL 64');
  t.equal(ip[9], IPPROTO_TCP);
  t.same(ip.subarray(12, 16), orig.subarray(14 + 16, 14 + 20), 'src = the address it was sent to');
  t.same(ip.subarray(16, 20), orig.subarray(14 + 12, 14 + 16), 'dst = the sender');
  t.equal(inetChecksum(ip), 0, 'IPv4 checksum valid');
  const th = out.subarray(34, 54);
  const oth = orig.subarray(14 + oihl);
  t.equal(th.readUInt16BE(0), oth.readUInt16BE(2), 'sport = its dport');
  t.equal(th.readUInt16BE(2), oth.readUInt16BE(0), 'dport = its sport');
  t.equal(th.readUInt32BE(4), e.seq >>> 0, 'seq');
  t.equal(th.readUInt32BE(8), e.ack >>> 0, 'ack');
  t.equal(th[12], 0x50, 'data offset 5');
  t.equal(th[13], e.flags, 'flags');
  const pseudo = Buffer.concat([ip.subarray(12, 20), Buffer.from([0, IPPROTO_TCP, 0, 20])]);
  t.equal(inetChecksum(Buffer.concat([pseudo, th])), 0, 'TCP checksum valid');
}

if (requirePrivileges(t)) {
  t.test('TCP to a router address: RST, as Linux with no socket', async (t) => {
    const l = await lab(t);
    let pkt = tcpPacket('10.0.1.1', TCP_SYN, 1000, 0);
    let r = l.run(pkt);
    t.equal(r.retval, TC_ACT_REDIRECT, 'answered to the sender');
    checkRst(t, r.data, pkt, { flags: TCP_RST | TCP_ACK, seq: 0, ack: 1001 });
    t.equal(l.stat('tcp-reset'), 1n, 'TCP_RESET verdict');
    t.equal(l.stat('drop:no-socket'), 1n, 'NO_SOCKET counted');
    t.equal(l.dp.portStat(l.a.ifindex, VNF_DIR_TX).packets, 1n, 'out of the ingress port');

    pkt = tcpPacket('10.0.1.1', TCP_ACK, 5000, 0xfffffff0, Buffer.from('0123456789'));
    checkRst(t, l.run(pkt).data, pkt, { flags: TCP_RST, seq: 0xfffffff0, ack: 0 });

    pkt = tcpPacket('10.0.1.1', 0x01, 7, 0, Buffer.from('xyz')); // FIN without ACK: ack = seq + 3 + 1
    checkRst(t, l.run(pkt).data, pkt, { flags: TCP_RST | TCP_ACK, seq: 0, ack: 11 });

    pkt = tcpPacket('10.0.2.1', TCP_SYN, 1, 0);
    r = l.run(pkt);
    checkRst(t, r.data, pkt, { flags: TCP_RST | TCP_ACK, seq: 0, ack: 2 });
    t.same(r.data.subarray(26, 30), ipBytes('10.0.2.1'), "from the router's address on the other network, as pinged");

    // Longer headers: the frame keeps their length (a CHECKSUM_PARTIAL segment cannot be cut shorter).
    const seg = tcp('10.0.1.10', '10.0.1.1', 40000, 80, TCP_SYN, 9, 0);
    pkt = eth(R1, H1, ETH_P_IP, ipv4WithOptions({ src: '10.0.1.10', dst: '10.0.1.1', proto: IPPROTO_TCP, ttl: 64 }, Buffer.alloc(8, 1), seg));
    r = l.run(pkt);
    checkRst(t, r.data, pkt, { flags: TCP_RST | TCP_ACK, seq: 0, ack: 10 });
    t.same(r.data.subarray(54), Buffer.alloc(8), 'zero padding after the segment');

    r = l.run(tcpPacket('10.0.1.1', TCP_RST, 1, 0));
    t.equal(r.retval, TC_ACT_SHOT, 'a RST is never answered');
    r = l.run(eth(BCAST, H1, ETH_P_IP, ipv4({ src: '10.0.1.10', dst: '10.0.1.1', proto: IPPROTO_TCP }, tcp('10.0.1.10', '10.0.1.1', 1, 2, TCP_SYN))));
    t.equal(r.retval, TC_ACT_SHOT, 'nor a link-layer broadcast');
    t.equal(l.stat('tcp-reset'), 5n);
    t.equal(l.stat('drop:no-socket'), 7n, 'every one counted NO_SOCKET');
  });

  t.test('UDP to a router address: ICMP port unreachable; another protocol: protocol unreachable', async (t) => {
    const l = await lab(t);
    let pkt = udpPacket('10.0.1.1');
    let r = l.run(pkt);
    t.equal(r.retval, TC_ACT_REDIRECT, 'answered to the sender');
    checkIcmpError(t, r.data, pkt, { type: 3, code: 3, routerMac: R1, routerIp: '10.0.1.1' });
    pkt = udpPacket('10.0.2.1');
    checkIcmpError(t, l.run(pkt).data, pkt, { type: 3, code: 3, routerMac: R1, routerIp: '10.0.2.1' });
    pkt = eth(R1, H1, ETH_P_IP, ipv4({ src: '10.0.1.10', dst: '10.0.1.1', proto: 47 }, Buffer.alloc(24, 7)));
    checkIcmpError(t, l.run(pkt).data, pkt, { type: 3, code: 2, routerMac: R1, routerIp: '10.0.1.1' });
    t.equal(l.stat('icmp-error'), 3n);
    t.equal(l.stat('drop:no-socket'), 3n);
    r = l.run(udpPacket('10.0.1.1', { dstMac: BCAST }));
    t.equal(r.retval, TC_ACT_SHOT, 'not about a link-layer broadcast');
    const frag = udpPacket('10.0.1.1');
    frag.writeUInt16BE(0x2000, 20); // MF
    frag.writeUInt16BE(0, 24);
    frag.writeUInt16BE(inetChecksum(frag.subarray(14, 34)), 24);
    t.equal(l.run(frag).retval, TC_ACT_SHOT, 'a fragment would need reassembly: dropped');
    t.equal(l.stat('drop:unsupported'), 1n);
  });

  t.test('ICMP errors are rate-limited per destination host (Linux icmp_ratelimit: 1/s, bursts of 6)', async (t) => {
    const l = await lab(t);
    const answered = (pkt: Buffer, n: number): number => {
      let k = 0;
      for (let i = 0; i < n; i++) if (l.run(pkt).retval === TC_ACT_REDIRECT) k++;
      return k;
    };
    t.equal(answered(udpPacket('10.0.1.1'), 10), 6, 'a burst of 6, then nothing');
    t.equal(l.stat('drop:icmp-ratelimit'), 4n, 'the rest counted ICMP_RATELIMIT');
    t.equal(l.stat('drop:no-socket'), 10n, 'and each with its cause');
    t.equal(l.run(udpPacket('10.0.2.9', { ttl: 1 })).retval, TC_ACT_SHOT, 'every kind of error shares the bucket (time exceeded too)');
    t.equal(l.stat('drop:ttl'), 1n);
    t.equal(answered(udpPacket('10.0.1.1', { src: '10.0.1.11' }), 1), 1, 'another host has its own bucket');

    // A second later, one more token.
    const m = l.dp.map('vnf_icmp_rl');
    const rl = l.dp.icmpRl(1, ip4('10.0.1.10'));
    t.ok(rl, 'the bucket of 10.0.1.10 on network 1');
    m.update(neighKeyCodec.encode({ network: 1, ip: ip4('10.0.1.10') }), icmpRlCodec.encode({ last_ns: rl!.last_ns - S - 20_000_000n, tokens_ns: rl!.tokens_ns }));
    t.equal(answered(udpPacket('10.0.1.1'), 3), 1, 'one token a second');

    // Echo replies are not limited.
    t.equal(answered(pingPacket({ srcMac: H1, dstMac: R1, src: '10.0.1.10', dst: '10.0.1.1' }), 10), 10, 'echo replies are not errors');

    // 0 turns the limit off (as Linux's icmp_ratelimit = 0).
    l.dp.setRouterCfg({ icmp_ratelimit_ms: 0 });
    t.equal(answered(udpPacket('10.0.1.1'), 20), 20, 'no limit');
  });

  t.test('martian destinations (127/8, 0/8) are dropped, not routed by a default route', async (t) => {
    const l = await lab(t);
    l.dp.setNeigh(2, ip4('10.0.2.254'), { mac: '02:00:00:00:02:fe' });
    l.dp.setFdb(2, '02:00:00:00:02:fe', { ifindex: l.b.ifindex, flags: VNF_FDB_F_STATIC });
    l.dp.setRoute(1, 0, 0, { network: 2, nexthop: ip4('10.0.2.254'), flags: VNF_ROUTE_F_STATIC });
    t.equal(l.run(udpPacket('8.8.8.8')).retval, TC_ACT_REDIRECT, 'the default route works');
    t.equal(l.stat('routed'), 1n);
    for (const dst of ['127.0.0.1', '127.255.255.254', '0.1.2.3']) {
      const pkt = udpPacket(dst);
      const r = l.run(pkt);
      t.equal(r.retval, TC_ACT_SHOT, `${dst} dropped`);
      t.same(r.data, pkt, 'unanswered, untouched');
    }
    t.equal(l.stat('drop:martian'), 3n, 'counted MARTIAN');
    t.equal(l.stat('routed'), 1n, 'none routed');
    t.equal(l.routeStat(1, '0.0.0.0/0'), 1n, 'the default route counted only the real one');
  });
}
