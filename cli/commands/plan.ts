import type { Command } from 'commander';
import { isData, OUTPUT_HELP, parseFormat, problemObjects, renderData, showWarnings, UsageError } from '../output.js';

export function register(program: Command): void {
  program
    .command('plan')
    .description('show what `apply` would do: every operation, diffed against what is pinned in the kernel')
    .requiredOption('-f, --file <FILE>', 'topology file (YAML or JSON; - reads stdin)')
    .option('-o, --output <format>', OUTPUT_HELP, 'table')
    .option('--store <URL>', 'diff the file against the topology stored there (etcd) instead of the kernel')
    .option('--store-prefix <PREFIX>', 'the store\'s key prefix (default /vnf/)')
    .option('--detailed-exitcode', 'exit 0 when there is nothing to change, 2 when there is, 1 on any error (for CI)')
    .addHelpText('after', '\nWorks before `lab up` too: interfaces the lab creates are shown as pending, planned as if they existed.\n\n' +
      'Exit codes: 0 success, 1 failure, 2 invalid input; with --detailed-exitcode 0 no changes, 2 changes, 1 anything else.\n\n' +
      'Examples:\n  vnf-ctl plan -f examples/demo.yaml\n  vnf-ctl plan -f examples/demo.yaml -o json\n  vnf-ctl plan -f examples/demo.yaml --detailed-exitcode || echo "changes pending"')
    .action(async (o: { file: string; output: string; detailedExitcode?: boolean; store?: string; storePrefix?: string }) => {
      try {
        const format = parseFormat(o.output);
        if (o.store !== undefined) {
          const { planAgainstStore } = await import('../../src/ops/store.js');
          const r = await planAgainstStore(o.file, { url: o.store, ...(o.storePrefix !== undefined ? { prefix: o.storePrefix } : {}) });
          if (isData(format)) {
            console.log(renderData({ topology: r.name, revision: r.storedRevision, changes: r.changes }, format));
          } else {
            showWarnings(r.warnings);
            const against = r.storedRevision === null ? 'nothing is stored yet' : `stored revision ${r.storedRevision}`;
            if (r.changes.length === 0) console.log(`topology ${r.name}: no changes (against ${against})`);
            else {
              console.log(`topology ${r.name}: ${r.changes.length} change${r.changes.length === 1 ? '' : 's'} against ${against}`);
              const sign = { added: '+', removed: '-', changed: '~' } as const;
              for (const c of r.changes) console.log(`  ${sign[c.change]} ${c.kind} ${c.name} (${c.change})`);
            }
          }
          if (o.detailedExitcode) process.exitCode = r.changes.length ? 2 : 0;
          return;
        }
        if (o.storePrefix !== undefined) throw new UsageError('--store-prefix needs --store URL');
        const { readTopology, formatPath } = await import('../../src/spec/index.js');
        const { planTopology } = await import('../../src/ops/topology.js');
        const { formatPlan } = await import('../../src/plan/format.js');
        const { topology, warnings } = readTopology(o.file);
        const { plan, dropped, names, pending } = planTopology(topology, { preview: true });
        if (!isData(format)) {
          showWarnings(warnings);
          if (pending.length) {
            console.log(`${pending.length} interface${pending.length === 1 ? '' : 's'} not there yet, planned as \`vnf-ctl lab up -f ${o.file}\` creates ${pending.length === 1 ? 'it' : 'them'}: ` +
              pending.map((p) => `${p.what} (${p.ifname})`).join(', '));
          }
          console.log(formatPlan(plan, names));
          for (const a of dropped) console.log(`note: attached interface ${a.ifname} is gone; apply will drop it`);
        } else {
          const hexed = plan.ops.map((op) => JSON.parse(JSON.stringify(op, (_k, v: unknown) => (v && typeof v === 'object' && (v as { type?: string }).type === 'Buffer' ? Buffer.from((v as { data: number[] }).data).toString('hex') : v))) as unknown);
          console.log(renderData({
            topology: plan.topology, blocked: plan.blocked, notes: plan.notes,
            pending: pending.map((p) => ({ ifname: p.ifname, for: p.what })), dropped: dropped.map((a) => a.ifname), ops: hexed,
            warnings: problemObjects(warnings, formatPath),
          }, format));
        }
        if (plan.blocked.length) process.exitCode = 1;
        else if (o.detailedExitcode) process.exitCode = plan.ops.length || pending.length ? 2 : 0;
      } catch (e) {
        if (!o.detailedExitcode) throw e;
        // 2 means "changes" here: every error, invalid input too, is 1.
        console.error(`vnf-ctl: ${e instanceof Error ? e.message : String(e)}`);
        process.exitCode = 1;
      }
    });
}
