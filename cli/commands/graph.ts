import type { Command } from 'commander';
import { UsageError } from '../output.js';

export function register(program: Command): void {
  program
    .command('graph')
    .description('print an applied topology, or a topology file, as a Graphviz DOT graph (networks, routers, containers, uplinks)')
    .argument('[NAME]', 'applied topology name')
    .option('-f, --file <FILE>', 'draw a topology file instead (- reads stdin; no kernel needed; checked as validate checks it)')
    .option('--counters', "add each port's rx/tx packets and each VNF's drops (applied topology only)")
    .addHelpText('after', '\nExamples:\n  vnf-ctl graph demo | dot -Tsvg > demo.svg\n  vnf-ctl graph demo --counters\n  vnf-ctl graph -f examples/demo.yaml')
    .action(async (name: string | undefined, o: { file?: string; counters?: boolean }) => {
      if ((name === undefined) === (o.file === undefined)) throw new UsageError('give an applied topology NAME or -f FILE (one of them)');
      if (o.file !== undefined) {
        if (o.counters) throw new UsageError('--counters needs an applied topology (NAME), not a file');
        const { loadTopology, sourceName } = await import('../../src/spec/index.js');
        const { topologyDot } = await import('../../src/graph/dot.js');
        return void process.stdout.write(topologyDot(loadTopology(o.file), { source: sourceName(o.file) })); // SpecError: exit 2, as validate
      }
      const { appliedTopologyDot } = await import('../../src/ops/graph.js');
      process.stdout.write(appliedTopologyDot(name!, { counters: o.counters === true }));
    });
}
