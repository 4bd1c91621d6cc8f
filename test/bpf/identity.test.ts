/**
 * Per-port identity and what enters a port (issue 8): through the real entry program
 * (vnf_entry_in -> chain_in [bridge] -> ...), with ports whose identity is enforced
 * (VNF_PORT_F_SPOOFCHK, as the control plane sets it for every port). Each attack is sent and
 * must be dropped with its own counted reason; the honest frame next to it must pass.
 */
import t, { type Test } from 'tap';
import { attachTc, detachTc } from '../../src/bpf/attach.js';
import { u32 } from '../../src/codec/struct.js';
import { portSrcKeyCodec, REASON, VNF_DIR_TX, VNF_ID_CORE, VNF_ID_DELIVER, VNF_PORT_F_SPOOFCHK } from '../../src/vnf/common/codec.js';
import { VNF_FDB_F_STATIC, VNF_ID_BRIDGE, VNF_LEARN_PER_PORT } from '../../src/vnf/bridge/codec.js';
import { createPorts, loadDataplane, type TestDataplane, type TestPort } from '../helpers/dataplane.js';
import { arp, eth, ETH_P_ARP, ip4, ipv4, IPPROTO_UDP, pingPacket, udp } from '../helpers/packets.js';
import { requirePrivileges } from '../helpers/privilege.js';

const NET = 1;
const TC_ACT_SHOT = 2;
const TC_ACT_REDIRECT = 7;
const MAC = ['02:00:00:00:01:0a', '02:00:00:00:01:0b', '02:00:00:00:01:0c'] as const;
const IP = ['10.5.0.10', '10.5.0.11', '10.5.0.12'] as const;
const GATEWAY = '10.5.0.1';
const BCAST = 'ff:ff:ff:ff:ff:ff';

interface Lab {
  dp: TestDataplane;
  ports: TestPort[];
  /** Runs `pkt` as sent by the container behind port `i`; the verdict and the drop reasons counted. */
  send(i: number, pkt: Buffer): { retval: number; drops: Record<string, bigint> };
}

const DROPS = ['drop:spoof-mac', 'drop:spoof-ip', 'drop:spoof-arp', 'drop:ethertype', 'drop:vlan', 'drop:malformed', 'drop:not-for-port'];

async function lab(t: Test, n = 3, opts: { observe?: boolean } = {}): Promise<Lab> {
  const dp = await loadDataplane(t, ['entry', 'bridge']);
  const ports = createPorts(t, n);
  const chainIn = dp.addChain([VNF_ID_BRIDGE]);
  const chainOut = dp.addChain([VNF_ID_DELIVER]);
  ports.forEach((p, i) => {
    dp.setPort(p.ifindex, { network: NET, chain_in: chainIn, chain_out: chainOut, flags: VNF_PORT_F_SPOOFCHK, ip: ip4(IP[i]!), mac: MAC[i]!, prefix: 24 });
    dp.setFdb(NET, MAC[i]!, { ifindex: p.ifindex, flags: VNF_FDB_F_STATIC });
  });
  dp.setNetwork(NET, { ports: ports.map((p) => p.ifindex) });
  if (opts.observe) {
    for (const p of ports) {
      const a = attachTc(dp.program('vnf_entry_out'), p.name, 'egress', { mode: 'tcx' });
      t.teardown(() => detachTc(a));
    }
  }
  const counts = (): Record<string, bigint> => Object.fromEntries(DROPS.map((r) => [r, dp.stat(VNF_ID_CORE, REASON[r]!).packets]));
  return {
    dp,
    ports,
    send(i, pkt) {
      const before = counts();
      const r = dp.runFrom(ports[i]!.ifindex, pkt);
      const after = counts();
      const drops: Record<string, bigint> = {};
      for (const k of DROPS) if (after[k] !== before[k]) drops[k] = after[k]! - before[k]!;
      return { retval: r.retval, drops };
    },
  };
}

const ping = (o: { srcMac: string; dstMac: string; src: string; dst: string }): Buffer => pingPacket(o);

if (requirePrivileges(t)) {
  t.test('a port sends only from its own IPv4 address', async (t) => {
    const l = await lab(t);
    let r = l.send(0, ping({ srcMac: MAC[0], dstMac: MAC[1], src: IP[0], dst: IP[1] }));
    t.equal(r.retval, TC_ACT_REDIRECT, 'its own address: delivered');
    t.same(r.drops, {});
    r = l.send(0, ping({ srcMac: MAC[0], dstMac: MAC[1], src: IP[2], dst: IP[1] }));
    t.equal(r.retval, TC_ACT_SHOT, "another container's address: dropped");
    t.same(r.drops, { 'drop:spoof-ip': 1n }, 'counted as drop:spoof-ip');
    r = l.send(0, ping({ srcMac: MAC[0], dstMac: MAC[1], src: '0.0.0.0', dst: IP[1] }));
    t.same(r.drops, { 'drop:spoof-ip': 1n }, 'an unspecified source too');
    r = l.send(0, ping({ srcMac: MAC[0], dstMac: MAC[1], src: '192.168.1.1', dst: IP[1] }));
    t.same(r.drops, { 'drop:spoof-ip': 1n }, 'and any outside address');
  });

  t.test('a port sends only from its own MAC, and the bridge never learns a forged one', async (t) => {
    const l = await lab(t);
    const r = l.send(0, ping({ srcMac: MAC[1], dstMac: MAC[2], src: IP[0], dst: IP[2] }));
    t.equal(r.retval, TC_ACT_SHOT);
    t.same(r.drops, { 'drop:spoof-mac': 1n }, "another container's MAC: drop:spoof-mac");
    l.send(0, ping({ srcMac: '02:66:66:66:66:66', dstMac: MAC[2], src: IP[0], dst: IP[2] }));
    t.equal(l.dp.learnedFdb(NET, '02:66:66:66:66:66'), null, 'an invented MAC is not learned');
    t.equal(l.dp.fdb(NET, MAC[1])!.ifindex, l.ports[1]!.ifindex, "the victim's MAC still leads to the victim");
  });

  t.test('ARP must name the port: forged gateway replies and poisoning requests are dropped', async (t) => {
    const l = await lab(t);
    const arpFrame = (ethSrc: string, ethDst: string, op: 1 | 2, sha: string, sip: string, tha: string, tip: string): Buffer =>
      eth(ethDst, ethSrc, ETH_P_ARP, arp(op, sha, sip, tha, tip));
    let r = l.send(0, arpFrame(MAC[0], BCAST, 1, MAC[0], IP[0], '00:00:00:00:00:00', IP[1]));
    t.same(r.drops, {}, 'an honest request passes');
    r = l.send(0, arpFrame(MAC[0], MAC[1], 2, MAC[0], GATEWAY, MAC[1], IP[1]));
    t.equal(r.retval, TC_ACT_SHOT);
    t.same(r.drops, { 'drop:spoof-arp': 1n }, 'a reply claiming the gateway address (man in the middle): dropped');
    r = l.send(0, arpFrame(MAC[0], BCAST, 1, MAC[0], IP[2], '00:00:00:00:00:00', IP[1]));
    t.same(r.drops, { 'drop:spoof-arp': 1n }, 'a request claiming a neighbour address (poisoning its entry): dropped');
    r = l.send(0, arpFrame(MAC[0], BCAST, 1, MAC[2], IP[0], '00:00:00:00:00:00', IP[1]));
    t.same(r.drops, { 'drop:spoof-arp': 1n }, 'a sender hardware address that is not the port\'s: dropped');
    r = l.send(0, arpFrame(MAC[0], BCAST, 1, MAC[0], IP[1], '00:00:00:00:00:00', IP[1]));
    t.same(r.drops, { 'drop:spoof-arp': 1n }, 'a gratuitous ARP claiming a neighbour\'s address (it would move the router\'s entry): dropped');
    r = l.send(0, arpFrame(MAC[0], BCAST, 2, MAC[0], GATEWAY, BCAST, GATEWAY));
    t.same(r.drops, { 'drop:spoof-arp': 1n }, 'a gratuitous ARP reply claiming the gateway: dropped');
    r = l.send(0, arpFrame(MAC[0], BCAST, 1, MAC[0], '0.0.0.0', '00:00:00:00:00:00', IP[0]));
    t.same(r.drops, {}, 'an address probe (sender 0.0.0.0, RFC 5227) passes');
    const bad = arp(1, MAC[0], IP[0], '00:00:00:00:00:00', IP[1]);
    bad.writeUInt16BE(6, 0); // IEEE 802 hardware type
    r = l.send(0, eth(BCAST, MAC[0], ETH_P_ARP, bad));
    t.same(r.drops, { 'drop:spoof-arp': 1n }, 'ARP that is not Ethernet/IPv4: dropped');
  });

  t.test('a forwarding container sends as the prefixes it declares, and only those', async (t) => {
    const l = await lab(t);
    l.dp.map('vnf_port_src').update(portSrcKeyCodec.encode({ prefixlen: 32 + 24, ifindex: l.ports[0]!.ifindex, addr: ip4('10.9.0.0') }), u32(1));
    let r = l.send(0, ping({ srcMac: MAC[0], dstMac: MAC[1], src: '10.9.0.77', dst: IP[1] }));
    t.same(r.drops, {}, 'inside 10.9.0.0/24: passes');
    r = l.send(0, ping({ srcMac: MAC[0], dstMac: MAC[1], src: '10.9.1.77', dst: IP[1] }));
    t.same(r.drops, { 'drop:spoof-ip': 1n }, 'outside it: dropped');
    r = l.send(1, ping({ srcMac: MAC[1], dstMac: MAC[0], src: '10.9.0.77', dst: IP[0] }));
    t.same(r.drops, { 'drop:spoof-ip': 1n }, "another port's declaration does not cover this one");
    r = l.send(0, eth(BCAST, MAC[0], ETH_P_ARP, arp(1, MAC[0], '10.9.0.77', '00:00:00:00:00:00', IP[1])));
    t.same(r.drops, {}, 'ARP from a declared address passes');
  });

  t.test('only IPv4 and ARP enter an identity-checked port', async (t) => {
    const l = await lab(t);
    const v6 = eth(MAC[1], MAC[0], 0x86dd, Buffer.alloc(40, 0x60));
    t.same(l.send(0, v6).drops, { 'drop:ethertype': 1n }, 'IPv6: drop:ethertype');
    t.same(l.send(0, eth(BCAST, MAC[0], 0x88cc, Buffer.alloc(46))).drops, { 'drop:ethertype': 1n }, 'LLDP too');
    // A tagged frame as it looks in a test run (the tag still in the data): not IPv4 either.
    const tagged = Buffer.concat([eth(MAC[1], MAC[0], 0x8100, Buffer.from([0, 5, 0x08, 0x00])), ipv4({ src: IP[0], dst: IP[1], proto: IPPROTO_UDP }, udp(IP[0], IP[1], 1, 2, Buffer.alloc(8)))]);
    t.same(l.send(0, tagged).drops, { 'drop:ethertype': 1n }, 'an in-band 802.1Q tag: dropped (vlan_present is the integration test\'s)');
  });

  t.test('a flooded unicast copy reaches only the port whose container has that MAC', async (t) => {
    const l = await lab(t, 3, { observe: true });
    // Unknown unicast: the bridge floods; entry_out on every other port drops copies not for its container.
    l.dp.map('vnf_fdb_static').delete(Buffer.concat([u32(NET), Buffer.from(MAC[2].split(':').map((x) => parseInt(x, 16))), Buffer.alloc(2)]));
    const tx = (): bigint[] => l.ports.map((p) => l.dp.portStat(p.ifindex, VNF_DIR_TX).packets);
    const before = tx();
    const r = l.send(0, ping({ srcMac: MAC[0], dstMac: MAC[2], src: IP[0], dst: IP[2] }));
    const after = tx();
    t.equal(r.retval, TC_ACT_SHOT, 'flooded (clones), original consumed');
    t.same(after.map((v, i) => Number(v - before[i]!)), [0, 0, 1], 'only the owner of the MAC got it');
    t.equal(l.dp.stat(VNF_ID_CORE, REASON['drop:not-for-port']!).packets, 1n, 'the other copy: drop:not-for-port');
    const b0 = tx();
    l.send(0, ping({ srcMac: MAC[0], dstMac: BCAST, src: IP[0], dst: '10.5.0.255' }));
    t.same(tx().map((v, i) => Number(v - b0[i]!)), [0, 1, 1], 'a broadcast still reaches every other port');
  });

  t.test(`a port teaches the bridge at most ${VNF_LEARN_PER_PORT} new MACs per aging window`, async (t) => {
    const dp = await loadDataplane(t, ['entry', 'bridge']);
    const [a, b] = createPorts(t, 2) as [TestPort, TestPort];
    const chainIn = dp.addChain([VNF_ID_BRIDGE]);
    const chainOut = dp.addChain([VNF_ID_DELIVER]);
    // No identity check here: a port whose MAC vnf does not know (the only kind that needs learning).
    for (const p of [a, b]) dp.setPort(p.ifindex, { network: NET, chain_in: chainIn, chain_out: chainOut });
    dp.setNetwork(NET, { ports: [a.ifindex, b.ifindex] });
    dp.runFrom(b.ifindex, pingPacket({ srcMac: '02:bb:00:00:00:01', dstMac: BCAST, src: '10.5.0.2', dst: '10.5.0.255' }));
    const mac = (i: number): string => `02:aa:00:00:${((i >> 8) & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`;
    for (let i = 0; i < 1000; i++) dp.runFrom(a.ifindex, pingPacket({ srcMac: mac(i), dstMac: BCAST, src: '10.5.0.1', dst: '10.5.0.255' }));
    const learned = dp.map('vnf_fdb').keys().length;
    t.equal(learned, VNF_LEARN_PER_PORT + 1, `port a taught ${VNF_LEARN_PER_PORT} MACs, port b its one`);
    t.ok(dp.learnedFdb(NET, '02:bb:00:00:00:01'), "port b's entry survived port a's flood");
    t.ok(dp.stat(VNF_ID_BRIDGE, REASON['learn-limit']!).packets >= BigInt(1000 - VNF_LEARN_PER_PORT), 'the rest counted as learn-limit');
  });

  t.test('flooding reaches every port of a network beyond 64 (bpf_loop)', async (t) => {
    const n = 100;
    const dp = await loadDataplane(t, ['entry', 'bridge']);
    const ports = createPorts(t, n);
    const chainIn = dp.addChain([VNF_ID_BRIDGE]);
    const chainOut = dp.addChain([VNF_ID_DELIVER]);
    for (const p of ports) dp.setPort(p.ifindex, { network: NET, chain_in: chainIn, chain_out: chainOut });
    dp.setNetwork(NET, { ports: ports.map((p) => p.ifindex) });
    for (const p of ports) {
      const a = attachTc(dp.program('vnf_entry_out'), p.name, 'egress', { mode: 'tcx' });
      t.teardown(() => detachTc(a));
    }
    dp.runFrom(ports[0]!.ifindex, pingPacket({ srcMac: '02:cc:00:00:00:01', dstMac: BCAST, src: '10.5.0.1', dst: '10.5.0.255' }));
    const got = ports.map((p) => Number(dp.portStat(p.ifindex, VNF_DIR_TX).packets));
    t.equal(got[0], 0, 'not back out of the ingress port');
    t.equal(got.slice(1).filter((x) => x === 1).length, n - 1, `all ${n - 1} other ports got exactly one copy`);
  });

  t.test('a port without the identity flag (not from this control plane) is not checked', async (t) => {
    const l = await lab(t);
    l.dp.setPort(l.ports[0]!.ifindex, { network: NET, flags: 0, ip: ip4(IP[0]), mac: MAC[0], prefix: 24 });
    t.same(l.send(0, ping({ srcMac: MAC[0], dstMac: MAC[1], src: IP[2], dst: IP[1] })).drops, {}, 'the check is the flag\'s');
  });
}
