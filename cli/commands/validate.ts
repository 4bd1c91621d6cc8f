import type { Command } from 'commander';
import { loadTopology } from '../../src/index.js';

export function register(program: Command): void {
  program
    .command('validate')
    .description('check a topology file; lists every problem with file:line and its path in the spec')
    .requiredOption('-f, --file <FILE>', 'topology file (YAML or JSON)')
    .addHelpText('after', '\nExit codes: 0 valid, 2 invalid.\n\nExamples:\n  vnf-ctl validate -f examples/demo.yaml')
    .action((o: { file: string }) => {
      const t = loadTopology(o.file); // throws SpecError (exit 2) with all issues
      const n = t.containers.reduce((s, c) => s + c.interfaces.length, 0);
      console.log(`${o.file}: valid topology ${t.name} (${t.networks.length} networks, ${t.containers.length} containers with ${n} interfaces, ${t.routers.length} routers, ${t.firewalls.length} firewalls)`);
    });
}
