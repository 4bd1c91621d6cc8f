/**
 * Stable ids of networks, routers and group slots. The dataplane keys learned state by network id (FDB,
 * neighbours) and routes by router id, so an id must keep its meaning: it is allocated once,
 * from a counter that only grows, kept in the pinned vnf_ids map (the kernel is the truth), and
 * never reused — a network that is removed and added again gets a new id, and nothing learned
 * under the old one applies to it. Pure: allocation is a function of what is pinned and the file.
 */
import { createHash } from 'node:crypto';
import { VNF_IDK_GROUP, VNF_IDK_NETWORK, VNF_IDK_NEXT, VNF_IDK_ROUTER, idCodec, idKeyCodec } from '../vnf/common/codec.js';
import type { Topology } from '../spec/model.js';
import { put, unhex, type MapEntries } from './desired.js';

export interface IdTable {
  /** The next id to hand out (ids start at 1; 0 means "none" in the dataplane). */
  next: number;
  networks: Map<string, number>;
  routers: Map<string, number>;
  /** Group slots by slot name (groupSlotName): two per owner of double-buffered groups. */
  groups: Map<string, number>;
}

export const emptyIds = (): IdTable => ({ next: 1, networks: new Map(), routers: new Map(), groups: new Map() });

/** The vnf_ids name of an owner's slot (0 or 1): a hash of module and owner (names may be long), and the slot. */
export function groupSlotName(module: string, owner: string, slot: 0 | 1): string {
  return `${createHash('sha256').update(`${module}\u0000${owner}`).digest('hex').slice(0, 14)}:${slot}`;
}

/** The id table as pinned (entries of vnf_ids); an absent map is an empty table. */
export function readIds(entries: MapEntries | undefined): IdTable {
  const t = emptyIds();
  let max = 0;
  for (const [k, v] of entries ?? []) {
    const key = idKeyCodec.decode(unhex(k));
    const { id } = idCodec.decode(v);
    if (key.kind === VNF_IDK_NEXT) t.next = Math.max(t.next, id);
    else if (key.kind === VNF_IDK_NETWORK) t.networks.set(key.name, id);
    else if (key.kind === VNF_IDK_ROUTER) t.routers.set(key.name, id);
    else if (key.kind === VNF_IDK_GROUP) t.groups.set(key.name, id);
    if (key.kind !== VNF_IDK_NEXT) max = Math.max(max, id);
  }
  t.next = Math.max(t.next, max + 1); // a counter behind its own ids would hand one out twice
  return t;
}

/** Ids for every network and router of `t`: kept where the name exists, new ones from the counter. */
export function assignIds(actual: IdTable, t: Topology): IdTable {
  // Group slots are placed by compile (which sees what the kernel holds); they start from the pinned ones.
  const out: IdTable = { next: actual.next, networks: new Map(), routers: new Map(), groups: new Map(actual.groups) };
  const take = (have: Map<string, number>, into: Map<string, number>, names: string[]): void => {
    for (const name of names) {
      const id = have.get(name);
      if (id !== undefined) into.set(name, id);
    }
    for (const name of names) if (!into.has(name)) into.set(name, out.next++);
  };
  take(actual.networks, out.networks, t.networks.map((n) => n.name));
  take(actual.routers, out.routers, t.routers.map((r) => r.name));
  return out;
}

/** The vnf_ids entries of a table. */
export function idEntries(ids: IdTable): MapEntries {
  const m: MapEntries = new Map();
  put(m, idKeyCodec.encode({ kind: VNF_IDK_NEXT, name: '' }), idCodec.encode({ id: ids.next }));
  for (const [name, id] of ids.networks) put(m, idKeyCodec.encode({ kind: VNF_IDK_NETWORK, name }), idCodec.encode({ id }));
  for (const [name, id] of ids.routers) put(m, idKeyCodec.encode({ kind: VNF_IDK_ROUTER, name }), idCodec.encode({ id }));
  for (const [name, id] of ids.groups) put(m, idKeyCodec.encode({ kind: VNF_IDK_GROUP, name }), idCodec.encode({ id }));
  return m;
}

/** Names by id, for showing kernel state. */
export function reverseIds(ids: IdTable): { network(id: number): string; router(id: number): string } {
  const nets = new Map([...ids.networks].map(([n, i]) => [i, n]));
  const routers = new Map([...ids.routers].map(([n, i]) => [i, n]));
  return { network: (id) => nets.get(id) ?? `#${id}`, router: (id) => routers.get(id) ?? `#${id}` };
}
