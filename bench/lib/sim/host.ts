/**
 * A simulated host: its network namespace (ul0 on the underlay) and its own mount namespace with
 * its own bpffs on /sys/fs/bpf and tmpfs on /run/vnf. The mount namespace is held by a small
 * process (`sleep infinity`), not by the agent: pins live as long as the bpffs they are on is
 * mounted somewhere, so a mount namespace that died with its agent would take the host's whole
 * dataplane with it — and an agent that is SIGKILLed must leave its host forwarding. Agents
 * enter both namespaces with nsenter; start, SIGKILL, restart and stop are the test's to call.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Cleanup } from '../cleanup.js';
import { background, run, sleep, type Background, type RunResult } from '../sys.js';
import { UNDERLAY_IF } from './names.js';

/**
 * Run inside the host's fresh mount namespace. It first drops its copies of the machine's named
 * network namespaces (/run/netns): held here, they would keep other tests' namespaces — and their
 * veths — alive after those tests deleted them.
 */
const HOLDER_SCRIPT = 'umount -R /run/netns 2>/dev/null; mount -t bpf bpf /sys/fs/bpf && mkdir -p /run/vnf && mount -t tmpfs -o mode=0700 tmpfs /run/vnf && echo ready && exec sleep infinity';

export interface AgentOptions {
  /** Lease TTL in seconds (--ttl). */
  ttl?: number;
  /** The agent command (default: node dist/vnf-agent.js --host … --store … --underlay ul0). */
  argv?: string[];
}

export class SimHost {
  private holder: Background | undefined;
  private agentProc: Background | undefined;
  private agentStarts = 0;

  constructor(
    readonly name: string,
    readonly index: number,
    readonly ns: string,
    /** Its underlay address. */
    readonly addr: string,
    /** etcd's URL (undefined in a cluster without etcd: no agent can run). */
    private readonly store: string | undefined,
    readonly projectRoot: string,
    private readonly cleanup: Cleanup,
    private readonly logDir: string,
  ) {}

  /** Creates the host's mount namespace (bpffs, /run/vnf) inside its network namespace. */
  async boot(): Promise<void> {
    this.holder = background(['ip', 'netns', 'exec', this.ns, 'unshare', '--mount', '--propagation', 'private', '--', 'sh', '-c', HOLDER_SCRIPT],
      this.cleanup, this.logDir, `${this.ns}-mnt`);
    for (let i = 0; i < 100; i++) {
      if (this.holder.output().includes('ready')) return;
      if (!this.holder.running) throw new Error(`host ${this.name}: its mount namespace could not be set up: ${this.holder.output().trim().slice(-300)}`);
      await sleep(20);
    }
    throw new Error(`host ${this.name}: mount namespace not ready after 2 s`);
  }

  /** Runs a command inside the host's network and mount namespaces (as the agent sees the host). */
  enter(argv: string[]): string[] {
    if (!this.holder?.running) throw new Error(`host ${this.name} is not booted`);
    return ['nsenter', `--target=${this.holder.pid}`, '--mount', '--net', `--wd=${this.projectRoot}`, '--', ...argv];
  }

  agentArgv(o: AgentOptions = {}): string[] {
    if (o.argv) return o.argv;
    if (this.store === undefined) throw new Error(`host ${this.name}: its cluster has no etcd, so no agent can run`);
    return [process.execPath, join(this.projectRoot, 'dist', 'vnf-agent.js'), '--host', this.name, '--store', this.store,
      '--underlay', UNDERLAY_IF, ...(o.ttl !== undefined ? ['--ttl', String(o.ttl)] : [])];
  }

  /** Runs a command inside the host (see enter); its result, whatever its exit. */
  run(argv: string[], timeoutMs = 60_000): RunResult {
    return run(this.enter(argv), { check: false, timeoutMs });
  }

  /** vnf-ctl on the host itself (its pins, its /run/vnf), without --store. */
  ctl(args: string[], timeoutMs?: number): RunResult {
    return this.run([process.execPath, join(this.projectRoot, 'dist', 'vnf-ctl.js'), ...args], timeoutMs);
  }

  /** The process that holds the host's mount namespace. */
  get holderPid(): number | undefined {
    return this.holder?.running ? this.holder.pid : undefined;
  }

  get agentRunning(): boolean {
    return this.agentProc?.running ?? false;
  }

  get agentPid(): number | undefined {
    return this.agentRunning ? this.agentProc!.pid : undefined;
  }

  /** What the agent (all its runs) wrote. */
  agentOutput(): string {
    return this.agentProc?.output() ?? '';
  }

  /** Resolves when the running agent's output (this run's) matches `re`; throws after timeoutMs with that output. */
  async waitAgentOutput(re: RegExp, timeoutMs = 20_000): Promise<void> {
    const until = Date.now() + timeoutMs;
    while (!re.test(this.agentOutput())) {
      if (Date.now() > until) throw new Error(`host ${this.name}: the agent's output never matched ${re} in ${timeoutMs} ms:\n${this.agentOutput().slice(-2000)}`);
      await sleep(50);
    }
  }

  startAgent(o: AgentOptions = {}): Background {
    if (this.agentRunning) throw new Error(`host ${this.name}: its agent is running already`);
    this.agentProc = background(this.enter(this.agentArgv(o)), this.cleanup, this.logDir, `${this.ns}-agent-${this.agentStarts++}`);
    return this.agentProc;
  }

  /** SIGKILL: the agent gets no chance to clean up (its lease expires on its own). */
  async killAgent(): Promise<void> {
    await this.agentProc?.stop('SIGKILL', 0);
  }

  /** SIGTERM, then SIGKILL after graceMs. */
  async stopAgent(graceMs = 5000): Promise<void> {
    await this.agentProc?.stop('SIGTERM', graceMs);
  }

  async restartAgent(o: AgentOptions = {}): Promise<Background> {
    await this.killAgent();
    return this.startAgent(o);
  }

  /** Resident memory of the agent's node process, in KiB (VmRSS). */
  agentRssKiB(): number {
    const pid = this.agentPid;
    if (pid === undefined) throw new Error(`host ${this.name}: no agent running`);
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const m = /^VmRSS:\s+(\d+) kB/m.exec(status);
    if (!m) throw new Error(`host ${this.name}: no VmRSS in /proc/${pid}/status`);
    return Number(m[1]);
  }

  /** Stops the agent and lets the mount namespace go (its bpffs, pins and /run/vnf with it). */
  async shutdown(): Promise<void> {
    await this.stopAgent(2000);
    await this.holder?.stop('SIGKILL', 0);
  }
}
