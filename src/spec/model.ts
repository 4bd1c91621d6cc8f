/**
 * The normalized topology: plain data with every default filled in, names resolved to ids, and
 * addresses as unsigned 32-bit numbers (host order; format with ipv4.formatAddr). Lists are
 * sorted by name so the model of a file does not depend on the order of its sections; firewall
 * rules keep file order, which is their meaning (first match wins).
 */
import type { PortRange } from './ports.js';

export type { PortRange } from './ports.js';

/** An IPv4 prefix. `addr` is the network address (host bits zero). */
export interface Ipv4Prefix {
  addr: number;
  prefix: number;
}

export interface Topology {
  apiVersion: 'vnf/v1';
  /** Pins live under /sys/fs/bpf/vnf/<name>/. */
  name: string;
  settings: TopologySettings;
  /** Sorted by name; `id` is the 1-based position in this list. */
  networks: Network[];
  containers: Container[];
  routers: Router[];
  firewalls: Firewall[];
}

export interface ConntrackTimeouts {
  tcpSynSent: number;
  tcpSynRecv: number;
  tcpEstablished: number;
  tcpFinWait: number;
  tcpCloseWait: number;
  tcpLastAck: number;
  tcpTimeWait: number;
  tcpClose: number;
  udp: number;
  udpStream: number;
  icmp: number;
}

export interface TopologySettings {
  fdbAgingSeconds: number;
  /** Connection tracking timeouts in seconds (Linux's defaults unless the file sets them). */
  conntrackTimeouts: ConntrackTimeouts;
}

/** An L2 segment, implemented by one eBPF bridge. */
export interface Network {
  /** 1..N, assigned in name order. */
  id: number;
  name: string;
  subnet: Ipv4Prefix;
  fdbAgingSeconds: number;
  /** The router port address on this network, if a router has one. */
  gateway?: number;
  /** The router that owns the gateway. */
  router?: string;
}

export interface Container {
  name: string;
  /** Sorted by name. */
  interfaces: ContainerInterface[];
}

export interface ContainerInterface {
  container: string;
  /** Interface name inside the container's namespace. */
  name: string;
  network: string;
  networkId: number;
  ip: number;
  /** Always the network's prefix length. */
  prefix: number;
  /** Lowercase; derived from the names when the file gives none. */
  mac: string;
  /** The router port address on this interface's network, if any. */
  gateway?: number;
  /** The firewall attached to this interface, if any. */
  firewall?: string;
}

export interface Router {
  name: string;
  /** Sorted by network name. */
  ports: RouterPort[];
  /** Connected routes (one per port, in port order), then static routes in file order. */
  routes: Route[];
}

export interface RouterPort {
  network: string;
  networkId: number;
  ip: number;
  prefix: number;
  mac: string;
}

export interface Route {
  kind: 'connected' | 'static';
  to: Ipv4Prefix;
  /** Next hop; absent for connected routes. */
  via?: number;
  /** The port network the route leaves through. */
  network: string;
  networkId: number;
}

export type FirewallAction = 'allow' | 'drop' | 'reject';
export type FirewallDefault = 'allow' | 'drop';
export type Protocol = 'tcp' | 'udp' | 'icmp' | 'any';

export interface Firewall {
  name: string;
  /** Sorted by container, then interface. */
  attach: AttachPoint[];
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
