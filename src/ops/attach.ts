/**
 * attach / detach: put an existing interface (a container's host-side veth made by something
 * else) onto a network of an applied topology, or take it off. Attachments live in the kernel
 * (port entries marked ATTACHED), so they survive `apply` of the file and the loss of the record.
 *
 * attach refuses what would break the host or another topology: the loopback interface, the
 * interface of the default route (the host's uplink), an interface another topology uses, one
 * whose name cannot be a pin name, and — unless forced — anything but a veth (delivery into a
 * container is bpf_redirect_peer, which only veth pairs support).
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { broadcastOf, contains, formatAddr, networkOf, parseCidr } from '../spec/ipv4.js';
import type { Network } from '../spec/model.js';
import type { Attachment } from '../model/compile.js';
import { checkTopologyName, hostVethName, PINNABLE_IFNAME } from '../model/names.js';
import { refusePort } from './interface-guard.js';
import { iflinkOf, ifindexOf } from '../observe/interfaces.js';
import { listTopologies, observe } from '../observe/kernel.js';
import { MAX_FILE_PORTS } from '../spec/rules.js';
import { applyTopology, trustedRecord } from './topology.js';
import { kernelAttachments } from './attachments.js';
import { InputError } from './errors.js';
import { fileAddresses } from './addresses.js';
import { VNFS } from '../vnf/registry.js';
import type { LockOptions } from '../apply/lock.js';

export interface AttachOptions {
  topology: string;
  network: string;
  /** The container's address on the network, CIDR; absent: the lowest free one (vnf's own IPAM). */
  ip?: string;
  /** The container-side MAC, when the caller knows it (made the veth); else read from `netns`. */
  mac?: string;
  /** The container's network namespace (path), to read the peer's MAC. */
  netns?: string;
  /** Attach an interface that is not a veth, or the default route's. */
  force?: boolean;
  /**
   * Per-module options asked for, by module name (e.g. firewall: "web-in"; null: none). A module
   * not named uses its default for the network (the network's default firewall).
   */
  options?: Record<string, string | null>;
  lock?: LockOptions;
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

/** The lowest host address of the network that nobody has (vnf's own IPAM). */
function freeAddress(net: Network, taken: ReadonlySet<number>): number | undefined {
  const first = networkOf(net.subnet);
  const last = broadcastOf(net.subnet);
  const [lo, hi] = net.subnet.prefix >= 31 ? [first, last] : [first + 1, last - 1];
  for (let a = lo; a <= hi; a++) if (!taken.has(a)) return a >>> 0;
  return undefined;
}

export async function attachInterface(ifname: string, o: AttachOptions): Promise<Awaited<ReturnType<typeof applyTopology>> & { attachment: Attachment }> {
  checkTopologyName(o.topology);
  const rec = trustedRecord(o.topology);
  const t = rec.topology;
  const net = t.networks.find((n) => n.name === o.network);
  if (!net) throw new InputError(`topology ${o.topology} has no network ${o.network} (networks: ${t.networks.map((n) => n.name).join(', ')})`);
  const { taken: used, reserved } = fileAddresses(t, net);
  let asked: number | undefined;
  if (o.ip !== undefined) {
    const cidr = parseCidr(o.ip, { defaultPrefix: net.subnet.prefix });
    if (!cidr.ok) throw new InputError(`--ip ${o.ip}: ${cidr.error}`);
    if (!contains(net.subnet, cidr.value.addr) || cidr.value.prefix !== net.subnet.prefix) {
      throw new InputError(`--ip ${o.ip} is not an address of network ${o.network} (${formatAddr(net.subnet.addr)}/${net.subnet.prefix})`);
    }
    if (net.subnet.prefix < 31 && (cidr.value.addr === networkOf(net.subnet) || cidr.value.addr === broadcastOf(net.subnet))) {
      throw new InputError(`--ip ${o.ip} is not a host address of network ${o.network}`);
    }
    asked = cidr.value.addr;
    const who = used.get(asked);
    if (who) throw new InputError(`--ip ${o.ip} is already used by ${who}`);
  }
  if (PINNABLE_IFNAME.test(ifname) && ifindexOf(ifname) === undefined) throw new InputError(`no interface named ${ifname} in the host namespace`);
  const why = refusePort(ifname, o.topology, o.force ?? false);
  if (why) throw new InputError(`cannot attach ${why}`);
  const uplinkOf = t.networks.find((n) => n.uplink?.interface === ifname);
  if (uplinkOf) throw new InputError(`${ifname} is the uplink of network ${uplinkOf.name} in the topology file`);
  for (const c of t.containers) {
    for (const i of c.interfaces) {
      if (hostVethName(t.name, c.name, i.name) === ifname) throw new InputError(`${ifname} is ${c.name}/${i.name} of the topology file; it is attached already`);
    }
  }
  let mac = o.mac?.toLowerCase();
  if (!mac && o.netns) {
    if (!existsSync(o.netns)) throw new InputError(`--netns ${o.netns} does not exist`);
    mac = peerMac(ifname, o.netns);
    if (!mac) throw new InputError(`${ifname} has no peer in ${o.netns}: is it the host side of that namespace's veth?`);
  }
  const options: Record<string, string> = {};
  for (const m of VNFS) {
    if (!m.attachOption) continue;
    let v: string | undefined;
    try {
      v = m.attachOption.choose(t, o.network, o.options?.[m.name]);
    } catch (e) {
      throw new InputError(`cannot attach ${ifname}: ${(e as Error).message}`);
    }
    if (v !== undefined) options[m.name] = v;
  }
  for (const k of Object.keys(o.options ?? {})) {
    if (!VNFS.some((m) => m.name === k && m.attachOption)) throw new InputError(`attachments take no ${k} option`);
  }
  let attachment: Attachment | undefined;
  // Checked against the attachments the kernel holds once the lock is ours: concurrent attaches
  // to one topology serialise, none loses another's attachment, and no address is given twice.
  const attachments = (current: Attachment[]): Attachment[] => {
    const others = current.filter((a) => a.ifname !== ifname);
    const onNet = others.filter((a) => a.network === o.network);
    let ip = asked;
    if (ip === undefined) {
      ip = freeAddress(net, new Set([...used.keys(), ...reserved.keys(), ...onNet.map((a) => a.ip)]));
      if (ip === undefined) throw new InputError(`network ${o.network} (${formatAddr(net.subnet.addr)}/${net.subnet.prefix}) has no free address left`);
    } else {
      const clash = onNet.find((a) => a.ip === ip);
      if (clash) throw new InputError(`--ip ${o.ip} is already used by attached interface ${clash.ifname}`);
    }
    const ports = t.containers.reduce((n, c) => n + c.interfaces.length, 0) + others.length + 1;
    if (ports > MAX_FILE_PORTS) throw new InputError(`topology ${o.topology} would have ${ports} ports; at most ${MAX_FILE_PORTS} fit`);
    attachment = {
      ifname, network: o.network, ip, prefix: net.subnet.prefix, ...(mac ? { mac } : {}),
      ...(Object.keys(options).length ? { options } : {}),
    };
    return [...others, attachment];
  };
  const result = await applyTopology(t, { attachments, basedOn: rec.generation, ...(o.lock ? { lock: o.lock } : {}) });
  return { ...result, attachment: attachment! };
}

export async function detachInterface(ifname: string, topology?: string, lock?: LockOptions): Promise<{ topology: string } & Awaited<ReturnType<typeof applyTopology>>> {
  if (topology !== undefined) checkTopologyName(topology);
  const names = topology ? [topology] : listTopologies();
  const owner = names.find((n) => kernelAttachments(observe(n)).some((a) => a.ifname === ifname));
  if (!owner) throw new InputError(`${ifname} is not attached to ${topology ? `topology ${topology}` : 'any topology'}`);
  const rec = trustedRecord(owner);
  const result = await applyTopology(rec.topology, { attachments: (current) => current.filter((a) => a.ifname !== ifname), basedOn: rec.generation, ...(lock ? { lock } : {}) });
  return { topology: owner, ...result };
}
