/**
 * Running commands for the bench: synchronous ones that throw with their stderr, and background
 * ones in their own process group (so a stop kills the whole group: `ip netns exec` and whatever
 * it started), each registered with a Cleanup so that nothing outlives the scenario.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { openSync, closeSync, readFileSync } from 'node:fs';
import type { Cleanup } from './cleanup.js';

export class CommandError extends Error {
  override name = 'CommandError';
}

export interface RunOptions {
  input?: string;
  timeoutMs?: number;
  /** Return the result instead of throwing on a non-zero exit. */
  check?: boolean;
}

export interface RunResult {
  status: number;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion; throws with its stderr on failure (unless check: false). */
export function run(argv: string[], opts: RunOptions = {}): RunResult {
  const r = spawnSync(argv[0]!, argv.slice(1), {
    encoding: 'utf8',
    maxBuffer: 512 * 1024 * 1024,
    ...(opts.input !== undefined ? { input: opts.input } : {}),
    ...(opts.timeoutMs ? { timeout: opts.timeoutMs, killSignal: 'SIGKILL' as const } : {}),
  });
  if (r.error) throw new CommandError(`${argv.join(' ')}: ${r.error.message}`);
  const res = { status: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
  if (opts.check !== false && res.status !== 0) {
    const why = (res.stderr || res.stdout).trim().split('\n').slice(-5).join(' | ');
    throw new CommandError(`${argv.slice(0, 8).join(' ')}${argv.length > 8 ? ' …' : ''} exited ${r.signal ?? res.status}: ${why}`);
  }
  return res;
}

export const sh = (...argv: string[]): string => run(argv).stdout;

/** A command inside a network namespace. */
export const inNs = (ns: string, argv: string[]): string[] => ['ip', 'netns', 'exec', ns, ...argv];

/** What runs a command in namespace `ns`: `ip netns exec ns`, or nothing for this machine's own (undefined). */
export const netnsExec = (ns: string | undefined): string[] => (ns === undefined ? [] : ['ip', 'netns', 'exec', ns]);

export interface Background {
  pid: number;
  argv: string[];
  /** Resolves when the process has exited: its exit code (null when a signal ended it, see `signal`). */
  exited: Promise<number | null>;
  /** The signal that ended it, once it has exited by one. */
  readonly signal: NodeJS.Signals | null;
  readonly running: boolean;
  /** What it wrote (stdout and stderr, in one file). */
  output(): string;
  /** SIGINT (or the given signal) to the whole group, then SIGKILL after graceMs. */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<void>;
}

/**
 * Starts a background command in a new process group; its output goes to a file in `dir`.
 * The cleanup stops the whole group (SIGTERM, then SIGKILL) if the caller did not.
 */
export function background(argv: string[], cleanup: Cleanup, dir: string, tag: string): Background {
  const logPath = `${dir}/${tag}.log`;
  const fd = openSync(logPath, 'w');
  let child: ChildProcess;
  try {
    child = spawn(argv[0]!, argv.slice(1), { detached: true, stdio: ['ignore', fd, fd] });
  } finally {
    closeSync(fd);
  }
  const pid = child.pid;
  if (pid === undefined) throw new CommandError(`could not start ${argv.join(' ')}`);
  let running = true;
  let signal: NodeJS.Signals | null = null;
  const exited = new Promise<number | null>((resolve) => {
    child.on('exit', (code, sig) => {
      running = false;
      signal = sig;
      resolve(code);
    });
    child.on('error', () => {
      running = false;
      resolve(null);
    });
  });
  const killGroup = (sig: NodeJS.Signals): void => {
    try {
      process.kill(-pid, sig);
    } catch {
      /* the group is gone */
    }
  };
  const bg: Background = {
    pid,
    argv,
    exited,
    get running() {
      return running;
    },
    get signal() {
      return signal;
    },
    output: () => {
      try {
        return readFileSync(logPath, 'utf8');
      } catch {
        return '';
      }
    },
    async stop(signal: NodeJS.Signals = 'SIGINT', graceMs = 2000): Promise<void> {
      killGroup(signal);
      const t = setTimeout(() => killGroup('SIGKILL'), graceMs);
      await exited;
      clearTimeout(t);
      killGroup('SIGKILL'); // anything left in the group (children that ignored the signal)
    },
  };
  cleanup.defer(`stop ${argv.slice(0, 6).join(' ')} (process group ${pid})`, () => bg.stop('SIGTERM', 1000), () => killGroup('SIGKILL'));
  return bg;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Monotonic seconds. */
export const now = (): number => Number(process.hrtime.bigint()) / 1e9;
