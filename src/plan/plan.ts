/**
 * plan: a pure diff of the desired state against what observe found, as an ordered list of
 * operations. The plan is the whole truth: program loads, program slots, map entries, rule-set
 * groups, links and the removal of learned state that lost its meaning are all operations here,
 * and apply executes exactly this list, in this order.
 *
 * The order makes every prefix of the plan safe — an apply that fails or is killed after any
 * operation leaves every port on its old or its new policy, and ports the change does not touch
 * unaffected:
 *   1. load programs, fill program slots
 *   2. define: rule-set groups (the differences written into the standby slot, which no binding
 *      points at, between its root marked incomplete and its complete root), ids, chains,
 *      flood lists, bindings — nothing refers to them yet
 *   3. bind: port entries (a port flips to its new chains and bindings in one update)
 *   4. attach links of new ports, replace programs of existing links atomically
 *   5. publish: networks (flood list flips), static FDB and neighbours, routes — a new port
 *      becomes reachable only now that its policy is in place
 *   6. detach links of ports that left
 *   7. removals, in reverse order: publish, bind, define maps; unused groups; learned and
 *      counter entries whose port, network or route is gone
 *   8. commit: the applied generation (the record is trusted only when it names it)
 *   9. unpin programs of old builds
 * Learned entries (FDB, neighbours, connections) are never removed unless what they refer to is.
 */
import type { Observed, ObservedLink } from '../observe/kernel.js';
import type { KernelGroups } from '../model/groups.js';
import { u32 } from '../codec/struct.js';
import { hex, unhex, type DesiredState, type MapEntries } from '../model/desired.js';
import { linkPin } from '../model/names.js';
import { MAPS, VNFS } from '../vnf/registry.js';
import type { Dependency, DesiredGroup, GroupDecl, MapDecl, PackedEntries, Stage } from '../vnf/types.js';
import { portCodec, VNF_ABI_VERSION } from '../vnf/common/codec.js';
import { VNF_MAP_IDS, VNF_MAP_NETWORKS, VNF_MAP_PORTS } from '../abi/vnf_common.js';
import { readIds } from '../model/ids.js';

export interface Build {
  object: string;
  /** Content hash of build/bpf/<object>.bpf.o (first 12 hex digits). */
  hash: string;
  programs: string[];
}

export type Direction = 'ingress' | 'egress';

export type Op =
  | { kind: 'load'; object: string; build: string; why: string }
  | { kind: 'slot'; slot: number; vnf: string; program: string; build: string; why: string }
  | { kind: 'upsert'; map: string; key: Buffer; value: Buffer; previous?: Buffer }
  | { kind: 'delete'; map: string; key: Buffer; previous?: Buffer }
  | {
    kind: 'group-write'; module: string; group: DesiredGroup;
    /** What the slot held: nothing, another complete group (the standby), or an interrupted write or removal. */
    from: 'empty' | 'standby' | 'incomplete';
    /** Only the leaves that differ from what the slot holds, packed per map (deletes: keys only). */
    upserts: Record<string, PackedEntries>;
    deletes: Record<string, PackedEntries>;
    written: number;
    deleted: number;
    unchanged: number;
  }
  | { kind: 'group-remove'; module: string; id: number; why: string }
  | { kind: 'sweep'; map: string; keys: Buffer[]; why: string }
  | { kind: 'attach'; ifname: string; ifindex: number; direction: Direction; pin: string }
  | { kind: 'update-link'; ifname: string; direction: Direction; pin: string; why: string }
  | { kind: 'detach'; ifname: string; direction: Direction; pin: string; why: string }
  | { kind: 'unpin-program'; pin: string; name: string };

export interface Plan {
  topology: string;
  ops: Op[];
  /** Human-level changes (e.g. firewall rules added/removed), shown before the operations. */
  notes: string[];
  /** Why this plan must not be applied (pinned maps of another layout); empty when it may. */
  blocked: string[];
}

export const ENTRY_PROGRAM: Record<Direction, string> = { ingress: 'vnf_entry_in', egress: 'vnf_entry_out' };
export const programPinName = (program: string, build: string): string => `${program}@${build}`;

const STAGES: Stage[] = ['define', 'bind', 'publish', 'commit'];

function configMaps(stage: Stage): MapDecl[] {
  return [...MAPS.values()].filter((m) => m.kind === 'config' && m.stage === stage).sort((a, b) => (a.order ?? 0) - (b.order ?? 0));
}

/** Pinned maps whose layout is not the one this vnf was built with. */
function layoutProblems(actual: Observed): string[] {
  const out: string[] = [];
  if (actual.meta && actual.meta.abi_version !== 0 && actual.meta.abi_version !== VNF_ABI_VERSION) {
    out.push(`the pinned maps have layout v${actual.meta.abi_version}; this vnf uses v${VNF_ABI_VERSION}`);
  }
  for (const [name, info] of actual.pinned) {
    const d = MAPS.get(name);
    if (!d) continue;
    const want = `${d.type}, key ${d.keySize} B, value ${d.valueSize} B, ${d.maxEntries} entries`;
    const have = `${info.typeName}, key ${info.keySize} B, value ${info.valueSize} B, ${info.maxEntries} entries`;
    if (want !== have) out.push(`map ${name} is pinned as ${have}; this vnf needs ${want}`);
  }
  return out;
}

interface Diff {
  upserts: Op[];
  deletes: Op[];
}

function diffConfig(name: string, desired: MapEntries, actual: MapEntries | undefined): Diff {
  const upserts: Op[] = [];
  const deletes: Op[] = [];
  for (const [key, value] of desired) {
    const prev = actual?.get(key);
    if (prev && prev.equals(value)) continue;
    upserts.push({ kind: 'upsert', map: name, key: unhex(key), value, ...(prev ? { previous: prev } : {}) });
  }
  for (const [key, value] of actual ?? []) {
    if (!desired.has(key)) deletes.push({ kind: 'delete', map: name, key: unhex(key), previous: value });
  }
  return { upserts, deletes };
}

/** Programs: which objects to load (their build is not pinned, a map is missing, or a program uses a map that is not the pinned one). */
function planPrograms(actual: Observed, builds: Build[]): { loads: Op[]; loaded: Set<string> } {
  const loads: Op[] = [];
  const loaded = new Set<string>();
  const pinnedProg = new Map(actual.programs.map((p) => [programPinName(p.name, p.build), p]));
  const missingMaps = [...MAPS.values()].filter((m) => !actual.pinned.has(m.name));
  const pinnedIds = new Set([...actual.pinned.values()].map((i) => i.id));
  const sharedIds = new Map([...actual.pinned].map(([name, i]) => [name, i.id]));
  for (const b of builds) {
    let why: string | undefined;
    if (!actual.exists) why = 'first apply';
    else if (missingMaps.length) why = `pinned map${missingMaps.length > 1 ? 's' : ''} ${missingMaps.map((m) => m.name).join(', ')} missing`;
    else if (b.programs.some((p) => !pinnedProg.has(programPinName(p, b.hash)))) why = `build ${b.hash} not loaded`;
    else {
      // A program still using a map that is no longer the pinned one (a lost or replaced pin)
      // would keep reading state the control plane no longer writes: reload it.
      const orphan = b.programs.some((p) => {
        const prog = pinnedProg.get(programPinName(p, b.hash))!;
        return prog.mapIds.some((m) => m.name !== undefined && sharedIds.has(m.name) && !pinnedIds.has(m.id));
      });
      if (orphan) why = 'a program uses a map that is no longer pinned';
    }
    if (why) {
      loads.push({ kind: 'load', object: b.object, build: b.hash, why });
      loaded.add(b.object);
    }
  }
  return { loads, loaded };
}

function planSlots(actual: Observed, builds: Build[], loaded: Set<string>): Op[] {
  const ops: Op[] = [];
  const progId = new Map(actual.programs.map((p) => [programPinName(p.name, p.build), p.id]));
  for (const v of VNFS) {
    if (v.id === undefined || !v.slotProgram || !v.object) continue;
    const b = builds.find((x) => x.object === v.object)!;
    const want = progId.get(programPinName(v.slotProgram, b.hash));
    const have = actual.slots.get(v.id);
    if (loaded.has(v.object) || want === undefined || have !== want) {
      ops.push({ kind: 'slot', slot: v.id, vnf: v.name, program: v.slotProgram, build: b.hash, why: have === undefined ? 'empty' : loaded.has(v.object) ? 'new build' : 'runs another program' });
    }
  }
  return ops;
}

function planLinks(desired: DesiredState, actual: Observed, builds: Build[], loaded: Set<string>): { attach: Op[]; detach: Op[] } {
  const attach: Op[] = [];
  const detach: Op[] = [];
  const entry = builds.find((b) => b.programs.includes(ENTRY_PROGRAM.ingress))!;
  const entryIds = new Map(actual.programs.filter((p) => p.build === entry.hash).map((p) => [p.name, p.id]));
  const have = new Map<string, ObservedLink>(actual.links.map((l) => [l.pin, l]));
  const wanted = new Set<string>();
  for (const i of desired.interfaces) {
    for (const direction of ['ingress', 'egress'] as const) {
      const pin = linkPin(desired.topology, i.ifname, direction);
      wanted.add(pin);
      const l = have.get(pin);
      if (l && l.ifindex === i.ifindex) {
        const current = entryIds.get(ENTRY_PROGRAM[direction]);
        if (loaded.has(entry.object) || current === undefined || l.progId !== current) {
          attach.push({ kind: 'update-link', ifname: i.ifname, direction, pin, why: loaded.has(entry.object) ? 'new build' : 'runs another program' });
        }
        continue;
      }
      if (l) attach.push({ kind: 'detach', ifname: i.ifname, direction, pin, why: 'the interface was recreated' });
      attach.push({ kind: 'attach', ifname: i.ifname, ifindex: i.ifindex, direction, pin });
    }
  }
  for (const l of actual.links) {
    if (!wanted.has(l.pin)) detach.push({ kind: 'detach', ifname: l.ifname, direction: l.direction, pin: l.pin, why: l.ifindex ? 'no longer a port' : 'the interface is gone' });
  }
  return { attach, detach };
}

/** What the kernel holds of each module's groups: roots by id, and the ids config entries point at (for compile). */
export function observedGroups(actual: Observed): Record<string, KernelGroups> {
  const out: Record<string, KernelGroups> = {};
  for (const v of VNFS) {
    const g = v.groups;
    if (!g) continue;
    const roots = new Map<number, Buffer>();
    for (const [k, value] of actual.entries(g.root) ?? []) roots.set(g.groupOf(g.root, unhex(k)), value);
    const referenced = new Set<number>();
    for (const r of g.refs) for (const value of (actual.entries(r.map) ?? new Map<string, Buffer>()).values()) referenced.add(r.groupOf(value));
    out[v.name] = { roots, referenced };
  }
  return out;
}

/** FNV-1a over `len` bytes of `b` from `off`: a hash of a packed key without making a string of it. */
function hashBytes(b: Buffer, off: number, len: number): number {
  let h = 0x811c9dc5;
  for (let i = off; i < off + len; i++) h = Math.imul(h ^ b[i]!, 0x01000193);
  return h >>> 0;
}

/**
 * The leaves of group `id` in one map as the kernel holds them, indexed by key for `find`: an
 * open-addressing table over the packed dump (no string or object per entry; a rule set has
 * hundreds of thousands). `take` finds a key and marks it seen; what is never taken is what the
 * slot holds and the group does not want.
 */
interface Held {
  /** The held index of a wanted key (taken), or -1. */
  take(keys: Buffer, off: number): number;
  /** Compares the value at a held index with `len` bytes of `v` from `off`. */
  same(i: number, v: Buffer, off: number, len: number): boolean;
  /** The keys held and never taken, packed. */
  rest(): PackedEntries;
}

function heldLeaves(actual: Observed, g: GroupDecl, leaf: string, id: number): Held {
  let p = actual.packed?.(leaf);
  if (!p) {
    // A test double: its hex-keyed entries, packed.
    const ks: Buffer[] = [];
    const vs: Buffer[] = [];
    for (const [k, v] of actual.entries(leaf) ?? []) {
      ks.push(unhex(k));
      vs.push(v);
    }
    const keySize = ks[0]?.length ?? 0;
    const valueSize = vs[0]?.length ?? 0;
    p = { keys: Buffer.concat(ks), values: Buffer.concat(vs), count: ks.length, keySize, valueSize };
  }
  const { keys, values, keySize, valueSize } = p;
  const mine: number[] = [];
  for (let i = 0; i < p.count; i++) if (g.groupOf(leaf, keys.subarray(i * keySize, (i + 1) * keySize)) === id) mine.push(i);
  let size = 16;
  while (size < mine.length * 2) size *= 2;
  const table = new Int32Array(size).fill(-1);
  const mask = size - 1;
  for (const i of mine) {
    let h = hashBytes(keys, i * keySize, keySize) & mask;
    while (table[h] !== -1) h = (h + 1) & mask;
    table[h] = i;
  }
  const taken = new Uint8Array(p.count);
  return {
    take(k, off) {
      let h = hashBytes(k, off, keySize) & mask;
      for (;;) {
        const i = table[h]!;
        if (i === -1) return -1;
        if (keys.compare(k, off, off + keySize, i * keySize, (i + 1) * keySize) === 0) {
          taken[i] = 1;
          return i;
        }
        h = (h + 1) & mask;
      }
    },
    same: (i, v, off, len) => v.compare(values, i * valueSize, i * valueSize + len, off, off + len) === 0,
    rest() {
      const left = mine.filter((i) => !taken[i]);
      const out = Buffer.allocUnsafe(left.length * keySize);
      left.forEach((i, j) => keys.copy(out, j * keySize, i * keySize, (i + 1) * keySize));
      return { keys: out, values: Buffer.alloc(0), count: left.length, keySize, valueSize: 0 };
    },
  };
}

/** The entries at `indexes` of a packed set, packed. */
function pick(p: PackedEntries, indexes: number[]): PackedEntries {
  const out: PackedEntries = { keys: Buffer.allocUnsafe(indexes.length * p.keySize), values: Buffer.allocUnsafe(indexes.length * p.valueSize), count: indexes.length, keySize: p.keySize, valueSize: p.valueSize };
  indexes.forEach((i, j) => {
    p.keys.copy(out.keys, j * p.keySize, i * p.keySize, (i + 1) * p.keySize);
    p.values.copy(out.values, j * p.valueSize, i * p.valueSize, (i + 1) * p.valueSize);
  });
  return out;
}

function groupWrite(actual: Observed, module: string, g: GroupDecl, d: DesiredGroup, root: Buffer | undefined): Op {
  const want = d.leaves(d.id);
  const upserts: Record<string, PackedEntries> = {};
  const deletes: Record<string, PackedEntries> = {};
  let written = 0, deleted = 0, unchanged = 0;
  for (const leaf of g.leaves) {
    const wanted = want[leaf];
    // Without a root the slot holds nothing: a group's root is written first and removed last.
    if (!root) {
      if (wanted?.count) {
        upserts[leaf] = wanted;
        written += wanted.count;
      }
      continue;
    }
    const held = heldLeaves(actual, g, leaf, d.id);
    const ups: number[] = [];
    const ks = wanted?.keySize ?? 0;
    const vs = wanted?.valueSize ?? 0;
    for (let i = 0; i < (wanted?.count ?? 0); i++) {
      const h = held.take(wanted!.keys, i * ks);
      if (h !== -1 && held.same(h, wanted!.values, i * vs, vs)) {
        unchanged++;
        continue;
      }
      ups.push(i);
    }
    if (ups.length) upserts[leaf] = pick(wanted!, ups);
    const dels = held.rest();
    if (dels.count) deletes[leaf] = dels;
    written += ups.length;
    deleted += dels.count;
  }
  const from = !root ? 'empty' : g.isIncomplete(root) ? 'incomplete' : 'standby';
  return { kind: 'group-write', module, group: d, from, upserts, deletes, written, deleted, unchanged };
}

function planGroups(desired: DesiredState, actual: Observed): { writes: Op[]; removes: Op[] } {
  const writes: Op[] = [];
  const removes: Op[] = [];
  for (const v of VNFS) {
    const g: GroupDecl | undefined = v.groups;
    if (!g) continue;
    const roots = actual.entries(g.root) ?? new Map<string, Buffer>();
    const keep = new Set<number>();
    for (const d of desired.groups) {
      if (d.module !== v.name) continue;
      keep.add(d.id);
      keep.add(d.standby);
      const root = roots.get(hex(u32(d.id)));
      if (root && root.equals(d.root)) continue; // the slot holds exactly this group, complete
      writes.push(groupWrite(actual, v.name, g, d, root));
    }
    for (const [key, root] of roots) {
      const id = g.groupOf(g.root, unhex(key));
      if (keep.has(id)) continue;
      removes.push({ kind: 'group-remove', module: v.name, id, why: g.isIncomplete(root) ? 'left incomplete by an interrupted apply' : 'no longer used' });
    }
  }
  return { writes, removes };
}

/** Which dependencies of learned state lose something in this plan. */
function shrunk(desired: DesiredState, actual: Observed, deletes: Op[], groupChanges: Op[], idsLost: boolean): (d: Dependency) => boolean {
  const ports = actual.entries(VNF_MAP_PORTS);
  let portsGone = false;
  for (const [k, v] of ports ?? []) {
    const ifindex = unhex(k).readUInt32LE(0);
    if (desired.live.ports.get(ifindex) !== portCodec.decode(v).network) portsGone = true;
  }
  const networksGone = [...(actual.entries(VNF_MAP_NETWORKS) ?? new Map<string, Buffer>()).keys()].some((k) => !desired.live.networks.has(unhex(k).readUInt32LE(0)));
  const routersGone = [...readIds(actual.entries(VNF_MAP_IDS)).routers.values()].some((id) => !desired.live.routers.has(id));
  const deletedMaps = new Set(deletes.map((o) => (o as { map: string }).map));
  return (d) => {
    if (idsLost) return true;
    if (d === 'ports') return portsGone;
    if (d === 'networks') return networksGone;
    if (d === 'routers') return routersGone;
    if (d === 'groups') return groupChanges.length > 0; // a group rewritten may have lost entries too
    return deletedMaps.has(d.map);
  };
}

function planSweeps(desired: DesiredState, actual: Observed, lost: (d: Dependency) => boolean, idsLost: boolean): Op[] {
  const ops: Op[] = [];
  for (const m of MAPS.values()) {
    if ((m.kind !== 'learned' && m.kind !== 'stats') || !m.keep || !actual.pinned.has(m.name)) continue;
    if (!(m.dependsOn ?? []).some(lost) && !idsLost) continue;
    const keys: Buffer[] = [];
    const p = actual.packed?.(m.name);
    if (p) {
      // Counter maps reach 100,000s of entries: scanned packed, only the doomed keys copied.
      for (let i = 0; i < p.count; i++) {
        const key = p.keys.subarray(i * p.keySize, (i + 1) * p.keySize);
        if (idsLost || !m.keep(key, p.values.subarray(i * p.valueSize, (i + 1) * p.valueSize), desired.live)) keys.push(Buffer.from(key));
      }
    } else {
      for (const [k, v] of actual.entries(m.name) ?? []) {
        const key = unhex(k);
        if (idsLost || !m.keep(key, v, desired.live)) keys.push(key);
      }
    }
    if (keys.length) ops.push({ kind: 'sweep', map: m.name, keys, why: idsLost ? 'the id table was lost' : 'their port, network or route is gone' });
  }
  return ops;
}

export function plan(desired: DesiredState, actual: Observed, builds: Build[]): Plan {
  const blocked = layoutProblems(actual);
  const { loads, loaded } = planPrograms(actual, builds);
  const slots = planSlots(actual, builds, loaded);
  const idsLost = actual.exists && actual.pinned.size > 0 && !actual.pinned.has(VNF_MAP_IDS);

  const upserts: Record<Stage, Op[]> = { define: [], bind: [], publish: [], commit: [] };
  const deletes: Record<Stage, Op[]> = { define: [], bind: [], publish: [], commit: [] };
  for (const stage of STAGES) {
    for (const m of configMaps(stage)) {
      const d = diffConfig(m.name, desired.maps[m.name] ?? new Map(), actual.entries(m.name));
      for (const op of d.upserts) upserts[stage].push(op);
      // Deletes run in reverse order of the maps, within the reverse order of the stages.
      deletes[stage].unshift(...d.deletes);
    }
  }
  const groups = planGroups(desired, actual);
  const links = planLinks(desired, actual, builds, loaded);
  const allDeletes = [...deletes.publish, ...deletes.bind, ...deletes.define, ...deletes.commit];
  const lost = shrunk(desired, actual, allDeletes, [...groups.writes, ...groups.removes], idsLost);
  const sweeps = planSweeps(desired, actual, lost, idsLost);

  const current = new Set(builds.map((b) => b.hash));
  const unpins: Op[] = actual.programs.filter((p) => !current.has(p.build)).map((p) => ({ kind: 'unpin-program', pin: p.pin, name: p.name }));

  const ops: Op[] = [];
  const push = (xs: Op[]): void => {
    for (const x of xs) ops.push(x); // a loop, not spread: a 100k-rule change is more ops than an argument list holds
  };
  push(loads);
  push(slots);
  push(groups.writes);
  push(upserts.define);
  push(upserts.bind);
  push(links.attach);
  push(upserts.publish);
  push(links.detach);
  push(deletes.publish);
  push(deletes.bind);
  push(deletes.define);
  push(groups.removes);
  push(sweeps);
  push(upserts.commit);
  push(deletes.commit);
  push(unpins);
  return { topology: desired.topology, ops, notes: [], blocked };
}

export function summarize(p: Plan): { add: number; change: number; remove: number; other: number } {
  let add = 0, change = 0, remove = 0, other = 0;
  for (const op of p.ops) {
    if (op.kind === 'upsert') (op.previous ? change++ : add++);
    else if (op.kind === 'delete' || op.kind === 'detach' || op.kind === 'unpin-program' || op.kind === 'group-remove') remove++;
    else if (op.kind === 'sweep') remove += op.keys.length;
    else if (op.kind === 'attach') add++;
    else if (op.kind === 'group-write') (op.from === 'empty' ? add++ : change++);
    else other++;
  }
  return { add, change, remove, other };
}
