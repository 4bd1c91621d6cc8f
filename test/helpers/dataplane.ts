/**
 * A vnf dataplane for BPF_PROG_TEST_RUN tests: the real objects
 * (build/bpf/{entry,bridge,router,firewall,nat}.bpf.o, as a test asks) loaded with their shared maps pinned
 * under a fresh bpffs folder, program slots filled, plus helpers to write the
 * map entries the control plane would write and to read the counters.
 *
 * Test runs need real devices for ctx.ifindex (the kernel looks the index up),
 * so ports are veth interfaces created by the test and removed at teardown.
 */
import type { Test } from 'tap';
import { existsSync } from 'node:fs';
import { BpfObject } from '../../src/bpf/object.js';
import type { BpfMap } from '../../src/bpf/map.js';
import { skbContext } from '../../src/bpf/skb.js';
import { native, type NativeProgram, type NativeTestRunResult } from '../../src/native/binding.js';
import { u32 } from '../../src/codec/struct.js';
import {
  chain, chainCodec, counterCodec, floodKeyCodec, networkCodec, portCodec, portStatsKeyCodec, statsIndex, sumCounters,
  VNF_ID_DELIVER, type Counter, type NetworkEntry, type Port,
} from '../../src/vnf/common/codec.js';
import { fdbEntryCodec, fdbKeyCodec, VNF_FDB_F_STATIC, VNF_ID_BRIDGE, type FdbEntry } from '../../src/vnf/bridge/codec.js';
import {
  icmpRlCodec, neighCodec, neighKeyCodec, routeCodec, routeKey, routeKeyCodec, routerCfgCodec, VNF_ID_ROUTER, VNF_NEIGH_F_STATIC,
  VNF_ROUTER_CFG_F_SET, VNF_NEIGH_DEF_FAILED_MS, VNF_NEIGH_DEF_MCAST_PROBES, VNF_NEIGH_DEF_REACHABLE_MS, VNF_NEIGH_DEF_RETRANS_MS,
  VNF_NEIGH_DEF_UCAST_PROBES, VNF_ICMP_DEF_RATELIMIT_MS, type IcmpRl, type NeighEntry, type RouteEntry, type RouterCfg,
} from '../../src/vnf/router/codec.js';
import { VNF_ID_OVERLAY } from '../../src/vnf/overlay/codec.js';
import { tempPinDir } from './objects.js';
import { vnfObject } from './paths.js';
import { createNetns, nsExec, randomName } from './netns.js';
import { run, sh } from './sh.js';

export interface TestPort {
  name: string;
  ifindex: number;
  /** The scratch namespace holding its peer, and the peer's name there. */
  ns: string;
  peer: string;
}

/**
 * Creates `n` ports: veth pairs whose host ends (returned) sit in this
 * namespace and whose other ends sit in a scratch namespace. IPv6 is off on
 * both so no router solicitation or MLD report crosses a hook uninvited.
 * (This kernel has no dummy device driver.) Removed at teardown.
 */
export function createPorts(t: Test, n: number): TestPort[] {
  const ns = createNetns(t, 'vtp');
  nsExec(ns, ['sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1']);
  const out: TestPort[] = [];
  for (let i = 0; i < n; i++) {
    const name = randomName('vtp');
    t.teardown(() => {
      run('ip', ['link', 'del', name]);
    });
    sh('ip', ['link', 'add', name, 'type', 'veth', 'peer', 'name', `c${i}`, 'netns', ns]);
    sh('sysctl', ['-qw', `net.ipv6.conf.${name}.disable_ipv6=1`]);
    sh('ip', ['link', 'set', name, 'up']);
    nsExec(ns, ['ip', 'link', 'set', `c${i}`, 'up']);
    out.push({ name, ifindex: native.ifindex(name), ns, peer: `c${i}` });
  }
  return out;
}


export const SLOTS: Record<string, { object: string; program: string; slot: number }> = {
  deliver: { object: 'entry', program: 'vnf_deliver', slot: VNF_ID_DELIVER },
  bridge: { object: 'bridge', program: 'vnf_bridge', slot: VNF_ID_BRIDGE },
  router: { object: 'router', program: 'vnf_router', slot: VNF_ID_ROUTER },
  firewall: { object: 'firewall', program: 'vnf_firewall', slot: 4 },
  nat: { object: 'nat', program: 'vnf_nat', slot: 5 },
  overlay: { object: 'overlay', program: 'vnf_overlay', slot: VNF_ID_OVERLAY },
};

export class TestDataplane {
  readonly objects = new Map<string, BpfObject>();
  private nextChain = 1;

  constructor(readonly pinRoot: string) {}

  map(name: string): BpfMap {
    for (const o of this.objects.values()) {
      try {
        return o.map(name);
      } catch {
        /* not in this object */
      }
    }
    throw new Error(`no loaded object has map ${name}`);
  }

  program(name: string): NativeProgram {
    for (const o of this.objects.values()) {
      const p = o.programs().find((x) => x.name === name);
      if (p) return p;
    }
    throw new Error(`no loaded object has program ${name}`);
  }

  /** Writes a chain under a fresh id and returns the id. */
  addChain(vnfs: number[]): number {
    const id = this.nextChain++;
    this.map('vnf_chains').update(u32(id), chainCodec.encode(chain(vnfs)));
    return id;
  }

  setPort(ifindex: number, p: Partial<Port> & { network: number }): void {
    const full: Port = {
      chain_in: p.chain_in ?? this.addChain([VNF_ID_BRIDGE]),
      chain_out: p.chain_out ?? this.addChain([VNF_ID_DELIVER]),
      flags: 0,
      ip: 0,
      mac: '00:00:00:00:00:00',
      prefix: 0,
      ...p,
    };
    this.map('vnf_ports').update(u32(ifindex), portCodec.encode(full));
  }

  /** Sets a network and its flood list (under a new version). */
  setNetwork(id: number, n: Partial<NetworkEntry> & { ports?: number[] }): void {
    const version = (n.flood_version ?? 0) || this.nextChain++;
    const ports = n.ports ?? [];
    ports.forEach((ifindex, index) =>
      this.map('vnf_flood').update(floodKeyCodec.encode({ network: id, version, index }), u32(ifindex)));
    const entry: NetworkEntry = {
      fdb_aging_sec: 300,
      router_id: 0,
      router_ip: 0,
      router_mac: '00:00:00:00:00:00',
      router_prefix: 0,
      ...n,
      flood_version: version,
      flood_count: ports.length,
    };
    this.map('vnf_networks').update(u32(id), networkCodec.encode(entry));
  }

  /** A static entry (flags STATIC) goes to vnf_fdb_static, as the control plane writes it; others are "learned". */
  setFdb(network: number, mac: string, e: Partial<FdbEntry> & { ifindex: number }): void {
    const entry = { flags: 0, updated_ns: 0n, ...e };
    this.map(entry.flags & VNF_FDB_F_STATIC ? 'vnf_fdb_static' : 'vnf_fdb').update(fdbKeyCodec.encode({ network, mac }), fdbEntryCodec.encode(entry));
  }

  /** The static entry of (network, mac), or else the learned one. */
  fdb(network: number, mac: string): FdbEntry | null {
    const k = fdbKeyCodec.encode({ network, mac });
    const v = this.map('vnf_fdb_static').lookup(k) ?? this.map('vnf_fdb').lookup(k);
    return v ? fdbEntryCodec.decode(v) : null;
  }

  /** The learned entry only. */
  learnedFdb(network: number, mac: string): FdbEntry | null {
    const v = this.map('vnf_fdb').lookup(fdbKeyCodec.encode({ network, mac }));
    return v ? fdbEntryCodec.decode(v) : null;
  }

  setRoute(routerId: number, addr: number, prefix: number, r: Omit<RouteEntry, 'addr' | 'prefixlen'>): void {
    this.map('vnf_routes').update(routeKeyCodec.encode(routeKey(routerId, addr, prefix)), routeCodec.encode({ ...r, addr, prefixlen: prefix }));
  }

  /** A static neighbour (flags STATIC, the default) goes to vnf_neigh_static; others are "learned". */
  setNeigh(network: number, ip: number, n: Partial<NeighEntry> & { mac: string }): void {
    const entry = { updated_ns: 0n, flags: VNF_NEIGH_F_STATIC, ...n };
    this.map(entry.flags & VNF_NEIGH_F_STATIC ? 'vnf_neigh_static' : 'vnf_neigh').update(neighKeyCodec.encode({ network, ip }), neighCodec.encode(entry));
  }

  /** The static neighbour, or else the learned one. */
  neigh(network: number, ip: number): NeighEntry | null {
    const k = neighKeyCodec.encode({ network, ip });
    const v = this.map('vnf_neigh_static').lookup(k) ?? this.map('vnf_neigh').lookup(k);
    return v ? neighCodec.decode(v) : null;
  }

  /** The learned entry only (vnf_neigh). */
  learnedNeigh(network: number, ip: number): NeighEntry | null {
    const v = this.map('vnf_neigh').lookup(neighKeyCodec.encode({ network, ip }));
    return v ? neighCodec.decode(v) : null;
  }

  /** The entry of a next hop being resolved or that failed (vnf_neigh_pend). */
  pendingNeigh(network: number, ip: number): NeighEntry | null {
    const v = this.map('vnf_neigh_pend').lookup(neighKeyCodec.encode({ network, ip }));
    return v ? neighCodec.decode(v) : null;
  }

  /**
   * Rewrites a learned ('vnf_neigh') or pending ('vnf_neigh_pend') entry, e.g. to move its times
   * into the past (nanoseconds on CLOCK_MONOTONIC, the clock of bpf_ktime_get_ns: see now()).
   */
  editNeigh(map: 'vnf_neigh' | 'vnf_neigh_pend', network: number, ip: number, f: (e: NeighEntry) => Partial<NeighEntry>): NeighEntry {
    const m = this.map(map);
    const k = neighKeyCodec.encode({ network, ip });
    const v = m.lookup(k);
    if (!v) throw new Error(`no ${map} entry for ${network}/${ip}`);
    const e = neighCodec.decode(v);
    const next = { ...e, ...f(e) };
    m.update(k, neighCodec.encode(next));
    return next;
  }

  /** Router settings (vnf_router_cfg[0]); unset fields are Linux's defaults. */
  setRouterCfg(c: Partial<RouterCfg>): void {
    const full: RouterCfg = {
      flags: VNF_ROUTER_CFG_F_SET,
      reachable_ms: VNF_NEIGH_DEF_REACHABLE_MS,
      retrans_ms: VNF_NEIGH_DEF_RETRANS_MS,
      failed_ms: VNF_NEIGH_DEF_FAILED_MS,
      icmp_ratelimit_ms: VNF_ICMP_DEF_RATELIMIT_MS,
      ucast_probes: VNF_NEIGH_DEF_UCAST_PROBES,
      mcast_probes: VNF_NEIGH_DEF_MCAST_PROBES,
      ...c,
    };
    this.map('vnf_router_cfg').update(u32(0), routerCfgCodec.encode(full));
  }

  /** The ICMP rate limit's bucket of a host, or null. */
  icmpRl(network: number, ip: number): IcmpRl | null {
    const v = this.map('vnf_icmp_rl').lookup(neighKeyCodec.encode({ network, ip }));
    return v ? icmpRlCodec.decode(v) : null;
  }

  /** Sum over CPUs of vnf_stats[vnf][reason]. */
  stat(vnfId: number, reason: number): Counter {
    const m = this.map('vnf_stats');
    return sumCounters(m.splitPerCpu(m.lookup(u32(statsIndex(vnfId, reason)))!));
  }

  portStat(ifindex: number, dir: number): Counter {
    const m = this.map('vnf_port_stats');
    const v = m.lookup(portStatsKeyCodec.encode({ ifindex, dir }));
    return v ? sumCounters(m.splitPerCpu(v)) : { packets: 0n, bytes: 0n };
  }

  /** Runs a packet as if it arrived from the container behind `ifindex` (tcx ingress of its host veth). */
  runFrom(ifindex: number, data: Buffer): NativeTestRunResult {
    return this.program('vnf_entry_in').testRun({ data, ctx: skbContext({ ifindex }) });
  }

  /** Runs a packet through a port's egress hook (as a flooded clone would). */
  runEgress(ifindex: number, data: Buffer): NativeTestRunResult {
    return this.program('vnf_entry_out').testRun({ data, ctx: skbContext({ ifindex }) });
  }

  close(): void {
    for (const o of this.objects.values()) o.close();
  }
}

/**
 * Loads the given dataplane objects (default: every one that is built among
 * entry, bridge, router) and fills their program slots.
 */
export async function loadDataplane(t: Test, objects = ['entry', 'bridge', 'router']): Promise<TestDataplane> {
  const dp = new TestDataplane(tempPinDir(t));
  t.teardown(() => dp.close());
  for (const name of objects) {
    const file = vnfObject(name);
    if (!existsSync(file)) throw new Error(`${file} is not built: run make`);
    dp.objects.set(name, await BpfObject.load(file, { pinRoot: dp.pinRoot }));
  }
  const progs = dp.map('vnf_progs');
  for (const s of Object.values(SLOTS)) {
    if (!dp.objects.has(s.object)) continue;
    progs.update(u32(s.slot), u32(dp.objects.get(s.object)!.program(s.program).fd));
  }
  return dp;
}

export { counterCodec };

/** Now on CLOCK_MONOTONIC in nanoseconds: the clock of bpf_ktime_get_ns() and of the neighbour entries' times. */
export const now = (): bigint => process.hrtime.bigint();
