/**
 * The topology operations the CLI offers: plan, apply, destroy. Each validates and resolves
 * everything before the first kernel change, so bad input changes nothing; each reads the
 * kernel as the truth (attachments, ids, what is pinned) and uses the record only as a cache.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { prepareEnvironment } from '../bpf/environment.js';
import { native } from '../native/binding.js';
import { BpfError } from '../native/errors.js';
import { compile, type Attachment, type CompileInput } from '../model/compile.js';
import { assignIds, readIds, reverseIds } from '../model/ids.js';
import { checkTopologyName, hostVethName, linksDir, pinDir, stateDir } from '../model/names.js';
import { listTopologies, observe, type Observed } from '../observe/kernel.js';
import { ifindexOf, interfaceNames } from '../observe/interfaces.js';
import { observedGroups, plan as diff, type Build, type Plan } from '../plan/plan.js';
import { applyPlan, type ApplyResult } from '../apply/apply.js';
import type { DesiredState } from '../model/desired.js';
import { currentBuilds } from '../apply/builds.js';
import { withLock, type LockOptions } from '../apply/lock.js';
import { peekRecord, peekRecordMeta, readRecord, RecordError, removeRecord, writeRecord } from '../state/store.js';
import type { Topology } from '../spec/model.js';
import { VNFS } from '../vnf/registry.js';
import type { NameView } from '../vnf/types.js';
import { generationOf } from '../vnf/core/module.js';
import { VNF_MAP_IDS } from '../abi/vnf_common.js';
import { overlayOf } from '../vnf/overlay/model.js';
import { attachmentNotes, attachmentProblems, kernelAttachments } from './attachments.js';
import { refusePort } from './interface-guard.js';
import { EnvironmentError, InputError, ConcurrentChangeError, RecordMismatchError } from './errors.js';

export function requireEnvironment(): void {
  const problems = prepareEnvironment();
  if (problems.length) throw new EnvironmentError(problems);
}

export interface ApplyOptions {
  file?: string;
  lab?: boolean;
  /** Attachments to use instead of the ones pinned in the kernel, or an edit of those (attach/detach). */
  attachments?: Attachment[] | ((current: Attachment[]) => Attachment[]);
  lock?: LockOptions;
  /** Apply only if the kernel still runs this generation (attach/detach re-apply the recorded topology). */
  basedOn?: string;
  /** Expedited RCU grace periods while new ports' links are attached (host-wide, opt-in). */
  fastAttach?: boolean;
  /**
   * plan only: interfaces that `lab up` creates (file containers, lab uplinks) may be missing;
   * they get placeholder ifindexes and are listed in `pending`. Never used to apply.
   */
  preview?: boolean;
}

/** Placeholder ifindexes of interfaces a preview plan assumes (above any real ifindex a host hands out). */
const PREVIEW_IFINDEX = 0x7f000000;

/** An interface a preview plan assumes: what `lab up` will create. */
export interface PendingInterface {
  ifname: string;
  /** "web/eth0" or "the uplink of wan". */
  what: string;
  ifindex: number;
}

/** Looks up every interface the topology needs; all missing ones are reported at once. */
export function resolveInterfaces(topology: Topology, attachments: Array<Attachment & { ifindex?: number }>, preview = false): { input: Omit<CompileInput, 'ids'>; dropped: Attachment[]; pending: PendingInterface[] } {
  const fileInterfaces = new Map<string, { ifname: string; ifindex: number }>();
  const missing: string[] = [];
  const pending: PendingInterface[] = [];
  for (const c of topology.containers) {
    for (const i of c.interfaces) {
      const ifname = hostVethName(topology.name, c.name, i.name);
      let ifindex = ifindexOf(ifname);
      if (ifindex === undefined && preview) {
        ifindex = PREVIEW_IFINDEX + pending.length;
        pending.push({ ifname, what: `${c.name}/${i.name}`, ifindex });
      }
      if (ifindex === undefined) missing.push(`${c.name}/${i.name} (host interface ${ifname})`);
      else fileInterfaces.set(`${c.name}/${i.name}`, { ifname, ifindex });
    }
  }
  if (missing.length) {
    throw new InputError(`the interfaces of ${missing.length === 1 ? 'this container' : 'these containers'} do not exist: ${missing.join(', ')}. ` +
      `Create them with \`vnf-ctl lab up -f FILE\` (or leave the containers section out and use \`vnf-ctl attach\`).`);
  }
  const uplinks = resolveUplinks(topology, preview ? pending : undefined);
  for (const [network, u] of uplinks) {
    const clash = [...fileInterfaces].find(([, f]) => f.ifindex === u.ifindex);
    if (clash) throw new InputError(`the uplink of network ${network} is ${u.ifname}, the interface of container ${clash[0]}`);
  }
  const overlay = resolveOverlay(topology);
  if (overlay) {
    const clash = [...fileInterfaces].find(([, f]) => f.ifindex === overlay.ifindex) ?? [...uplinks].find(([, u]) => u.ifindex === overlay.ifindex);
    if (clash) throw new InputError(`the overlay device ${overlay.ifname} is also the interface of ${clash[0]}`);
  }
  const networks = new Set(topology.networks.map((n) => n.name));
  const kept: Array<Attachment & { ifindex: number }> = [];
  const dropped: Attachment[] = [];
  const orphans: Attachment[] = [];
  for (const a of attachments) {
    const ifindex = ifindexOf(a.ifname);
    // An attachment is to an interface, not to a name: one recreated under the same name is not it.
    if (ifindex === undefined || (a.ifindex !== undefined && a.ifindex !== ifindex)) dropped.push(a);
    else if (!networks.has(a.network)) orphans.push(a);
    else kept.push({ ...a, ifindex });
  }
  // Dropping a live attachment would leave its interface up with no policy at all (its traffic
  // reaching the host's own stack): the file may not take away a network that one still uses.
  if (orphans.length) {
    const byNet = new Map<string, string[]>();
    for (const a of orphans) byNet.set(a.network, [...(byNet.get(a.network) ?? []), a.ifname]);
    throw new InputError([...byNet].map(([n, ifs]) => `network ${n} is not in the file, but attached interface${ifs.length > 1 ? 's' : ''} ${ifs.join(', ')} ${ifs.length > 1 ? 'use' : 'uses'} it`).join('; ') +
      ': keep the network, or detach them first (vnf-ctl detach IFACE, or the container runtime\'s DEL)');
  }
  return { input: { topology, fileInterfaces, uplinks, attachments: kept, ...(overlay ? { overlay } : {}) }, dropped, pending };
}

/** This host's VXLAN device, when the topology is one host's slice: it must exist (the agent creates it). */
function resolveOverlay(topology: Topology): { ifname: string; ifindex: number } | undefined {
  const o = overlayOf(topology);
  if (!o) return undefined;
  const ifindex = ifindexOf(o.device);
  if (ifindex === undefined) {
    throw new InputError(`the overlay device ${o.device} of host ${o.host} does not exist: create it with \`ip link add ${o.device} type vxlan external dstport 4789\``);
  }
  return { ifname: o.device, ifindex };
}

/** The uplink interface of every network that has one: it must exist and may be a port (interface-guard.ts). */
function resolveUplinks(topology: Topology, pending?: PendingInterface[]): Map<string, { ifname: string; ifindex: number }> {
  const out = new Map<string, { ifname: string; ifindex: number }>();
  const problems: string[] = [];
  for (const n of topology.networks) {
    if (!n.uplink) continue;
    const ifname = n.uplink.interface;
    const ifindex = ifindexOf(ifname);
    if (ifindex === undefined && pending && n.uplink.lab) {
      const p = { ifname, what: `the uplink of ${n.name}`, ifindex: PREVIEW_IFINDEX + pending.length };
      pending.push(p);
      out.set(n.name, { ifname, ifindex: p.ifindex });
      continue;
    }
    if (ifindex === undefined) {
      problems.push(`the uplink interface ${ifname} of network ${n.name} does not exist` +
        (n.uplink.lab ? ' (`vnf-ctl lab up -f FILE` creates it)' : ': create it (the host end of a veth pair that leads out), or give the uplink a `lab` section and use `vnf-ctl lab up`'));
      continue;
    }
    const why = refusePort(ifname, topology.name, 'never');
    if (why) problems.push(`the uplink of network ${n.name}: ${why}`);
    else out.set(n.name, { ifname, ifindex });
  }
  if (problems.length) throw new InputError(problems.join('; '));
  return out;
}

/** Names for showing kernel state of a topology: interfaces by ifindex, networks and routers by id. */
export function nameView(actual: Observed): NameView {
  const ifnames = interfaceNames();
  const ids = reverseIds(readIds(actual.entries(VNF_MAP_IDS)));
  return { ...ids, ifname: (i) => ifnames.get(i) ?? `ifindex ${i}` };
}

export interface PlanResult {
  plan: Plan;
  /** Attachments whose interface or network is gone (removed by the apply). */
  dropped: Attachment[];
  desired: DesiredState;
  /** The BPF objects the plan was made against (hashed once per apply). */
  builds: Build[];
  names: NameView;
  /** preview: the interfaces the plan assumes `lab up` creates. */
  pending: PendingInterface[];
}

function planAgainst(topology: Topology, actual: Observed, opts: ApplyOptions): PlanResult {
  const before = peekRecord(topology.name)?.topology;
  const current = kernelAttachments(actual, before ? [before, topology] : [topology]);
  const attachments = typeof opts.attachments === 'function' ? opts.attachments(current) : opts.attachments ?? current;
  const { input, dropped, pending } = resolveInterfaces(topology, attachments, opts.preview ?? false);
  const problems = attachmentProblems(topology, input.attachments);
  if (problems.length) throw new InputError(problems.join('; '));
  const ids = assignIds(readIds(actual.entries(VNF_MAP_IDS)), topology);
  const desired = compile({ ...input, ids, groups: observedGroups(actual) });
  const builds = currentBuilds();
  const p = diff(desired, actual, builds);
  if (p.ops.length) {
    p.notes = VNFS.flatMap((v) => v.changes?.(before, topology) ?? []);
  }
  p.notes = [...(p.notes ?? []), ...attachmentNotes(input.attachments)];
  // Names from the ids this plan gives (new networks and routers have them only here), then
  // the kernel's (what the plan removes); placeholders of a preview by their interface names.
  const kernel = nameView(actual);
  const planned = reverseIds(ids);
  const placeholders = new Map(pending.map((x) => [x.ifindex, x.ifname]));
  const names: NameView = {
    network: (id) => (ids.networks.size && [...ids.networks.values()].includes(id) ? planned.network(id) : kernel.network(id)),
    router: (id) => (ids.routers.size && [...ids.routers.values()].includes(id) ? planned.router(id) : kernel.router(id)),
    ifname: (i) => placeholders.get(i) ?? kernel.ifname(i),
  };
  return { plan: p, dropped, desired, builds, names, pending };
}

export function planTopology(topology: Topology, opts: ApplyOptions = {}): PlanResult {
  return planAgainst(topology, observe(topology.name), opts);
}

export async function applyTopology(topology: Topology, opts: ApplyOptions = {}): Promise<ApplyResult & { dropped: Attachment[]; names: NameView }> {
  if (opts.preview) throw new Error('internal: a preview plan is never applied');
  requireEnvironment();
  return withLock(topology.name, async () => {
    const previous = peekRecordMeta(topology.name);
    const actual = observe(topology.name);
    if (opts.basedOn !== undefined && actual.meta?.generation.toString(16) !== opts.basedOn) {
      throw new ConcurrentChangeError(`topology ${topology.name} was changed by another vnf-ctl meanwhile; run the command again`);
    }
    const { plan, dropped, builds, names } = planAgainst(topology, actual, opts);
    let result: ApplyResult;
    try {
      result = await applyPlan(plan, builds, { fastAttach: opts.fastAttach ?? false });
    } catch (e) {
      // A first apply that fails leaves nothing behind; a later one is left at a safe prefix
      // of its plan (see plan.ts), which the next apply completes.
      if (!actual.exists) removeTopologyPins(topology.name);
      throw e;
    }
    const file = opts.file ?? previous?.file;
    writeRecord(topology.name, {
      topology,
      ...(file ? { file } : {}),
      lab: opts.lab ?? previous?.lab ?? false,
      appliedAt: new Date().toISOString(),
      generation: generationOf(topology).toString(16),
    });
    return { ...result, dropped, names };
  }, opts.lock);
}

/** Detaches a topology's links and removes all its pins. Returns the number of links detached. */
function removeTopologyPins(name: string): number {
  let links = 0;
  const ldir = linksDir(name);
  if (existsSync(ldir)) {
    for (const f of readdirSync(ldir)) {
      const pin = join(ldir, f);
      try {
        native.openPinnedLink(pin).detach();
        links++;
      } catch (e) {
        if (!(e instanceof BpfError)) throw e; // a defunct link: its interface is gone
      }
    }
  }
  rmSync(pinDir(name), { recursive: true, force: true });
  return links;
}

/** Whether anything of a topology exists: pins or a record. */
export function topologyExists(name: string): boolean {
  return existsSync(pinDir(name)) || existsSync(stateDir(name));
}

/**
 * Removes every program, link, map and pin of a topology, and its record. A name that is
 * neither applied nor recorded is invalid input and removes nothing.
 */
export async function destroyTopology(name: string, lock?: LockOptions): Promise<{ links: number; down: string[] }> {
  checkTopologyName(name);
  if (!topologyExists(name)) {
    const applied = listTopologies();
    throw new InputError(`no topology named ${name} (applied: ${applied.join(', ') || 'none'})`);
  }
  requireEnvironment();
  return withLock(name, async () => {
    // Attached interfaces (vnf-ctl attach, the CNI plugin) are not vnf's to remove, but without
    // their programs their traffic would reach the host's own stack: they go down first.
    const down = kernelAttachments(observe(name)).map((a) => a.ifname).filter((i) => !i.startsWith('#'));
    for (const ifname of down) setDown(ifname);
    const links = removeTopologyPins(name);
    removeRecord(name);
    return { links, down };
  }, lock);
}

function setDown(ifname: string): void {
  const r = spawnSync('ip', ['link', 'set', 'dev', ifname, 'down'], { encoding: 'utf8' });
  if (r.status !== 0 && ifindexOf(ifname) !== undefined) throw new Error(`cannot set ${ifname} down: ${r.stderr.trim()}`);
}

/** The record of an applied topology, only if it describes what the kernel runs. */
export function trustedRecord(name: string): NonNullable<ReturnType<typeof readRecord>> {
  checkTopologyName(name);
  if (!existsSync(pinDir(name))) throw new InputError(`no applied topology named ${name}: apply it first (vnf-ctl apply -f FILE)`);
  let rec: ReturnType<typeof readRecord>;
  try {
    rec = readRecord(name);
  } catch (e) {
    // attach/detach re-apply the recorded topology: without a usable record they cannot, like
    // without any record (exit 2, with the way out).
    if (e instanceof RecordError) throw new InputError(e.message);
    throw e;
  }
  if (!rec) {
    throw new InputError(`topology ${name} is applied but its record is missing (${stateDir(name)}): run \`vnf-ctl apply -f FILE\` with its file to rebuild it`);
  }
  const meta = observe(name).meta;
  if (!meta || meta.generation.toString(16) !== rec.generation) {
    throw new RecordMismatchError(`the record of topology ${name} does not describe what the kernel runs (an apply did not finish, or the record is older than the kernel): ` +
      `run \`vnf-ctl apply -f ${rec.file ?? 'FILE'}\` to bring both in line`);
  }
  return rec;
}
