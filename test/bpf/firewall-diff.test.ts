/**
 * The kernel classifier against the reference first-match scan
 * (src/vnf/firewall/reference.ts), packet by packet: random rule sets of 10,
 * 1,000 and 100,000 rules (test/helpers/fw-gen.ts), 10,000 random packets
 * each, sent as real frames from port a through its egress policy. For every
 * packet the rule the kernel matched is read from its counter (each rule is
 * given a counter id of its own here, index + 1) and the verdict from what
 * came out: allow -> passed on (delivered, bytes unchanged), drop -> SHOT,
 * reject -> the RST / ICMP port unreachable. ICMP errors are never classified
 * (they are related to a connection or invalid) and are checked as such.
 *
 * Also reports (comments, no assertions): the time to load the rule sets and
 * BPF_PROG_TEST_RUN ns/packet of the firewall for a packet of a tracked flow
 * and for a new connection that hits the default after visiting every shape.
 */
import t, { type Test } from 'tap';
import { BpfObject } from '../../src/bpf/object.js';
import { u32 } from '../../src/codec/struct.js';
import { ctKeyCodec } from '../../src/vnf/conntrack/codec.js';
import { compileRuleSet, type CompiledRuleSet } from '../../src/vnf/firewall/classifier.js';
import { referenceClassify, ruleMatches } from '../../src/vnf/firewall/reference.js';
import type { FwPacket } from '../../src/vnf/firewall/packet.js';
import type { FirewallDirection } from '../../src/vnf/firewall/model.js';
import { randomDirection, randomPackets, randomRules } from '../helpers/fw-gen.js';
import {
  direction, firewallLab, icmpMsg, NET, TC_ACT_REDIRECT, TC_ACT_SHOT, VNF_DIR_RX, VNF_ID_FIREWALL, type FwLab, type FwPort,
} from '../helpers/firewall-dp.js';
import { eth, ETH_P_IP, ip4str, IPPROTO_ICMP, IPPROTO_TCP, IPPROTO_UDP, ipv4, tcp, udp, icmpEcho, TCP_SYN } from '../helpers/packets.js';
import { vnfObject } from '../helpers/paths.js';
import { requirePrivileges } from '../helpers/privilege.js';

const DEFAULT_COUNTER = 0x7ffffff0;
const ICMP_ERRORS = new Set([3, 4, 5, 11, 12]);

/** Counter ids of pass `k`: a counter per rule index and one for the default, distinct from other passes'. */
const counterOf = (k: number, rule: number): number => (rule >= 0 ? k * 1_000_000 + rule + 1 : DEFAULT_COUNTER + k);

/** The compiled set with those counters. */
function uniqueCounters(c: CompiledRuleSet, k: number): CompiledRuleSet {
  return {
    ...c,
    rules: c.rules.map((r) => ({ ...r, counter: counterOf(k, r.index) })),
    set: { ...c.set, default_counter: counterOf(k, -1) },
    defaultCounter: counterOf(k, -1),
  };
}

/** A real frame for a classifier packet, from a's container to b's MAC. */
function frameOf(p: FwPacket, a: FwPort, b: FwPort, i: number): Buffer {
  const src = ip4str(p.saddr);
  const dst = ip4str(p.daddr);
  let l4: Buffer;
  if (p.proto === IPPROTO_TCP) l4 = tcp(src, dst, p.sport, p.dport, TCP_SYN, i);
  else if (p.proto === IPPROTO_UDP) l4 = udp(src, dst, p.sport, p.dport, Buffer.from('diff'));
  else if (p.proto === IPPROTO_ICMP) {
    if (p.dport === 8 || p.dport === 0) l4 = icmpEcho(p.dport, i & 0xffff, 1);
    else if (ICMP_ERRORS.has(p.dport)) {
      // Quotes a datagram nobody sent: never related.
      const inner = ipv4({ src: dst, dst: src, proto: IPPROTO_UDP, id: i & 0xffff }, udp(dst, src, 1000 + (i % 5000), 53, Buffer.alloc(8)));
      l4 = icmpMsg(p.dport, 0, inner.subarray(0, 28));
    } else l4 = icmpMsg(p.dport, 0, Buffer.alloc(16));
  } else l4 = Buffer.alloc(16, 0x47);
  return eth(b.mac, a.mac, ETH_P_IP, ipv4({ src, dst, proto: p.proto, id: i & 0xffff }, l4));
}

interface DiffResult {
  disagreements: string[];
  classified: number;
  matchedRule: number;
  byAction: Record<string, number>;
  icmpErrors: number;
}

function runDiff(l: FwLab, wants: ReadonlyArray<ReturnType<typeof referenceClassify>>, packets: FwPacket[], k: number): DiffResult {
  const [a, b] = l.ports as [FwPort, FwPort];
  const expectCount = new Map<number, bigint>();
  const out: DiffResult = { disagreements: [], classified: 0, matchedRule: 0, byAction: { allow: 0, drop: 0, reject: 0 }, icmpErrors: 0 };
  const bad = (i: number, p: FwPacket, msg: string) => {
    if (out.disagreements.length < 20) out.disagreements.push(`#${i} ${JSON.stringify({ ...p, saddr: ip4str(p.saddr), daddr: ip4str(p.daddr) })}: ${msg}`);
    else out.disagreements.push('');
  };
  packets.forEach((p, i) => {
    const frame = frameOf(p, a, b, i);
    const r = l.runFrom(a, frame);
    if (p.proto === IPPROTO_ICMP && ICMP_ERRORS.has(p.dport)) {
      out.icmpErrors++;
      if (r.retval !== TC_ACT_SHOT) bad(i, p, `unrelated ICMP error: retval ${r.retval}, want SHOT`);
      return;
    }
    out.classified++;
    const want = wants[i]!;
    if (want.rule >= 0) out.matchedRule++;
    out.byAction[want.action]!++;
    const counter = counterOf(k, want.rule);
    const n = (expectCount.get(counter) ?? 0n) + 1n;
    expectCount.set(counter, n);
    const got = l.ruleCounter(counter).packets;
    if (got !== n) bad(i, p, `want rule ${want.rule} (${want.action}): its counter is ${got}, want ${n}`);
    if (want.action === 'allow') {
      if (r.retval !== TC_ACT_REDIRECT || !r.data.equals(frame)) bad(i, p, `allow: retval ${r.retval}, bytes ${r.data.equals(frame) ? 'same' : 'changed'}`);
      // The next packet with this tuple must be classified again: its
      // entries (zone a and zone b) go. By key: iterating the 262,144
      // buckets of vnf_ct costs far more than the test run.
      const echo = p.proto === IPPROTO_ICMP && p.dport === 8;
      if (p.proto !== IPPROTO_ICMP || echo) {
        const sport = p.proto === IPPROTO_TCP || p.proto === IPPROTO_UDP ? p.sport : echo ? i & 0xffff : 0;
        const dport = p.proto === IPPROTO_TCP || p.proto === IPPROTO_UDP ? p.dport : 0;
        for (const zone of [a, b]) {
          if (!l.dp.map('vnf_ct').delete(ctKeyCodec.encode({ zone: zone.ifindex, saddr: p.saddr, daddr: p.daddr, sport, dport, proto: p.proto }))) {
            bad(i, p, `allow: no conntrack entry in zone ${zone.name}`);
          }
        }
      }
    } else if (want.action === 'drop') {
      if (r.retval !== TC_ACT_SHOT) bad(i, p, `drop: retval ${r.retval}`);
    } else {
      const o = r.data;
      const isRst = p.proto === IPPROTO_TCP && o.length >= 54 && o[23] === IPPROTO_TCP && (o[34 + 13]! & 0x04) !== 0;
      const isUnreach = p.proto !== IPPROTO_TCP && o.length > 42 && o[23] === IPPROTO_ICMP && o[34] === 3 && o[35] === 3;
      if (r.retval !== TC_ACT_REDIRECT || !(isRst || isUnreach)) bad(i, p, `reject: retval ${r.retval}, answer ${o.subarray(14, 40).toString('hex')}`);
    }
  });
  return out;
}

/**
 * One pass: the rule set compiled with counters of pass `k`, bound as a's
 * egress policy, 10,000 packets, then the totals.
 */
function diffPass(t: Test, l: FwLab, d: FirewallDirection, k: number, what: string, seed: number): DiffResult {
  const a = l.ports[0]!;
  const n = d.rules.length;
  const t0 = process.hrtime.bigint();
  const c = uniqueCounters(compileRuleSet('diff', 'egress', d), k);
  const t1 = process.hrtime.bigint();
  l.writeRuleSet(c);
  const t2 = process.hrtime.bigint();
  l.bindId(a, VNF_DIR_RX, c.id);
  l.clearCt();
  t.comment(`${what}: compile ${(Number(t1 - t0) / 1e6).toFixed(1)} ms, load into the maps ${(Number(t2 - t1) / 1e6).toFixed(1)} ms ` +
    `(${c.cls.length} classifier entries, ${c.ports.length} port prefixes, ${c.rules.length} rules, shapes per class ${c.set.ntuples.join('/')})`);
  const packets = randomPackets(d.rules, 10_000, seed);
  const tr = process.hrtime.bigint();
  const wants = packets.map((p) => referenceClassify(d, p));
  const before = l.stats();
  const t3 = process.hrtime.bigint();
  const res = runDiff(l, wants, packets, k);
  const t4 = process.hrtime.bigint();
  const after = l.stats();
  t.comment(`${what}: reference scan ${(Number(t3 - tr) / 1e6).toFixed(0)} ms; ${packets.length} packets through the kernel in ${(Number(t4 - t3) / 1e6).toFixed(0)} ms; ${res.classified} classified ` +
    `(${res.matchedRule} by a rule; allow ${res.byAction.allow}, drop ${res.byAction.drop}, reject ${res.byAction.reject}), ${res.icmpErrors} unrelated ICMP errors`);
  t.same(res.disagreements.filter((x) => x), [], `${what}: no disagreement (first 20 shown)`);
  t.equal(res.disagreements.length, 0, `${what}: 0 disagreements with the reference`);
  t.ok(res.matchedRule > 1000, `${what}: ${res.matchedRule} packets matched a rule (rules are exercised, not only the default)`);
  // Totals: every classified packet counted once, on one counter of this pass.
  let total = 0n;
  for (const [key] of l.dp.map('vnf_fw_stats').entries()) {
    const id = key.readUInt32LE(0);
    if (id === counterOf(k, -1) || (id > k * 1_000_000 && id <= k * 1_000_000 + n)) total += l.ruleCounter(id).packets;
  }
  t.equal(total, BigInt(res.classified), `${what}: rule + default counters sum to the packets classified`);
  t.equal(after.DROP_POLICY - before.DROP_POLICY, BigInt(res.byAction.drop), `${what}: DROP_POLICY = the drops`);
  t.equal(after.FW_REJECT_SENT - before.FW_REJECT_SENT, BigInt(res.byAction.reject), `${what}: REJECT_SENT = the rejects`);
  t.equal(after.DROP_CT_INVALID - before.DROP_CT_INVALID, BigInt(res.icmpErrors), `${what}: CT_INVALID = the unrelated ICMP errors`);
  t.equal(after.DROP_NO_POLICY - before.DROP_NO_POLICY, 0n, `${what}: no NO_POLICY (the rule set is complete)`);
  return res;
}

const ACTIONS = ['allow', 'drop', 'reject'] as const;

async function diffAt(t: Test, n: number): Promise<void> {
  const l = await firewallLab(t, 2);
  const d = randomDirection(n, 1000 + n);
  const r1 = diffPass(t, l, d, 1, `${n} rules`, 7 + n);
  // A few early, broad rules (any protocol from 0/0 to a /0 or /24) decide
  // most packets of a large random set, so their actions decide which
  // verdicts come up. A second set of the same size without such rules, its
  // actions assigned by index, spreads the matches over many rules and makes
  // every verdict come up at every size.
  const narrow = randomRules(3 * n, 2000 + n).filter((r) => r.src.prefix + r.dst.prefix >= 32).slice(0, n)
    .map((r, index) => ({ ...r, index, action: ACTIONS[index % 3]! }));
  t.equal(narrow.length, n, `a second set of ${n} narrower rules`);
  const r2 = diffPass(t, l, { default: 'drop', rules: narrow }, 2, `${n} narrower rules, actions by index`, 8 + n);
  for (const a of ACTIONS) t.ok(r1.byAction[a]! + r2.byAction[a]! > 100, `${a}: ${r1.byAction[a]! + r2.byAction[a]!} verdicts checked`);
}

if (requirePrivileges(t)) {
  for (const n of [10, 1000, 100_000]) {
    t.test(`${n} rules: 10,000 packets, 0 disagreements`, async (t) => {
      await diffAt(t, n);
    });
  }

  t.test('per-packet cost (BPF_PROG_TEST_RUN; reported, not asserted)', async (t) => {
    const l = await firewallLab(t, 1);
    const m = l.ports[0]!;
    // vnf_firewall followed by vnf_null (slot 15): the cost of the firewall
    // plus one tail call, against vnf_null alone.
    const nul = await BpfObject.load(vnfObject('null'));
    t.teardown(() => nul.close());
    const NULL_SLOT = 15;
    l.dp.map('vnf_progs').update(u32(NULL_SLOT), u32(nul.program('vnf_null').fd));
    const chain = l.dp.addChain([VNF_ID_FIREWALL, NULL_SLOT]);
    const cb = [m.ifindex, 0, chain, NET, 0];
    const REPEAT = 200_000;
    const median = (xs: number[]) => xs.sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
    const cost = (pkt: Buffer) => median([0, 1, 2].map(() => l.runFirewall(pkt, cb, m.ifindex, REPEAT).duration));
    const pkt = (src: string, dst: string, sport: number, dport: number) =>
      eth('02:00:00:00:00:0b', m.mac, ETH_P_IP, ipv4({ src, dst, proto: IPPROTO_UDP }, udp(src, dst, sport, dport, Buffer.alloc(32))));
    const nullNs = median([0, 1, 2].map(() => nul.program('vnf_null').testRun({ data: pkt('1.1.1.1', '2.2.2.2', 1, 2), repeat: REPEAT }).duration));
    t.comment(`vnf_null alone: ${nullNs} ns/packet`);

    // A packet of a tracked flow (allow-all: the first run opens it).
    l.bind(m, VNF_DIR_RX, direction('allow'), 'open');
    const flow = pkt('10.0.0.1', '10.0.0.2', 40000, 53);
    l.runFirewall(flow, cb, m.ifindex);
    const before = l.stat('FW_ESTABLISHED');
    const est = cost(flow);
    t.ok(l.stat('FW_ESTABLISHED') - before >= BigInt(3 * REPEAT), 'every repeat ran as ESTABLISHED');
    t.comment(`tracked UDP flow (ESTABLISHED): ${est} ns/packet, firewall share ${est - nullNs} ns`);

    // A new connection that matches no rule: every shape of its class is
    // visited, then the default (drop, so every repeat is new again). The
    // random rules that would match the probe are left out.
    const probe: FwPacket = { proto: IPPROTO_UDP, saddr: 0x0a000001, daddr: 0x0a000002, sport: 40000, dport: 4444 };
    const p = pkt('10.0.0.1', '10.0.0.2', 40000, 4444);
    for (const n of [10, 1000, 10_000, 100_000]) {
      const rules = randomRules(Math.ceil(n * 1.2), 1000 + n).filter((r) => !ruleMatches(r, probe)).slice(0, n).map((r, index) => ({ ...r, index }));
      const d: FirewallDirection = { default: 'drop', rules };
      t.equal(referenceClassify(d, probe).rule, -1, `${n} rules: the probe matches none of them`);
      const c = compileRuleSet('cost', 'egress', d);
      l.writeRuleSet(c);
      l.bindId(m, VNF_DIR_RX, c.id);
      const drops = l.stat('DROP_POLICY');
      const ns = cost(p);
      t.ok(l.stat('DROP_POLICY') - drops >= BigInt(3 * REPEAT), `${n} rules: every repeat was classified and dropped`);
      t.comment(`${rules.length} rules, new UDP connection visiting all ${c.set.ntuples[3]} UDP shapes, then the default: ` +
        `${ns} ns/packet, firewall share ${ns - nullNs} ns`);
    }
  });
}
