/**
 * Delegated IPAM: the configuration's `ipam.type` plugin (e.g. the reference host-local), found on
 * CNI_PATH and run with the same environment and configuration, as the spec's delegation says.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { CNI_CODES, CniError } from './errors.js';
import type { Env } from './config.js';

export interface IpamResult {
  ips?: Array<{ address: string; gateway?: string }>;
  routes?: Array<{ dst: string; gw?: string }>;
  dns?: unknown;
}

export function runIpam(type: string, command: 'ADD' | 'DEL' | 'CHECK' | 'GC', env: Env, stdin: string, over: { containerId?: string; ifname?: string } = {}): IpamResult | undefined {
  const bin = env.path.map((d) => join(d, type)).find((p) => existsSync(p));
  if (!bin) throw new CniError(CNI_CODES.ipam, `IPAM plugin ${type} not found on CNI_PATH (${env.path.join(':')})`);
  const r = spawnSync(bin, [], {
    input: stdin,
    encoding: 'utf8',
    env: {
      ...process.env,
      CNI_COMMAND: command,
      ...(over.containerId ? { CNI_CONTAINERID: over.containerId } : {}),
      ...(over.ifname ? { CNI_IFNAME: over.ifname } : {}),
    },
  });
  if (r.error) throw new CniError(CNI_CODES.ipam, `cannot run IPAM plugin ${type}: ${r.error.message}`);
  let out: unknown;
  try {
    out = r.stdout.trim() ? JSON.parse(r.stdout) : undefined;
  } catch {
    throw new CniError(CNI_CODES.ipam, `IPAM plugin ${type} printed something that is not JSON`, r.stdout.slice(0, 500));
  }
  if (r.status !== 0) {
    const e = out as { msg?: string; details?: string } | undefined;
    throw new CniError(CNI_CODES.ipam, `IPAM plugin ${type} failed: ${e?.msg ?? (r.stderr.trim() || `exit ${r.status}`)}`, e?.details ?? '');
  }
  return out as IpamResult | undefined;
}
