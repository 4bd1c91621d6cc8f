/**
 * The store side of the CLI (apply/plan/get/destroy with --store): the file is validated exactly
 * as without a store, and only a valid file that places its containers on hosts is written.
 */
import { InputError } from './errors.js';
import { parseTopology, readTopologySource, SpecError, type SpecIssue } from '../spec/index.js';
import type { Topology } from '../spec/model.js';
import { connectStore, StoreError, type Store } from '../store/client.js';
import { deleteTopology, getStoredTopology, putTopology, type PutResult } from '../store/topology.js';
import { readSnapshot } from '../store/snapshot.js';
import { diffTopologies, type StoreDiffEntry } from '../store/diff.js';
import { storeStatus, type StoreStatus } from '../store/status.js';
import { spansHosts } from '../spec/hosts.js';
import type { StoredTopology } from '../store/snapshot.js';

export interface StoreTarget {
  url: string;
  prefix?: string;
}

async function withStore<T>(target: StoreTarget, f: (s: Store) => Promise<T>): Promise<T> {
  const store = connectStore(target.url, target.prefix !== undefined ? { prefix: target.prefix } : {});
  try {
    return await f(store);
  } finally {
    store.close();
  }
}

/** A file for the store must say where its containers run. */
export function requireHosts(t: Topology): void {
  if (!spansHosts(t)) {
    throw new InputError(`topology ${t.name}: no container names a host; a topology applied through a store says where each container runs (containers.NAME.host)`);
  }
}

/** A file that places containers on hosts is applied through a store, not to this host's kernel. */
export function refuseHosts(t: Topology): void {
  if (spansHosts(t)) {
    const hosts = [...new Set(t.containers.flatMap((c) => (c.host ? [c.host] : [])))].sort();
    throw new InputError(`topology ${t.name} places containers on hosts (${hosts.join(', ')}): apply it with --store URL (the agents on those hosts apply their part)`);
  }
}

/** The stored topology, parsed and validated; a stored file that no longer validates is reported. */
export function parseStored(stored: StoredTopology): Topology {
  const r = parseTopology(stored.source, stored.file);
  if (!r.ok) throw new StoreError(`the stored topology (${stored.file}, revision ${stored.revision}) does not validate: ${new SpecError(r.issues, stored.file).message}`);
  return r.topology;
}

export async function applyToStore(file: string, target: StoreTarget): Promise<PutResult & { name: string; warnings: SpecIssue[] }> {
  const { topology, warnings, text } = readTopologySource(file);
  requireHosts(topology);
  const r = await withStore(target, (s) => putTopology(s, text, file === '-' ? '<stdin>' : file));
  return { ...r, name: topology.name, warnings };
}

export async function planAgainstStore(file: string, target: StoreTarget): Promise<{ name: string; storedRevision: number | null; changes: StoreDiffEntry[]; warnings: SpecIssue[] }> {
  const { topology, warnings } = readTopologySource(file);
  requireHosts(topology);
  const stored = await withStore(target, (s) => getStoredTopology(s));
  const before = stored ? parseStored(stored) : undefined;
  return { name: topology.name, storedRevision: stored?.revision ?? null, changes: diffTopologies(before, topology), warnings };
}

export async function statusOfStore(target: StoreTarget): Promise<StoreStatus & { problems: string[] }> {
  const snap = await withStore(target, (s) => readSnapshot(s));
  const problems = [...snap.problems];
  let topology: Topology | undefined;
  if (snap.topology) {
    try {
      topology = parseStored(snap.topology);
    } catch (e) {
      problems.push(e instanceof Error ? e.message : String(e));
    }
  }
  return { ...storeStatus(snap, topology), problems };
}

export async function destroyInStore(name: string, target: StoreTarget): Promise<{ revision: number }> {
  return withStore(target, async (s) => {
    const stored = await getStoredTopology(s);
    if (!stored) throw new InputError(`no topology is stored at ${s.url}${s.keys.prefix}`);
    const r = parseTopology(stored.source, stored.file);
    const storedName = r.ok ? r.topology.name : undefined;
    if (storedName !== name) throw new InputError(`the store holds topology ${storedName ?? '(invalid)'}, not ${name}: nothing removed`);
    await deleteTopology(s);
    return { revision: stored.revision };
  });
}
