/**
 * The bridge VNF through the real entry program: vnf_entry_in (chain_in
 * [bridge]) -> vnf_bridge -> chain_out [deliver] of the chosen port, run with
 * BPF_PROG_TEST_RUN on veth pairs as ports. Floods are observed for
 * real: vnf_entry_out sits on every port's tcx egress, so each clone that
 * bpf_clone_redirect() sends out runs that port's chain_out and is counted
 * by deliver as port TX.
 */
import t, { type Test } from 'tap';
import { attachTc, detachTc } from '../../src/bpf/attach.js';
import { skbContext } from '../../src/bpf/skb.js';
import { REASON, VNF_DIR_TX, VNF_ID_CORE, VNF_ID_DELIVER, type NetworkEntry } from '../../src/vnf/common/codec.js';
import { VNF_FDB_F_STATIC, VNF_ID_BRIDGE } from '../../src/vnf/bridge/codec.js';
import { createPorts, loadDataplane, type TestPort, type TestDataplane } from '../helpers/dataplane.js';
import { arp, eth, ETH_P_ARP, ip4, pingPacket } from '../helpers/packets.js';
import { requirePrivileges } from '../helpers/privilege.js';

const NET = 1;
const TC_ACT_SHOT = 2;
const TC_ACT_REDIRECT = 7;
const SEC = 1_000_000_000n;

/** Container MACs behind the ports, by port index. */
const MAC = ['02:00:00:00:00:0a', '02:00:00:00:00:0b', '02:00:00:00:00:0c', '02:00:00:00:00:0d'] as const;
const UNKNOWN = '02:00:00:00:00:99';
const BCAST = 'ff:ff:ff:ff:ff:ff';
const MCAST = '01:00:5e:00:00:01';
const ROUTER_MAC = '02:00:00:00:00:fe';
const ROUTER_IP = '10.0.0.1';

interface Bridge {
  dp: TestDataplane;
  ports: TestPort[];
  /** ifindexes, by port index */
  ix: number[];
}

/**
 * `n` ports as the dataplane sees them: host-side veths whose container ends
 * sit in a namespace made by the test (this kernel has no dummy driver).
 * IPv6 is off on both ends, so nothing the kernel sends by itself (router
 * solicitations, MLD reports) crosses the egress hook and counts as TX.
 */

/**
 * A network NET with `n` dummy ports, chain_in [bridge], chain_out [deliver],
 * all ports in the flood list. With `observe`, vnf_entry_out is attached to
 * every port's tcx egress (detached at teardown, before the ports go).
 */
async function bridge(t: Test, n: number, opts: { observe?: boolean; network?: Partial<NetworkEntry> } = {}): Promise<Bridge> {
  const dp = await loadDataplane(t, ['entry', 'bridge']);
  const ports = createPorts(t, n);
  const chainIn = dp.addChain([VNF_ID_BRIDGE]);
  const chainOut = dp.addChain([VNF_ID_DELIVER]);
  const ix = ports.map((p) => p.ifindex);
  for (const i of ix) dp.setPort(i, { network: NET, chain_in: chainIn, chain_out: chainOut });
  dp.setNetwork(NET, { ports: ix, ...opts.network });
  if (opts.observe) {
    for (const p of ports) {
      const a = attachTc(dp.program('vnf_entry_out'), p.name, 'egress', { mode: 'tcx' });
      t.teardown(() => detachTc(a));
    }
  }
  return { dp, ports, ix };
}

const frame = (dst: string, src: string): Buffer => pingPacket({ srcMac: src, dstMac: dst, src: '10.0.0.10', dst: '10.0.0.11' });

const txOf = (b: Bridge): bigint[] => b.ix.map((i) => b.dp.portStat(i, VNF_DIR_TX).packets);
const txBytesOf = (b: Bridge): bigint[] => b.ix.map((i) => b.dp.portStat(i, VNF_DIR_TX).bytes);
const bstat = (b: Bridge, reason: string): bigint => b.dp.stat(VNF_ID_BRIDGE, REASON[reason]!).packets;

/** Runs `pkt` from port `from` and returns the retval and the TX delta of every port. */
function send(b: Bridge, from: number, pkt: Buffer): { retval: number; data: Buffer; tx: number[]; txBytes: bigint[] } {
  const before = txOf(b);
  const beforeBytes = txBytesOf(b);
  const r = b.dp.runFrom(b.ix[from]!, pkt);
  const after = txOf(b);
  const afterBytes = txBytesOf(b);
  return {
    retval: r.retval,
    data: r.data,
    tx: after.map((v, i) => Number(v - before[i]!)),
    txBytes: afterBytes.map((v, i) => v - beforeBytes[i]!),
  };
}

/** TX deltas expected when port `from` floods to all others. */
const everyOther = (n: number, from: number): number[] => Array.from({ length: n }, (_, i) => (i === from ? 0 : 1));

if (requirePrivileges(t)) {
  t.test('learning', async (t) => {
    const b = await bridge(t, 2);
    const [A, B] = [b.ix[0]!, b.ix[1]!];

    t.equal(b.dp.fdb(NET, MAC[0]), null, 'nothing learned yet');
    const t0 = process.hrtime.bigint();
    b.dp.runFrom(A, frame(BCAST, MAC[0]));
    const t1 = process.hrtime.bigint();
    const e1 = b.dp.fdb(NET, MAC[0]);
    t.ok(e1, 'the source MAC was learned');
    t.equal(e1!.ifindex, A, 'on the ingress port');
    t.equal(e1!.flags, 0, 'as a learned (not static) entry');
    t.ok(e1!.updated_ns >= t0 && e1!.updated_ns <= t1, `updated_ns ${e1!.updated_ns} within [${t0}, ${t1}] (CLOCK_MONOTONIC)`);

    b.dp.runFrom(A, frame(BCAST, MAC[0]));
    const e2 = b.dp.fdb(NET, MAC[0])!;
    if (process.hrtime.bigint() - e1!.updated_ns < SEC) {
      t.equal(e2.updated_ns, e1!.updated_ns, 'a second packet within 1 s does not rewrite the entry');
    } else {
      t.ok(e2.updated_ns > e1!.updated_ns, 'more than 1 s passed (slow machine): refreshed');
    }

    // A learned entry on the right port but older than 1 s is refreshed.
    const stale = process.hrtime.bigint() - 5n * SEC;
    b.dp.setFdb(NET, MAC[0], { ifindex: A, updated_ns: stale });
    const t2 = process.hrtime.bigint();
    b.dp.runFrom(A, frame(BCAST, MAC[0]));
    const e3 = b.dp.fdb(NET, MAC[0])!;
    t.ok(e3.updated_ns >= t2, 'an entry older than 1 s is refreshed');
    t.equal(e3.ifindex, A);

    // The MAC moves to port B: re-learned at once.
    b.dp.runFrom(B, frame(BCAST, MAC[0]));
    const e4 = b.dp.fdb(NET, MAC[0])!;
    t.equal(e4.ifindex, B, 'a MAC moving to another port is re-learned');
    t.equal(e4.flags, 0);

    // A static entry is never moved (nor refreshed) by learning.
    b.dp.setFdb(NET, MAC[1], { ifindex: A, flags: VNF_FDB_F_STATIC, updated_ns: 0n });
    b.dp.runFrom(B, frame(BCAST, MAC[1]));
    t.same(b.dp.fdb(NET, MAC[1]), { ifindex: A, flags: VNF_FDB_F_STATIC, updated_ns: 0n }, 'static entry untouched by learning');
  });

  t.test('sources that are never learned', async (t) => {
    const b = await bridge(t, 2, { network: { router_id: 0, router_mac: ROUTER_MAC } });
    const A = b.ix[0]!;
    b.dp.runFrom(A, frame(BCAST, '03:00:00:00:00:01'));
    t.equal(b.dp.fdb(NET, '03:00:00:00:00:01'), null, 'multicast source');
    b.dp.runFrom(A, frame(BCAST, '00:00:00:00:00:00'));
    t.equal(b.dp.fdb(NET, '00:00:00:00:00:00'), null, 'all-zero source');
    b.dp.runFrom(A, frame(BCAST, ROUTER_MAC));
    t.equal(b.dp.fdb(NET, ROUTER_MAC), null, "the router port's own MAC");
    b.dp.runFrom(A, frame(BCAST, MAC[0]));
    t.ok(b.dp.fdb(NET, MAC[0]), 'a unicast source is (control)');
  });

  t.test('known unicast goes to the destination port only', async (t) => {
    const b = await bridge(t, 3, { observe: true });
    const [A, B] = [b.ix[0]!, b.ix[1]!];
    b.dp.setFdb(NET, MAC[1], { ifindex: B, updated_ns: process.hrtime.bigint() });
    const fwd0 = bstat(b, 'forward');
    const flood0 = bstat(b, 'flood');
    const deliver0 = b.dp.stat(VNF_ID_CORE, REASON['deliver']!).packets;
    const pkt = frame(MAC[1], MAC[0]);

    const r = send(b, 0, pkt);
    t.equal(r.retval, TC_ACT_REDIRECT, 'TC_ACT_REDIRECT (bpf_redirect_peer)');
    t.same(r.tx, [0, 1, 0], 'TX +1 on the destination port, nothing elsewhere');
    t.equal(r.txBytes[1], BigInt(pkt.length), 'TX bytes = frame length');
    t.equal(bstat(b, 'forward') - fwd0, 1n, 'FORWARD +1');
    t.equal(bstat(b, 'flood') - flood0, 0n, 'not flooded');
    t.equal(b.dp.stat(VNF_ID_CORE, REASON['deliver']!).packets - deliver0, 1n, 'DELIVER +1');
    t.same(r.data, pkt, 'packet bytes unchanged');
    t.equal(b.dp.fdb(NET, MAC[0])?.ifindex, A, 'and the source was learned on the way');

    // The reply finds the learned entry.
    const back = send(b, 1, frame(MAC[0], MAC[1]));
    t.equal(back.retval, TC_ACT_REDIRECT);
    t.same(back.tx, [1, 0, 0], 'the reply goes to A only');
  });

  t.test('aging', async (t) => {
    const b = await bridge(t, 3, { observe: true, network: { fdb_aging_sec: 2 } });
    const B = b.ix[1]!;
    const now = process.hrtime.bigint();
    const pkt = frame(MAC[1], MAC[0]);

    b.dp.setFdb(NET, MAC[1], { ifindex: B, updated_ns: now - 3n * SEC });
    let flood0 = bstat(b, 'flood');
    let r = send(b, 0, pkt);
    t.equal(r.retval, TC_ACT_SHOT, 'aged entry: the original is consumed by the flood');
    t.same(r.tx, everyOther(3, 0), 'an entry older than fdb_aging_sec is unknown: flooded');
    t.equal(bstat(b, 'flood') - flood0, 1n, 'FLOOD +1');

    b.dp.setFdb(NET, MAC[1], { ifindex: B, updated_ns: process.hrtime.bigint() - SEC });
    const fwd0 = bstat(b, 'forward');
    r = send(b, 0, pkt);
    t.equal(r.retval, TC_ACT_REDIRECT, 'a fresh entry is used');
    t.same(r.tx, [0, 1, 0]);
    t.equal(bstat(b, 'forward') - fwd0, 1n);

    b.dp.setFdb(NET, MAC[1], { ifindex: B, flags: VNF_FDB_F_STATIC, updated_ns: 0n });
    flood0 = bstat(b, 'flood');
    r = send(b, 0, pkt);
    t.equal(r.retval, TC_ACT_REDIRECT, 'a static entry never ages (updated_ns 0)');
    t.same(r.tx, [0, 1, 0]);
    t.equal(bstat(b, 'flood') - flood0, 0n);
  });

  t.test('flooding: broadcast, multicast, unknown unicast', async (t) => {
    const b = await bridge(t, 4, { observe: true });
    const cases: Array<[string, string, number]> = [
      ['broadcast', BCAST, 0],
      ['multicast', MCAST, 1],
      ['unknown unicast', UNKNOWN, 2],
    ];
    for (const [what, dst, from] of cases) {
      const flood0 = bstat(b, 'flood');
      const pkt = frame(dst, MAC[from]!);
      const r = send(b, from, pkt);
      t.equal(r.retval, TC_ACT_SHOT, `${what}: the original is consumed (TC_ACT_SHOT)`);
      t.same(r.tx, everyOther(4, from), `${what}: every other port exactly once, never the ingress port`);
      t.same(r.txBytes, everyOther(4, from).map((x) => BigInt(x * pkt.length)), `${what}: whole frames`);
      t.equal(bstat(b, 'flood') - flood0, 1n, `${what}: FLOOD +1`);
    }
    t.equal(bstat(b, 'drop:redirect'), 0n, 'no clone failed');
  });

  t.test('flood list versioning', async (t) => {
    const b = await bridge(t, 4, { observe: true });
    let r = send(b, 0, frame(UNKNOWN, MAC[0]));
    t.same(r.tx, [0, 1, 1, 1], 'before: B, C and D');
    // The helper writes the new list under a new version, then flips the network to it.
    b.dp.setNetwork(NET, { ports: [b.ix[0]!, b.ix[1]!, b.ix[3]!] });
    r = send(b, 0, frame(UNKNOWN, MAC[0]));
    t.same(r.tx, [0, 1, 0, 1], 'after the flip C, no longer listed, gets nothing');
    r = send(b, 3, frame(BCAST, MAC[3]));
    t.same(r.tx, [1, 1, 0, 0], 'from D: A and B');
  });

  t.test('a failed clone is counted, the other ports still get theirs', async (t) => {
    const b = await bridge(t, 3, { observe: true });
    // An ifindex with no device: bpf_clone_redirect() returns -EINVAL. (A port entry on the
    // network, or the bridge would not even try: see the cross-network test.)
    b.dp.setPort(0x7ffffff0, { network: NET });
    b.dp.setNetwork(NET, { ports: [...b.ix, 0x7ffffff0] });
    const r = send(b, 0, frame(BCAST, MAC[0]));
    t.same(r.tx, [0, 1, 1]);
    t.equal(bstat(b, 'drop:redirect'), 1n, 'DROP_REDIRECT +1');
    t.equal(bstat(b, 'flood'), 1n, 'the flood itself is counted once');
  });

  t.test('hairpin, missing network, header-only and truncated frames', async (t) => {
    const b = await bridge(t, 2);
    const [A, B] = [b.ix[0]!, b.ix[1]!];

    b.dp.setFdb(NET, MAC[1], { ifindex: A, flags: VNF_FDB_F_STATIC });
    const r = b.dp.runFrom(A, frame(MAC[1], MAC[0]));
    t.equal(r.retval, TC_ACT_SHOT);
    t.equal(bstat(b, 'drop:hairpin'), 1n, 'destination behind the ingress port: DROP_HAIRPIN');
    t.equal(bstat(b, 'forward'), 0n);

    // A port on a network that does not exist.
    b.dp.setPort(B, { network: 99, chain_in: b.dp.addChain([VNF_ID_BRIDGE]), chain_out: b.dp.addChain([VNF_ID_DELIVER]) });
    const r2 = b.dp.runFrom(B, frame(BCAST, MAC[1]));
    t.equal(r2.retval, TC_ACT_SHOT);
    t.equal(bstat(b, 'drop:no-network'), 1n, 'DROP_NO_NETWORK');
    t.equal(b.dp.fdb(99, MAC[1]), null, 'nothing learned on a missing network');

    // An Ethernet header and nothing else is a valid frame for a bridge.
    const hdr = eth(BCAST, MAC[0], 0x88b5, Buffer.alloc(0));
    const flood0 = bstat(b, 'flood');
    t.equal(b.dp.runFrom(A, hdr).retval, TC_ACT_SHOT);
    t.equal(bstat(b, 'flood') - flood0, 1n, 'a 14-byte frame is flooded, not malformed');
    t.equal(bstat(b, 'drop:malformed'), 0n);

    // Shorter than an Ethernet header: the kernel refuses it before any
    // program runs (tc ingress always has the 14-byte header linear, so
    // the bridge's own check is a verifier bound that cannot fire here).
    t.throws(() => b.dp.runFrom(A, hdr.subarray(0, 13)), { code: 'EINVAL' }, 'a 13-byte frame never reaches the bridge');
    t.equal(b.dp.stat(VNF_ID_CORE, REASON['pass']!).packets, 3n, 'entry ran for the three frames above only');
  });

  t.test('router hand-off', async (t) => {
    const b = await bridge(t, 3, {
      observe: true,
      network: { router_id: 1, router_ip: ip4(ROUTER_IP), router_mac: ROUTER_MAC, router_prefix: 24 },
    });

    // Addressed to the router port, with the router slot empty: fail closed.
    let r = send(b, 0, frame(ROUTER_MAC, MAC[0]));
    t.equal(r.retval, TC_ACT_SHOT, 'dropped');
    t.equal(bstat(b, 'to-router'), 1n, 'TO_ROUTER +1');
    t.equal(bstat(b, 'drop:tail-call'), 1n, 'empty router slot: DROP_TAIL_CALL, counted');
    t.same(r.tx, [0, 0, 0], 'never flooded');
    t.equal(bstat(b, 'flood'), 0n);
    t.equal(b.dp.fdb(NET, MAC[0])?.ifindex, b.ix[0], 'the sender was learned before the hand-off');

    // ARP request for the router's address: handed off, not flooded.
    const who = (ip: string): Buffer => eth(BCAST, MAC[1], ETH_P_ARP, arp(1, MAC[1], '10.0.0.11', '00:00:00:00:00:00', ip));
    r = send(b, 1, who(ROUTER_IP));
    t.equal(r.retval, TC_ACT_SHOT);
    t.equal(bstat(b, 'to-router'), 2n, 'ARP for router_ip goes to the router');
    t.equal(bstat(b, 'drop:tail-call'), 2n);
    t.same(r.tx, [0, 0, 0], 'ARP for router_ip is not flooded');
    t.equal(bstat(b, 'flood'), 0n);

    // ARP for anyone else is an ordinary broadcast.
    r = send(b, 1, who('10.0.0.12'));
    t.same(r.tx, [1, 0, 1], 'ARP for another address is flooded');
    t.equal(bstat(b, 'flood'), 1n);
    t.equal(bstat(b, 'to-router'), 2n);

    // A truncated ARP request (no target address) is not taken for one.
    r = send(b, 1, who(ROUTER_IP).subarray(0, 14 + 20));
    t.same(r.tx, [1, 0, 1], 'a truncated ARP request is flooded, not handed off');
    t.equal(bstat(b, 'to-router'), 2n);

    // An ARP reply to the router's address is not a request: flooded.
    r = send(b, 2, eth(BCAST, MAC[2], ETH_P_ARP, arp(2, MAC[2], '10.0.0.12', ROUTER_MAC, ROUTER_IP)));
    t.same(r.tx, [1, 1, 0]);
    t.equal(bstat(b, 'to-router'), 2n);
  });

  t.test('no router port: the router MAC is just another address', async (t) => {
    const b = await bridge(t, 2, { observe: true, network: { router_id: 0, router_mac: ROUTER_MAC, router_ip: ip4(ROUTER_IP) } });
    const r = send(b, 0, frame(ROUTER_MAC, MAC[0]));
    t.same(r.tx, [0, 1], 'flooded as unknown unicast');
    t.equal(bstat(b, 'to-router'), 0n);
    t.equal(bstat(b, 'drop:tail-call'), 0n);
  });

  t.test('cost of a known-unicast packet (entry -> bridge -> deliver)', async (t) => {
    const b = await bridge(t, 2);
    b.dp.setFdb(NET, MAC[1], { ifindex: b.ix[1]!, flags: VNF_FDB_F_STATIC });
    b.dp.setFdb(NET, MAC[0], { ifindex: b.ix[0]!, flags: VNF_FDB_F_STATIC });
    const repeat = 100_000;
    const r = b.dp.program('vnf_entry_in').testRun({
      data: frame(MAC[1], MAC[0]),
      ctx: skbContext({ ifindex: b.ix[0]! }),
      repeat,
    });
    t.equal(r.retval, TC_ACT_REDIRECT);
    t.equal(bstat(b, 'forward'), BigInt(repeat), `ran ${repeat} times`);
    t.equal(b.dp.portStat(b.ix[1]!, VNF_DIR_TX).packets, BigInt(repeat));
    t.ok(r.duration > 0);
    t.comment(`BPF_PROG_TEST_RUN known unicast entry->bridge->deliver: ${r.duration} ns/packet`);
  });
}
