/**
 * get and stats: the state of applied topologies, read back from the kernel (pinned maps and
 * links) and named with the ids pinned with them. The core shows interfaces and counters; every
 * VNF module adds its own sections (FDB, routes, neighbours, firewall rules, ...).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { BpfMap } from '../bpf/map.js';
import { formatAddr } from '../spec/ipv4.js';
import { unhex } from '../model/desired.js';
import { u32 } from '../codec/struct.js';
import { checkTopologyName, pinDir } from '../model/names.js';
import { listTopologies, observe, observeLinks, readRaw, type Observed } from '../observe/kernel.js';
import { peekRecord, peekRecordMeta } from '../state/store.js';
import {
  chainCodec, portCodec, portStatsKeyCodec, REASONS, sumCounters, VNF_MAX_REASONS, VNF_PORT_F_ATTACHED, VNF_PORT_F_OVERLAY, VNF_PORT_F_SPOOFCHK, VNF_R_DROP_BASE,
} from '../vnf/common/codec.js';
import { VNF_MAP_CHAINS, VNF_MAP_PORTS, VNF_MAP_PORT_STATS, VNF_MAP_STATS } from '../abi/vnf_common.js';
import { VNFS, vnfName } from '../vnf/registry.js';
import type { StatusReader, StatusSection } from '../vnf/types.js';
import type { Topology } from '../spec/model.js';
import { InputError } from './errors.js';
import { nameView } from './topology.js';

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
  ip: string | null;
  mac: string | null;
  chainIn: string[];
  chainOut: string[];
  links: string[];
}

export interface TopologyStatus {
  name: string;
  file?: string;
  interfaces: InterfaceStatus[];
  /** Sections of the VNF modules, in registry order. */
  sections: StatusSection[];
}

export function requireTopology(name: string): void {
  checkTopologyName(name);
  if (!listTopologies().includes(name)) throw new InputError(`no applied topology named ${name} (applied: ${listTopologies().join(', ') || 'none'})`);
}

export function listStatus(): TopologySummary[] {
  return listTopologies().map((name) => {
    const rec = peekRecordMeta(name);
    const path = join(pinDir(name), VNF_MAP_PORTS);
    let interfaces = 0;
    if (existsSync(path)) {
      const m = BpfMap.openPinned(path);
      interfaces = m.keys().length;
      m.close();
    }
    return { name, ...(rec?.file ? { file: rec.file } : {}), lab: rec?.lab ?? false, interfaces, ...(rec ? { appliedAt: rec.appliedAt } : {}) };
  });
}

/** What a module's status view reads. */
export function statusReader(name: string, actual: Observed, known?: Topology): StatusReader {
  const dir = pinDir(name);
  let topology = known;
  let read = known !== undefined;
  return {
    names: nameView(actual),
    // Read from the record when a section asks: stats never need it.
    get topology() {
      if (!read) {
        topology = peekRecord(name)?.topology;
        read = true;
      }
      return topology;
    },
    entries: (map) => (actual.pinned.has(map) ? readRaw(join(dir, map)) ?? [] : []),
    counter(map, value) {
      const info = actual.pinned.get(map);
      if (!info?.perCpu) return sumCounters([value]);
      // One 8-byte-aligned slot per possible CPU.
      const slot = Math.ceil(info.valueSize / 8) * 8;
      const slots: Buffer[] = [];
      for (let off = 0; off + slot <= value.length; off += slot) slots.push(value.subarray(off, off + info.valueSize));
      return sumCounters(slots);
    },
    now: process.hrtime.bigint(), // CLOCK_MONOTONIC, the clock of bpf_ktime_get_ns()
  };
}

export function topologyStatus(name: string): TopologyStatus {
  requireTopology(name);
  const actual = observe(name);
  const rec = peekRecord(name);
  const r = statusReader(name, actual, rec?.topology);
  const chains = actual.entries(VNF_MAP_CHAINS) ?? new Map<string, Buffer>();
  const chainNames = (id: number): string[] => {
    const v = chains.get(u32(id).toString('hex'));
    if (!v) return [`missing chain ${id}`];
    const c = chainCodec.decode(v);
    return c.vnf.slice(0, c.len).map((x) => vnfName(x));
  };
  const fileOwner = new Map((rec?.topology.containers ?? []).flatMap((c) => c.interfaces.map((i) => [`${i.network}/${i.mac}`, `${c.name}/${i.name}`] as const)));
  const links = observeLinks(name);
  const interfaces: InterfaceStatus[] = [];
  for (const [k, v] of actual.entries(VNF_MAP_PORTS) ?? []) {
    const ifindex = unhex(k).readUInt32LE(0);
    const p = portCodec.decode(v);
    // The overlay device carries every stretched network (by VNI), and is a port of none.
    const network = p.flags & VNF_PORT_F_OVERLAY ? '(overlay)' : r.names.network(p.network);
    interfaces.push({
      ifname: r.names.ifname(ifindex), ifindex,
      owner: p.flags & VNF_PORT_F_ATTACHED ? 'attached' : p.flags & VNF_PORT_F_OVERLAY ? 'overlay' : !(p.flags & VNF_PORT_F_SPOOFCHK) ? 'uplink' : fileOwner.get(`${network}/${p.mac}`) ?? 'file',
      network,
      ip: p.ip ? `${formatAddr(p.ip)}/${p.prefix}` : null,
      mac: p.mac === '00:00:00:00:00:00' ? null : p.mac,
      chainIn: chainNames(p.chain_in),
      chainOut: chainNames(p.chain_out),
      links: links.filter((l) => l.ifindex === ifindex).map((l) => l.direction),
    });
  }
  interfaces.sort((a, b) => a.ifname.localeCompare(b.ifname));
  const sections = VNFS.flatMap((v) => v.status?.(r) ?? []);
  return { name, ...(rec?.file ? { file: rec.file } : {}), interfaces, sections };
}

export interface Stats {
  name: string;
  vnfs: Array<{ vnf: string; reason: string; verdict: 'pass' | 'drop'; packets: bigint; bytes: bigint }>;
  ports: Array<{ ifname: string; direction: 'rx' | 'tx'; packets: bigint; bytes: bigint }>;
}

export function topologyStats(name: string): Stats {
  requireTopology(name);
  return { name, ...statsOf(statusReader(name, observe(name))) };
}

/** The counters per VNF and reason (those that counted something) and per port and direction. */
export function statsOf(r: StatusReader): Omit<Stats, 'name'> {
  const vnfs: Stats['vnfs'] = [];
  for (const [k, v] of r.entries(VNF_MAP_STATS)) {
    const c = r.counter(VNF_MAP_STATS, v);
    if (c.packets === 0n) continue;
    const idx = k.readUInt32LE(0);
    const reason = idx % VNF_MAX_REASONS;
    vnfs.push({ vnf: vnfName(Math.floor(idx / VNF_MAX_REASONS)), reason: REASONS[reason] ?? `reason-${reason}`, verdict: reason >= VNF_R_DROP_BASE ? 'drop' : 'pass', ...c });
  }
  const ports: Stats['ports'] = [];
  for (const [k, v] of r.entries(VNF_MAP_PORT_STATS)) {
    const key = portStatsKeyCodec.decode(k);
    ports.push({ ifname: r.names.ifname(key.ifindex), direction: key.dir === 0 ? 'rx' : 'tx', ...r.counter(VNF_MAP_PORT_STATS, v) });
  }
  ports.sort((a, b) => a.ifname.localeCompare(b.ifname) || a.direction.localeCompare(b.direction));
  return { vnfs, ports };
}
