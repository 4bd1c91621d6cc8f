/**
 * Privileged test tiers need root (CAP_BPF + CAP_NET_ADMIN). Without it they
 * fail loudly — never skip silently — so a run without privileges cannot be
 * mistaken for a green one.
 */
import type { Test } from 'tap';
import { prepareEnvironment } from '../../src/bpf/environment.js';

export function requirePrivileges(t: Test): boolean {
  const problems = prepareEnvironment();
  if (problems.length === 0) return true;
  t.fail(`this test needs a privileged environment: ${problems.join('; ')}`);
  return false;
}
