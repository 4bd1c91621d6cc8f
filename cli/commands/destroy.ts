import type { Command } from 'commander';
import { destroyTopology } from '../../src/index.js';

export function register(program: Command): void {
  program
    .command('destroy')
    .description('remove every program, link, map and pin of a topology (lab namespaces: use `lab down`)')
    .argument('<NAME>', 'topology name')
    .addHelpText('after', '\nExamples:\n  vnf-ctl destroy demo')
    .action(async (name: string) => {
      const r = await destroyTopology(name);
      console.log(r.existed ? `topology ${name}: destroyed (${r.links} links detached)` : `topology ${name}: nothing to destroy`);
    });
}
