/** Codecs of bpf/abi/router.h (layouts checked against BTF by test/unit/btf-layout.test.ts). */
import { defineStruct } from '../../codec/struct.js';

export {
  VNF_ID_ROUTER, VNF_ROUTE_F_CONNECTED, VNF_ROUTE_F_STATIC, VNF_NEIGH_F_STATIC, VNF_NEIGH_F_LEARNED, VNF_ROUTES_MAX,
  VNF_NEIGH_MAX, VNF_NEIGH_STATIC_MAX,
} from '../../abi/router.js';

export interface RouteKey {
  /** 32 (router id bits) + the route's prefix length. */
  prefixlen: number;
  router_id: number;
  addr: number;
}
/** router_id is big-endian so the trie's prefix runs over (router id, address). */
export const routeKeyCodec = defineStruct<RouteKey>('vnf_route_key', [
  ['prefixlen', 'u32'],
  ['router_id', 'be32'],
  ['addr', 'ipv4'],
]);
export function routeKey(routerId: number, addr: number, prefix: number): RouteKey {
  return { prefixlen: 32 + prefix, router_id: routerId, addr };
}

export interface RouteEntry {
  network: number;
  nexthop: number;
  /** The route's own prefix: the LPM lookup returns only the value. */
  addr: number;
  prefixlen: number;
  flags: number;
}
export const routeCodec = defineStruct<RouteEntry>('vnf_route', [
  ['network', 'u32'],
  ['nexthop', 'ipv4'],
  ['addr', 'ipv4'],
  ['prefixlen', 'u8'],
  ['flags', 'u8'],
  ['_pad', { pad: 2 }],
]);

export interface RouteStatsKey {
  router_id: number;
  addr: number;
  prefixlen: number;
}
export const routeStatsKeyCodec = defineStruct<RouteStatsKey>('vnf_route_stats_key', [
  ['router_id', 'u32'],
  ['addr', 'ipv4'],
  ['prefixlen', 'u32'],
]);

export interface NeighKey {
  network: number;
  ip: number;
}
export const neighKeyCodec = defineStruct<NeighKey>('vnf_neigh_key', [
  ['network', 'u32'],
  ['ip', 'ipv4'],
]);

export interface NeighEntry {
  updated_ns: bigint;
  mac: string;
  flags: number;
}
export const neighCodec = defineStruct<NeighEntry>('vnf_neigh', [
  ['updated_ns', 'u64'],
  ['mac', 'mac'],
  ['flags', 'u16'],
]);
