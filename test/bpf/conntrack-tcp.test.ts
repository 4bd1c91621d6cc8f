/**
 * TCP connection tracking as strict as Linux (bpf/include/vnf/ct_tcp.h):
 * sequence and window checks, RST and SYN acceptance, invalid flag
 * combinations, the reuse of closing tuples, window scaling and SACK. Every
 * segment is numbered as real stacks would (TcpSession): client a opens TCP
 * 80 on server b, both ports firewalled, so each segment crosses a's and b's
 * zones. A forgery "from b" is judged by b's zone first; one injected at a's
 * ingress (runTo) by a's zone alone, as from a third container.
 */
import t, { type Test } from 'tap';
import { IPPROTO_TCP, tcp, TCP_ACK, TCP_CWR, TCP_ECE, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN, TCP_URG, tcpOptions } from '../helpers/packets.js';
import {
  CT, delta, direction, firewallLab, flowKey, fragmentFrame, TC_ACT_REDIRECT, TC_ACT_SHOT, TcpSession, VNF_DIR_RX, VNF_DIR_TX,
  type FwLab, type FwPort, type ReasonName,
} from '../helpers/firewall-dp.js';
import { ctTcpDirs, VNF_CT_F_ASSURED, VNF_CT_TCP_F_SACK_PERM, VNF_CT_TCP_F_WINDOW_SCALE, type CtEntry } from '../../src/vnf/conntrack/codec.js';
import { requirePrivileges } from '../helpers/privilege.js';

const SEC = 1_000_000_000n;
const now = (): bigint => process.hrtime.bigint(); // CLOCK_MONOTONIC, as bpf_ktime_get_ns

interface Run {
  retval: number;
  d: Partial<Record<ReasonName, bigint>>;
}

function from(l: FwLab, p: FwPort, pkt: Buffer): Run {
  let r = -1;
  const d = delta(l, () => (r = l.runFrom(p, pkt).retval));
  return { retval: r, d };
}

/** A packet handed to the firewall of `to`'s ingress directly (a forgery from a third port). */
function injectTo(l: FwLab, to: FwPort, pkt: Buffer, via: FwPort): Run {
  let r = -1;
  const d = delta(l, () => (r = l.runTo(to, pkt, via).retval));
  return { retval: r, d };
}

async function lab(t: Test, n = 2): Promise<{ l: FwLab; a: FwPort; b: FwPort; ports: FwPort[] }> {
  const l = await firewallLab(t, n);
  const [a, b] = l.ports as [FwPort, FwPort];
  const web = direction('drop', [{ action: 'allow', proto: 'tcp', ports: [[80, 80]] }]);
  l.bind(a, VNF_DIR_RX, web, 'a-out');
  l.bind(a, VNF_DIR_TX, direction('drop'), 'a-in');
  l.bind(b, VNF_DIR_RX, direction('drop'), 'b-out');
  l.bind(b, VNF_DIR_TX, web, 'b-in');
  return { l, a, b, ports: l.ports };
}

/** The entries of a connection in a's and b's zones. */
function entries(l: FwLab, a: FwPort, b: FwPort, sport: number): [CtEntry | null, CtEntry | null] {
  return [l.ct(flowKey(a, IPPROTO_TCP, a.ip, b.ip, sport, 80)), l.ct(flowKey(b, IPPROTO_TCP, a.ip, b.ip, sport, 80))];
}
const states = (l: FwLab, a: FwPort, b: FwPort, sport: number): Array<number | undefined> => entries(l, a, b, sport).map((e) => e?.state);

/** The three-way handshake; asserts every segment passes. */
function open(t: Test, l: FwLab, s: TcpSession): void {
  const [a, b] = [s.c.port, s.s.port];
  for (const [p, f] of [[a, s.frame('c', TCP_SYN)], [b, s.frame('s', TCP_SYN | TCP_ACK)], [a, s.frame('c', TCP_ACK)]] as const) {
    const r = from(l, p, f);
    if (r.retval !== TC_ACT_REDIRECT) t.fail(`handshake segment dropped: ${JSON.stringify(r.d, (_, v) => (typeof v === 'bigint' ? Number(v) : v))}`);
  }
}

/** Data from `who` in segments of at most 1400 bytes, then the peer's ACK of it: all must pass. */
function exchange(t: Test, l: FwLab, s: TcpSession, who: 'c' | 's', bytes: number, ackWin?: number): void {
  const me = who === 'c' ? s.c : s.s;
  const peer = who === 'c' ? s.s : s.c;
  let ok = true;
  for (let left = bytes; left > 0; left -= 1400) {
    ok &&= from(l, me.port, s.frame(who, TCP_ACK | TCP_PSH, { data: Math.min(left, 1400) })).retval === TC_ACT_REDIRECT;
  }
  t.ok(ok, `${bytes} bytes from ${who === 'c' ? 'the client' : 'the server'}`);
  const ack = s.frame(who === 'c' ? 's' : 'c', TCP_ACK, ackWin === undefined ? {} : { win: ackWin });
  t.equal(from(l, peer.port, ack).retval, TC_ACT_REDIRECT, 'and their ACK');
}

if (requirePrivileges(t)) {
  t.test('RST: out of window is dropped and changes nothing; inexact in window passes but closes nothing; exact closes', async (t) => {
    const { l, a, b } = await lab(t);
    const s = new TcpSession(a, b, 40000, 80);
    open(t, l, s);
    exchange(t, l, s, 'c', 500);
    exchange(t, l, s, 's', 3000);
    t.same(states(l, a, b, 40000), [CT.ESTABLISHED, CT.ESTABLISHED], 'established');
    const before = entries(l, a, b, 40000);

    // Forged resets of the server's side, far from its sequence space.
    for (const [what, seq, flags] of [
      ['a RST|ACK 2^30 beyond the window', s.s.nxt + 0x4000_0000, TCP_RST | TCP_ACK],
      ['a RST|ACK 2^30 behind it', s.s.nxt - 0x4000_0000, TCP_RST | TCP_ACK],
      ['a bare RST with a guessed sequence', 0x1234_5678, TCP_RST],
      ['a RST just past the right edge', s.c.ack + s.c.win + 10, TCP_RST | TCP_ACK],
      ['a RST one before what a acknowledged', s.s.nxt - 1, TCP_RST | TCP_ACK],
    ] as const) {
      const f = s.frame('s', flags, { seq, advance: false });
      let r = from(l, b, f);
      t.equal(r.retval, TC_ACT_SHOT, `${what} (from b's port): dropped`);
      t.equal(r.d.DROP_CT_INVALID, 1n, 'as CT_INVALID');
      r = injectTo(l, a, f, b);
      t.equal(r.retval, TC_ACT_SHOT, `${what} (straight into a's ingress): dropped`);
      t.equal(r.d.DROP_CT_INVALID, 1n, 'as CT_INVALID');
    }
    t.same(entries(l, a, b, 40000), before, 'both entries unchanged, byte for byte (state, windows, counters, last_seen)');

    // The connection goes on.
    exchange(t, l, s, 'c', 100);
    exchange(t, l, s, 's', 100);

    // In window but not exact: Linux lets it pass (the endpoint answers
    // with a challenge ACK, RFC 5961) and keeps the state.
    let r = from(l, b, s.frame('s', TCP_RST | TCP_ACK, { seq: s.s.nxt + 1000, advance: false }));
    t.equal(r.retval, TC_ACT_REDIRECT, 'an inexact in-window RST passes');
    t.same(states(l, a, b, 40000), [CT.ESTABLISHED, CT.ESTABLISHED], 'and the connection stays ESTABLISHED');
    // The client's challenge ACK, then the exact RST (seq = what a acknowledged).
    t.equal(from(l, a, s.frame('c', TCP_ACK)).retval, TC_ACT_REDIRECT, 'the challenge ACK passes');
    r = from(l, b, s.frame('s', TCP_RST | TCP_ACK, { advance: false }));
    t.equal(r.retval, TC_ACT_REDIRECT, 'the exact RST passes');
    t.same(states(l, a, b, 40000), [CT.CLOSE, CT.CLOSE], 'and closes');
  });

  t.test('a RST right after the sender\'s last segment closes (a RST train)', async (t) => {
    const { l, a, b } = await lab(t);
    const s = new TcpSession(a, b, 40001, 80);
    open(t, l, s);
    exchange(t, l, s, 'c', 200);
    // The server pushes data and resets right after it, before a acks it.
    t.equal(from(l, b, s.frame('s', TCP_ACK | TCP_PSH, { data: 300 })).retval, TC_ACT_REDIRECT, 'data');
    const r = from(l, b, s.frame('s', TCP_RST | TCP_ACK));
    t.equal(r.retval, TC_ACT_REDIRECT, 'RST at the end of that data passes');
    t.same(states(l, a, b, 40001), [CT.CLOSE, CT.CLOSE], 'and closes');
  });

  t.test('the responder cannot send a SYN, nor a SYN/ACK out of window, on an established connection', async (t) => {
    const { l, a, b } = await lab(t);
    const s = new TcpSession(a, b, 40002, 80);
    const sIsn = s.s.nxt;
    const cIsn = s.c.nxt;
    open(t, l, s);
    exchange(t, l, s, 'c', 1000);
    exchange(t, l, s, 's', 1000);
    const before = entries(l, a, b, 40002);
    for (const [what, f] of [
      ['a SYN (guessed sequence)', s.frame('s', TCP_SYN, { seq: 0x0bad_5eed, advance: false })],
      ['a SYN in window', s.frame('s', TCP_SYN, { advance: false })],
      ['a SYN/ACK out of window', s.frame('s', TCP_SYN | TCP_ACK, { seq: 0x0bad_5eed, ack: 0x1357_9bdf, advance: false })],
      ['a SYN/ACK whose ack is wrong', s.frame('s', TCP_SYN | TCP_ACK, { seq: sIsn, ack: cIsn + 0x2000_0000, advance: false })],
    ] as const) {
      let r = from(l, b, f);
      t.equal(r.retval, TC_ACT_SHOT, `${what} from b: dropped`);
      t.equal(r.d.DROP_CT_INVALID, 1n, 'CT_INVALID');
      r = injectTo(l, a, f, b);
      t.equal(r.retval, TC_ACT_SHOT, `${what} straight into a: dropped`);
      t.equal(r.d.DROP_CT_INVALID, 1n, 'CT_INVALID');
    }
    t.same(entries(l, a, b, 40002), before, 'nothing changed');
    // A late retransmission of the real SYN/ACK is in window: it passes,
    // ignored (the client answers it with an ACK), and moves nothing.
    const r = from(l, b, s.frame('s', TCP_SYN | TCP_ACK, { seq: sIsn, ack: cIsn + 1, advance: false }));
    t.equal(r.retval, TC_ACT_REDIRECT, 'a retransmitted SYN/ACK passes');
    t.same(states(l, a, b, 40002), [CT.ESTABLISHED, CT.ESTABLISHED], 'still ESTABLISHED');
    exchange(t, l, s, 'c', 10);
    exchange(t, l, s, 's', 10);
  });

  t.test('a client that restarted: its SYN passes ignored, the challenge ACK, its RST, then its SYN reopens', async (t) => {
    const { l, a, b } = await lab(t);
    const s = new TcpSession(a, b, 40003, 80);
    open(t, l, s);
    exchange(t, l, s, 'c', 700);
    const e0 = entries(l, a, b, 40003)[0]!;
    // The client forgot the connection and opens the same tuple anew.
    const fresh = new TcpSession(a, b, 40003, 80, { cIsn: 0x5555_0000 });
    let r = from(l, a, fresh.frame('c', TCP_SYN));
    t.equal(r.retval, TC_ACT_REDIRECT, 'its SYN passes (Linux ignores it: the server decides)');
    t.same(states(l, a, b, 40003), [CT.ESTABLISHED, CT.ESTABLISHED], 'the state stays');
    // The server still holds the connection: a challenge ACK (RFC 5961).
    r = from(l, b, s.frame('s', TCP_ACK, { advance: false }));
    t.equal(r.retval, TC_ACT_REDIRECT, 'the challenge ACK passes');
    // The client answers it with a RST at the acknowledged sequence.
    r = from(l, a, fresh.frame('c', TCP_RST, { seq: s.c.nxt, advance: false }));
    t.equal(r.retval, TC_ACT_REDIRECT, 'the RST passes');
    t.same(states(l, a, b, 40003), [CT.CLOSE, CT.CLOSE], 'closed');
    // Its next SYN reopens the tuple: a new entry.
    r = from(l, a, fresh.frame('c', TCP_SYN, { seq: 0x5555_0000 }));
    t.equal(r.retval, TC_ACT_REDIRECT, 'the retransmitted SYN passes');
    t.equal(r.d.CT_NEW, 2n, 'as a new connection in both zones');
    const e1 = entries(l, a, b, 40003)[0]!;
    t.equal(e1.state, CT.SYN_SENT, 'SYN_SENT');
    t.ok(e1.created_ns > e0.created_ns && e1.packets_orig === 1n, 'a fresh entry');
    t.equal(from(l, b, fresh.frame('s', TCP_SYN | TCP_ACK)).retval, TC_ACT_REDIRECT, 'SYN/ACK');
    t.equal(from(l, a, fresh.frame('c', TCP_ACK)).retval, TC_ACT_REDIRECT, 'ACK');
    t.same(states(l, a, b, 40003), [CT.ESTABLISHED, CT.ESTABLISHED], 'the new connection is ESTABLISHED');
  });

  t.test('reuse of closing tuples: TIME_WAIT and CLOSE reopen as Linux does', async (t) => {
    const { l, a, b } = await lab(t);
    const closeByFin = (sport: number): TcpSession => {
      const s = new TcpSession(a, b, sport, 80);
      open(t, l, s);
      exchange(t, l, s, 'c', 100);
      from(l, a, s.frame('c', TCP_FIN | TCP_ACK));
      from(l, b, s.frame('s', TCP_ACK));
      from(l, b, s.frame('s', TCP_FIN | TCP_ACK));
      from(l, a, s.frame('c', TCP_ACK));
      return s;
    };

    await t.test('TIME_WAIT: the client\'s new SYN replaces the entry', async (t) => {
      closeByFin(41000);
      t.same(states(l, a, b, 41000), [CT.TIME_WAIT, CT.TIME_WAIT], 'TIME_WAIT');
      const old = entries(l, a, b, 41000)[0]!;
      const n = new TcpSession(a, b, 41000, 80, { cIsn: 0x2222_0000 });
      const r = from(l, a, n.frame('c', TCP_SYN));
      t.equal(r.retval, TC_ACT_REDIRECT, 'SYN passes');
      t.equal(r.d.CT_NEW, 2n, 'judged and tracked as a new connection');
      const e = entries(l, a, b, 41000)[0]!;
      t.equal(e.state, CT.SYN_SENT, 'SYN_SENT');
      t.ok(e.created_ns > old.created_ns && e.packets_orig === 1n && e.packets_reply === 0n, 'a new entry (counters from zero)');
    });

    await t.test('TIME_WAIT: the server\'s SYN (roles switched) is judged by the policy of its direction', async (t) => {
      closeByFin(41001);
      l.bind(b, VNF_DIR_RX, direction('allow'), 'b-out-open');
      const n = new TcpSession(b, a, 80, 41001);
      let r = from(l, b, n.frame('c', TCP_SYN));
      t.equal(r.retval, TC_ACT_SHOT, "b's SYN to a: dropped by a's ingress (default drop)");
      t.equal(r.d.DROP_POLICY, 1n, 'DROP_POLICY');
      t.equal(entries(l, a, b, 41001)[0], null, "the old entry in a's zone is gone");
      l.bind(a, VNF_DIR_TX, direction('drop', [{ action: 'allow', proto: 'tcp', ports: [[41001, 41001]] }]), 'a-in-41001');
      r = from(l, b, n.frame('c', TCP_SYN, { seq: n.c.nxt - 1 }));
      t.equal(r.retval, TC_ACT_REDIRECT, 'allowed by a\'s ingress: delivered');
      t.equal(l.ct(flowKey(a, IPPROTO_TCP, b.ip, a.ip, 80, 41001))?.state, CT.SYN_SENT, 'a new entry, b -> a');
    });

    await t.test('CLOSE after the client\'s RST: its SYN reopens', async (t) => {
      const s = new TcpSession(a, b, 41002, 80);
      open(t, l, s);
      from(l, a, s.frame('c', TCP_RST | TCP_ACK, { advance: false }));
      t.same(states(l, a, b, 41002), [CT.CLOSE, CT.CLOSE], 'CLOSE');
      const r = from(l, a, new TcpSession(a, b, 41002, 80, { cIsn: 0x3333_0000 }).frame('c', TCP_SYN));
      t.equal(r.d.CT_NEW, 2n, 'a new connection');
      t.same(states(l, a, b, 41002), [CT.SYN_SENT, CT.SYN_SENT], 'SYN_SENT');
    });

    await t.test('CLOSE after the server\'s RST: the client\'s SYN is ignored, its SYN/ACK resyncs', async (t) => {
      const s = new TcpSession(a, b, 41003, 80);
      open(t, l, s);
      exchange(t, l, s, 'c', 100);
      from(l, b, s.frame('s', TCP_RST | TCP_ACK, { advance: false }));
      t.same(states(l, a, b, 41003), [CT.CLOSE, CT.CLOSE], 'CLOSE (reset by the server)');
      const n = new TcpSession(a, b, 41003, 80, { cIsn: 0x4444_0000, sIsn: 0x0abc_0000 });
      let r = from(l, a, n.frame('c', TCP_SYN));
      t.equal(r.retval, TC_ACT_REDIRECT, 'the SYN passes');
      t.notOk(r.d.CT_NEW, 'without a new entry');
      t.same(states(l, a, b, 41003), [CT.CLOSE, CT.CLOSE], 'still CLOSE');
      r = from(l, b, n.frame('s', TCP_SYN | TCP_ACK));
      t.equal(r.retval, TC_ACT_REDIRECT, 'the SYN/ACK acking it passes');
      t.same(states(l, a, b, 41003), [CT.SYN_RECV, CT.SYN_RECV], 'the entry follows the new handshake: SYN_RECV');
      from(l, a, n.frame('c', TCP_ACK));
      t.same(states(l, a, b, 41003), [CT.ESTABLISHED, CT.ESTABLISHED], 'ESTABLISHED');
      exchange(t, l, n, 'c', 100);
      exchange(t, l, n, 's', 100);
    });

    await t.test('CLOSE: the server cannot reopen', async (t) => {
      const s = new TcpSession(a, b, 41004, 80);
      open(t, l, s);
      from(l, b, s.frame('s', TCP_RST | TCP_ACK, { advance: false }));
      l.bind(b, VNF_DIR_RX, direction('allow'), 'b-out-open');
      const r = from(l, b, new TcpSession(b, a, 80, 41004).frame('c', TCP_SYN));
      t.equal(r.retval, TC_ACT_SHOT, "b's SYN on the reset tuple: dropped");
      t.equal(r.d.DROP_CT_INVALID, 1n, 'CT_INVALID (Linux: invalid in CLOSE)');
      t.same(states(l, a, b, 41004), [CT.CLOSE, CT.CLOSE], 'CLOSE');
    });
  });

  t.test('a SYN reusing a tuple stuck in LAST_ACK gets a connection with ESTABLISHED timeouts', async (t) => {
    const { l, a, b } = await lab(t);
    const stuck = (sport: number): TcpSession => {
      const s = new TcpSession(a, b, sport, 80);
      open(t, l, s);
      exchange(t, l, s, 'c', 100);
      from(l, a, s.frame('c', TCP_FIN | TCP_ACK));
      from(l, b, s.frame('s', TCP_FIN | TCP_ACK)); // the server's FIN, acking a's
      // a's last ACK never comes (lost beyond the firewall, or a went away).
      t.same(states(l, a, b, sport), [CT.LAST_ACK, CT.LAST_ACK], 'LAST_ACK');
      return s;
    };

    await t.test('the server answers with a SYN/ACK', async (t) => {
      stuck(42000);
      const n = new TcpSession(a, b, 42000, 80, { cIsn: 0x6666_0000 });
      let r = from(l, a, n.frame('c', TCP_SYN));
      t.equal(r.retval, TC_ACT_REDIRECT, 'the SYN passes');
      t.same(states(l, a, b, 42000), [CT.LAST_ACK, CT.LAST_ACK], 'ignored: still LAST_ACK');
      r = from(l, b, n.frame('s', TCP_SYN | TCP_ACK));
      t.equal(r.retval, TC_ACT_REDIRECT, 'the SYN/ACK passes');
      t.same(states(l, a, b, 42000), [CT.SYN_RECV, CT.SYN_RECV], 'SYN_RECV: a new handshake');
      from(l, a, n.frame('c', TCP_ACK));
      t.same(states(l, a, b, 42000), [CT.ESTABLISHED, CT.ESTABLISHED], 'ESTABLISHED, not TIME_WAIT');
      t.ok(entries(l, a, b, 42000).every((e) => (e!.flags & VNF_CT_F_ASSURED) !== 0), 'ASSURED');
      // Idle for longer than LAST_ACK's and TIME_WAIT's timeouts: still alive.
      for (const e of [flowKey(a, IPPROTO_TCP, a.ip, b.ip, 42000, 80), flowKey(b, IPPROTO_TCP, a.ip, b.ip, 42000, 80)]) {
        l.setCt(e, { ...l.ct(e)!, last_seen_ns: now() - 300n * SEC });
      }
      r = from(l, a, n.frame('c', TCP_ACK | TCP_PSH, { data: 10 }));
      t.equal(r.retval, TC_ACT_REDIRECT, 'after 5 idle minutes the connection still works');
      t.notOk(r.d.CT_EXPIRED, 'nothing expired');
    });

    await t.test('the server answers with a challenge ACK', async (t) => {
      const s = stuck(42001);
      const n = new TcpSession(a, b, 42001, 80, { cIsn: 0x7777_0000 });
      from(l, a, n.frame('c', TCP_SYN));
      // The server, still in LAST_ACK, answers the SYN with an ACK of the old connection.
      let r = from(l, b, s.frame('s', TCP_ACK, { advance: false }));
      t.equal(r.retval, TC_ACT_REDIRECT, 'the challenge ACK passes');
      t.same(states(l, a, b, 42001), [CT.LAST_ACK, CT.LAST_ACK], 'and is not taken for the last ACK (no TIME_WAIT)');
      // The client resets the old connection at the acknowledged sequence, then retries.
      r = from(l, a, n.frame('c', TCP_RST, { seq: s.c.nxt, advance: false }));
      t.equal(r.retval, TC_ACT_REDIRECT, 'the RST passes');
      t.same(states(l, a, b, 42001), [CT.CLOSE, CT.CLOSE], 'CLOSE');
      r = from(l, a, n.frame('c', TCP_SYN, { seq: 0x7777_0000 }));
      t.equal(r.d.CT_NEW, 2n, 'the retried SYN opens a new connection');
      from(l, b, n.frame('s', TCP_SYN | TCP_ACK));
      from(l, a, n.frame('c', TCP_ACK));
      t.same(states(l, a, b, 42001), [CT.ESTABLISHED, CT.ESTABLISHED], 'ESTABLISHED');
    });
  });

  t.test('invalid flag combinations on a tracked connection are dropped', async (t) => {
    const { l, a, b } = await lab(t);
    const s = new TcpSession(a, b, 40004, 80);
    open(t, l, s);
    exchange(t, l, s, 'c', 100);
    const before = entries(l, a, b, 40004);
    for (const [name, flags] of [
      ['NULL', 0], ['SYN|FIN', TCP_SYN | TCP_FIN], ['SYN|RST', TCP_SYN | TCP_RST], ['SYN|FIN|ACK', TCP_SYN | TCP_FIN | TCP_ACK],
      ['FIN without ACK', TCP_FIN], ['RST|FIN', TCP_RST | TCP_FIN], ['RST|FIN|ACK', TCP_RST | TCP_FIN | TCP_ACK],
      ['PSH alone', TCP_PSH], ['URG alone', TCP_URG], ['FIN|PSH|URG (xmas)', TCP_FIN | TCP_PSH | TCP_URG],
      ['SYN|ACK|URG', TCP_SYN | TCP_ACK | TCP_URG], ['all six', 0x3f],
    ] as const) {
      const r = from(l, a, s.frame('c', flags, { advance: false }));
      t.equal(r.retval, TC_ACT_SHOT, `${name}: dropped`);
      t.equal(r.d.DROP_CT_INVALID, 1n, `${name}: CT_INVALID`);
    }
    t.same(entries(l, a, b, 40004), before, 'nothing changed');
    const r = from(l, a, s.frame('c', TCP_ACK | TCP_PSH | TCP_ECE | TCP_CWR, { data: 10 }));
    t.equal(r.retval, TC_ACT_REDIRECT, 'ACK|PSH with ECE and CWR is valid');
  });

  t.test('window scaling: a transfer far beyond 65535 bytes in flight passes when both SYNs scale', async (t) => {
    const { l, a, b } = await lab(t);
    // Server window 1024 << 7 = 128 KiB.
    const s = new TcpSession(a, b, 40005, 80, { cWscale: 7, sWscale: 7, cWin: 1024, sWin: 1024 });
    open(t, l, s);
    const [o, r] = ctTcpDirs(entries(l, a, b, 40005)[0]!);
    t.same([o.td_scale, r.td_scale], [7, 7], 'both directions scale by 7');
    t.ok((o.flags & VNF_CT_TCP_F_WINDOW_SCALE) && (r.flags & VNF_CT_TCP_F_WINDOW_SCALE), 'both SYNs carried the option');
    // The server opens its scaled window (its SYN/ACK could only say 65535),
    // then 80 segments of 1400 bytes (112,000 > 65535) are in flight before
    // its next ACK; four times.
    let ok = 0;
    for (let round = 0; round < 4; round++) {
      if (from(l, b, s.frame('s', TCP_ACK)).retval === TC_ACT_REDIRECT) ok++;
      for (let i = 0; i < 80; i++) if (from(l, a, s.frame('c', TCP_ACK, { data: 1400 })).retval === TC_ACT_REDIRECT) ok++;
    }
    t.equal(ok, 324, '448,000 bytes in 320 segments, and 4 ACKs: all delivered');
    t.equal(from(l, b, s.frame('s', TCP_ACK)).retval, TC_ACT_REDIRECT, 'the last ACK');
    t.same(states(l, a, b, 40005), [CT.ESTABLISHED, CT.ESTABLISHED], 'ESTABLISHED');
    const beyond = from(l, a, s.frame('c', TCP_ACK, { data: 100, seq: s.s.ack + (1024 << 7) + 1, advance: false }));
    t.equal(beyond.retval, TC_ACT_SHOT, 'but data beyond the scaled window is still invalid');
  });

  t.test('window scaling needs both SYNs: without the server\'s option nothing scales', async (t) => {
    const { l, a, b } = await lab(t);
    const s = new TcpSession(a, b, 40006, 80, { cWscale: 7, cWin: 1024, sWin: 1024 });
    open(t, l, s);
    const [o, r] = ctTcpDirs(entries(l, a, b, 40006)[0]!);
    t.same([o.td_scale, r.td_scale], [0, 0], 'no scaling either way');
    t.equal(from(l, a, s.frame('c', TCP_ACK, { data: 1000 })).retval, TC_ACT_REDIRECT, '1000 bytes within the 1024-byte window pass');
    const r2 = from(l, a, s.frame('c', TCP_ACK, { data: 1000, advance: false, seq: s.c.nxt + 100 }));
    t.equal(r2.retval, TC_ACT_SHOT, 'a segment starting beyond ack + 1024 is invalid');
    t.equal(r2.d.DROP_CT_INVALID, 1n, 'CT_INVALID');
  });

  t.test('options are read as Linux does: a broken list stops the walk, a shift over 14 counts as 14', async (t) => {
    const { l, a, b } = await lab(t);
    // A size-1 option before the window scale: the walk stops there.
    const broken = Buffer.from([2, 4, 5, 0xb4, 30, 1, 3, 3, 7, 0, 0, 0]);
    const s = new TcpSession(a, b, 40020, 80, { cWscale: 7, sWscale: 7 });
    from(l, a, s.frame('c', TCP_SYN, { options: broken }));
    from(l, b, s.frame('s', TCP_SYN | TCP_ACK));
    let [o, r] = ctTcpDirs(entries(l, a, b, 40020)[0]!);
    t.equal(o.flags & VNF_CT_TCP_F_WINDOW_SCALE, 0, "the client's window scale after a broken option is not taken");
    t.same([o.td_scale, r.td_scale], [0, 0], 'so nothing scales');
    // Shifts of 20 (RFC 7323: use 14).
    const big = new TcpSession(a, b, 40021, 80, { cWscale: 20, sWscale: 20 });
    const opts = tcpOptions({ mss: 1460, wscale: 20 });
    from(l, a, big.frame('c', TCP_SYN, { options: opts, win: 65535 }));
    from(l, b, big.frame('s', TCP_SYN | TCP_ACK, { options: opts, win: 65535 }));
    [o, r] = ctTcpDirs(entries(l, a, b, 40021)[0]!);
    t.same([o.td_scale, r.td_scale], [14, 14], 'clamped to 14');
    t.equal(from(l, a, big.frame('c', TCP_ACK)).retval, TC_ACT_REDIRECT, 'the handshake completes');
  });

  t.test('retransmissions, reordering, keep-alives and zero-window probes pass; data beyond the window does not', async (t) => {
    const { l, a, b } = await lab(t);
    const s = new TcpSession(a, b, 40007, 80, { sWin: 8000 });
    open(t, l, s);
    const base = s.c.nxt;
    // Three segments, the second delayed behind the third, the first sent twice.
    const seg = (k: number): Buffer => s.frame('c', TCP_ACK | TCP_PSH, { data: 1000, seq: base + 1000 * k });
    t.equal(from(l, a, seg(0)).retval, TC_ACT_REDIRECT, 'segment 1');
    t.equal(from(l, a, seg(2)).retval, TC_ACT_REDIRECT, 'segment 3 before 2 (reordered)');
    t.equal(from(l, a, seg(1)).retval, TC_ACT_REDIRECT, 'segment 2, late');
    t.equal(from(l, a, seg(0)).retval, TC_ACT_REDIRECT, 'segment 1 again (retransmitted)');
    t.equal(from(l, b, s.frame('s', TCP_ACK)).retval, TC_ACT_REDIRECT, 'the ACK of all three');
    t.equal(from(l, a, seg(1)).retval, TC_ACT_REDIRECT, 'a spurious retransmission of acked data');
    // Keep-alives: one byte before SND.NXT, with and without a garbage byte.
    t.equal(from(l, a, s.frame('c', TCP_ACK, { seq: s.c.nxt - 1, advance: false })).retval, TC_ACT_REDIRECT, 'keep-alive');
    t.equal(from(l, a, s.frame('c', TCP_ACK, { seq: s.c.nxt - 1, data: 1, advance: false })).retval, TC_ACT_REDIRECT, 'keep-alive with a byte');
    t.equal(from(l, b, s.frame('s', TCP_ACK)).retval, TC_ACT_REDIRECT, 'its answer');
    // The client fills the server's window (8000 bytes); the server acks it
    // all with a zero window. (The right edge never moves left: a zero window
    // with an older ack would leave the old edge, in Linux too.)
    exchange(t, l, s, 'c', 8000, 0);
    t.equal(from(l, a, s.frame('c', TCP_ACK, { seq: s.c.nxt - 1, advance: false })).retval, TC_ACT_REDIRECT, 'zero-window probe (Linux: an old byte)');
    t.equal(from(l, a, s.frame('c', TCP_ACK, { data: 1, advance: false })).retval, TC_ACT_REDIRECT, 'zero-window probe (one new byte)');
    t.equal(from(l, b, s.frame('s', TCP_ACK, { win: 0 })).retval, TC_ACT_REDIRECT, 'still zero');
    let r = from(l, a, s.frame('c', TCP_ACK | TCP_PSH, { data: 500, seq: s.c.nxt + 10, advance: false }));
    t.equal(r.retval, TC_ACT_SHOT, 'data starting beyond a zero window: dropped');
    t.equal(r.d.DROP_CT_INVALID, 1n, 'CT_INVALID');
    t.equal(from(l, b, s.frame('s', TCP_ACK, { win: 8000 })).retval, TC_ACT_REDIRECT, 'the window reopens');
    exchange(t, l, s, 'c', 7000);
    r = from(l, a, s.frame('c', TCP_ACK | TCP_PSH, { data: 100, seq: s.c.nxt + 8000 + 1, advance: false }));
    t.equal(r.retval, TC_ACT_SHOT, 'data beyond the advertised window: dropped');
    r = from(l, a, s.frame('c', TCP_ACK | TCP_PSH, { data: 100, seq: s.c.nxt - 200000, advance: false }));
    t.equal(r.retval, TC_ACT_SHOT, 'data far behind the window: dropped');
    r = from(l, b, s.frame('s', TCP_ACK, { ack: s.c.nxt + 5000, advance: false }));
    t.equal(r.retval, TC_ACT_SHOT, 'an ACK of data never sent: dropped');
    t.equal(r.d.DROP_CT_INVALID, 1n, 'CT_INVALID');
    exchange(t, l, s, 'c', 100);
    exchange(t, l, s, 's', 100);
  });

  t.test('a segment in IP fragments: the window covers it, the ACK of all of it passes', async (t) => {
    const { l, a, b } = await lab(t);
    const s = new TcpSession(a, b, 40030, 80);
    open(t, l, s);
    const seg = tcp(a.ip, b.ip, 40030, 80, TCP_ACK | TCP_PSH, s.c.nxt, s.c.ack, Buffer.alloc(1000, 0x62), { window: s.c.win });
    t.equal(from(l, a, fragmentFrame({ src: a, dst: b }, IPPROTO_TCP, 0x321, 0, true, seg.subarray(0, 400))).retval, TC_ACT_REDIRECT,
      'the first fragment (header and 380 bytes)');
    t.equal(from(l, a, fragmentFrame({ src: a, dst: b }, IPPROTO_TCP, 0x321, 400, false, seg.subarray(400))).retval, TC_ACT_REDIRECT,
      'the rest');
    s.c.nxt += 1000;
    s.s.ack = s.c.nxt;
    t.equal(from(l, b, s.frame('s', TCP_ACK)).retval, TC_ACT_REDIRECT, 'the ACK of all 1000 bytes');
    exchange(t, l, s, 'c', 100);
  });

  t.test('SACK: blocks acknowledge beyond the ack when permitted, never beyond what was sent', async (t) => {
    const { l, a, b } = await lab(t);
    const s = new TcpSession(a, b, 40008, 80, { sack: true });
    open(t, l, s);
    t.ok(ctTcpDirs(entries(l, a, b, 40008)[0]!).every((d) => d.flags & VNF_CT_TCP_F_SACK_PERM), 'SACK permitted both ways');
    const base = s.c.nxt;
    for (let k = 0; k < 4; k++) from(l, a, s.frame('c', TCP_ACK, { data: 1000, seq: base + 1000 * k }));
    // Segment 2 lost: the server acks 1 and SACKs 3..4.
    let r = from(l, b, s.frame('s', TCP_ACK, { ack: base + 1000, options: tcpOptions({ sack: [[base + 2000, base + 4000]] }), advance: false }));
    t.equal(r.retval, TC_ACT_REDIRECT, 'an ACK with a SACK block over sent data passes');
    r = from(l, b, s.frame('s', TCP_ACK, { ack: base + 1000, options: tcpOptions({ sack: [[base + 2000, base + 90000]] }), advance: false }));
    t.equal(r.retval, TC_ACT_SHOT, 'a SACK block beyond anything sent: dropped');
    t.equal(r.d.DROP_CT_INVALID, 1n, 'CT_INVALID');
    t.equal(from(l, a, s.frame('c', TCP_ACK, { data: 1000, seq: base + 1000 })).retval, TC_ACT_REDIRECT, 'the lost segment, again');
    t.equal(from(l, b, s.frame('s', TCP_ACK)).retval, TC_ACT_REDIRECT, 'the cumulative ACK');
  });

  t.test('a SYN answered by a RST: the entry goes; a RST not answering it is dropped', async (t) => {
    const { l, a, b } = await lab(t);
    const s = new TcpSession(a, b, 40009, 80);
    from(l, a, s.frame('c', TCP_SYN));
    let r = from(l, b, s.frame('s', TCP_RST | TCP_ACK, { seq: 0, ack: s.c.nxt + 5000, advance: false }));
    t.equal(r.retval, TC_ACT_SHOT, 'a RST acking what was never sent: dropped');
    t.same(states(l, a, b, 40009), [CT.SYN_SENT, CT.SYN_SENT], 'SYN_SENT');
    r = from(l, b, s.frame('s', TCP_RST | TCP_ACK, { seq: 0, advance: false }));
    t.equal(r.retval, TC_ACT_REDIRECT, 'the RST answering the SYN (port closed) passes');
    t.same(entries(l, a, b, 40009), [null, null], 'and the entries are gone (Linux: the connection never was)');
  });

  t.test('a retransmitted SYN does not keep an unanswered entry alive', async (t) => {
    const { l, a, b } = await lab(t);
    const s = new TcpSession(a, b, 40010, 80);
    from(l, a, s.frame('c', TCP_SYN));
    const k = flowKey(a, IPPROTO_TCP, a.ip, b.ip, 40010, 80);
    const old = now() - 50n * SEC;
    l.setCt(k, { ...l.ct(k)!, last_seen_ns: old });
    const r = from(l, a, s.frame('c', TCP_SYN, { seq: s.c.nxt - 1 }));
    t.equal(r.retval, TC_ACT_REDIRECT, 'the retransmission passes');
    t.equal(l.ct(k)!.last_seen_ns, old, 'without renewing the timeout');
  });

  t.test('simultaneous open', async (t) => {
    const l = await firewallLab(t, 2); // allow-all policies
    const [a, b] = l.ports as [FwPort, FwPort];
    const s = new TcpSession(a, b, 5000, 6000);
    const k = flowKey(a, IPPROTO_TCP, a.ip, b.ip, 5000, 6000);
    from(l, a, s.frame('c', TCP_SYN));
    t.equal(from(l, b, s.frame('s', TCP_SYN)).retval, TC_ACT_REDIRECT, "b's SYN crosses a's");
    t.equal(l.ct(k)?.state, CT.SYN_SENT2, 'SYN_SENT2');
    t.equal(from(l, a, s.frame('c', TCP_SYN | TCP_ACK, { seq: s.c.nxt - 1 })).retval, TC_ACT_REDIRECT, "a's SYN/ACK");
    t.equal(l.ct(k)?.state, CT.SYN_RECV, 'SYN_RECV');
    t.equal(from(l, b, s.frame('s', TCP_SYN | TCP_ACK, { seq: s.s.nxt - 1 })).retval, TC_ACT_REDIRECT, "b's SYN/ACK");
    t.equal(from(l, a, s.frame('c', TCP_ACK)).retval, TC_ACT_REDIRECT, "a's ACK");
    t.equal(l.ct(k)?.state, CT.ESTABLISHED, 'ESTABLISHED');
    exchange(t, l, s, 'c', 100);
    exchange(t, l, s, 's', 100);
  });
}
