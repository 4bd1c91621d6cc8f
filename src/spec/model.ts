/**
 * The normalized topology: plain data with every default filled in and addresses as unsigned
 * 32-bit numbers (host order; format with ipv4.formatAddr). Lists are sorted by name so the
 * model of a file does not depend on the order of its sections. Names are the identities here:
 * the numeric ids the dataplane uses are allocated by the control plane (src/model/ids.ts) and
 * kept with the pins, never derived from this model.
 *
 * VNF modules add their part under `ext`, keyed by module name; each module declares its key
 * by augmenting TopologyExtensions (see src/vnf/firewall/model.ts).
 */
export type { PortRange } from './ports.js';

/** An IPv4 prefix. `addr` is the network address (host bits zero). */
export interface Ipv4Prefix {
  addr: number;
  prefix: number;
}

/** Each VNF module's normalized fragment, by module name (declared by the modules). */
// eslint-disable-next-line @typescript-eslint/no-empty-interface
export interface TopologyExtensions {}

export interface Topology {
  apiVersion: 'vnf/v1';
  /** Pins live under /sys/fs/bpf/vnf/<name>/. */
  name: string;
  settings: TopologySettings;
  /** Sorted by name. */
  networks: Network[];
  containers: Container[];
  routers: Router[];
  ext: Partial<TopologyExtensions>;
}

export interface TopologySettings {
  fdbAgingSeconds: number;
}

/** An L2 segment, implemented by one eBPF bridge. */
export interface Network {
  name: string;
  subnet: Ipv4Prefix;
  fdbAgingSeconds: number;
  /** The router port address on this network, if a router has one. */
  gateway?: number;
  /** The router that owns the gateway. */
  router?: string;
  /** A host interface that is a port of this network: the world behind it (no identity checks). */
  uplink?: Uplink;
  /** The VXLAN network identifier across hosts: set in a multi-host topology (from the file, or derived from the name). */
  vni?: number;
}

export interface Uplink {
  /** The host interface (the host end of a veth pair). */
  interface: string;
  /** Lab mode: the namespace `lab up` creates behind it (vnf.<topology>.<namespace>) and its address. */
  lab?: { namespace: string; ip: number };
}

export interface Container {
  name: string;
  /** The host it runs on, in a topology that spans hosts (applied through a store); absent on one host. */
  host?: string;
  /** Sorted by name. */
  interfaces: ContainerInterface[];
}

export interface ContainerInterface {
  container: string;
  /** Interface name inside the container's namespace. */
  name: string;
  network: string;
  ip: number;
  /** Always the network's prefix length. */
  prefix: number;
  /** Lowercase; derived from the names when the file gives none. */
  mac: string;
  /** The router port address on this interface's network, if any. */
  gateway?: number;
  /** Prefixes the container may send from besides its own address (it forwards for them). */
  allowedSources: Ipv4Prefix[];
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
}
