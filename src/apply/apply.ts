/**
 * apply: runs a plan against the kernel, in the plan's order (make before
 * break). Programs are loaded only when their build is not pinned yet; data
 * changes are map updates; links are replaced atomically, never detached to
 * be replaced. Operations are idempotent: deleting what is gone is fine.
 */
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { BpfMap } from '../bpf/map.js';
import { BpfObject } from '../bpf/object.js';
import { native, type NativeProgram } from '../native/binding.js';
import { BpfError } from '../native/errors.js';
import { u32 } from '../codec/struct.js';
import { unhex } from '../model/desired.js';
import { linksDir, pinDir, progsDir } from '../model/names.js';
import { ENTRY_PROGRAM, type Build, type Plan } from '../plan/plan.js';
import { chainCodec, metaCodec, portCodec, VNF_ABI_VERSION, VNF_DIR_RX, VNF_DIR_TX } from '../vnf/common/codec.js';
import { fwBindKeyCodec, VNF_ID_FIREWALL } from '../vnf/firewall/codec.js';
import type { DesiredState } from '../model/desired.js';
import { VNFS } from '../vnf/registry.js';
import { objectPath } from './builds.js';

export class ApplyError extends Error {
  override name = 'ApplyError';
}

/** Refuses pinned maps of another layout version before anything is loaded. */
export function checkAbi(topology: string): void {
  const path = join(pinDir(topology), 'vnf_meta');
  if (!existsSync(path)) return;
  const m = BpfMap.openPinned(path);
  try {
    const v = m.lookup(u32(0));
    const abi = v ? metaCodec.decode(v).abi_version : 0;
    if (abi !== 0 && abi !== VNF_ABI_VERSION) {
      throw new ApplyError(`topology ${topology} was applied by a vnf with map layout v${abi}; this vnf uses v${VNF_ABI_VERSION}. ` +
        `Its pinned maps cannot be reused: run \`vnf-ctl destroy ${topology}\` and apply again.`);
    }
  } finally {
    m.close();
  }
}

const programPin = (topology: string, name: string, build: string): string => join(progsDir(topology), `${name}@${build}`);

/** Loads and pins the programs of the given objects; on failure removes the pins it made. */
async function loadObjects(topology: string, builds: Build[], objects: Set<string>): Promise<void> {
  mkdirSync(progsDir(topology), { recursive: true });
  const made: string[] = [];
  try {
    await loadEach(topology, builds, objects, made);
  } catch (e) {
    for (const p of made) rmSync(p, { force: true });
    throw e;
  }
}

async function loadEach(topology: string, builds: Build[], objects: Set<string>, made: string[]): Promise<void> {
  for (const b of builds) {
    if (!objects.has(b.object)) continue;
    let obj: BpfObject;
    try {
      obj = await BpfObject.load(objectPath(b.object), { pinRoot: pinDir(topology) });
    } catch (e) {
      if (e instanceof BpfError && /reuse pinned map|couldn't reuse/.test(e.details ?? '')) {
        throw new ApplyError(`a pinned map of topology ${topology} has a different layout than ${b.object}.bpf.o expects ` +
          `(vnf was upgraded?): run \`vnf-ctl destroy ${topology}\` and apply again.\n${e.details}`);
      }
      throw e;
    }
    try {
      for (const p of b.programs) {
        const pin = programPin(topology, p, b.hash);
        if (!existsSync(pin)) {
          obj.program(p).pin(pin);
          made.push(pin);
        }
      }
    } finally {
      obj.close(); // programs live on in their pins (and in vnf_progs)
    }
  }
}

function fillSlots(topology: string, builds: Build[]): void {
  const progs = BpfMap.openPinned(join(pinDir(topology), 'vnf_progs'));
  try {
    for (const v of VNFS) {
      if (!v.slotProgram) continue;
      const b = builds.find((x) => x.object === v.object)!;
      const p = native.openPinnedProgram(programPin(topology, v.slotProgram, b.hash));
      try {
        const cur = progs.lookup(u32(v.id));
        // A prog array slot update is atomic: packets run the old or the new program.
        if (!cur || cur.readUInt32LE(0) !== p.info().id) progs.update(u32(v.id), u32(p.fd));
      } finally {
        p.close();
      }
    }
  } finally {
    progs.close();
  }
}

function entryProgram(topology: string, builds: Build[], direction: 'ingress' | 'egress'): NativeProgram {
  const b = builds.find((x) => x.programs.includes(ENTRY_PROGRAM[direction]))!;
  return native.openPinnedProgram(programPin(topology, ENTRY_PROGRAM[direction], b.hash));
}

export interface ApplyResult {
  plan: Plan;
  applied: number;
}

export async function applyPlan(plan: Plan, builds: Build[]): Promise<ApplyResult> {
  const topology = plan.topology;
  const loads = new Set(plan.ops.flatMap((o) => (o.kind === 'load' ? [o.object] : [])));
  if (plan.ops.length === 0) return { plan, applied: 0 };
  checkAbi(topology);
  mkdirSync(pinDir(topology), { recursive: true });
  if (loads.size) await loadObjects(topology, builds, loads);
  fillSlots(topology, builds);

  const maps = new Map<string, BpfMap>();
  const map = (name: string): BpfMap => {
    let m = maps.get(name);
    if (!m) {
      m = BpfMap.openPinned(join(pinDir(topology), name));
      maps.set(name, m);
    }
    return m;
  };
  const entry = { ingress: entryProgram(topology, builds, 'ingress'), egress: entryProgram(topology, builds, 'egress') };
  let applied = 0;
  try {
    mkdirSync(linksDir(topology), { recursive: true });
    const ops = plan.ops;
    for (let i = 0; i < ops.length; i++) {
      const op = ops[i]!;
      switch (op.kind) {
        case 'load':
          break; // done above, before any entry or link refers to the programs
        case 'upsert': {
          // A run of upserts into one map goes in batches (one syscall per
          // batch where the kernel has BPF_MAP_UPDATE_BATCH): a 100k-rule set
          // is written in a fraction of a second.
          let j = i;
          while (j + 1 < ops.length && ops[j + 1]!.kind === 'upsert' && (ops[j + 1] as typeof op).map === op.map) j++;
          const run = ops.slice(i, j + 1) as Array<typeof op>;
          for (let k = 0; k < run.length; k += 4096) {
            map(op.map).updateMany(run.slice(k, k + 4096).map((u) => [unhex(u.key), u.value] as const));
          }
          applied += run.length - 1;
          i = j;
          break;
        }
        case 'delete':
          map(op.map).delete(unhex(op.key));
          break;
        case 'attach': {
          if (existsSync(op.pin)) rmSync(op.pin);
          const link = entry[op.direction].attachTcx(op.ifindex, op.direction);
          try {
            link.pin(op.pin);
          } finally {
            link.close(); // the pin keeps it attached
          }
          break;
        }
        case 'update-link': {
          const link = native.openPinnedLink(op.pin);
          try {
            link.update(entry[op.direction]); // atomic: no moment without a program
          } finally {
            link.close();
          }
          break;
        }
        case 'detach': {
          const link = native.openPinnedLink(op.pin);
          try {
            link.detach();
          } catch (e) {
            // A link whose interface is gone is already detached.
            if (!(e instanceof BpfError && ['ENOLINK', 'ENOENT', 'EINVAL'].includes(e.code))) throw e;
            link.close();
          }
          rmSync(op.pin, { force: true });
          break;
        }
        case 'unpin-program':
          rmSync(op.pin, { force: true });
          break;
      }
      applied++;
    }
  } finally {
    for (const m of maps.values()) m.close();
    entry.ingress.close();
    entry.egress.close();
  }
  return { plan, applied };
}

/**
 * After a failed apply on a live topology: every port the desired state puts
 * behind a firewall is switched to its firewall chains with its bindings
 * removed, so the firewall drops everything there (NO_POLICY) rather than
 * letting through traffic the new policy forbids. Best effort, small writes.
 */
export function failClosed(topology: string, desired: DesiredState): void {
  const path = (m: string): string => join(pinDir(topology), m);
  if (!existsSync(path('vnf_ports')) || !existsSync(path('vnf_fw_bind'))) return;
  const ports = BpfMap.openPinned(path('vnf_ports'));
  const chains = BpfMap.openPinned(path('vnf_chains'));
  const binds = BpfMap.openPinned(path('vnf_fw_bind'));
  try {
    for (const [key, value] of desired.maps.vnf_ports ?? []) {
      const port = portCodec.decode(value);
      const chainIn = desired.maps.vnf_chains?.get(u32(port.chain_in).toString('hex'));
      if (!chainIn || !chainCodec.decode(chainIn).vnf.slice(0, chainCodec.decode(chainIn).len).includes(VNF_ID_FIREWALL)) continue;
      try {
        const ifindex = unhex(key).readUInt32LE(0);
        for (const dir of [VNF_DIR_RX, VNF_DIR_TX]) binds.delete(fwBindKeyCodec.encode({ ifindex, dir }));
        for (const id of [port.chain_in, port.chain_out]) {
          const c = desired.maps.vnf_chains?.get(u32(id).toString('hex'));
          if (c) chains.update(u32(id), c);
        }
        ports.update(unhex(key), value);
      } catch {
        /* keep going: every port we can close is one less open */
      }
    }
  } finally {
    ports.close();
    chains.close();
    binds.close();
  }
}
