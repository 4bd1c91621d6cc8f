/**
 * Defect 5: changes to one topology are serialised by a lock (flock on /run/vnf/<name>.lock).
 * Whoever waits says for whom; a holder that dies releases the lock with its descriptor (there
 * is no stale lock); two concurrent attaches to one topology both end up attached.
 */
import t, { type Test } from 'tap';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { requirePrivileges } from '../helpers/privilege.js';
import { vnfctl } from '../helpers/cli.js';
import { labUp, TWO_NETS } from '../helpers/lab.js';
import { ping } from '../helpers/netns.js';
import { ROOT } from '../helpers/paths.js';
import { getTopology, handContainer, vnfctlStart, waitFor } from '../helpers/vnf.js';

/** A child process that takes the topology's lock with the real withLock and sleeps inside it. */
async function holdLock(t: Test, topology: string): Promise<{ pid: number; kill(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'vnf-lock-'));
  const script = join(dir, 'hold.mjs');
  writeFileSync(script, `
import { withLock } from ${JSON.stringify(pathToFileURL(join(ROOT, 'dist', 'src', 'apply', 'lock.js')).href)};
await withLock(process.argv[2], async () => {
  process.stdout.write('locked\\n');
  await new Promise((r) => setTimeout(r, 600_000));
});
`);
  const p = spawn(process.execPath, [script, topology], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  p.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((resolve) => p.on('close', () => resolve()));
  t.teardown(async () => {
    p.kill('SIGKILL');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  });
  await waitFor(() => out.includes('locked'), 'the holder to take the lock');
  return {
    pid: p.pid!,
    async kill() {
      p.kill('SIGKILL'); // no cleanup code runs: only the kernel can release the lock
      await exited;
    },
  };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

if (requirePrivileges(t)) {
  t.test('apply waits for the holder of the lock, says whom it waits for, and runs once the holder is killed', async (t) => {
    const lab = labUp(t, TWO_NETS, ['a', 'b', 'c']);
    writeFileSync(lab.file, TWO_NETS.replace('right: { subnet: 10.61.2.0/24 }', 'right: { subnet: 10.61.2.0/24 }\n  extra: { subnet: 10.61.9.0/24 }').replaceAll('NAME', lab.name));
    const holder = await holdLock(t, lab.name);

    const apply = vnfctlStart(t, ['apply', '-f', lab.file]);
    await waitFor(() => /waiting for/.test(apply.stderr()), 'apply to say it waits');
    t.match(apply.stderr(), new RegExp(`^waiting for vnf-ctl pid ${holder.pid} \\(${lab.name}\\) to finish changing this topology`), 'it names the holder by pid');
    await sleep(1500);
    t.equal(apply.exitCode(), null, 'and keeps waiting while the lock is held');
    t.notOk(getTopology(lab.name).networks.some((n) => n.network === 'extra'), 'nothing was applied meanwhile');

    await holder.kill();
    const r = await Promise.race([apply.done, sleep(30_000).then(() => undefined)]);
    t.ok(r, 'apply finished once the holder died');
    t.equal(r?.status, 0, `apply succeeded: ${r?.stderr}`);
    t.equal(r?.stderr.split('\n').filter((l) => /waiting for/.test(l)).length, 1, 'it said so once');
    t.ok(getTopology(lab.name).networks.some((n) => n.network === 'extra'), 'the change is applied');

    const again = vnfctl(['apply', '-f', lab.file], { timeoutMs: 20_000 });
    t.equal(again.status, 0, 'the next apply takes the lock at once: no stale lock');
    t.notMatch(again.stderr, /waiting/, 'without waiting');
    t.match(again.stdout, /no changes/);
  });

  t.test('two concurrent attaches to one topology: both end up attached', async (t) => {
    const lab = labUp(t, TWO_NETS, ['a', 'b', 'c']);
    const x = handContainer(t, '10.61.2.50/24', '10.61.2.1');
    const y = handContainer(t, '10.61.2.51/24', '10.61.2.1');
    // Both start while the lock is held, so both read the same record and race for the lock.
    const holder = await holdLock(t, lab.name);
    const ax = vnfctlStart(t, ['attach', x.host, '--topology', lab.name, '--network', 'right', '--ip', '10.61.2.50/24', '--netns', x.netnsPath]);
    const ay = vnfctlStart(t, ['attach', y.host, '--topology', lab.name, '--network', 'right', '--ip', '10.61.2.51/24', '--netns', y.netnsPath]);
    await waitFor(() => /waiting for/.test(ax.stderr()) && /waiting for/.test(ay.stderr()), 'both attaches to wait for the lock');
    await holder.kill();
    const [rx, ry] = await Promise.all([ax.done, ay.done]);
    t.equal(rx.status, 0, `attach ${x.host}: ${rx.stderr}`);
    t.equal(ry.status, 0, `attach ${y.host}: ${ry.stderr}`);
    const attached = getTopology(lab.name).interfaces.filter((i) => i.owner === 'attached').map((i) => i.ifname).sort();
    t.same(attached, [x.host, y.host].sort(), 'both interfaces are attached (none lost)');
    t.equal(ping(x.ns, '10.61.1.10', 2), 2, 'x carries traffic');
    t.equal(ping(y.ns, '10.61.1.10', 2), 2, 'y carries traffic');
    t.match(vnfctl(['plan', '-f', lab.file]).stdout, /no changes/, 'and an apply of the file would keep both');
  });
}
