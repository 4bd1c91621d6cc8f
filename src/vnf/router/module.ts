/** The router VNF: routes per router (LPM) and static neighbours of declared ports. */
import { put, type MapEntries } from '../../model/desired.js';
import { formatAddr } from '../../spec/index.js';
import type { CompileContext, VnfModule } from '../types.js';
import {
  neighCodec, neighKeyCodec, routeCodec, routeKey, routeKeyCodec, VNF_ID_ROUTER, VNF_NEIGH_F_STATIC,
  VNF_ROUTE_F_CONNECTED, VNF_ROUTE_F_STATIC,
} from './codec.js';

/** Route ids: router id in the high 16 bits, the route's position in the low 16. */
export const routeId = (routerId: number, index: number): number => ((routerId << 16) | index) >>> 0;

function entries(ctx: CompileContext): Record<string, MapEntries> {
  const routes: MapEntries = new Map();
  const neigh: MapEntries = new Map();
  for (const r of ctx.topology.routers) {
    const id = ctx.routerId(r.name);
    r.routes.forEach((route, index) => {
      put(routes, routeKeyCodec.encode(routeKey(id, route.to.addr, route.to.prefix)), routeCodec.encode({
        network: route.networkId,
        nexthop: route.via ?? 0,
        route_id: routeId(id, index),
        flags: route.kind === 'connected' ? VNF_ROUTE_F_CONNECTED : VNF_ROUTE_F_STATIC,
      }));
    });
  }
  const routed = new Set(ctx.topology.routers.flatMap((r) => r.ports.map((p) => p.networkId)));
  for (const p of ctx.ports) {
    if (!p.mac || !p.ip || !routed.has(p.networkId)) continue;
    put(neigh, neighKeyCodec.encode({ network: p.networkId, ip: p.ip }), neighCodec.encode({ updated_ns: 0n, mac: p.mac, flags: VNF_NEIGH_F_STATIC }));
  }
  return { vnf_routes: routes, vnf_neigh: neigh };
}

export const routerModule: VnfModule = {
  id: VNF_ID_ROUTER,
  name: 'router',
  object: 'router',
  programs: ['vnf_router'],
  slotProgram: 'vnf_router',
  maps: [
    { name: 'vnf_neigh', owns: 'static', order: 11, isStatic: (v) => (neighCodec.decode(v).flags & VNF_NEIGH_F_STATIC) !== 0 },
    { name: 'vnf_routes', owns: 'all', order: 12 },
  ],
  entries,
  describe(map, key, value) {
    if (map === 'vnf_routes') {
      const k = routeKeyCodec.decode(key);
      const head = `route router ${k.router_id} ${formatAddr(k.addr)}/${k.prefixlen - 32}`;
      if (!value) return head;
      const r = routeCodec.decode(value);
      return `${head} -> network ${r.network}${r.nexthop ? ` via ${formatAddr(r.nexthop)}` : ' (connected)'}`;
    }
    const k = neighKeyCodec.decode(key);
    const head = `neighbour network ${k.network} ${formatAddr(k.ip)}`;
    if (!value) return head;
    const n = neighCodec.decode(value);
    return `${head} is ${n.mac}${n.flags & VNF_NEIGH_F_STATIC ? ' (static)' : ' (learned)'}`;
  },
};
