/** Codecs of bpf/abi/router.h (layouts checked against BTF by test/unit/btf-layout.test.ts). */
import { defineStruct } from '../../codec/struct.js';
import { enum_vnf_neigh_state } from '../../abi/router.js';

export {
  VNF_ID_ROUTER, VNF_ROUTE_F_CONNECTED, VNF_ROUTE_F_STATIC, VNF_NEIGH_F_STATIC, VNF_NEIGH_F_LEARNED, VNF_ROUTES_MAX,
  VNF_NEIGH_MAX, VNF_NEIGH_STATIC_MAX, VNF_NEIGH_PEND_MAX, VNF_NEIGH_LOCKS, VNF_ICMP_RL_MAX, VNF_ROUTER_CFG_F_SET,
  VNF_NEIGH_PERMANENT, VNF_NEIGH_INCOMPLETE, VNF_NEIGH_REACHABLE, VNF_NEIGH_STALE, VNF_NEIGH_FAILED,
  VNF_NEIGH_DEF_REACHABLE_MS, VNF_NEIGH_DEF_RETRANS_MS, VNF_NEIGH_DEF_FAILED_MS, VNF_NEIGH_DEF_UCAST_PROBES,
  VNF_NEIGH_DEF_MCAST_PROBES, VNF_ICMP_DEF_RATELIMIT_MS, VNF_ICMP_BURST,
} from '../../abi/router.js';

/** Neighbour state names by value (enum vnf_neigh_state: VNF_NEIGH_REACHABLE -> 'reachable'), as Linux names them. */
export const NEIGH_STATES: readonly string[] = Object.entries(enum_vnf_neigh_state)
  .sort((a, b) => a[1] - b[1])
  .map(([k]) => k.replace(/^VNF_NEIGH_/, '').toLowerCase());

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
  /** REACHABLE: last confirmation; other states: when the state began (CLOCK_MONOTONIC ns). */
  updated_ns: bigint;
  mac: string;
  flags: number;
  /* Decoded always; optional when encoding (zero: a declared neighbour's values). */
  /** Last ARP request sent for it. */
  probe_ns?: bigint;
  /** REACHABLE: kernel jiffies until which the dataplane uses it without reading the clock (0: none). */
  reachable_until?: bigint;
  /** Learned: the port its ARP came from. */
  ifindex?: number;
  /** enum vnf_neigh_state (NEIGH_STATES); VNF_NEIGH_PERMANENT (0) for declared ones. */
  state?: number;
  /** ARP requests since the last confirmation. */
  probes?: number;
}
export const neighCodec = defineStruct<NeighEntry>('vnf_neigh', [
  ['updated_ns', 'u64'],
  ['mac', 'mac'],
  ['flags', 'u16'],
  ['probe_ns', 'u64'],
  ['reachable_until', 'u64'],
  ['ifindex', 'u32'],
  ['state', 'u8'],
  ['probes', 'u8'],
  ['_pad', { pad: 2 }],
]);

/** vnf_router_cfg[0]: neighbour timers and the ICMP rate limit (settings.router). */
export interface RouterCfg {
  flags: number;
  reachable_ms: number;
  retrans_ms: number;
  failed_ms: number;
  icmp_ratelimit_ms: number;
  ucast_probes: number;
  mcast_probes: number;
}
export const routerCfgCodec = defineStruct<RouterCfg>('vnf_router_cfg', [
  ['flags', 'u32'],
  ['reachable_ms', 'u32'],
  ['retrans_ms', 'u32'],
  ['failed_ms', 'u32'],
  ['icmp_ratelimit_ms', 'u32'],
  ['ucast_probes', 'u8'],
  ['mcast_probes', 'u8'],
  ['_pad', { pad: 2 }],
]);

/** vnf_icmp_rl value (keyed by struct vnf_neigh_key): a host's ICMP error token bucket. */
export interface IcmpRl {
  last_ns: bigint;
  tokens_ns: bigint;
}
export const icmpRlCodec = defineStruct<IcmpRl>('vnf_icmp_rl', [
  ['last_ns', 'u64'],
  ['tokens_ns', 'u64'],
]);
