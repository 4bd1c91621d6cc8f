/**
 * Background processes in a namespace, each the leader of its own process group, so that
 * stopping one stops everything it started (shell loops, pipes, nc, ping) — at teardown too,
 * even when the test fails. Killing only the `sh` would leave its children running forever.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { Test } from 'tap';

export interface Background {
  proc: ChildProcess;
  /** Everything it wrote to stdout and stderr so far. */
  out(): string;
  /** Sends `signal` to its whole process group; resolves when it has exited. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

export function background(t: Test, ns: string, script: string): Background {
  const proc = spawn('ip', ['netns', 'exec', ns, 'sh', '-c', script], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const closed = new Promise<void>((r) => proc.on('close', () => r()));
  const signalGroup = (signal: NodeJS.Signals): void => {
    try {
      process.kill(-proc.pid!, signal);
    } catch {
      /* already gone */
    }
  };
  t.teardown(async () => {
    signalGroup('SIGKILL');
    await closed;
  });
  return {
    proc,
    out: () => out,
    async stop(signal = 'SIGKILL') {
      signalGroup(signal);
      await closed;
    },
  };
}
