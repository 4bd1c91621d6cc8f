import type { Command } from 'commander';

export function register(program: Command): void {
  program
    .command('validate')
    .description('check a topology file; lists every problem with file:line and its path in the spec')
    .requiredOption('-f, --file <FILE>', 'topology file (YAML or JSON)')
    .addHelpText('after', '\nExit codes: 0 valid, 2 invalid.\n\nExamples:\n  vnf-ctl validate -f examples/demo.yaml')
    .action(async (o: { file: string }) => {
      const { loadTopology } = await import('../../src/spec/index.js');
      const { VNFS } = await import('../../src/vnf/registry.js');
      const t = loadTopology(o.file); // throws SpecError (exit 2) with all issues
      const n = t.containers.reduce((s, c) => s + c.interfaces.length, 0);
      const extra = VNFS.flatMap((v) => v.spec?.summary?.(t) ?? []);
      const count = (k: number, what: string): string => `${k} ${what}${k === 1 ? '' : 's'}`;
      const core = [count(t.networks.length, 'network'), `${count(t.containers.length, 'container')} with ${count(n, 'interface')}`, count(t.routers.length, 'router')];
      console.log(`${o.file}: valid topology ${t.name} (${[...core, ...extra].join(', ')})`);
    });
}
