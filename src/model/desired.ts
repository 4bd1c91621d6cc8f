/**
 * The desired dataplane state: what compile() produces from a topology and
 * what plan() diffs against the kernel. Plain data: per managed map, the exact
 * set of entries (hex key -> value bytes), and the interfaces that carry the
 * entry programs.
 */

/** Entries of one map, keyed by the hex of the key bytes. */
export type MapEntries = Map<string, Buffer>;

export interface DesiredInterface {
  /** Host-side interface name (in the host namespace). */
  ifname: string;
  ifindex: number;
  /** 'file' for containers of the topology file, 'attach' for `vnf-ctl attach`. */
  source: 'file' | 'attach';
  container?: string;
  iface?: string;
  network: string;
}

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
