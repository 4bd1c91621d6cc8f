import type { Command } from 'commander';
import { isData, OUTPUT_HELP, parseFormat, renderData, table } from '../output.js';

export function register(program: Command): void {
  program
    .command('doctor')
    .description('check that this machine can run vnf: privileges, bpffs, BTF, kernel features, the addon and the BPF objects')
    .option('-o, --output <format>', OUTPUT_HELP, 'table')
    .addHelpText('after', '\nEach check is a row: ok, or a problem with a hint. Exit codes: 0 all ok, 1 a problem was found.\n\n' +
      'Examples:\n  vnf-ctl doctor\n  vnf-ctl doctor -o json')
    .action(async (opts: { output: string }) => {
      const format = parseFormat(opts.output);
      const { probeEnvironment } = await import('../../src/bpf/environment.js');
      const { doctorChecks } = await import('../../src/ops/doctor.js');
      const { rcuExpedited } = await import('../../src/apply/expedite.js');
      const env = probeEnvironment();
      const checks = doctorChecks(env);
      const problems = checks.filter((c) => !c.ok);
      if (isData(format)) {
        console.log(renderData({
          ok: problems.length === 0,
          checks,
          kernel: env.kernel,
          libbpf: env.libbpf,
          uid: env.uid,
          capabilities: env.capabilities,
          rcuExpedited: rcuExpedited() ?? null,
          problems: problems.map((p) => `${p.check}: ${p.value}; ${p.hint}`),
        }, format));
      } else {
        console.log(await table(['check', 'status', 'value', 'hint'], checks.map((c) => [c.check, c.ok ? 'ok' : 'problem', c.value, c.hint ?? ''])));
        console.log(problems.length ? `${problems.length} problem${problems.length === 1 ? '' : 's'}` : 'all checks passed');
      }
      if (problems.length) process.exitCode = 1;
    });
}
