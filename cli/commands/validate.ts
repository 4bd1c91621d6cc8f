import type { Command } from 'commander';
import { collect, isData, OUTPUT_HELP, parseFormat, problemObjects, problemSummary, renderData } from '../output.js';

export function register(program: Command): void {
  program
    .command('validate')
    .description('check topology files; lists every problem with file:line and its path in the spec')
    .requiredOption('-f, --file <FILE>', 'topology file (YAML or JSON; - reads stdin); repeat for several files', collect, [])
    .option('-o, --output <format>', OUTPUT_HELP, 'table')
    .addHelpText('after', '\nWarnings (e.g. a firewall rule that an earlier rule shadows, so it can never match) are shown\n' +
      'but do not make a file invalid. -o json lists the problems as objects (file, line, column, path,\n' +
      'message, severity) for editors and CI.\n\nExit codes: 0 valid (warnings allowed), 2 invalid.\n\n' +
      'Examples:\n  vnf-ctl validate -f examples/demo.yaml\n  vnf-ctl validate -f a.yaml -f b.yaml -o json\n  cat topo.yaml | vnf-ctl validate -f -')
    .action(async (o: { file: string[]; output: string }) => {
      const format = parseFormat(o.output);
      const { checkTopologyFile, formatPath, SpecError } = await import('../../src/spec/index.js');
      const { VNFS } = await import('../../src/vnf/registry.js');
      const results = o.file.map((f) => checkTopologyFile(f));
      const issues = results.flatMap((r) => r.issues);
      const valid = results.every((r) => r.topology !== undefined);
      if (isData(format)) {
        const warnings = issues.filter((i) => i.severity === 'warning').length;
        console.log(renderData({
          valid,
          errors: issues.length - warnings,
          warnings,
          files: results.map((r) => ({ file: r.file, valid: r.topology !== undefined, name: r.topology?.name ?? null })),
          problems: problemObjects(issues, formatPath),
        }, format));
        if (!valid) process.exitCode = 2;
        return;
      }
      if (!valid) throw new SpecError(issues); // every problem (warnings too) and the summary, exit 2
      const { formatIssue } = await import('../../src/spec/index.js');
      for (const i of issues) console.error(formatIssue(i));
      if (issues.length) console.error(problemSummary(issues));
      for (const r of results) {
        const t = r.topology!;
        const n = t.containers.reduce((s, c) => s + c.interfaces.length, 0);
        const extra = VNFS.flatMap((v) => v.spec?.summary?.(t) ?? []);
        const count = (k: number, what: string): string => `${k} ${what}${k === 1 ? '' : 's'}`;
        const core = [count(t.networks.length, 'network'), `${count(t.containers.length, 'container')} with ${count(n, 'interface')}`, count(t.routers.length, 'router')];
        const warned = r.issues.length ? `; ${count(r.issues.length, 'warning')}` : '';
        console.log(`${r.file}: valid topology ${t.name} (${[...core, ...extra].join(', ')})${warned}`);
      }
    });
}
