/**
 * attach / detach: put an existing interface (a container's host-side veth
 * made by something else) onto a network of an applied topology, or take it
 * off. Attachments are recorded with the topology, so they survive `apply`
 * of the file, and show in `get`.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { contains, formatAddr, parseCidr } from '../spec/ipv4.js';
import type { Attachment } from '../model/compile.js';
import { hostVethName } from '../model/names.js';
import { iflinkOf, ifindexOf } from '../observe/interfaces.js';
import { listTopologies } from '../observe/kernel.js';
import { readRecord } from '../state/store.js';
import { applyTopology } from './topology.js';
import { InputError } from './errors.js';

export interface AttachOptions {
  topology: string;
  network: string;
  /** The container's address on the network, CIDR. */
  ip: string;
  /** The container's network namespace (path), to read the peer's MAC. */
  netns?: string;
}

/** The MAC of a veth's peer inside a namespace given by path. */
function peerMac(ifname: string, netns: string): string | undefined {
  const peer = iflinkOf(ifname);
  if (peer === undefined) return undefined;
  const r = spawnSync('nsenter', [`--net=${netns}`, 'ip', '-j', 'link', 'show'], { encoding: 'utf8' });
  if (r.status !== 0) throw new InputError(`cannot read interfaces in ${netns}: ${r.stderr.trim()}`);
  const links = JSON.parse(r.stdout) as Array<{ ifindex: number; address?: string }>;
  return links.find((l) => l.ifindex === peer)?.address;
}

export async function attachInterface(ifname: string, o: AttachOptions): Promise<Awaited<ReturnType<typeof applyTopology>> & { attachment: Attachment }> {
  const rec = readRecord(o.topology);
  if (!rec || !listTopologies().includes(o.topology)) throw new InputError(`no applied topology named ${o.topology}: apply it first (vnf-ctl apply -f FILE)`);
  const t = rec.topology;
  const net = t.networks.find((n) => n.name === o.network);
  if (!net) throw new InputError(`topology ${o.topology} has no network ${o.network} (networks: ${t.networks.map((n) => n.name).join(', ')})`);
  const cidr = parseCidr(o.ip, { defaultPrefix: net.subnet.prefix });
  if (!cidr.ok) throw new InputError(`--ip ${o.ip}: ${cidr.error}`);
  if (!contains(net.subnet, cidr.value.addr) || cidr.value.prefix !== net.subnet.prefix) {
    throw new InputError(`--ip ${o.ip} is not an address of network ${o.network} (${formatAddr(net.subnet.addr)}/${net.subnet.prefix})`);
  }
  if (ifindexOf(ifname) === undefined) throw new InputError(`no interface named ${ifname} in the host namespace`);
  for (const c of t.containers) {
    for (const i of c.interfaces) {
      if (hostVethName(t.name, c.name, i.name) === ifname) throw new InputError(`${ifname} is ${c.name}/${i.name} of the topology file; it is attached already`);
      if (i.networkId === net.id && i.ip === cidr.value.addr) throw new InputError(`--ip ${o.ip} is already used by ${c.name}/${i.name}`);
    }
  }
  for (const r of t.routers) for (const p of r.ports) if (p.networkId === net.id && p.ip === cidr.value.addr) throw new InputError(`--ip ${o.ip} is router ${r.name}'s address`);
  const others = rec.attachments.filter((a) => a.ifname !== ifname);
  const clash = others.find((a) => a.network === o.network && a.ip === cidr.value.addr);
  if (clash) throw new InputError(`--ip ${o.ip} is already used by attached interface ${clash.ifname}`);
  let mac: string | undefined;
  if (o.netns) {
    if (!existsSync(o.netns)) throw new InputError(`--netns ${o.netns} does not exist`);
    mac = peerMac(ifname, o.netns);
    if (!mac) throw new InputError(`${ifname} has no peer in ${o.netns}: is it the host side of that namespace's veth?`);
  }
  const attachment: Attachment = { ifname, network: o.network, ip: cidr.value.addr, prefix: cidr.value.prefix, ...(mac ? { mac } : {}), ...(o.netns ? { netns: o.netns } : {}) };
  const result = await applyTopology(t, { attachments: [...others, attachment] });
  return { ...result, attachment };
}

export async function detachInterface(ifname: string, topology?: string): Promise<{ topology: string } & Awaited<ReturnType<typeof applyTopology>>> {
  const names = topology ? [topology] : listTopologies();
  const owner = names.find((n) => readRecord(n)?.attachments.some((a) => a.ifname === ifname));
  if (!owner) throw new InputError(`${ifname} is not attached to ${topology ? `topology ${topology}` : 'any topology'}`);
  const rec = readRecord(owner)!;
  const result = await applyTopology(rec.topology, { attachments: rec.attachments.filter((a) => a.ifname !== ifname) });
  return { topology: owner, ...result };
}
