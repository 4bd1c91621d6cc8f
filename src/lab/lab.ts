/**
 * The lab: the topology's containers as network namespaces with veth pairs,
 * so a topology can be tried without a container runtime. `up` creates what
 * is missing, brings an existing lab to the file (reconcile.ts) and applies; `down` destroys the topology and
 * removes the namespaces; `exec` runs a command inside a container.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { formatAddr } from '../spec/index.js';
import type { Topology } from '../spec/model.js';
import { checkTopologyName, hostVethName, labNetns } from '../model/names.js';
import { checkName } from '../spec/names.js';
import { ifindexOf } from '../observe/interfaces.js';
import { peekRecord } from '../state/store.js';
import { applyTopology, destroyTopology, requireEnvironment, topologyExists } from '../ops/topology.js';
import { InputError } from '../ops/errors.js';
import { fix, type LabChange, raise, remove, retire, retired } from './reconcile.js';

/** The host side's alias says whose it is: `ip link` shows "alias vnf demo web/eth0". */
function alias(ifname: string, text: string): void {
  writeFileSync(`/sys/class/net/${ifname}/ifalias`, text.slice(0, 255));
}

function ip(args: string[]): void {
  const r = spawnSync('ip', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${(r.stderr || r.stdout || '').trim()}`);
}

function sysctl(ns: string | undefined, key: string, value: string): void {
  const argv = ns ? ['ip', 'netns', 'exec', ns, 'sysctl', '-qw', `${key}=${value}`] : ['sysctl', '-qw', `${key}=${value}`];
  spawnSync(argv[0] as string, argv.slice(1), { stdio: 'ignore' });
}

const netnsExists = (name: string): boolean => existsSync(`/run/netns/${name}`);

export interface LabUpResult {
  /** Namespaces made. */
  created: string[];
  /** Interfaces of kept containers and lab uplinks set to the file's address, MAC or route. */
  changed: LabChange[];
  /** Namespaces of containers (and lab uplinks) the file no longer has, removed. */
  removed: string[];
}

function createContainers(t: Topology): string[] {
  const created: string[] = [];
  for (const c of t.containers) {
    const ns = labNetns(t.name, c.name);
    if (!netnsExists(ns)) {
      ip(['netns', 'add', ns]);
      created.push(ns);
      ip(['-n', ns, 'link', 'set', 'lo', 'up']);
      sysctl(ns, 'net.ipv6.conf.all.accept_dad', '0');
      sysctl(ns, 'net.ipv6.conf.default.accept_dad', '0');
    }
    let defaultRoute = false;
    for (const i of c.interfaces) {
      const host = hostVethName(t.name, c.name, i.name);
      if (ifindexOf(host) === undefined) {
        ip(['link', 'add', host, 'type', 'veth', 'peer', 'name', i.name, 'netns', ns]);
        alias(host, `vnf ${t.name} ${c.name}/${i.name}`);
        sysctl(undefined, `net.ipv6.conf.${host}.disable_ipv6`, '1'); // the host itself never speaks on a port
        ip(['-n', ns, 'link', 'set', i.name, 'address', i.mac]);
        ip(['-n', ns, 'addr', 'add', `${formatAddr(i.ip)}/${i.prefix}`, 'dev', i.name]);
        ip(['-n', ns, 'link', 'set', i.name, 'up']);
        ip(['link', 'set', host, 'up']);
      }
      if (i.gateway !== undefined && !defaultRoute) {
        ip(['-n', ns, 'route', 'replace', 'default', 'via', formatAddr(i.gateway), 'dev', i.name]);
        defaultRoute = true;
      }
    }
  }
  return created;
}

/**
 * What the file says sits behind each uplink in lab mode: the uplink interface, its peer
 * (named after the network) in namespace vnf.<topology>.<namespace> with the given address,
 * forwarding on (it stands for the world: a gateway). An uplink without a `lab` section is the
 * user's own interface: left alone.
 */
function createUplinks(t: Topology): string[] {
  const created: string[] = [];
  for (const n of t.networks) {
    const lab = n.uplink?.lab;
    if (!n.uplink || !lab) continue;
    const ns = labNetns(t.name, lab.namespace);
    if (!netnsExists(ns)) {
      ip(['netns', 'add', ns]);
      created.push(ns);
      ip(['-n', ns, 'link', 'set', 'lo', 'up']);
      sysctl(ns, 'net.ipv6.conf.all.disable_ipv6', '1');
      sysctl(ns, 'net.ipv6.conf.default.disable_ipv6', '1');
      sysctl(ns, 'net.ipv4.ip_forward', '1');
    }
    const host = n.uplink.interface;
    if (ifindexOf(host) === undefined) {
      ip(['link', 'add', host, 'type', 'veth', 'peer', 'name', n.name, 'netns', ns]);
      alias(host, `vnf ${t.name} uplink of ${n.name}`);
      sysctl(undefined, `net.ipv6.conf.${host}.disable_ipv6`, '1');
      ip(['-n', ns, 'addr', 'add', `${formatAddr(lab.ip)}/${n.subnet.prefix}`, 'dev', n.name]);
      ip(['-n', ns, 'link', 'set', n.name, 'up']);
      ip(['link', 'set', host, 'up']);
    }
  }
  return created;
}

function removeUplinks(t: Topology): string[] {
  const removed: string[] = [];
  for (const n of t.networks) {
    const lab = n.uplink?.lab;
    if (!n.uplink || !lab) continue;
    const ns = labNetns(t.name, lab.namespace);
    if (netnsExists(ns)) {
      ip(['netns', 'del', ns]);
      removed.push(ns);
    }
    if (ifindexOf(n.uplink.interface) !== undefined) spawnSync('ip', ['link', 'del', n.uplink.interface], { stdio: 'ignore' });
  }
  return removed;
}

function removeNamespaces(t: Topology): string[] {
  const removed: string[] = [];
  for (const c of t.containers) {
    const ns = labNetns(t.name, c.name);
    if (netnsExists(ns)) {
      ip(['netns', 'del', ns]); // takes the container-side veths, and with them their host-side peers
      removed.push(ns);
    }
    for (const i of c.interfaces) {
      const host = hostVethName(t.name, c.name, i.name);
      if (ifindexOf(host) !== undefined) spawnSync('ip', ['link', 'del', host], { stdio: 'ignore' });
    }
  }
  return removed;
}

export async function labUp(
  t: Topology,
  file?: string,
  opts: { fastAttach?: boolean } = {},
): Promise<LabUpResult & Awaited<ReturnType<typeof applyTopology>>> {
  requireEnvironment();
  let created: string[] = [];
  // A lab that is up already is brought to the file (src/lab/reconcile.ts has the order).
  const old = retired(t);
  let result: Awaited<ReturnType<typeof applyTopology>>;
  let changed: LabChange[];
  try {
    retire(old);
    created = createContainers(t);
    created.push(...createUplinks(t));
    changed = fix(t);
    result = await applyTopology(t, { lab: true, ...(file ? { file } : {}), fastAttach: opts.fastAttach ?? false });
  } catch (e) {
    // Leave nothing behind that this call made. What it retired stays down: a failed apply may
    // have detached their programs already, and a veth without them would reach the host's
    // stack (fail closed; the next lab up removes them).
    for (const ns of created) spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
    throw e;
  }
  // The apply is committed: what the file no longer has goes (a failure here is reported, and
  // what is left is down, with no port).
  raise(t);
  return { created, changed, removed: remove(old), ...result };
}

/** The topology of a lab by name, from its record (`lab down NAME`). */
export function recordedLab(name: string): Topology {
  checkTopologyName(name);
  const rec = peekRecord(name);
  if (!rec) {
    throw new InputError(`no record of a topology named ${name} (${topologyExists(name) ? 'it is applied, but its record is lost: use lab down -f FILE, or vnf-ctl destroy' : 'nothing of it exists'})`);
  }
  if (!rec.lab) throw new InputError(`topology ${name} is not a lab (it was applied with vnf-ctl apply): use vnf-ctl destroy ${name}`);
  return rec.topology;
}

export async function labDown(t: Topology): Promise<{ removed: string[]; existed: boolean }> {
  requireEnvironment();
  const existed = topologyExists(t.name);
  if (existed) await destroyTopology(t.name);
  return { removed: [...removeNamespaces(t), ...removeUplinks(t)], existed };
}

/** Finds the namespace of a lab container; `topology` disambiguates a name used by several. */
export function labContainerNetns(container: string, topology?: string): string {
  const bad = checkName(container, 'container name');
  if (bad) throw new InputError(bad);
  if (topology) {
    checkTopologyName(topology);
    const ns = labNetns(topology, container);
    if (!netnsExists(ns)) throw new InputError(`no lab container ${container} in topology ${topology} (no namespace ${ns})`);
    return ns;
  }
  const all = existsSync('/run/netns') ? readdirSync('/run/netns') : [];
  // Lab namespaces are vnf.<topology>.<container>; names hold no '.', so the split is exact.
  const matches = all.filter((n) => {
    const parts = n.split('.');
    if (parts.length !== 3 || parts[0] !== 'vnf' || parts[2] !== container) return false;
    const rec = peekRecord(parts[1]!);
    return rec ? rec.topology.containers.some((c) => c.name === container) || rec.topology.networks.some((n) => n.uplink?.lab?.namespace === container) : true;
  });
  if (matches.length === 0) throw new InputError(`no lab container named ${container} (is the lab up? vnf-ctl lab up -f FILE)`);
  if (matches.length > 1) throw new InputError(`container ${container} exists in several lab topologies (${matches.join(', ')}): choose one with -t TOPOLOGY`);
  return matches[0] as string;
}

/** Runs a command inside a lab container, with this process's stdio. Returns its exit code. */
export function labExec(container: string, argv: string[], topology?: string): number {
  const ns = labContainerNetns(container, topology);
  const r = spawnSync('ip', ['netns', 'exec', ns, ...argv], { stdio: 'inherit' });
  return r.status ?? 1;
}
