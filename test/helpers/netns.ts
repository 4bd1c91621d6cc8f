/**
 * Network namespaces and veth pairs for integration tests, with random short
 * names and guaranteed teardown (registered on the test before creation, so
 * a failing test still removes what it made).
 */
import { randomBytes } from 'node:crypto';
import { spawn } from 'node:child_process';
import type { Test } from 'tap';
import { run, sh } from './sh.js';

export const netnsPath = (name: string): string => `/run/netns/${name}`;

export function randomName(prefix: string): string {
  return `${prefix}${randomBytes(3).toString('hex')}`;
}

/** Creates a namespace with lo up and IPv6 DAD off; removed at teardown. */
export function createNetns(t: Test, prefix = 'vt'): string {
  const name = randomName(prefix);
  t.teardown(() => {
    run('ip', ['netns', 'del', name]);
  });
  sh('ip', ['netns', 'add', name]);
  nsExec(name, ['ip', 'link', 'set', 'lo', 'up']);
  nsExec(name, ['sysctl', '-qw', 'net.ipv6.conf.all.accept_dad=0', 'net.ipv6.conf.default.accept_dad=0']);
  return name;
}

export function nsExec(ns: string, argv: string[], timeoutMs?: number): string {
  const [cmd, ...args] = argv;
  return sh('ip', ['netns', 'exec', ns, cmd as string, ...args], timeoutMs !== undefined ? { timeoutMs } : {});
}

export function nsRun(ns: string, argv: string[], timeoutMs?: number): { status: number; stdout: string; stderr: string } {
  return run('ip', ['netns', 'exec', ns, ...argv], timeoutMs);
}

export interface VethEnd {
  name: string;
  ns?: string;
  ip?: string; // CIDR
  mac?: string;
}

/** Creates a veth pair whose ends may sit in namespaces; removed at teardown. */
export function createVeth(t: Test, a: VethEnd, b: VethEnd): void {
  t.teardown(() => {
    // Deleting one end removes the pair; the namespace's removal does too.
    if (a.ns) run('ip', ['-n', a.ns, 'link', 'del', a.name]);
    else run('ip', ['link', 'del', a.name]);
  });
  // Each end is created directly in its namespace, so both may be called eth0.
  const where = (e: VethEnd): string[] => (e.ns ? ['netns', e.ns] : []);
  sh('ip', ['link', 'add', a.name, ...where(a), 'type', 'veth', 'peer', 'name', b.name, ...where(b)]);
  for (const end of [a, b]) {
    const ip = end.ns ? ['ip', '-n', end.ns] : ['ip'];
    const [c, ...rest] = ip;
    if (end.mac) sh(c as string, [...rest, 'link', 'set', end.name, 'address', end.mac]);
    if (end.ip) sh(c as string, [...rest, 'addr', 'add', end.ip, 'dev', end.name]);
    sh(c as string, [...rest, 'link', 'set', end.name, 'up']);
  }
}

/** Pings from a namespace; returns how many replies came back. */
export function ping(ns: string, dst: string, count = 3, extra: string[] = []): number {
  const r = nsRun(ns, ['ping', '-c', String(count), '-i', '0.2', '-W', '1', '-q', ...extra, dst], 20_000);
  const m = /(\d+) (?:packets )?received/.exec(r.stdout);
  return m ? Number(m[1]) : 0;
}

/**
 * Sends `payload` over TCP from one namespace to a listener in another and
 * returns what the listener received (netcat-openbsd on both ends).
 */
export async function tcpTransfer(serverNs: string, clientNs: string, ip: string, port: number, payload: string, lineDelayS = 0): Promise<{ received: string; clientStatus: number; clientStderr: string }> {
  const server = spawn('ip', ['netns', 'exec', serverNs, 'timeout', '10', 'nc', '-l', String(port)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let received = '';
  server.stdout.on('data', (d: Buffer) => (received += d.toString()));
  const closed = new Promise<void>((resolve) => server.on('close', () => resolve()));
  await new Promise((r) => setTimeout(r, 300)); // let it listen
  // With a line delay, the client sends one line at a time (a long-lived flow).
  const argv = lineDelayS > 0
    ? ['netns', 'exec', clientNs, 'timeout', '20', 'sh', '-c', `while IFS= read -r l; do printf '%s\\n' "$l"; sleep ${lineDelayS}; done | nc -q 1 -w 3 ${ip} ${port}`]
    : ['netns', 'exec', clientNs, 'timeout', '8', 'nc', '-q', '1', '-w', '3', ip, String(port)];
  const client = await new Promise<{ status: number; stderr: string }>((resolve) => {
    const c = spawn('ip', argv, { stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    c.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    c.on('close', (code) => resolve({ status: code ?? -1, stderr }));
    c.stdin.end(payload);
  });
  await closed;
  return { received, clientStatus: client.status, clientStderr: client.stderr };
}
