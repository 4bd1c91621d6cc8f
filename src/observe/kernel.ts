/**
 * observe: what is really in the kernel for a topology — its pinned maps and
 * their entries, its pinned links (and what they run), its pinned programs.
 * Reads only; never changes anything.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { BpfMap } from '../bpf/map.js';
import { native } from '../native/binding.js';
import { BpfError } from '../native/errors.js';
import { hex, type MapEntries } from '../model/desired.js';
import { linksDir, pinDir, progsDir, VNF_PIN_ROOT } from '../model/names.js';
import { managedMaps } from '../vnf/registry.js';

export interface ObservedLink {
  pin: string;
  ifname: string;
  direction: 'ingress' | 'egress';
  /** 0 when the interface is gone (the link is defunct). */
  ifindex: number;
  progId: number;
}

export interface ObservedProgram {
  pin: string;
  name: string;
  /** Build hash from the pin name (<program>@<hash>). */
  build: string;
  id: number;
}

export interface ActualState {
  topology: string;
  exists: boolean;
  maps: Record<string, MapEntries>;
  links: ObservedLink[];
  programs: ObservedProgram[];
}

export function listTopologies(): string[] {
  if (!existsSync(VNF_PIN_ROOT)) return [];
  return readdirSync(VNF_PIN_ROOT, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name).sort();
}

export function readMap(path: string): MapEntries | undefined {
  if (!existsSync(path)) return undefined;
  const m = BpfMap.openPinned(path);
  try {
    const out: MapEntries = new Map();
    for (const [k, v] of m.entries()) out.set(hex(k), Buffer.from(v));
    return out;
  } finally {
    m.close();
  }
}

export function observeLinks(topology: string): ObservedLink[] {
  const dir = linksDir(topology);
  if (!existsSync(dir)) return [];
  const out: ObservedLink[] = [];
  for (const f of readdirSync(dir).sort()) {
    const m = /^(.+)@(in|out)$/.exec(f);
    if (!m) continue;
    const pin = join(dir, f);
    const link = native.openPinnedLink(pin);
    try {
      const info = link.info();
      out.push({ pin, ifname: m[1] as string, direction: m[2] === 'in' ? 'ingress' : 'egress', ifindex: info.ifindex ?? 0, progId: info.progId });
    } finally {
      link.close();
    }
  }
  return out;
}

export function observePrograms(topology: string): ObservedProgram[] {
  const dir = progsDir(topology);
  if (!existsSync(dir)) return [];
  const out: ObservedProgram[] = [];
  for (const f of readdirSync(dir).sort()) {
    const m = /^(.+)@([0-9a-f]+)$/.exec(f);
    if (!m) continue;
    const pin = join(dir, f);
    try {
      const p = native.openPinnedProgram(pin);
      out.push({ pin, name: m[1] as string, build: m[2] as string, id: p.info().id });
      p.close();
    } catch (e) {
      if (!(e instanceof BpfError && e.code === 'ENOENT')) throw e;
    }
  }
  return out;
}

export function observe(topology: string): ActualState {
  const dir = pinDir(topology);
  const exists = existsSync(dir);
  const maps: Record<string, MapEntries> = {};
  if (exists) {
    for (const m of managedMaps()) {
      const entries = readMap(join(dir, m.name));
      if (entries) maps[m.name] = entries;
    }
  }
  return {
    topology,
    exists,
    maps,
    links: exists ? observeLinks(topology) : [],
    programs: exists ? observePrograms(topology) : [],
  };
}
