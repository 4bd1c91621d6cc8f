/**
 * The CNI_* environment a runtime sets (CNI spec 1.1.0), checked: every problem is a CniError
 * with code 4. Light (no schema library): VERSION, asked on every podman command, needs only this.
 */
import { statSync } from 'node:fs';
import { CNI_CODES, CniError } from './errors.js';

/** Whether a namespace file is the one this process runs in (the host's: the plugin runs there). */
function isHostNamespace(path: string): boolean {
  try {
    const a = statSync(path);
    const b = statSync('/proc/self/ns/net');
    return a.ino === b.ino && a.dev === b.dev;
  } catch {
    return false; // a missing namespace is reported by the command (code 3)
  }
}

export type Command = 'ADD' | 'DEL' | 'CHECK' | 'GC' | 'STATUS' | 'VERSION';
const COMMANDS: readonly string[] = ['ADD', 'DEL', 'CHECK', 'GC', 'STATUS', 'VERSION'];

/** The spec's container id: alphanumerics, then also '_', '.', '-'. */
const CONTAINER_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
/** An interface name: 1-15 of letters, digits, '_', '.', '-' (not '.' or '..'): safe in every tool it reaches. */
const IFNAME = /^(?!\.{1,2}$)[A-Za-z0-9_.-]{1,15}$/;
/** Container ids longer than this do not fit the host veth's alias (IFALIASZ). */
const MAX_CONTAINER_ID = 128;

export interface Env {
  command: Command;
  containerId: string;
  netns: string;
  ifname: string;
  args: string;
  path: string[];
}

const need: Record<Command, Array<'CNI_CONTAINERID' | 'CNI_NETNS' | 'CNI_IFNAME' | 'CNI_PATH'>> = {
  ADD: ['CNI_CONTAINERID', 'CNI_NETNS', 'CNI_IFNAME', 'CNI_PATH'],
  DEL: ['CNI_CONTAINERID', 'CNI_IFNAME', 'CNI_PATH'],
  CHECK: ['CNI_CONTAINERID', 'CNI_NETNS', 'CNI_IFNAME', 'CNI_PATH'],
  GC: ['CNI_PATH'],
  STATUS: ['CNI_PATH'],
  VERSION: [],
};

export function parseEnv(env: NodeJS.ProcessEnv): Env {
  const command = env['CNI_COMMAND'] ?? '';
  if (!COMMANDS.includes(command)) {
    throw new CniError(CNI_CODES.invalidEnvironment, command ? `unknown CNI_COMMAND ${JSON.stringify(command)}` : 'CNI_COMMAND is not set',
      `one of ${COMMANDS.join(', ')}`);
  }
  const c = command as Command;
  const missing = need[c].filter((k) => !env[k]);
  if (missing.length) throw new CniError(CNI_CODES.invalidEnvironment, `${c} needs ${missing.join(', ')}`, `missing: ${missing.join(', ')}`);
  // Only what the command uses is read and checked: runtimes fill the rest with placeholders
  // (podman sends VERSION with CNI_NETNS=dummy and CNI_IFNAME=dummy).
  const uses = (k: string): boolean => need[c].includes(k as never) || (c === 'DEL' && k === 'CNI_NETNS');
  const containerId = uses('CNI_CONTAINERID') ? env['CNI_CONTAINERID'] ?? '' : '';
  if (containerId.length > MAX_CONTAINER_ID) {
    throw new CniError(CNI_CODES.invalidEnvironment, `CNI_CONTAINERID is ${containerId.length} characters long; vnf takes at most ${MAX_CONTAINER_ID}`);
  }
  if (containerId && !CONTAINER_ID.test(containerId)) {
    throw new CniError(CNI_CODES.invalidEnvironment, `CNI_CONTAINERID ${JSON.stringify(containerId)} is not a container id`, 'letters and digits, then also "_", "." and "-"');
  }
  const ifname = uses('CNI_IFNAME') ? env['CNI_IFNAME'] ?? '' : '';
  if (ifname && !IFNAME.test(ifname)) {
    throw new CniError(CNI_CODES.invalidEnvironment, `CNI_IFNAME ${JSON.stringify(ifname)} is not an interface name`, '1-15 letters, digits, "_", "." or "-"');
  }
  const netns = uses('CNI_NETNS') ? env['CNI_NETNS'] ?? '' : '';
  if (netns && !netns.startsWith('/')) throw new CniError(CNI_CODES.invalidEnvironment, `CNI_NETNS ${JSON.stringify(netns)} is not an absolute path`);
  if (netns && c !== 'DEL' && isHostNamespace(netns)) {
    throw new CniError(CNI_CODES.invalidEnvironment, `CNI_NETNS ${netns} is the host's own network namespace, not a container's`);
  }
  return { command: c, containerId, netns, ifname, args: env['CNI_ARGS'] ?? '', path: (env['CNI_PATH'] ?? '').split(':').filter(Boolean) };
}

