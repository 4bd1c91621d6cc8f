/**
 * make bench: every benchmark reports ratios against a baseline measured in
 * the same run (never timed assertions: this machine's numbers are noisy).
 */
import { prepareEnvironment } from '../src/bpf/environment.js';
import { formatCost, progCost } from './prog-cost.js';

async function main(): Promise<void> {
  const problems = prepareEnvironment();
  if (problems.length) throw new Error(problems.join('; '));
  const which = new Set(process.argv.slice(2));
  const all = which.size === 0;
  if (all || which.has('prog')) {
    console.log(formatCost(await progCost()));
  }
}

main().catch((e: unknown) => {
  console.error(`bench failed: ${(e as Error).message}`);
  process.exitCode = 1;
});
