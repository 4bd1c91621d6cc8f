/**
 * Everything under the prefix, read at one revision: the topology, the live hosts and what each
 * applied. Values that do not validate are left out and reported in `problems`.
 */
import type { Store } from './client.js';
import { classifyKey } from './keys.js';
import { appliedValue, decodeValue, hostValue, topologyValue, type AppliedValue, type HostValue, type TopologyValue } from './values.js';

export interface StoredTopology extends TopologyValue {
  /** The key's mod revision: the topology's revision. */
  revision: number;
}

export interface Snapshot {
  /** The store's revision the snapshot was read at. */
  revision: number;
  topology?: StoredTopology;
  /** Registered hosts (their lease is alive), by name. */
  hosts: Map<string, HostValue>;
  applied: Map<string, AppliedValue>;
  /**
   * Registrations left out of `hosts` because an earlier-registered host holds the same underlay
   * address (two hosts cannot share a VTEP: frames for one would reach the other, and the other
   * could send as the first's containers). By name; each is also reported in `problems`.
   */
  shadowed: Map<string, HostValue>;
  /** Values that did not parse or validate, one line each. */
  problems: string[];
}

interface RawKv { key: Buffer; value: Buffer; mod_revision: string; create_revision?: string }

/** Sorts the key-values of one range read into a snapshot. */
export function snapshotOf(store: Pick<Store, 'keys'>, revision: number, kvs: readonly RawKv[]): Snapshot {
  const s: Snapshot = { revision, hosts: new Map(), applied: new Map(), shadowed: new Map(), problems: [] };
  const registered: Array<{ host: string; key: string; created: number; value: HostValue }> = [];
  for (const kv of kvs) {
    const key = kv.key.toString();
    const text = kv.value.toString();
    const k = classifyKey(store.keys, key);
    if (!k) continue;
    if (k.kind === 'topology') {
      const d = decodeValue(topologyValue, key, text);
      if (d.ok) s.topology = { ...d.value, revision: Number(kv.mod_revision) };
      else s.problems.push(d.problem);
    } else if (k.kind === 'host') {
      const d = decodeValue(hostValue, key, text);
      if (d.ok) registered.push({ host: k.host, key, created: Number(kv.create_revision ?? kv.mod_revision), value: d.value });
      else s.problems.push(d.problem);
    } else {
      const d = decodeValue(appliedValue, key, text);
      if (d.ok) s.applied.set(k.host, d.value);
      else s.problems.push(d.problem);
    }
  }
  // The first to register an address keeps it (ties: by name).
  registered.sort((a, b) => a.created - b.created || (a.host < b.host ? -1 : a.host > b.host ? 1 : 0));
  const holder = new Map<string, string>();
  for (const r of registered) {
    const first = holder.get(r.value.underlay);
    if (first === undefined) {
      holder.set(r.value.underlay, r.host);
      s.hosts.set(r.host, r.value);
    } else {
      s.shadowed.set(r.host, r.value);
      s.problems.push(`${r.key}: underlay ${r.value.underlay} is already host ${first}'s: left out`);
    }
  }
  return s;
}

export async function readSnapshot(store: Store): Promise<Snapshot> {
  const r = await store.call((c) => c.getAll().prefix(store.keys.prefix).exec());
  return snapshotOf(store, Number(r.header.revision), r.kvs as unknown as RawKv[]);
}
