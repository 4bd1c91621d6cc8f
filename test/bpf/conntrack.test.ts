/**
 * The firewall's connection tracking at packet level (bpf/firewall.bpf.c +
 * bpf/include/vnf/conntrack.h), through the real chains: a packet from port
 * a to port b crosses a's egress policy (zone a, VNF_DIR_RX) and b's ingress
 * policy (zone b, VNF_DIR_TX); replies cross them the other way. TCP states,
 * replies under default-drop policies, invalid packets, expiry (timeouts from
 * vnf_ct_cfg, the kernel's CLOCK_MONOTONIC = process.hrtime), UDP and ICMP,
 * related ICMP errors, fragments, and rule-set switches cutting or keeping
 * established flows.
 */
import t, { type Test } from 'tap';
import { ip4, IPPROTO_ICMP, IPPROTO_TCP, IPPROTO_UDP, TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN, udp } from '../helpers/packets.js';
import {
  CT, delta, direction, echoFrame, firewallLab, flowKey, fragmentFrame, icmpErrorFrame, protoFrame, TC_ACT_REDIRECT, TC_ACT_SHOT,
  tcpFrame, TcpSession, udpFrame, VNF_DIR_RX, VNF_DIR_TX, type FwLab, type FwPort, type ReasonName,
} from '../helpers/firewall-dp.js';
import { ctCfgCodec, VNF_CT_F_ASSURED, VNF_CT_F_FIN_ORIG, VNF_CT_F_FIN_REPLY, VNF_CT_F_SEEN_REPLY } from '../../src/vnf/conntrack/codec.js';
import { requirePrivileges } from '../helpers/privilege.js';
import { compileRuleSet } from '../../src/vnf/firewall/classifier.js';

const SEC = 1_000_000_000n;

interface Run {
  retval: number;
  d: Partial<Record<ReasonName, bigint>>;
  data: Buffer;
}

function from(l: FwLab, p: FwPort, pkt: Buffer): Run {
  let r: { retval: number; data: Buffer } = { retval: -1, data: Buffer.alloc(0) };
  const d = delta(l, () => (r = l.runFrom(p, pkt)));
  return { retval: r.retval, data: r.data, d };
}

/**
 * A lab where a may open TCP 80 / UDP 53 / ping to b and nothing else moves:
 * a egress: allow tcp 80, udp 53, icmp 8; default drop. a ingress: default drop.
 * b egress: default drop.                  b ingress: allow tcp 80, udp 53, icmp 8; default drop.
 */
async function strictLab(t: Test, n = 2): Promise<{ l: FwLab; a: FwPort; b: FwPort; ports: FwPort[] }> {
  const l = await firewallLab(t, n);
  const [a, b] = l.ports as [FwPort, FwPort];
  const allow = direction('drop', [
    { action: 'allow', proto: 'tcp', ports: [[80, 80]] },
    { action: 'allow', proto: 'udp', ports: [[53, 53]] },
    { action: 'allow', proto: 'icmp', icmpType: 8 },
  ]);
  l.bind(a, VNF_DIR_RX, allow, 'a');
  l.bind(a, VNF_DIR_TX, direction('drop'), 'a');
  l.bind(b, VNF_DIR_RX, direction('drop'), 'b');
  l.bind(b, VNF_DIR_TX, allow, 'b');
  return { l, a, b, ports: l.ports };
}

const now = (): bigint => process.hrtime.bigint(); // CLOCK_MONOTONIC, as bpf_ktime_get_ns

/** The three-way handshake of a TcpSession (client a, server b). */
function handshake(l: FwLab, s: TcpSession): void {
  from(l, s.c.port, s.frame('c', TCP_SYN));
  from(l, s.s.port, s.frame('s', TCP_SYN | TCP_ACK));
  from(l, s.c.port, s.frame('c', TCP_ACK));
}

if (requirePrivileges(t)) {
  t.test('TCP: SYN -> SYN-ACK -> ACK -> FIN/FIN -> TIME_WAIT, in both zones', async (t) => {
    const { l, a, b } = await strictLab(t);
    const ab = { src: a, dst: b };
    const ba = { src: b, dst: a };
    const ka = flowKey(a, IPPROTO_TCP, a.ip, b.ip, 40000, 80);
    const kb = flowKey(b, IPPROTO_TCP, a.ip, b.ip, 40000, 80);
    const state = () => [l.ct(ka)?.state, l.ct(kb)?.state];

    let r = from(l, a, tcpFrame(ab, 40000, 80, TCP_SYN, 100));
    t.equal(r.retval, TC_ACT_REDIRECT, 'SYN delivered');
    t.equal(r.d.CT_NEW, 2n, 'an entry in each zone');
    t.same(state(), [CT.SYN_SENT, CT.SYN_SENT], 'SYN_SENT');
    const ea = l.ct(ka)!;
    t.equal(ea.dir, VNF_DIR_RX, "zone a: allowed by a's egress policy");
    t.equal(l.ct(kb)!.dir, VNF_DIR_TX, "zone b: allowed by b's ingress policy");
    t.equal(ea.rule, 0, 'by rule 0');
    t.equal(ea.packets_orig, 1n, 'one packet');
    t.equal(ea.bytes_orig, 54n, '54 bytes');
    t.ok(ea.created_ns > 0n && ea.created_ns === ea.last_seen_ns, 'created = last seen');

    r = from(l, b, tcpFrame(ba, 80, 40000, TCP_SYN | TCP_ACK, 500, 101));
    t.equal(r.retval, TC_ACT_REDIRECT, 'SYN-ACK delivered under default-drop policies');
    t.equal(r.d.FW_REPLY, 2n, 'a reply in both zones');
    t.same(state(), [CT.SYN_RECV, CT.SYN_RECV], 'SYN_RECV');
    t.equal(l.ct(ka)!.flags & VNF_CT_F_SEEN_REPLY, VNF_CT_F_SEEN_REPLY, 'SEEN_REPLY');

    r = from(l, a, tcpFrame(ab, 40000, 80, TCP_ACK, 101, 501));
    t.equal(r.d.FW_ESTABLISHED, 2n, 'ACK: ESTABLISHED verdicts');
    t.same(state(), [CT.ESTABLISHED, CT.ESTABLISHED], 'ESTABLISHED');
    t.equal(l.ct(ka)!.flags & VNF_CT_F_ASSURED, VNF_CT_F_ASSURED, 'ASSURED');

    r = from(l, a, tcpFrame(ab, 40000, 80, TCP_ACK | TCP_PSH, 101, 501, Buffer.alloc(100)));
    t.equal(r.retval, TC_ACT_REDIRECT, 'data delivered');
    r = from(l, b, tcpFrame(ba, 80, 40000, TCP_ACK | TCP_PSH, 501, 201, Buffer.alloc(300)));
    t.equal(r.retval, TC_ACT_REDIRECT, 'reply data delivered');
    t.same(state(), [CT.ESTABLISHED, CT.ESTABLISHED], 'data keeps ESTABLISHED');

    r = from(l, a, tcpFrame(ab, 40000, 80, TCP_FIN | TCP_ACK, 201, 801));
    t.same(state(), [CT.FIN_WAIT, CT.FIN_WAIT], 'FIN from the originator: FIN_WAIT');
    from(l, b, tcpFrame(ba, 80, 40000, TCP_ACK, 801, 202));
    t.same(state(), [CT.CLOSE_WAIT, CT.CLOSE_WAIT], 'its ACK: CLOSE_WAIT (half closed; Linux names states by the last segment)');
    r = from(l, b, tcpFrame(ba, 80, 40000, TCP_FIN | TCP_ACK, 801, 202));
    t.equal(r.retval, TC_ACT_REDIRECT, 'the responder FIN delivered');
    t.same(state(), [CT.LAST_ACK, CT.LAST_ACK], 'both FINs: LAST_ACK');
    t.equal(l.ct(ka)!.flags & (VNF_CT_F_FIN_ORIG | VNF_CT_F_FIN_REPLY), VNF_CT_F_FIN_ORIG | VNF_CT_F_FIN_REPLY, 'FIN flags of both sides');
    from(l, b, tcpFrame(ba, 80, 40000, TCP_FIN | TCP_ACK, 801, 202));
    t.same(state(), [CT.LAST_ACK, CT.LAST_ACK], 'a retransmitted FIN changes nothing');
    r = from(l, a, tcpFrame(ab, 40000, 80, TCP_ACK, 202, 802));
    t.equal(r.retval, TC_ACT_REDIRECT, 'the last ACK delivered');
    t.same(state(), [CT.TIME_WAIT, CT.TIME_WAIT], 'TIME_WAIT');
    from(l, a, tcpFrame(ab, 40000, 80, TCP_FIN | TCP_ACK, 201, 801));
    t.same(state(), [CT.TIME_WAIT, CT.TIME_WAIT], 'a late FIN does not take TIME_WAIT back');

    const e = l.ct(ka)!;
    t.equal(e.packets_orig, 6n, 'packets from the originator (zone a)');
    t.equal(e.packets_reply, 5n, 'packets from the responder (zone a)');
    t.equal(e.bytes_orig, 54n * 6n + 100n, 'bytes from the originator');
    t.equal(e.bytes_reply, 54n * 5n + 300n, 'bytes from the responder');
    t.ok(e.last_seen_ns > e.created_ns, 'last_seen moved');

    // Port reuse: a new SYN from the originator replaces a TIME_WAIT entry.
    r = from(l, a, tcpFrame(ab, 40000, 80, TCP_SYN, 9000));
    t.equal(r.retval, TC_ACT_REDIRECT, 'SYN in TIME_WAIT delivered');
    t.equal(r.d.CT_NEW, 2n, 'judged as a new connection in both zones');
    t.same(state(), [CT.SYN_SENT, CT.SYN_SENT], 'reopened: SYN_SENT');
    t.equal(l.ct(ka)!.flags, 0, 'flags reset');
    t.equal(l.ct(ka)!.packets_orig, 1n, 'counters restart');
  });

  t.test('TCP: the responder closes first; an exact RST closes; a RST answering a SYN removes the entry', async (t) => {
    const { l, a, b } = await strictLab(t);
    const ka = flowKey(a, IPPROTO_TCP, a.ip, b.ip, 41000, 80);
    const s = new TcpSession(a, b, 41000, 80);
    handshake(l, s);
    t.equal(l.ct(ka)?.state, CT.ESTABLISHED, 'established');
    from(l, b, s.frame('s', TCP_FIN | TCP_ACK));
    t.equal(l.ct(ka)?.state, CT.FIN_WAIT, 'responder FIN: FIN_WAIT (a FIN seen)');
    from(l, a, s.frame('c', TCP_ACK));
    t.equal(l.ct(ka)?.state, CT.CLOSE_WAIT, 'its ACK: CLOSE_WAIT');
    from(l, a, s.frame('c', TCP_FIN | TCP_ACK));
    t.equal(l.ct(ka)?.state, CT.LAST_ACK, 'originator FIN: LAST_ACK');
    from(l, b, s.frame('s', TCP_ACK));
    t.equal(l.ct(ka)?.state, CT.TIME_WAIT, 'ACK from the responder: TIME_WAIT');

    const kr = flowKey(a, IPPROTO_TCP, a.ip, b.ip, 41001, 80);
    const s2 = new TcpSession(a, b, 41001, 80);
    handshake(l, s2);
    const r = from(l, b, s2.frame('s', TCP_RST | TCP_ACK, { advance: false }));
    t.equal(r.retval, TC_ACT_REDIRECT, 'RST at the acknowledged sequence delivered');
    t.equal(l.ct(kr)?.state, CT.CLOSE, 'RST: CLOSE');
    // A SYN answered by RST (port closed): the connection never was (Linux).
    const kc = flowKey(a, IPPROTO_TCP, a.ip, b.ip, 41002, 80);
    const s3 = new TcpSession(a, b, 41002, 80);
    from(l, a, s3.frame('c', TCP_SYN));
    from(l, b, s3.frame('s', TCP_RST | TCP_ACK, { seq: 0, advance: false }));
    t.equal(l.ct(kc), null, 'RST answering a SYN: the entry is gone');
  });

  t.test('the responder side cannot reopen while the connection is up or reset; after a close it is judged as new', async (t) => {
    const { l, a, b } = await strictLab(t);
    l.bind(b, VNF_DIR_RX, direction('allow'), 'b-open'); // b may send anything; a's ingress stays default drop
    const ka = flowKey(a, IPPROTO_TCP, a.ip, b.ip, 45000, 80);
    const s = new TcpSession(a, b, 45000, 80);
    handshake(l, s);
    const back = new TcpSession(b, a, 80, 45000);
    let r = from(l, b, back.frame('c', TCP_SYN));
    t.equal(r.retval, TC_ACT_SHOT, 'while ESTABLISHED, a SYN from b is dropped');
    t.equal(r.d.DROP_CT_INVALID, 1n, 'CT_INVALID');
    t.equal(l.ct(ka)?.state, CT.ESTABLISHED, 'still ESTABLISHED');
    from(l, b, s.frame('s', TCP_RST | TCP_ACK, { advance: false }));
    t.equal(l.ct(ka)?.state, CT.CLOSE, 'b reset it: CLOSE');
    r = from(l, b, back.frame('c', TCP_SYN, { seq: back.c.nxt - 1 }));
    t.equal(r.retval, TC_ACT_SHOT, 'a SYN from b on the reset tuple: dropped');
    t.equal(r.d.DROP_CT_INVALID, 1n, 'CT_INVALID (Linux: invalid in CLOSE)');
    // After an orderly close, b may reopen the tuple with the roles switched:
    // judged by a's ingress policy.
    const k2 = flowKey(a, IPPROTO_TCP, a.ip, b.ip, 45001, 80);
    const s2 = new TcpSession(a, b, 45001, 80);
    handshake(l, s2);
    from(l, a, s2.frame('c', TCP_FIN | TCP_ACK));
    from(l, b, s2.frame('s', TCP_FIN | TCP_ACK));
    from(l, a, s2.frame('c', TCP_ACK));
    t.equal(l.ct(k2)?.state, CT.TIME_WAIT, 'TIME_WAIT');
    r = from(l, b, new TcpSession(b, a, 80, 45001).frame('c', TCP_SYN));
    t.equal(r.retval, TC_ACT_SHOT, "b reopening the tuple towards a: judged by a's ingress policy and dropped");
    t.equal(r.d.DROP_POLICY, 1n, 'DROP_POLICY');
    t.equal(l.ct(k2), null, 'the closed entry in zone a is gone');
    r = from(l, a, s2.frame('c', TCP_ACK));
    t.equal(r.d.DROP_CT_INVALID, 1n, 'and the old connection does not come back');
  });

  t.test('replies pass under default drop; unsolicited traffic does not', async (t) => {
    const { l, a, b } = await strictLab(t);
    const ab = { src: a, dst: b };
    const ba = { src: b, dst: a };
    // b opens nothing: its egress is default drop, a's ingress too.
    let r = from(l, b, tcpFrame(ba, 80, 40000, TCP_SYN));
    t.equal(r.retval, TC_ACT_SHOT, 'unsolicited SYN from b: dropped');
    t.equal(r.d.DROP_POLICY, 1n, "by b's egress policy");
    // Even if b's egress allowed it, a's ingress (default drop) stops it.
    l.bind(b, VNF_DIR_RX, direction('allow'), 'b-open');
    r = from(l, b, udpFrame(ba, 53, 5354));
    t.equal(r.retval, TC_ACT_SHOT, 'unsolicited UDP to a: dropped');
    t.equal(r.d.DROP_POLICY, 1n, "by a's ingress policy");
    r = from(l, b, tcpFrame(ba, 80, 40000, TCP_SYN));
    t.equal(r.d.DROP_POLICY, 1n, "SYN b -> a: dropped by a's ingress");
    // a's own connection's reply passes.
    from(l, a, udpFrame(ab, 5353, 53));
    r = from(l, b, udpFrame(ba, 53, 5353));
    t.equal(r.retval, TC_ACT_REDIRECT, 'the reply to a UDP query is delivered');
    t.equal(r.d.FW_REPLY, 2n, 'REPLY in both zones');
    t.notOk(r.d.DROP_POLICY, 'no policy drop');
    // A reply from another port of the same address pair is another flow.
    r = from(l, b, udpFrame(ba, 54, 5353));
    t.equal(r.retval, TC_ACT_SHOT, 'a datagram from port 54 is not the reply of 5353 -> 53');
  });

  t.test('TCP without SYN and without a connection: CT_INVALID', async (t) => {
    const { l, a, b } = await strictLab(t);
    const r = from(l, a, tcpFrame({ src: a, dst: b }, 40000, 80, TCP_ACK, 5, 6, Buffer.from('x')));
    t.equal(r.retval, TC_ACT_SHOT, 'dropped although a rule allows tcp 80');
    t.equal(r.d.DROP_CT_INVALID, 1n, 'CT_INVALID');
    t.equal(l.ctEntries().length, 0, 'nothing tracked');
    const sa = from(l, b, tcpFrame({ src: b, dst: a }, 80, 40000, TCP_SYN | TCP_ACK));
    t.equal(sa.d.DROP_CT_INVALID, 1n, 'a SYN-ACK nobody asked for: CT_INVALID');
  });

  t.test('expiry: an expired entry is removed and its connection does not come back', async (t) => {
    const { l, a, b } = await strictLab(t);
    const ab = { src: a, dst: b };
    const s0 = new TcpSession(a, b, 42000, 80);
    handshake(l, s0);
    const ka = flowKey(a, IPPROTO_TCP, a.ip, b.ip, 42000, 80);
    const kb = flowKey(b, IPPROTO_TCP, a.ip, b.ip, 42000, 80);
    t.equal(l.ct(ka)?.state, CT.ESTABLISHED, 'established');
    // ESTABLISHED times out after 100 s here; make both entries 101 s old.
    l.setTimeouts({ tcpEstablished: 100 });
    for (const k of [ka, kb]) l.setCt(k, { ...l.ct(k)!, last_seen_ns: now() - 101n * SEC });
    let r = from(l, a, s0.frame('c', TCP_ACK | TCP_PSH, { data: Buffer.from('late') }));
    t.equal(r.retval, TC_ACT_SHOT, 'the next packet is dropped');
    t.equal(r.d.CT_EXPIRED, 1n, 'EXPIRED counted (zone a)');
    t.equal(r.d.DROP_CT_INVALID, 1n, 'then CT_INVALID: a non-SYN cannot open');
    t.equal(l.ct(ka), null, 'the expired entry is gone');
    r = from(l, b, s0.frame('s', TCP_ACK));
    t.equal(r.retval, TC_ACT_SHOT, 'the reply is dropped too');
    t.equal(r.d.CT_EXPIRED, 1n, 'EXPIRED counted (zone b)');
    t.equal(l.ct(kb), null, 'gone in zone b');
    r = from(l, b, s0.frame('s', TCP_ACK));
    t.notOk(r.d.CT_EXPIRED, 'nothing left to expire');

    // Not yet expired: 99 s old with a 100 s timeout passes and is refreshed.
    const s1 = new TcpSession(a, b, 42001, 80);
    handshake(l, s1);
    const k2 = flowKey(a, IPPROTO_TCP, a.ip, b.ip, 42001, 80);
    const k2b = flowKey(b, IPPROTO_TCP, a.ip, b.ip, 42001, 80);
    for (const k of [k2, k2b]) l.setCt(k, { ...l.ct(k)!, last_seen_ns: now() - 99n * SEC });
    r = from(l, a, s1.frame('c', TCP_ACK));
    t.equal(r.retval, TC_ACT_REDIRECT, '99 s old with a 100 s timeout: still passes');
    t.ok(now() - l.ct(k2)!.last_seen_ns < 5n * SEC, 'last_seen refreshed');

    // The timeout is the state's: a SYN_SENT entry uses tcpSynSent.
    l.setTimeouts({ tcpEstablished: 100, tcpSynSent: 2 });
    from(l, a, tcpFrame(ab, 42002, 80, TCP_SYN));
    const k3 = flowKey(a, IPPROTO_TCP, a.ip, b.ip, 42002, 80);
    l.setCt(k3, { ...l.ct(k3)!, last_seen_ns: now() - 3n * SEC });
    r = from(l, a, tcpFrame(ab, 42002, 80, TCP_SYN));
    t.equal(r.d.CT_EXPIRED, 1n, 'a 3 s old SYN_SENT entry expires after 2 s');
    t.equal(r.d.CT_NEW, 1n, 'and the retransmitted SYN opens it anew');
    t.equal(r.retval, TC_ACT_REDIRECT, 'SYN delivered');
  });

  t.test('expiry: without configured timeouts, the Linux defaults apply', async (t) => {
    const { l, a, b } = await strictLab(t);
    l.dp.map('vnf_ct_cfg').update(Buffer.alloc(4), Buffer.alloc(ctCfgCodec.size)); // all zero: use the defaults
    const ab = { src: a, dst: b };
    from(l, a, udpFrame(ab, 5000, 53));
    const k = flowKey(a, IPPROTO_UDP, a.ip, b.ip, 5000, 53);
    t.equal(l.ct(k)?.state, CT.UDP, 'UDP entry');
    l.setCt(k, { ...l.ct(k)!, last_seen_ns: now() - 25n * SEC });
    let r = from(l, a, udpFrame(ab, 5000, 53));
    t.equal(r.d.FW_ESTABLISHED, 2n, '25 s old: alive (UDP default 30 s)');
    l.setCt(k, { ...l.ct(k)!, last_seen_ns: now() - 35n * SEC });
    r = from(l, a, udpFrame(ab, 5000, 53));
    t.equal(r.d.CT_EXPIRED, 1n, '35 s old: expired');
    t.equal(r.d.CT_NEW, 1n, 'a UDP packet may open again (it is allowed)');
    const e = l.ct(k)!;
    t.equal(e.packets_orig, 1n, 'a fresh entry');
    t.equal(e.state, CT.UDP, 'state UDP');
  });

  t.test('UDP: replied; counters per direction', async (t) => {
    const { l, a, b } = await strictLab(t);
    const k = flowKey(a, IPPROTO_UDP, a.ip, b.ip, 5353, 53);
    let r = from(l, a, udpFrame({ src: a, dst: b }, 5353, 53, Buffer.alloc(30)));
    t.equal(r.d.FW_ALLOW, 2n, 'allowed by both policies');
    t.equal(l.ct(k)?.state, CT.UDP, 'UDP');
    t.equal(l.ct(k)!.flags, 0, 'no flags');
    r = from(l, b, udpFrame({ src: b, dst: a }, 53, 5353, Buffer.alloc(100)));
    t.equal(r.retval, TC_ACT_REDIRECT, 'reply delivered');
    const e = l.ct(k)!;
    t.equal(e.state, CT.UDP_REPLIED, 'UDP_REPLIED');
    t.equal(e.flags & VNF_CT_F_SEEN_REPLY, VNF_CT_F_SEEN_REPLY, 'SEEN_REPLY');
    t.same([e.packets_orig, e.packets_reply], [1n, 1n], 'one packet each way');
    t.same([e.bytes_orig, e.bytes_reply], [14n + 20n + 8n + 30n, 14n + 20n + 8n + 100n], 'bytes each way');
  });

  t.test('other IP protocols are tracked by addresses and protocol', async (t) => {
    const { l, a, b } = await strictLab(t);
    l.bind(a, VNF_DIR_RX, direction('drop', [{ action: 'allow', proto: 'any', to: b.ip }]), 'a-any');
    l.bind(b, VNF_DIR_TX, direction('drop', [{ action: 'allow', proto: 'any', from: a.ip }]), 'b-any');
    let r = from(l, a, protoFrame({ src: a, dst: b }, 47));
    t.equal(r.retval, TC_ACT_REDIRECT, 'GRE a -> b allowed');
    const k = { zone: a.ifindex, saddr: ip4(a.ip), daddr: ip4(b.ip), sport: 0, dport: 0, proto: 47 };
    t.equal(l.ct(k)?.state, CT.UDP, 'tracked with ports 0, UDP states');
    r = from(l, b, protoFrame({ src: b, dst: a }, 47));
    t.equal(r.retval, TC_ACT_REDIRECT, 'GRE b -> a: a reply, passes default-drop policies');
    t.equal(r.d.FW_REPLY, 2n, 'REPLY in both zones');
    t.equal(l.ct(k)?.state, CT.UDP_REPLIED, 'replied');
    r = from(l, b, protoFrame({ src: b, dst: a }, 50));
    t.equal(r.retval, TC_ACT_SHOT, 'ESP b -> a: another protocol, no reply of anything');
  });

  t.test('ICMP echo: request opens, reply passes, unsolicited replies do not', async (t) => {
    const { l, a, b } = await strictLab(t);
    let r = from(l, a, echoFrame({ src: a, dst: b }, 8, 0x1234));
    t.equal(r.retval, TC_ACT_REDIRECT, 'echo request delivered');
    const k = { zone: a.ifindex, saddr: ip4(a.ip), daddr: ip4(b.ip), sport: 0x1234, dport: 0, proto: IPPROTO_ICMP };
    t.equal(l.ct(k)?.state, CT.ICMP, 'entry {id, 0}, state ICMP');
    r = from(l, b, echoFrame({ src: b, dst: a }, 0, 0x1234));
    t.equal(r.retval, TC_ACT_REDIRECT, 'echo reply delivered under default drop');
    t.equal(r.d.FW_REPLY, 2n, 'REPLY in both zones');
    t.equal(l.ct(k)!.packets_reply, 1n, 'counted as a reply');
    r = from(l, b, echoFrame({ src: b, dst: a }, 0, 0x4321));
    t.equal(r.retval, TC_ACT_SHOT, 'an echo reply with another id: dropped');
    t.equal(r.d.DROP_POLICY, 1n, "by b's egress policy (ICMP that opens nothing is classified)");
    // A request from b with the id of a's ping is not a reply of it.
    l.bind(b, VNF_DIR_RX, direction('allow'), 'b-open');
    r = from(l, b, echoFrame({ src: b, dst: a }, 8, 0x1234));
    t.equal(r.retval, TC_ACT_SHOT, "b's echo request with the same id: dropped by a's ingress");
    t.equal(r.d.DROP_POLICY, 1n, 'DROP_POLICY');
  });

  t.test('ICMP errors: related ones pass, unrelated and forged ones do not', async (t) => {
    const { l, a, b } = await strictLab(t);
    const ab = { src: a, dst: b };
    const ba = { src: b, dst: a };
    const query = udpFrame(ab, 5353, 53);
    from(l, a, query);
    let r = from(l, b, icmpErrorFrame(ba, 3, 3, query));
    t.equal(r.retval, TC_ACT_REDIRECT, 'port unreachable about a tracked UDP flow: delivered');
    t.equal(r.d.FW_RELATED, 2n, 'RELATED in both zones');
    // From a router on the way (another source address): still related.
    r = from(l, b, icmpErrorFrame({ src: { ip: '10.0.0.254', mac: b.mac }, dst: a }, 11, 0, query));
    t.equal(r.d.FW_RELATED, 2n, 'time exceeded from an intermediate router: RELATED');
    // About a TCP connection.
    const syn = tcpFrame(ab, 43000, 80, TCP_SYN);
    from(l, a, syn);
    r = from(l, b, icmpErrorFrame(ba, 3, 1, syn));
    t.equal(r.d.FW_RELATED, 2n, 'host unreachable about a SYN: RELATED');
    // About an echo request.
    const ping = echoFrame(ab, 8, 0x99);
    from(l, a, ping);
    r = from(l, b, icmpErrorFrame(ba, 3, 0, ping));
    t.equal(r.d.FW_RELATED, 2n, 'net unreachable about a ping: RELATED');
    // Unrelated: quotes a flow nobody opened.
    r = from(l, b, icmpErrorFrame(ba, 3, 3, udpFrame(ab, 6000, 53)));
    t.equal(r.retval, TC_ACT_SHOT, 'about an unknown flow: dropped');
    t.equal(r.d.DROP_CT_INVALID, 1n, 'CT_INVALID');
    // Forged: the quoted packet's sender is not the error's destination.
    const forged = icmpErrorFrame({ src: b, dst: { ...a, ip: '10.0.0.77' } }, 3, 3, query);
    r = from(l, b, forged);
    t.equal(r.d.DROP_CT_INVALID, 1n, 'quoting a flow of another address: CT_INVALID');
    // a may tell b that b's reply could not be delivered: the error travels
    // in the flow's original direction, against the reply it quotes.
    r = from(l, a, icmpErrorFrame(ab, 3, 3, udpFrame(ba, 53, 5353)));
    t.equal(r.d.FW_RELATED, 2n, "a's error about b's reply: RELATED");
    // Wrong direction: an error to a about a's own packet, sent by a's container.
    r = from(l, a, icmpErrorFrame({ src: { ip: b.ip, mac: a.mac }, dst: { ip: a.ip, mac: b.mac } }, 3, 3, query));
    t.equal(r.retval, TC_ACT_SHOT, 'an error travelling with the packet it quotes: dropped');
    t.equal(r.d.DROP_CT_INVALID, 1n, 'CT_INVALID');
    // An ICMP error too short to hold the quoted ports.
    const cut = icmpErrorFrame(ba, 3, 3, query).subarray(0, 14 + 20 + 8 + 20 + 2);
    cut.writeUInt16BE(20 + 8 + 20 + 2, 16);
    r = from(l, b, cut);
    t.equal(r.d.DROP_CT_INVALID, 1n, 'a quote cut short: CT_INVALID');
    // Even a policy that allows all ICMP does not let an unrelated error in.
    l.bind(a, VNF_DIR_TX, direction('allow'), 'a-open');
    l.bind(b, VNF_DIR_RX, direction('allow'), 'b-open');
    r = from(l, b, icmpErrorFrame(ba, 3, 3, udpFrame(ab, 6001, 53)));
    t.equal(r.d.DROP_CT_INVALID, 1n, 'unrelated error under allow-all: CT_INVALID');
  });

  t.test('a tracked tuple in the wrong direction is not a connection packet', async (t) => {
    const { l, a, b } = await strictLab(t);
    from(l, a, udpFrame({ src: a, dst: b }, 5353, 53));
    // A packet carrying a's address as its source, sent TO a (a forgery).
    const forged = udpFrame({ src: { ip: a.ip, mac: b.mac }, dst: { ip: b.ip, mac: a.mac } }, 5353, 53);
    let r = -1;
    const d = delta(l, () => (r = l.runTo(a, forged, b).retval));
    t.equal(r, TC_ACT_SHOT, 'dropped');
    t.equal(d.DROP_CT_INVALID, 1n, 'CT_INVALID (not ESTABLISHED)');
  });

  t.test('zones: a connection tracked at one port opens nothing at another', async (t) => {
    const { l, a, b, ports } = await strictLab(t, 3);
    const c = ports[2]!;
    l.bind(c, VNF_DIR_TX, direction('drop'), 'c-closed');
    l.bind(b, VNF_DIR_RX, direction('allow'), 'b-open');
    from(l, a, udpFrame({ src: a, dst: b }, 5353, 53));
    // The same reply tuple sent to c's MAC: c's zone has no such connection.
    const r = from(l, b, udpFrame({ src: b, dst: { ip: a.ip, mac: c.mac } }, 53, 5353));
    t.equal(r.retval, TC_ACT_SHOT, "the reply tuple aimed at c: dropped by c's ingress");
    t.equal(r.d.DROP_POLICY, 1n, 'DROP_POLICY');
  });

  t.test('flooded copies: a broadcast or multicast copy opens no connection in the zones it reaches (defect 9)', async (t) => {
    const { l, a, b, ports } = await strictLab(t, 3);
    const c = ports[2]!;
    // c takes UDP 53 from anyone and sends nothing new: only tracked replies could leave it.
    l.bind(c, VNF_DIR_TX, direction('drop', [{ action: 'allow', proto: 'udp', ports: [[53, 53]] }]), 'c-in');
    l.bind(c, VNF_DIR_RX, direction('drop'), 'c-out');
    // a takes anything: c's egress policy is the only thing between a forged "reply" and a.
    l.bind(a, VNF_DIR_TX, direction('allow'), 'a-open');
    const copies: Array<[string, { mac: string; ip: string }]> = [
      ['broadcast', { mac: 'ff:ff:ff:ff:ff:ff', ip: '10.0.0.255' }],
      ['multicast', { mac: '01:00:5e:00:00:35', ip: '224.0.0.53' }],
    ];
    for (const [what, dst] of copies) {
      // a's query as the bridge floods it: a copy through each port's tc egress hook (vnf_entry_out).
      let rv = -1;
      const d = delta(l, () => (rv = l.dp.runEgress(c.ifindex, udpFrame({ src: a, dst }, 5353, 53)).retval));
      t.equal(rv, 0, `${what}: the copy is delivered to c (TC_ACT_OK at the egress hook)`);
      t.equal(d.FW_ALLOW, 1n, `${what}: allowed by c's ingress rules`);
      t.notOk(d.CT_NEW, `${what}: no connection opened`);
      t.equal(l.ctEntries().filter(([k]) => k.zone === c.ifindex).length, 0, `${what}: nothing tracked in c's zone`);
      // The attack: c answers "from" the flooded destination, as a reply of that flow would look.
      const forged = from(l, c, udpFrame({ src: { ip: dst.ip, mac: c.mac }, dst: a }, 53, 5353));
      t.equal(forged.retval, TC_ACT_SHOT, `${what}: c's forged "reply" is dropped`);
      t.equal(forged.d.DROP_POLICY, 1n, `${what}: judged as new against c's egress policy (DROP_POLICY), not as a REPLY`);
      t.notOk(forged.d.FW_REPLY, `${what}: not a reply`);
    }
    // Unknown unicast flooded to the port it is addressed to is that port's own traffic: tracked.
    const d = delta(l, () => l.dp.runEgress(c.ifindex, udpFrame({ src: a, dst: c }, 5353, 53)));
    t.equal(d.CT_NEW, 1n, 'a unicast copy addressed to c opens its connection');
    t.equal(l.ctEntries().filter(([k]) => k.zone === c.ifindex).length, 1, 'tracked in c\'s zone');
    const reply = from(l, c, udpFrame({ src: c, dst: a }, 53, 5353));
    t.equal(reply.d.FW_REPLY, 1n, 'and c\'s real reply passes as a REPLY');
    void b;
  });

  t.test('rule-set switch: denied flows are cut in both directions, allowed ones continue', async (t) => {
    const { l, a, b } = await strictLab(t);
    const sess = new Map<number, TcpSession>();
    const open = (sport: number) => {
      const s = new TcpSession(a, b, sport, 80);
      sess.set(sport, s);
      handshake(l, s);
    };
    const seg = (sport: number, who: 'c' | 's', flags: number, data?: string) => sess.get(sport)!.frame(who, flags, data ? { data: Buffer.from(data) } : {});
    open(44000);
    open(44001);
    const k0 = flowKey(a, IPPROTO_TCP, a.ip, b.ip, 44000, 80);
    const k1 = flowKey(a, IPPROTO_TCP, a.ip, b.ip, 44001, 80);
    t.equal(l.ct(k0)?.state, CT.ESTABLISHED, 'flow 0 established');
    t.equal(l.ct(k1)?.state, CT.ESTABLISHED, 'flow 1 established');

    // a's egress policy changes: still allows tcp 80, now also udp 123.
    const keep = l.bind(a, VNF_DIR_RX, direction('drop', [
      { action: 'allow', proto: 'udp', ports: [[123, 123]] },
      { action: 'allow', proto: 'tcp', ports: [[80, 80]] },
    ]), 'a');
    let r = from(l, a, seg(44000, 'c', TCP_ACK | TCP_PSH, 'still here'));
    t.equal(r.retval, TC_ACT_REDIRECT, 'an allowed flow keeps flowing');
    t.equal(r.d.CT_REVALIDATED, 1n, 'REVALIDATED once (zone a)');
    t.equal(l.ct(k0)!.ruleset, keep.id, 'the entry now names the new rule set');
    t.equal(l.ct(k0)!.rule, 1, 'and the rule that allows it there');
    r = from(l, b, seg(44000, 's', TCP_ACK));
    t.notOk(r.d.CT_REVALIDATED, 'not again for the next packet');
    r = from(l, b, seg(44001, 's', TCP_ACK));
    t.equal(r.retval, TC_ACT_REDIRECT, "flow 1's reply passes");
    t.equal(r.d.CT_REVALIDATED, 1n, 'revalidated by its reply (the binding of the direction that allowed it)');

    // Now a's egress denies tcp 80: the next packet of flow 0 is cut...
    const deny = l.bind(a, VNF_DIR_RX, direction('drop', [{ action: 'drop', proto: 'tcp', ports: [[80, 80]] }]), 'a');
    r = from(l, a, seg(44000, 'c', TCP_ACK));
    t.equal(r.retval, TC_ACT_SHOT, 'flow 0: dropped');
    t.equal(r.d.DROP_POLICY, 1n, 'DROP_POLICY');
    t.equal(l.ct(k0), null, 'its entry is deleted');
    t.equal(l.ruleCounter(deny.rules[0]!.counter).packets, 1n, 'counted on the rule that denies it');
    r = from(l, b, seg(44000, 's', TCP_ACK));
    t.equal(r.retval, TC_ACT_SHOT, 'and its replies do not come back');
    // ...and flow 1 is cut by its reply, before a sends anything.
    r = from(l, b, seg(44001, 's', TCP_ACK | TCP_PSH, 'push'));
    t.equal(r.retval, TC_ACT_SHOT, 'flow 1: its reply is dropped');
    t.equal(r.d.DROP_POLICY, 1n, 'DROP_POLICY (revalidated against the new egress policy)');
    t.equal(l.ct(k1), null, 'its entry in zone a is deleted');
    r = from(l, a, seg(44001, 'c', TCP_ACK));
    t.equal(r.retval, TC_ACT_SHOT, 'flow 1 from a: dropped');
    t.equal(r.d.DROP_CT_INVALID, 1n, 'no entry any more: CT_INVALID');

    // A rule set of the other direction changing cuts too (b's ingress).
    l.bind(a, VNF_DIR_RX, direction('allow'), 'a2');
    open(44002);
    const kb = flowKey(b, IPPROTO_TCP, a.ip, b.ip, 44002, 80);
    t.equal(l.ct(kb)?.state, CT.ESTABLISHED, 'flow 2 established (zone b)');
    l.bind(b, VNF_DIR_TX, direction('drop'), 'b2');
    r = from(l, a, seg(44002, 'c', TCP_ACK));
    t.equal(r.retval, TC_ACT_SHOT, "b's new ingress policy cuts flow 2");
    t.equal(l.ct(kb), null, "zone b's entry deleted");
    t.notOk(r.d.CT_REVALIDATED, "zone a's entry needed no revalidation (a's policy did not change)");
    t.equal(l.ct(flowKey(a, IPPROTO_TCP, a.ip, b.ip, 44002, 80))?.state, CT.ESTABLISHED, "zone a's entry stays: a's policy allows it");
  });

  t.test('a rule set id rewritten with other content (the A/B standby) does not vouch for its old connections', async (t) => {
    const { l, a, b } = await strictLab(t);
    const [A, B] = [0x5a0001, 0x5a0002]; // two stable slots, as the control plane keeps per firewall direction
    const allow80 = compileRuleSet('a', 'egress', direction('drop', [{ action: 'allow', proto: 'tcp', ports: [[80, 80]] }]));
    l.writeRuleSet(allow80, A);
    l.bindId(a, VNF_DIR_RX, A);
    const s = new TcpSession(a, b, 45000, 80);
    handshake(l, s);
    const k = flowKey(a, IPPROTO_TCP, a.ip, b.ip, 45000, 80);
    t.equal(l.ct(k)?.state, CT.ESTABLISHED, 'established under slot A');
    t.equal(l.ct(k)!.ruleset, allow80.id, "the entry remembers the set's version, not the slot");
    // B becomes live (it allows the flow too), the connection stays idle.
    const alsoAllow = compileRuleSet('a', 'egress', direction('drop', [
      { action: 'allow', proto: 'udp', ports: [[53, 53]] },
      { action: 'allow', proto: 'tcp', ports: [[80, 80]] },
    ]));
    l.writeRuleSet(alsoAllow, B);
    l.bindId(a, VNF_DIR_RX, B);
    // A, now the standby, is rewritten with a policy that denies the flow, and bound again.
    const deny80 = compileRuleSet('a', 'egress', direction('drop', [{ action: 'drop', proto: 'tcp', ports: [[80, 80]] }]));
    l.clearRuleSet(A);
    l.writeRuleSet(deny80, A);
    l.bindId(a, VNF_DIR_RX, A);
    const r = from(l, a, s.frame('c', TCP_ACK | TCP_PSH, { data: Buffer.from('x') }));
    t.equal(r.retval, TC_ACT_SHOT, 'the idle connection is judged again and cut');
    t.equal(r.d.DROP_POLICY, 1n, 'DROP_POLICY: same slot id, other content');
    t.equal(l.ct(k), null, 'its entry is deleted');
  });

  t.test('a missing binding for the direction that allowed a connection fails closed', async (t) => {
    const { l, a, b } = await strictLab(t);
    from(l, a, udpFrame({ src: a, dst: b }, 5353, 53));
    l.unbind(a, VNF_DIR_RX);
    const r = from(l, b, udpFrame({ src: b, dst: a }, 53, 5353));
    t.equal(r.retval, TC_ACT_SHOT, 'the reply is dropped');
    t.equal(r.d.DROP_NO_POLICY, 1n, 'NO_POLICY');
  });

  t.test('fragments: later fragments follow their first; without it only port-less rules match', async (t) => {
    const { l, a, b } = await strictLab(t);
    const ab = { src: a, dst: b };
    const ba = { src: b, dst: a };
    // A 48-byte UDP datagram to port 53 in two fragments.
    const dgram = udp(a.ip, b.ip, 5353, 53, Buffer.alloc(40, 7));
    let r = from(l, a, fragmentFrame(ab, IPPROTO_UDP, 0x77, 0, true, dgram.subarray(0, 24)));
    t.equal(r.retval, TC_ACT_REDIRECT, 'first fragment (ports 5353 -> 53): delivered');
    t.equal(r.d.CT_NEW, 2n, 'it opens the flow');
    r = from(l, a, fragmentFrame(ab, IPPROTO_UDP, 0x77, 24, false, dgram.subarray(24)));
    t.equal(r.retval, TC_ACT_REDIRECT, 'second fragment: delivered');
    t.equal(r.d.FW_ESTABLISHED, 2n, 'as part of the flow (ESTABLISHED)');
    const k = flowKey(a, IPPROTO_UDP, a.ip, b.ip, 5353, 53);
    t.equal(l.ct(k)!.packets_orig, 2n, 'both fragments counted on the flow');
    // A fragmented reply comes back.
    const reply = udp(b.ip, a.ip, 53, 5353, Buffer.alloc(40, 9));
    r = from(l, b, fragmentFrame(ba, IPPROTO_UDP, 0x88, 0, true, reply.subarray(0, 16)));
    t.equal(r.d.FW_REPLY, 2n, 'first fragment of the reply: REPLY');
    r = from(l, b, fragmentFrame(ba, IPPROTO_UDP, 0x88, 16, false, reply.subarray(16)));
    t.equal(r.retval, TC_ACT_REDIRECT, 'second fragment of the reply: delivered under default drop');
    t.equal(r.d.FW_REPLY, 2n, 'REPLY');
    // A fragment whose first was never seen: only port-less rules can match.
    r = from(l, a, fragmentFrame(ab, IPPROTO_UDP, 0x99, 24, false, Buffer.alloc(16)));
    t.equal(r.retval, TC_ACT_SHOT, "an orphan fragment: the 'udp port 53' rule cannot match it");
    t.equal(r.d.DROP_POLICY, 1n, 'DROP_POLICY');
    l.bind(a, VNF_DIR_RX, direction('drop', [{ action: 'allow', proto: 'udp', to: b.ip }]), 'a-udp');
    l.bind(b, VNF_DIR_TX, direction('drop', [{ action: 'allow', proto: 'udp' }]), 'b-udp');
    r = from(l, a, fragmentFrame(ab, IPPROTO_UDP, 0x9a, 24, false, Buffer.alloc(16)));
    t.equal(r.retval, TC_ACT_REDIRECT, 'an orphan fragment matching a rule without ports: delivered');
    t.notOk(r.d.CT_NEW, 'it opens nothing');
    // A denied first fragment: its followers are classified without ports.
    l.bind(a, VNF_DIR_RX, direction('drop', [{ action: 'allow', proto: 'udp', ports: [[53, 53]] }]), 'a-53');
    const bad = udp(a.ip, b.ip, 5353, 54, Buffer.alloc(40));
    r = from(l, a, fragmentFrame(ab, IPPROTO_UDP, 0x9b, 0, true, bad.subarray(0, 24)));
    t.equal(r.d.DROP_POLICY, 1n, 'first fragment to port 54: dropped');
    r = from(l, a, fragmentFrame(ab, IPPROTO_UDP, 0x9b, 24, false, bad.subarray(24)));
    t.equal(r.d.DROP_POLICY, 1n, 'its second fragment: dropped');
    // RFC 1858: a TCP fragment at offset 8 could rewrite the flags.
    r = from(l, a, fragmentFrame(ab, IPPROTO_TCP, 0x9c, 8, false, Buffer.alloc(16)));
    t.equal(r.d.DROP_MALFORMED, 1n, 'TCP fragment at offset 8: MALFORMED');
    // A first fragment too short to hold the ports.
    r = from(l, a, fragmentFrame(ab, IPPROTO_UDP, 0x9d, 0, true, Buffer.alloc(0)));
    t.equal(r.d.DROP_MALFORMED, 1n, 'first fragment without its UDP header: MALFORMED');
  });

  t.test('many connections: each keeps its own state', async (t) => {
    const { l, a, b } = await strictLab(t);
    const ab = { src: a, dst: b };
    const ba = { src: b, dst: a };
    for (let i = 0; i < 200; i++) from(l, a, tcpFrame(ab, 20000 + i, 80, TCP_SYN, 1000 + i));
    for (let i = 0; i < 200; i += 2) from(l, b, tcpFrame(ba, 80, 20000 + i, TCP_SYN | TCP_ACK, 7000, 1001 + i));
    const states = l.ctEntries().filter(([k]) => k.zone === a.ifindex).map(([k, e]) => [k.sport, e.state] as const);
    t.equal(states.length, 200, '200 entries in zone a');
    t.ok(states.every(([p, s]) => s === ((p - 20000) % 2 === 0 ? CT.SYN_RECV : CT.SYN_SENT)), 'answered ones SYN_RECV, others SYN_SENT');
  });
}
