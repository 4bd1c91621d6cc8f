import type { Command } from 'commander';
import { parseFormat, renderData } from '../output.js';

export function register(program: Command): void {
  program
    .command('plan')
    .description('show what `apply` would do: every operation, diffed against what is pinned in the kernel')
    .requiredOption('-f, --file <FILE>', 'topology file (YAML or JSON)')
    .option('-o, --output <format>', 'table | json | yaml', 'table')
    .addHelpText('after', '\nExit codes: 0 when the kernel matches the file, 1 on failure, 2 for invalid input.\n\nExamples:\n  vnf-ctl plan -f examples/demo.yaml\n  vnf-ctl plan -f examples/demo.yaml -o json')
    .action(async (o: { file: string; output: string }) => {
      const format = parseFormat(o.output);
      const { loadTopology } = await import('../../src/spec/index.js');
      const { planTopology } = await import('../../src/ops/topology.js');
      const { formatPlan } = await import('../../src/plan/format.js');
      const { plan, dropped, names } = planTopology(loadTopology(o.file));
      if (format === 'table') {
        console.log(formatPlan(plan, names));
        for (const a of dropped) console.log(`note: attached interface ${a.ifname} is gone; apply will drop it`);
      } else {
        const hexed = plan.ops.map((op) => JSON.parse(JSON.stringify(op, (_k, v: unknown) => (v && typeof v === 'object' && (v as { type?: string }).type === 'Buffer' ? Buffer.from((v as { data: number[] }).data).toString('hex') : v))) as unknown);
        console.log(renderData({ topology: plan.topology, blocked: plan.blocked, notes: plan.notes, ops: hexed }, format));
      }
      if (plan.blocked.length) process.exitCode = 1;
    });
}
