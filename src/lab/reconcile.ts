/**
 * `lab up` on a lab that is already up: brings the namespaces to what the file says.
 *
 * What the lab made for a container or uplink the file no longer has is found through the
 * record of the last lab apply (only what vnf made is removed: a namespace is never taken
 * because of its name alone). Addresses, MACs and default routes of the interfaces the file
 * keeps are read from the namespaces themselves (the kernel is the truth) and set to the file's.
 *
 * Order, so that no port is ever open wider than the old or the new file allows:
 *   1. `retire`: the host sides of removed interfaces go down (their containers are cut off);
 *   2. `fix`: changed container interfaces get the new address/MAC/route (their ports drop
 *      what they send as the new identity until the apply: fail closed, never open);
 *   3. the apply;
 *   4. `remove`: the retired namespaces and veths are deleted. If the apply fails they stay
 *      down: the failed apply may have detached their programs already, and an up veth without
 *      them would reach the host's stack. The next `lab up` removes them.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { formatAddr } from '../spec/index.js';
import type { Container, ContainerInterface, Topology } from '../spec/model.js';
import { hostVethName, labNetns } from '../model/names.js';
import { ifindexOf } from '../observe/interfaces.js';
import { peekRecord } from '../state/store.js';

export interface LabRetired {
  /** Namespaces to delete once the apply is through. */
  namespaces: string[];
  /** Host-side veths to delete (removed interfaces of kept containers, removed uplinks). */
  links: string[];
  /** Host-side veths set down by `retire`. */
  downed: string[];
  /** Lab uplinks the file keeps under the same interface name but moves (network or namespace):
   * deleted by `retire`, so that lab up makes them again as the file says. */
  recreate: string[];
}

export interface LabChange {
  container: string;
  ifname: string;
  what: string[];
}

function ip(args: string[]): string {
  const r = spawnSync('ip', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${(r.stderr || r.stdout || '').trim()}`);
  return r.stdout;
}

const netnsExists = (name: string): boolean => existsSync(`/run/netns/${name}`);

function setLink(ifname: string, state: 'up' | 'down'): boolean {
  if (ifindexOf(ifname) === undefined) return false;
  ip(['link', 'set', ifname, state]);
  return true;
}

/** What the last lab apply of this topology made that the file no longer has. */
export function retired(t: Topology): LabRetired {
  const out: LabRetired = { namespaces: [], links: [], downed: [], recreate: [] };
  const rec = peekRecord(t.name);
  if (!rec?.lab) return out;
  const old = rec.topology;
  const keep = new Map(t.containers.map((c) => [c.name, c]));
  const uplinkNs = new Set(t.networks.flatMap((n) => (n.uplink?.lab ? [n.uplink.lab.namespace] : [])));
  for (const c of old.containers) {
    const now = keep.get(c.name);
    if (!now) {
      if (!uplinkNs.has(c.name)) out.namespaces.push(labNetns(t.name, c.name));
      out.links.push(...c.interfaces.map((i) => hostVethName(t.name, c.name, i.name)));
      continue;
    }
    const names = new Set(now.interfaces.map((i) => i.name));
    for (const i of c.interfaces) if (!names.has(i.name)) out.links.push(hostVethName(t.name, c.name, i.name));
  }
  const uplinks = new Map(t.networks.flatMap((n) => (n.uplink?.lab ? [[n.uplink.interface, n] as const] : [])));
  for (const n of old.networks) {
    const lab = n.uplink?.lab;
    if (!n.uplink || !lab) continue;
    const now = uplinks.get(n.uplink.interface);
    // The same interface behind the same network and namespace is kept (its address is fixed below).
    if (now && now.name === n.name && now.uplink?.lab?.namespace === lab.namespace) continue;
    (now ? out.recreate : out.links).push(n.uplink.interface);
    if (!keep.has(lab.namespace) && !uplinkNs.has(lab.namespace)) out.namespaces.push(labNetns(t.name, lab.namespace));
  }
  out.namespaces = [...new Set(out.namespaces)];
  out.links = [...new Set(out.links)];
  return out;
}

export function retire(r: LabRetired): void {
  for (const l of r.links) if (setLink(l, 'down')) r.downed.push(l);
  for (const l of r.recreate) if (ifindexOf(l) !== undefined) ip(['link', 'del', l]);
}

export function remove(r: LabRetired): string[] {
  const removed: string[] = [];
  for (const ns of r.namespaces) {
    if (!netnsExists(ns)) continue;
    ip(['netns', 'del', ns]);
    removed.push(ns);
  }
  for (const l of r.links) if (ifindexOf(l) !== undefined) spawnSync('ip', ['link', 'del', l], { stdio: 'ignore' });
  return removed;
}

interface IpAddrInfo {
  family: string;
  local: string;
  prefixlen: number;
  scope?: string;
}
interface IpLink {
  ifname: string;
  address?: string;
  addr_info?: IpAddrInfo[];
}

function readIface(ns: string, ifname: string): IpLink | undefined {
  const r = spawnSync('ip', ['-j', '-n', ns, 'addr', 'show', 'dev', ifname], { encoding: 'utf8' });
  if (r.status !== 0) return undefined;
  return (JSON.parse(r.stdout || '[]') as IpLink[])[0];
}

function defaultRoute(ns: string): { gateway?: string; dev?: string } | undefined {
  const r = spawnSync('ip', ['-j', '-n', ns, 'route', 'show', 'default'], { encoding: 'utf8' });
  if (r.status !== 0) return undefined;
  return (JSON.parse(r.stdout || '[]') as { gateway?: string; dev?: string }[])[0];
}

/** Sets one container interface to the file's address and MAC; returns what changed. */
function fixIface(ns: string, i: ContainerInterface): string[] {
  const now = readIface(ns, i.name);
  if (!now) return []; // created by lab up itself, with the file's values
  const what: string[] = [];
  const want = `${formatAddr(i.ip)}/${i.prefix}`;
  const v4 = (now.addr_info ?? []).filter((a) => a.family === 'inet');
  if (v4.length !== 1 || `${v4[0]!.local}/${v4[0]!.prefixlen}` !== want) {
    ip(['-n', ns, 'addr', 'flush', 'dev', i.name, 'scope', 'global']);
    ip(['-n', ns, 'addr', 'add', want, 'dev', i.name]);
    what.push(`address ${v4.map((a) => `${a.local}/${a.prefixlen}`).join(',') || 'none'} -> ${want}`);
  }
  if (now.address?.toLowerCase() !== i.mac.toLowerCase()) {
    ip(['-n', ns, 'link', 'set', i.name, 'address', i.mac]);
    what.push(`mac ${now.address ?? 'none'} -> ${i.mac}`);
  }
  return what;
}

/** The default route of a container: via the first interface with a gateway, as lab up makes it. */
function fixRoute(ns: string, c: Container): LabChange | undefined {
  const want = c.interfaces.find((i) => i.gateway !== undefined);
  const now = defaultRoute(ns);
  if (!want) {
    if (!now) return undefined;
    ip(['-n', ns, 'route', 'del', 'default']);
    return { container: c.name, ifname: now.dev ?? '', what: [`default route via ${now.gateway ?? '?'} removed`] };
  }
  const gw = formatAddr(want.gateway!);
  if (now && now.gateway === gw && now.dev === want.name) return undefined;
  ip(['-n', ns, 'route', 'replace', 'default', 'via', gw, 'dev', want.name]);
  return { container: c.name, ifname: want.name, what: [`default route ${now ? `via ${now.gateway ?? '?'}` : 'none'} -> via ${gw}`] };
}

/** Brings the kept container interfaces and lab uplinks to the file's addresses. */
export function fix(t: Topology): LabChange[] {
  const changes: LabChange[] = [];
  for (const c of t.containers) {
    const ns = labNetns(t.name, c.name);
    if (!netnsExists(ns)) continue;
    for (const i of c.interfaces) {
      const what = fixIface(ns, i);
      if (what.length) changes.push({ container: c.name, ifname: i.name, what });
    }
    const r = fixRoute(ns, c);
    if (r) changes.push(r);
  }
  for (const n of t.networks) {
    const lab = n.uplink?.lab;
    if (!n.uplink || !lab) continue;
    const ns = labNetns(t.name, lab.namespace);
    const now = netnsExists(ns) ? readIface(ns, n.name) : undefined;
    if (!now) continue;
    const want = `${formatAddr(lab.ip)}/${n.subnet.prefix}`;
    const v4 = (now.addr_info ?? []).filter((a) => a.family === 'inet');
    if (v4.length === 1 && `${v4[0]!.local}/${v4[0]!.prefixlen}` === want) continue;
    ip(['-n', ns, 'addr', 'flush', 'dev', n.name, 'scope', 'global']);
    ip(['-n', ns, 'addr', 'add', want, 'dev', n.name]);
    changes.push({ container: lab.namespace, ifname: n.name, what: [`address ${v4.map((a) => `${a.local}/${a.prefixlen}`).join(',') || 'none'} -> ${want}`] });
  }
  return changes;
}

/**
 * After the apply: every host side of the file's container interfaces is up (their programs are
 * attached now). One a failed `lab up` retired stays down until a file has it again.
 */
export function raise(t: Topology): void {
  for (const c of t.containers) {
    for (const i of c.interfaces) {
      const host = hostVethName(t.name, c.name, i.name);
      try {
        if (readFileSync(`/sys/class/net/${host}/operstate`, 'utf8').trim() === 'down') setLink(host, 'up');
      } catch {
        /* no such interface: the apply would have refused it */
      }
    }
  }
}
