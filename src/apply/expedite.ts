/**
 * Expedited RCU grace periods while an apply attaches many links (opt-in: `--fast-attach`).
 *
 * The first tcx link on an interface direction waits for an RCU grace period (~8 ms here) while
 * holding rtnl, so attaching is serial: 1,000 new ports (2,000 links) take ~16 s. With
 * /sys/kernel/rcu_expedited set, the kernel's synchronize_rcu() takes the expedited path (IPIs to
 * every CPU instead of waiting) and an attach takes well under a millisecond. It is a host-wide
 * setting: every RCU user on the host gets expedited grace periods meanwhile, so vnf turns it on
 * only when asked, only around the attaches, and puts the previous value back (a kill in between
 * leaves it on: `vnf-ctl doctor` shows it).
 */
import { readFileSync, writeFileSync } from 'node:fs';

export const RCU_EXPEDITED = '/sys/kernel/rcu_expedited';

export function rcuExpedited(): boolean | undefined {
  try {
    return readFileSync(RCU_EXPEDITED, 'utf8').trim() === '1';
  } catch {
    return undefined;
  }
}

/** Runs `fn` with expedited grace periods when `on`, restoring the setting afterwards. */
export async function withExpeditedRcu<T>(on: boolean, fn: () => Promise<T>): Promise<T> {
  const was = on ? rcuExpedited() : undefined;
  if (!on || was === undefined || was) return fn();
  writeFileSync(RCU_EXPEDITED, '1');
  try {
    return await fn();
  } finally {
    writeFileSync(RCU_EXPEDITED, '0');
  }
}
