import type { Command } from 'commander';
import { showWarnings, UsageError } from '../output.js';

export function register(program: Command): void {
  const lab = program
    .command('lab')
    .description('containers as network namespaces: create them and apply (up), remove them (down), run commands (exec)');
  lab
    .command('up')
    .description('create the containers of the file as namespaces with veth pairs (or bring an existing lab to the file), then apply')
    .requiredOption('-f, --file <FILE>', 'topology file (- reads stdin)')
    .option('--fast-attach', 'attach new ports with expedited RCU grace periods (host-wide while it runs)')
    .addHelpText('after', '\nExamples:\n  vnf-ctl lab up -f examples/demo.yaml')
    .action(async (o: { file: string; fastAttach?: boolean }) => {
      const { readTopology, sourceName } = await import('../../src/spec/index.js');
      const { labUp } = await import('../../src/lab/lab.js');
      const { topology: t, warnings } = readTopology(o.file);
      showWarnings(warnings);
      const r = await labUp(t, sourceName(o.file), { fastAttach: o.fastAttach ?? false });
      const removed = r.removed.length ? `, ${r.removed.length} removed` : '';
      console.log(`lab ${t.name}: ${r.created.length} namespaces created${removed}, ${r.changed.length} interfaces changed, ${r.applied} operations applied`);
      for (const c of r.changed) console.log(`  ${c.container}/${c.ifname}: ${c.what.join(', ')}`);
      for (const ns of r.removed) console.log(`  removed ${ns}`);
      for (const c of t.containers) console.log(`  ${c.name}: vnf-ctl lab exec ${c.name} -- ip addr`);
    });
  lab
    .command('down')
    .description('destroy the topology and remove its namespaces')
    .argument('[NAME]', 'topology name: taken from its record (instead of -f)')
    .option('-f, --file <FILE>', 'topology file (- reads stdin)')
    .addHelpText('after', '\nExamples:\n  vnf-ctl lab down -f examples/demo.yaml\n  vnf-ctl lab down demo')
    .action(async (name: string | undefined, o: { file?: string }) => {
      if ((name === undefined) === (o.file === undefined)) throw new UsageError('name the lab: a topology NAME or -f FILE (one of them)');
      const { labDown, recordedLab } = await import('../../src/lab/lab.js');
      let t;
      if (o.file) {
        const { loadTopology } = await import('../../src/spec/index.js');
        t = loadTopology(o.file);
      } else {
        t = recordedLab(name!);
      }
      const r = await labDown(t);
      console.log(`lab ${t.name}: destroyed, ${r.removed.length} namespaces removed`);
    });
  lab
    .command('exec')
    .description('run a command inside a lab container')
    .option('-t, --topology <NAME>', 'needed only when several lab topologies have a container of that name')
    .argument('<CONTAINER>', 'container name')
    .argument('<CMD...>', 'command and arguments (after --)')
    .addHelpText('after', '\nExamples:\n  vnf-ctl lab exec web -- ping -c 3 10.2.0.10\n  vnf-ctl lab exec -t demo db -- ip route')
    .action(async (container: string, cmd: string[], o: { topology?: string }) => {
      if (cmd.length === 0) throw new UsageError('lab exec: give a command after --');
      const { labExec } = await import('../../src/lab/lab.js');
      process.exitCode = labExec(container, cmd, o.topology);
    });
}
