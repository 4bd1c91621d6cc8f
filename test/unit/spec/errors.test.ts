import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatIssue, formatPath, loadTopology, parseTopology, SpecError } from '../../../src/spec/index.js';
import { BASE, edit } from './fixture.js';

t.test('formatPath', async (t) => {
  t.equal(formatPath([]), '');
  t.equal(formatPath(['networks', 'front', 'subnet']), 'networks.front.subnet');
  t.equal(formatPath(['routers', 'r1', 'routes', 0, 'via']), 'routers.r1.routes[0].via');
  t.equal(formatPath(['firewalls', 'web-in', 'ingress', 'rules', 2, 'icmp-type']), 'firewalls.web-in.ingress.rules[2].icmp-type');
  t.equal(formatPath(['containers', 'a.b']), 'containers["a.b"]');
});

t.test('formatIssue', async (t) => {
  t.equal(
    formatIssue({ path: ['networks', 'front', 'subnet'], message: 'm', file: 'topology.yaml', line: 12, col: 7 }),
    'topology.yaml:12:7: networks.front.subnet: m',
  );
  t.equal(formatIssue({ path: [], message: 'm', file: 'f.json', line: 1, col: 2 }), 'f.json:1:2: m');
  t.equal(formatIssue({ path: ['name'], message: 'm' }), '<input>: name: m');
});

t.test('parseTopology never throws and names no file unless told', async (t) => {
  const result = parseTopology(edit(BASE, 'subnet: 10.1.0.0/24', 'subnet: 10.1.0.5/24'));
  t.notOk(result.ok);
  if (!result.ok) {
    t.equal(result.issues[0]?.file, undefined);
    t.equal(formatIssue(result.issues[0] ?? { path: [], message: '' }), '<input>:11:20: networks.front.subnet: not a network address (host bits set); did you mean 10.1.0.0/24?');
  }
});

t.test('loadTopology throws a SpecError listing every issue', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vnf-spec-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'topology.yaml');
  writeFileSync(file, edit(edit(BASE, 'subnet: 10.1.0.0/24', 'subnet: 10.1.0.5/24'), 'apiVersion: vnf/v1', 'apiVersion: vnf/v9'));
  let error: unknown;
  try {
    loadTopology(file);
  } catch (e) {
    error = e;
  }
  t.ok(error instanceof SpecError, 'a SpecError');
  if (!(error instanceof SpecError)) return;
  t.ok(error instanceof Error);
  t.equal(error.name, 'SpecError');
  t.equal(error.file, file);
  t.equal(error.issues.length, 2);
  t.equal(error.message, error.format());
  t.same(error.format().split('\n'), [
    `${file}:1:13: apiVersion: unsupported apiVersion "vnf/v9"; this version of vnf reads "vnf/v1"`,
    `${file}:11:20: networks.front.subnet: not a network address (host bits set); did you mean 10.1.0.0/24?`,
  ]);

  writeFileSync(file, BASE);
  t.equal(loadTopology(file).name, 't', 'a valid file loads');
});

t.test('an unreadable file is a SpecError too', async (t) => {
  t.throws(() => loadTopology('/nonexistent/vnf/topology.yaml'), {
    name: 'SpecError',
    issues: [{ path: [], message: /cannot read topology file: ENOENT/, file: '/nonexistent/vnf/topology.yaml' }],
  });
});
