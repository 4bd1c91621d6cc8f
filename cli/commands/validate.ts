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
      console.log(`${o.file}: valid topology ${t.name} (${[`${t.networks.length} networks`, `${t.containers.length} containers with ${n} interfaces`, `${t.routers.length} routers`, ...extra].join(', ')})`);
    });
}
