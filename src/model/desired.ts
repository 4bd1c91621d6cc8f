/**
 * The desired dataplane state: what compile() produces from a topology and
 * what plan() diffs against the kernel. Plain data: per managed map, the exact
 * set of entries (hex key -> value bytes), and the interfaces that carry the
 * entry programs.
 */

import type { PortInterface } from '../vnf/types.js';

/** Entries of one map, keyed by the hex of the key bytes. */
export type MapEntries = Map<string, Buffer>;

/** An interface that carries the entry programs: a port, as compile sees it. */
export type DesiredInterface = Pick<PortInterface, 'ifname' | 'ifindex' | 'source' | 'container' | 'iface' | 'network'>;

export interface DesiredState {
  topology: string;
  interfaces: DesiredInterface[];
  maps: Record<string, MapEntries>;
}

/**
 * Map ownership: 'all' means every entry is the control plane's (extra
 * entries are deleted); 'static' means only entries the predicate marks as
 * static are managed, and learned entries are left to the dataplane.
 */
export interface ManagedMap {
  name: string;
  owns: 'all' | 'static';
  isStatic?: (value: Buffer) => boolean;
  /** Apply order: lower first for upserts, reverse for deletes. */
  order: number;
}

export const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
export const unhex = (s: string): Buffer => Buffer.from(s, 'hex');

export function put(entries: MapEntries, key: Buffer, value: Buffer): void {
  entries.set(hex(key), value);
}
