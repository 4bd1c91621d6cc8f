/**
 * vnf-ctl validate for editors and CI: -o json (problems as objects), -f - (stdin), several files,
 * an "N problems" line, warnings that do not fail, readable messages for multi-document YAML and IPv6.
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { vnfctl } from '../../helpers/cli.js';
import { ROOT } from '../../helpers/paths.js';
import { BASE, colOf, edit, lineOf } from '../spec/fixture.js';

const dir = mkdtempSync(join(tmpdir(), 'vnf-validate-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, text: string): string => {
  const f = join(dir, name);
  writeFileSync(f, text);
  return f;
};
const withStdin = (args: string[], input: string) => {
  const r = spawnSync(process.execPath, [join(ROOT, 'dist', 'vnf-ctl.js'), ...args], { input, encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
};

const SHADOWED = edit(BASE, "        - { action: allow, proto: icmp, icmp-type: echo-request }\n",
  "        - { action: allow, proto: icmp, icmp-type: echo-request }\n        - { action: drop, proto: icmp, icmpType: 8, name: dup }\n");
const INVALID = edit(edit(BASE, 'ip: 10.1.0.10/24', 'ip: 10.1.0.300/24'), 'via: 10.2.0.254', 'via: 10.7.0.1');

interface Problem { file: string | null; line: number | null; column: number | null; path: string; message: string; severity: 'error' | 'warning' }
interface Report { valid: boolean; errors: number; warnings: number; files: Array<{ file: string; valid: boolean; name: string | null }>; problems: Problem[] }

t.test('warnings are shown, with a summary, and do not fail', async (t) => {
  const f = file('shadowed.yaml', SHADOWED);
  const r = vnfctl(['validate', '-f', f]);
  t.equal(r.status, 0, 'exit 0: warnings only');
  t.match(r.stdout, /valid topology t .*; 1 warning$/m);
  t.match(r.stderr, `${f}:${lineOf(SHADOWED, 'name: dup')}:11: firewalls.web-in.ingress.rules[2]: warning: rule 2 (dup) can never match: rule 1 before it matches every packet it would`);
  t.match(r.stderr, /^1 problem \(0 errors, 1 warning\)$/m);
});

t.test('-o json: problems as objects for editors and CI', async (t) => {
  const a = file('a.yaml', SHADOWED);
  const b = file('b.yaml', INVALID);
  const r = vnfctl(['validate', '-f', a, '-f', b, '-o', 'json']);
  t.equal(r.status, 2, 'an invalid file: exit 2, the report on stdout all the same');
  const j = JSON.parse(r.stdout) as Report;
  t.match(j, { valid: false, errors: 2, warnings: 1 });
  t.same(j.files, [{ file: a, valid: true, name: 't' }, { file: b, valid: false, name: null }]);
  t.same(j.problems.map((p) => [p.file, p.severity, p.path]), [
    [a, 'warning', 'firewalls.web-in.ingress.rules[2]'],
    [b, 'error', 'containers.web.interfaces.eth0.ip'],
    [b, 'error', 'routers.r1.routes[0].via'],
  ]);
  t.match(j.problems[1], { line: lineOf(INVALID, 'ip: 10.1.0.300/24'), column: colOf(INVALID, 'ip: 10.1.0.300/24') + 4, message: /not an IPv4 address/ });
  for (const p of j.problems) t.same(Object.keys(p), ['file', 'line', 'column', 'path', 'message', 'severity']);
  const ok = JSON.parse(vnfctl(['validate', '-f', join(ROOT, 'examples', 'demo.yaml'), '-o', 'json']).stdout) as Report;
  t.match(ok, { valid: true, errors: 0, warnings: 0, problems: [] });
});

t.test('several files in text: every problem of each, one summary, exit 2', async (t) => {
  const r = vnfctl(['validate', '-f', file('c.yaml', INVALID), '-f', file('d.yaml', SHADOWED)]);
  t.equal(r.status, 2);
  t.match(r.stderr, /c\.yaml:\d+:\d+: containers\.web\.interfaces\.eth0\.ip: /);
  t.match(r.stderr, /d\.yaml:\d+:\d+: firewalls\.web-in\.ingress\.rules\[2\]: warning: /);
  t.match(r.stderr, /^3 problems \(2 errors, 1 warning\)$/m);
  t.equal(r.stdout, '', 'no "valid" line when one is invalid');
});

t.test('-f - reads stdin, here and in every command that takes -f', async (t) => {
  const r = withStdin(['validate', '-f', '-'], readFileSync(join(ROOT, 'examples', 'demo.yaml'), 'utf8'));
  t.equal(r.status, 0, r.stderr);
  t.match(r.stdout, /^<stdin>: valid topology demo/);
  const bad = withStdin(['validate', '-f', '-'], INVALID);
  t.equal(bad.status, 2);
  t.match(bad.stderr, /^<stdin>:\d+:\d+: containers\.web/m);
  const g = withStdin(['graph', '-f', '-'], readFileSync(join(ROOT, 'examples', 'demo.yaml'), 'utf8'));
  t.equal(g.status, 0, g.stderr);
  t.match(g.stdout, /^graph "demo" \{$/m, 'graph -f -');
  t.match(g.stdout, /label="topology demo\\n<stdin>"/, 'named <stdin>');
  const twice = withStdin(['validate', '-f', '-', '-f', '-'], SHADOWED);
  t.equal(twice.status, 0, 'stdin named twice is read once');
});

t.test('one topology per file; IPv6 is named as such', async (t) => {
  const multi = vnfctl(['validate', '-f', file('multi.yaml', `${BASE}---\n${BASE}`)]);
  t.equal(multi.status, 2);
  t.match(multi.stderr, `one topology per file; found 2 documents, at lines 1, ${BASE.split('\n').length}`);
  const v6 = vnfctl(['validate', '-f', file('v6.yaml', edit(BASE, 'front: { subnet: 10.1.0.0/24 }', 'front: { subnet: "fd00:1::/64" }'))]);
  t.equal(v6.status, 2);
  t.match(v6.stderr, 'networks.front.subnet: IPv6 is not supported yet: "fd00:1::/64"');
  const v6host = vnfctl(['validate', '-f', file('v6h.yaml', edit(BASE, 'ip: 10.1.0.10/24', 'ip: "fd00::10"'))]);
  t.match(v6host.stderr, 'IPv6 is not supported yet: "fd00::10"');
});
