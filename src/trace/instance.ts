/**
 * The trace instance: a second load of every VNF object with vnf_trace_on set (see
 * bpf/include/vnf/trace.h), wired so that nothing it does can reach live state:
 *   - it reads the topology's configuration maps (registry kind config/group) from their pins:
 *     the dataplane never writes those;
 *   - every other map (learned tables, conntrack, NAT mappings, counters, kernel scratch, the
 *     program array, the trace records) is private to the instance, shared between its objects
 *     like the pins are between the live objects. Private copies of the pinned state maps are
 *     filled from the live ones first, so the run sees the live FDB, neighbours, connections and
 *     mappings, and whatever it learns or creates stays in the copies;
 *   - its private vnf_progs holds its own programs in the live slots: no tail call can reach a
 *     live program;
 *   - the one write that is not a map write, bpf_clone_redirect (flooding, ARP probes, which
 *     transmit even from a test run), is compiled out by vnf_trace_on and recorded instead.
 * bpf_redirect/bpf_redirect_peer only set per-CPU state in a test run: nothing is sent.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { BpfMap } from '../bpf/map.js';
import { BpfObject } from '../bpf/object.js';
import type { NativeProgram } from '../native/binding.js';
import { u32 } from '../codec/struct.js';
import { pinDir } from '../model/names.js';
import { objectPath } from '../apply/builds.js';
import { MAPS, OBJECTS, VNFS } from '../vnf/registry.js';
import { ENTRY_PROGRAM } from '../plan/plan.js';
import { VNF_MAP_PROGS } from '../abi/vnf_common.js';
import { VNF_MAP_CT_LOCK } from '../abi/conntrack.js';
import { VNF_MAP_NEIGH_LOCK } from '../abi/router.js';
import { VNF_MAP_TRACE } from './codec.js';

/** Lock words start unlocked: a copy could catch one held by a packet in flight. */
const NEVER_COPIED = new Set<string>([VNF_MAP_CT_LOCK, VNF_MAP_NEIGH_LOCK, VNF_MAP_TRACE, VNF_MAP_PROGS]);
const PER_CPU = /percpu/;
/** Maps that hold no entries to copy (a ring buffer is a stream: the instance gets its own, empty). */
const NOT_ITERABLE = /ringbuf/;
/** Entries of the instance's private hash counter maps. */
const PRIVATE_COUNTERS = 1024;

/** Whether the trace instance reads `name` from its pin (configuration only the control plane writes). */
export function sharedWithLive(name: string): boolean {
  const d = MAPS.get(name);
  return d !== undefined && (d.kind === 'config' || d.kind === 'group');
}

export interface TraceInstance {
  /** vnf_entry_in of the trace instance: where a traced packet enters. */
  entry: NativeProgram;
  /** The instance's private maps, by name (trace records, counters, copies of state). */
  maps: ReadonlyMap<string, BpfMap>;
  /** The private maps that were filled from the live pins. */
  copied: string[];
  close(): void;
}

export async function loadTraceInstance(topology: string): Promise<TraceInstance> {
  return loadTraceInstanceAt(pinDir(topology));
}

/** The trace instance over the maps pinned under `root` (a topology's pin folder). */
export async function loadTraceInstanceAt(root: string): Promise<TraceInstance> {
  const objects: BpfObject[] = [];
  const privates = new Map<string, BpfMap>();
  const copied: string[] = [];
  try {
    for (const v of OBJECTS()) {
      const opened = BpfObject.open(objectPath(v.object!), { pinRoot: root, globals: { vnf_trace_on: u32(1) } });
      objects.push(opened);
      const declared = opened.declaredMaps();
      // A configuration map that is not pinned (yet) is private and empty: libbpf would
      // otherwise create and pin it, and a trace leaves nothing behind.
      const shared = (name: string): boolean => sharedWithLive(name) && existsSync(join(root, name));
      // Maps the live objects share by pin are shared between the instance's objects too (and the
      // trace records); the others (per-CPU scratch) stay each object's own, as in the live ones.
      const instanceWide = (d: { name: string; pinned: boolean }): boolean => (d.pinned || d.name === VNF_MAP_TRACE) && !shared(d.name);
      for (const d of declared) {
        if (!instanceWide(d)) continue;
        const have = privates.get(d.name);
        if (have) {
          opened.handle.reuseMap(d.name, have.handle);
          continue;
        }
        opened.handle.privateMap(d.name);
        // One packet touches a handful of counters: hash counter maps need not be preallocated at
        // full size (a million per-CPU slots of rule counters cost seconds to allocate).
        const decl = MAPS.get(d.name);
        if (decl?.kind === 'stats' && /hash/.test(decl.type)) opened.handle.resizeMap(d.name, PRIVATE_COUNTERS);
      }
      await opened.loadNow();
      for (const d of declared) {
        if (!instanceWide(d) || privates.has(d.name)) continue;
        const m = opened.map(d.name);
        privates.set(d.name, m);
        if (!NEVER_COPIED.has(d.name) && !PER_CPU.test(m.info.typeName) && !NOT_ITERABLE.test(m.info.typeName) && existsSync(join(root, d.name))) {
          copyFromPin(join(root, d.name), m);
          copied.push(d.name);
        }
      }
    }
    const progs = privates.get(VNF_MAP_PROGS)!;
    for (const v of VNFS) {
      if (v.id === undefined || !v.slotProgram || !v.object) continue;
      const o = objects.find((x) => x.path === objectPath(v.object!))!;
      progs.update(u32(v.id), u32(o.program(v.slotProgram).fd));
    }
    const core = OBJECTS().find((v) => v.programs?.includes(ENTRY_PROGRAM.ingress))!;
    const entryObject = objects.find((x) => x.path === objectPath(core.object!))!;
    return {
      entry: entryObject.program(ENTRY_PROGRAM.ingress),
      maps: privates,
      copied,
      close: () => {
        for (const o of objects) o.close();
      },
    };
  } catch (e) {
    for (const o of objects) o.close();
    throw e;
  }
}

/** Copies every entry of the pinned map at `pin` into `to` (a map of the same layout). */
function copyFromPin(pin: string, to: BpfMap): void {
  const from = BpfMap.openPinned(pin);
  try {
    const { keys, values, count } = from.packedEntries();
    const BATCH = 4096;
    const ks = from.info.keySize;
    const vs = from.info.valueBufferSize;
    for (let k = 0; k < count; k += BATCH) {
      const n = Math.min(BATCH, count - k);
      to.updatePacked(keys.subarray(k * ks, (k + n) * ks), values.subarray(k * vs, (k + n) * vs), n);
    }
  } finally {
    from.close();
  }
}
