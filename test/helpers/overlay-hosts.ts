/**
 * Several vnf hosts on one machine for overlay tests: each host is a network namespace (its
 * containers' host-side veths, its VXLAN device, its end of the underlay) whose dataplane is
 * applied by a child process in a private mount namespace (its own bpffs and /run/vnf). The
 * pins vanish with that mount namespace, so the child stays alive until the test ends (it exits
 * when its stdin closes). Everything is removed at teardown, even on failure.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Test } from 'tap';
import { hostVethName } from '../../src/model/names.js';
import type { OverlayModel } from '../../src/vnf/overlay/model.js';
import { createNetns, nsExec, randomName } from './netns.js';
import { ROOT } from './paths.js';
import { sh } from './sh.js';

/** Parses a topology file, makes it a host's slice (VNIs, ext.overlay) and applies it; stays until stdin closes. */
const APPLY_SCRIPT = `
import { parseTopology } from ${JSON.stringify(join(ROOT, 'dist/src/spec/index.js'))};
import { applyTopology, planTopology } from ${JSON.stringify(join(ROOT, 'dist/src/ops/topology.js'))};
const r = parseTopology(process.env.VNF_TEST_YAML);
if (!r.ok) { console.error(JSON.stringify(r.issues)); process.exit(2); }
const slice = JSON.parse(process.env.VNF_TEST_SLICE);
for (const n of r.topology.networks) n.vni = slice.vnis[n.name];
r.topology.ext.overlay = slice;
try {
  await applyTopology(r.topology);
} catch (e) {
  console.error(e.stack ?? String(e));
  process.exit(1);
}
// A second plan against what the first apply left: it must be empty.
process.stdout.write('applied, then planned ' + planTopology(r.topology).plan.ops.length + ' ops\\n');
process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
`;

export interface SimHost {
  name: string;
  ns: string;
  underlay: number;
  /** The VXLAN device in ns. */
  device: string;
}

export interface SimContainer {
  name: string;
  ns: string;
  host: SimHost;
  network: string;
  ip: string;
  prefix: number;
  mac: string;
}

/** Two host namespaces joined by a veth (the underlay), each with a VXLAN device (external mode). */
export function simHosts(t: Test, names: string[], subnet = '10.251.0'): SimHost[] {
  if (names.length !== 2) throw new Error('simHosts: two hosts (one veth) only');
  const hosts = names.map((name, i) => ({ name, ns: createNetns(t, 'vh'), underlay: ipNum(`${subnet}.${i + 1}`), device: 'vx0' }));
  const [a, b] = [randomName('vu'), randomName('vu')];
  sh('ip', ['link', 'add', a, 'netns', hosts[0]!.ns, 'type', 'veth', 'peer', 'name', b, 'netns', hosts[1]!.ns]);
  hosts.forEach((h, i) => {
    const dev = i === 0 ? a : b;
    nsExec(h.ns, ['sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1']);
    nsExec(h.ns, ['ip', 'addr', 'add', `${subnet}.${i + 1}/24`, 'dev', dev]);
    nsExec(h.ns, ['ip', 'link', 'set', dev, 'up']);
    nsExec(h.ns, ['ip', 'link', 'add', h.device, 'type', 'vxlan', 'external', 'dstport', '4789']);
    nsExec(h.ns, ['ip', 'link', 'set', h.device, 'up']);
  });
  return hosts;
}

/** A container namespace with eth0 (MTU `mtu`), whose host end (named as vnf names it) sits in its host's namespace. */
export function simContainer(t: Test, topology: string, c: Omit<SimContainer, 'ns'>, gateway: string | undefined, mtu: number): SimContainer {
  const ns = createNetns(t, 'vc');
  nsExec(ns, ['sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1']);
  const hostEnd = hostVethName(topology, c.name, 'eth0');
  const tmp = randomName('vp');
  sh('ip', ['link', 'add', hostEnd, 'netns', c.host.ns, 'type', 'veth', 'peer', 'name', tmp, 'netns', ns]);
  nsExec(c.host.ns, ['ip', 'link', 'set', hostEnd, 'up']);
  nsExec(ns, ['ip', 'link', 'set', tmp, 'name', 'eth0']);
  nsExec(ns, ['ip', 'link', 'set', 'eth0', 'address', c.mac, 'mtu', String(mtu), 'up']);
  nsExec(ns, ['ip', 'addr', 'add', `${c.ip}/${c.prefix}`, 'dev', 'eth0']);
  if (gateway) nsExec(ns, ['ip', 'route', 'add', 'default', 'via', gateway]);
  return { ...c, ns };
}

/** Applies `yaml` as host `h`'s slice in a child process that keeps the dataplane pinned until teardown. */
export async function applySlice(t: Test, h: SimHost, yaml: string, slice: OverlayModel): Promise<{ child: ChildProcess; replanOps: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'vnf-ovl-'));
  const script = join(dir, 'apply.mjs');
  writeFileSync(script, APPLY_SCRIPT);
  const child = spawn('ip', ['netns', 'exec', h.ns, 'unshare', '--mount', '--propagation', 'private', 'sh', '-c',
    'mount -t bpf bpf /sys/fs/bpf && mkdir -p /run/vnf && mount -t tmpfs tmpfs /run/vnf && exec node "$0"', script], {
    stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, VNF_TEST_YAML: yaml, VNF_TEST_SLICE: JSON.stringify(slice) },
  });
  const exited = new Promise<void>((resolve) => child.on('close', () => resolve()));
  t.teardown(async () => {
    child.stdin?.end();
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
    rmSync(dir, { recursive: true, force: true });
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  await new Promise<void>((resolve, reject) => {
    const done = (e?: Error): void => {
      clearInterval(check);
      clearTimeout(timer);
      if (e) reject(e);
      else resolve();
    };
    const check = setInterval(() => {
      if (/planned \d+ ops/.test(out)) done();
    }, 50);
    const timer = setTimeout(() => done(new Error(`apply on ${h.name} timed out: ${err}`)), 60_000);
    child.on('close', (code) => done(new Error(`apply on ${h.name} exited ${code}: ${err}`)));
  });
  return { child, replanOps: Number(/planned (\d+) ops/.exec(out)![1]) };
}

/** Runs vnf-ctl in the host's network and mount namespace (where its pins are), as `child` sees them. */
export function vnfctlIn(child: ChildProcess, args: string[]): { status: number; stdout: string; stderr: string } {
  const r = spawnSync('nsenter', ['-t', String(child.pid), '-m', '-n', process.execPath, join(ROOT, 'dist', 'vnf-ctl.js'), ...args], { encoding: 'utf8', timeout: 30_000 });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** A counter of a device in a host's namespace (/sys/class/net/DEV/statistics/NAME). */
export function devStat(h: SimHost, dev: string, name: string): number {
  return Number(nsExec(h.ns, ['cat', `/sys/class/net/${dev}/statistics/${name}`]).trim());
}

export function ipNum(s: string): number {
  return s.split('.').reduce((a, x) => a * 256 + Number(x), 0);
}
