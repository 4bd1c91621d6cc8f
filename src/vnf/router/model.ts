/** The router's part of the normalized topology (topology.ext.router): `settings.router`. */
import type { Topology } from '../../spec/model.js';
import {
  VNF_ICMP_DEF_RATELIMIT_MS, VNF_NEIGH_DEF_FAILED_MS, VNF_NEIGH_DEF_MCAST_PROBES, VNF_NEIGH_DEF_REACHABLE_MS,
  VNF_NEIGH_DEF_RETRANS_MS, VNF_NEIGH_DEF_UCAST_PROBES,
} from '../../abi/router.js';

/** The neighbour state machine's timers (milliseconds) and probe counts; Linux's defaults unless set. */
export interface NeighbourSettings {
  /** base_reachable_time: REACHABLE this long after a confirmation, then STALE. */
  reachableMs: number;
  /** retrans_time: at most one ARP request per next hop this often. */
  retransMs: number;
  /** How long a next hop that never answered stays FAILED (ICMP host unreachable) before a new resolution. */
  failedMs: number;
  /** ucast_solicit: unicast probes of a STALE neighbour before it is resolved anew by broadcast. */
  unicastProbes: number;
  /** mcast_solicit: broadcast requests of an unresolved next hop before it FAILS. */
  broadcastProbes: number;
}

export interface RouterModel {
  neighbours: NeighbourSettings;
  /** icmp_ratelimit: one ICMP error per destination host this often (bursts of 6); 0 = no limit. */
  icmpRatelimitMs: number;
}

declare module '../../spec/model.js' {
  interface TopologyExtensions {
    router: RouterModel;
  }
}

export const DEFAULT_NEIGHBOUR_SETTINGS: NeighbourSettings = {
  reachableMs: VNF_NEIGH_DEF_REACHABLE_MS,
  retransMs: VNF_NEIGH_DEF_RETRANS_MS,
  failedMs: VNF_NEIGH_DEF_FAILED_MS,
  unicastProbes: VNF_NEIGH_DEF_UCAST_PROBES,
  broadcastProbes: VNF_NEIGH_DEF_MCAST_PROBES,
};

export const DEFAULT_ROUTER_MODEL: RouterModel = { neighbours: DEFAULT_NEIGHBOUR_SETTINGS, icmpRatelimitMs: VNF_ICMP_DEF_RATELIMIT_MS };

export const routerSettingsOf = (t: Topology): RouterModel => t.ext.router ?? DEFAULT_ROUTER_MODEL;
