/**
 * The router VNF: routes per router (LPM keyed by the router's stable id), static neighbours of
 * declared ports (a plain hash looked up first), learned neighbours (LRU, kept while their
 * network exists), and per-route counters keyed by what the route is.
 */
import { put, type MapEntries } from '../../model/desired.js';
import { formatAddr } from '../../spec/ipv4.js';
import { VNF_MAP_NEIGH, VNF_MAP_NEIGH_STATIC, VNF_MAP_ROUTES, VNF_MAP_ROUTE_STATS } from '../../abi/router.js';
import { counterCodec } from '../common/codec.js';
import type { CompileContext, MapDecl, NameView, StatusReader, StatusSection, VnfModule } from '../types.js';
import {
  neighCodec, neighKeyCodec, routeCodec, routeKey, routeKeyCodec, routeStatsKeyCodec, VNF_ID_ROUTER, VNF_NEIGH_F_STATIC,
  VNF_NEIGH_MAX, VNF_NEIGH_STATIC_MAX, VNF_ROUTE_F_CONNECTED, VNF_ROUTE_F_STATIC, VNF_ROUTES_MAX,
} from './codec.js';

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
    put(neigh, neighKeyCodec.encode({ network: p.networkId, ip: p.ip }), neighCodec.encode({ updated_ns: 0n, mac: p.mac, flags: VNF_NEIGH_F_STATIC }));
  }
  return { [VNF_MAP_ROUTES]: routes, [VNF_MAP_NEIGH_STATIC]: neigh };
}

function describeNeigh(key: Buffer, value: Buffer | undefined, names: NameView): string {
  const k = neighKeyCodec.decode(key);
  const head = `neighbour ${names.network(k.network)} ${formatAddr(k.ip)}`;
  return value ? `${head} is ${neighCodec.decode(value).mac}` : head;
}

const neighMap = (name: string, type: MapDecl['type'], maxEntries: number): Omit<MapDecl, 'kind'> => ({
  name, type, keySize: neighKeyCodec.size, valueSize: neighCodec.size, maxEntries, describe: describeNeigh,
});

function status(r: StatusReader): StatusSection[] {
  const routes: StatusSection['rows'] = [];
  const hits = new Map<string, { packets: bigint; bytes: bigint }>();
  for (const [k, v] of r.entries(VNF_MAP_ROUTE_STATS)) {
    const s = routeStatsKeyCodec.decode(k);
    hits.set(`${s.router_id}/${s.addr}/${s.prefixlen}`, r.counter(VNF_MAP_ROUTE_STATS, v));
  }
  for (const [k, v] of r.entries(VNF_MAP_ROUTES)) {
    const key = routeKeyCodec.decode(k);
    const route = routeCodec.decode(v);
    const h = hits.get(`${key.router_id}/${key.addr}/${key.prefixlen - 32}`);
    routes.push({
      router: r.names.router(key.router_id), to: `${formatAddr(key.addr)}/${key.prefixlen - 32}`,
      via: route.nexthop ? formatAddr(route.nexthop) : 'connected', network: r.names.network(route.network),
      packets: h?.packets ?? 0n, bytes: h?.bytes ?? 0n,
    });
  }
  routes.sort((a, b) => String(a['router']).localeCompare(String(b['router'])) || String(a['to']).localeCompare(String(b['to'])));
  const neighbours: StatusSection['rows'] = [];
  for (const [map, kind] of [[VNF_MAP_NEIGH_STATIC, 'static'], [VNF_MAP_NEIGH, 'learned']] as const) {
    for (const [k, v] of r.entries(map)) {
      const key = neighKeyCodec.decode(k);
      const n = neighCodec.decode(v);
      neighbours.push({
        network: r.names.network(key.network), ip: formatAddr(key.ip), mac: n.mac, kind,
        age: kind === 'learned' ? `${Number((r.now - n.updated_ns) / 1_000_000_000n)}s` : '-',
      });
    }
  }
  neighbours.sort((a, b) => String(a['network']).localeCompare(String(b['network'])) || String(a['ip']).localeCompare(String(b['ip']), undefined, { numeric: true }));
  return [
    { key: 'routes', title: 'ROUTES', columns: ['router', 'to', 'via', 'network', 'packets', 'bytes'], rows: routes },
    { key: 'neighbours', title: 'NEIGHBOURS', columns: ['network', 'ip', 'mac', 'kind', 'age'], rows: neighbours },
  ];
}

export const routerModule: VnfModule = {
  name: 'router',
  id: VNF_ID_ROUTER,
  object: 'router',
  programs: ['vnf_router'],
  slotProgram: 'vnf_router',
  maps: [
    { ...neighMap(VNF_MAP_NEIGH_STATIC, 'hash', VNF_NEIGH_STATIC_MAX), kind: 'config', stage: 'publish', order: 20 },
    {
      ...neighMap(VNF_MAP_NEIGH, 'lru_hash', VNF_NEIGH_MAX), kind: 'learned',
      keep: (key, _v, live) => live.networks.has(neighKeyCodec.decode(key).network),
      dependsOn: ['networks'],
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
};
