/**
 * apply: executes a plan against the kernel, exactly its operations and in its order (see
 * plan.ts for why every prefix of that order is safe). Nothing is undone and nothing is forced
 * closed when an operation fails: the kernel is left at a safe prefix of the plan, which is what
 * a SIGKILL at the same moment would leave too, and the next apply converges from there.
 * Operations are idempotent: deleting what is already gone is fine.
 */
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { BpfMap } from '../bpf/map.js';
import { BpfObject } from '../bpf/object.js';
import { native, type NativeProgram } from '../native/binding.js';
import { BpfError } from '../native/errors.js';
import { u32 } from '../codec/struct.js';
import { pinDir, progsDir } from '../model/names.js';
import { ENTRY_PROGRAM, programPinName, type Build, type Op, type Plan } from '../plan/plan.js';
import { VNF_MAP_PROGS } from '../abi/vnf_common.js';
import { VNFS } from '../vnf/registry.js';
import { objectPath } from './builds.js';
import { ensurePrivateDir } from '../state/dirs.js';
import { withExpeditedRcu } from './expedite.js';

export class ApplyError extends Error {
  override name = 'ApplyError';
}

/** Operations per batch syscall (a 100k-rule set is a few dozen batches). */
const BATCH = 4096;

class Maps {
  private readonly open = new Map<string, BpfMap>();
  constructor(private readonly dir: string) {}
  get(name: string): BpfMap {
    let m = this.open.get(name);
    if (!m) {
      m = BpfMap.openPinned(join(this.dir, name));
      this.open.set(name, m);
    }
    return m;
  }
  close(): void {
    for (const m of this.open.values()) m.close();
    this.open.clear();
  }
}

/** Loads an object with the topology's pinned maps and (re)pins its programs under progs/<program>@<build>. */
async function load(topology: string, build: Build): Promise<void> {
  let obj: BpfObject;
  try {
    obj = await BpfObject.load(objectPath(build.object), { pinRoot: pinDir(topology) });
  } catch (e) {
    if (e instanceof BpfError && /reuse pinned map|couldn't reuse/.test(e.details ?? '')) {
      throw new ApplyError(`a pinned map of topology ${topology} has a different layout than ${build.object}.bpf.o expects ` +
        `(vnf was upgraded?): run \`vnf-ctl destroy ${topology}\` and apply again.\n${e.details}`);
    }
    throw e;
  }
  try {
    for (const p of build.programs) {
      const pin = join(progsDir(topology), programPinName(p, build.hash));
      // A pin of the same build may hold a program that uses maps that are no longer pinned:
      // the fresh load replaces it (slots and links move to it in later operations).
      rmSync(pin, { force: true });
      obj.program(p).pin(pin);
    }
  } finally {
    obj.close(); // programs live on in their pins (and in vnf_progs and links)
  }
}

function openProgram(topology: string, program: string, build: string): NativeProgram {
  return native.openPinnedProgram(join(progsDir(topology), programPinName(program, build)));
}

/** Runs of consecutive operations of one kind on one map, executed as batches. */
function runLength(ops: readonly Op[], i: number): number {
  const op = ops[i]!;
  if (op.kind !== 'upsert' && op.kind !== 'delete') return 1;
  let j = i;
  while (j + 1 < ops.length) {
    const n = ops[j + 1]!;
    if (n.kind !== op.kind || (n as { map: string }).map !== op.map) break;
    j++;
  }
  return j - i + 1;
}

function removeGroups(maps: Maps, module: string, ids: Set<number>): void {
  const v = VNFS.find((x) => x.name === module)!;
  const g = v.groups!;
  const root = maps.get(g.root);
  // Marked first: if this apply dies before the end, the next plan sees an incomplete group.
  for (const id of ids) {
    const key = u32(id);
    const cur = root.lookup(key);
    if (cur && !g.isIncomplete(cur)) root.update(key, g.incomplete(cur));
  }
  for (const leaf of g.leaves) {
    const m = maps.get(leaf);
    // One scan of the packed keys; only the doomed ones become buffers of their own.
    const { keys, count } = m.packedKeys();
    const size = m.info.keySize;
    let doomed: Buffer[] = [];
    for (let i = 0; i < count; i++) {
      const k = keys.subarray(i * size, (i + 1) * size);
      if (!ids.has(g.groupOf(leaf, k))) continue;
      doomed.push(k);
      if (doomed.length === BATCH) {
        m.deleteMany(doomed);
        doomed = [];
      }
    }
    m.deleteMany(doomed);
  }
  for (const id of ids) root.delete(u32(id));
}

export interface ApplyResult {
  plan: Plan;
  applied: number;
}

export interface ApplyPlanOptions {
  /** Expedited RCU grace periods while links are attached (see expedite.ts). */
  fastAttach?: boolean;
}

export async function applyPlan(plan: Plan, builds: Build[], opts: ApplyPlanOptions = {}): Promise<ApplyResult> {
  const attaches = plan.ops.filter((o) => o.kind === 'attach').length;
  return withExpeditedRcu((opts.fastAttach ?? false) && attaches > 0, () => run(plan, builds));
}

async function run(plan: Plan, builds: Build[]): Promise<ApplyResult> {
  const topology = plan.topology;
  if (plan.blocked.length) {
    throw new ApplyError(`topology ${topology} cannot be applied: ${plan.blocked.join('; ')}. ` +
      `Its pinned state was made by another version of vnf: run \`vnf-ctl destroy ${topology}\` and apply again.`);
  }
  if (plan.ops.length === 0) return { plan, applied: 0 };
  ensurePrivateDir(pinDir(topology));
  ensurePrivateDir(progsDir(topology));
  ensurePrivateDir(join(pinDir(topology), 'links'));
  const buildOf = (object: string): Build => builds.find((b) => b.object === object)!;
  const entryBuild = builds.find((b) => b.programs.includes(ENTRY_PROGRAM.ingress))!;
  const maps = new Maps(pinDir(topology));
  const entry: Partial<Record<'ingress' | 'egress', NativeProgram>> = {};
  const entryProgram = (d: 'ingress' | 'egress'): NativeProgram => (entry[d] ??= openProgram(topology, ENTRY_PROGRAM[d], entryBuild.hash));
  let applied = 0;
  try {
    const ops = plan.ops;
    for (let i = 0; i < ops.length; ) {
      const op = ops[i]!;
      const n = runLength(ops, i);
      switch (op.kind) {
        case 'load':
          await load(topology, buildOf(op.object));
          break;
        case 'slot': {
          const p = openProgram(topology, op.program, op.build);
          try {
            // A program array slot update is atomic: packets run the old or the new program.
            maps.get(VNF_MAP_PROGS).update(u32(op.slot), u32(p.fd));
          } finally {
            p.close();
          }
          break;
        }
        case 'upsert': {
          const run = ops.slice(i, i + n) as Array<Extract<Op, { kind: 'upsert' }>>;
          for (let k = 0; k < run.length; k += BATCH) maps.get(op.map).updateMany(run.slice(k, k + BATCH).map((u) => [u.key, u.value] as const));
          break;
        }
        case 'delete': {
          const run = ops.slice(i, i + n) as Array<Extract<Op, { kind: 'delete' }>>;
          for (let k = 0; k < run.length; k += BATCH) maps.get(op.map).deleteMany(run.slice(k, k + BATCH).map((d) => d.key));
          break;
        }
        case 'group-write': {
          const g = VNFS.find((x) => x.name === op.module)!.groups!;
          const root = maps.get(g.root);
          const key = u32(op.group.id);
          // The slot is the standby (no binding points at it) or new. Its root is marked incomplete
          // first, so a slot half written is never taken for a policy (an interrupted write is
          // finished by the next plan), then only the differing leaves, then the root unmarked.
          const cur = root.lookup(key);
          if (!cur || !g.isIncomplete(cur)) root.update(key, g.incomplete(cur ?? op.group.root));
          for (const [leaf, p] of Object.entries(op.deletes)) {
            for (let k = 0; k < p.count; k += BATCH) {
              const n = Math.min(BATCH, p.count - k);
              maps.get(leaf).deletePacked(p.keys.subarray(k * p.keySize, (k + n) * p.keySize), n);
            }
          }
          for (const [leaf, p] of Object.entries(op.upserts)) {
            for (let k = 0; k < p.count; k += BATCH) {
              const n = Math.min(BATCH, p.count - k);
              maps.get(leaf).updatePacked(p.keys.subarray(k * p.keySize, (k + n) * p.keySize), p.values.subarray(k * p.valueSize, (k + n) * p.valueSize), n);
            }
          }
          root.update(key, op.group.root);
          break;
        }
        case 'group-remove': {
          // Consecutive removals of one module's groups share one pass over the leaf maps.
          const ids = new Set<number>([op.id]);
          let j = i + 1;
          while (j < ops.length && ops[j]!.kind === 'group-remove' && (ops[j] as typeof op).module === op.module) ids.add((ops[j++] as typeof op).id);
          removeGroups(maps, op.module, ids);
          applied += j - i;
          i = j;
          continue;
        }
        case 'sweep':
          for (let k = 0; k < op.keys.length; k += BATCH) maps.get(op.map).deleteMany(op.keys.slice(k, k + BATCH));
          break;
        case 'attach': {
          if (existsSync(op.pin)) rmSync(op.pin);
          const link = entryProgram(op.direction).attachTcx(op.ifindex, op.direction);
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
            link.update(entryProgram(op.direction)); // atomic: no moment without a program
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
      applied += n;
      i += n;
    }
  } finally {
    maps.close();
    entry.ingress?.close();
    entry.egress?.close();
  }
  return { plan, applied };
}
