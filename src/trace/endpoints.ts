/**
 * Who a trace is from and to: the ports of an applied topology (its vnf_ports entries, named by
 * the record's containers or by their host interface) and the addresses it knows. Reads only.
 */
import { join } from 'node:path';
import { pinDir, hostVethName } from '../model/names.js';
import { readIds, reverseIds } from '../model/ids.js';
import { readMap, readRaw } from '../observe/kernel.js';
import { ifindexOf, interfaceNames } from '../observe/interfaces.js';
import { formatAddr, parseAddr } from '../spec/ipv4.js';
import type { Topology } from '../spec/model.js';
import { portCodec } from '../vnf/common/codec.js';
import { VNF_MAP_IDS, VNF_MAP_PORTS } from '../abi/vnf_common.js';
import { InputError } from '../ops/errors.js';

export interface TracePort {
  ifindex: number;
  /** Host-side interface name. */
  ifname: string;
  /** "container/interface" for the file's containers, else the host interface. */
  name: string;
  network: string;
  networkId: number;
  /** Host order; 0 when unknown. */
  ip: number;
  prefix: number;
  mac: string;
}

export interface Endpoints {
  ports: TracePort[];
  byIfindex: Map<number, TracePort>;
  network(id: number): string;
  router(id: number): string;
  ifname(ifindex: number): string;
  /** What an ifindex is, for reading: "web/eth0 (vnf1a2b3c4d)". */
  label(ifindex: number): string;
}

const ZERO_MAC = '00:00:00:00:00:00';

export function readEndpoints(topology: Topology): Endpoints {
  const dir = pinDir(topology.name);
  const names = reverseIds(readIds(readMap(join(dir, VNF_MAP_IDS))));
  const ifnames = interfaceNames();
  const fileNames = new Map<number, string>();
  for (const c of topology.containers) {
    for (const i of c.interfaces) {
      const idx = ifindexOf(hostVethName(topology.name, c.name, i.name));
      if (idx !== undefined) fileNames.set(idx, `${c.name}/${i.name}`);
    }
  }
  const ports: TracePort[] = [];
  for (const [k, v] of readRaw(join(dir, VNF_MAP_PORTS)) ?? []) {
    const ifindex = k.readUInt32LE(0);
    const p = portCodec.decode(v);
    const ifname = ifnames.get(ifindex) ?? `#${ifindex}`;
    ports.push({ ifindex, ifname, name: fileNames.get(ifindex) ?? ifname, network: names.network(p.network), networkId: p.network, ip: p.ip, prefix: p.prefix, mac: p.mac });
  }
  const byIfindex = new Map(ports.map((p) => [p.ifindex, p]));
  const ifname = (i: number): string => ifnames.get(i) ?? `#${i}`;
  return {
    ports, byIfindex, network: names.network, router: names.router, ifname,
    label: (i) => {
      const p = byIfindex.get(i);
      return p && p.name !== p.ifname ? `${p.name} (${p.ifname})` : ifname(i);
    },
  };
}

/** `--from`: CONTAINER/IF of the file, or a host interface that is a port of the topology. */
export function resolveFrom(e: Endpoints, from: string): TracePort {
  const p = e.ports.find((x) => x.name === from || x.ifname === from);
  if (!p) {
    const known = e.ports.map((x) => x.name).sort();
    throw new InputError(`--from ${from}: not a port of this topology (ports: ${known.join(', ') || 'none'})`);
  }
  if (!p.ip) throw new InputError(`--from ${from}: the port has no IPv4 address to send from`);
  return p;
}

export interface Destination {
  ip: number;
  /** The port that holds the address, when one does. */
  port?: TracePort;
}

/** `--to`: an IPv4 address, or CONTAINER/IF (its address). */
export function resolveTo(e: Endpoints, to: string): Destination {
  const byName = e.ports.find((x) => x.name === to || x.ifname === to);
  if (byName) {
    if (!byName.ip) throw new InputError(`--to ${to}: the port has no IPv4 address`);
    return { ip: byName.ip, port: byName };
  }
  const a = parseAddr(to);
  if (!a.ok) throw new InputError(`--to ${to}: neither a port of this topology nor an address (${a.error})`);
  return { ip: a.value, port: e.ports.find((x) => x.ip === a.value) };
}

const inSubnet = (a: number, net: number, prefix: number): boolean =>
  prefix === 0 || (a >>> (32 - prefix)) === (net >>> (32 - prefix));

/**
 * The destination MAC the source container would use: the destination's own MAC on its subnet,
 * else its gateway's (the router port on its network). An on-subnet address no port holds (a
 * host behind an uplink) would need ARP, which a trace does not resolve.
 */
export function nextHopMac(topology: Topology, from: TracePort, to: Destination): { mac: string; via: string } {
  if (inSubnet(to.ip, from.ip, from.prefix)) {
    const gw = topology.routers.flatMap((r) => r.ports.map((p) => ({ r, p }))).find(({ p }) => p.network === from.network && p.ip === to.ip);
    if (gw) return { mac: gw.p.mac, via: `router ${gw.r.name} (its own address)` };
    if (to.port && to.port.network === from.network && to.port.mac !== ZERO_MAC) return { mac: to.port.mac, via: `${to.port.name} (same network)` };
    throw new InputError(`--to ${formatAddr(to.ip)}: no port of network ${from.network} with a known MAC holds this address ` +
      '(a trace does not resolve addresses by ARP: name a container of the topology)');
  }
  const gw = topology.routers.flatMap((r) => r.ports.map((p) => ({ r, p }))).find(({ p }) => p.network === from.network);
  if (!gw) throw new InputError(`--to ${formatAddr(to.ip)}: off network ${from.network}, which has no router`);
  return { mac: gw.p.mac, via: `gateway ${formatAddr(gw.p.ip)} (router ${gw.r.name})` };
}
