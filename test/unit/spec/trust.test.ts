// What a careless or hostile file must not get through (issue 7): prototype-named keys, names
// that would vanish or crash, tables the dataplane cannot hold, and one stage hiding another's
// problems. Each case names the file position and the spec path.
import t from 'tap';
import { formatIssue, formatPath, parseTopology } from '../../../src/spec/index.js';
import { VNF_MAX_FLOOD, VNF_NETWORKS_MAX } from '../../../src/abi/vnf_common.js';
import { BASE, edit, issueAt, issuesOf, lineOf } from './fixture.js';

t.test('a firewall named __proto__ is an error with its line, not a firewall that silently vanishes', async (t) => {
  const src = edit(BASE, '  web-in:\n', '  __proto__:\n');
  const issue = issueAt(src, 'firewalls.__proto__');
  t.match(issue.message, /"__proto__" cannot be used/);
  t.equal(issue.line, lineOf(src, '__proto__:'));
  const json = '{"apiVersion": "vnf/v1", "name": "j", "networks": {"__proto__": {"subnet": "10.0.0.0/24"}}}';
  const r = parseTopology(json, 'x.json');
  t.notOk(r.ok, 'JSON too');
  if (!r.ok) t.match(r.issues.map(formatIssue).join('\n'), /x\.json:1:\d+: networks\.__proto__: "__proto__" cannot be used/);
});

t.test('constructor as a reference is an unknown container with a position, not a crash', async (t) => {
  const src = edit(BASE, 'attach: [web/eth0]', 'attach: [constructor/eth0]');
  const issue = issueAt(src, 'firewalls.web-in.attach[0]');
  t.equal(issue.message, 'unknown container "constructor"');
  t.equal(issue.line, lineOf(src, 'attach: [constructor/eth0]'));
  const net = edit(BASE, 'network: front, ip: 10.1.0.10/24', 'network: constructor, ip: 10.1.0.10/24');
  t.match(issueAt(net, 'containers.web.interfaces.eth0.network').message, /unknown network "constructor"/);
});

t.test('constructor is a valid name when it is really declared', async (t) => {
  const src = edit(edit(BASE, '  web:\n', '  constructor:\n'), 'attach: [web/eth0]', 'attach: [constructor/eth0]');
  const r = parseTopology(src);
  t.ok(r.ok, r.ok ? '' : r.issues.map(formatIssue).join('\n'));
  if (r.ok) t.same(r.topology.ext.firewall?.firewalls[0]?.attach, [{ container: 'constructor', interface: 'eth0' }]);
});

t.test(`a network with more than ${VNF_MAX_FLOOD} ports is refused at the port that does not fit`, async (t) => {
  const many = Array.from({ length: VNF_MAX_FLOOD + 1 }, (_, i) => `  c${i}:\n    interfaces:\n      eth0: { network: front, ip: 10.1.${Math.floor((i + 20) / 250)}.${((i + 20) % 250) + 1}/16 }\n`).join('');
  const src = edit(edit(BASE, 'containers:\n', `containers:\n${many}`), 'front: { subnet: 10.1.0.0/24 }', 'front: { subnet: 10.1.0.0/16 }')
    .replace('ip: 10.1.0.10/24', 'ip: 10.1.0.10/16').replace('front: 10.1.0.1/24', 'front: 10.1.0.1/16');
  const issues = issuesOf(src);
  const over = issues.filter((i) => /a broadcast reaches at most/.test(i.message));
  t.equal(over.length, 1, 'one issue, at the first port that does not fit');
  t.match(formatPath(over[0]!.path), /^containers\.c\d+\.interfaces\.eth0\.network$/);
  t.ok(over[0]!.line !== undefined, 'with its line');
});

t.test(`more networks than vnf_networks holds (${VNF_NETWORKS_MAX}) are refused`, async (t) => {
  const nets = Array.from({ length: VNF_NETWORKS_MAX + 1 }, (_, i) => `  n${i}: { subnet: 10.${100 + (i >> 8)}.${i & 255}.0/24 }\n`).join('');
  const src = `apiVersion: vnf/v1\nname: big\nnetworks:\n${nets}`;
  const issue = issueAt(src, 'networks');
  t.match(issue.message, new RegExp(`${VNF_NETWORKS_MAX + 1} networks are declared; the dataplane holds at most ${VNF_NETWORKS_MAX}`));
  t.equal(issue.line, lineOf(src, 'networks:'));
});

t.test('a firewall with more match shapes than the classifier holds is refused with its position', async (t) => {
  const rules = Array.from({ length: 300 }, (_, i) => `        - { action: allow, proto: tcp, from: 0.0.0.0/${(i % 30) + 1}, to: 0.0.0.0/${Math.floor(i / 30) + 1} }\n`).join('');
  const src = edit(BASE, '        - { action: allow, proto: icmp, icmp-type: echo-request }\n', `        - { action: allow, proto: icmp, icmp-type: echo-request }\n${rules}`);
  const issue = issueAt(src, 'firewalls.web-in.ingress');
  t.match(issue.message, /distinct match shapes/);
  t.equal(issue.line, lineOf(src, 'ingress:'));
});

t.test('every stage reports at once: a schema problem in one entry does not hide a rule problem in another', async (t) => {
  const src = edit(edit(BASE, 'back: { subnet: 10.2.0.0/24 }', 'back: { subnet: 10.2.0.0/24, colour: red }'), 'attach: [web/eth0]', 'attach: [app/eth0]');
  const issues = issuesOf(src).map((i) => `${formatPath(i.path)}: ${i.message}`);
  t.ok(issues.some((i) => i.startsWith('networks.back')), 'the schema issue');
  t.ok(issues.some((i) => i.startsWith('firewalls.web-in.attach[0]: unknown container "app"')), 'and the rule issue');
  t.notOk(issues.some((i) => /unknown network "back"/.test(i)), 'references to the invalid entry are not reported as unknown');
});

t.test('validate is O(n log n): overlapping subnets among 20,000 networks are found (and only they)', async (t) => {
  const n = 20_000;
  const nets = Array.from({ length: n }, (_, i) => `  n${i}: { subnet: 10.${i >> 8}.${i & 255}.0/24 }\n`).join('');
  const src = `apiVersion: vnf/v1\nname: big\nnetworks:\n${nets}  wide: { subnet: 10.3.0.0/16 }\n`;
  const issues = issuesOf(src).filter((i) => /overlaps/.test(i.message));
  // 10.3.0.0/16 covers n768..n1023: each of those, or the wide one, is reported.
  t.ok(issues.length >= 1, 'the overlap is found');
  t.ok(issues.every((i) => /networks\.(wide|n(7[6-9]\d|[89]\d\d|10[01]\d|102[0-3]))\.subnet/.test(formatPath(i.path))), 'only networks inside 10.3.0.0/16');
});
