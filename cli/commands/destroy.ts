import type { Command } from 'commander';
import { lockWait, UsageError } from '../output.js';

export function register(program: Command): void {
  program
    .command('destroy')
    .description('remove every program, link, map and pin of a topology (lab namespaces: use `lab down`)')
    .argument('<NAME>', 'topology name')
    .option('--store <URL>', 'remove the topology stored there (etcd): the agents then remove it from their hosts')
    .option('--store-prefix <PREFIX>', 'the store\'s key prefix (default /vnf/)')
    .addHelpText('after', '\nExit codes: 0 destroyed, 2 when no topology has that name (nothing is removed).\n\nExamples:\n  vnf-ctl destroy demo\n  vnf-ctl destroy demo --store http://127.0.0.1:2379')
    .action(async (name: string, o: { store?: string; storePrefix?: string }) => {
      if (o.store !== undefined) {
        const { destroyInStore } = await import('../../src/ops/store.js');
        const r = await destroyInStore(name, { url: o.store, ...(o.storePrefix !== undefined ? { prefix: o.storePrefix } : {}) });
        console.log(`topology ${name}: removed from the store (it was at revision ${r.revision}); the agents remove it from their hosts`);
        return;
      }
      if (o.storePrefix !== undefined) throw new UsageError('--store-prefix needs --store URL');
      const { destroyTopology } = await import('../../src/ops/topology.js');
      const r = await destroyTopology(name, lockWait);
      console.log(`topology ${name}: destroyed (${r.links} links detached)${r.down.length ? `; attached interfaces set down (no policy without it): ${r.down.join(", ")}` : ""}`);
    });
}
