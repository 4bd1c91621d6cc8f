/**
 * `vnf-ctl apply --store` with a valid file larger than etcd accepts in one request: invalid
 * input (exit 2), one readable line, and nothing written (the stored topology is unchanged).
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requirePrivileges } from '../helpers/privilege.js';
import { testEtcd } from '../helpers/cluster.js';
import { randomName } from '../helpers/netns.js';
import { ROOT } from '../helpers/paths.js';

const ctl = (args: string[]): { status: number; stdout: string; stderr: string } => {
  const r = spawnSync(process.execPath, [join(ROOT, 'dist', 'vnf-ctl.js'), ...args], { encoding: 'utf8', timeout: 60_000 });
  return { status: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
};

if (requirePrivileges(t)) {
  t.test('a topology too large for the store: exit 2, one line, nothing written', async (t) => {
    const etcd = await testEtcd(t);
    const dir = mkdtempSync(join(tmpdir(), 'vnf-big-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const name = randomName('big');
    const head = `apiVersion: vnf/v1\nname: ${name}\nnetworks:\n  n1: { subnet: 10.64.0.0/16 }\ncontainers:\n`;
    const small = join(dir, 'small.yaml');
    writeFileSync(small, `${head}  c0: { host: h1, interfaces: { eth0: { network: n1, ip: 10.64.0.2/16 } } }\n`);
    const first = ctl(['apply', '-f', small, '--store', etcd.url, '-o', 'json']);
    t.equal(first.status, 0, first.stderr);
    // Valid, but padded with comments past etcd's 1.5 MiB request limit.
    const big = join(dir, 'big.yaml');
    const lines = Array.from({ length: 800 }, (_, i) => `  c${i}: { host: h1, interfaces: { eth0: { network: n1, ip: 10.64.${Math.floor(i / 250)}.${(i % 250) + 2}/16 } } } # ${'p'.repeat(2000)}`);
    writeFileSync(big, `${head}${lines.join('\n')}\n`);
    const r = ctl(['apply', '-f', big, '--store', etcd.url]);
    t.equal(r.status, 2, 'invalid input');
    t.match(r.stderr, /too large for the store: \d+ bytes .*nothing written/);
    t.equal(r.stderr.trim().split('\n').length, 1, `one line: ${r.stderr}`);
    const plan = ctl(['plan', '-f', small, '--store', etcd.url]);
    t.match(plan.stdout, /no changes/, 'the small file is still the stored one');
  });
}
