/**
 * The router's neighbour state machine (issue 8, defect 2; bpf/include/vnf/neigh.h and
 * router_neigh.h) at packet level with BPF_PROG_TEST_RUN: INCOMPLETE with one broadcast request
 * per retransmit time, FAILED answered with ICMP host unreachable and retried later, REACHABLE
 * turning STALE and re-resolved by unicast probes while packets still flow (a copy goes on, the
 * packet becomes the probe), gratuitous ARP seen by the bridge, and learning restricted to ARP
 * that asks or answers the router from a sender on the network's subnet.
 *
 * Time: entries are aged by rewriting their times (CLOCK_MONOTONIC, the clock of
 * bpf_ktime_get_ns) rather than by sleeping, except where the settings map itself is checked.
 * Defaults are Linux's: reachable 30 s, retransmit 1 s, 3 unicast and 3 broadcast probes; FAILED
 * lasts 3 s.
 */
import t, { type Test } from 'tap';
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { attachTc, detachTc } from '../../src/bpf/attach.js';
import { VNF_DIR_TX } from '../../src/vnf/common/codec.js';
import { VNF_FDB_F_STATIC, VNF_ID_BRIDGE } from '../../src/vnf/bridge/codec.js';
import {
  VNF_NEIGH_FAILED, VNF_NEIGH_INCOMPLETE, VNF_NEIGH_REACHABLE, VNF_NEIGH_STALE, VNF_ROUTE_F_STATIC,
} from '../../src/vnf/router/codec.js';
import { now } from '../helpers/dataplane.js';
import { ETH_P_ARP, ETH_P_IP, IPPROTO_ICMP, arp, eth, ip4, ipv4 } from '../helpers/packets.js';
import { requirePrivileges } from '../helpers/privilege.js';
import { BCAST, H2, R2, TC_ACT_REDIRECT, TC_ACT_SHOT, checkIcmpError, ipBytes, lab, mac, udpPacket, type Lab } from '../helpers/router-lab.js';
import { capture } from '../helpers/vnf.js';

const S = 1_000_000_000n;
/* Aging margin beyond a timer: the dataplane reads CLOCK_MONOTONIC_COARSE, up to a tick (4 ms at
 * HZ 250) behind the test's CLOCK_MONOTONIC. */
const TICK = 20_000_000n;
/** The kernel's tick counter now (as bpf_jiffies64) and its rate. */
const jiffies = (): bigint => BigInt(/^jiffies: (\d+)$/m.exec(readFileSync('/proc/timer_list', 'utf8'))![1]!);
const kernelHz = (): number => Number(/^CONFIG_HZ=(\d+)$/m.exec(gunzipSync(readFileSync('/proc/config.gz')).toString())![1]);
const ZERO = '00:00:00:00:00:00';
const H2B = '02:00:00:00:02:99'; // 10.0.2.20 after a MAC change
const N20 = ip4('10.0.2.20');

/** An ARP request for the router's address on network 2 from (mac, ip): it asks the router. */
const asks = (m: string, ip: string): Buffer => eth(BCAST, m, ETH_P_ARP, arp(1, m, ip, ZERO, '10.0.2.1'));
/** An ARP reply to the router on network 2 from (mac, ip): it answers the router. */
const answers = (m: string, ip: string): Buffer => eth(R2, m, ETH_P_ARP, arp(2, m, ip, R2, '10.0.2.1'));
/** A gratuitous ARP (sender address = target address), broadcast. */
const garp = (op: 1 | 2, m: string, ip: string): Buffer => eth(BCAST, m, ETH_P_ARP, arp(op, m, ip, op === 1 ? ZERO : m, ip));

/** Checks that `out` is an ARP request from the router port of network 2 for `tip`, to `dst`. */
function isRequest(t: Test, out: Buffer, tip: string, dst = BCAST): void {
  t.equal(out.length, 60, 'one minimum frame');
  t.same(out.subarray(0, 6), mac(dst), `eth dst ${dst === BCAST ? 'broadcast' : dst}`);
  t.same(out.subarray(6, 12), mac(R2), 'eth src = router port MAC');
  t.equal(out.readUInt16BE(12), ETH_P_ARP, 'ARP');
  t.equal(out.readUInt16BE(20), 1, 'a request');
  t.same(out.subarray(22, 28), mac(R2), 'sha = router port MAC');
  t.same(out.subarray(28, 32), ipBytes('10.0.2.1'), 'sip = router port address');
  t.same(out.subarray(32, 38), mac(ZERO), 'tha zero');
  t.same(out.subarray(38, 42), ipBytes(tip), `tip ${tip}`);
}

/** Learns 10.0.2.20 at H2 behind port b (it asks the router) and places H2 in b's FDB. */
function learnH2(l: Lab): void {
  l.dp.setFdb(2, H2, { ifindex: l.b.ifindex, flags: VNF_FDB_F_STATIC });
  l.run(asks(H2, '10.0.2.20'), l.b, 2);
}

/** Moves a time of 10.0.2.20's entry into the past; aging a confirmation also ends its forwarding shortcut (jiffies). */
const older = (l: Lab, map: 'vnf_neigh' | 'vnf_neigh_pend', what: 'updated_ns' | 'probe_ns', by: bigint): void => {
  l.dp.editNeigh(map, 2, N20, (e) => ({ [what]: (e[what] ?? 0n) - by, ...(what === 'updated_ns' ? { reachable_until: 0n } : {}) }));
};

if (requirePrivileges(t)) {
  t.test('unresolved next hop: INCOMPLETE, one broadcast request per retransmit time, then FAILED with ICMP host unreachable, then a new resolution', async (t) => {
    const l = await lab(t);
    const pkt = udpPacket('10.0.2.20');

    let r = l.run(pkt);
    t.equal(r.retval, TC_ACT_SHOT, 'the packet became the request, flooded');
    isRequest(t, r.data, '10.0.2.20');
    let p = l.dp.pendingNeigh(2, N20);
    t.equal(p?.state, VNF_NEIGH_INCOMPLETE, 'INCOMPLETE');
    t.equal(p?.probes, 1, 'one request sent');
    t.equal(l.dp.learnedNeigh(2, N20), null, 'nothing in the learned table');

    for (let i = 0; i < 5; i++) {
      r = l.run(pkt);
      if (r.retval !== TC_ACT_SHOT || !r.data.equals(pkt)) t.fail(`packet ${i + 2} sent something`);
    }
    t.equal(l.stat('arp-request'), 1n, 'one request within the retransmit time, whatever the packets');
    t.equal(l.stat('drop:neigh-pending'), 5n, 'the others dropped as pending');
    t.equal(l.stat('flood', VNF_ID_BRIDGE), 1n, 'one broadcast on the out network');

    // Two more requests, one per retransmit time.
    for (const n of [2, 3]) {
      older(l, 'vnf_neigh_pend', 'probe_ns', S + TICK);
      r = l.run(pkt);
      isRequest(t, r.data, '10.0.2.20');
      t.equal(l.dp.pendingNeigh(2, N20)?.probes, n, `request ${n}`);
      t.equal(l.run(pkt).retval, TC_ACT_SHOT, 'the next packet waits');
    }
    t.equal(l.stat('arp-request'), 3n);

    // The third went unanswered for a retransmit time: FAILED, and the packet is answered.
    older(l, 'vnf_neigh_pend', 'probe_ns', S + TICK);
    r = l.run(pkt);
    t.equal(r.retval, TC_ACT_REDIRECT, 'answered to the sender');
    checkIcmpError(t, r.data, pkt, { type: 3, code: 1, routerMac: '02:00:00:00:01:01', routerIp: '10.0.1.1' });
    p = l.dp.pendingNeigh(2, N20);
    t.equal(p?.state, VNF_NEIGH_FAILED, 'FAILED');
    t.equal(l.stat('drop:neigh-failed'), 1n, 'NEIGH_FAILED counted');
    t.equal(l.stat('icmp-error'), 1n, 'ICMP_ERROR verdict');
    t.equal(l.stat('arp-request'), 3n, 'no fourth request');

    r = l.run(pkt);
    t.equal(r.data[34], 3, 'while FAILED, each packet gets host unreachable');
    t.equal(r.data[35], 1, 'code 1 (host)');
    // Never an error about an error.
    const unreach = Buffer.concat([Buffer.from([3, 3, 0, 0, 0, 0, 0, 0]), Buffer.alloc(28, 0x45)]);
    r = l.run(eth('02:00:00:00:01:01', '02:00:00:00:01:0a', ETH_P_IP, ipv4({ src: '10.0.1.10', dst: '10.0.2.20', proto: IPPROTO_ICMP }, unreach)));
    t.equal(r.retval, TC_ACT_SHOT, 'an ICMP error to a failed next hop: dropped, unanswered');

    // After the failed time, a packet starts a new resolution.
    older(l, 'vnf_neigh_pend', 'updated_ns', 3n * S + TICK);
    r = l.run(pkt);
    isRequest(t, r.data, '10.0.2.20');
    p = l.dp.pendingNeigh(2, N20);
    t.equal(p?.state, VNF_NEIGH_INCOMPLETE, 'INCOMPLETE again');
    t.equal(p?.probes, 1, 'its first request');
    t.equal(l.run(pkt).retval, TC_ACT_SHOT, 'and the next packet waits');
    t.equal(l.stat('arp-request'), 4n);
  });

  t.test('the answer resolves it: REACHABLE, pending entry gone, packets routed to the MAC', async (t) => {
    const l = await lab(t);
    l.dp.setFdb(2, H2, { ifindex: l.b.ifindex, flags: VNF_FDB_F_STATIC });
    l.run(udpPacket('10.0.2.20'));
    t.ok(l.dp.pendingNeigh(2, N20), 'pending');
    t.equal(l.run(answers(H2, '10.0.2.20'), l.b, 2).retval, TC_ACT_SHOT, 'the reply is consumed');
    const n = l.dp.learnedNeigh(2, N20);
    t.equal(n?.state, VNF_NEIGH_REACHABLE, 'REACHABLE');
    t.equal(n?.mac, H2);
    t.equal(n?.probes, 0);
    t.equal(l.dp.pendingNeigh(2, N20), null, 'no longer pending');
    const r = l.run(udpPacket('10.0.2.20'));
    t.equal(r.retval, TC_ACT_REDIRECT, 'routed');
    t.same(r.data.subarray(0, 6), mac(H2), 'to the learned MAC');
    t.equal(l.stat('routed'), 1n);

    // A FAILED next hop that later asks the router is resolved at once.
    l.run(udpPacket('10.0.2.30'));
    l.dp.editNeigh('vnf_neigh_pend', 2, ip4('10.0.2.30'), () => ({ state: VNF_NEIGH_FAILED }));
    t.equal(l.run(udpPacket('10.0.2.30')).data[34], 3, 'FAILED: host unreachable');
    l.run(asks('02:00:00:00:02:30', '10.0.2.30'), l.c, 2);
    t.equal(l.dp.learnedNeigh(2, ip4('10.0.2.30'))?.state, VNF_NEIGH_REACHABLE, 'learned from its request');
    t.equal(l.dp.pendingNeigh(2, ip4('10.0.2.30')), null, 'the failure is forgotten');
  });

  t.test('STALE: the packet goes on (a copy through the port\'s egress chain) and becomes a unicast probe to that port; one per retransmit time; unanswered, resolved anew by broadcast', async (t) => {
    const l = await lab(t);
    // The copy leaves through b's egress, where vnf_entry_out runs b's chain_out (DELIVER: pass).
    const link = attachTc(l.dp.program('vnf_entry_out'), l.b.name, 'egress');
    t.teardown(() => detachTc(link));
    learnH2(l);
    const n = l.dp.learnedNeigh(2, N20);
    t.equal(n?.state, VNF_NEIGH_REACHABLE, 'learned from its request: REACHABLE');
    t.equal(n?.ifindex, l.b.ifindex, 'on port b');
    const hz = kernelHz();
    const ticks = Number((n?.reachable_until ?? 0n) - jiffies());
    t.ok(ticks > 30 * hz - hz && ticks <= 30 * hz, `its forwarding shortcut lasts the reachable time (${ticks} ticks of ${hz} Hz)`);

    let r = l.run(udpPacket('10.0.2.20'));
    t.equal(r.retval, TC_ACT_REDIRECT, 'REACHABLE: routed');
    t.same(r.data.subarray(0, 6), mac(H2));
    t.equal(l.stat('arp-probe'), 0n, 'no probe while REACHABLE');

    // 30 s later it is STALE.
    older(l, 'vnf_neigh', 'updated_ns', 30n * S + TICK);
    const txBefore = l.dp.portStat(l.b.ifindex, VNF_DIR_TX).packets;
    let copies = 0;
    const seen = await capture(l.b.ns, l.b.peer, `udp and ether dst ${H2} and ether src ${R2} and ip[8] = 63`, () => {
      r = l.run(udpPacket('10.0.2.20'));
      copies++;
    }, 2);
    // (BPF_PROG_TEST_RUN reports a redirect without doing it: the probe is the output.)
    t.equal(r.retval, TC_ACT_REDIRECT, 'the probe is redirected (to port b\'s egress)');
    isRequest(t, r.data, '10.0.2.20', H2);
    t.equal(seen, copies, 'the routed packet (TTL 63, to the cached MAC) reached the container behind b');
    t.equal(l.dp.portStat(l.b.ifindex, VNF_DIR_TX).packets - txBefore, 1n, 'through b\'s egress chain (vnf_entry_out, DELIVER)');
    t.equal(l.stat('arp-probe'), 1n, 'ARP_PROBE verdict');
    t.equal(l.stat('routed'), 2n, 'the copy counted as routed');
    t.equal(l.dp.learnedNeigh(2, N20)?.probes, 1, 'one probe');

    // (The capture took seconds: the probe is made recent again.)
    l.dp.editNeigh('vnf_neigh', 2, N20, () => ({ probe_ns: now() }));
    r = l.run(udpPacket('10.0.2.20'));
    t.equal(r.retval, TC_ACT_REDIRECT);
    t.equal(r.data.readUInt16BE(12), ETH_P_IP, 'within the retransmit time: routed without a probe');
    t.equal(l.stat('arp-probe'), 1n);

    for (const k of [2, 3]) {
      older(l, 'vnf_neigh', 'probe_ns', S + TICK);
      r = l.run(udpPacket('10.0.2.20'));
      isRequest(t, r.data, '10.0.2.20', H2);
      t.equal(l.dp.learnedNeigh(2, N20)?.probes, k, `probe ${k}`);
    }
    // Every unicast probe unanswered: the MAC is forgotten, the next hop resolved by broadcast.
    older(l, 'vnf_neigh', 'probe_ns', S + TICK);
    r = l.run(udpPacket('10.0.2.20'));
    t.equal(r.retval, TC_ACT_SHOT, 'the packet became a broadcast request');
    isRequest(t, r.data, '10.0.2.20');
    t.equal(l.dp.learnedNeigh(2, N20), null, 'learned entry gone');
    t.equal(l.dp.pendingNeigh(2, N20)?.state, VNF_NEIGH_INCOMPLETE, 'INCOMPLETE');
  });

  t.test('an answered probe makes it REACHABLE again', async (t) => {
    const l = await lab(t);
    learnH2(l);
    older(l, 'vnf_neigh', 'updated_ns', 30n * S + TICK);
    isRequest(t, l.run(udpPacket('10.0.2.20')).data, '10.0.2.20', H2);
    t.equal(l.run(answers(H2, '10.0.2.20'), l.b, 2).retval, TC_ACT_SHOT, 'the reply consumed');
    const n = l.dp.learnedNeigh(2, N20);
    t.equal(n?.state, VNF_NEIGH_REACHABLE, 'REACHABLE');
    t.equal(n?.probes, 0, 'probes reset');
    t.equal(l.run(udpPacket('10.0.2.20')).data.readUInt16BE(12), ETH_P_IP, 'routed without a probe');
    t.equal(l.stat('arp-probe'), 1n);
  });

  t.test('a next hop that changed its MAC is found again instead of black-holed', async (t) => {
    const l = await lab(t);
    learnH2(l);
    l.dp.setFdb(2, H2B, { ifindex: l.b.ifindex, flags: VNF_FDB_F_STATIC });
    older(l, 'vnf_neigh', 'updated_ns', 30n * S + TICK);
    // H2 is gone: three unanswered unicast probes, then a broadcast request, answered by H2B.
    for (let i = 0; i < 3; i++) {
      l.run(udpPacket('10.0.2.20'));
      older(l, 'vnf_neigh', 'probe_ns', S + TICK);
    }
    isRequest(t, l.run(udpPacket('10.0.2.20')).data, '10.0.2.20');
    l.run(answers(H2B, '10.0.2.20'), l.b, 2);
    const r = l.run(udpPacket('10.0.2.20'));
    t.equal(r.retval, TC_ACT_REDIRECT, 'routed');
    t.same(r.data.subarray(0, 6), mac(H2B), 'to the new MAC');
  });

  t.test('gratuitous ARP flooded by the bridge updates a learned neighbour (STALE, new MAC) and completes a pending one; nothing else', async (t) => {
    const l = await lab(t);
    learnH2(l);
    for (const op of [1, 2] as const) {
      const m = op === 1 ? H2B : H2;
      const before = l.stat('flood', VNF_ID_BRIDGE);
      const r = l.bridge(garp(op, m, '10.0.2.20'), l.b, 2);
      t.equal(r.retval, TC_ACT_SHOT, `gratuitous ${op === 1 ? 'request' : 'reply'}: flooded as before`);
      t.equal(l.stat('flood', VNF_ID_BRIDGE) - before, 1n, 'the bridge flooded it');
      const n = l.dp.learnedNeigh(2, N20);
      t.equal(n?.mac, m, `learned entry now at ${m}`);
      t.equal(n?.state, VNF_NEIGH_STALE, 'STALE: a broadcast asserts no reachability');
      t.equal(n?.ifindex, l.b.ifindex);
    }
    t.equal(l.stat('neigh-update'), 2n, 'NEIGH_UPDATE counted for the router');
    l.bridge(garp(1, H2, '10.0.2.20'), l.b, 2);
    t.equal(l.stat('neigh-update'), 2n, 'the same MAC again changes nothing');
    t.equal(l.stat('to-router', VNF_ID_BRIDGE), 0n, 'none of it was handed to the router');

    // STALE with its new MAC: the next packet probes it there.
    l.dp.setFdb(2, H2B, { ifindex: l.b.ifindex, flags: VNF_FDB_F_STATIC });
    l.bridge(garp(1, H2B, '10.0.2.20'), l.b, 2);
    isRequest(t, l.run(udpPacket('10.0.2.20')).data, '10.0.2.20', H2B);

    // Unknown and declared neighbours are not learned from it.
    l.bridge(garp(1, '02:00:00:00:02:40', '10.0.2.40'), l.c, 2);
    t.equal(l.dp.neigh(2, ip4('10.0.2.40')), null, 'an unknown sender is not learned');
    l.dp.setNeigh(2, ip4('10.0.2.50'), { mac: '02:00:00:00:02:50' });
    l.bridge(garp(1, '02:00:00:00:02:51', '10.0.2.50'), l.c, 2);
    t.equal(l.dp.neigh(2, ip4('10.0.2.50'))?.mac, '02:00:00:00:02:50', 'a declared neighbour never changes');
    t.equal(l.dp.learnedNeigh(2, ip4('10.0.2.50')), null);
    // A non-gratuitous broadcast request between containers teaches nothing.
    l.bridge(eth(BCAST, '02:00:00:00:02:33', ETH_P_ARP, arp(1, '02:00:00:00:02:33', '10.0.2.20', ZERO, '10.0.2.30')), l.c, 2);
    t.equal(l.dp.learnedNeigh(2, N20)?.mac, H2B, 'an ARP request to another host does not move it');

    // A pending next hop is completed by its gratuitous ARP.
    l.run(udpPacket('10.0.2.60'));
    t.ok(l.dp.pendingNeigh(2, ip4('10.0.2.60')), 'pending');
    l.bridge(garp(1, '02:00:00:00:02:60', '10.0.2.60'), l.c, 2);
    t.equal(l.dp.learnedNeigh(2, ip4('10.0.2.60'))?.mac, '02:00:00:00:02:60', 'learned (STALE)');
    t.equal(l.dp.pendingNeigh(2, ip4('10.0.2.60')), null, 'no longer pending');
  });

  t.test('the router learns only from senders on the subnet of the network the ARP came from', async (t) => {
    const l = await lab(t);
    // A request for the router's address from outside the subnet is answered, not learned.
    let r = l.run(asks(H2, '10.0.9.9'), l.b, 2);
    t.equal(r.retval, TC_ACT_REDIRECT, 'answered');
    t.equal(l.dp.neigh(2, ip4('10.0.9.9')), null, 'not learned');
    r = l.run(asks(H2, '10.0.2.255'), l.b, 2);
    t.equal(l.dp.neigh(2, ip4('10.0.2.255')), null, 'the subnet broadcast address is not learned');
    r = l.run(asks(H2, '10.0.1.10'), l.b, 2);
    t.equal(l.dp.neigh(2, ip4('10.0.1.10')), null, 'nor an address of another network of the router');

    // A next hop outside the subnet (a route through it) is resolved, but neither its reply
    // nor its gratuitous ARP is taken.
    l.dp.setRoute(1, ip4('10.9.0.0'), 16, { network: 2, nexthop: ip4('10.0.9.9'), flags: VNF_ROUTE_F_STATIC });
    isRequest(t, l.run(udpPacket('10.9.1.1')).data, '10.0.9.9');
    l.run(answers(H2, '10.0.9.9'), l.b, 2);
    l.bridge(garp(1, H2, '10.0.9.9'), l.b, 2);
    t.equal(l.dp.learnedNeigh(2, ip4('10.0.9.9')), null, 'a reply or gratuitous ARP from outside the subnet is never learned');
    t.equal(l.dp.pendingNeigh(2, ip4('10.0.9.9'))?.state, VNF_NEIGH_INCOMPLETE, 'still unresolved');
    t.equal(l.stat('arp-learn'), 0n);
  });

  t.test('the settings map drives the timers', async (t) => {
    const l = await lab(t);
    l.dp.setRouterCfg({ reachable_ms: 40, ucast_probes: 0, mcast_probes: 1, retrans_ms: 40 });
    learnH2(l);
    t.equal(l.run(udpPacket('10.0.2.20')).retval, TC_ACT_REDIRECT, 'REACHABLE');
    await new Promise((r) => setTimeout(r, 60));
    // STALE after 40 ms; with no unicast probes it is resolved by broadcast at once.
    isRequest(t, l.run(udpPacket('10.0.2.20')).data, '10.0.2.20');
    t.equal(l.dp.pendingNeigh(2, N20)?.state, VNF_NEIGH_INCOMPLETE);
    await new Promise((r) => setTimeout(r, 60));
    // One broadcast request only: unanswered after 40 ms, FAILED.
    t.equal(l.run(udpPacket('10.0.2.20')).data[34], 3, 'host unreachable after one request');
    t.equal(l.dp.pendingNeigh(2, N20)?.state, VNF_NEIGH_FAILED);
  });
}
