/**
 * Topologies that span hosts: every container names the host it runs on (`host:`), and each
 * network travels between hosts under a VXLAN network identifier — the file's `vni`, or one
 * derived from the network's name, so that every host computes the same one with no allocator.
 */
import { createHash } from 'node:crypto';
import { VNI_MAX } from './schema.js';

/** Whether a raw or normalized topology names hosts (it is then applied through a store). */
export function spansHosts(t: { containers?: unknown }): boolean {
  const cs = t.containers;
  const list = Array.isArray(cs) ? cs : Object.values((cs ?? {}) as Record<string, unknown>);
  return list.some((c) => typeof (c as { host?: unknown }).host === 'string');
}

/** The VNI of a network that sets none: a hash of its name into 1..VNI_MAX. */
export function deriveVni(network: string): number {
  return (createHash('sha256').update(`vnf vni ${network}`).digest().readUInt32BE(0) % VNI_MAX) + 1;
}
