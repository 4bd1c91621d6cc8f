/**
 * Namespaces, veth pairs and interface counters for the bench. Every name carries the run's tag
 * (prefix "vnfb" for namespaces, "vb" for host-side interfaces), so a run that was killed can be
 * swept by the next one (see sweep.ts) and nothing of anyone else's is ever touched.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Cleanup } from './cleanup.js';
import { inNs, run, sh, sleep } from './sys.js';

export const NS_PREFIX = 'vnfb';
export const IF_PREFIX = 'vb';

/** Creates a namespace (loopback up, IPv6 off: no DAD, no router solicitations) and its undo. */
export function netns(name: string, cleanup: Cleanup): string {
  run(['ip', 'netns', 'add', name]);
  cleanup.defer(`delete namespace ${name}`, () => {
    run(['ip', 'netns', 'del', name], { check: false });
  });
  run(['ip', '-n', name, 'link', 'set', 'lo', 'up']);
  run(inNs(name, ['sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1']));
  return name;
}

/** Runs many `ip` commands in one process (-batch), optionally inside a namespace. */
export function ipBatch(dir: string, lines: string[], ns?: string): void {
  if (!lines.length) return;
  const file = join(dir, `batch-${process.hrtime.bigint()}.ip`);
  writeFileSync(file, lines.join('\n') + '\n');
  run(['ip', ...(ns ? ['-n', ns] : []), '-batch', file]);
}

export interface End {
  /** Namespace, or undefined for the root namespace. */
  ns?: string;
  name: string;
}

/**
 * A veth pair. An end in the root namespace gets deleted by the cleanup (an end inside a
 * namespace goes with the namespace, and takes its peer with it).
 */
export function veth(a: End, b: End, cleanup: Cleanup): void {
  const where = (e: End): string[] => (e.ns ? ['netns', e.ns] : []);
  run(['ip', 'link', 'add', a.name, ...where(a), 'type', 'veth', 'peer', 'name', b.name, ...where(b)]);
  const rootEnd = !a.ns ? a.name : !b.ns ? b.name : undefined;
  if (rootEnd) {
    cleanup.defer(`delete interface ${rootEnd}`, () => {
      run(['ip', 'link', 'del', rootEnd], { check: false });
    });
    // The host never speaks on a forwarding port.
    run(['sysctl', '-qw', `net.ipv6.conf.${rootEnd}.disable_ipv6=1`], { check: false });
  }
}

const ipn = (ns: string | undefined, ...args: string[]): string[] => ['ip', ...(ns ? ['-n', ns] : []), ...args];

export function addrUp(ns: string | undefined, ifname: string, cidr?: string): void {
  if (cidr) run(ipn(ns, 'addr', 'add', cidr, 'dev', ifname));
  run(ipn(ns, 'link', 'set', 'dev', ifname, 'up'));
}

export function sysctl(ns: string | undefined, ...kv: string[]): void {
  run(ns ? inNs(ns, ['sysctl', '-qw', ...kv]) : ['sysctl', '-qw', ...kv]);
}

interface LinkJson {
  address?: string;
  ifindex?: number;
  stats64?: { rx?: { packets: number; bytes: number; dropped: number }; tx?: { packets: number; bytes: number; dropped: number } };
}

function linkJson(ns: string | undefined, ifname: string, stats = false): LinkJson {
  const out = sh(...ipn(ns, '-j', ...(stats ? ['-s'] : []), 'link', 'show', 'dev', ifname));
  const j = JSON.parse(out) as LinkJson[];
  if (!j[0]) throw new Error(`no interface ${ifname}${ns ? ` in ${ns}` : ''}`);
  return j[0];
}

export function macOf(ns: string | undefined, ifname: string): string {
  const m = linkJson(ns, ifname).address;
  if (!m) throw new Error(`no MAC on ${ifname}`);
  return m;
}

export interface Counters {
  rxPackets: number;
  txPackets: number;
  rxDropped: number;
  txDropped: number;
}

/** The interface's packet counters (stats64), read from inside its namespace. */
export function counters(ns: string | undefined, ifname: string): Counters {
  const s = linkJson(ns, ifname, true).stats64;
  return { rxPackets: s?.rx?.packets ?? 0, txPackets: s?.tx?.packets ?? 0, rxDropped: s?.rx?.dropped ?? 0, txDropped: s?.tx?.dropped ?? 0 };
}

/** Pings until an answer (the path works, neighbours are resolved) or throws after `tries`. */
export async function reachable(ns: string, dst: string, what: string, tries = 5): Promise<void> {
  let last = '';
  for (let i = 0; i < tries; i++) {
    const r = run(inNs(ns, ['ping', '-c', '1', '-W', '1', '-q', dst]), { check: false });
    if (r.status === 0) return;
    last = (r.stdout + r.stderr).trim().split('\n').slice(-2).join(' | ');
    await sleep(200);
  }
  throw new Error(`${what}: ${dst} does not answer ping from namespace ${ns} (${last})`);
}

/**
 * The MAC a sender in `ns` puts on frames to `dst`: the destination's own when it is on-link,
 * else its gateway's (resolved by a ping first).
 */
export async function nextHopMac(ns: string, dst: string, what: string): Promise<string> {
  await reachable(ns, dst, what);
  const route = JSON.parse(sh('ip', '-n', ns, '-j', 'route', 'get', dst)) as Array<{ gateway?: string; dev: string }>;
  const hop = route[0]?.gateway ?? dst;
  const neigh = JSON.parse(sh('ip', '-n', ns, '-j', 'neigh', 'show', hop)) as Array<{ lladdr?: string }>;
  const mac = neigh.find((n) => n.lladdr)?.lladdr;
  if (!mac) throw new Error(`${what}: no neighbour entry for ${hop} in ${ns} after a ping`);
  return mac;
}
