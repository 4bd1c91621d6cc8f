/**
 * The router VNF (bpf/router.bpf.c) at packet level: vnf_router run directly
 * with BPF_PROG_TEST_RUN, as the bridge would hand it a packet (md.in = the
 * container port, md.network = the network it came from), with the whole
 * dataplane loaded so its hand-offs reach the bridge and DELIVER.
 *
 * Topology (test/helpers/router-lab.ts): router 1 with a port on network 1
 * (10.0.1.1/24, R1) and network 2 (10.0.2.1/24, R2); veth host ends stand for
 * the container ports: `a` on network 1, `b` and `c` on network 2. Checksums
 * are recomputed from the output bytes, never compared with constants.
 */
import t from 'tap';
import { VNF_DIR_TX } from '../../src/vnf/common/codec.js';
import { VNF_ID_BRIDGE, VNF_FDB_F_STATIC } from '../../src/vnf/bridge/codec.js';
import {
  VNF_NEIGH_F_LEARNED, VNF_NEIGH_F_STATIC, VNF_NEIGH_INCOMPLETE, VNF_NEIGH_REACHABLE, VNF_ROUTE_F_STATIC,
} from '../../src/vnf/router/codec.js';
import {
  ETH_P_ARP, ETH_P_IP, IPPROTO_ICMP, IPPROTO_UDP, arp, eth, icmpEcho, inetChecksum, ip4, ipv4, udp,
} from '../helpers/packets.js';
import { requirePrivileges } from '../helpers/privilege.js';
import {
  BCAST, H1, H2, R1, R2, TC_ACT_REDIRECT, TC_ACT_SHOT, checkIcmpError, idForChecksum, ipBytes, ipv4WithOptions, lab, mac, udpPacket,
} from '../helpers/router-lab.js';

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
    t.same(l.dp.neigh(1, ip4('10.0.1.11')), { updated_ns: 0n, mac: '02:00:00:00:01:0b', flags: VNF_NEIGH_F_STATIC, probe_ns: 0n, reachable_until: 0n, ifindex: 0, state: 0, probes: 0 }, 'static entry untouched');
    t.equal(l.dp.learnedNeigh(1, ip4('10.0.1.11')), null, 'nor learned beside it');

    r = l.run(eth(BCAST, H1, ETH_P_ARP, arp(1, H1, '0.0.0.0', '00:00:00:00:00:00', '10.0.1.1')));
    t.equal(r.retval, TC_ACT_REDIRECT, 'address probe answered');
    t.same(r.data.subarray(38, 42), ipBytes('0.0.0.0'), 'reply to the probe targets 0.0.0.0');
    t.equal(l.dp.neigh(1, 0), null, 'nothing learned from a probe');

    r = l.run(eth(BCAST, BCAST, ETH_P_ARP, arp(1, BCAST, '10.0.1.12', '00:00:00:00:00:00', '10.0.1.1')));
    t.equal(r.retval, TC_ACT_SHOT, 'broadcast sender MAC dropped');
    t.equal(l.stat('drop:malformed'), 1n);
  });

  t.test('ARP reply to the router: learned when it answers (a next hop being resolved, a known neighbour), not unsolicited', async (t) => {
    const l = await lab(t);
    const reply = (mac: string): Buffer => eth(R2, mac, ETH_P_ARP, arp(2, mac, '10.0.2.20', R2, '10.0.2.1'));
    let r = l.run(reply(H2), l.b, 2);
    t.equal(r.retval, TC_ACT_SHOT, 'consumed');
    t.equal(l.dp.neigh(2, ip4('10.0.2.20')), null, 'an unsolicited reply teaches nothing (Linux: arp_accept = 0)');
    t.equal(l.stat('drop:not-for-us'), 1n, 'counted NOT_FOR_US');

    // A packet to it starts its resolution; the reply answers the request.
    t.equal(l.run(udpPacket('10.0.2.20')).data.readUInt16BE(12), ETH_P_ARP, 'the packet became the ARP request');
    t.equal(l.dp.pendingNeigh(2, ip4('10.0.2.20'))?.state, VNF_NEIGH_INCOMPLETE, 'INCOMPLETE while resolved');
    r = l.run(reply(H2), l.b, 2);
    t.equal(r.retval, TC_ACT_SHOT, 'consumed');
    t.equal(l.stat('arp-learn'), 1n, 'ARP_LEARN counted');
    const n = l.dp.learnedNeigh(2, ip4('10.0.2.20'));
    t.equal(n?.mac, H2, 'sender learned');
    t.equal(n?.flags, VNF_NEIGH_F_LEARNED);
    t.equal(n?.state, VNF_NEIGH_REACHABLE, 'REACHABLE');
    t.equal(n?.ifindex, l.b.ifindex, 'on the port it answered from');
    t.equal(l.dp.pendingNeigh(2, ip4('10.0.2.20')), null, 'no longer pending');
    t.equal(l.dp.portStat(l.b.ifindex, VNF_DIR_TX).packets, 0n, 'nothing sent to it');

    // A later reply from a known neighbour with a new MAC replaces the learned one.
    l.run(reply('02:00:00:00:02:99'), l.b, 2);
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

    // (UDP and TCP to the router are answered: router-local.test.ts.)
    const r = l.run(eth(R1, H1, ETH_P_IP, ipv4({ src: '10.0.1.10', dst: '10.0.1.1', proto: IPPROTO_ICMP }, icmpEcho(0, 1, 1))));
    t.equal(r.retval, TC_ACT_SHOT, 'echo reply to the router');
    t.equal(l.stat('drop:not-for-us'), 1n, 'NOT_FOR_US');
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
