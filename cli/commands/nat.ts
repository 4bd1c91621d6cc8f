import type { Command } from 'commander';
import { isData, OUTPUT_HELP, parseFormat, renderData, table } from '../output.js';

export function register(program: Command): void {
  program
    .command('nat')
    .description("list the active NAT mappings of the topology's routers (one row per connection)")
    .argument('<NAME>', 'topology name')
    .option('-o, --output <format>', OUTPUT_HELP, 'table')
    .addHelpText('after', '\nExamples:\n  vnf-ctl nat demo\n  vnf-ctl nat demo -o json')
    .action(async (name: string, o: { output: string }) => {
      const format = parseFormat(o.output);
      const { natMappingsOf } = await import('../../src/ops/nat.js');
      const { MAPPING_COLUMNS, mappingRows } = await import('../../src/vnf/nat/mappings.js');
      const mappings = natMappingsOf(name);
      if (isData(format)) return console.log(renderData(mappings, format));
      console.log(await table([...MAPPING_COLUMNS], mappingRows(mappings)));
      console.log(`${mappings.length} mapping${mappings.length === 1 ? '' : 's'}`);
    });
}
