/**
 * The desired dataplane state: what compile() produces from a topology and what plan() diffs
 * against the kernel. Plain data: per config map the exact set of entries (hex key -> value
 * bytes), the double-buffered groups (placed in their slots), the interfaces that carry the entry programs, and what
 * learned state is judged against.
 */
import type { DesiredGroup, Live, PortInterface } from '../vnf/types.js';
import type { IdTable } from './ids.js';

/** Entries of one map, keyed by the hex of the key bytes. */
export type MapEntries = Map<string, Buffer>;

/** An interface that carries the entry programs: a port, as compile sees it. */
export type DesiredInterface = Pick<PortInterface, 'ifname' | 'ifindex' | 'source' | 'container' | 'iface' | 'network'>;

export interface DesiredState {
  topology: string;
  interfaces: DesiredInterface[];
  /** Config maps: every entry the control plane wants. */
  maps: Record<string, MapEntries>;
  groups: DesiredGroup[];
  live: Live;
  ids: IdTable;
}

export const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
export const unhex = (s: string): Buffer => Buffer.from(s, 'hex');

export function put(entries: MapEntries, key: Buffer, value: Buffer): void {
  entries.set(hex(key), value);
}
