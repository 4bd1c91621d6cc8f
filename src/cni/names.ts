/**
 * What the plugin names in the host: the host side of a container's veth is `vnf` + 11 hex digits
 * of a hash of (container id, interface name) — the same for ADD, DEL and CHECK, and for nothing
 * else — and carries an alias saying whose it is, which GC reads to find the plugin's own ports.
 */
import { createHash } from 'node:crypto';

const hash = (containerId: string, ifname: string): string =>
  createHash('sha256').update(`${containerId}\u0000${ifname}`).digest('hex');

export const cniHostVeth = (containerId: string, ifname: string): string => `vnf${hash(containerId, ifname).slice(0, 11)}`;

/** A locally administered unicast MAC for the container side, fixed per (container id, interface name). */
export function cniMac(containerId: string, ifname: string): string {
  const h = hash(containerId, ifname).slice(11, 21);
  return `02:${h.match(/../g)!.join(':')}`;
}

/** The host veth's alias: `vnf-cni:<CNI network>:<container id>:<ifname>`. */
export const cniAlias = (network: string, containerId: string, ifname: string): string => `vnf-cni:${network}:${containerId}:${ifname}`;

export function parseAlias(alias: string): { network: string; containerId: string; ifname: string } | undefined {
  const m = /^vnf-cni:([^:]+):([^:]+):([^:]+)$/.exec(alias.trim());
  return m ? { network: m[1]!, containerId: m[2]!, ifname: m[3]! } : undefined;
}
