import type { Command } from 'commander';
import { lockWait, showWarnings } from '../output.js';

export function register(program: Command): void {
  program
    .command('apply')
    .description('make the kernel match the topology file, changing only what differs')
    .requiredOption('-f, --file <FILE>', 'topology file (YAML or JSON; - reads stdin)')
    .option('-q, --quiet', 'print only the summary line')
    .option('--fast-attach', 'attach new ports with expedited RCU grace periods (host-wide while it runs): ~16 ms less per new port')
    .addHelpText('after', '\nThe file is validated and every interface resolved before anything changes. If an apply fails\n' +
      'or is killed, every port keeps its old or its new policy, and the next apply finishes the job.\n\nExamples:\n  vnf-ctl apply -f examples/demo.yaml')
    .action(async (o: { file: string; quiet?: boolean; fastAttach?: boolean }) => {
      const { readTopology, sourceName } = await import('../../src/spec/index.js');
      const { applyTopology } = await import('../../src/ops/topology.js');
      const { formatPlan } = await import('../../src/plan/format.js');
      const { topology: t, warnings } = readTopology(o.file);
      showWarnings(warnings);
      const r = await applyTopology(t, { file: sourceName(o.file), lock: lockWait, fastAttach: o.fastAttach ?? false });
      if (r.plan.ops.length === 0) {
        console.log(`topology ${t.name}: no changes (the kernel already matches ${sourceName(o.file)})`);
        return;
      }
      const text = formatPlan(r.plan, r.names);
      console.log(o.quiet ? text.split('\n')[0] : text);
      for (const a of r.dropped) console.log(`note: attached interface ${a.ifname} is gone and was dropped`);
      console.log(`applied ${r.applied} operations`);
    });
}
