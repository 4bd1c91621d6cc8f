/**
 * Where things live: pin paths, namespace and interface names. Names the
 * kernel sees are short (IFNAMSIZ = 16 incl. NUL) and derived from stable
 * hashes so they are the same on every run.
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';

export const VNF_PIN_ROOT = '/sys/fs/bpf/vnf';
export const VNF_RUN_ROOT = '/run/vnf';

export const pinDir = (topology: string): string => join(VNF_PIN_ROOT, topology);
export const linksDir = (topology: string): string => join(pinDir(topology), 'links');
export const progsDir = (topology: string): string => join(pinDir(topology), 'progs');
export const linkPin = (topology: string, ifname: string, direction: 'ingress' | 'egress'): string =>
  join(linksDir(topology), `${ifname}@${direction === 'ingress' ? 'in' : 'out'}`); // bpffs refuses '.' in names
export const stateDir = (topology: string): string => join(VNF_RUN_ROOT, topology);

/** Network namespace of a lab container (ip netns name; /run/netns/<name>). */
export const labNetns = (topology: string, container: string): string => `vnf-${topology}-${container}`;

/** Host-side veth of a lab container interface: "vnf" + 8 hex digits (11 chars). */
export function hostVethName(topology: string, container: string, iface: string): string {
  return 'vnf' + createHash('sha256').update(`${topology}/${container}/${iface}`).digest('hex').slice(0, 8);
}

/** A stable non-zero 31-bit id for versioned content (chains, flood lists). */
export function contentId(parts: ReadonlyArray<string | number>): number {
  const h = createHash('sha256').update(parts.join('\u0000')).digest();
  return (h.readUInt32LE(0) & 0x7fffffff) || 1;
}
