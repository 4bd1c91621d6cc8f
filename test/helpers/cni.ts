/**
 * Driving the built CNI plugin (dist/vnf-cni.js) the way a runtime does: CNI_* in the
 * environment, the network configuration on stdin, JSON on stdout.
 */
import { spawn, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './paths.js';

export interface CniEnv {
  CNI_COMMAND?: string;
  CNI_CONTAINERID?: string;
  CNI_NETNS?: string;
  CNI_IFNAME?: string;
  CNI_PATH?: string;
}

export interface CniRun {
  status: number;
  stdout: string;
  stderr: string;
  /** stdout parsed, when it is JSON. */
  json: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

const PLUGIN = join(ROOT, 'dist', 'vnf-cni.js');

function environment(env: CniEnv): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = { PATH: process.env['PATH'] ?? '/usr/sbin:/usr/bin:/sbin:/bin', CNI_PATH: '/usr/lib/cni' };
  for (const [k, v] of Object.entries(env)) if (v !== undefined) out[k] = v;
  return out;
}

function parsed(status: number | null, stdout: string, stderr: string): CniRun {
  let json: unknown;
  try {
    json = stdout.trim() ? JSON.parse(stdout) : undefined;
  } catch {
    json = undefined;
  }
  return { status: status ?? -1, stdout, stderr, json };
}

const input = (conf: unknown): string => (typeof conf === 'string' ? conf : JSON.stringify(conf));

/** Runs a plugin (ours unless `bin` is given) once. */
export function cni(env: CniEnv, conf: unknown, bin = PLUGIN): CniRun {
  const argv = bin === PLUGIN ? [process.execPath, PLUGIN] : [bin];
  const r = spawnSync(argv[0]!, argv.slice(1), { input: input(conf), encoding: 'utf8', env: environment(env), timeout: 60_000 });
  return parsed(r.status, r.stdout, r.stderr);
}

/** The same, without waiting: for concurrent ADDs. */
export function cniAsync(env: CniEnv, conf: unknown): Promise<CniRun> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [PLUGIN], { env: environment(env) });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.on('close', (code) => resolve(parsed(code, stdout, stderr)));
    p.stdin.end(input(conf));
  });
}

/**
 * Host-side interfaces the plugin made, found by their alias `vnf-cni:<network>:<container>:<ifname>`;
 * `container` matches a prefix of the container id.
 */
export function cniHostLinks(filter: { network?: string; container?: string }): string[] {
  return readdirSync('/sys/class/net').filter((n) => {
    if (!/^vnf[0-9a-f]{11}$/.test(n)) return false;
    let alias: string;
    try {
      alias = readFileSync(`/sys/class/net/${n}/ifalias`, 'utf8').trim();
    } catch {
      return false;
    }
    const [tag, network, container] = alias.split(':');
    if (tag !== 'vnf-cni') return false;
    if (filter.network !== undefined && network !== filter.network) return false;
    return filter.container === undefined || (container ?? '').startsWith(filter.container);
  });
}
