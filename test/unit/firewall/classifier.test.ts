/** The tuple-space compiler against the reference first-match classifier (pure). */
import t from 'tap';
import { compiledLookup, compileRuleSet } from '../../../src/vnf/firewall/classifier.js';
import { portPrefixes } from '../../../src/vnf/firewall/ports.js';
import { referenceClassify } from '../../../src/vnf/firewall/reference.js';
import { VNF_FW_DEFAULT_RULE } from '../../../src/vnf/firewall/codec.js';
import { randomDirection, randomPackets } from '../../helpers/fw-gen.js';

t.test('port prefixes cover a range exactly', async (t) => {
  t.same(portPrefixes(0, 65535), [[0, 0]]);
  t.same(portPrefixes(80, 80), [[80, 16]]);
  t.same(portPrefixes(1024, 2047), [[1024, 6]]);
  for (const [lo, hi] of [[5000, 5100], [1, 65534], [3, 17], [65535, 65535]] as const) {
    const ps = portPrefixes(lo, hi);
    const covered = ps.reduce((n, [, plen]) => n + 2 ** (16 - plen), 0);
    t.equal(covered, hi - lo + 1, `[${lo},${hi}] covered exactly once`);
    t.ok(ps.every(([v, plen]) => v % 2 ** (16 - plen) === 0), 'blocks aligned');
  }
});

for (const n of [10, 1000, 100_000]) {
  t.test(`${n} rules: 10,000 packets, 0 disagreements with the reference`, async (t) => {
    const d = randomDirection(n, 1000 + n);
    const c = compileRuleSet('fw', 'ingress', d);
    t.ok(Math.max(...c.set.ntuples) <= 256, `shapes per class ${c.set.ntuples.join('/')}`);
    const packets = randomPackets(d.rules, 10_000, 7 + n);
    const classify = compiledLookup(c);
    let disagreements = 0;
    let matched = 0;
    for (const p of packets) {
      const want = referenceClassify(d, p);
      const got = classify(p);
      const gotRule = got === VNF_FW_DEFAULT_RULE ? -1 : got;
      if (gotRule !== want.rule) disagreements++;
      if (want.rule >= 0) matched++;
    }
    t.equal(disagreements, 0);
    t.ok(matched > 1000, `${matched} packets matched a rule (the test exercises rules, not just the default)`);
  });
}

t.test('too many shapes is refused with a clear message', async (t) => {
  const rules = Array.from({ length: 33 * 9 }, (_, i) => ({
    index: i, action: 'allow' as const, proto: 'any' as const,
    src: { addr: 0, prefix: i % 33 }, dst: { addr: 0, prefix: Math.floor(i / 33) }, sports: [[0, 65535]] as Array<[number, number]>,
    dports: [[0, 65535]] as Array<[number, number]>,
  }));
  t.throws(() => compileRuleSet('big', 'ingress', { default: 'drop', rules }), /297 distinct match shapes/);
  t.doesNotThrow(() => compileRuleSet('ok', 'ingress', { default: 'drop', rules: rules.slice(0, 256) }));
});

t.test('rule set ids are content-addressed; counters stable across versions', async (t) => {
  const d = randomDirection(20, 5);
  const a = compileRuleSet('fw', 'ingress', d);
  t.equal(compileRuleSet('fw', 'ingress', d).id, a.id, 'same rules, same id');
  const changed = { ...d, rules: [...d.rules.slice(0, 10), { ...d.rules[10]!, action: d.rules[10]!.action === 'allow' ? 'drop' as const : 'allow' as const }, ...d.rules.slice(11)] };
  const b = compileRuleSet('fw', 'ingress', changed);
  t.not(b.id, a.id, 'a changed rule set gets a new id');
  const unchanged = a.rules.filter((r) => r.index !== 10).map((r) => r.counter);
  t.same(b.rules.filter((r) => r.index !== 10).map((r) => r.counter), unchanged, 'unchanged rules keep their counters');
  t.not(compileRuleSet('other', 'ingress', d).id, a.id, 'another firewall gets its own id');
});
