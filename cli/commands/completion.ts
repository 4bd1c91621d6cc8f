import type { Command } from 'commander';
import { UsageError } from '../output.js';

export function register(program: Command): void {
  program
    .command('completion')
    .description('print a shell completion script (commands, options, topology names)')
    .argument('<SHELL>', 'bash or zsh')
    .addHelpText('after', '\nExamples:\n  source <(vnf-ctl completion bash)\n  vnf-ctl completion bash > /etc/bash_completion.d/vnf-ctl\n  source <(vnf-ctl completion zsh)')
    .action(async (shell: string) => {
      const { bashCompletion, zshCompletion } = await import('../completion.js');
      const { VNF_RUN_ROOT } = await import('../../src/model/names.js');
      if (shell === 'bash') return void process.stdout.write(bashCompletion(program, VNF_RUN_ROOT));
      if (shell === 'zsh') return void process.stdout.write(zshCompletion(program, VNF_RUN_ROOT));
      throw new UsageError(`unknown shell "${shell}" (use bash or zsh)`);
    });
}
