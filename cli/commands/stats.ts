import type { Command } from 'commander';
import { isData, OUTPUT_HELP, parseFormat, renderData, table } from '../output.js';

export function register(program: Command): void {
  program
    .command('stats')
    .description('counters per VNF and verdict/reason, and per port and direction (per route and rule: `get`)')
    .argument('[NAME]', 'topology name (default: all)')
    .option('-o, --output <format>', OUTPUT_HELP, 'table')
    .addHelpText('after', '\nExamples:\n  vnf-ctl stats demo\n  vnf-ctl stats demo -o json')
    .action(async (name: string | undefined, o: { output: string }) => {
      const format = parseFormat(o.output);
      const { listStatus, topologyStats } = await import('../../src/ops/status.js');
      const all = (name ? [name] : listStatus().map((x) => x.name)).map((n) => topologyStats(n));
      if (isData(format)) return console.log(renderData(name ? all[0] : all, format));
      for (const [i, s] of all.entries()) {
        if (i) console.log('');
        console.log(`topology ${s.name}\n\nVNF VERDICTS`);
        console.log(await table(['vnf', 'verdict', 'reason', 'packets', 'bytes'], s.vnfs.map((v) => [v.vnf, v.verdict, v.reason, v.packets, v.bytes])));
        console.log('\nPORTS');
        console.log(await table(['interface', 'direction', 'packets', 'bytes'], s.ports.map((p) => [p.ifname, p.direction, p.packets, p.bytes])));
      }
      if (all.length === 0) console.log('no topologies applied');
    });
}
