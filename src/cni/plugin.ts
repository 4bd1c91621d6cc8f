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
import { ConcurrentChangeError, EnvironmentError, InputError } from '../ops/errors.js';
import { observe } from '../observe/kernel.js';
import { BpfError } from '../native/errors.js';
import { formatAddr, parseCidr } from '../spec/ipv4.js';
import type { Network, Topology } from '../spec/model.js';
import type { Env, NetConf } from './config.js';
import { CNI_CODES, CniError } from './errors.js';
import { runIpam } from './ipam.js';
import { configureContainer, containerAddresses, createVeth, deleteLink, linkAlias, linkExists, linkMac, setUp, type Route } from './links.js';
import { cniAlias, cniHostVeth, cniMac, parseAlias } from './names.js';

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
  if (e instanceof ConcurrentChangeError) throw new CniError(CNI_CODES.tryAgain, e.message);
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
    if (e instanceof InputError) throw new CniError(CNI_CODES.unknownTopology, e.message);
    throw asCni(e, `topology ${conf.topology}`);
  }
  const net = rec.topology.networks.find((n) => n.name === conf.network);
  if (!net) {
    throw new CniError(CNI_CODES.unknownNetwork, `topology ${conf.topology} has no network ${conf.network}`,
      `networks: ${rec.topology.networks.map((n) => n.name).join(', ')}`);
  }
  return { topology: rec.topology, net, generation: rec.generation };
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
  const mac = cniMac(env.containerId, env.ifname);
  const mtu = conf.mtu ?? 1500;
  const undo: Array<() => unknown> = [];
  try {
    createVeth({ host, ifname: env.ifname, mac, netns: env.netns, mtu, alias: cniAlias(conf.name, env.containerId, env.ifname) });
    undo.push(() => deleteLink(host));
    let ip: string | undefined;
    let gateway = net.gateway !== undefined ? formatAddr(net.gateway) : undefined;
    let routes: Route[] | undefined;
    if (conf.ipam) {
      const type = conf.ipam.type;
      const r = runIpam(type, 'ADD', env, stdin);
      undo.push(() => runIpam(type, 'DEL', env, stdin));
      const v4 = r?.ips?.find((x) => parseCidr(x.address).ok);
      if (!v4) throw new CniError(CNI_CODES.ipam, `IPAM plugin ${type} gave no IPv4 address (vnf networks are IPv4)`, JSON.stringify(r?.ips ?? []));
      ip = v4.address;
      if (v4.gateway) gateway = v4.gateway;
      if (r?.routes?.length) routes = r.routes;
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

export async function del(env: Env, conf: NetConf, stdin: string): Promise<void> {
  const host = cniHostVeth(env.containerId, env.ifname);
  let topologyThere = true;
  try {
    trustedRecord(conf.topology);
  } catch (e) {
    if (!(e instanceof InputError)) throw e;
    topologyThere = false; // nothing of vnf to undo: the topology is gone (or not applied yet)
  }
  try {
    if (topologyThere && linkExists(host)) {
      const attachedHere = kernelAttachments(observe(conf.topology)).some((a) => a.ifname === host);
      if (attachedHere) await detachInterface(host, conf.topology);
    } else if (topologyThere) {
      await dropDead(conf); // the namespace went first: the veth pair went with it
    }
  } catch (e) {
    asCni(e, `detaching ${host}`);
  }
  deleteLink(host);
  if (conf.ipam) runIpam(conf.ipam.type, 'DEL', env, stdin);
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
  }
  const inside = containerAddresses(env.netns, env.ifname);
  if (!inside) problems.push(`${env.ifname} does not exist in ${env.netns}`);
  else {
    if (!inside.addresses.includes(want)) problems.push(`${env.ifname} in ${env.netns} has ${inside.addresses.join(', ') || 'no address'}, not ${want}`);
    if (inside.mac !== cniMac(env.containerId, env.ifname)) problems.push(`${env.ifname} has MAC ${inside.mac}, not the one its port checks`);
  }
  if (problems.length) throw new CniError(CNI_CODES.checkFailed, `CHECK failed: ${problems.join('; ')}`, problems.join('\n'));
}

/** Host veths of this CNI network (by their alias) that the runtime no longer knows. */
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
  let rec: ReturnType<typeof trustedRecord> | undefined;
  try {
    rec = trustedRecord(conf.topology);
  } catch (e) {
    if (!(e instanceof InputError)) throw e;
  }
  if (rec) {
    const gone = new Set(stale.map((s) => s.host));
    const current = kernelAttachments(observe(conf.topology));
    if (current.some((a) => gone.has(a.ifname) || a.ifname.startsWith('#'))) {
      try {
        await applyTopology(rec.topology, { attachments: (cur) => cur.filter((a) => !gone.has(a.ifname)), basedOn: rec.generation });
      } catch (e) {
        asCni(e, 'removing stale attachments');
      }
    }
  }
  for (const s of stale) {
    deleteLink(s.host);
    if (conf.ipam) runIpam(conf.ipam.type, 'DEL', { ...env }, stdin, { containerId: s.containerId, ifname: s.ifname });
  }
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
