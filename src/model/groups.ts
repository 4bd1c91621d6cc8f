/**
 * Placing double-buffered groups in their owners' slots (see GroupDecl in src/vnf/types.ts). Each
 * owner has two group ids, allocated once from the vnf_ids counter and kept while the owner
 * exists. A group goes into a slot that already holds exactly it (nothing to write), or else into
 * a slot that no config entry points at (the standby, rewritten where it differs): a slot that
 * is pointed at is live and never written. When both slots are pointed at (an apply was killed
 * between the flips of one owner's bindings, and the content changed since), the group gets a
 * fresh id, written whole. Pure: a function of what the kernel holds and what is wanted.
 */
import type { DesiredGroup, GroupSpec } from '../vnf/types.js';
import { groupSlotName, type IdTable } from './ids.js';

/** What the kernel holds of one module's groups: roots by group id, and the ids config entries point at. */
export interface KernelGroups {
  roots: ReadonlyMap<number, Buffer>;
  referenced: ReadonlySet<number>;
}

const NONE: KernelGroups = { roots: new Map(), referenced: new Set() };

/**
 * Places every wanted group; returns them and the id table with exactly the slots of the owners
 * that are wanted (a slot of an owner that left is dropped: its group is removed by the plan).
 */
export function placeGroups(specs: ReadonlyArray<GroupSpec & { module: string }>, ids: IdTable, kernel: Readonly<Record<string, KernelGroups>>): { groups: DesiredGroup[]; ids: IdTable } {
  const out: IdTable = { ...ids, networks: new Map(ids.networks), routers: new Map(ids.routers), groups: new Map() };
  // An id is never handed out while entries keyed by it may remain: not one the counter already
  // passed (the counter only grows), and not one the kernel holds or points at (a lost id table).
  const taken = new Set<number>([...ids.groups.values()]);
  for (const k of Object.values(kernel)) {
    for (const id of k.roots.keys()) taken.add(id);
    for (const id of k.referenced) taken.add(id);
  }
  const alloc = (): number => {
    while (taken.has(out.next)) out.next++;
    taken.add(out.next);
    return out.next++;
  };
  const groups: DesiredGroup[] = [];
  for (const spec of specs) {
    const k = kernel[spec.module] ?? NONE;
    const names = [groupSlotName(spec.module, spec.owner, 0), groupSlotName(spec.module, spec.owner, 1)] as const;
    const slots = names.map((n) => ids.groups.get(n) ?? alloc());
    const holds = (id: number): boolean => k.roots.get(id)?.equals(spec.root) ?? false;
    let target: 0 | 1;
    if (holds(slots[0]!)) target = 0;
    else if (holds(slots[1]!)) target = 1;
    else {
      const free = ([0, 1] as const).filter((i) => !k.referenced.has(slots[i]!));
      if (free.length === 2) target = k.roots.has(slots[0]!) || !k.roots.has(slots[1]!) ? 0 : 1; // one with entries to diff against
      else if (free.length === 1) target = free[0]!;
      else {
        slots[1] = alloc();
        target = 1;
      }
    }
    out.groups.set(names[0], slots[0]!);
    out.groups.set(names[1], slots[1]!);
    groups.push({ ...spec, id: slots[target]!, standby: slots[1 - target]! });
  }
  return { groups, ids: out };
}
