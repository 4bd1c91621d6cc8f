import type { Command } from 'commander';
import { parseFormat, renderData, table } from '../output.js';

export function register(program: Command): void {
  program
    .command('conntrack')
    .description("list (or flush) the connections the topology's firewalls and NATs track")
    .argument('<NAME>', 'topology name')
    .option('-o, --output <format>', 'table | json | yaml', 'table')
    .option('--flush', 'delete every tracked connection (established flows must then start again)')
    .addHelpText('after', '\nExamples:\n  vnf-ctl conntrack demo\n  vnf-ctl conntrack demo -o json\n  vnf-ctl conntrack demo --flush')
    .action(async (name: string, o: { output: string; flush?: boolean }) => {
      const format = parseFormat(o.output);
      const { conntrackEntries, flushConntrack } = await import('../../src/ops/conntrack.js');
      if (o.flush) {
        console.log(`topology ${name}: ${flushConntrack(name)} connections flushed`);
        return;
      }
      const entries = conntrackEntries(name);
      if (format !== 'table') return console.log(renderData(entries, format));
      console.log(await table(['interface', 'policy', 'proto', 'source', 'destination', 'state', 'rule', 'idle', 'packets o/r', 'bytes o/r'],
        entries.map((e) => [e.interface, e.policy, e.proto, e.src, e.dst, e.state, String(e.rule), `${e.idleSeconds}s`,
          `${e.packets.orig}/${e.packets.reply}`, `${e.bytes.orig}/${e.bytes.reply}`])));
      console.log(`${entries.length} connections`);
    });
}
