/**
 * A real etcd (Debian's etcd-server) for tests: random free ports, a temporary data directory,
 * healthy before it is handed out, and always killed and removed at teardown. `stop()` and
 * `start()` again on the same data directory simulate an outage. `netns` runs it inside a
 * namespace, listening on an address there (the multi-host simulation's underlay).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, openSync, closeSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Test } from 'tap';

export interface Etcd {
  /** http://HOST:PORT, for --store. */
  url: string;
  dataDir: string;
  /** Stops it (SIGTERM, then SIGKILL after 5 s); the data stays. */
  stop(): Promise<void>;
  /** Starts it again on the same data directory and ports; resolves when healthy. */
  start(): Promise<void>;
  /** Its log so far (for failure messages). */
  log(): string;
}

export interface EtcdOptions {
  /** The address it listens on (default 127.0.0.1). */
  host?: string;
  /** A network namespace to run it in (`ip netns exec`). */
  netns?: string;
}

/** A port nothing listens on now (on the host's loopback); in a namespace, a random high port. */
async function freePort(inNetns: boolean): Promise<number> {
  if (inNetns) return 20000 + Math.floor(Math.random() * 30000);
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => (a && typeof a === 'object' ? resolve(a.port) : reject(new Error('no port'))));
    });
  });
}

export async function startEtcd(t: Test, opts: EtcdOptions = {}): Promise<Etcd> {
  if (spawnSync('etcd', ['--version'], { encoding: 'utf8' }).status !== 0) {
    throw new Error('etcd is not installed (Debian package etcd-server; scripts/deps.sh installs it)');
  }
  const host = opts.host ?? '127.0.0.1';
  const dir = mkdtempSync(join(tmpdir(), 'vnf-etcd-'));
  const dataDir = join(dir, 'data');
  const logFile = join(dir, 'etcd.log');
  const clientPort = await freePort(opts.netns !== undefined);
  let peerPort = await freePort(opts.netns !== undefined);
  while (peerPort === clientPort) peerPort = await freePort(opts.netns !== undefined);
  const url = `http://${host}:${clientPort}`;
  const args = ['--name', 'vnf-test', '--data-dir', dataDir, '--listen-client-urls', url, '--advertise-client-urls', url,
    '--listen-peer-urls', `http://${host}:${peerPort}`, '--initial-advertise-peer-urls', `http://${host}:${peerPort}`,
    '--initial-cluster', `vnf-test=http://${host}:${peerPort}`, '--log-level', 'warn'];
  let proc: ChildProcess | undefined;

  const exited = (p: ChildProcess): Promise<void> => new Promise((r) => (p.exitCode !== null || p.signalCode !== null ? r() : p.once('exit', () => r())));

  async function healthy(): Promise<void> {
    const deadline = Date.now() + 15_000;
    // The namespace is not reachable from here: a short probe runs inside it.
    const probe = `fetch(${JSON.stringify(`${url}/health`)}).then(r=>r.json()).then(j=>process.exit(j.health==='true'?0:1),()=>process.exit(1))`;
    while (Date.now() < deadline) {
      if (!proc || proc.exitCode !== null) throw new Error(`etcd exited: ${readFileSync(logFile, 'utf8').slice(-2000)}`);
      if (opts.netns !== undefined) {
        if (spawnSync('ip', ['netns', 'exec', opts.netns, process.execPath, '-e', probe], { timeout: 3000 }).status === 0) return;
      } else {
        try {
          const r = await fetch(`${url}/health`, { signal: AbortSignal.timeout(1000) });
          if (r.ok && ((await r.json()) as { health?: string }).health === 'true') return;
        } catch {
          /* not yet */
        }
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`etcd at ${url} not healthy after 15 s: ${readFileSync(logFile, 'utf8').slice(-2000)}`);
  }

  async function start(): Promise<void> {
    if (proc && proc.exitCode === null && proc.signalCode === null) return;
    const fd = openSync(logFile, 'a');
    const argv = opts.netns !== undefined ? ['ip', ['netns', 'exec', opts.netns, 'etcd', ...args]] as const : ['etcd', args] as const;
    proc = spawn(argv[0], [...argv[1]], { stdio: ['ignore', fd, fd] });
    closeSync(fd);
    await healthy();
  }

  async function stop(): Promise<void> {
    const p = proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    p.kill('SIGTERM');
    const timer = setTimeout(() => p.kill('SIGKILL'), 5000);
    await exited(p);
    clearTimeout(timer);
  }

  t.teardown(async () => {
    if (proc && proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGKILL');
      await exited(proc);
    }
    rmSync(dir, { recursive: true, force: true });
  });
  await start();
  return { url, dataDir, stop, start, log: () => readFileSync(logFile, 'utf8') };
}
