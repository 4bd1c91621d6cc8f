/**
 * Where things live: pin paths, record paths, namespace and interface names. Every path vnf
 * creates or removes is derived here from a name that passed checkName, and must resolve to a
 * direct child of vnf's roots: `destroy ..` or `destroy ""` can never reach outside them.
 */
import { createHash } from 'node:crypto';
import { join, resolve } from 'node:path';
import { checkName } from '../spec/names.js';
import { InputError } from '../ops/errors.js';

export const VNF_PIN_ROOT = '/sys/fs/bpf/vnf';
export const VNF_RUN_ROOT = '/run/vnf';

/** A topology name from a user (command line, file) that is not a valid name. */
export class NameError extends InputError {
  override name = 'NameError';
}

/** Throws NameError unless `name` is a valid topology name. */
export function checkTopologyName(name: string): string {
  const problem = checkName(name, 'topology name');
  if (problem) throw new NameError(problem);
  return name;
}

/** root/name, checked to be a direct child of root. */
function under(root: string, name: string): string {
  checkTopologyName(name);
  const p = resolve(root, name);
  if (p !== join(root, name) || resolve(p, '..') !== root) throw new NameError(`topology name "${name}" does not name a folder under ${root}`);
  return p;
}

export const pinDir = (topology: string): string => under(VNF_PIN_ROOT, topology);
export const linksDir = (topology: string): string => join(pinDir(topology), 'links');
export const progsDir = (topology: string): string => join(pinDir(topology), 'progs');
export const stateDir = (topology: string): string => under(VNF_RUN_ROOT, topology);
export const lockPath = (topology: string): string => join(VNF_RUN_ROOT, `${checkTopologyName(topology)}.lock`);

/** bpffs refuses '.' in names; interface names with characters outside this set cannot be pinned. */
export const PINNABLE_IFNAME = /^[A-Za-z0-9_-]{1,15}$/;

export const linkPin = (topology: string, ifname: string, direction: 'ingress' | 'egress'): string => {
  if (!PINNABLE_IFNAME.test(ifname)) throw new NameError(`interface name "${ifname}" cannot be a pin name (letters, digits, '_' and '-' only)`);
  return join(linksDir(topology), `${ifname}@${direction === 'ingress' ? 'in' : 'out'}`);
};

/**
 * Network namespace of a lab container (ip netns name; /run/netns/<name>). Names use [a-z0-9-]
 * only, so '.' cannot occur in either part: "a-b"/"c" and "a"/"b-c" stay apart.
 */
export const labNetns = (topology: string, container: string): string => `vnf.${topology}.${container}`;

/** Host-side veth of a lab container interface: "vnf" + 8 hex digits (11 chars). */
export function hostVethName(topology: string, container: string, iface: string): string {
  return 'vnf' + createHash('sha256').update(`${topology}/${container}/${iface}`).digest('hex').slice(0, 8);
}

/** A stable non-zero 31-bit id for versioned content (chains, flood lists). */
export function contentId(parts: ReadonlyArray<string | number>): number {
  const h = createHash('sha256').update(parts.join('\u0000')).digest();
  return (h.readUInt32LE(0) & 0x7fffffff) || 1;
}
