/**
 * A real etcd server (Debian's etcd-server) inside the underlay namespace, listening on the
 * underlay bridge's address: the only store the simulated hosts share — or, for tests of the CLI
 * alone, in this machine's own namespace on 127.0.0.1 (`ns` undefined). Its data directory is a
 * temporary folder that outlives stop() so that start() brings the same store back (the outage
 * test); the cleanup stops it and removes the folder.
 */
import { randomInt } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Cleanup } from '../cleanup.js';
import { background, netnsExec, run, sleep, type Background } from '../sys.js';

/**
 * An HTTP request from inside a namespace (a host, the underlay; undefined: this machine's own):
 * its status and body, or the failure (status 0). With `body`, a POST of that JSON (etcd's gRPC
 * gateway: /v3/kv/put, …).
 */
export function httpIn(ns: string | undefined, url: string, o: { body?: unknown; timeoutMs?: number } = {}): { ok: boolean; status: number; body: string } {
  const timeoutMs = o.timeoutMs ?? 3000;
  const init = o.body === undefined ? '{}' : `{ method: 'POST', headers: { 'content-type': 'application/json' }, body: process.argv[2] }`;
  const script = `fetch(process.argv[1], { ...${init}, signal: AbortSignal.timeout(${timeoutMs}) }).then(async (r) => { console.log(JSON.stringify({ status: r.status, body: await r.text() })); }, (e) => { console.log(JSON.stringify({ status: 0, body: String(e && e.cause ? e.cause.code || e.cause : e) })); })`;
  const argv = [...netnsExec(ns), process.execPath, '-e', script, url, ...(o.body === undefined ? [] : [JSON.stringify(o.body)])];
  const r = run(argv, { check: false, timeoutMs: timeoutMs + 5000 });
  try {
    const j = JSON.parse(r.stdout.trim()) as { status: number; body: string };
    return { ok: j.status === 200, status: j.status, body: j.body };
  } catch {
    return { ok: false, status: 0, body: (r.stderr || r.stdout).trim().slice(-300) };
  }
}

const b64 = (s: string): string => Buffer.from(s).toString('base64');

export class Etcd {
  readonly url: string;
  readonly dataDir: string;
  private readonly clientPort = randomInt(20000, 40000);
  private readonly peerPort = this.clientPort + 1;
  private proc: Background | undefined;
  private starts = 0;

  constructor(readonly ns: string | undefined, readonly addr: string, private readonly cleanup: Cleanup, private readonly logDir: string) {
    this.url = `http://${addr}:${this.clientPort}`;
    this.dataDir = mkdtempSync(join(tmpdir(), 'vnf-sim-etcd-'));
    cleanup.defer(`remove ${this.dataDir}`, () => rmSync(this.dataDir, { recursive: true, force: true }));
  }

  get running(): boolean {
    return this.proc?.running ?? false;
  }

  get pid(): number | undefined {
    return this.proc?.pid;
  }

  /** Starts etcd (on the same data directory and ports as before) and waits until it is healthy. */
  async start(timeoutMs = 20_000): Promise<void> {
    if (this.running) return;
    const peer = `http://127.0.0.1:${this.peerPort}`;
    this.proc = background([...netnsExec(this.ns), 'etcd', '--name', 'sim', '--data-dir', this.dataDir,
      '--listen-client-urls', this.url, '--advertise-client-urls', this.url,
      '--listen-peer-urls', peer, '--initial-advertise-peer-urls', peer, '--initial-cluster', `sim=${peer}`,
      '--log-level', 'warn'], this.cleanup, this.logDir, `etcd-${this.ns ?? 'lo'}-${this.starts++}`);
    const until = Date.now() + timeoutMs;
    let last = '';
    while (Date.now() < until) {
      if (!this.proc.running) throw new Error(`etcd exited: ${this.proc.output().trim().slice(-500)}`);
      const r = httpIn(this.ns, `${this.url}/health`, { timeoutMs: 1000 });
      if (r.ok && /"health":\s*"true"/.test(r.body)) return;
      last = r.body;
      await sleep(100);
    }
    throw new Error(`etcd did not become healthy in ${timeoutMs} ms (${last}): ${this.proc.output().trim().slice(-500)}`);
  }

  /** Puts a key through etcd's HTTP gateway, from a namespace (default: the underlay). */
  put(key: string, value: string, fromNs: string | undefined = this.ns): void {
    const r = httpIn(fromNs, `${this.url}/v3/kv/put`, { body: { key: b64(key), value: b64(value) } });
    if (!r.ok) throw new Error(`etcd put ${key} from ${fromNs ?? 'the machine'}: ${r.status} ${r.body.slice(0, 300)}`);
  }

  /** A key's value through the HTTP gateway (undefined when absent); throws when etcd does not answer. */
  get(key: string, fromNs: string | undefined = this.ns): string | undefined {
    const r = httpIn(fromNs, `${this.url}/v3/kv/range`, { body: { key: b64(key) } });
    if (!r.ok) throw new Error(`etcd get ${key} from ${fromNs ?? 'the machine'}: ${r.status} ${r.body.slice(0, 300)}`);
    const kv = (JSON.parse(r.body) as { kvs?: Array<{ value?: string }> }).kvs?.[0];
    return kv ? Buffer.from(kv.value ?? '', 'base64').toString() : undefined;
  }

  /** Stops etcd (SIGTERM, then SIGKILL); the data directory stays. */
  async stop(): Promise<void> {
    await this.proc?.stop('SIGTERM', 5000);
  }
}
