/**
 * Connection tracking, shared by the firewall and NAT: one table per topology, entries zoned by
 * the port whose policy tracks them (bpf/include/vnf/conntrack.h). The control plane writes the
 * timeouts and the per-port quotas, and removes the entries and counters of ports that are gone;
 * the dataplane owns the rest, reclaiming expired entries itself (its collector, ct_gc.h): no
 * process needs to run for the table to stay clean.
 */
import { u32 } from '../../codec/struct.js';
import { put, type MapEntries } from '../../model/desired.js';
import type { Topology } from '../../spec/model.js';
import {
  VNF_CT_GC_SIZE, VNF_CT_LOCKS, VNF_CT_MAX, VNF_CT_SLOTS, VNF_CT_STAT_MAX, VNF_CT_ZONES, VNF_MAP_CT, VNF_MAP_CT_CFG,
  VNF_MAP_CT_GC, VNF_MAP_CT_LOCK, VNF_MAP_CT_SLOTS, VNF_MAP_CT_STATS, VNF_MAP_CT_ZONE, VNF_CT_ZONE_NAT,
} from '../../abi/conntrack.js';
import type { CompileContext, Live, MetricSample, MetricsDecl, NameView, StatusReader, StatusSection, VnfModule } from '../types.js';
import { CT_STATS, ctCfgCodec, ctEntryCodec, ctKeyCodec, ctSlotCodec, ctZoneCodec, timeoutTable } from './codec.js';
import { conntrackOf, type ConntrackModel } from './model.js';
import { conntrackSpec } from './spec.js';

/** vnf_ct_cfg[0] of a topology's settings (gc_interval_ms 0: the kernel's default period). */
export function ctCfgValue(m: ConntrackModel): Buffer {
  return ctCfgCodec.encode({ timeout: timeoutTable(m.timeouts), max_assured: m.maxPerPort, max_new: m.maxNewPerPort, gc_interval_ms: 0 });
}

function entries(ctx: CompileContext): Record<string, MapEntries> {
  const cfg: MapEntries = new Map();
  put(cfg, u32(0), ctCfgValue(conntrackOf(ctx.topology)));
  return { [VNF_MAP_CT_CFG]: cfg };
}

/**
 * Zone = the ifindex of the tracking port (the firewall): its connections and its counter go with
 * it. A zone with VNF_CT_ZONE_NAT is a router's NAT (VNF_NAT_ZONE(router id), never an ifindex):
 * its connections go with the router.
 */
export function keepZone(key: Buffer, _v: Buffer, live: Live): boolean {
  const zone = key.readUInt32LE(0);
  if (zone & VNF_CT_ZONE_NAT) return live.routers.has((zone & ~VNF_CT_ZONE_NAT) >>> 0);
  return live.ports.has(zone);
}

/** A zone as `get` shows it: the tracking port's name, or the NAT of a router. */
const zoneName = (zone: number, names: NameView): string =>
  zone & VNF_CT_ZONE_NAT ? `nat ${names.router((zone & ~VNF_CT_ZONE_NAT) >>> 0)}` : names.ifname(zone);

/** Sums a per-CPU u64 counter (one 8-byte slot per possible CPU). */
function sumU64(v: Buffer): bigint {
  let n = 0n;
  for (let off = 0; off + 8 <= v.length; off += 8) n += v.readBigUInt64LE(off);
  return n;
}

function status(r: StatusReader): StatusSection[] {
  const t: Topology | undefined = r.topology;
  const m = t ? conntrackOf(t) : undefined;
  const zones: StatusSection['rows'] = [];
  for (const [k, v] of r.entries(VNF_MAP_CT_ZONE)) {
    const z = ctZoneCodec.decode(v);
    zones.push({
      ifname: zoneName(k.readUInt32LE(0), r.names),
      protected: z.assured,
      protectedMax: m?.maxPerPort ?? null,
      other: z.unassured,
      otherMax: m?.maxNewPerPort ?? null,
    });
  }
  zones.sort((a, b) => String(a['ifname']).localeCompare(String(b['ifname'])));
  const events: StatusSection['rows'] = [];
  for (const [k, v] of r.entries(VNF_MAP_CT_STATS)) {
    const i = k.readUInt32LE(0);
    const n = sumU64(v);
    if (n > 0n && CT_STATS[i]) events.push({ event: CT_STATS[i], count: n });
  }
  if (zones.length === 0 && events.length === 0) return [];
  return [
    { key: 'conntrack', title: 'Connection tracking per port', columns: ['ifname', 'protected', 'protectedMax', 'other', 'otherMax'], headers: ['interface', 'protected', 'protected max', 'other', 'other max'], rows: zones },
    { key: 'conntrackEvents', title: 'Connection tracking events', columns: ['event', 'count'], rows: events },
  ];
}

/** A count the kernel keeps by increments and decrements, as a gauge: never below 0. */
function occupancy(n: bigint): bigint {
  const v = BigInt.asIntN(64, n);
  return v > 0n ? v : 0n;
}

const metrics: MetricsDecl = {
  families: [
    {
      name: 'vnf_conntrack_entries', type: 'gauge', labels: ['zone', 'class'],
      help: 'Tracked connections per zone (zone: the tracking port, or "nat ROUTER"; class: protected = answered, kept under pressure; other = new and unanswered)',
    },
    {
      name: 'vnf_conntrack_entries_limit', type: 'gauge', labels: ['class'],
      help: 'Connections one zone may hold per class (settings.conntrack.maxPerPort and maxNewPerPort)',
    },
    { name: 'vnf_conntrack_events_total', type: 'counter', labels: ['event'], help: 'Connection tracking events counted by the kernel' },
  ],
  read(r) {
    const entries: MetricSample[] = [];
    for (const [k, v] of r.entries(VNF_MAP_CT_ZONE)) {
      const zone = zoneName(k.readUInt32LE(0), r.names);
      const z = ctZoneCodec.decode(v);
      entries.push({ labels: { zone, class: 'protected' }, value: occupancy(z.assured) }, { labels: { zone, class: 'other' }, value: occupancy(z.unassured) });
    }
    const cfg = r.entries(VNF_MAP_CT_CFG)[0]?.[1];
    const c = cfg ? ctCfgCodec.decode(cfg) : undefined;
    const events: MetricSample[] = [];
    for (const [k, v] of r.entries(VNF_MAP_CT_STATS)) {
      const event = CT_STATS[k.readUInt32LE(0)];
      if (event) events.push({ labels: { event }, value: sumU64(v) });
    }
    return {
      vnf_conntrack_entries: entries,
      vnf_conntrack_entries_limit: c ? [{ labels: { class: 'protected' }, value: c.max_assured }, { labels: { class: 'other' }, value: c.max_new }] : [],
      vnf_conntrack_events_total: events,
    };
  },
};

export const conntrackModule: VnfModule = {
  name: 'conntrack',
  spec: conntrackSpec,
  maps: [
    {
      name: VNF_MAP_CT_CFG, type: 'array', keySize: 4, valueSize: ctCfgCodec.size, maxEntries: 1,
      kind: 'config', stage: 'define', order: 50, describe: () => 'conntrack timeouts and quotas',
    },
    {
      name: VNF_MAP_CT, type: 'hash', keySize: ctKeyCodec.size, valueSize: ctEntryCodec.size, maxEntries: VNF_CT_MAX,
      kind: 'learned', keep: keepZone, dependsOn: ['ports', 'routers'],
    },
    // Per port (zone): how many of its entries hold a slot, by class. Swept with the port; a
    // counter created again starts from 0 and the kernel recounts what is left (a new gen).
    {
      name: VNF_MAP_CT_ZONE, type: 'hash', keySize: 4, valueSize: ctZoneCodec.size, maxEntries: VNF_CT_ZONES,
      kind: 'learned', keep: keepZone, dependsOn: ['ports', 'routers'],
    },
    // Locks serialising an entry's state changes and its removal (struct bpf_spin_lock).
    { name: VNF_MAP_CT_LOCK, type: 'array', keySize: 4, valueSize: 4, maxEntries: VNF_CT_LOCKS, kind: 'kernel' },
    // The index the kernel's collector walks, and the collector itself (a bpf_timer): the dataplane's alone.
    { name: VNF_MAP_CT_SLOTS, type: 'array', keySize: 4, valueSize: ctSlotCodec.size, maxEntries: VNF_CT_SLOTS, kind: 'kernel' },
    { name: VNF_MAP_CT_GC, type: 'array', keySize: 4, valueSize: VNF_CT_GC_SIZE, maxEntries: 1, kind: 'kernel' },
    // Event counters (enum vnf_ct_stat), per CPU; read by `vnf-ctl get`.
    { name: VNF_MAP_CT_STATS, type: 'percpu_array', keySize: 4, valueSize: 8, maxEntries: VNF_CT_STAT_MAX, kind: 'kernel' },
  ],
  entries,
  status,
  metrics,
};
