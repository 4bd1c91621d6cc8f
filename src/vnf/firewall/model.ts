/** The firewall's part of the normalized topology (topology.ext.firewall). */
import type { Ipv4Prefix, PortRange, Topology } from '../../spec/model.js';

export type FirewallAction = 'allow' | 'drop' | 'reject';
export type FirewallDefault = 'allow' | 'drop';
export type Protocol = 'tcp' | 'udp' | 'icmp' | 'any';

export interface FirewallModel {
  /** Sorted by name. */
  firewalls: Firewall[];
}

declare module '../../spec/model.js' {
  interface TopologyExtensions {
    firewall: FirewallModel;
  }
}

export interface Firewall {
  name: string;
  /** Sorted by container, then interface. */
  attach: AttachPoint[];
  /** Networks whose attached interfaces (vnf-ctl attach, CNI) it protects by default; sorted. */
  networks: string[];
  ingress: FirewallDirection;
  egress: FirewallDirection;
}

export interface AttachPoint {
  container: string;
  interface: string;
}

export interface FirewallDirection {
  /** Verdict when no rule matches; 'allow' when the file says nothing. */
  default: FirewallDefault;
  /** In file order: the first matching rule wins. */
  rules: FirewallRule[];
}

export interface FirewallRule {
  /** Position in the direction's rule list, from 0. */
  index: number;
  action: FirewallAction;
  proto: Protocol;
  /** 0.0.0.0/0 when the rule has no `from`. */
  src: Ipv4Prefix;
  /** 0.0.0.0/0 when the rule has no `to`. */
  dst: Ipv4Prefix;
  /** Sorted, merged, inclusive; [[0, 65535]] when the rule has no `ports`. */
  dports: PortRange[];
  sports: PortRange[];
  icmpType?: number;
  name?: string;
  comment?: string;
}

/** The firewalls of a topology ([] when it has none). */
export const firewallsOf = (t: Topology | undefined): Firewall[] => t?.ext.firewall?.firewalls ?? [];

/** The firewall attached to a container interface, by name. */
export function firewallOf(t: Topology, container: string, iface: string): string | undefined {
  for (const f of firewallsOf(t)) {
    if (f.attach.some((a) => a.container === container && a.interface === iface)) return f.name;
  }
  return undefined;
}
