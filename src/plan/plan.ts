/**
 * plan: a pure diff of the desired state against what observe found, as an
 * ordered list of operations — make before break:
 *   load programs -> upsert entries (referenced before referencing) ->
 *   attach / update links -> detach stale links -> delete stale entries
 *   (reverse order) -> drop old program pins.
 * Learned entries of maps the control plane only partly owns (FDB,
 * neighbours) are left alone unless they point at a port that is gone.
 */
import type { ActualState, ObservedLink } from '../observe/kernel.js';
import { unhex, type DesiredState, type MapEntries } from '../model/desired.js';
import { linkPin } from '../model/names.js';
import { managedMaps, moduleOfMap } from '../vnf/registry.js';
import { fdbEntryCodec } from '../vnf/bridge/codec.js';

export interface Build {
  object: string;
  /** Content hash of build/bpf/<object>.bpf.o (first 12 hex digits). */
  hash: string;
  programs: string[];
}

export type Direction = 'ingress' | 'egress';

export type Op =
  | { kind: 'load'; object: string; build: string; why: string }
  | { kind: 'upsert'; map: string; key: string; value: Buffer; previous?: Buffer; text: string }
  | { kind: 'delete'; map: string; key: string; text: string }
  | { kind: 'attach'; ifname: string; ifindex: number; direction: Direction; pin: string }
  | { kind: 'update-link'; ifname: string; direction: Direction; pin: string }
  | { kind: 'detach'; ifname: string; direction: Direction; pin: string; why: string }
  | { kind: 'unpin-program'; pin: string; name: string };

export interface Plan {
  topology: string;
  ops: Op[];
  /** Human-level changes (e.g. firewall rules added/removed), shown before the operations. */
  notes?: string[];
}

export const ENTRY_PROGRAM: Record<Direction, string> = { ingress: 'vnf_entry_in', egress: 'vnf_entry_out' };

function diffMap(name: string, desired: MapEntries, actual: MapEntries | undefined, keepLearned: (v: Buffer) => boolean): { upserts: Op[]; deletes: Op[] } {
  const mm = managedMaps().find((m) => m.name === name)!;
  const mod = moduleOfMap(name);
  const upserts: Op[] = [];
  const deletes: Op[] = [];
  for (const [key, value] of desired) {
    const prev = actual?.get(key);
    if (prev && prev.equals(value)) continue;
    upserts.push({ kind: 'upsert', map: name, key, value, ...(prev ? { previous: prev } : {}), text: mod.describe(name, unhex(key), value) });
  }
  for (const [key, value] of actual ?? []) {
    if (desired.has(key)) continue;
    if (mm.owns === 'static' && !mm.isStatic!(value) && keepLearned(value)) continue;
    deletes.push({ kind: 'delete', map: name, key, text: mod.describe(name, unhex(key), value) });
  }
  return { upserts, deletes };
}

export function plan(desired: DesiredState, actual: ActualState, builds: Build[]): Plan {
  const ops: Op[] = [];
  const maps = managedMaps();

  // Programs: load an object when its current build is not pinned, or when a
  // shared map is missing (programs of a reload must all use the same maps).
  const pinned = new Map(actual.programs.map((p) => [`${p.name}@${p.build}`, p]));
  const mapsMissing = maps.some((m) => !(m.name in actual.maps));
  const loads = new Set<string>();
  for (const b of builds) {
    const missing = b.programs.filter((p) => !pinned.has(`${p}@${b.hash}`));
    if (mapsMissing || missing.length) {
      loads.add(b.object);
      ops.push({ kind: 'load', object: b.object, build: b.hash, why: mapsMissing ? (actual.exists ? 'a pinned map is missing' : 'first apply') : `build ${b.hash} not loaded` });
    }
  }

  // Entries.
  const ports = new Set(desired.interfaces.map((i) => i.ifindex));
  const keepLearned = (v: Buffer): boolean => {
    // A learned FDB entry is kept while it points at a live port; other learned entries are kept.
    if (v.length === fdbEntryCodec.size) return ports.has(fdbEntryCodec.decode(v).ifindex);
    return true;
  };
  // (Loops, not spread: a 100k-rule set is far more entries than a call's argument list holds.)
  const deletesByMap: Op[][] = [];
  for (const m of maps) {
    const d = diffMap(m.name, desired.maps[m.name] ?? new Map(), actual.maps[m.name], keepLearned);
    for (const op of d.upserts) ops.push(op);
    deletesByMap.push(d.deletes);
  }

  // Links: every port interface carries the entry programs on ingress and egress.
  const entryBuild = builds.find((b) => b.programs.includes(ENTRY_PROGRAM.ingress));
  const entryIds = new Map(actual.programs.filter((p) => p.build === entryBuild?.hash).map((p) => [p.name, p.id]));
  const wanted = new Set<string>();
  for (const i of desired.interfaces) {
    for (const direction of ['ingress', 'egress'] as const) {
      const pin = linkPin(desired.topology, i.ifname, direction);
      wanted.add(pin);
      const have: ObservedLink | undefined = actual.links.find((l) => l.pin === pin);
      if (have && have.ifindex === i.ifindex) {
        const current = entryIds.get(ENTRY_PROGRAM[direction]);
        if (loads.has(entryBuild?.object ?? '') || current === undefined || have.progId !== current) {
          ops.push({ kind: 'update-link', ifname: i.ifname, direction, pin });
        }
        continue;
      }
      if (have) ops.push({ kind: 'detach', ifname: i.ifname, direction, pin, why: 'the interface was recreated' });
      ops.push({ kind: 'attach', ifname: i.ifname, ifindex: i.ifindex, direction, pin });
    }
  }
  for (const l of actual.links) {
    if (!wanted.has(l.pin)) ops.push({ kind: 'detach', ifname: l.ifname, direction: l.direction, pin: l.pin, why: l.ifindex ? 'no longer a port' : 'the interface is gone' });
  }

  for (const ds of deletesByMap.reverse()) for (const op of ds) ops.push(op); // reverse map order for deletes

  // Program pins of builds that are no longer current.
  const current = new Set(builds.map((b) => b.hash));
  for (const p of actual.programs) if (!current.has(p.build)) ops.push({ kind: 'unpin-program', pin: p.pin, name: p.name });

  return { topology: desired.topology, ops };
}

export function summarize(p: Plan): { add: number; change: number; remove: number; other: number } {
  let add = 0, change = 0, remove = 0, other = 0;
  for (const op of p.ops) {
    if (op.kind === 'upsert') (op.previous ? change++ : add++);
    else if (op.kind === 'delete' || op.kind === 'detach' || op.kind === 'unpin-program') remove++;
    else if (op.kind === 'attach') add++;
    else other++;
  }
  return { add, change, remove, other };
}

/** Maps whose entry changes are summarised per map rather than listed one by one. */
const BULK = 12;

/** One line per operation, terraform-style; bulky maps (rule sets) summarised per map. */
export function formatPlan(p: Plan): string {
  if (p.ops.length === 0) return `topology ${p.topology}: no changes (the kernel matches the file)`;
  const perMap = new Map<string, { add: number; change: number; remove: number }>();
  for (const op of p.ops) {
    if (op.kind !== 'upsert' && op.kind !== 'delete') continue;
    const c = perMap.get(op.map) ?? { add: 0, change: 0, remove: 0 };
    if (op.kind === 'delete') c.remove++;
    else if (op.previous) c.change++;
    else c.add++;
    perMap.set(op.map, c);
  }
  const bulky = new Set([...perMap.entries()].filter(([, c]) => c.add + c.change + c.remove > BULK).map(([m]) => m));
  const summarised = new Set<string>();
  const lines = p.ops.flatMap((op) => {
    if ((op.kind === 'upsert' || op.kind === 'delete') && bulky.has(op.map)) {
      if (summarised.has(op.map)) return [];
      summarised.add(op.map);
      const c = perMap.get(op.map)!;
      return [`  ± ${op.map.padEnd(14)} ${c.add} to add, ${c.change} to change, ${c.remove} to remove (entries)`];
    }
    switch (op.kind) {
      case 'load': return `  load     ${op.object} (${op.why})`;
      case 'upsert': return `  ${op.previous ? '~' : '+'} ${op.map.padEnd(14)} ${op.text}`;
      case 'delete': return `  - ${op.map.padEnd(14)} ${op.text}`;
      case 'attach': return `  attach   ${ENTRY_PROGRAM[op.direction]} to ${op.ifname} (${op.direction}, ifindex ${op.ifindex})`;
      case 'update-link': return `  replace  ${op.direction} program on ${op.ifname} (atomic link update)`;
      case 'detach': return `  detach   ${op.ifname} ${op.direction} (${op.why})`;
      case 'unpin-program': return `  unpin    old program ${op.name}`;
    }
    return [];
  });
  const s = summarize(p);
  return [
    `topology ${p.topology}: ${s.add} to add, ${s.change} to change, ${s.remove} to remove${s.other ? `, ${s.other} other` : ''}`,
    ...(p.notes ?? []),
    ...lines,
  ].join('\n');
}

