/**
 * What `plan --store` shows (pure): the file against the stored topology, per container, network
 * and router, and per item of every module section (firewalls, NAT rules, …), added, removed or
 * changed. Empty when both are equal.
 */
import type { Topology } from '../spec/model.js';

export type Change = 'added' | 'removed' | 'changed';

export interface StoreDiffEntry {
  /** "container", "network", "router", "settings", "topology", or a module section ("firewall", …). */
  kind: string;
  name: string;
  change: Change;
}

const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

function named(kind: string, before: ReadonlyArray<{ name: string }>, after: ReadonlyArray<{ name: string }>): StoreDiffEntry[] {
  const b = new Map(before.map((x) => [x.name, x]));
  const a = new Map(after.map((x) => [x.name, x]));
  const out: StoreDiffEntry[] = [];
  for (const [name, x] of a) {
    const old = b.get(name);
    if (!old) out.push({ kind, name, change: 'added' });
    else if (!same(old, x)) out.push({ kind, name, change: 'changed' });
  }
  for (const name of b.keys()) if (!a.has(name)) out.push({ kind, name, change: 'removed' });
  return out.sort((x, y) => (x.name < y.name ? -1 : x.name > y.name ? 1 : 0));
}

const isNamedList = (v: unknown): v is Array<{ name: string }> =>
  Array.isArray(v) && v.every((x) => x !== null && typeof x === 'object' && typeof (x as { name?: unknown }).name === 'string');

/** A module section: a list of named items or a record is diffed per item; anything else as one. */
function section(kind: string, before: unknown, after: unknown): StoreDiffEntry[] {
  if (same(before, after)) return [];
  if ((before === undefined || isNamedList(before)) && (after === undefined || isNamedList(after))) return named(kind, before ?? [], after ?? []);
  const isRecord = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
  if ((before === undefined || isRecord(before)) && (after === undefined || isRecord(after))) {
    // e.g. ext.firewall = { firewalls: [...] }: the named lists inside are diffed per item.
    const b = before ?? {};
    const a = after ?? {};
    const out: StoreDiffEntry[] = [];
    for (const k of [...new Set([...Object.keys(b), ...Object.keys(a)])].sort()) {
      if (same(b[k], a[k])) continue;
      if ((b[k] === undefined || isNamedList(b[k])) && (a[k] === undefined || isNamedList(a[k]))) out.push(...named(kind, (b[k] ?? []) as Array<{ name: string }>, (a[k] ?? []) as Array<{ name: string }>));
      else out.push({ kind, name: k, change: b[k] === undefined ? 'added' : a[k] === undefined ? 'removed' : 'changed' });
    }
    return out;
  }
  return [{ kind, name: kind, change: before === undefined ? 'added' : after === undefined ? 'removed' : 'changed' }];
}

/** A module section with its named lists emptied (its settings kept). */
function emptied(ext: Topology['ext']): Topology['ext'] {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(ext)) {
    if (isNamedList(v)) out[k] = [];
    else if (v !== null && typeof v === 'object' && !Array.isArray(v)) out[k] = Object.fromEntries(Object.entries(v).map(([x, y]) => [x, isNamedList(y) ? [] : y]));
    else out[k] = v;
  }
  return out as Topology['ext'];
}

export function diffTopologies(stored: Topology | undefined, file: Topology): StoreDiffEntry[] {
  // Nothing stored: every named item is added; a module's settings (its defaults) are not news.
  const before: Topology = stored ?? { ...file, networks: [], containers: [], routers: [], ext: emptied(file.ext) };
  const out: StoreDiffEntry[] = [];
  if (stored && stored.name !== file.name) out.push({ kind: 'topology', name: file.name, change: 'changed' });
  if (stored && !same(stored.settings, file.settings)) out.push({ kind: 'settings', name: 'settings', change: 'changed' });
  out.push(...named('network', before.networks, file.networks));
  out.push(...named('container', before.containers, file.containers));
  out.push(...named('router', before.routers, file.routers));
  const ext = (t: Topology): Record<string, unknown> => t.ext as Record<string, unknown>;
  const keys = [...new Set([...Object.keys(ext(before)), ...Object.keys(ext(file))])].sort();
  for (const k of keys) out.push(...section(k, ext(before)[k], ext(file)[k]));
  return out;
}
