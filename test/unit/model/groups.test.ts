/**
 * Double-buffered groups (firewall rule sets), without a kernel: each firewall direction keeps two
 * stable rule set ids; a change is written into the one no binding points at, only where it
 * differs; the bindings flip; nothing live is ever written; an interrupted apply is finished.
 */
import t from 'tap';
import { parseTopology } from '../../../src/spec/index.js';
import { compile, type CompileInput } from '../../../src/model/compile.js';
import { assignIds, readIds } from '../../../src/model/ids.js';
import { hostVethName } from '../../../src/model/names.js';
import { observedGroups, plan, type Build, type Op } from '../../../src/plan/plan.js';
import { formatPlan } from '../../../src/plan/format.js';
import { hex, unhex } from '../../../src/model/desired.js';
import { u32 } from '../../../src/codec/struct.js';
import type { Topology } from '../../../src/spec/model.js';
import { VNFS } from '../../../src/vnf/registry.js';
import { fwBindCodec, fwSetCodec, VNF_FW_SET_F_INCOMPLETE } from '../../../src/vnf/firewall/codec.js';
import { emptyKernel, kernelAfter, type FakeKernel } from '../../helpers/observed.js';

const builds: Build[] = [
  { object: 'entry', hash: 'aaaaaaaaaaaa', programs: ['vnf_entry_in', 'vnf_entry_out', 'vnf_deliver'] },
  { object: 'bridge', hash: 'bbbbbbbbbbbb', programs: ['vnf_bridge'] },
  { object: 'router', hash: 'cccccccccccc', programs: ['vnf_router'] },
  { object: 'firewall', hash: 'eeeeeeeeeeee', programs: ['vnf_firewall'] },
  { object: 'nat', hash: 'ffffffffffff', programs: ['vnf_nat'] },
  { object: 'overlay', hash: '111111111111', programs: ['vnf_overlay'] },
];

function topology(rules: string[], def = 'drop', firewalls = true): Topology {
  const r = parseTopology(`
apiVersion: vnf/v1
name: ab
containers:
  web: { interfaces: { eth0: { network: n, ip: 10.1.0.10/24 } } }
  api: { interfaces: { eth0: { network: n, ip: 10.1.0.11/24 } } }
networks:
  n: { subnet: 10.1.0.0/24 }
${firewalls ? `firewalls:
  web:
    attach: [web/eth0, api/eth0]
    ingress:
      default: ${def}
      rules:
${rules.map((x) => `        - ${x}`).join('\n')}
` : ''}`);
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  return r.topology;
}

const RULES = Array.from({ length: 50 }, (_, i) => `{ action: allow, proto: tcp, from: 10.9.${i}.0/24, ports: [${1000 + i}] }`);
/** The rules with rule i's action flipped. */
const flip = (rules: string[], i: number): string[] => rules.map((r, j) => (j === i ? (r.includes('allow') ? r.replace('allow', 'drop') : r.replace('drop', 'allow')) : r));

/** What ops/topology does: ids and groups as the kernel holds them. */
function inputFor(t: Topology, k: FakeKernel | undefined): CompileInput {
  const fileInterfaces = new Map<string, { ifname: string; ifindex: number }>();
  let i = 100;
  for (const c of t.containers) for (const x of c.interfaces) fileInterfaces.set(`${c.name}/${x.name}`, { ifname: hostVethName(t.name, c.name, x.name), ifindex: i++ });
  const ids = assignIds(readIds(k?.entries('vnf_ids')), t);
  return { topology: t, fileInterfaces, attachments: [], ids, groups: k ? observedGroups(k) : {} };
}

/** Executes a plan's map operations on the in-memory kernel, up to `upTo` operations (a killed apply). */
function run(k: FakeKernel, ops: Op[], upTo = ops.length): void {
  const m = (name: string): Map<string, Buffer> => (k.maps[name] ??= new Map());
  const fw = VNFS.find((v) => v.name === 'firewall')!.groups!;
  for (const op of ops.slice(0, upTo)) {
    if (op.kind === 'upsert') m(op.map).set(hex(op.key), op.value);
    else if (op.kind === 'delete') m(op.map).delete(hex(op.key));
    else if (op.kind === 'sweep') for (const key of op.keys) m(op.map).delete(hex(key));
    else if (op.kind === 'group-write') {
      const key = hex(u32(op.group.id));
      const cur = m(fw.root).get(key);
      if (!cur || !fw.isIncomplete(cur)) m(fw.root).set(key, fw.incomplete(cur ?? op.group.root));
      for (const [leaf, p] of Object.entries(op.deletes)) for (let i = 0; i < p.count; i++) m(leaf).delete(p.keys.toString('hex', i * p.keySize, (i + 1) * p.keySize));
      for (const [leaf, p] of Object.entries(op.upserts)) {
        for (let i = 0; i < p.count; i++) m(leaf).set(p.keys.toString('hex', i * p.keySize, (i + 1) * p.keySize), Buffer.from(p.values.subarray(i * p.valueSize, (i + 1) * p.valueSize)));
      }
      m(fw.root).set(key, op.group.root);
    } else if (op.kind === 'group-remove') {
      for (const leaf of [fw.root, ...fw.leaves]) for (const x of [...m(leaf).keys()]) if (fw.groupOf(leaf, unhex(x)) === op.id) m(leaf).delete(x);
    }
  }
}

const bindings = (k: FakeKernel): number[] => [...(k.maps.vnf_fw_bind ?? new Map()).values()].map((v) => fwBindCodec.decode(v).ruleset);
const groupIds = (k: FakeKernel): number[] => [...(k.maps.vnf_fw_sets ?? new Map()).keys()].map((x) => unhex(x).readUInt32LE(0)).sort((a, b) => a - b);

function applied(t: Topology, k: FakeKernel): { ops: Op[]; k: FakeKernel } {
  const d = compile(inputFor(t, k));
  const ops = plan(d, k, builds).ops;
  run(k, ops);
  return { ops, k };
}

t.test('a one-rule change is written into the standby, only where it differs, and the bindings flip', async (t) => {
  const first = compile(inputFor(topology(RULES), undefined));
  t.ok(plan(first, emptyKernel('ab'), builds).ops.some((o) => o.kind === 'group-write' && o.from === 'empty'), 'a first apply writes a new group');
  const k = kernelAfter(first, builds);
  t.equal(new Set(bindings(k)).size, 2, 'one rule set per direction, both ports bound to them');
  t.same(plan(compile(inputFor(topology(RULES), k)), k, builds).ops, [], 'against a perfect kernel: nothing to do');
  // The first change fills the empty standby whole; from then on, changes are differences.
  const warm = applied(topology(flip(RULES, 10)), k).ops.find((o): o is Extract<Op, { kind: 'group-write' }> => o.kind === 'group-write');
  t.equal(warm?.from, 'empty', 'the first change fills the empty standby');
  const live = [...new Set(bindings(k))];

  const changed = flip(flip(RULES, 10), 25);
  const d = compile(inputFor(topology(changed), k));
  const p = plan(d, k, builds);
  const writes = p.ops.filter((o): o is Extract<Op, { kind: 'group-write' }> => o.kind === 'group-write');
  t.equal(writes.length, 1, 'one group written: the ingress one');
  const w = writes[0]!;
  t.equal(w.from, 'standby', 'into the standby slot');
  t.notOk(live.includes(w.group.id), 'never into a rule set a binding points at');
  t.ok(w.written >= 1 && w.written <= 2, `only what differs is written (${w.written})`);
  t.equal(w.deleted, 0);
  t.ok(w.unchanged > 50, 'the rest is left as it is');
  t.notOk(p.ops.some((o) => o.kind === 'group-remove'), 'the former live set is kept as the standby');
  const kinds = p.ops.map((o) => (o.kind === 'upsert' || o.kind === 'delete' ? `${o.kind} ${o.map}` : o.kind));
  t.ok(kinds.indexOf('group-write') < kinds.indexOf('upsert vnf_fw_bind'), 'written before any binding flips to it');
  t.match(formatPlan(p), /firewall web ingress \(50 rules.*into standby \d+: [12] entr(y|ies) written, 0 deleted, \d+ unchanged/, 'plan says what is written');

  const before = groupIds(k);
  run(k, p.ops);
  t.same(groupIds(k), before, 'no new rule set id: the two slots are reused');
  t.ok(bindings(k).includes(w.group.id), 'the ingress bindings point at the rewritten slot');
  t.same(plan(compile(inputFor(topology(changed), k)), k, builds).ops, [], 'then nothing left to do');

  // Back to the content before: the standby holds it exactly, so only the bindings flip.
  const back = applied(topology(flip(RULES, 10)), k);
  t.notOk(back.ops.some((o) => o.kind === 'group-write'), 'changing back writes no entry');
  t.ok(back.ops.some((o) => o.kind === 'upsert' && o.map === 'vnf_fw_bind'), 'only the bindings flip');
});

t.test('a killed apply: the standby half written is finished, never bound before; a flip half done with a new change takes a third id', async (t) => {
  const k = applied(topology(flip(RULES, 1)), kernelAfter(compile(inputFor(topology(RULES), undefined)), builds)).k;
  const changed = flip(RULES, 3);
  const p = plan(compile(inputFor(topology(changed), k)), k, builds).ops;
  const wi = p.findIndex((o) => o.kind === 'group-write');
  const w = p[wi] as Extract<Op, { kind: 'group-write' }>;
  // Killed inside the group write: its root is marked incomplete, some leaves written.
  const root = k.maps.vnf_fw_sets!.get(hex(u32(w.group.id)))!;
  k.maps.vnf_fw_sets!.set(hex(u32(w.group.id)), fwSetCodec.encode({ ...fwSetCodec.decode(root), flags: VNF_FW_SET_F_INCOMPLETE }));
  t.notOk(bindings(k).includes(w.group.id), 'no binding points at the slot being written');
  const resumed = plan(compile(inputFor(topology(changed), k)), k, builds).ops.filter((o): o is typeof w => o.kind === 'group-write');
  t.equal(resumed.length, 1);
  t.equal(resumed[0]!.group.id, w.group.id, 'the next apply writes the same slot');
  t.equal(resumed[0]!.from, 'incomplete', 'knowing it was left incomplete');

  // Killed between the two ports' flips: each port on a complete policy (old or new).
  const flips = p.filter((o) => o.kind === 'upsert' && o.map === 'vnf_fw_bind');
  t.equal(flips.length, 2, 'two ports flip');
  const firstFlip = p.indexOf(flips[0]!);
  run(k, p, firstFlip + 1);
  const bound = [...new Set(bindings(k))];
  for (const id of bound) t.equal(fwSetCodec.decode(k.maps.vnf_fw_sets!.get(hex(u32(id)))!).flags ?? 0, 0, `rule set ${id}, bound, is complete`);
  const ingressIds = new Set([...(k.maps.vnf_fw_bind ?? new Map()).entries()].filter(([key]) => unhex(key).readUInt32LE(4) === 1).map(([, v]) => fwBindCodec.decode(v).ruleset));
  t.equal(ingressIds.size, 2, 'the ports of one firewall direction are on both slots');
  // And the file changes again: neither slot may be written.
  const third = flip(changed, 7);
  const q = plan(compile(inputFor(topology(third), k)), k, builds);
  const tw = q.ops.filter((o): o is typeof w => o.kind === 'group-write');
  t.equal(tw.length, 1);
  t.notOk(ingressIds.has(tw[0]!.group.id), 'a fresh id, not a bound slot');
  t.equal(tw[0]!.from, 'empty');
  run(k, q.ops);
  t.equal(new Set(bindings(k)).size, 2, 'all ports on one rule set per direction again');
  t.same(plan(compile(inputFor(topology(third), k)), k, builds).ops, [], 'and it converges');
  t.equal(groupIds(k).length, 3, 'ingress back to two slots (the extra one removed), egress one');
});

t.test('counters of unchanged rules are kept; the removed rule\'s goes; a removed firewall takes its rule sets and ids', async (t) => {
  const k = kernelAfter(compile(inputFor(topology(RULES), undefined)), builds);
  const fw = VNFS.find((v) => v.name === 'firewall')!;
  const statsMap = fw.maps.find((m) => m.kind === 'stats')!.name;
  // A counter for every rule of the live sets.
  const ruleCounters = [...(k.maps.vnf_fw_rules ?? new Map()).values()].map((v) => v.readUInt32LE(0));
  k.maps[statsMap] = new Map(ruleCounters.map((c) => [hex(u32(c)), Buffer.alloc(16, 1)]));
  const changed = RULES.slice(1);
  const p = plan(compile(inputFor(topology(changed), k)), k, builds);
  const sweep = p.ops.find((o): o is Extract<Op, { kind: 'sweep' }> => o.kind === 'sweep' && o.map === statsMap);
  t.equal(sweep?.keys.length, 1, "only the removed rule's counter goes");
  run(k, p.ops);
  const held = groupIds(k).length;
  t.equal(held, 3, 'live and standby of ingress, live of egress (its standby never filled)');
  const gone = applied(topology([], 'drop', false), k);
  t.equal(gone.ops.filter((o) => o.kind === 'group-remove').length, held, 'every slot of the firewall removed');
  t.same(groupIds(k), [], 'no rule set left');
  t.notOk([...readIds(k.entries('vnf_ids')).groups.keys()].length, 'no slot ids left');
});
