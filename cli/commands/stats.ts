import type { Command } from 'commander';
import { listStatus, topologyStats, type Stats } from '../../src/index.js';
import { parseFormat, renderData, table } from '../output.js';

function print(s: Stats): void {
  console.log(`topology ${s.name}\n\nVNF VERDICTS`);
  console.log(table(['vnf', 'verdict', 'reason', 'packets', 'bytes'], s.vnfs.map((v) => [v.vnf, v.verdict, v.reason, v.packets, v.bytes])));
  console.log('\nPORTS');
  console.log(table(['interface', 'direction', 'packets', 'bytes'], s.ports.map((p) => [p.ifname, p.direction, p.packets, p.bytes])));
  if (s.routes.length) {
    console.log('\nROUTES');
    console.log(table(['router', 'to', 'packets', 'bytes'], s.routes.map((r) => [r.router, r.to, r.packets, r.bytes])));
  }
}

export function register(program: Command): void {
  program
    .command('stats')
    .description('counters per VNF and verdict/reason, per port and direction, per route')
    .argument('[NAME]', 'topology name (default: all)')
    .option('-o, --output <format>', 'table | json | yaml', 'table')
    .addHelpText('after', '\nExamples:\n  vnf-ctl stats demo\n  vnf-ctl stats demo -o json')
    .action((name: string | undefined, o: { output: string }) => {
      const format = parseFormat(o.output);
      const all = (name ? [name] : listStatus().map((x) => x.name)).map((n) => topologyStats(n));
      if (format !== 'table') return console.log(renderData(name ? all[0] : all, format));
      all.forEach((s, i) => {
        if (i) console.log('');
        print(s);
      });
      if (all.length === 0) console.log('no topologies applied');
    });
}
