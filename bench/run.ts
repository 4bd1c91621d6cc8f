/**
 * make bench: every benchmark reports ratios against a baseline measured in
 * the same run (never timed assertions: this machine's numbers are noisy).
 */
import { prepareEnvironment } from '../src/bpf/environment.js';
import { formatCost, progCost } from './prog-cost.js';
import { firewallApplyTimes, firewallCost, formatFirewallCost } from './firewall-cost.js';
import { firewallApplies, formatControlPlane, portCounts, startup } from './control-plane.js';

async function main(): Promise<void> {
  const problems = prepareEnvironment();
  if (problems.length) throw new Error(problems.join('; '));
  const which = new Set(process.argv.slice(2));
  const all = which.size === 0;
  if (all || which.has('prog')) {
    console.log(formatCost(await progCost()));
  }
  if (all || which.has('firewall')) {
    console.log('\n' + formatFirewallCost(await firewallCost()));
  }
  if (all || which.has('control-plane')) {
    const quick = which.has('--quick');
    const s = startup();
    const fw = firewallApplies(quick ? [10, 10_000] : [10, 100_000]);
    const ports = await portCounts(quick ? [200, 1000] : [1000, 8000]);
    console.log('\n' + formatControlPlane(s, fw, ports));
  }
  if (which.has('firewall-apply')) {
    const a = await firewallApplyTimes();
    console.log(`\nControl plane, 100,000-rule firewall: first apply (lab, load, fill) ${a.applyMs.toFixed(0)} ms; ` +
      `one-rule change ${a.changeMs.toFixed(0)} ms (${a.changeOps} operations: the differences written into the standby rule set, one binding flip); ` +
      `re-apply with no change ${a.noopMs.toFixed(0)} ms`);
  }
}

main().catch((e: unknown) => {
  console.error(`bench failed: ${(e as Error).message}`);
  process.exitCode = 1;
});
