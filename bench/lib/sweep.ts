/**
 * What a killed bench run (SIGKILL, power cut) left behind, removed by the next run while it
 * holds the bench lock: namespaces named vnfb… and vnf.vb….*, vnf topologies named vb…, bpffs
 * folders /sys/fs/bpf/vnf-bench-* — and only those untouched for STALE_MINUTES, so that nothing
 * of a bench still running is touched even when it does not take the lock (older bench code, a
 * test using the same scratch names). Processes still running in a stale namespace (servers,
 * trafgen) are killed first. Interfaces are not swept by name: every veth the bench creates has
 * an end in one of its namespaces and goes with it.
 */
import { existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import { destroyTopology } from '../../src/ops/topology.js';
import { run } from './sys.js';

const STALE_NS = /^(vnfb[0-9a-f]|vnf\.vb[0-9a-f])/;
const STALE_TOPO = /^vb[0-9a-f]{4}/;
const STALE_MINUTES = 30;

/** Whether a path was last modified more than STALE_MINUTES ago (false when it is gone). */
function old(path: string): boolean {
  try {
    return Date.now() - statSync(path).mtimeMs > STALE_MINUTES * 60_000;
  } catch {
    return false;
  }
}

export async function sweep(log: (s: string) => void): Promise<string[]> {
  const removed: string[] = [];
  if (existsSync('/sys/fs/bpf/vnf')) {
    for (const t of readdirSync('/sys/fs/bpf/vnf').filter((n) => STALE_TOPO.test(n) && old(`/sys/fs/bpf/vnf/${n}`))) {
      try {
        await destroyTopology(t);
        removed.push(`topology ${t}`);
      } catch (e) {
        log(`sweep: could not destroy topology ${t}: ${(e as Error).message}`);
      }
    }
  }
  const namespaces = existsSync('/run/netns') ? readdirSync('/run/netns').filter((n) => STALE_NS.test(n) && old(`/run/netns/${n}`)) : [];
  for (const ns of namespaces) {
    const pids = run(['ip', 'netns', 'pids', ns], { check: false }).stdout.split(/\s+/).filter(Boolean).map(Number);
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
        removed.push(`process ${pid} in ${ns}`);
      } catch {
        /* gone */
      }
    }
    run(['ip', 'netns', 'del', ns], { check: false });
    removed.push(`namespace ${ns}`);
  }
  if (existsSync('/sys/fs/bpf')) {
    for (const d of readdirSync('/sys/fs/bpf').filter((n) => n.startsWith('vnf-bench-') && old(`/sys/fs/bpf/${n}`))) {
      rmSync(`/sys/fs/bpf/${d}`, { recursive: true, force: true });
      removed.push(`/sys/fs/bpf/${d}`);
    }
  }
  return removed;
}
