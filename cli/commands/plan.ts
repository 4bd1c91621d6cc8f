import type { Command } from 'commander';
import { formatPlan, loadTopology, planTopology } from '../../src/index.js';
import { parseFormat, renderData } from '../output.js';

export function register(program: Command): void {
  program
    .command('plan')
    .description('show what `apply` would change: a diff of the file against what is pinned in the kernel')
    .requiredOption('-f, --file <FILE>', 'topology file (YAML or JSON)')
    .option('-o, --output <format>', 'table | json | yaml', 'table')
    .addHelpText('after', '\nExamples:\n  vnf-ctl plan -f examples/demo.yaml\n  vnf-ctl plan -f examples/demo.yaml -o json')
    .action((o: { file: string; output: string }) => {
      const format = parseFormat(o.output);
      const { plan, dropped } = planTopology(loadTopology(o.file));
      if (format === 'table') {
        console.log(formatPlan(plan));
        for (const a of dropped) console.log(`note: attached interface ${a.ifname} is gone; apply will drop it`);
      } else {
        console.log(renderData({ topology: plan.topology, ops: plan.ops.map((op) => ('value' in op ? { ...op, value: op.value.toString('hex'), previous: op.previous?.toString('hex') } : op)) }, format));
      }
    });
}
