/** vnf-ctl version: every component's version; --version stays the version alone and loads nothing. */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { release } from 'node:os';
import { VNF_ABI_VERSION } from '../../../src/abi/vnf_common.js';
import { vnfctl } from '../../helpers/cli.js';
import { ROOT } from '../../helpers/paths.js';

const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };

t.test('version -o json', async (t) => {
  const r = vnfctl(['version', '-o', 'json']);
  t.equal(r.status, 0, r.stderr);
  const v = JSON.parse(r.stdout) as Record<string, unknown>;
  t.same(Object.keys(v), ['version', 'libbpf', 'abi', 'node', 'build', 'kernel']);
  t.equal(v['version'], pkg.version);
  t.match(v['libbpf'], /^\d+\.\d+$/);
  t.equal(v['abi'], VNF_ABI_VERSION, 'the ABI version of bpf/abi/vnf_common.h');
  t.equal(v['node'], process.versions.node);
  t.equal(v['kernel'], release());
  t.match(v['build'], /^([0-9a-f]{7,}(-dirty)?|unknown)$/, 'the commit the bundle was built from (make defines it)');
  t.not(v['build'], 'unknown', 'the bundle built by make knows its commit (this is a git checkout)');
});

t.test('version (table) and --version', async (t) => {
  const r = vnfctl(['version']);
  t.match(r.stdout, /^COMPONENT\s+VERSION\nversion\s+\S+\nlibbpf/);
  const v = vnfctl(['--version']);
  t.equal(v.stdout.trim(), pkg.version, '--version prints the version alone');
});
