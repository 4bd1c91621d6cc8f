/**
 * An in-memory `Observed` for testing plan() without a kernel: what the kernel would hold after
 * a perfect apply of a desired state, which tests then edit (learned entries, lost pins, ...).
 */
import type { NativeMapInfo } from '../../src/native/binding.js';
import type { Observed, ObservedLink, ObservedProgram } from '../../src/observe/kernel.js';
import { hex, type DesiredState, type MapEntries } from '../../src/model/desired.js';
import { linkPin } from '../../src/model/names.js';
import { u32 } from '../../src/codec/struct.js';
import { metaCodec } from '../../src/vnf/common/codec.js';
import type { Build } from '../../src/plan/plan.js';
import { MAPS, VNFS } from '../../src/vnf/registry.js';

export interface FakeKernel extends Observed {
  maps: Record<string, MapEntries>;
  pinned: Map<string, NativeMapInfo>;
  slots: Map<number, number>;
  links: ObservedLink[];
  programs: ObservedProgram[];
}

let nextId = 1000;

export function infoOf(name: string): NativeMapInfo {
  const d = MAPS.get(name)!;
  return {
    id: nextId++, name, type: 0, typeName: d.type, keySize: d.keySize, valueSize: d.valueSize,
    valueBufferSize: d.valueSize, maxEntries: d.maxEntries, flags: 0, perCpu: d.type.startsWith('percpu'),
  };
}

/** The kernel after a perfect apply of `d` with `builds`: every map pinned, programs, slots and links in place. */
export function kernelAfter(d: DesiredState, builds: Build[]): FakeKernel {
  const maps: Record<string, MapEntries> = {};
  for (const [k, v] of Object.entries(d.maps)) maps[k] = new Map(v);
  for (const g of d.groups) {
    const decl = VNFS.find((v) => v.name === g.module)!.groups!;
    (maps[decl.root] ??= new Map()).set(hex(u32(g.id)), g.root);
    for (const [leaf, p] of Object.entries(g.leaves(g.id))) {
      for (let i = 0; i < p.count; i++) {
        (maps[leaf] ??= new Map()).set(p.keys.toString('hex', i * p.keySize, (i + 1) * p.keySize), Buffer.from(p.values.subarray(i * p.valueSize, (i + 1) * p.valueSize)));
      }
    }
  }
  const pinned = new Map([...MAPS.keys()].map((n) => [n, infoOf(n)]));
  const mapIds = [...pinned.values()].map((i) => ({ id: i.id, name: i.name }));
  let progId = 1;
  const programs: ObservedProgram[] = builds.flatMap((b) => b.programs.map((p) => ({ pin: `/x/${p}@${b.hash}`, name: p, build: b.hash, id: progId++, mapIds })));
  const id = (name: string): number => programs.find((p) => p.name === name)!.id;
  const slots = new Map<number, number>();
  for (const v of VNFS) if (v.id !== undefined && v.slotProgram) slots.set(v.id, id(v.slotProgram));
  const links: ObservedLink[] = d.interfaces.flatMap((i) => (['ingress', 'egress'] as const).map((direction) => ({
    pin: linkPin(d.topology, i.ifname, direction), ifname: i.ifname, direction, ifindex: i.ifindex,
    progId: id(direction === 'ingress' ? 'vnf_entry_in' : 'vnf_entry_out'),
  })));
  const metaValue = maps['vnf_meta']?.get(hex(u32(0)));
  return {
    topology: d.topology,
    exists: true,
    meta: metaValue ? metaCodec.decode(metaValue) : undefined,
    maps,
    pinned,
    links,
    programs,
    slots,
    entries: (map) => (pinned.has(map) ? maps[map] ?? new Map() : undefined),
  };
}

export function emptyKernel(topology: string): Observed {
  return { topology, exists: false, meta: undefined, pinned: new Map(), links: [], programs: [], slots: new Map(), entries: () => undefined };
}
