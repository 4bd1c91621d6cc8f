import type { Command } from 'commander';
import { parseFormat, renderData, table } from '../output.js';

export function register(program: Command): void {
  program
    .command('doctor')
    .description('check that this machine can run vnf: privileges, bpffs, kernel BTF')
    .option('-o, --output <format>', 'table | json | yaml', 'table')
    .addHelpText('after', '\nExamples:\n  vnf-ctl doctor\n  vnf-ctl doctor -o json')
    .action(async (opts: { output: string }) => {
      const format = parseFormat(opts.output);
      const { probeEnvironment, environmentProblems } = await import('../../src/bpf/environment.js');
      const { rcuExpedited } = await import('../../src/apply/expedite.js');
      const env = probeEnvironment();
      const problems = environmentProblems(env);
      if (format !== 'table') {
        console.log(renderData({ ...env, rcuExpedited: rcuExpedited(), problems }, format));
      } else {
        console.log(
          await table(['check', 'value'], [
            ['kernel', env.kernel],
            ['libbpf', env.libbpf],
            ['privileged (CAP_BPF + CAP_NET_ADMIN)', String(env.privileged)],
            ['bpffs at /sys/fs/bpf', String(env.bpffs)],
            ['kernel BTF', String(env.btf)],
            ['RCU expedited (host-wide; on only during apply --fast-attach)', String(rcuExpedited() ?? 'unknown')],
          ]),
        );
        for (const p of problems) console.log(`problem: ${p}`);
      }
      if (problems.length) process.exitCode = 1;
    });
}
