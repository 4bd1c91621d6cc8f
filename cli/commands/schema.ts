import type { Command } from 'commander';
import { topologySchemaJson } from '../../src/index.js';

export function register(program: Command): void {
  program
    .command('schema')
    .description('print the JSON Schema of the topology file format')
    .addHelpText('after', '\nExamples:\n  vnf-ctl schema > topology.schema.json')
    .action(() => {
      console.log(JSON.stringify(topologySchemaJson(), null, 2));
    });
}
