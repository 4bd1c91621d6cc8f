/** Codecs of bpf/abi/router.h. */
import { defineStruct } from '../../codec/struct.js';

export const VNF_ID_ROUTER = 3;
export const VNF_ROUTE_F_CONNECTED = 0x1;
export const VNF_ROUTE_F_STATIC = 0x2;
export const VNF_NEIGH_F_STATIC = 0x1;
export const VNF_NEIGH_F_LEARNED = 0x2;

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
  route_id: number;
  flags: number;
}
export const routeCodec = defineStruct<RouteEntry>('vnf_route', [
  ['network', 'u32'],
  ['nexthop', 'ipv4'],
  ['route_id', 'u32'],
  ['flags', 'u32'],
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
