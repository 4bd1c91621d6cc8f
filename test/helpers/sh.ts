import { execFileSync, spawnSync } from 'node:child_process';

/** Runs a command, throwing with its stderr on failure; returns stdout. */
export function sh(cmd: string, args: string[], opts: { input?: string; timeoutMs?: number } = {}): string {
  try {
    return execFileSync(cmd, args, {
      encoding: 'utf8',
      stdio: ['pipe', 'pipe', 'pipe'],
      timeout: opts.timeoutMs ?? 30_000,
      ...(opts.input !== undefined ? { input: opts.input } : {}),
    });
  } catch (e) {
    const err = e as { stderr?: string; stdout?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')} failed: ${err.stderr || err.stdout || err.message}`);
  }
}

/** Runs a command and returns its exit status and output without throwing. */
export function run(cmd: string, args: string[], timeoutMs = 30_000): { status: number; stdout: string; stderr: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: timeoutMs });
  return { status: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}
