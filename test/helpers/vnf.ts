/**
 * Reading a topology back through the real CLI (`get`/`stats -o json`), and containers made by
 * hand (a namespace and a veth pair whose host end is attached with `vnf-ctl attach`), for the
 * integration tests of the control plane. Everything created is removed at teardown, registered
 * before it is created.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Test } from 'tap';
import { vnfctl } from './cli.js';
import { createNetns, createVeth, nsExec, randomName } from './netns.js';
import { sh } from './sh.js';
import { ROOT } from './paths.js';

export interface Row {
  [k: string]: string | number | undefined;
}

export interface TopologyView {
  name: string;
  interfaces: Array<{ ifname: string; owner: string; network: string; ip: string; mac: string; chainIn: string[]; chainOut: string[]; links: string[] }>;
  networks: Array<{ network: string; id: number }>;
  fdb: Array<{ network: string; mac: string; ifname: string; kind: string }>;
  neighbours: Array<{ network: string; ip: string; mac: string | null; kind: string }>;
  [section: string]: unknown;
}

/** `vnf-ctl get NAME -o json`, parsed; throws with stderr when it fails. */
export function getTopology(name: string): TopologyView {
  const r = vnfctl(['get', name, '-o', 'json']);
  if (r.status !== 0) throw new Error(`vnf-ctl get ${name} failed (${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout) as TopologyView;
}

export interface StatsView {
  vnfs: Array<{ vnf: string; reason: string; packets: number }>;
  ports: Array<{ ifname: string; direction: string; packets: number }>;
}

export function getStats(name: string): StatsView {
  const r = vnfctl(['stats', name, '-o', 'json']);
  if (r.status !== 0) throw new Error(`vnf-ctl stats ${name} failed (${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout) as StatsView;
}

/** Packets counted by a VNF under a reason (e.g. 'bridge', 'drop:cross-network'). */
export const counted = (s: StatsView, vnf: string, reason: string): number =>
  s.vnfs.filter((v) => v.vnf === vnf && v.reason === reason).reduce((a, v) => a + v.packets, 0);

/** The MAC of an interface inside a namespace. */
export function macIn(ns: string, dev = 'eth0'): string {
  return (JSON.parse(nsExec(ns, ['ip', '-j', 'link', 'show', dev])) as Array<{ address: string }>)[0]!.address;
}

export interface HandContainer {
  /** Its namespace (ip netns name) and path. */
  ns: string;
  netnsPath: string;
  /** The host end of its veth, the interface to attach. */
  host: string;
  mac: string;
}

/**
 * A container made by hand: a namespace whose eth0 (address `ip`, CIDR) is the peer of a host-side
 * veth with a random name, and a default route via `gateway` when given.
 */
export function handContainer(t: Test, ip: string, gateway?: string): HandContainer {
  const ns = createNetns(t, 'vh');
  const host = randomName('vh');
  createVeth(t, { name: host }, { name: 'eth0', ns, ip });
  sh('sysctl', ['-qw', `net.ipv6.conf.${host}.disable_ipv6=1`]);
  if (gateway) nsExec(ns, ['ip', 'route', 'replace', 'default', 'via', gateway]);
  return { ns, netnsPath: `/run/netns/${ns}`, host, mac: macIn(ns) };
}

/** Every path under `dir`, recursively, sorted (to show a tree is untouched). */
export function tree(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      out.push(p);
      if (e.isDirectory()) walk(p);
    }
  };
  if (existsSync(dir)) walk(dir);
  return out.sort();
}

/** Mode (permission bits) and owner of a path, e.g. { mode: 0o700, uid: 0 }. */
export function modeOf(path: string): { mode: number; uid: number } {
  const st = statSync(path);
  return { mode: st.mode & 0o7777, uid: st.uid };
}

/**
 * Captures, in a namespace, the packets matching a tcpdump filter while `during` runs; returns
 * how many were seen. tcpdump starts first and is given time to open its socket.
 */
export async function capture(ns: string, dev: string, filter: string, during: () => unknown, seconds = 4): Promise<number> {
  const p = spawn('ip', ['netns', 'exec', ns, 'timeout', String(seconds), 'tcpdump', '-n', '-l', '-p', '-i', dev, filter], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  p.stdout.on('data', (d: Buffer) => (out += d.toString()));
  p.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const done = new Promise<void>((resolve) => p.on('close', () => resolve()));
  // tcpdump prints "listening on ..." to stderr once its socket is open.
  for (let i = 0; i < 50 && !/listening on/.test(err); i++) await new Promise((r) => setTimeout(r, 100));
  if (!/listening on/.test(err)) {
    p.kill('SIGKILL');
    throw new Error(`tcpdump did not start in ${ns}: ${err}`);
  }
  await during();
  await done;
  return out.split('\n').filter((l) => l.trim()).length;
}

/** A TCP connect attempt from a namespace (nc -z): 0 when the connection was made. */
export function tcpConnect(ns: string, ip: string, port: number, timeoutS = 2): number {
  const r = spawnSync('ip', ['netns', 'exec', ns, 'nc', '-z', '-w', String(timeoutS), ip, String(port)], { timeout: 15_000 });
  return r.status ?? -1;
}

/** Accepts TCP connections on a port in a namespace until teardown (at most `seconds`). */
export async function tcpListen(t: Test, ns: string, port: number, seconds = 120): Promise<void> {
  // Its own process group, so teardown ends the shell loop and nc with it, not just the first process.
  const p = spawn('ip', ['netns', 'exec', ns, 'timeout', String(seconds), 'sh', '-c', `while true; do nc -l ${port} >/dev/null; done`], { stdio: 'ignore', detached: true });
  t.teardown(() => {
    try {
      process.kill(-p.pid!, 'SIGKILL');
    } catch {
      /* already gone */
    }
  });
  await new Promise((r) => setTimeout(r, 400)); // let it listen
}

export interface Running {
  pid: number;
  /** What it printed so far. */
  stdout(): string;
  stderr(): string;
  /** Exit code once it ended, null while it runs. */
  exitCode(): number | null;
  done: Promise<{ status: number; stdout: string; stderr: string }>;
}

/** Starts the built vnf-ctl without waiting for it; it is killed at teardown if still running. */
export function vnfctlStart(t: Test, args: string[]): Running {
  const p = spawn(process.execPath, [join(ROOT, 'dist', 'vnf-ctl.js'), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  p.stdout.on('data', (d: Buffer) => (out += d.toString()));
  p.stderr.on('data', (d: Buffer) => (err += d.toString()));
  let code: number | null = null;
  const done = new Promise<{ status: number; stdout: string; stderr: string }>((resolve) => {
    p.on('close', (c, signal) => {
      code = c ?? (signal ? 128 : -1);
      resolve({ status: code, stdout: out, stderr: err });
    });
  });
  t.teardown(() => { if (code === null) p.kill('SIGKILL'); });
  return { pid: p.pid!, stdout: () => out, stderr: () => err, exitCode: () => code, done };
}

/** Waits until `cond` holds (polling), or throws after `ms` with `what`. */
export async function waitFor(cond: () => boolean, what: string, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
