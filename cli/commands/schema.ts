import type { Command } from 'commander';

export function register(program: Command): void {
  program
    .command('schema')
    .description('print the JSON Schema of the topology file format')
    .addHelpText('after', '\nExamples:\n  vnf-ctl schema > topology.schema.json')
    .action(async () => {
      const { topologySchemaJson } = await import('../../src/spec/index.js');
      console.log(JSON.stringify(topologySchemaJson(), null, 2));
    });
}
