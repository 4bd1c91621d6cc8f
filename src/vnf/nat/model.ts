/** NAT's part of the normalized topology (topology.ext.nat): each router's `nat`. */
import type { Ipv4Prefix, PortRange, Topology } from '../../spec/model.js';

export type NatProto = 'tcp' | 'udp';

/** 1:1 NAT both ways: `inside` is seen as `outside` on the outside network, and reached there. */
export interface NatFloating {
  inside: number;
  outside: number;
}

/** A port of the router's outside address forwarded to an inside address. */
export interface NatForward {
  proto: NatProto;
  /** The published port, on the router's outside address. */
  port: number;
  to: number;
  /** The port at `to` (the published port when the file gives none). */
  toPort: number;
}

export interface RouterNat {
  router: string;
  /** The network on the world side (one of the router's port networks). */
  outside: string;
  /** The router's address on `outside`: masqueraded sources and forwarded ports use it. */
  outsideIp: number;
  /** The router's other port networks, sorted. */
  inside: string[];
  /** Sources translated to outsideIp; sorted by address, then length. */
  masquerade: Ipv4Prefix[];
  /** Source ports of masqueraded connections, inclusive. */
  ports: PortRange;
  /** Mappings one inside address may hold at once (fairness between the containers behind the NAT). */
  maxPerSource: number;
  /** Mappings of connections from the world (to forwarded ports and floating addresses) at once. */
  maxInbound: number;
  /** Sorted by outside address. */
  floating: NatFloating[];
  /** Sorted by proto, then port. */
  forward: NatForward[];
}

export interface NatModel {
  /** The routers with `nat`, sorted by router name. */
  routers: RouterNat[];
}

declare module '../../spec/model.js' {
  interface TopologyExtensions {
    nat: NatModel;
  }
}

/** The NATs of a topology ([] when it has none). */
export const natsOf = (t: Topology | undefined): RouterNat[] => t?.ext.nat?.routers ?? [];

/** The networks that have a role in a router's NAT (its outside and inside networks), per topology object. */
const roles = new WeakMap<Topology, Map<string, { router: string; outside: boolean }>>();

export function natRoles(t: Topology): ReadonlyMap<string, { router: string; outside: boolean }> {
  let m = roles.get(t);
  if (!m) {
    m = new Map();
    for (const n of natsOf(t)) {
      m.set(n.outside, { router: n.router, outside: true });
      for (const i of n.inside) m.set(i, { router: n.router, outside: false });
    }
    roles.set(t, m);
  }
  return m;
}
