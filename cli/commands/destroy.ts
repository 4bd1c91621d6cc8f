import type { Command } from 'commander';
import { lockWait } from '../output.js';

export function register(program: Command): void {
  program
    .command('destroy')
    .description('remove every program, link, map and pin of a topology (lab namespaces: use `lab down`)')
    .argument('<NAME>', 'topology name')
    .addHelpText('after', '\nExit codes: 0 destroyed, 2 when no topology has that name (nothing is removed).\n\nExamples:\n  vnf-ctl destroy demo')
    .action(async (name: string) => {
      const { destroyTopology } = await import('../../src/ops/topology.js');
      const r = await destroyTopology(name, lockWait);
      console.log(`topology ${name}: destroyed (${r.links} links detached)${r.down.length ? `; attached interfaces set down (no policy without it): ${r.down.join(", ")}` : ""}`);
    });
}
