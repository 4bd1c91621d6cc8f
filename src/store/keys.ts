/**
 * The store's layout: every key vnf writes lies under one prefix (default `/vnf/`).
 *   <prefix>topology         the validated topology file (its revision is the key's mod revision)
 *   <prefix>hosts/<host>     a live host's registration (on its lease)
 *   <prefix>applied/<host>   what a host last applied (on its lease)
 */
import { checkName } from '../spec/names.js';
import { InputError } from '../ops/errors.js';

export const DEFAULT_PREFIX = '/vnf/';

export interface StoreKeys {
  prefix: string;
  topology: string;
  hosts: string;
  applied: string;
  host(name: string): string;
  appliedBy(name: string): string;
}

/** A store URL or prefix that cannot be used: exit 2. */
export class StoreInputError extends InputError {}

/** The keys under `prefix` (it must start with '/'; a missing trailing '/' is added). */
export function storeKeys(prefix: string = DEFAULT_PREFIX): StoreKeys {
  if (!prefix.startsWith('/') || /\s/.test(prefix) || prefix.includes('//')) {
    throw new StoreInputError(`invalid store prefix "${prefix}": it starts with '/' and has no blanks or empty parts (e.g. /vnf/)`);
  }
  const p = prefix.endsWith('/') ? prefix : `${prefix}/`;
  return {
    prefix: p,
    topology: `${p}topology`,
    hosts: `${p}hosts/`,
    applied: `${p}applied/`,
    host: (name) => `${p}hosts/${checkHostName(name)}`,
    appliedBy: (name) => `${p}applied/${checkHostName(name)}`,
  };
}

/** Throws StoreInputError unless `name` is a valid host name (a vnf name). */
export function checkHostName(name: string): string {
  const problem = checkName(name, 'host name');
  if (problem) throw new StoreInputError(problem);
  return name;
}

export type KeyKind = { kind: 'topology' } | { kind: 'host'; host: string } | { kind: 'applied'; host: string };

/** What a key under the prefix holds; undefined for keys vnf does not own (or with an invalid host name). */
export function classifyKey(keys: StoreKeys, key: string): KeyKind | undefined {
  if (key === keys.topology) return { kind: 'topology' };
  for (const [start, kind] of [[keys.hosts, 'host'], [keys.applied, 'applied']] as const) {
    if (key.startsWith(start)) {
      const host = key.slice(start.length);
      return checkName(host) === undefined ? { kind, host } : undefined;
    }
  }
  return undefined;
}
