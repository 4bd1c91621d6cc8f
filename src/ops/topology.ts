/**
 * The topology operations the CLI offers: plan, apply, destroy. Each
 * validates and resolves everything before the first kernel change, so bad
 * input changes nothing.
 */
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { prepareEnvironment } from '../bpf/environment.js';
import { native } from '../native/binding.js';
import { BpfError } from '../native/errors.js';
import { compile, type Attachment, type CompileInput } from '../model/compile.js';
import { hostVethName, linksDir, pinDir } from '../model/names.js';
import { observe } from '../observe/kernel.js';
import { ifindexOf } from '../observe/interfaces.js';
import { plan as diff, type Build, type Plan } from '../plan/plan.js';
import { applyPlan, failClosed, type ApplyResult } from '../apply/apply.js';
import type { DesiredState } from '../model/desired.js';
import { currentBuilds } from '../apply/builds.js';
import { withLock } from '../apply/lock.js';
import { readRecord, removeRecord, writeRecord } from '../state/store.js';
import type { Topology } from '../spec/model.js';
import { firewallRuleDiff } from '../vnf/firewall/describe.js';
import { EnvironmentError, InputError } from './errors.js';

export function requireEnvironment(): void {
  const problems = prepareEnvironment();
  if (problems.length) throw new EnvironmentError(problems);
}

export interface ApplyOptions {
  file?: string;
  lab?: boolean;
  /** Attachments to use instead of the recorded ones (attach/detach). */
  attachments?: Attachment[];
}

/** Looks up every interface the topology needs; all missing ones are reported at once. */
export function resolveInterfaces(topology: Topology, attachments: Attachment[]): { input: CompileInput; dropped: Attachment[] } {
  const fileInterfaces = new Map<string, { ifname: string; ifindex: number }>();
  const missing: string[] = [];
  for (const c of topology.containers) {
    for (const i of c.interfaces) {
      const ifname = hostVethName(topology.name, c.name, i.name);
      const ifindex = ifindexOf(ifname);
      if (ifindex === undefined) missing.push(`${c.name}/${i.name} (host interface ${ifname})`);
      else fileInterfaces.set(`${c.name}/${i.name}`, { ifname, ifindex });
    }
  }
  if (missing.length) {
    throw new InputError(`the interfaces of ${missing.length === 1 ? 'this container' : 'these containers'} do not exist: ${missing.join(', ')}. ` +
      `Create them with \`vnf-ctl lab up -f FILE\` (or leave the containers section out and use \`vnf-ctl attach\`).`);
  }
  const kept: Array<Attachment & { ifindex: number }> = [];
  const dropped: Attachment[] = [];
  for (const a of attachments) {
    const ifindex = ifindexOf(a.ifname);
    if (ifindex === undefined) dropped.push(a);
    else kept.push({ ...a, ifindex });
  }
  return { input: { topology, fileInterfaces, attachments: kept }, dropped };
}

export interface PlanResult {
  plan: Plan;
  /** Attachments whose interface is gone (they are dropped on apply). */
  dropped: Attachment[];
  desired: DesiredState;
  /** The BPF objects the plan was made against (hashed once per apply). */
  builds: Build[];
}

export function planTopology(topology: Topology, opts: ApplyOptions = {}): PlanResult {
  const attachments = opts.attachments ?? readRecord(topology.name)?.attachments ?? [];
  const { input, dropped } = resolveInterfaces(topology, attachments);
  const desired = compile(input);
  const builds = currentBuilds();
  const plan = diff(desired, observe(topology.name), builds);
  if (plan.ops.length) plan.notes = firewallRuleDiff(readRecord(topology.name)?.topology, topology);
  return { plan, dropped, desired, builds };
}

export async function applyTopology(topology: Topology, opts: ApplyOptions = {}): Promise<ApplyResult & { dropped: Attachment[] }> {
  requireEnvironment();
  return withLock(topology.name, async () => {
    const previous = readRecord(topology.name);
    const { plan, dropped, desired, builds } = planTopology(topology, opts);
    const fresh = !existsSync(pinDir(topology.name));
    let result;
    try {
      result = await applyPlan(plan, builds);
    } catch (e) {
      // A first apply that fails leaves nothing behind (no maps, programs or
      // links); a later one has kept the old programs and links attached.
      if (fresh) removeTopologyPins(topology.name);
      else failClosed(topology.name, desired);
      throw e;
    }
    const attachments = (opts.attachments ?? previous?.attachments ?? []).filter((a) => !dropped.includes(a));
    writeRecord(topology.name, {
      topology,
      ...(opts.file ?? previous?.file ? { file: opts.file ?? previous?.file } : {}),
      lab: opts.lab ?? previous?.lab ?? false,
      attachments,
      appliedAt: new Date().toISOString(),
    });
    return { ...result, dropped };
  });
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

/** Removes every program, link, map and pin of a topology. Destroying what is gone is not an error. */
export async function destroyTopology(name: string): Promise<{ existed: boolean; links: number }> {
  requireEnvironment();
  return withLock(name, async () => {
    const existed = existsSync(pinDir(name)) || readRecord(name) !== undefined;
    const links = removeTopologyPins(name);
    removeRecord(name);
    return { existed, links };
  });
}
