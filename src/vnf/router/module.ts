/**
 * The router VNF: routes per router (LPM keyed by the router's stable id), static neighbours of
 * declared ports (a plain hash looked up first), learned neighbours (LRU) and next hops being
 * resolved (LRU of their own), both kept while their network exists, the settings of the
 * neighbour state machine and of the ICMP rate limit (settings.router), and per-route counters
 * keyed by what the route is.
 */
import { u32 } from '../../codec/struct.js';
import { put, type MapEntries } from '../../model/desired.js';
import { formatAddr } from '../../spec/ipv4.js';
import {
  VNF_MAP_ICMP_RL, VNF_MAP_NEIGH, VNF_MAP_NEIGH_LOCK, VNF_MAP_NEIGH_PEND, VNF_MAP_NEIGH_STATIC, VNF_MAP_ROUTER_CFG,
  VNF_MAP_ROUTES, VNF_MAP_ROUTE_STATS,
} from '../../abi/router.js';
import { counterCodec } from '../common/codec.js';
import type { CompileContext, MapDecl, MetricsDecl, NameView, StatusReader, StatusSection, VnfModule } from '../types.js';
import {
  icmpRlCodec, NEIGH_STATES, neighCodec, neighKeyCodec, routeCodec, routeKey, routeKeyCodec, routerCfgCodec, routeStatsKeyCodec,
  VNF_ICMP_RL_MAX, VNF_ID_ROUTER, VNF_NEIGH_F_STATIC, VNF_NEIGH_LOCKS, VNF_NEIGH_MAX, VNF_NEIGH_PEND_MAX, VNF_NEIGH_REACHABLE,
  VNF_NEIGH_STALE, VNF_NEIGH_STATIC_MAX, VNF_ROUTE_F_CONNECTED, VNF_ROUTE_F_STATIC, VNF_ROUTER_CFG_F_SET, VNF_ROUTES_MAX,
  type RouterCfg,
} from './codec.js';
import { DEFAULT_ROUTER_MODEL, routerSettingsOf, type RouterModel } from './model.js';
import { routerSpec } from './spec.js';
import { overlayOf } from '../overlay/model.js';

function cfgOf(m: RouterModel): RouterCfg {
  const n = m.neighbours;
  return {
    flags: VNF_ROUTER_CFG_F_SET, reachable_ms: n.reachableMs, retrans_ms: n.retransMs, failed_ms: n.failedMs,
    icmp_ratelimit_ms: m.icmpRatelimitMs, ucast_probes: n.unicastProbes, mcast_probes: n.broadcastProbes,
  };
}

function entries(ctx: CompileContext): Record<string, MapEntries> {
  const routes: MapEntries = new Map();
  const neigh: MapEntries = new Map();
  for (const r of ctx.topology.routers) {
    const id = ctx.routerId(r.name);
    for (const route of r.routes) {
      put(routes, routeKeyCodec.encode(routeKey(id, route.to.addr, route.to.prefix)), routeCodec.encode({
        network: ctx.networkId(route.network),
        nexthop: route.via ?? 0,
        addr: route.to.addr,
        prefixlen: route.to.prefix,
        flags: route.kind === 'connected' ? VNF_ROUTE_F_CONNECTED : VNF_ROUTE_F_STATIC,
      }));
    }
  }
  const routed = new Set(ctx.topology.routers.flatMap((r) => r.ports.map((p) => ctx.networkId(p.network))));
  for (const p of ctx.ports) {
    if (!p.mac || !p.ip || !routed.has(p.networkId)) continue;
    put(neigh, neighKeyCodec.encode({ network: p.networkId, ip: p.ip }), neighCodec.encode({
      updated_ns: 0n, mac: p.mac, flags: VNF_NEIGH_F_STATIC,
    }));
  }
  // Endpoints on other hosts: this host routes for them too (the anycast gateway), and the
  // routed frame leaves through the overlay once (the bridge's REMOTE entry).
  const o = overlayOf(ctx.topology);
  if (o && ctx.ports.some((p) => p.source === 'overlay')) {
    const live = new Set(o.hosts.map((h) => h.name));
    const networks = new Set(ctx.topology.networks.map((n) => n.name));
    for (const r of o.remotes) {
      if (!r.ip || !live.has(r.host) || !networks.has(r.network) || o.vnis[r.network] === undefined) continue;
      const id = ctx.networkId(r.network);
      if (!routed.has(id)) continue;
      put(neigh, neighKeyCodec.encode({ network: id, ip: r.ip }), neighCodec.encode({ updated_ns: 0n, mac: r.mac, flags: VNF_NEIGH_F_STATIC }));
    }
  }
  const cfg: MapEntries = new Map();
  put(cfg, u32(0), routerCfgCodec.encode(cfgOf(routerSettingsOf(ctx.topology))));
  return { [VNF_MAP_ROUTES]: routes, [VNF_MAP_NEIGH_STATIC]: neigh, [VNF_MAP_ROUTER_CFG]: cfg };
}

function describeNeigh(key: Buffer, value: Buffer | undefined, names: NameView): string {
  const k = neighKeyCodec.decode(key);
  const head = `neighbour ${names.network(k.network)} ${formatAddr(k.ip)}`;
  if (!value) return head;
  const n = neighCodec.decode(value);
  return n.state === VNF_NEIGH_REACHABLE || n.state === VNF_NEIGH_STALE || n.flags & VNF_NEIGH_F_STATIC ? `${head} is ${n.mac}` : `${head} ${NEIGH_STATES[n.state ?? 0] ?? ''}`;
}

const neighMap = (name: string, type: MapDecl['type'], maxEntries: number): Omit<MapDecl, 'kind'> => ({
  name, type, keySize: neighKeyCodec.size, valueSize: neighCodec.size, maxEntries, describe: describeNeigh,
});

/** Learned state keyed by (network, address) goes with its network. */
const keepWithNetwork = (key: Buffer, _v: Buffer, live: { networks: ReadonlySet<number> }): boolean => live.networks.has(neighKeyCodec.decode(key).network);

/** Every route in the kernel with its counters (0 before its first packet), sorted by router and destination. */
/** Routes with their counters; `via` is null for a connected route. */
function routeHits(r: StatusReader): Array<{ router: string; to: string; via: string | null; network: string; packets: bigint; bytes: bigint }> {
  const hits = new Map<string, { packets: bigint; bytes: bigint }>();
  for (const [k, v] of r.entries(VNF_MAP_ROUTE_STATS)) {
    const s = routeStatsKeyCodec.decode(k);
    hits.set(`${s.router_id}/${s.addr}/${s.prefixlen}`, r.counter(VNF_MAP_ROUTE_STATS, v));
  }
  const routes = r.entries(VNF_MAP_ROUTES).map(([k, v]) => {
    const key = routeKeyCodec.decode(k);
    const route = routeCodec.decode(v);
    const h = hits.get(`${key.router_id}/${key.addr}/${key.prefixlen - 32}`);
    return {
      router: r.names.router(key.router_id), to: `${formatAddr(key.addr)}/${key.prefixlen - 32}`,
      via: route.nexthop ? formatAddr(route.nexthop) : null, network: r.names.network(route.network),
      packets: h?.packets ?? 0n, bytes: h?.bytes ?? 0n,
    };
  });
  return routes.sort((a, b) => a.router.localeCompare(b.router) || a.to.localeCompare(b.to));
}

const metrics: MetricsDecl = {
  families: [
    { name: 'vnf_route_packets_total', help: 'Packets routed by a route (to: its destination prefix)', type: 'counter', labels: ['router', 'to'] },
    { name: 'vnf_route_bytes_total', help: 'Bytes routed by a route (to: its destination prefix)', type: 'counter', labels: ['router', 'to'] },
  ],
  read(r) {
    const routes = routeHits(r);
    return {
      vnf_route_packets_total: routes.map((x) => ({ labels: { router: x.router, to: x.to }, value: x.packets })),
      vnf_route_bytes_total: routes.map((x) => ({ labels: { router: x.router, to: x.to }, value: x.bytes })),
    };
  },
};

function status(r: StatusReader): StatusSection[] {
  const routes: StatusSection['rows'] = routeHits(r);
  // State and age as the dataplane judges them: a learned REACHABLE entry older than the
  // reachable time is STALE (vnf/router_neigh.h), with the settings the dataplane reads.
  const cfgEntry = r.entries(VNF_MAP_ROUTER_CFG)[0]?.[1];
  const cfg = cfgEntry ? routerCfgCodec.decode(cfgEntry) : undefined;
  const reachableNs = BigInt((cfg && cfg.flags & VNF_ROUTER_CFG_F_SET ? cfg.reachable_ms : DEFAULT_ROUTER_MODEL.neighbours.reachableMs)) * 1_000_000n;
  const neighbours: StatusSection['rows'] = [];
  const seconds = (ns: bigint): number => (ns > 0n ? Number(ns / 1_000_000n) / 1000 : 0);
  for (const [map, kind] of [[VNF_MAP_NEIGH_STATIC, 'static'], [VNF_MAP_NEIGH, 'learned'], [VNF_MAP_NEIGH_PEND, 'learned']] as const) {
    for (const [k, v] of r.entries(map)) {
      const key = neighKeyCodec.decode(k);
      const n = neighCodec.decode(v);
      const st = n.state ?? 0;
      let state = NEIGH_STATES[st] ?? `state ${st}`;
      if (map === VNF_MAP_NEIGH && st === VNF_NEIGH_REACHABLE && r.now - n.updated_ns >= reachableNs) state = NEIGH_STATES[VNF_NEIGH_STALE]!;
      if (map === VNF_MAP_NEIGH && state === NEIGH_STATES[VNF_NEIGH_STALE] && (n.probes ?? 0) > 0) state += ` (${n.probes} probe${n.probes! > 1 ? 's' : ''})`;
      neighbours.push({
        network: r.names.network(key.network), ip: formatAddr(key.ip), mac: map === VNF_MAP_NEIGH_PEND ? null : n.mac, kind, state,
        ageSeconds: kind === 'learned' ? seconds(r.now - n.updated_ns) : null,
      });
    }
  }
  neighbours.sort((a, b) => String(a['network']).localeCompare(String(b['network'])) || String(a['ip']).localeCompare(String(b['ip']), undefined, { numeric: true }));
  return [
    { key: 'routes', title: 'ROUTES', columns: ['router', 'to', 'via', 'network', 'packets', 'bytes'], rows: routes },
    { key: 'neighbours', title: 'NEIGHBOURS', columns: ['network', 'ip', 'mac', 'kind', 'state', 'ageSeconds'], headers: ['network', 'ip', 'mac', 'kind', 'state', 'age (s)'], rows: neighbours },
  ];
}

export const routerModule: VnfModule = {
  name: 'router',
  id: VNF_ID_ROUTER,
  object: 'router',
  programs: ['vnf_router'],
  slotProgram: 'vnf_router',
  spec: routerSpec,
  maps: [
    { ...neighMap(VNF_MAP_NEIGH_STATIC, 'hash', VNF_NEIGH_STATIC_MAX), kind: 'config', stage: 'publish', order: 20 },
    { ...neighMap(VNF_MAP_NEIGH, 'lru_hash', VNF_NEIGH_MAX), kind: 'learned', keep: keepWithNetwork, dependsOn: ['networks'] },
    { ...neighMap(VNF_MAP_NEIGH_PEND, 'lru_hash', VNF_NEIGH_PEND_MAX), kind: 'learned', keep: keepWithNetwork, dependsOn: ['networks'] },
    // Locks serialising the claim of an ARP request or probe (struct bpf_spin_lock): the dataplane's alone.
    { name: VNF_MAP_NEIGH_LOCK, type: 'array', keySize: 4, valueSize: 4, maxEntries: VNF_NEIGH_LOCKS, kind: 'kernel' },
    {
      name: VNF_MAP_ROUTER_CFG, type: 'array', keySize: 4, valueSize: routerCfgCodec.size, maxEntries: 1,
      kind: 'config', stage: 'define', order: 55,
      describe(_k, v) {
        if (!v) return 'router settings';
        const c = routerCfgCodec.decode(v);
        return `router settings: neighbours reachable ${c.reachable_ms} ms, retransmit ${c.retrans_ms} ms, failed ${c.failed_ms} ms, ` +
          `${c.ucast_probes} unicast / ${c.mcast_probes} broadcast probes; ICMP rate limit ${c.icmp_ratelimit_ms} ms`;
      },
    },
    {
      name: VNF_MAP_ICMP_RL, type: 'lru_hash', keySize: neighKeyCodec.size, valueSize: icmpRlCodec.size, maxEntries: VNF_ICMP_RL_MAX,
      kind: 'learned', keep: keepWithNetwork, dependsOn: ['networks'],
    },
    {
      name: VNF_MAP_ROUTES, type: 'lpm_trie', keySize: routeKeyCodec.size, valueSize: routeCodec.size,
      maxEntries: VNF_ROUTES_MAX, kind: 'config', stage: 'publish', order: 30,
      describe(key, value, names) {
        const k = routeKeyCodec.decode(key);
        const head = `route ${names.router(k.router_id)} ${formatAddr(k.addr)}/${k.prefixlen - 32}`;
        if (!value) return head;
        const r = routeCodec.decode(value);
        return `${head} -> ${names.network(r.network)}${r.nexthop ? ` via ${formatAddr(r.nexthop)}` : ' (connected)'}`;
      },
    },
    {
      name: VNF_MAP_ROUTE_STATS, type: 'percpu_hash', keySize: routeStatsKeyCodec.size, valueSize: counterCodec.size,
      maxEntries: VNF_ROUTES_MAX, kind: 'stats',
      // Counters stay with their route: kept while the route exists.
      keep: (key, _v, live) => {
        const k = routeStatsKeyCodec.decode(key);
        return live.config[VNF_MAP_ROUTES]?.has(routeKeyCodec.encode(routeKey(k.router_id, k.addr, k.prefixlen)).toString('hex')) ?? false;
      },
      dependsOn: [{ map: VNF_MAP_ROUTES }],
    },
  ],
  entries,
  status,
  metrics,
};
