/**
 * A copy of what the built CLI needs to run (dist, package.json, the addon, the runtime npm
 * packages) in a world-readable temporary folder: a test that runs vnf-ctl as another user must
 * not depend on where the checkout lives (a clone under /root or a mkdtemp folder is 0700).
 */
import { chmodSync, cpSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import type { Test } from 'tap';
import { ROOT } from './paths.js';

/** The runtime npm packages (no dev dependencies), as paths relative to the project root. */
function runtimePackages(): string[] {
  const r = spawnSync('npm', ['ls', '--omit=dev', '--parseable', '--all'], { cwd: ROOT, encoding: 'utf8' });
  return r.stdout.split('\n').map((l) => l.trim()).filter((l) => l && l !== ROOT).map((l) => relative(ROOT, l));
}

/** Returns the folder holding the copy (dist/vnf-ctl.js runs from it); removed at teardown. */
export function readableCopy(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'vnf-ro-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  for (const p of ['dist', 'package.json', 'binding.gyp', join('build', 'Release', 'vnf_native.node'), ...runtimePackages()]) {
    mkdirSync(dirname(join(dir, p)), { recursive: true });
    cpSync(join(ROOT, p), join(dir, p), { recursive: true });
  }
  chmodSync(dir, 0o755);
  spawnSync('chmod', ['-R', 'a+rX', dir]);
  return dir;
}

/**
 * Runs the copy's vnf-ctl as nobody (uid/gid 65534, no capabilities). The environment is the
 * test's without NODE_OPTIONS: tap puts its own loader there, a path inside the checkout's
 * node_modules, which nobody may not be able to read.
 */
export function runCopyAsNobody(copy: string, args: string[], timeoutMs = 30_000): { status: number; stdout: string; stderr: string } {
  // `env -u`, not a filtered env object: tap's process tracking puts its loader back into the
  // environment of every child it sees spawned.
  const r = spawnSync('env', ['-u', 'NODE_OPTIONS', 'setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all',
    process.execPath, join(copy, 'dist', 'vnf-ctl.js'), ...args], { encoding: 'utf8', timeout: timeoutMs });
  return { status: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}
