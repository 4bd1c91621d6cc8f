/**
 * A cluster of simulated hosts on this machine (tests import this file; the bench and the demo
 * use it compiled): the underlay namespace with its bridge and a real etcd (or one on this
 * machine's 127.0.0.1 for tests of the CLI alone, or none for hand-applied dataplanes), N hosts
 * with their own network and mount namespaces and (optionally) an agent each, containers on
 * them, and `vnf-ctl` run where the store is reachable. Everything it creates is undone by its cleanup —
 * `down()`, or the parent cleanup's close on failure — in reverse order: containers, agents,
 * hosts' mount namespaces, host namespaces, etcd, its data, the underlay.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { projectRoot } from '../../../src/native/binding.js';
import type { Cleanup } from '../cleanup.js';
import { netnsExec, run, sleep, type RunResult } from '../sys.js';
import { createContainer, type SimContainer } from './containers.js';
import { Etcd } from './etcd.js';
import { SimHost, type AgentOptions } from './host.js';
import { bridgeAddr, clusterNames, hostName, type ClusterNames } from './names.js';
import type { MultiHostTopology } from './topology.js';
import { createUnderlay, plugHost } from './underlay.js';

export interface ClusterOptions {
  hosts: number;
  /** Parent cleanup: the cluster's own is its child. */
  cleanup: Cleanup;
  /** Where logs (etcd, agents) go. */
  dir: string;
  /** Namespace prefix (default: random "vs…"). */
  prefix?: string;
  /** Start an agent on every host (default false: the caller starts them). */
  agents?: boolean | AgentOptions;
  /**
   * Where etcd runs: 'underlay' (default: in the underlay namespace, on the bridge's address,
   * reachable from every host), 'loopback' (this machine's own namespace on 127.0.0.1, for tests
   * of the CLI alone; vnf-ctl then runs here too), or false (none: hosts whose dataplanes are
   * applied by hand, without agents).
   */
  etcd?: 'underlay' | 'loopback' | false;
}

/** What `vnf-ctl get --store -o json` prints. */
export interface StoreView {
  topology: { name: string; revision: number } | null;
  hosts: Array<{ name: string; underlay: string; alive: boolean; appliedRevision: number | null; appliedAt: string | number | null; error: string | null }>;
  endpoints: unknown[];
}

export interface Converged {
  /** From `since` (default: the call) until every host had applied the revision, as this process saw it (polling). */
  ms: number;
  /**
   * From `sinceWall` (a Date.now() value) to the latest appliedAt the hosts reported: the agents'
   * own clock (this machine's), without the polling slack. Undefined without sinceWall or when a
   * host's appliedAt is not a time.
   */
  reportedMs?: number;
  /** Polls of `get` it took. */
  polls: number;
  view: StoreView;
}

export class CtlError extends Error {
  override name = 'CtlError';
  constructor(message: string, readonly result: RunResult) {
    super(message);
  }
}

export class Cluster {
  readonly hosts: SimHost[] = [];
  readonly root = projectRoot();
  private readonly store_: Etcd | undefined;

  private constructor(readonly names: ClusterNames, readonly cleanup: Cleanup, readonly dir: string, where: ClusterOptions['etcd']) {
    if (where === 'loopback') this.store_ = new Etcd(undefined, '127.0.0.1', cleanup, dir);
    else if (where !== false) this.store_ = new Etcd(names.underlay, bridgeAddr(names), cleanup, dir);
  }

  /** The cluster's etcd (throws for a cluster made without one). */
  get etcd(): Etcd {
    if (!this.store_) throw new Error(`cluster ${this.names.prefix} has no etcd (made with etcd: false)`);
    return this.store_;
  }

  /** Underlay, etcd, N hosts (and their agents when asked). On failure, what was made is removed. */
  static async up(o: ClusterOptions): Promise<Cluster> {
    const names = clusterNames(o.prefix);
    const cleanup = o.cleanup.child(`cluster ${names.prefix}`);
    try {
      createUnderlay(names, cleanup);
      const c = new Cluster(names, cleanup, o.dir, o.etcd ?? 'underlay');
      await c.store_?.start();
      await c.addHosts(o.hosts, o.agents);
      return c;
    } catch (e) {
      await cleanup.close();
      throw e;
    }
  }

  get store(): string {
    return this.etcd.url;
  }

  host(name: string): SimHost {
    const h = this.hosts.find((x) => x.name === name);
    if (!h) throw new Error(`no host ${name} in cluster ${this.names.prefix} (have ${this.hosts.map((x) => x.name).join(', ')})`);
    return h;
  }

  /** Adds n hosts (h<k+1> …), booted, with an agent each when asked. */
  async addHosts(n: number, agents?: boolean | AgentOptions): Promise<SimHost[]> {
    const added: SimHost[] = [];
    for (let k = 0; k < n; k++) {
      const i = this.hosts.length;
      const name = hostName(i);
      const { ns, addr } = plugHost(this.names, name, i, this.cleanup);
      const h = new SimHost(name, i, ns, addr, this.store_?.url, this.root, this.cleanup, this.dir);
      await h.boot();
      this.hosts.push(h);
      added.push(h);
    }
    if (agents) for (const h of added) h.startAgent(agents === true ? {} : agents);
    return added;
  }

  /** Creates every container of the topology on its host (those named in `only`, when given). */
  createContainers(mt: MultiHostTopology, only?: string[]): Map<string, SimContainer> {
    const out = new Map<string, SimContainer>();
    for (const c of mt.topology.containers) {
      if (only && !only.includes(c.name)) continue;
      out.set(c.name, createContainer(mt.topology.name, c, this.host(mt.hostOf.get(c.name)!), this.cleanup));
    }
    return out;
  }

  /** vnf-ctl … --store where etcd is reachable: the underlay namespace (or this machine's, for a loopback etcd). */
  private ctlArgv(args: string[]): string[] {
    return [...netnsExec(this.etcd.ns), process.execPath, join(this.root, 'dist', 'vnf-ctl.js'), ...args, '--store', this.store];
  }

  /** vnf-ctl with --store, where etcd is reachable (see ctlArgv). */
  ctlRun(args: string[], timeoutMs = 60_000): RunResult {
    return run(this.ctlArgv(args), { check: false, timeoutMs });
  }

  /** vnf-ctl … --store URL -o json: its parsed output; throws CtlError on a non-zero exit. */
  ctl<T = unknown>(args: string[], timeoutMs?: number): T {
    const r = this.ctlRun([...args, '-o', 'json'], timeoutMs);
    if (r.status !== 0) throw new CtlError(`vnf-ctl ${args.join(' ')} exited ${r.status}: ${(r.stderr || r.stdout).trim().slice(-800)}`, r);
    try {
      return JSON.parse(r.stdout) as T;
    } catch {
      throw new CtlError(`vnf-ctl ${args.join(' ')}: output is not JSON: ${r.stdout.slice(0, 300)}`, r);
    }
  }

  /** ctlRun without blocking the event loop (so packet checks can run beside it). */
  ctlRunAsync(args: string[], timeoutMs = 60_000): Promise<RunResult> {
    return new Promise((resolve) => {
      const [cmd, ...rest] = this.ctlArgv(args);
      const p = spawn(cmd!, rest, { stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const timer = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
      p.on('close', (code) => {
        clearTimeout(timer);
        resolve({ status: code ?? -1, stdout, stderr });
      });
    });
  }

  apply(file: string): { revision: number; changed: boolean } {
    return this.ctl(['apply', '-f', file]);
  }

  view(): StoreView {
    return this.ctl<StoreView>(['get']);
  }

  async viewAsync(): Promise<StoreView> {
    const r = await this.ctlRunAsync(['get', '-o', 'json']);
    if (r.status !== 0) throw new CtlError(`vnf-ctl get exited ${r.status}: ${(r.stderr || r.stdout).trim().slice(-800)}`, r);
    return JSON.parse(r.stdout) as StoreView;
  }

  /**
   * Polls `get` until every host whose agent runs (or the named ones) is alive and has applied
   * `revision` or later. Throws after timeoutMs with what each host reported. `since` (a
   * performance.now() value, e.g. when `apply` returned) is where the time starts (default: now).
   */
  async waitConverged(revision: number, timeoutMs = 30_000, o: { hosts?: string[]; since?: number; sinceWall?: number } = {}): Promise<Converged> {
    const t0 = o.since ?? performance.now();
    const want = o.hosts ?? this.hosts.filter((h) => h.agentRunning).map((h) => h.name);
    let polls = 0;
    let view: StoreView | undefined;
    let lastErr = '';
    while (performance.now() - t0 < timeoutMs) {
      polls++;
      try {
        view = await this.viewAsync();
        const ok = want.every((name) => {
          const h = view!.hosts.find((x) => x.name === name);
          return h !== undefined && h.alive && (h.appliedRevision ?? -1) >= revision;
        });
        if (ok) {
          const ms = performance.now() - t0;
          const at = want.map((name) => Date.parse(String(view!.hosts.find((x) => x.name === name)!.appliedAt)));
          const reported = o.sinceWall !== undefined && at.every(Number.isFinite) ? Math.max(...at) - o.sinceWall : undefined;
          return { ms, polls, view, ...(reported !== undefined ? { reportedMs: reported } : {}) };
        }
      } catch (e) {
        lastErr = (e as Error).message;
      }
      await sleep(20);
    }
    const seen = view ? view.hosts.map((h) => `${h.name} alive=${h.alive} applied=${h.appliedRevision}${h.error ? ` error=${h.error}` : ''}`).join('; ') : lastErr;
    throw new Error(`hosts ${want.join(', ')} did not converge on revision ${revision} in ${timeoutMs} ms: ${seen}`);
  }

  /** Removes everything of the cluster. Returns the problems met (none expected). */
  async down(): Promise<string[]> {
    return this.cleanup.close();
  }
}
