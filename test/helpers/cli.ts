import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { ROOT } from './paths.js';

/** Runs the built vnf-ctl (dist/vnf-ctl.js, as `make` builds it). */
export function vnfctl(args: string[], opts: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): { status: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [join(ROOT, 'dist', 'vnf-ctl.js'), ...args], {
    encoding: 'utf8',
    timeout: opts.timeoutMs ?? 60_000,
    env: opts.env ?? process.env,
    maxBuffer: 256 * 1024 * 1024, // a table of 100,000 connections as JSON is tens of megabytes

  });
  return { status: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}
