import type { Command } from 'commander';
import { isData, lockWait, OUTPUT_HELP, parseFormat, renderData, showWarnings, UsageError } from '../output.js';

export function register(program: Command): void {
  program
    .command('apply')
    .description('make the kernel match the topology file, changing only what differs')
    .requiredOption('-f, --file <FILE>', 'topology file (YAML or JSON; - reads stdin)')
    .option('-q, --quiet', 'print only the summary line')
    .option('--fast-attach', 'attach new ports with expedited RCU grace periods (host-wide while it runs): ~16 ms less per new port')
    .option('--store <URL>', 'write the topology to the store (etcd, e.g. http://127.0.0.1:2379) instead: the agents on its hosts apply it')
    .option('--store-prefix <PREFIX>', 'the store\'s key prefix (default /vnf/)')
    .option('-o, --output <format>', `with --store: ${OUTPUT_HELP}`, 'table')
    .addHelpText('after', '\nThe file is validated and every interface resolved before anything changes. If an apply fails\n' +
      'or is killed, every port keeps its old or its new policy, and the next apply finishes the job.\n\n' +
      'With --store, the validated file is written to the store instead (once: the same file again writes nothing)\n' +
      'and its revision printed; its containers say where they run (containers.NAME.host), and `vnf-agent` on each\n' +
      'host applies that host\'s part.\n\nExamples:\n  vnf-ctl apply -f examples/demo.yaml\n  vnf-ctl apply -f hosts.yaml --store http://127.0.0.1:2379')
    .action(async (o: { file: string; quiet?: boolean; fastAttach?: boolean; store?: string; storePrefix?: string; output: string }) => {
      const format = parseFormat(o.output);
      if (o.store !== undefined) {
        const { applyToStore } = await import('../../src/ops/store.js');
        const r = await applyToStore(o.file, { url: o.store, ...(o.storePrefix !== undefined ? { prefix: o.storePrefix } : {}) });
        if (isData(format)) return console.log(renderData({ revision: r.revision, changed: r.changed }, format));
        showWarnings(r.warnings);
        console.log(r.changed ? `topology ${r.name}: stored at revision ${r.revision}` : `topology ${r.name}: no changes (the store already holds this file, revision ${r.revision})`);
        return;
      }
      if (o.storePrefix !== undefined) throw new UsageError('--store-prefix needs --store URL');
      if (isData(format)) throw new UsageError(`-o ${format} needs --store (apply prints its plan as text)`);
      const { readTopology, sourceName } = await import('../../src/spec/index.js');
      const { refuseHosts } = await import('../../src/ops/store.js');
      const { applyTopology } = await import('../../src/ops/topology.js');
      const { formatPlan } = await import('../../src/plan/format.js');
      const { topology: t, warnings } = readTopology(o.file);
      refuseHosts(t);
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
