/**
 * A simulated cluster (bench/lib/sim) for one tap test: its own cleanup and log folder, both
 * removed at the test's teardown, even on failure; a cleanup problem fails the test.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Test } from 'tap';
import { Cleanup } from '../../bench/lib/cleanup.js';
import { Cluster, type ClusterOptions } from '../../bench/lib/sim/cluster.js';

export async function testCluster(t: Test, o: Omit<ClusterOptions, 'cleanup' | 'dir'>): Promise<Cluster> {
  const root = new Cleanup(`test ${t.name}`);
  const dir = mkdtempSync(join(tmpdir(), 'vnf-cluster-test-'));
  t.teardown(async () => {
    const errs = await root.close();
    rmSync(dir, { recursive: true, force: true });
    if (errs.length) throw new Error(`cluster cleanup: ${errs.join('; ')}`);
  });
  return Cluster.up({ ...o, cleanup: root, dir });
}

/** A real etcd on 127.0.0.1 for one tap test (a cluster of no hosts), removed at its teardown. */
export async function testEtcd(t: Test): Promise<Cluster['etcd']> {
  return (await testCluster(t, { hosts: 0, etcd: 'loopback' })).etcd;
}
