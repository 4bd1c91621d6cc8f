/**
 * Podman (with CNI networks, as scripts/podman-setup.sh configures it) for the runtime tests:
 * CNI network configs for vnf networks, containers from the local busybox image, all removed at
 * teardown — registered before they are created.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Test } from 'tap';
import { run } from './sh.js';
import { ROOT } from './paths.js';

export const IMAGE = 'localhost/vnf-busybox:latest';
const NET_D = '/etc/cni/net.d';

/** Fails loudly unless podman and this checkout's plugin are installed (make test-setup). */
export function requirePodman(): void {
  const v = run('podman', ['--version']);
  if (v.status !== 0) throw new Error('podman is not installed: run `make test-setup` (make test does)');
  let wrapper = '';
  try {
    wrapper = readFileSync('/usr/lib/cni/vnf', 'utf8');
  } catch {
    /* reported below */
  }
  if (!wrapper.includes(join(ROOT, 'dist', 'vnf-cni.js'))) throw new Error(`/usr/lib/cni/vnf does not run this checkout's plugin: run \`make test-setup\` (make test does)`);
  if (run('podman', ['image', 'exists', IMAGE]).status !== 0) throw new Error(`no image ${IMAGE}: run \`make test-setup\``);
}

export function podman(args: string[], timeoutMs = 60_000): { status: number; stdout: string; stderr: string } {
  return run('podman', args, timeoutMs);
}

/** A CNI network config (/etc/cni/net.d/<name>.conflist) with the vnf plugin. */
export function cniNetwork(t: Test, name: string, plugin: Record<string, unknown>): string {
  const file = join(NET_D, `${name}.conflist`);
  t.teardown(() => rmSync(file, { force: true }));
  writeFileSync(file, JSON.stringify({ cniVersion: '1.0.0', name, plugins: [{ type: 'vnf', ...plugin }] }, null, 2));
  return name;
}

/** Starts a container (detached) on a network; removed at teardown. */
export function container(t: Test, name: string, network: string, command: string[] = ['sleep', '1000']): string {
  t.teardown(() => { podman(['rm', '-f', '-t', '0', name]); });
  const r = podman(['run', '-d', '--name', name, '--network', network, '--cap-add', 'NET_RAW', IMAGE, ...command]);
  if (r.status !== 0) throw new Error(`podman run ${name} failed (${r.status}): ${r.stderr}`);
  return name;
}

/** A container's address on a network, as podman recorded it from the plugin's result. */
export function addressOf(name: string, network: string): string {
  const r = podman(['inspect', '-f', `{{(index .NetworkSettings.Networks "${network}").IPAddress}}`, name]);
  if (r.status !== 0) throw new Error(`podman inspect ${name}: ${r.stderr}`);
  return r.stdout.trim();
}

export function exec(name: string, argv: string[], timeoutMs = 20_000): { status: number; stdout: string; stderr: string } {
  return podman(['exec', name, ...argv], timeoutMs);
}
