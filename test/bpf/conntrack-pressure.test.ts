/**
 * Connection tracking under pressure (bpf/include/vnf/ct_table.h, ct_gc.h), at packet level
 * through the real chains: a flood of new connections from one port must not cost other ports
 * their established connections; what a port may hold is bounded by its quotas (new flows beyond
 * them are dropped and counted as CT_FULL); a full table early-drops only unprotected entries;
 * the kernel's own collector reclaims expired entries with no process running, keeps doing so
 * across an upgrade of the firewall program and stops when the topology's pins go; the per-port
 * counts stay exact whoever removes entries.
 *
 * Ports: a (client) and b (server) hold the connections that must survive; c floods, towards d
 * (or b). A packet from port x to port y creates an entry in zone x (x's egress policy) and in
 * zone y (y's ingress policy).
 */
import t, { type Test } from 'tap';
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { BpfObject } from '../../src/bpf/object.js';
import { BPF_ANY } from '../../src/bpf/map.js';
import { u32 } from '../../src/codec/struct.js';
import { IPPROTO_TCP, IPPROTO_UDP, TCP_ACK, TCP_PSH, TCP_RST, TCP_SYN } from '../helpers/packets.js';
import {
  CT, delta, direction, firewallLab, flowKey, TC_ACT_REDIRECT, TC_ACT_SHOT, TcpSession, udpFrame, VNF_DIR_RX, VNF_DIR_TX, VNF_ID_FIREWALL,
  type FwLab, type FwPort,
} from '../helpers/firewall-dp.js';
import {
  CT_STATS, ctEntryCodec, ctKeyCodec, ctSlotCodec, ctTcpDirs, ctZoneCodec, slotState, VNF_CT_CLASS_ASSURED, VNF_CT_CLASS_NEW,
  VNF_CT_F_ASSURED, VNF_CT_F_PROTECTED, VNF_CT_MAX, VNF_CT_SLOT_USED, type CtEntry, type CtZone,
} from '../../src/vnf/conntrack/codec.js';
import { vnfObject } from '../helpers/paths.js';
import { requirePrivileges } from '../helpers/privilege.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A UDP frame whose source and destination ports are patched per flow (UDP checksum 0: none). */
class Flows {
  private readonly tpl: Buffer;
  constructor(private readonly l: FwLab, readonly from: FwPort, readonly to: FwPort) {
    this.tpl = udpFrame({ src: from, dst: to }, 1, 1, Buffer.alloc(18));
    this.tpl.writeUInt16BE(0, 40);
  }

  frame(i: number): Buffer {
    const f = Buffer.from(this.tpl);
    f.writeUInt16BE(1024 + (i % 60000), 34);
    f.writeUInt16BE(2000 + Math.floor(i / 60000), 36);
    return f;
  }

  /** Flow i's reply (to -> from). */
  reply(i: number): Buffer {
    const f = udpFrame({ src: this.to, dst: this.from }, 2000 + Math.floor(i / 60000), 1024 + (i % 60000), Buffer.alloc(18));
    f.writeUInt16BE(0, 40);
    return f;
  }

  key(zone: FwPort, i: number) {
    return flowKey(zone, IPPROTO_UDP, this.from.ip, this.to.ip, 1024 + (i % 60000), 2000 + Math.floor(i / 60000));
  }

  /** Runs flows [start, start + n) from `from`, `packets` datagrams each; returns how many flows were delivered. */
  run(start: number, n: number, packets = 1): number {
    let ok = 0;
    for (let i = start; i < start + n; i++) {
      const f = this.frame(i);
      if (this.l.runFrom(this.from, f).retval === TC_ACT_REDIRECT) ok++;
      for (let p = 1; p < packets; p++) this.l.runFrom(this.from, f);
    }
    return ok;
  }
}

function zone(l: FwLab, p: FwPort): CtZone | null {
  const v = l.dp.map('vnf_ct_zone').lookup(u32(p.ifindex));
  return v ? ctZoneCodec.decode(v) : null;
}

function ctStat(l: FwLab, name: string): bigint {
  const m = l.dp.map('vnf_ct_stats');
  const v = m.lookup(u32(CT_STATS.indexOf(name)));
  if (!v) return 0n;
  let n = 0n;
  for (let off = 0; off + 8 <= v.length; off += 8) n += v.readBigUInt64LE(off);
  return n;
}

/** Entries of vnf_ct per zone, and USED slots per zone and class. */
function census(l: FwLab): { entries: Map<number, number>; slots: Map<string, number>; total: number } {
  const entries = new Map<number, number>();
  let total = 0;
  for (const [k] of l.dp.map('vnf_ct').entries()) {
    const z = k.readUInt32LE(0);
    entries.set(z, (entries.get(z) ?? 0) + 1);
    total++;
  }
  const slots = new Map<string, number>();
  for (const [, v] of l.dp.map('vnf_ct_slots').entries()) {
    const s = ctSlotCodec.decode(v);
    const st = slotState(s.st);
    if (st.state !== VNF_CT_SLOT_USED) continue;
    const id = `${ctKeyCodec.decode(s.key).zone}/${st.cls}`;
    slots.set(id, (slots.get(id) ?? 0) + 1);
  }
  return { entries, slots, total };
}

/** Polls until `f` holds (or the deadline passes); returns whether it did. */
async function eventually(f: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (f()) return true;
    await sleep(100);
  }
  return f();
}

function progExists(id: number): boolean {
  return spawnSync('bpftool', ['prog', 'show', 'id', String(id)], { stdio: 'ignore' }).status === 0;
}

/** The three-way handshake and a little data; asserts every segment passes. */
function openTcp(t: Test, l: FwLab, s: TcpSession): void {
  const [a, b] = [s.c.port, s.s.port];
  for (const [p, f] of [[a, s.frame('c', TCP_SYN)], [b, s.frame('s', TCP_SYN | TCP_ACK)], [a, s.frame('c', TCP_ACK)],
    [a, s.frame('c', TCP_ACK | TCP_PSH, { data: 100 })], [b, s.frame('s', TCP_ACK | TCP_PSH, { data: 300 })]] as const) {
    if (l.runFrom(p, f).retval !== TC_ACT_REDIRECT) t.fail('a segment of the connection was dropped');
  }
}

async function lab(t: Test, n = 4): Promise<{ l: FwLab; a: FwPort; b: FwPort; c: FwPort; d: FwPort }> {
  const l = await firewallLab(t, n);
  const [a, b, c, d] = l.ports as [FwPort, FwPort, FwPort, FwPort];
  // Open egress everywhere; ingress open too (c's flood is allowed traffic: the point is its volume).
  for (const p of l.ports) {
    l.bind(p, VNF_DIR_RX, direction('allow'), 'open-out');
    l.bind(p, VNF_DIR_TX, direction('allow'), 'open-in');
  }
  return { l, a, b, c, d };
}

if (requirePrivileges(t)) {
  t.test('an established connection survives 300,000 new flows from another port; the flood beyond quota is dropped as CT_FULL', async (t) => {
    const { l, a, b, c, d: other } = await lab(t, 4);
    const s = new TcpSession(a, b, 41000, 80);
    openTcp(t, l, s);
    const ka = flowKey(a, IPPROTO_TCP, a.ip, b.ip, 41000, 80);
    const kb = flowKey(b, IPPROTO_TCP, a.ip, b.ip, 41000, 80);
    t.equal(l.ct(ka)?.state, CT.ESTABLISHED, 'established');

    // The flood goes through the server's port (b's ingress), as the connection does: 300,000
    // flows of two datagrams each (an LRU keeps single-packet flows apart from referenced
    // entries; flows that are used again compete with the connection's entries).
    const flood = new Flows(l, c, b);
    const N = 300_000;
    let delivered = 0;
    const d = delta(l, () => (delivered = flood.run(0, N, 2)));
    // The connection goes on, in both directions, as ESTABLISHED.
    let r = delta(l, () => t.equal(l.runFrom(a, s.frame('c', TCP_ACK | TCP_PSH, { data: 50 })).retval, TC_ACT_REDIRECT, "the client's next segment is delivered"));
    t.equal(r.FW_ESTABLISHED, 2n, 'as ESTABLISHED in both zones');
    r = delta(l, () => t.equal(l.runFrom(b, s.frame('s', TCP_ACK)).retval, TC_ACT_REDIRECT, "the server's answer is delivered"));
    t.equal(r.FW_REPLY, 2n, 'as REPLY in both zones');

    const max = 32768; // the default quota of unassured entries per port
    t.equal(delivered, max, `${max} flows tracked (the default quota of new connections per port), the rest refused`);
    t.equal(d.DROP_CT_FULL, BigInt(2 * (N - max)), `${N - max} new flows dropped as CT_FULL (both datagrams of each)`);
    t.equal(zone(l, c)?.unassured, BigInt(max), "c's zone counts its quota exactly");
    t.ok(ctStat(l, 'new-quota') >= BigInt(N - max), 'counted as refused by the quota');
    for (const k of [ka, kb]) {
      const e = l.ct(k)!;
      t.equal(e.flags & (VNF_CT_F_ASSURED | VNF_CT_F_PROTECTED), VNF_CT_F_ASSURED | VNF_CT_F_PROTECTED, `zone ${k.zone}: ASSURED and PROTECTED`);
    }
    // a can still open connections (its own quota is untouched)...
    t.equal(new Flows(l, a, other).run(0, 10), 10, 'the client opens new flows to another port');
    // ...but not to b, whose zone c's flood filled: that is b's quota, not the table.
    t.equal(l.runFrom(a, udpFrame({ src: a, dst: b }, 5000, 53)).retval, TC_ACT_SHOT, "a new flow into b's full zone is refused");
  });

  t.test('per-port quotas: one port cannot take more than its share, new or protected', async (t) => {
    const { l, a, b, c, d } = await lab(t);
    l.setConntrack({ maxNewPerPort: 1000, maxPerPort: 50 });
    const flood = new Flows(l, c, d);
    let n = 0;
    const dd = delta(l, () => (n = flood.run(0, 3000)));
    t.equal(n, 1000, '1000 of 3000 new flows from c pass');
    t.equal(dd.DROP_CT_FULL, 2000n, '2000 dropped as CT_FULL');
    t.equal(dd.CT_NEW, 2000n, '1000 entries in each of zones c and d');
    // 200 of them are answered: ASSURED, but only 50 per zone may be protected.
    for (let i = 0; i < 200; i++) l.runFrom(d, flood.reply(i));
    const zc = zone(l, c)!;
    t.same([zc.assured, zc.unassured], [50n, 950n], "c's zone: 50 protected (its quota), 950 others");
    const zd = zone(l, d)!;
    t.same([zd.assured, zd.unassured], [50n, 950n], "d's zone too (the replies of its ingress connections)");
    let assured = 0, prot = 0;
    for (const [k, e] of l.ctEntries()) {
      if (k.zone !== c.ifindex) continue;
      if (e.flags & VNF_CT_F_ASSURED) assured++;
      if (e.flags & VNF_CT_F_PROTECTED) prot++;
    }
    t.same([assured, prot], [200, 50], 'all 200 replied flows are ASSURED, 50 PROTECTED');
    t.ok(ctStat(l, 'assured-quota') >= 300n, 'the others were refused a place (counted)');
    const cen = census(l);
    t.equal(cen.entries.get(c.ifindex), 1000, 'c holds 1000 entries, its quota');
    t.same([cen.slots.get(`${c.ifindex}/${VNF_CT_CLASS_ASSURED}`), cen.slots.get(`${c.ifindex}/${VNF_CT_CLASS_NEW}`)], [50, 950],
      "the index agrees with c's counters");
    // Other ports are unaffected: a and b open and establish connections freely.
    t.equal(new Flows(l, a, b).run(0, 800), 800, 'a opens 800 flows to b');
    const s = new TcpSession(a, b, 42000, 80);
    openTcp(t, l, s);
    t.equal(l.ct(flowKey(a, IPPROTO_TCP, a.ip, b.ip, 42000, 80))!.flags & VNF_CT_F_PROTECTED, VNF_CT_F_PROTECTED, "a's connection is protected");
    // A protected entry leaving frees its place: c's next answered flow is protected.
    const first = l.ctEntries().find(([k, e]) => k.zone === c.ifindex && (e.flags & VNF_CT_F_PROTECTED))!;
    l.setCt(first[0], { ...first[1], last_seen_ns: process.hrtime.bigint() - 200_000_000_000n }); // older than UDP's 120 s
    const idx = first[0].sport - 1024;
    l.runFrom(c, flood.frame(idx)); // finds it expired: removed (and opened anew as a new flow)
    t.equal(zone(l, c)!.assured, 49n, 'the expired protected entry gave its place back');
    l.runFrom(d, flood.reply(199));
    l.runFrom(d, flood.reply(idx));
    t.equal(zone(l, c)!.assured, 50n, 'and a waiting ASSURED entry took it with its next packet');
  });

  t.test('a full table early-drops only unprotected entries; ASSURED (PROTECTED) is what keeps one', async (t) => {
    const { l, a, b, c, d } = await lab(t);
    l.setConntrack({ maxNewPerPort: VNF_CT_MAX, maxPerPort: VNF_CT_MAX }); // quotas out of the way: the table is the limit
    const s = new TcpSession(a, b, 43000, 80);
    openTcp(t, l, s);
    const by = new Flows(l, a, b);
    t.equal(by.run(0, 400), 400, 'the bystander opens 400 UDP flows');
    for (let i = 0; i < 100; i++) l.runFrom(b, by.reply(i)); // 100 answered: protected; 300 not
    const protectedBefore = l.ctEntries().filter(([, e]) => e.flags & VNF_CT_F_PROTECTED).map(([k]) => ctKeyCodec.encode(k).toString('hex'));
    t.equal(protectedBefore.length, 2 * 101, 'protected: the TCP connection and 100 UDP flows, in both zones');

    const flood = new Flows(l, c, d);
    const N = 140_000; // 280,000 entries wanted, more than the table holds
    let n = 0;
    const dd = delta(l, () => (n = flood.run(0, N)));
    const early = ctStat(l, 'early-drop');
    t.ok(early > 10_000n, `the full table early-dropped ${early} unprotected entries to admit new ones`);
    t.equal(n, N, `every new flow got in (an unprotected entry made room): ${JSON.stringify({ n, full: String(dd.DROP_CT_FULL), st: CT_STATS.map((x) => `${x}=${ctStat(l, x)}`) })}`);
    t.notOk(dd.DROP_CT_FULL, 'none refused');
    const cen = census(l);
    t.ok(cen.total <= VNF_CT_MAX, `the table holds ${cen.total} entries, at most its size`);
    const have = new Set(l.dp.map('vnf_ct').keys().map((k) => k.toString('hex')));
    t.same(protectedBefore.filter((k) => !have.has(k)), [], 'no protected entry was dropped');
    let lost = 0;
    for (let i = 100; i < 400; i++) if (!l.ct(by.key(a, i))) lost++;
    t.ok(lost > 0 && lost < 300, `unprotected bystander entries are fair game: ${lost} of 300 early-dropped`);
    let r = delta(l, () => t.equal(l.runFrom(a, s.frame('c', TCP_ACK | TCP_PSH, { data: 10 })).retval, TC_ACT_REDIRECT, 'the TCP connection goes on'));
    t.equal(r.FW_ESTABLISHED, 2n, 'ESTABLISHED in both zones');
    r = delta(l, () => l.runFrom(a, by.frame(7)));
    t.equal(r.FW_ESTABLISHED, 2n, 'a protected UDP flow goes on as ESTABLISHED');
    // Per-zone counters still match the index after 130,000 early drops.
    const zc = zone(l, c)!, zd = zone(l, d)!;
    t.equal(Number(zc.unassured), cen.slots.get(`${c.ifindex}/${VNF_CT_CLASS_NEW}`), "c's counter matches its slots");
    t.equal(Number(zd.unassured), cen.slots.get(`${d.ifindex}/${VNF_CT_CLASS_NEW}`), "d's counter matches its slots");
  });

  t.test('a table full of entries nothing may early-drop refuses new flows as CT_FULL', async (t) => {
    const { l, a, b } = await lab(t, 2);
    l.setConntrack({ maxNewPerPort: VNF_CT_MAX, maxPerPort: VNF_CT_MAX });
    // Fill the table from user space with protected entries of another zone (no index slots: nothing to pick a victim from).
    const e: CtEntry = { ...ctEntryCodec.decode(Buffer.alloc(ctEntryCodec.size)), state: CT.UDP_REPLIED, flags: VNF_CT_F_ASSURED | VNF_CT_F_PROTECTED, last_seen_ns: process.hrtime.bigint() };
    const v = ctEntryCodec.encode(e);
    const fill: Array<[Buffer, Buffer]> = [];
    for (let i = 0; i < VNF_CT_MAX; i++) fill.push([ctKeyCodec.encode({ zone: 999_999, saddr: i, daddr: 1, sport: 1, dport: 1, proto: 17 }), v]);
    l.dp.map('vnf_ct').updateMany(fill, BPF_ANY);
    const r = delta(l, () => t.equal(l.runFrom(a, udpFrame({ src: a, dst: b }, 5000, 53)).retval, TC_ACT_SHOT, 'a new flow is dropped'));
    t.equal(r.DROP_CT_FULL, 1n, 'as CT_FULL');
    t.ok(ctStat(l, 'full') >= 1n, 'counted: table full, nothing to early-drop');
    t.same(zone(l, a), { assured: 0n, unassured: 0n, gen: zone(l, a)!.gen }, 'and it took no place in its zone');
  });

  t.test('the collector reclaims expired entries with no packet and no process; counts and slots go back to zero', async (t) => {
    const { l, a, b, c, d } = await lab(t);
    l.setConntrack({ gcIntervalMs: 1, timeouts: { udp: 6, udpStream: 6, tcpEstablished: 6 } });
    const s = new TcpSession(a, b, 44000, 80);
    openTcp(t, l, s);
    const flows = new Flows(l, c, d);
    let n = 0;
    for (let i = 0; i < 3000; i++) {
      if (l.runFrom(c, flows.frame(i)).retval === TC_ACT_REDIRECT) n++;
      if (i < 500) l.runFrom(d, flows.reply(i)); // 500 answered at once: protected
    }
    t.equal(n, 3000, '3000 UDP flows');
    t.same(zone(l, c), { ...zone(l, c)!, assured: 500n, unassured: 2500n }, "c's zone: 500 protected, 2500 others");
    t.equal(l.dp.map('vnf_ct').keys().length, 2 * 3001, 'tracked: 3001 connections in two zones each');
    const gone = await eventually(() => l.dp.map('vnf_ct').keys().length === 0, 25_000);
    t.ok(gone, 'every entry expired and was removed, without a packet to find it');
    t.equal(ctStat(l, 'gc-expired'), 6002n, 'by the collector (6002 removals counted)');
    for (const p of [a, b, c, d]) {
      const z = zone(l, p)!;
      t.same([z.assured, z.unassured], [0n, 0n], `zone ${p.name}: counts back to zero`);
    }
    t.equal(census(l).slots.size, 0, 'every index slot released');
    const g = l.dp.map('vnf_ct_gc').lookup(u32(0))!;
    t.ok(g.readBigUInt64LE(32) >= 1n, 'the collector walked the whole index at least once');
  });

  t.test('becoming protected keeps the TCP window state and counters; a connection beyond the quota is still checked as strictly', async (t) => {
    const { l, a, b } = await lab(t, 2);
    l.setConntrack({ maxPerPort: 1 });
    const s = new TcpSession(a, b, 45000, 80, { cWscale: 7, sWscale: 7, sack: true });
    const ka = flowKey(a, IPPROTO_TCP, a.ip, b.ip, 45000, 80);
    l.runFrom(a, s.frame('c', TCP_SYN));
    l.runFrom(b, s.frame('s', TCP_SYN | TCP_ACK));
    const before = l.ct(ka)!;
    t.equal(before.state, CT.SYN_RECV, 'SYN_RECV');
    t.equal(before.flags & VNF_CT_F_PROTECTED, 0, 'not protected yet');
    t.same([zone(l, a)!.assured, zone(l, a)!.unassured], [0n, 1n], 'counted as unassured');
    l.runFrom(a, s.frame('c', TCP_ACK));
    const after = l.ct(ka)!;
    t.equal(after.state, CT.ESTABLISHED, 'ESTABLISHED');
    t.equal(after.flags & (VNF_CT_F_ASSURED | VNF_CT_F_PROTECTED), VNF_CT_F_ASSURED | VNF_CT_F_PROTECTED, 'ASSURED and PROTECTED');
    t.same([zone(l, a)!.assured, zone(l, a)!.unassured], [1n, 0n], 'moved to the assured count');
    t.equal(after.created_ns, before.created_ns, 'the same entry (created at the same time)');
    t.same([after.packets_orig, after.packets_reply], [before.packets_orig + 1n, before.packets_reply], 'counters carried on');
    t.equal(after.bytes_orig, before.bytes_orig + 54n, 'bytes too');
    const [o0, r0] = ctTcpDirs(before);
    const [o1, r1] = ctTcpDirs(after);
    t.same([o1.td_scale, r1.td_scale, o1.flags & 3, r1.flags & 3], [o0.td_scale, r0.td_scale, o0.flags & 3, r0.flags & 3], 'window scaling and SACK kept');
    t.equal(r1.td_maxwin, r0.td_maxwin, "the server's window kept");
    t.equal(o1.td_end, o0.td_end, "the client's sequence kept (a bare ACK adds nothing)");
    // The server's first scaled window, then 100 bytes 100,000 bytes ahead: inside the scaled
    // window (65160 << 7), beyond an unscaled one.
    t.equal(l.runFrom(b, s.frame('s', TCP_ACK)).retval, TC_ACT_REDIRECT, "the server's ACK");
    t.equal(l.runFrom(a, s.frame('c', TCP_ACK | TCP_PSH, { seq: s.c.nxt + 100_000, data: 100, advance: false })).retval, TC_ACT_REDIRECT,
      'a segment 100,000 bytes ahead passes: the scaled window was kept');

    // A second connection: ASSURED, but the quota (1) is taken: not protected, still checked as strictly.
    const s2 = new TcpSession(a, b, 45001, 80);
    openTcp(t, l, s2);
    const e2 = l.ct(flowKey(a, IPPROTO_TCP, a.ip, b.ip, 45001, 80))!;
    t.equal(e2.flags & (VNF_CT_F_ASSURED | VNF_CT_F_PROTECTED), VNF_CT_F_ASSURED, 'ASSURED, not PROTECTED');
    const forged = s2.frame('s', TCP_RST | TCP_ACK, { seq: s2.s.nxt + 1000, advance: false });
    const r = delta(l, () => t.equal(l.runFrom(b, forged).retval, TC_ACT_REDIRECT, 'an inexact in-window RST passes (RFC 5961: the endpoint challenges it)'));
    t.notOk(r.DROP_CT_INVALID, 'not invalid');
    t.equal(l.ct(flowKey(a, IPPROTO_TCP, a.ip, b.ip, 45001, 80))!.state, CT.ESTABLISHED, 'and it does not close the connection: the RST rules of an ASSURED connection apply');
  });

  t.test('the collector keeps running across an upgrade of the firewall program, and stops with the topology', async (t) => {
    const { l, a, b } = await lab(t, 2);
    l.setConntrack({ gcIntervalMs: 1, timeouts: { udp: 1 } });
    const oldFw = l.dp.objects.get('firewall')!;
    const entries = (): number => newCt().keys().length;
    let newCt = () => oldFw.map('vnf_ct');
    const oldId = oldFw.program('vnf_firewall').info().id;
    t.equal(new Flows(l, a, b).run(0, 100), 100, 'the old program tracks 100 flows (and arms the collector)');

    // A new build replaces the slot, and the old object is closed (its pins go, as apply does).
    const newFw = await BpfObject.load(vnfObject('firewall'), { pinRoot: l.dp.pinRoot });
    t.teardown(() => newFw.close());
    const newId = newFw.program('vnf_firewall').info().id;
    newCt = () => newFw.map('vnf_ct');
    l.dp.map('vnf_progs').update(u32(VNF_ID_FIREWALL), u32(newFw.program('vnf_firewall').fd));
    oldFw.close();
    await sleep(500);
    t.ok(progExists(oldId), 'the old program lives on while the collector is its: the timer holds it');
    t.ok(await eventually(() => entries() === 0, 10_000), 'and it goes on collecting: the 100 flows expired and went');

    // The new program's first new connection takes the collector over; the old program is freed.
    t.equal(new Flows(l, a, b).run(1000, 100), 100, 'the new program tracks 100 flows');
    t.ok(await eventually(() => !progExists(oldId), 10_000), 'the old program is gone: the timer let it go');
    t.ok(await eventually(() => entries() === 0, 10_000), 'the new program collects: those expired and went too');

    // Destroying the topology (every pin removed, every handle closed) stops the collector.
    newFw.close();
    l.dp.close();
    rmSync(l.dp.pinRoot, { recursive: true, force: true });
    t.ok(await eventually(() => !progExists(newId), 10_000), 'with the pins gone the timer is freed, and the program it held with it');
  });

  t.test('counts stay exact when user space removes entries and counters (a flush) under traffic', async (t) => {
    const { l, a, b } = await lab(t, 2);
    l.setConntrack({ maxNewPerPort: 500, gcIntervalMs: 1 });
    const flows = new Flows(l, a, b);
    t.equal(flows.run(0, 600), 500, "a's 500 new flows pass, then its quota is full");
    // The flush of `vnf-ctl conntrack --flush`: every entry, then every counter.
    const ct = l.dp.map('vnf_ct');
    ct.deleteMany(ct.keys());
    const zm = l.dp.map('vnf_ct_zone');
    zm.deleteMany(zm.keys());
    t.equal(flows.run(1000, 600), 500, 'after the flush the quota is whole again at once: 500 pass');
    t.same([zone(l, a)!.unassured, zone(l, b)!.unassured], [500n, 500n], 'counted afresh');
    // The slots of the flushed entries go back to the index with the collector; counts unmoved.
    t.ok(await eventually(() => ctStat(l, 'gc-stale') >= 1000n, 10_000), 'the collector released the 1000 slots the flush left behind');
    t.same([zone(l, a)!.unassured, zone(l, b)!.unassured], [500n, 500n], 'without uncounting them from the new counters');
    let cen = census(l);
    t.same([cen.total, cen.slots.get(`${a.ifindex}/${VNF_CT_CLASS_NEW}`), cen.slots.get(`${b.ifindex}/${VNF_CT_CLASS_NEW}`)], [1000, 500, 500],
      'entries and slots agree: 500 per zone');

    // Counters removed while their entries live on (a flush racing new connections): recounted.
    zm.deleteMany([u32(a.ifindex), u32(b.ifindex)]);
    t.equal(flows.run(2000, 1), 1, 'a new flow creates new counters for a and b');
    t.ok(await eventually(() => zone(l, a)?.unassured === 501n && zone(l, b)?.unassured === 501n, 10_000),
      'the collector recounts the 500 surviving slots of each in them: 501');
    t.ok(ctStat(l, 'gc-adopted') >= 1000n, 'counted as adopted');
    // Entries removed one by one from user space (e.g. a test, or a sweep) are uncounted by the collector.
    for (let i = 1000; i < 1100; i++) ct.delete(ctKeyCodec.encode(flows.key(a, i)));
    t.ok(await eventually(() => zone(l, a)?.unassured === 401n, 10_000), 'removing 100 of them from user space brings it to 401');
    cen = census(l);
    t.equal(cen.entries.get(a.ifindex), 401, 'which is what the table holds');
  });
}
