/**
 * A topology that a test or the bench edits through the store: plain data (with host: and vni:)
 * written to a file, its containers created on their hosts before each apply (the runtime's
 * part), `vnf-ctl apply --store` run, and the time until the edit is everywhere measured two
 * ways — the hosts' own report in the store, and packets passing.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { run } from '../sys.js';
import type { Cluster, Converged } from './cluster.js';
import { createContainer, type SimContainer } from './containers.js';
import { multiHostFile, type MultiHostTopology } from './topology.js';

type Raw = Record<string, unknown>;

export interface Edit {
  revision: number;
  changed: boolean;
  /** performance.now() when apply returned. */
  at: number;
  /** Date.now() when apply returned. */
  wall: number;
}

export class StoreTopology {
  readonly file: string;
  readonly containers = new Map<string, SimContainer>();
  mt: MultiHostTopology | undefined;

  constructor(readonly cluster: Cluster, dir: string, readonly data: Raw & { name: string; containers: Raw; networks: Raw }) {
    this.file = join(dir, `${data.name}.yaml`);
  }

  /** Writes the file and creates the containers it has that do not exist yet (the runtime's part). */
  create(): MultiHostTopology {
    this.mt = multiHostFile(this.file, this.data);
    for (const c of this.mt.topology.containers) {
      if (this.containers.has(c.name)) continue;
      this.containers.set(c.name, createContainer(this.mt.topology.name, c, this.cluster.host(this.mt.hostOf.get(c.name)!), this.cluster.cleanup));
    }
    return this.mt;
  }

  /** create(), then `vnf-ctl apply --store` of the file. */
  apply(): Edit {
    this.create();
    const r = this.cluster.apply(this.file);
    return { ...r, at: performance.now(), wall: Date.now() };
  }

  container(name: string): SimContainer {
    const c = this.containers.get(name);
    if (!c) throw new Error(`no container ${name} in ${this.data.name}`);
    return c;
  }
}

/** One ping (async, so several run at once); whether it was answered. */
function pingOnce(from: SimContainer, dst: string, waitS: number): Promise<boolean> {
  return new Promise((resolve) => {
    const p = spawn('ip', ['netns', 'exec', from.ns, 'ping', '-c', '1', '-W', String(waitS), '-q', dst], { stdio: 'ignore' });
    p.on('close', (code) => resolve(code === 0));
    p.on('error', () => resolve(false));
  });
}

/**
 * Pings from `from` to every destination until each has answered once (give `from` static
 * neighbours first — see staticNeighbours — or an ARP attempt made before the dataplane was ready
 * holds every later ping for the kernel's 1 s ARP retransmit time); the time from `since`
 * (performance.now()) until the last first answer. Throws after timeoutMs naming the silent ones.
 */
export async function packetsPass(from: SimContainer, dsts: string[], since: number, timeoutMs = 30_000): Promise<number> {
  const times = await Promise.all(dsts.map(async (dst) => {
    while (performance.now() - since < timeoutMs) {
      if (await pingOnce(from, dst, 0.1)) return performance.now() - since;
    }
    return NaN;
  }));
  const silent = dsts.filter((_, i) => Number.isNaN(times[i]));
  if (silent.length) throw new Error(`${from.name} got no answer from ${silent.join(', ')} within ${timeoutMs} ms`);
  return Math.max(...times);
}

/** Permanent neighbour entries in `c` for other containers' interfaces on its subnet. */
export function staticNeighbours(c: SimContainer, peers: SimContainer[]): void {
  const own = c.interfaces[0]!;
  for (const p of peers) {
    for (const i of p.interfaces) {
      if (i.network !== own.network) continue;
      run(['ip', '-n', c.ns, 'neigh', 'replace', i.addr, 'lladdr', i.mac, 'dev', own.name, 'nud', 'permanent']);
    }
  }
}

/** Both measures of one edit, run at once from when apply returned. */
export async function editReachesAll(cluster: Cluster, e: Edit, from: SimContainer, dsts: string[], timeoutMs = 60_000): Promise<{ store: Converged; packetsMs: number }> {
  const [store, packetsMs] = await Promise.all([cluster.waitConverged(e.revision, timeoutMs, { since: e.at, sinceWall: e.wall }), packetsPass(from, dsts, e.at, timeoutMs)]);
  return { store, packetsMs };
}
