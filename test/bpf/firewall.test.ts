/**
 * The firewall VNF (bpf/firewall.bpf.c) at packet level: its classifier and
 * actions, run with BPF_PROG_TEST_RUN through the real chains (entry ->
 * firewall -> bridge -> firewall -> deliver) on veth ports. Each match field
 * and its edges, first match wins, per-direction defaults, fail-closed
 * bindings, non-IP frames, and the reject answers byte by byte (checksums
 * recomputed from the output, never compared with constants).
 */
import t, { type Test } from 'tap';
import { parseMac } from '../../src/codec/struct.js';
import { fwTupleKeyCodec } from '../../src/vnf/firewall/codec.js';
import { VNF_ID_CORE, VNF_ID_DELIVER } from '../../src/vnf/common/codec.js';
import {
  delta, direction, echoFrame, firewallLab, icmpFrame, protoFrame, R_DELIVER, TC_ACT_REDIRECT, TC_ACT_SHOT, tcpFrame, udpFrame,
  VNF_DIR_RX, VNF_DIR_TX, type FwLab, type FwPort, type RuleSpec,
} from '../helpers/firewall-dp.js';
import { arp, eth, ETH_P_ARP, ETH_P_IP, inetChecksum, ip4, IPPROTO_ICMP, IPPROTO_TCP, TCP_ACK, TCP_FIN, TCP_SYN } from '../helpers/packets.js';
import { requirePrivileges } from '../helpers/privilege.js';

type Outcome = 'allow' | 'drop' | 'reject' | string;

/** Runs one new-connection packet from `from` (conntrack cleared first) and names what happened. */
function outcomeFrom(l: FwLab, from: FwPort, pkt: Buffer): Outcome {
  l.clearCt();
  let retval = -1;
  const d = delta(l, () => {
    retval = l.runFrom(from, pkt).retval;
  });
  if (d.FW_REJECT_SENT === 1n && d.DROP_REJECT === 1n) return 'reject';
  if (retval === TC_ACT_SHOT && d.DROP_POLICY === 1n) return 'drop';
  if (retval === TC_ACT_REDIRECT && !d.DROP_POLICY && d.FW_ALLOW) return 'allow';
  return `unexpected: retval ${retval} ${JSON.stringify(d, (_k, v) => (typeof v === 'bigint' ? Number(v) : v))}`;
}

/** The same for a packet to the container behind `to` (its ingress policy), as the bridge hands it over. */
function outcomeTo(l: FwLab, to: FwPort, from: FwPort, pkt: Buffer): Outcome {
  l.clearCt();
  let retval = -1;
  const d = delta(l, () => {
    retval = l.runTo(to, pkt, from).retval;
  });
  if (d.FW_REJECT_SENT === 1n && d.DROP_REJECT === 1n) return 'reject';
  if (retval === TC_ACT_SHOT && d.DROP_POLICY === 1n) return 'drop';
  if (retval === TC_ACT_REDIRECT && !d.DROP_POLICY && d.FW_ALLOW === 1n) return 'allow';
  return `unexpected: retval ${retval} ${JSON.stringify(d, (_k, v) => (typeof v === 'bigint' ? Number(v) : v))}`;
}

/** A lab whose port a has `rules` (default drop unless said) as its egress policy. */
async function egressLab(t: Test, rules: RuleSpec[], def: 'allow' | 'drop' = 'drop'): Promise<{ l: FwLab; a: FwPort; b: FwPort }> {
  const l = await firewallLab(t, 2);
  const [a, b] = l.ports as [FwPort, FwPort];
  l.bind(a, VNF_DIR_RX, direction(def, rules), 'egress-under-test');
  return { l, a, b };
}

/** A sender with any address, behind port a (the firewall does not check source addresses). */
const host = (ip: string, mac = '02:00:00:00:00:0a') => ({ ip, mac });

if (requirePrivileges(t)) {
  t.test('each match field, each action', async (t) => {
    const { l, a, b } = await egressLab(t, [
      { action: 'allow', proto: 'tcp', ports: [[80, 80]] },
      { action: 'reject', proto: 'tcp', ports: [[81, 81]] },
      { action: 'drop', proto: 'tcp', ports: [[82, 82]] },
      { action: 'allow', proto: 'udp', sports: [[53, 53]] },
      { action: 'allow', proto: 'icmp', icmpType: 8 },
      { action: 'allow', from: '10.9.9.9' },
      { action: 'allow', to: '10.0.0.2', proto: 'udp', ports: [[7000, 7000]] },
    ]);
    const ab = { src: a, dst: b };
    t.equal(outcomeFrom(l, a, tcpFrame(ab, 40000, 80, TCP_SYN)), 'allow', 'proto tcp + dport 80: allow');
    t.equal(outcomeFrom(l, a, tcpFrame(ab, 40000, 81, TCP_SYN)), 'reject', 'dport 81: reject');
    t.equal(outcomeFrom(l, a, tcpFrame(ab, 40000, 82, TCP_SYN)), 'drop', 'dport 82: drop');
    t.equal(outcomeFrom(l, a, tcpFrame(ab, 40000, 83, TCP_SYN)), 'drop', 'dport 83: no rule, default drop');
    t.equal(outcomeFrom(l, a, udpFrame(ab, 40000, 80)), 'drop', 'udp to 80: the tcp rule does not match udp');
    t.equal(outcomeFrom(l, a, udpFrame(ab, 53, 40000)), 'allow', 'udp source port 53: allow (src-ports)');
    t.equal(outcomeFrom(l, a, udpFrame(ab, 54, 40000)), 'drop', 'udp source port 54: drop');
    t.equal(outcomeFrom(l, a, tcpFrame(ab, 53, 40000, TCP_SYN)), 'drop', 'tcp source port 53: the udp rule does not match tcp');
    t.equal(outcomeFrom(l, a, echoFrame(ab, 8, 7)), 'allow', 'icmp type 8: allow');
    t.equal(outcomeFrom(l, a, icmpFrame(ab, 13, 0, Buffer.alloc(12))), 'drop', 'icmp type 13 (timestamp): drop');
    t.equal(outcomeFrom(l, a, protoFrame({ src: host('10.9.9.9'), dst: b }, 47)), 'allow', 'from 10.9.9.9, any protocol: allow (GRE)');
    t.equal(outcomeFrom(l, a, tcpFrame({ src: host('10.9.9.9'), dst: b }, 1, 2, TCP_SYN)), 'allow', 'from 10.9.9.9, tcp: allow');
    t.equal(outcomeFrom(l, a, protoFrame(ab, 47)), 'drop', 'GRE from elsewhere: drop');
    t.equal(outcomeFrom(l, a, udpFrame(ab, 1, 7000)), 'allow', 'udp to 10.0.0.2:7000: allow');
    t.equal(outcomeFrom(l, a, udpFrame({ src: a, dst: { ...b, ip: '10.0.0.3' } }, 1, 7000)), 'drop', 'udp to 10.0.0.3:7000: drop (to)');
  });

  t.test('port ranges at their edges (destination and source)', async (t) => {
    const { l, a, b } = await egressLab(t, [
      { action: 'allow', proto: 'tcp', ports: [[1000, 2000]] },
      { action: 'allow', proto: 'udp', sports: [[30000, 30010], [30020, 30020]] },
      { action: 'allow', proto: 'udp', ports: [[0, 0]] },
      { action: 'allow', proto: 'udp', ports: [[65535, 65535]] },
    ]);
    const ab = { src: a, dst: b };
    for (const [port, want] of [[999, 'drop'], [1000, 'allow'], [1500, 'allow'], [2000, 'allow'], [2001, 'drop']] as const) {
      t.equal(outcomeFrom(l, a, tcpFrame(ab, 40000, port, TCP_SYN)), want, `tcp dport ${port}: ${want}`);
    }
    for (const [port, want] of [[29999, 'drop'], [30000, 'allow'], [30010, 'allow'], [30011, 'drop'], [30019, 'drop'], [30020, 'allow'], [30021, 'drop']] as const) {
      t.equal(outcomeFrom(l, a, udpFrame(ab, port, 9)), want, `udp sport ${port}: ${want}`);
    }
    t.equal(outcomeFrom(l, a, udpFrame(ab, 5, 0)), 'allow', 'udp dport 0 (the lowest port)');
    t.equal(outcomeFrom(l, a, udpFrame(ab, 5, 1)), 'drop', 'udp dport 1');
    t.equal(outcomeFrom(l, a, udpFrame(ab, 5, 65535)), 'allow', 'udp dport 65535 (the highest port)');
    t.equal(outcomeFrom(l, a, udpFrame(ab, 5, 65534)), 'drop', 'udp dport 65534');
  });

  t.test('CIDR edges: first and last address inside, just outside', async (t) => {
    const { l, a, b } = await egressLab(t, [
      { action: 'allow', from: '10.1.0.64/26', proto: 'udp' },
      { action: 'allow', to: '192.168.4.0/22', proto: 'tcp' },
      { action: 'allow', from: '0.0.0.0/0', to: '172.16.0.9/32', proto: 'icmp' },
    ]);
    for (const [ip, want] of [['10.1.0.63', 'drop'], ['10.1.0.64', 'allow'], ['10.1.0.100', 'allow'], ['10.1.0.127', 'allow'], ['10.1.0.128', 'drop']] as const) {
      t.equal(outcomeFrom(l, a, udpFrame({ src: host(ip), dst: b }, 1, 2)), want, `from ${ip}: ${want}`);
    }
    for (const [ip, want] of [['192.168.3.255', 'drop'], ['192.168.4.0', 'allow'], ['192.168.7.255', 'allow'], ['192.168.8.0', 'drop']] as const) {
      t.equal(outcomeFrom(l, a, tcpFrame({ src: a, dst: { ...b, ip } }, 1, 2, TCP_SYN)), want, `to ${ip}: ${want}`);
    }
    for (const [ip, want] of [['172.16.0.8', 'drop'], ['172.16.0.9', 'allow'], ['172.16.0.10', 'drop']] as const) {
      t.equal(outcomeFrom(l, a, echoFrame({ src: a, dst: { ...b, ip } }, 8, 1)), want, `icmp to ${ip}: ${want}`);
    }
  });

  t.test('the first matching rule wins, in file order', async (t) => {
    const l = await firewallLab(t, 2);
    const [a, b] = l.ports as [FwPort, FwPort];
    const syn = tcpFrame({ src: a, dst: b }, 40000, 443, TCP_SYN);
    const narrow: RuleSpec = { action: 'drop', proto: 'tcp', from: '10.0.0.1/32', ports: [[443, 443]] };
    const broad: RuleSpec = { action: 'allow', proto: 'tcp', from: '10.0.0.0/8', ports: [[1, 1024]] };
    l.bind(a, VNF_DIR_RX, direction('allow', [narrow, broad]), 'order1');
    t.equal(outcomeFrom(l, a, syn), 'drop', 'drop listed first wins over a later allow');
    l.bind(a, VNF_DIR_RX, direction('drop', [broad, narrow]), 'order2');
    t.equal(outcomeFrom(l, a, syn), 'allow', 'allow listed first wins over a later drop');
    // A later, more specific rule of another shape does not override an earlier broad one.
    l.bind(a, VNF_DIR_RX, direction('drop', [{ action: 'reject', proto: 'any' }, broad, narrow]), 'order3');
    t.equal(outcomeFrom(l, a, syn), 'reject', 'an earlier any-protocol rule wins over specific ones');
    // Same shape, two entries: the lower index wins.
    l.bind(a, VNF_DIR_RX, direction('allow', [
      { action: 'drop', proto: 'tcp', from: '10.0.0.0/24', ports: [[400, 500]] },
      { action: 'allow', proto: 'tcp', from: '10.0.0.0/24', ports: [[443, 443]] },
    ]), 'order4');
    t.equal(outcomeFrom(l, a, syn), 'drop', 'overlapping ranges of one shape: the first rule');
  });

  t.test('default action per direction; the ingress policy applies to packets to the container', async (t) => {
    const l = await firewallLab(t, 2);
    const [a, b] = l.ports as [FwPort, FwPort];
    const ab = { src: a, dst: b };
    l.bind(b, VNF_DIR_TX, direction('drop'), 'b-in');
    l.bind(b, VNF_DIR_RX, direction('allow'), 'b-out');
    t.equal(outcomeTo(l, b, a, udpFrame(ab, 1, 2)), 'drop', "b's ingress default drop");
    t.equal(outcomeFrom(l, b, udpFrame({ src: b, dst: a }, 1, 2)), 'allow', "b's egress default allow");
    l.bind(b, VNF_DIR_TX, direction('allow'), 'b-in2');
    l.bind(b, VNF_DIR_RX, direction('drop'), 'b-out2');
    t.equal(outcomeTo(l, b, a, udpFrame(ab, 1, 2)), 'allow', "b's ingress default allow");
    t.equal(outcomeFrom(l, b, udpFrame({ src: b, dst: a }, 1, 2)), 'drop', "b's egress default drop");
    // Through the whole path: a's egress allows, b's ingress decides.
    l.bind(b, VNF_DIR_TX, direction('drop', [{ action: 'allow', proto: 'udp', ports: [[9, 9]] }]), 'b-in3');
    t.equal(outcomeFrom(l, a, udpFrame(ab, 1, 9)), 'allow', 'a -> b udp 9: both policies allow');
    t.equal(outcomeFrom(l, a, udpFrame(ab, 1, 10)), 'drop', "a -> b udp 10: dropped by b's ingress");
  });

  t.test('ARP passes, IPv6 and other ethertypes are dropped, whatever the rules say', async (t) => {
    const l = await firewallLab(t, 2);
    const [a, b] = l.ports as [FwPort, FwPort];
    l.bind(a, VNF_DIR_RX, direction('drop'), 'closed');
    l.bind(b, VNF_DIR_RX, direction('allow'), 'open2');
    const req = eth('ff:ff:ff:ff:ff:ff', a.mac, ETH_P_ARP, arp(1, a.mac, a.ip, '00:00:00:00:00:00', b.ip));
    let d = delta(l, () => l.runFrom(a, req));
    t.equal(d.FW_NOT_IP, 1n, 'ARP counted FW_NOT_IP under a default-drop policy');
    t.notOk(d.DROP_POLICY, 'and not dropped by policy');
    const v6 = eth(b.mac, a.mac, 0x86dd, Buffer.alloc(40, 0x60));
    for (const [name, frame] of [['IPv6', v6], ['802.1Q', eth(b.mac, b.mac, 0x8100, Buffer.alloc(46))], ['PPPoE', eth(b.mac, b.mac, 0x8864, Buffer.alloc(46))]] as const) {
      let r = -1;
      d = delta(l, () => (r = l.runFrom(b, frame as Buffer).retval));
      t.equal(r, TC_ACT_SHOT, `${name} from a port whose policy allows everything: dropped`);
      t.equal(d.DROP_UNSUPPORTED, 1n, `${name}: DROP_UNSUPPORTED`);
    }
  });

  t.test('fail closed: no binding, or a binding to a missing rule set, drops NO_POLICY', async (t) => {
    const l = await firewallLab(t, 2);
    const [a, b] = l.ports as [FwPort, FwPort];
    const udp = udpFrame({ src: a, dst: b }, 1, 2);
    l.unbind(a, VNF_DIR_RX);
    let r = -1;
    let d = delta(l, () => (r = l.runFrom(a, udp).retval));
    t.equal(r, TC_ACT_SHOT, 'no egress binding: dropped');
    t.equal(d.DROP_NO_POLICY, 1n, 'counted NO_POLICY');
    const arpReq = eth('ff:ff:ff:ff:ff:ff', a.mac, ETH_P_ARP, arp(1, a.mac, a.ip, '00:00:00:00:00:00', b.ip));
    d = delta(l, () => (r = l.runFrom(a, arpReq).retval));
    t.equal(d.DROP_NO_POLICY, 1n, 'even ARP: the port has no policy');
    l.bindId(a, VNF_DIR_RX, 0x7abcdef0);
    d = delta(l, () => (r = l.runFrom(a, udp).retval));
    t.equal(r, TC_ACT_SHOT, 'binding to a rule set that is not there: dropped');
    t.equal(d.DROP_NO_POLICY, 1n, 'counted NO_POLICY');
    // A rule set with a hole (a shape missing) is not used either.
    const c = l.bind(a, VNF_DIR_RX, direction('allow', [{ action: 'drop', proto: 'udp', ports: [[5, 5]] }, { action: 'drop', from: '10.0.0.9' }]), 'holey');
    t.equal(outcomeFrom(l, a, udp), 'allow', 'complete rule set: allows');
    t.ok(l.dp.map('vnf_fw_tuples').delete(fwTupleKeyCodec.encode({ ruleset: c.id, pclass: 3, index: 0 })), 'first UDP shape removed');
    d = delta(l, () => (r = l.runFrom(a, udpFrame({ src: a, dst: b }, 1, 3)).retval));
    t.equal(r, TC_ACT_SHOT, 'a shape missing from the rule set: dropped');
    t.equal(d.DROP_NO_POLICY, 1n, 'counted NO_POLICY');
    // The ingress side fails closed too.
    l.unbind(b, VNF_DIR_TX);
    l.bind(a, VNF_DIR_RX, direction('allow'), 'open');
    d = delta(l, () => (r = l.runFrom(a, udp).retval));
    t.equal(r, TC_ACT_SHOT, "no ingress binding on b: a's packet to b is dropped");
    t.equal(d.DROP_NO_POLICY, 1n, 'counted NO_POLICY');
  });

  t.test('malformed IPv4 is dropped before any rule', async (t) => {
    const { l, a, b } = await egressLab(t, [], 'allow');
    const good = udpFrame({ src: a, dst: b }, 1, 2);
    const cases: Array<[string, Buffer]> = [];
    let x: Buffer = Buffer.from(good);
    x[14] = 0x44; // ihl 4
    cases.push(['ihl < 5', x]);
    x = Buffer.from(good);
    x[14] = 0x65; // version 6 in an IPv4 frame
    cases.push(['version 6 behind ethertype IPv4', x]);
    x = Buffer.from(good);
    x.writeUInt16BE(200, 16);
    cases.push(['total length beyond the frame', x]);
    const shortTcp = tcpFrame({ src: a, dst: b }, 1, 2, TCP_SYN).subarray(0, 14 + 20 + 12);
    shortTcp.writeUInt16BE(32, 16);
    cases.push(['TCP header cut short', shortTcp]);
    x = tcpFrame({ src: a, dst: b }, 1, 2, TCP_SYN);
    x[14 + 20 + 12] = 0x40; // data offset 4
    cases.push(['TCP data offset < 5', x]);
    for (const [name, frame] of cases) {
      let r = -1;
      const d = delta(l, () => (r = l.runFrom(a, frame).retval));
      t.equal(r, TC_ACT_SHOT, `${name}: dropped`);
      t.equal(d.DROP_MALFORMED, 1n, `${name}: DROP_MALFORMED`);
    }
  });

  t.test('reject of a TCP SYN: a RST back into the sender, from the destination', async (t) => {
    const { l, a, b } = await egressLab(t, [{ action: 'reject', proto: 'tcp', ports: [[81, 81]] }]);
    const payload = Buffer.from('fast open data!');
    const syn = tcpFrame({ src: a, dst: b }, 40001, 81, TCP_SYN, 0xfffffff0, 0, payload);
    let r: { retval: number; data: Buffer } = { retval: -1, data: Buffer.alloc(0) };
    const delivered = l.dp.stat(VNF_ID_CORE, R_DELIVER).packets;
    const d = delta(l, () => (r = l.runFrom(a, syn)));
    t.equal(r.retval, TC_ACT_REDIRECT, 'redirected (straight back into the container)');
    t.equal(d.FW_REJECT_SENT, 1n, 'REJECT_SENT counted');
    t.equal(d.DROP_REJECT, 1n, 'DROP_REJECT counted for the original');
    t.equal(l.dp.stat(VNF_ID_CORE, R_DELIVER).packets, delivered, 'no chain_out ran for the answer (DELIVER did not count)');
    t.equal(l.dp.portStat(a.ifindex, VNF_DIR_TX).packets, 1n, "the answer counts as the port's TX");
    const o = r.data;
    t.equal(o.length, 54, 'eth + IPv4 + TCP, no payload');
    t.same(o.subarray(0, 6), parseMac(a.mac), 'eth dst = the sender');
    t.same(o.subarray(6, 12), parseMac(b.mac), 'eth src = the original destination');
    t.equal(o.readUInt16BE(12), ETH_P_IP);
    const ip = o.subarray(14, 34);
    t.equal(ip[0], 0x45, 'IPv4 without options');
    t.equal(ip.readUInt16BE(2), 40, 'total length 40');
    t.equal(ip.readUInt16BE(6), 0x4000, 'DF, no fragment');
    t.equal(ip[8], 64, 'TTL 64');
    t.equal(ip[9], IPPROTO_TCP, 'TCP');
    t.equal(ip.readUInt32BE(12), ip4(b.ip), 'from the original destination');
    t.equal(ip.readUInt32BE(16), ip4(a.ip), 'to the sender');
    t.equal(inetChecksum(ip), 0, 'IPv4 checksum valid');
    const th = o.subarray(34, 54);
    t.equal(th.readUInt16BE(0), 81, 'sport = the original dport');
    t.equal(th.readUInt16BE(2), 40001, 'dport = the original sport');
    t.equal(th.readUInt32BE(4), 0, 'seq 0 (the SYN had no ACK)');
    t.equal(th.readUInt32BE(8), (0xfffffff0 + 1 + payload.length) >>> 0, 'ack = seq + 1 (SYN) + payload length, wrapping');
    t.equal(th[12], 0x50, 'data offset 5');
    t.equal(th[13], 0x14, 'flags RST|ACK');
    t.equal(th.readUInt16BE(14), 0, 'window 0');
    const pseudo = Buffer.concat([o.subarray(26, 34), Buffer.from([0, IPPROTO_TCP, 0, 20])]);
    t.equal(inetChecksum(Buffer.concat([pseudo, th])), 0, 'TCP checksum valid');
    t.equal(l.ctEntries().length, 0, 'no connection tracked for a rejected SYN');
  });

  t.test('reject of UDP, ICMP and other protocols: ICMP port unreachable quoting the packet', async (t) => {
    const { l, a, b } = await egressLab(t, [{ action: 'reject', proto: 'any', to: '10.0.0.2' }]);
    const frames: Array<[string, Buffer]> = [
      ['udp', udpFrame({ src: a, dst: b }, 5353, 53, Buffer.from('a question that is longer than eight bytes'))],
      ['icmp echo', echoFrame({ src: a, dst: b }, 8, 0x77)],
      ['GRE', protoFrame({ src: a, dst: b }, 47, Buffer.alloc(4))],
    ];
    for (const [name, orig] of frames) {
      l.clearCt();
      let r: { retval: number; data: Buffer } = { retval: -1, data: Buffer.alloc(0) };
      const d = delta(l, () => (r = l.runFrom(a, orig)));
      t.equal(r.retval, TC_ACT_REDIRECT, `${name}: answered into the sender`);
      t.equal(d.FW_REJECT_SENT, 1n, `${name}: REJECT_SENT`);
      t.equal(d.DROP_REJECT, 1n, `${name}: DROP_REJECT`);
      const o = r.data;
      const qlen = 20 + Math.min(8, orig.length - 34);
      t.equal(o.length, 14 + 20 + 8 + qlen, `${name}: eth + IPv4 + ICMP + quote`);
      t.same(o.subarray(0, 6), parseMac(a.mac), `${name}: eth dst = the sender`);
      t.same(o.subarray(6, 12), parseMac(b.mac), `${name}: eth src = the original destination`);
      const ip = o.subarray(14, 34);
      t.equal(ip[8], 64, `${name}: TTL 64`);
      t.equal(ip[9], IPPROTO_ICMP, `${name}: ICMP`);
      t.equal(ip.readUInt32BE(12), ip4(b.ip), `${name}: from the original destination`);
      t.equal(ip.readUInt32BE(16), ip4(a.ip), `${name}: to the sender`);
      t.equal(ip.readUInt16BE(2), 20 + 8 + qlen, `${name}: total length`);
      t.equal(inetChecksum(ip), 0, `${name}: IPv4 checksum valid`);
      const icmp = o.subarray(34);
      t.equal(icmp[0], 3, `${name}: destination unreachable`);
      t.equal(icmp[1], 3, `${name}: port unreachable`);
      t.equal(inetChecksum(icmp), 0, `${name}: ICMP checksum valid`);
      t.same(icmp.subarray(8), orig.subarray(14, 14 + qlen), `${name}: quotes the original IPv4 header + 8 bytes`);
    }
  });

  t.test('reject at the ingress policy: the answer leaves through the bridge as if the container sent it', async (t) => {
    const l = await firewallLab(t, 2);
    const [a, b] = l.ports as [FwPort, FwPort];
    l.bind(b, VNF_DIR_TX, direction('drop', [{ action: 'reject', proto: 'udp' }, { action: 'reject', proto: 'tcp' }]), 'b-in');
    const orig = udpFrame({ src: a, dst: b }, 4444, 5555);
    let r: { retval: number; data: Buffer } = { retval: -1, data: Buffer.alloc(0) };
    const delivered = l.dp.stat(VNF_ID_CORE, R_DELIVER).packets;
    const d = delta(l, () => (r = l.runFrom(a, orig)));
    t.equal(r.retval, TC_ACT_REDIRECT, "a's packet is rejected at b; the answer is delivered to a");
    t.equal(d.FW_REJECT_SENT, 1n, 'REJECT_SENT');
    t.equal(d.DROP_REJECT, 1n, 'DROP_REJECT');
    t.equal(d.FW_RELATED, 1n, "the answer passed a's ingress policy as related to a's tracked flow");
    t.equal(l.dp.stat(VNF_ID_CORE, R_DELIVER).packets, delivered + 1n, "delivered by a's chain_out (bridge -> a)");
    t.equal(l.dp.portStat(a.ifindex, VNF_DIR_TX).packets, 1n, 'to port a');
    const o = r.data;
    t.same(o.subarray(0, 6), parseMac(a.mac), 'eth dst = a');
    t.same(o.subarray(6, 12), parseMac(b.mac), 'eth src = b');
    t.equal(o.readUInt32BE(26), ip4(b.ip), 'IPv4 src = b');
    t.equal(o[34], 3, 'ICMP destination unreachable');
    t.equal(o[35], 3, 'port unreachable');
    t.equal(inetChecksum(o.subarray(34)), 0, 'ICMP checksum valid');
    t.equal(l.dp.fdb(1, b.mac)?.ifindex, b.ifindex, 'the bridge saw it come from b');
    // TCP the same way: a RST reaches a.
    const syn = tcpFrame({ src: a, dst: b }, 40000, 22, TCP_SYN);
    const d2 = delta(l, () => (r = l.runFrom(a, syn)));
    t.equal(r.retval, TC_ACT_REDIRECT, 'RST delivered to a');
    t.equal(d2.FW_REPLY, 1n, "the RST passed a's ingress policy as a reply of a's connection");
    t.equal(r.data[34 + 13], 0x14, 'RST|ACK');
    t.equal(r.data.readUInt16BE(34), 22, 'from port 22');
  });

  t.test('IPv4 options: L4 found behind them; the answers are built as without', async (t) => {
    const { l, a, b } = await egressLab(t, [
      { action: 'allow', proto: 'udp', ports: [[53, 53]] },
      { action: 'reject', proto: 'tcp', ports: [[25, 25]] },
      { action: 'reject', proto: 'udp', ports: [[54, 54]] },
    ]);
    const withOptions = (frame: Buffer): Buffer => {
      // Inserts 8 bytes of options (NOP x 7 + EOL) after the IPv4 header: ihl 7.
      const ip = Buffer.from(frame.subarray(14, 34));
      const rest = frame.subarray(34);
      ip[0] = 0x47;
      ip.writeUInt16BE(ip.readUInt16BE(2) + 8, 2);
      const h = Buffer.concat([ip, Buffer.from([1, 1, 1, 1, 1, 1, 1, 0])]);
      h.writeUInt16BE(0, 10);
      h.writeUInt16BE(inetChecksum(h), 10);
      return Buffer.concat([frame.subarray(0, 14), h, rest]);
    };
    t.equal(outcomeFrom(l, a, withOptions(udpFrame({ src: a, dst: b }, 1, 53))), 'allow', 'udp 53 behind options: allowed');
    t.equal(outcomeFrom(l, a, withOptions(udpFrame({ src: a, dst: b }, 53, 1))), 'drop', 'udp from 53 behind options: dropped');
    l.clearCt();
    let r = l.runFrom(a, withOptions(tcpFrame({ src: a, dst: b }, 40000, 25, TCP_SYN, 77)));
    t.equal(r.retval, TC_ACT_REDIRECT, 'SYN with options rejected: RST sent');
    t.equal(r.data.length, 14 + 28 + 20, 'frame as long as the original headers (zero padding after the segment)');
    t.equal(r.data[14], 0x45, 'the RST has no options');
    t.equal(r.data.readUInt16BE(16), 40, 'IPv4 total length 40: the padding is not part of it');
    t.equal(inetChecksum(r.data.subarray(14, 34)), 0, 'IPv4 checksum valid');
    t.equal(r.data.readUInt32BE(34 + 8), 78, 'ack = seq + 1');
    const pseudo = Buffer.concat([r.data.subarray(26, 34), Buffer.from([0, IPPROTO_TCP, 0, 20])]);
    t.equal(inetChecksum(Buffer.concat([pseudo, r.data.subarray(34, 54)])), 0, 'TCP checksum valid');
    t.ok(r.data.subarray(54).every((x) => x === 0), 'padding is zeros');
    const orig = withOptions(udpFrame({ src: a, dst: b }, 9, 54));
    l.clearCt();
    r = l.runFrom(a, orig);
    t.equal(r.retval, TC_ACT_REDIRECT, 'udp 54 with options rejected: ICMP sent');
    t.equal(r.data.length, 14 + 20 + 8 + 28 + 8, 'the quote holds the header with its options + 8 bytes');
    t.same(r.data.subarray(42), orig.subarray(14, 14 + 28 + 8), 'quote');
    t.equal(inetChecksum(r.data.subarray(34)), 0, 'ICMP checksum valid');
  });

  t.test('reject at the ingress policy of a routed packet, and of a flooded copy', async (t) => {
    const l = await firewallLab(t, 2);
    const [a, b] = l.ports as [FwPort, FwPort];
    l.bind(b, VNF_DIR_TX, direction('drop', [{ action: 'reject', proto: 'udp' }]), 'b-in');
    // As the router hands a packet to the bridge: md.in 0, FROM_ROUTER, src
    // MAC = the router's. Port a stands in for the router here: its
    // chain_out is plain [deliver] (its firewall would rightly drop an ICMP
    // error about a flow that never crossed it).
    l.dp.setPort(a.ifindex, { network: 1, chain_in: a.chainIn, chain_out: l.dp.addChain([VNF_ID_DELIVER]), mac: a.mac });
    const routed = udpFrame({ src: { mac: a.mac, ip: '10.9.0.1' }, dst: b }, 7, 8);
    let r: { retval: number; data: Buffer } = { retval: -1, data: Buffer.alloc(0) };
    let d = delta(l, () => (r = l.runFirewall(routed, [0, b.ifindex, b.chainOut, 1, 0x1 << 16], b.ifindex)));
    t.equal(d.FW_REJECT_SENT, 1n, 'a routed packet is answered');
    t.equal(r.retval, TC_ACT_REDIRECT, 'the answer left through the bridge (delivered)');
    t.equal(r.data.readUInt32BE(30), ip4('10.9.0.1'), 'to the routed sender');
    // A flooded copy reaches b through its tc egress hook (vnf_entry_out).
    let rv = -1;
    d = delta(l, () => (rv = l.dp.runEgress(b.ifindex, udpFrame({ src: a, dst: { mac: 'ff:ff:ff:ff:ff:ff', ip: b.ip } }, 7, 8)).retval));
    t.equal(rv, TC_ACT_SHOT, 'a flooded copy rejected at the egress hook: dropped');
    t.equal(d.DROP_REJECT, 1n, 'DROP_REJECT');
    t.notOk(d.FW_REJECT_SENT, 'no answer from an egress hook');
    d = delta(l, () => (rv = l.dp.runEgress(b.ifindex, udpFrame({ src: a, dst: b }, 7, 8)).retval));
    t.equal(rv, TC_ACT_SHOT, 'unknown unicast flooded to b: dropped');
    t.equal(d.DROP_REJECT, 1n, 'DROP_REJECT, no answer (each port reached by the flood would answer)');
    t.notOk(d.FW_REJECT_SENT, 'nothing sent');
  });

  t.test('reject without an answer where Linux gives none', async (t) => {
    const { l, a, b } = await egressLab(t, [{ action: 'reject' }]);
    const cases: Array<[string, Buffer]> = [
      ['udp to a broadcast MAC', udpFrame({ src: a, dst: { mac: 'ff:ff:ff:ff:ff:ff', ip: '10.0.0.255' } }, 1, 2)],
      ['udp to a multicast address', udpFrame({ src: a, dst: { mac: '01:00:5e:00:00:fb', ip: '224.0.0.251' } }, 5353, 5353)],
      ['tcp SYN to 255.255.255.255', tcpFrame({ src: a, dst: { mac: 'ff:ff:ff:ff:ff:ff', ip: '255.255.255.255' } }, 1, 2, TCP_SYN)],
    ];
    for (const [name, frame] of cases) {
      let r = -1;
      const d = delta(l, () => (r = l.runFrom(a, frame).retval));
      t.equal(r, TC_ACT_SHOT, `${name}: dropped`);
      t.equal(d.DROP_REJECT, 1n, `${name}: DROP_REJECT`);
      t.notOk(d.FW_REJECT_SENT, `${name}: nothing sent`);
    }
    void b;
  });

  t.test('per-rule and default counters', async (t) => {
    const l = await firewallLab(t, 2);
    const [a, b] = l.ports as [FwPort, FwPort];
    const c = l.bind(a, VNF_DIR_RX, direction('drop', [
      { action: 'allow', proto: 'udp', ports: [[1, 100]] },
      { action: 'drop', proto: 'udp', ports: [[101, 200]] },
      { action: 'reject', proto: 'tcp' },
    ]), 'counted');
    const counter = (i: number) => c.rules.find((x) => x.index === i)!.counter;
    const frames = [udpFrame({ src: a, dst: b }, 1, 50), udpFrame({ src: a, dst: b }, 2, 150), tcpFrame({ src: a, dst: b }, 1, 2, TCP_SYN), protoFrame({ src: a, dst: b }, 47)];
    const plan = [[0, 3], [1, 2], [2, 1], [3, 4]] as const;
    for (const [f, n] of plan) for (let i = 0; i < n; i++) outcomeFrom(l, a, frames[f]!);
    t.same(l.ruleCounter(counter(0)), { packets: 3n, bytes: BigInt(3 * frames[0]!.length) }, 'rule 0 (allow): 3 packets, their bytes');
    t.same(l.ruleCounter(counter(1)), { packets: 2n, bytes: BigInt(2 * frames[1]!.length) }, 'rule 1 (drop): 2 packets');
    t.same(l.ruleCounter(counter(2)), { packets: 1n, bytes: BigInt(frames[2]!.length) }, 'rule 2 (reject): 1 packet');
    t.same(l.ruleCounter(c.defaultCounter), { packets: 4n, bytes: BigInt(4 * frames[3]!.length) }, 'default: 4 packets');
    // Packets of a tracked connection do not count again.
    l.clearCt();
    l.runFrom(a, frames[0]!);
    l.runFrom(a, frames[0]!);
    t.equal(l.ruleCounter(counter(0)).packets, 4n, 'the second packet of a flow is ESTABLISHED, not classified');
    // Counters are keyed by counter id, stable across rule-set versions.
    const c2 = l.bind(a, VNF_DIR_RX, direction('drop', [
      { action: 'allow', proto: 'udp', ports: [[1, 100]] },
      { action: 'drop', proto: 'udp', ports: [[101, 200]] },
      { action: 'allow', proto: 'tcp' },
    ]), 'counted');
    t.not(c2.id, c.id, 'a new rule set version');
    t.equal(c2.rules[0]!.counter, counter(0), 'the unchanged rule keeps its counter');
    l.clearCt();
    l.runFrom(a, frames[0]!);
    t.equal(l.ruleCounter(counter(0)).packets, 5n, 'and keeps counting');
  });

  t.test('egress policy of one port does not apply to another port', async (t) => {
    const l = await firewallLab(t, 3);
    const [a, b, c] = l.ports as [FwPort, FwPort, FwPort];
    l.bind(a, VNF_DIR_RX, direction('drop'), 'a-closed');
    t.equal(outcomeFrom(l, a, udpFrame({ src: a, dst: b }, 1, 2)), 'drop', 'a cannot send');
    t.equal(outcomeFrom(l, c, udpFrame({ src: c, dst: b }, 1, 2)), 'allow', 'c can');
  });

  t.test('TCP flags other than a bare SYN never reach the rules', async (t) => {
    const { l, a, b } = await egressLab(t, [], 'allow');
    for (const [name, flags] of [['ACK', TCP_ACK], ['SYN+ACK', TCP_SYN | TCP_ACK], ['FIN', TCP_FIN | TCP_ACK], ['RST', 0x04], ['SYN+FIN', TCP_SYN | TCP_FIN], ['none', 0]] as const) {
      l.clearCt();
      let r = -1;
      const d = delta(l, () => (r = l.runFrom(a, tcpFrame({ src: a, dst: b }, 1, 2, flags)).retval));
      t.equal(r, TC_ACT_SHOT, `${name} without a connection: dropped under allow-all`);
      t.equal(d.DROP_CT_INVALID, 1n, `${name}: CT_INVALID`);
    }
    // ECN-capable SYN (ECE|CWR) is still a SYN.
    t.equal(outcomeFrom(l, a, tcpFrame({ src: a, dst: b }, 1, 2, TCP_SYN | 0xc0)), 'allow', 'SYN with ECE|CWR opens');
  });
}
