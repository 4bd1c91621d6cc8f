/**
 * observe: what is really in the kernel for a topology — its pinned maps (layouts, and entries
 * read only when a plan needs them), its pinned links and what they run, its pinned programs and
 * the maps they use, and the program slots. Reads only; never changes anything.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { BpfMap } from '../bpf/map.js';
import { native, type NativeMapInfo } from '../native/binding.js';
import { BpfError } from '../native/errors.js';
import { hex, type MapEntries } from '../model/desired.js';
import { linksDir, pinDir, progsDir, VNF_PIN_ROOT } from '../model/names.js';
import { u32 } from '../codec/struct.js';
import { metaCodec, VNF_MAX_PROGS, type Meta } from '../vnf/common/codec.js';
import type { PackedEntries } from '../vnf/types.js';
import { VNF_MAP_META, VNF_MAP_PROGS } from '../abi/vnf_common.js';

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
  /** The maps the program uses (to notice maps that are not the pinned ones). */
  mapIds: Array<{ id: number; name?: string }>;
}

export interface Observed {
  topology: string;
  exists: boolean;
  meta: Meta | undefined;
  /** Every map pinned in the topology's folder, by name, with its id and layout. */
  pinned: ReadonlyMap<string, NativeMapInfo>;
  links: ObservedLink[];
  programs: ObservedProgram[];
  /** vnf_progs: slot -> program id. */
  slots: ReadonlyMap<number, number>;
  /** Every entry of a pinned map, keyed by hex (read once, when first asked). */
  entries(map: string): MapEntries | undefined;
  /**
   * Every entry of a pinned map packed key after key and value after value (read once, when
   * first asked): for scanning big maps without an object per entry. Absent in test doubles.
   */
  packed?(map: string): PackedEntries | undefined;
}

export type { PackedEntries };

export function listTopologies(): string[] {
  if (!existsSync(VNF_PIN_ROOT)) return [];
  return readdirSync(VNF_PIN_ROOT, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name).sort();
}

/** Every entry of the map pinned at `path`, raw; undefined when nothing is pinned there. */
export function readRaw(path: string): Array<[Buffer, Buffer]> | undefined {
  if (!existsSync(path)) return undefined;
  const m = BpfMap.openPinned(path);
  try {
    return m.entries();
  } finally {
    m.close();
  }
}

export function readMap(path: string): MapEntries | undefined {
  const raw = readRaw(path);
  if (!raw) return undefined;
  const out: MapEntries = new Map();
  for (const [k, v] of raw) out.set(hex(k), Buffer.from(v));
  return out;
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
      try {
        const info = p.info();
        out.push({ pin, name: m[1] as string, build: m[2] as string, id: info.id, mapIds: info.maps ?? [] });
      } finally {
        p.close();
      }
    } catch (e) {
      if (!(e instanceof BpfError && e.code === 'ENOENT')) throw e;
    }
  }
  return out;
}

function observePinnedMaps(dir: string): Map<string, NativeMapInfo> {
  const out = new Map<string, NativeMapInfo>();
  for (const d of readdirSync(dir, { withFileTypes: true })) {
    if (d.isDirectory()) continue;
    try {
      const m = BpfMap.openPinned(join(dir, d.name));
      out.set(d.name, m.info);
      m.close();
    } catch (e) {
      // Not a map (a program or link pinned here by hand), or gone meanwhile.
      if (!(e instanceof BpfError)) throw e;
    }
  }
  return out;
}

function observeSlots(dir: string, pinned: ReadonlyMap<string, NativeMapInfo>): Map<number, number> {
  const out = new Map<number, number>();
  if (!pinned.has(VNF_MAP_PROGS)) return out;
  const m = BpfMap.openPinned(join(dir, VNF_MAP_PROGS));
  try {
    // A program array reads back program ids.
    for (let slot = 0; slot < VNF_MAX_PROGS; slot++) {
      const v = m.lookup(u32(slot));
      if (v) out.set(slot, v.readUInt32LE(0));
    }
  } finally {
    m.close();
  }
  return out;
}

/**
 * What the kernel holds of a topology. Read lazily, each part once, when first asked: a command
 * that needs only the attachments (the CNI plugin's DEL) or the applied generation does not open
 * every pinned program and map.
 */
export function observe(topology: string): Observed {
  const dir = pinDir(topology);
  const exists = existsSync(dir);
  let pinned: Map<string, NativeMapInfo> | undefined;
  const pinnedMaps = (): Map<string, NativeMapInfo> => (pinned ??= exists ? observePinnedMaps(dir) : new Map());
  const cache = new Map<string, MapEntries | undefined>();
  const entries = (map: string): MapEntries | undefined => {
    if (!cache.has(map)) cache.set(map, exists ? readMapIfPinned(join(dir, map)) : undefined);
    return cache.get(map);
  };
  const packedCache = new Map<string, PackedEntries | undefined>();
  const packed = (map: string): PackedEntries | undefined => {
    if (!packedCache.has(map)) {
      let r: PackedEntries | undefined;
      if (pinnedMaps().has(map)) {
        const m = BpfMap.openPinned(join(dir, map));
        try {
          const e = m.packedEntries();
          r = { ...e, keySize: m.info.keySize, valueSize: m.info.valueBufferSize };
        } finally {
          m.close();
        }
      }
      packedCache.set(map, r);
    }
    return packedCache.get(map);
  };
  const metaValue = entries(VNF_MAP_META)?.get(hex(u32(0)));
  let links: ObservedLink[] | undefined;
  let programs: ObservedProgram[] | undefined;
  let slots: Map<number, number> | undefined;
  return {
    topology,
    exists,
    meta: metaValue ? metaCodec.decode(metaValue) : undefined,
    get pinned() {
      return pinnedMaps();
    },
    get links() {
      return (links ??= exists ? observeLinks(topology) : []);
    },
    get programs() {
      return (programs ??= exists ? observePrograms(topology) : []);
    },
    get slots() {
      return (slots ??= exists ? observeSlots(dir, pinnedMaps()) : new Map());
    },
    entries,
    packed,
  };
}

/** A pinned map's entries; undefined when nothing, or something that is not a map, is pinned there. */
function readMapIfPinned(path: string): MapEntries | undefined {
  if (!existsSync(path)) return undefined;
  let m: BpfMap;
  try {
    m = BpfMap.openPinned(path);
  } catch (e) {
    if (e instanceof BpfError) return undefined; // a program or link pinned under a map's name
    throw e;
  }
  // A map that is there but cannot be read is an error, never "empty": an apply that took it
  // for empty would drop what it holds (attachments, ids).
  try {
    const out: MapEntries = new Map();
    for (const [k, v] of m.entries()) out.set(hex(k), Buffer.from(v));
    return out;
  } finally {
    m.close();
  }
}
