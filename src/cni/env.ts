/**
 * The CNI_* environment a runtime sets (CNI spec 1.1.0), checked: every problem is a CniError
 * with code 4. Light (no schema library): VERSION, asked on every podman command, needs only this.
 */
import { CNI_CODES, CniError } from './errors.js';

export type Command = 'ADD' | 'DEL' | 'CHECK' | 'GC' | 'STATUS' | 'VERSION';
const COMMANDS: readonly string[] = ['ADD', 'DEL', 'CHECK', 'GC', 'STATUS', 'VERSION'];

/** The spec's container id: alphanumerics, then also '_', '.', '-'. */
const CONTAINER_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
/** A Linux interface name: 1-15 bytes, no '/', ':' or whitespace, not '.' or '..'. */
const IFNAME = /^(?!\.{1,2}$)[^\s/:]{1,15}$/;

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
  if (containerId && !CONTAINER_ID.test(containerId)) {
    throw new CniError(CNI_CODES.invalidEnvironment, `CNI_CONTAINERID ${JSON.stringify(containerId)} is not a container id`, 'letters and digits, then also "_", "." and "-"');
  }
  const ifname = uses('CNI_IFNAME') ? env['CNI_IFNAME'] ?? '' : '';
  if (ifname && !IFNAME.test(ifname)) {
    throw new CniError(CNI_CODES.invalidEnvironment, `CNI_IFNAME ${JSON.stringify(ifname)} is not an interface name`, '1-15 characters, no "/", ":" or whitespace');
  }
  const netns = uses('CNI_NETNS') ? env['CNI_NETNS'] ?? '' : '';
  if (netns && !netns.startsWith('/')) throw new CniError(CNI_CODES.invalidEnvironment, `CNI_NETNS ${JSON.stringify(netns)} is not an absolute path`);
  return { command: c, containerId, netns, ifname, args: env['CNI_ARGS'] ?? '', path: (env['CNI_PATH'] ?? '').split(':').filter(Boolean) };
}

