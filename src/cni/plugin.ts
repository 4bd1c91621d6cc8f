/**
 * The vnf CNI plugin's commands (CNI spec 1.1.0): ADD puts a container's new veth on a network of
 * an applied topology as an attachment (per-port identity, the network's or the named firewall),
 * DEL takes it off (idempotent, also when the namespace is gone), CHECK compares with prevResult,
 * GC removes the plugin's attachments the runtime no longer knows, STATUS says whether the
 * topology is there. Attachments are the same as `vnf-ctl attach`'s: in the kernel, kept by
 * `vnf-ctl apply`, shown by `vnf-ctl get`; concurrent ADDs serialise on the topology's lock.
 */
import { existsSync, readdirSync } from 'node:fs';
import { attachInterface, detachInterface } from '../ops/attach.js';
import { kernelAttachments } from '../ops/attachments.js';
import { applyTopology, trustedRecord } from '../ops/topology.js';
import { ConcurrentChangeError, EnvironmentError, InputError, RecordMismatchError } from '../ops/errors.js';
import { observe } from '../observe/kernel.js';
import { BpfError } from '../native/errors.js';
import { formatAddr, parseAddr, parseCidr } from '../spec/ipv4.js';
import type { Network, Topology } from '../spec/model.js';
import type { Env, NetConf } from './config.js';
import { CNI_CODES, CniError } from './errors.js';
import { runIpam, type IpamResult } from './ipam.js';
import { configureContainer, containerAddresses, createVeth, deleteLink, linkAlias, linkExists, linkMac, setUp, type Route } from './links.js';
import { cniAlias, cniHostVeth, cniMac, parseAlias } from './names.js';
import { LOST_FIREWALL } from '../vnf/firewall/attach.js';

export interface AddResult {
  cniVersion: string;
  interfaces: Array<{ name: string; mac: string; sandbox?: string; mtu?: number }>;
  ips: Array<{ address: string; gateway?: string; interface: number }>;
  routes: Route[];
  dns: Record<string, never>;
}

/** Control-plane errors as CNI errors: what the input got wrong, a concurrent change, the kernel. */
function asCni(e: unknown, what: string): never {
  if (e instanceof CniError) throw e;
  if (e instanceof ConcurrentChangeError || e instanceof RecordMismatchError) throw new CniError(CNI_CODES.tryAgain, e.message);
  if (e instanceof InputError) throw new CniError(CNI_CODES.attachRefused, e.message);
  if (e instanceof EnvironmentError) throw new CniError(CNI_CODES.notAvailable, e.message);
  if (e instanceof BpfError) throw new CniError(CNI_CODES.kernel, `${what}: ${e.message}`);
  throw e;
}

function applied(conf: NetConf): { topology: Topology; net: Network; generation: string } {
  let rec: ReturnType<typeof trustedRecord>;
  try {
    rec = trustedRecord(conf.topology);
  } catch (e) {
    if (e instanceof InputError && !(e instanceof RecordMismatchError)) throw new CniError(CNI_CODES.unknownTopology, e.message);
    throw asCni(e, `topology ${conf.topology}`);
  }
  const net = rec.topology.networks.find((n) => n.name === conf.network);
  if (!net) {
    throw new CniError(CNI_CODES.unknownNetwork, `topology ${conf.topology} has no network ${conf.network}`,
      `networks: ${rec.topology.networks.map((n) => n.name).join(', ')}`);
  }
  return { topology: rec.topology, net, generation: rec.generation };
}

/**
 * The IPv4 address, gateway and routes an IPAM plugin gave, checked: they go into iproute2
 * commands, so anything that is not an address or a prefix is refused (code 103).
 */
function ipamAddress(type: string, r: IpamResult | undefined): { address: string; gateway?: string; routes: Route[] } {
  const bad = (what: string): never => {
    throw new CniError(CNI_CODES.ipam, `IPAM plugin ${type} gave ${what}`, JSON.stringify(r ?? null).slice(0, 500));
  };
  const isCidr = (x: unknown): x is string => typeof x === 'string' && /^[0-9./]+$/.test(x) && x.includes('/') && parseCidr(x).ok;
  const isAddr = (x: unknown): x is string => typeof x === 'string' && /^[0-9.]+$/.test(x) && parseAddr(x).ok;
  const v4 = (Array.isArray(r?.ips) ? r.ips : []).find((x) => isCidr(x?.address));
  if (!v4) bad('no IPv4 address (vnf networks are IPv4)');
  if (v4!.gateway !== undefined && !isAddr(v4!.gateway)) bad(`a gateway that is not an IPv4 address: ${JSON.stringify(v4!.gateway)}`);
  const routes: Route[] = [];
  for (const x of Array.isArray(r?.routes) ? r.routes : []) {
    if (typeof x?.dst === 'string' && x.dst.includes(':')) continue; // an IPv6 route: not for an IPv4 network
    if (!isCidr(x?.dst) || (x.gw !== undefined && !isAddr(x.gw))) bad(`a route that is not an IPv4 prefix and address: ${JSON.stringify(x)}`);
    routes.push({ dst: x.dst, ...(x.gw ? { gw: x.gw } : {}) });
  }
  return { address: v4!.address, ...(v4!.gateway ? { gateway: v4!.gateway } : {}), routes };
}

/** Undo steps of a half-done ADD, run last-first; a failing undo does not hide the first error. */
async function unwind(steps: Array<() => unknown>): Promise<void> {
  for (const s of steps.reverse()) {
    try {
      await s();
    } catch {
      /* best effort: DEL or GC finishes what is left */
    }
  }
}

export async function add(env: Env, conf: NetConf, stdin: string): Promise<AddResult> {
  const { net } = applied(conf);
  if (!existsSync(env.netns)) throw new CniError(CNI_CODES.unknownContainer, `network namespace ${env.netns} does not exist`);
  const host = cniHostVeth(env.containerId, env.ifname);
  if (linkExists(host)) {
    throw new CniError(CNI_CODES.alreadyAdded, `${env.ifname} of container ${env.containerId} is added already (host interface ${host}); DEL it first`);
  }
  const alias = cniAlias(conf.name, env.containerId, env.ifname);
  if (Buffer.byteLength(alias) > 255) {
    throw new CniError(CNI_CODES.invalidConfig, `the network name and container id are too long together (${Buffer.byteLength(alias)} bytes in the host interface's alias; at most 255)`);
  }
  const mac = cniMac(env.containerId, env.ifname);
  const mtu = conf.mtu ?? 1500;
  const undo: Array<() => unknown> = [];
  try {
    createVeth({ host, ifname: env.ifname, mac, netns: env.netns, mtu, alias });
    undo.push(() => deleteLink(host));
    let ip: string | undefined;
    let gateway = net.gateway !== undefined ? formatAddr(net.gateway) : undefined;
    let routes: Route[] | undefined;
    if (conf.ipam) {
      const type = conf.ipam.type;
      const r = runIpam(type, 'ADD', env, stdin);
      undo.push(() => runIpam(type, 'DEL', env, stdin));
      const v4 = ipamAddress(type, r);
      ip = v4.address;
      if (v4.gateway) gateway = v4.gateway;
      if (v4.routes.length) routes = v4.routes;
    }
    let attached: Awaited<ReturnType<typeof attachInterface>>;
    try {
      attached = await attachInterface(host, {
        topology: conf.topology, network: conf.network, ...(ip ? { ip } : {}), mac,
        ...(conf.firewall ? { options: { firewall: conf.firewall } } : {}),
      });
    } catch (e) {
      asCni(e, `attaching ${host}`);
    }
    undo.push(() => detachInterface(host, conf.topology));
    const cidr = `${formatAddr(attached.attachment.ip)}/${attached.attachment.prefix}`;
    routes ??= gateway ? [{ dst: '0.0.0.0/0', gw: gateway }] : [];
    configureContainer(env.netns, env.ifname, cidr, routes);
    setUp(host);
    return {
      cniVersion: conf.cniVersion,
      interfaces: [{ name: host, mac: linkMac(host) ?? '' }, { name: env.ifname, mac, sandbox: env.netns }],
      ips: [{ address: cidr, ...(gateway ? { gateway } : {}), interface: 1 }],
      routes,
      dns: {},
    };
  } catch (e) {
    await unwind(undo);
    throw e;
  }
}

/** Re-applies the recorded topology when attachments of gone interfaces remain: it drops them. */
async function dropDead(conf: NetConf): Promise<void> {
  const rec = trustedRecord(conf.topology);
  if (!kernelAttachments(observe(conf.topology)).some((a) => a.ifname.startsWith('#'))) return;
  await applyTopology(rec.topology, { basedOn: rec.generation });
}

/** Whether a host veth is this CNI network's (its alias), or an unnamed leftover of a broken ADD. */
function ours(host: string, conf: NetConf): boolean {
  const owner = parseAlias(linkAlias(host));
  return owner === undefined || owner.network === conf.name;
}

/**
 * The interface goes first — with it its links, so the container is cut off rather than left up
 * without a policy — and then its port entry, now dead, is dropped under the topology's lock.
 * Best effort and idempotent: a topology that is gone or changing leaves a dead entry that the
 * next apply drops.
 */
export async function del(env: Env, conf: NetConf, stdin: string): Promise<void> {
  const host = cniHostVeth(env.containerId, env.ifname);
  if (linkExists(host) && !ours(host, conf)) return; // another CNI network's interface: not this DEL's
  try {
    deleteLink(host);
    try {
      await dropDead(conf);
    } catch (e) {
      if (!(e instanceof InputError)) asCni(e, `removing the port of ${host}`);
    }
  } finally {
    // The address is released whatever happened above: a DEL is not retried.
    if (conf.ipam) runIpam(conf.ipam.type, 'DEL', env, stdin);
  }
}

export async function check(env: Env, conf: NetConf): Promise<void> {
  const prev = conf.prevResult as Partial<AddResult> | undefined;
  if (!prev || typeof prev !== 'object') throw new CniError(CNI_CODES.invalidConfig, 'CHECK needs prevResult (the result of ADD)');
  const { topology } = applied(conf);
  if (!existsSync(env.netns)) throw new CniError(CNI_CODES.unknownContainer, `network namespace ${env.netns} does not exist`);
  const host = cniHostVeth(env.containerId, env.ifname);
  const want = prev.ips?.[0]?.address;
  if (!want) throw new CniError(CNI_CODES.invalidConfig, 'prevResult has no ips[0].address');
  const problems: string[] = [];
  const a = linkExists(host) ? kernelAttachments(observe(topology.name), [topology]).find((x) => x.ifname === host) : undefined;
  if (!linkExists(host)) problems.push(`host interface ${host} does not exist`);
  else if (!a) problems.push(`host interface ${host} is not attached to topology ${topology.name}`);
  else {
    if (a.network !== conf.network) problems.push(`${host} is on network ${a.network}, not ${conf.network}`);
    if (`${formatAddr(a.ip)}/${a.prefix}` !== want) problems.push(`${host}'s port has address ${formatAddr(a.ip)}/${a.prefix}, not ${want}`);
    const fw = a.options?.['firewall'];
    if (conf.firewall && fw !== conf.firewall) problems.push(`${host} has firewall ${fw ?? 'none'}, not ${conf.firewall}`);
    else if (fw === LOST_FIREWALL) problems.push(`${host}'s firewall is no longer known: it drops everything until DEL and ADD`);
  }
  const inside = containerAddresses(env.netns, env.ifname);
  if (!inside) problems.push(`${env.ifname} does not exist in ${env.netns}`);
  else {
    if (!inside.addresses.includes(want)) problems.push(`${env.ifname} in ${env.netns} has ${inside.addresses.join(', ') || 'no address'}, not ${want}`);
    if (inside.mac !== cniMac(env.containerId, env.ifname)) problems.push(`${env.ifname} has MAC ${inside.mac}, not the one its port checks`);
  }
  if (problems.length) throw new CniError(CNI_CODES.checkFailed, `CHECK failed: ${problems.join('; ')}`, problems.join('\n'));
}

/**
 * Removes this CNI network's attachments (found by their host veth's alias) that the runtime no
 * longer lists: every stale interface goes first, then their dead port entries in one apply, then
 * their IPAM addresses. One failure does not stop the rest; the first is reported at the end.
 */
export async function gc(env: Env, conf: NetConf, stdin: string): Promise<{ removed: string[] }> {
  const validList = conf['cni.dev/valid-attachments'];
  if (!validList) throw new CniError(CNI_CODES.invalidConfig, 'GC needs cni.dev/valid-attachments');
  const valid = new Set(validList.map((v) => `${v.containerID}\u0000${v.ifname}`));
  const stale: Array<{ host: string; containerId: string; ifname: string }> = [];
  for (const ifname of readdirSync('/sys/class/net')) {
    if (!/^vnf[0-9a-f]{11}$/.test(ifname)) continue;
    const owner = parseAlias(linkAlias(ifname));
    if (!owner || owner.network !== conf.name) continue;
    if (!valid.has(`${owner.containerId}\u0000${owner.ifname}`)) stale.push({ host: ifname, ...owner });
  }
  const failures: CniError[] = [];
  const attempt = async (f: () => unknown): Promise<void> => {
    try {
      await f();
    } catch (e) {
      failures.push(e instanceof CniError ? e : new CniError(CNI_CODES.io, (e as Error).message));
    }
  };
  for (const s of stale) await attempt(() => deleteLink(s.host));
  await attempt(async () => {
    try {
      await dropDead(conf);
    } catch (e) {
      if (!(e instanceof InputError) || e instanceof RecordMismatchError) asCni(e, 'removing stale attachments');
    }
  });
  // IPAM GC always: addresses of containers whose namespace (and with it the veth) vanished
  // without a DEL have no interface left for the loop above to find.
  if (conf.ipam) {
    const type = conf.ipam.type;
    // The spec's way is GC to the IPAM plugin; one that does not speak 1.1.0 (host-local 1.1)
    // releases each stale address by DEL, in the version it speaks.
    await attempt(async () => {
      try {
        runIpam(type, 'GC', env, stdin);
      } catch {
        const { ['cni.dev/valid-attachments']: _, ...rest } = JSON.parse(stdin) as Record<string, unknown>;
        const legacy = JSON.stringify({ ...rest, cniVersion: '1.0.0' });
        for (const s of stale) await attempt(() => runIpam(type, 'DEL', env, legacy, { containerId: s.containerId, ifname: s.ifname }));
      }
    });
  }
  if (failures.length) throw failures[0]!;
  return { removed: stale.map((s) => s.host) };
}

export function status(conf: NetConf): void {
  try {
    applied(conf);
  } catch (e) {
    if (e instanceof CniError) throw new CniError(CNI_CODES.notAvailable, `not ready: ${e.message}`, e.details);
    throw e;
  }
}
