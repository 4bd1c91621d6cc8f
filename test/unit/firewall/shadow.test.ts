/**
 * Rules that can never match (shadowed entirely by an earlier rule of the same direction):
 * the check is sound (no warning unless containment holds on every field), warnings never make
 * a file invalid, and they carry their position.
 */
import t from 'tap';
import { parseTopology } from '../../../src/spec/index.js';
import { normalizeDirection, type RawDirection } from '../../../src/vnf/firewall/spec.js';
import { covers, shadowedRules } from '../../../src/vnf/firewall/shadow.js';
import { SHADOW_LISTED } from '../../../src/vnf/firewall/spec.js';
import { CHEAP_POSITIONS_BYTES } from '../../../src/spec/source.js';
import { BASE, edit, lineOf } from '../spec/fixture.js';

const shadows = (rules: NonNullable<RawDirection['rules']>, budget?: number) => shadowedRules(normalizeDirection({ rules }).rules, budget);

t.test('containment on every field makes a rule shadowed', async (t) => {
  t.same(shadows([{ action: 'allow' }, { action: 'drop', proto: 'tcp', from: '10.0.0.0/8', ports: [80] }]), [{ rule: 1, by: 0 }], 'an allow-all rule shadows everything after it');
  t.same(shadows([{ action: 'allow', proto: 'tcp', ports: ['1-1024'] }, { action: 'drop', proto: 'tcp', ports: [80, '100-200'] }]), [{ rule: 1, by: 0 }], 'port ranges inside');
  t.same(shadows([{ action: 'allow', from: '10.0.0.0/8' }, { action: 'drop', from: '10.1.2.3' }]), [{ rule: 1, by: 0 }], 'a host inside the prefix');
  t.same(shadows([{ action: 'allow', proto: 'icmp' }, { action: 'drop', proto: 'icmp', icmpType: 'echo-request' }]), [{ rule: 1, by: 0 }], 'any ICMP type covers one');
  t.same(shadows([{ action: 'allow', proto: 'icmp', icmpType: 8 }, { action: 'drop', proto: 'icmp', 'icmp-type': 'echo-request' }]), [{ rule: 1, by: 0 }], 'the same type, spelled twice');
  t.same(shadows([{ action: 'allow', proto: 'udp', srcPorts: [53] }, { action: 'drop', proto: 'udp', 'src-ports': [53], to: '10.1.0.0/24' }]), [{ rule: 1, by: 0 }], 'source ports, both spellings');
  t.same(shadows([{ action: 'drop', to: '10.1.0.0/16' }, { action: 'allow', to: '10.1.0.0/24' }, { action: 'allow', to: '10.1.0.0/24', proto: 'udp' }]), [{ rule: 1, by: 0 }, { rule: 2, by: 0 }], 'the earliest shadower is named');
});

t.test('no warning unless every field is contained (sound)', async (t) => {
  const none: Array<[string, NonNullable<RawDirection['rules']>]> = [
    ['a tcp rule does not cover an any rule', [{ action: 'allow', proto: 'tcp' }, { action: 'drop' }]],
    ['other protocol', [{ action: 'allow', proto: 'tcp' }, { action: 'drop', proto: 'udp' }]],
    ['port range only overlaps', [{ action: 'allow', proto: 'tcp', ports: ['1-100'] }, { action: 'drop', proto: 'tcp', ports: ['50-150'] }]],
    ['ports vs every port', [{ action: 'allow', proto: 'tcp', ports: [80] }, { action: 'drop', proto: 'tcp' }]],
    ['source ports narrower', [{ action: 'allow', proto: 'tcp', srcPorts: [53] }, { action: 'drop', proto: 'tcp' }]],
    ['narrower source prefix', [{ action: 'allow', from: '10.1.0.0/24' }, { action: 'drop', from: '10.0.0.0/8' }]],
    ['disjoint prefixes', [{ action: 'allow', to: '10.1.0.0/24' }, { action: 'drop', to: '10.2.0.0/24' }]],
    ['one ICMP type vs any', [{ action: 'allow', proto: 'icmp', icmpType: 8 }, { action: 'drop', proto: 'icmp' }]],
    ['different ICMP types', [{ action: 'allow', proto: 'icmp', icmpType: 8 }, { action: 'drop', proto: 'icmp', icmpType: 0 }]],
    ['covered only by two rules together', [{ action: 'allow', proto: 'tcp', ports: ['1-100'] }, { action: 'allow', proto: 'tcp', ports: ['101-65535'] }, { action: 'drop', proto: 'tcp', ports: ['50-150'] }]],
  ];
  for (const [what, rules] of none) t.same(shadows(rules), [], what);
});

t.test('covers agrees with the indexed search on random rule sets', async (t) => {
  let seed = 7;
  const rnd = (n: number): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) % n);
  const protos = ['tcp', 'udp', 'icmp', 'any'] as const;
  for (let round = 0; round < 30; round++) {
    const raw = Array.from({ length: 40 }, () => {
      const proto = protos[rnd(4)]!;
      const r: Record<string, unknown> = { action: 'allow', proto };
      if (rnd(2)) r['from'] = ['10.0.0.0/8', '10.1.0.0/16', '10.1.2.0/24', '10.1.2.3', '10.2.0.0/16'][rnd(5)];
      if (rnd(2)) r['to'] = ['192.168.0.0/16', '192.168.1.0/24', '192.168.1.1'][rnd(3)];
      if ((proto === 'tcp' || proto === 'udp') && rnd(2)) r['ports'] = [['1-1024'], [80], [80, 443], ['70-90']][rnd(4)];
      if (proto === 'icmp' && rnd(2)) r['icmpType'] = [0, 8][rnd(2)];
      return r;
    }) as NonNullable<RawDirection['rules']>;
    const rules = normalizeDirection({ rules: raw }).rules;
    // Reference: a rule is shadowed when some earlier rule covers it (whatever that one's fate).
    const expected = rules.flatMap((b, j) => (rules.slice(0, j).some((a) => covers(a, b)) ? [j] : []));
    t.same(shadowedRules(rules).map((s) => s.rule), expected, `round ${round}`);
    for (const s of shadowedRules(rules)) if (!covers(rules[s.by]!, rules[s.rule]!)) t.fail(`round ${round}: rule ${s.by} does not cover ${s.rule}`);
  }
});

t.test('a large rule set is checked within a budget (sound, not complete)', async (t) => {
  const rules = Array.from({ length: 20_000 }, (_, i) => ({ action: 'allow' as const, proto: 'tcp' as const, to: `10.${(i >> 8) & 255}.${i & 255}.1`, ports: [80] }));
  const start = performance.now();
  t.same(shadows(rules), [], 'distinct hosts: nothing shadowed');
  t.ok(performance.now() - start < 2000, 'fast: indexed by prefix, not compared pairwise');
  t.same(shadows([{ action: 'allow' }, ...rules], 1000).slice(0, 1), [{ rule: 1, by: 0 }], 'a budget stops early, keeping what it found');
});

t.test('validation: warnings do not make the file invalid, and carry path and position', async (t) => {
  const text = edit(BASE, "        - { action: allow, proto: icmp, icmp-type: echo-request }\n",
    "        - { action: allow, proto: icmp, icmp-type: echo-request }\n        - { action: drop, proto: tcp, from: 10.2.0.7, ports: [443], name: late }\n");
  const r = parseTopology(text, 'fw.yaml');
  if (!r.ok) return t.fail(JSON.stringify(r.issues));
  t.equal(r.warnings.length, 1);
  t.match(r.warnings[0], {
    severity: 'warning', file: 'fw.yaml', path: ['firewalls', 'web-in', 'ingress', 'rules', 2], line: lineOf(text, 'name: late'),
    message: 'rule 2 (late) can never match: rule 0 before it matches every packet it would (first match wins)',
  });
  const bad = parseTopology(edit(text, 'ip: 10.1.0.10/24', 'ip: 10.1.0.300/24'), 'fw.yaml');
  t.notOk(bad.ok, 'an error still makes it invalid');
  if (!bad.ok) t.equal(bad.issues.filter((i) => i.severity === 'warning').length, 1, 'and the warning is among its issues');
});

t.test('rule keys: camelCase canonical, kebab-case accepted, not both', async (t) => {
  const both = parseTopology(edit(BASE, 'icmp-type: echo-request', 'icmp-type: echo-request, icmpType: 8'));
  t.notOk(both.ok);
  if (!both.ok) t.match(both.issues[0]!.message, 'icmp-type is another spelling of icmpType; give only one of them');
  const camel = parseTopology(edit(BASE, 'icmp-type: echo-request', 'icmpType: echo-request'));
  const kebab = parseTopology(BASE);
  t.ok(camel.ok && kebab.ok);
  if (camel.ok && kebab.ok) t.same(camel.topology, kebab.topology, 'the same topology');
});

t.test('many shadowed rules: the first few listed, the rest summed up in one warning', async (t) => {
  const extra = Array.from({ length: SHADOW_LISTED + 5 }, (_, i) => `        - { action: drop, proto: tcp, from: 10.2.0.${i + 1}, ports: [443] }\n`).join('');
  const text = edit(BASE, "        - { action: allow, proto: icmp, icmp-type: echo-request }\n", `        - { action: allow, proto: icmp, icmp-type: echo-request }\n${extra}`);
  const r = parseTopology(text, 'fw.yaml');
  if (!r.ok) return t.fail(JSON.stringify(r.issues));
  t.equal(r.warnings.length, SHADOW_LISTED + 1, `${SHADOW_LISTED} listed and one more`);
  const summary = r.warnings.find((w) => w.path.length === 4);
  t.match(summary, { path: ['firewalls', 'web-in', 'ingress', 'rules'], message: /^5 more rules can never match \(shadowed by earlier rules; the first 10 are listed\), from rule 12 to rule 16$/ });
});

t.test('a valid large file: warnings carry their path but no position (a position costs the slow parse)', async (t) => {
  const many = Array.from({ length: 6000 }, (_, i) => `        - { action: allow, proto: tcp, to: 10.${(i >> 8) & 255}.${i & 255}.1, ports: [80], name: filler-rule-number-${i} }\n`).join('');
  const text = edit(BASE, "        - { action: allow, proto: icmp, icmp-type: echo-request }\n",
    `        - { action: allow, proto: icmp, icmp-type: echo-request }\n${many}        - { action: drop, proto: tcp, from: 10.2.0.7, ports: [443], name: late }\n`);
  t.ok(text.length > CHEAP_POSITIONS_BYTES, `the file is large (${text.length} bytes)`);
  const r = parseTopology(text, 'big.yaml');
  if (!r.ok) return t.fail(JSON.stringify(r.issues.slice(0, 3)));
  t.equal(r.warnings.length, 1);
  t.match(r.warnings[0], { path: ['firewalls', 'web-in', 'ingress', 'rules', 6002], file: 'big.yaml', message: /rule 6002 \(late\) can never match/ });
  t.equal(r.warnings[0]!.line, undefined, 'no line: the path says where');
  const bad = parseTopology(edit(text, 'ip: 10.1.0.10/24', 'ip: 10.1.0.300/24'), 'big.yaml');
  t.notOk(bad.ok);
  if (!bad.ok) t.ok(bad.issues.every((i) => i.line !== undefined), 'with an error, positions are paid for, and the warning gets one too');
});
