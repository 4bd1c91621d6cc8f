/**
 * get and stats: the state of applied topologies, read back from the kernel
 * (pinned maps and links) and named with the record of the applied file.
 */
import { join } from 'node:path';
import { BpfMap } from '../bpf/map.js';
import { formatAddr } from '../spec/index.js';
import { unhex } from '../model/desired.js';
import { u32 } from '../codec/struct.js';
import { pinDir } from '../model/names.js';
import { listTopologies, observeLinks, readMap } from '../observe/kernel.js';
import { interfaceNames } from '../observe/interfaces.js';
import { readRecord } from '../state/store.js';
import { chainCodec, portCodec, portStatsKeyCodec, REASONS, sumCounters, VNF_MAX_REASONS, VNF_PORT_F_ATTACHED, VNF_R_DROP_BASE } from '../vnf/common/codec.js';
import { fdbEntryCodec, fdbKeyCodec, VNF_FDB_F_STATIC } from '../vnf/bridge/codec.js';
import { neighCodec, neighKeyCodec, routeCodec, routeKeyCodec, VNF_NEIGH_F_STATIC } from '../vnf/router/codec.js';
import { vnfName } from '../vnf/registry.js';
import { InputError } from './errors.js';

export interface TopologySummary {
  name: string;
  file?: string;
  lab: boolean;
  interfaces: number;
  appliedAt?: string;
}

export interface InterfaceStatus {
  ifname: string;
  ifindex: number;
  owner: string;
  network: string;
  ip: string;
  mac: string;
  chainIn: string[];
  chainOut: string[];
  links: string[];
}

export interface TopologyStatus {
  name: string;
  file?: string;
  interfaces: InterfaceStatus[];
  fdb: Array<{ network: string; mac: string; ifname: string; kind: 'static' | 'learned'; ageSeconds?: number }>;
  routes: Array<{ router: string; to: string; via?: string; network: string }>;
  neighbours: Array<{ network: string; ip: string; mac: string; kind: 'static' | 'learned'; ageSeconds?: number }>;
}

function requireTopology(name: string): void {
  if (!listTopologies().includes(name)) throw new InputError(`no applied topology named ${name} (applied: ${listTopologies().join(', ') || 'none'})`);
}

export function listStatus(): TopologySummary[] {
  return listTopologies().map((name) => {
    const rec = readRecord(name);
    const ports = readMap(join(pinDir(name), 'vnf_ports'));
    return { name, ...(rec?.file ? { file: rec.file } : {}), lab: rec?.lab ?? false, interfaces: ports?.size ?? 0, ...(rec ? { appliedAt: rec.appliedAt } : {}) };
  });
}

const ageOf = (ns: bigint, now: bigint): number => Number((now - ns) / 1_000_000_000n);

export function topologyStatus(name: string): TopologyStatus {
  requireTopology(name);
  const rec = readRecord(name);
  const dir = pinDir(name);
  const names = interfaceNames();
  const netName = (id: number): string => rec?.topology.networks.find((n) => n.id === id)?.name ?? `#${id}`;
  const routers = (rec?.topology.routers ?? []).map((r) => r.name).sort();
  const now = process.hrtime.bigint(); // CLOCK_MONOTONIC, the clock of bpf_ktime_get_ns()
  const chains = readMap(join(dir, 'vnf_chains')) ?? new Map();
  const chainNames = (id: number): string[] => {
    const v = chains.get(u32(id).toString('hex'));
    if (!v) return [`missing chain ${id}`];
    const c = chainCodec.decode(v);
    return c.vnf.slice(0, c.len).map((x) => vnfName(x));
  };
  const links = observeLinks(name);
  const interfaces: InterfaceStatus[] = [];
  for (const [k, v] of readMap(join(dir, 'vnf_ports')) ?? []) {
    const ifindex = unhex(k).readUInt32LE(0);
    const p = portCodec.decode(v);
    const ifname = names.get(ifindex) ?? `#${ifindex}`;
    const c = rec?.topology.containers.flatMap((x) => x.interfaces).find((i) => i.networkId === p.network && i.mac === p.mac);
    interfaces.push({
      ifname, ifindex,
      owner: p.flags & VNF_PORT_F_ATTACHED ? 'attached' : c ? `${c.container}/${c.name}` : 'file',
      network: netName(p.network),
      ip: p.ip ? `${formatAddr(p.ip)}/${p.prefix}` : '-',
      mac: p.mac === '00:00:00:00:00:00' ? '-' : p.mac,
      chainIn: chainNames(p.chain_in),
      chainOut: chainNames(p.chain_out),
      links: links.filter((l) => l.ifindex === ifindex).map((l) => l.direction),
    });
  }
  interfaces.sort((a, b) => a.ifname.localeCompare(b.ifname));
  const fdb: TopologyStatus['fdb'] = [];
  for (const [k, v] of readMap(join(dir, 'vnf_fdb')) ?? []) {
    const key = fdbKeyCodec.decode(unhex(k));
    const e = fdbEntryCodec.decode(v);
    const isStatic = (e.flags & VNF_FDB_F_STATIC) !== 0;
    fdb.push({ network: netName(key.network), mac: key.mac, ifname: names.get(e.ifindex) ?? `#${e.ifindex}`, kind: isStatic ? 'static' : 'learned', ...(isStatic ? {} : { ageSeconds: ageOf(e.updated_ns, now) }) });
  }
  const routes: TopologyStatus['routes'] = [];
  for (const [k, v] of readMap(join(dir, 'vnf_routes')) ?? []) {
    const key = routeKeyCodec.decode(unhex(k));
    const r = routeCodec.decode(v);
    routes.push({ router: routers[key.router_id - 1] ?? `#${key.router_id}`, to: `${formatAddr(key.addr)}/${key.prefixlen - 32}`, ...(r.nexthop ? { via: formatAddr(r.nexthop) } : {}), network: netName(r.network) });
  }
  const neighbours: TopologyStatus['neighbours'] = [];
  for (const [k, v] of readMap(join(dir, 'vnf_neigh')) ?? []) {
    const key = neighKeyCodec.decode(unhex(k));
    const n = neighCodec.decode(v);
    const isStatic = (n.flags & VNF_NEIGH_F_STATIC) !== 0;
    neighbours.push({ network: netName(key.network), ip: formatAddr(key.ip), mac: n.mac, kind: isStatic ? 'static' : 'learned', ...(isStatic ? {} : { ageSeconds: ageOf(n.updated_ns, now) }) });
  }
  fdb.sort((a, b) => a.network.localeCompare(b.network) || a.mac.localeCompare(b.mac));
  routes.sort((a, b) => a.router.localeCompare(b.router) || a.to.localeCompare(b.to));
  neighbours.sort((a, b) => a.network.localeCompare(b.network) || a.ip.localeCompare(b.ip));
  return { name, ...(rec?.file ? { file: rec.file } : {}), interfaces, fdb, routes, neighbours };
}

export interface Stats {
  name: string;
  vnfs: Array<{ vnf: string; reason: string; verdict: 'pass' | 'drop'; packets: bigint; bytes: bigint }>;
  ports: Array<{ ifname: string; direction: 'rx' | 'tx'; packets: bigint; bytes: bigint }>;
  routes: Array<{ router: string; to: string; packets: bigint; bytes: bigint }>;
}

export function topologyStats(name: string): Stats {
  requireTopology(name);
  const dir = pinDir(name);
  const names = interfaceNames();
  const vnfs: Stats['vnfs'] = [];
  const stats = BpfMap.openPinned(join(dir, 'vnf_stats'));
  try {
    for (const [k, v] of stats.entries()) {
      const c = sumCounters(stats.splitPerCpu(v));
      if (c.packets === 0n) continue;
      const idx = k.readUInt32LE(0);
      const reason = idx % VNF_MAX_REASONS;
      vnfs.push({ vnf: vnfName(Math.floor(idx / VNF_MAX_REASONS)), reason: REASONS[reason] ?? `reason-${reason}`, verdict: reason >= VNF_R_DROP_BASE ? 'drop' : 'pass', ...c });
    }
  } finally {
    stats.close();
  }
  const ports: Stats['ports'] = [];
  const ps = BpfMap.openPinned(join(dir, 'vnf_port_stats'));
  try {
    for (const [k, v] of ps.entries()) {
      const key = portStatsKeyCodec.decode(k);
      ports.push({ ifname: names.get(key.ifindex) ?? `#${key.ifindex}`, direction: key.dir === 0 ? 'rx' : 'tx', ...sumCounters(ps.splitPerCpu(v)) });
    }
  } finally {
    ps.close();
  }
  ports.sort((a, b) => a.ifname.localeCompare(b.ifname) || a.direction.localeCompare(b.direction));
  const rec = readRecord(name);
  const routes: Stats['routes'] = [];
  const rs = readMap(join(dir, 'vnf_route_stats'));
  if (rs) {
    const rsMap = BpfMap.openPinned(join(dir, 'vnf_route_stats'));
    try {
      const routers = (rec?.topology.routers ?? []).map((r) => r).sort((a, b) => a.name.localeCompare(b.name));
      for (const [k, v] of rs) {
        const id = unhex(k).readUInt32LE(0);
        const r = routers[(id >>> 16) - 1];
        const route = r?.routes[id & 0xffff];
        routes.push({ router: r?.name ?? `#${id >>> 16}`, to: route ? `${formatAddr(route.to.addr)}/${route.to.prefix}` : `#${id & 0xffff}`, ...sumCounters(rsMap.splitPerCpu(v)) });
      }
    } finally {
      rsMap.close();
    }
  }
  return { name, vnfs, ports, routes };
}
