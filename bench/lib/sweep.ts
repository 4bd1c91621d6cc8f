/**
 * What a killed bench run (SIGKILL, power cut) left behind, removed by the next run while it
 * holds the bench lock — so never anything of a bench that is still running, and never anything
 * that is not the bench's: namespaces named vnfb… and vnf.vb….*, root interfaces named vb…,
 * vnf topologies named vb…, bpffs folders /sys/fs/bpf/vnf-bench-*. Processes still running in a
 * stale namespace (servers, trafgen) are killed first.
 */
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { destroyTopology } from '../../src/ops/topology.js';
import { run } from './sys.js';

const STALE_NS = /^(vnfb[0-9a-f]|vnf\.vb[0-9a-f])/;
const STALE_IF = /^(vb[0-9a-f]{4}|vnfb[0-9a-f]{6}$)/;
const STALE_TOPO = /^vb[0-9a-f]{4}/;

export async function sweep(log: (s: string) => void): Promise<string[]> {
  const removed: string[] = [];
  if (existsSync('/sys/fs/bpf/vnf')) {
    for (const t of readdirSync('/sys/fs/bpf/vnf').filter((n) => STALE_TOPO.test(n))) {
      try {
        await destroyTopology(t);
        removed.push(`topology ${t}`);
      } catch (e) {
        log(`sweep: could not destroy topology ${t}: ${(e as Error).message}`);
      }
    }
  }
  const namespaces = existsSync('/run/netns') ? readdirSync('/run/netns').filter((n) => STALE_NS.test(n)) : [];
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
  const links = JSON.parse(run(['ip', '-j', 'link', 'show'], { check: false }).stdout || '[]') as Array<{ ifname: string }>;
  for (const l of links.filter((x) => STALE_IF.test(x.ifname))) {
    run(['ip', 'link', 'del', l.ifname], { check: false });
    removed.push(`interface ${l.ifname}`);
  }
  if (existsSync('/sys/fs/bpf')) {
    for (const d of readdirSync('/sys/fs/bpf').filter((n) => n.startsWith('vnf-bench-'))) {
      rmSync(`/sys/fs/bpf/${d}`, { recursive: true, force: true });
      removed.push(`/sys/fs/bpf/${d}`);
    }
  }
  return removed;
}
