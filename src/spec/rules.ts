/**
 * Rules a schema cannot express: references between sections, addressing, and what fits the
 * dataplane's tables. Runs on the part of the topology that passed the schema (entries with
 * schema issues are left out, and references to them are not reported again), then every VNF
 * module's rules; it never throws. Everything here is O(n log n) in the size of the file.
 */
import { deriveVni, spansHosts } from './hosts.js';
import {
  VNF_IDS_MAX, VNF_MAX_FLOOD, VNF_NETWORKS_MAX, VNF_PORTS_MAX,
} from '../abi/vnf_common.js';
import { VNF_ROUTES_MAX } from '../abi/router.js';
import { formatPath, type PendingIssue, type SpecPath } from './errors.js';
import {
  broadcastOf, contains, formatAddr, formatCidr, networkOf, parseAddr, parseCidr, sameCidr, type Cidr,
} from './ipv4.js';
import { containerMacSeed, deriveMac, routerMacSeed } from './mac.js';
import type { RawRouter, RawTopology } from './schema.js';
import { didYouMean } from './suggest.js';
import { listNames } from './util.js';
import { VNFS } from '../vnf/registry.js';
import type { RuleContext } from '../vnf/types.js';

/** Ports a topology file may declare: half of vnf_ports, the other half is headroom for an apply that replaces ports. */
export const MAX_FILE_PORTS = VNF_PORTS_MAX / 2;

interface KnownNetwork {
  name: string;
  subnet: Cidr;
}


/** Collects issues, and remembers who already claimed an address, a MAC or a gateway. */
class Checker implements RuleContext {
  readonly issues: PendingIssue[] = [];
  readonly networks = new Map<string, KnownNetwork>();
  /** network name -> address -> the path that uses it */
  private readonly addresses = new Map<string, Map<number, SpecPath>>();
  private readonly macs = new Map<string, SpecPath>();

  constructor(readonly raw: RawTopology, readonly invalid: ReadonlySet<string>) {}

  report(path: SpecPath, message: string, at?: 'key'): void {
    this.issues.push({ path, message, ...(at ? { at } : {}) });
  }

  warn(path: SpecPath, message: string, at?: 'key'): void {
    this.issues.push({ path, message, severity: 'warning', ...(at ? { at } : {}) });
  }

  /** The network `name`, or an "unknown network" issue at `path` (none when it exists but is invalid). */
  network(name: string, path: SpecPath, at?: 'key'): KnownNetwork | undefined {
    const network = this.networks.get(name);
    if (!network && !this.invalid.has(`networks/${name}`)) {
      const names = [...this.networks.keys()];
      const known = names.length > 0 ? ` (defined networks: ${listNames(names)})` : ' (no networks are defined)';
      this.report(path, `unknown network "${name}"${didYouMean(name, names) || known}`, at);
    }
    return network;
  }

  /**
   * Checks a host address on `network` (an interface's or a router port's) and claims it.
   * `owner` is the path of the interface or port, used in "already used by" messages.
   */
  hostAddress(text: string, network: KnownNetwork, path: SpecPath, owner: SpecPath): number | undefined {
    const { subnet, name } = network;
    const parsed = parseCidr(text, { defaultPrefix: subnet.prefix });
    if (!parsed.ok) return undefined;
    const { addr, prefix } = parsed.value;
    const where = `network "${name}" (${formatCidr(subnet)})`;
    const shown = formatAddr(addr);
    if (!contains(subnet, addr)) {
      this.report(path, `${shown} is outside ${where}`);
      return undefined;
    }
    if (prefix !== subnet.prefix) {
      this.report(path, `prefix length /${prefix} does not match ${where}; write ${shown}/${subnet.prefix}`);
      return undefined;
    }
    if (subnet.prefix < 31 && addr === networkOf(subnet)) {
      this.report(path, `${shown} is the network address of ${where}, not a host address`);
      return undefined;
    }
    if (subnet.prefix < 31 && addr === broadcastOf(subnet)) {
      this.report(path, `${shown} is the broadcast address of ${where}, not a host address`);
      return undefined;
    }
    const used = this.addresses.get(name) ?? new Map<number, SpecPath>();
    this.addresses.set(name, used);
    const other = used.get(addr);
    if (other) {
      this.report(path, `${shown} is already used on network "${name}" by ${formatPath(other)}`);
      return undefined;
    }
    used.set(addr, owner);
    return addr;
  }

  /** Addresses claimed on a network, with who claimed them. */
  claimed(network: string): ReadonlyMap<number, SpecPath> {
    return this.addresses.get(network) ?? new Map();
  }

  /** Claims a MAC; a clash is reported at `path` (the explicit `mac`, or the owner for a derived one). */
  mac(mac: string, explicit: boolean, path: SpecPath, owner: SpecPath): void {
    const other = this.macs.get(mac);
    if (other) {
      const fix = explicit ? '' : '; set a different mac explicitly';
      this.report(path, `MAC ${mac} is already used by ${formatPath(other)}${fix}`, explicit ? undefined : 'key');
      return;
    }
    this.macs.set(mac, owner);
  }
}

/**
 * The rules of the core and of every VNF module, on `raw` (the valid part of the file).
 * `invalid` names the entries left out for schema issues, as "section/name". Warnings are among
 * the issues, marked severity 'warning'; they do not make the file invalid.
 */
export function checkRules(raw: RawTopology, invalid: ReadonlySet<string> = new Set()): PendingIssue[] {
  const c = new Checker(raw, invalid);
  checkNetworks(c);
  checkContainers(c);
  const gateways = new Map<string, SpecPath>();
  for (const [name, router] of Object.entries(raw.routers ?? {})) checkRouter(c, name, router, gateways);
  checkUplinks(c);
  checkHosts(c);
  checkAllowedSources(c);
  checkCapacity(c);
  for (const v of VNFS) v.spec?.rules?.(c);
  return c.issues;
}

/** Subnets must not overlap: sorted by first address, each is compared with the widest one before it. */
function checkNetworks(c: Checker): void {
  const known: Array<KnownNetwork & { first: number; last: number }> = [];
  for (const [name, network] of Object.entries(c.raw.networks)) {
    const subnet = parseCidr(network.subnet);
    if (!subnet.ok) continue;
    const n = { name, subnet: subnet.value, first: networkOf(subnet.value), last: broadcastOf(subnet.value) };
    c.networks.set(name, n);
    known.push(n);
  }
  known.sort((a, b) => a.first - b.first || b.last - a.last);
  const order = new Map(Object.keys(c.raw.networks).map((name, i) => [name, i]));
  let widest: (typeof known)[number] | undefined;
  const reported = new Set<string>();
  for (const n of known) {
    if (widest && n.first <= widest.last) {
      // Report on the network that comes later in the file, naming the other.
      const [later, earlier] = order.get(n.name)! > order.get(widest.name)! ? [n, widest] : [widest, n];
      if (!reported.has(later.name)) {
        reported.add(later.name);
        c.report(['networks', later.name, 'subnet'],
          `subnet ${formatCidr(later.subnet)} overlaps networks.${earlier.name}.subnet (${formatCidr(earlier.subnet)})`);
      }
    }
    if (!widest || n.last > widest.last) widest = n;
  }
}

function checkContainers(c: Checker): void {
  for (const [container, spec] of Object.entries(c.raw.containers ?? {})) {
    for (const [iface, ifspec] of Object.entries(spec.interfaces)) {
      const owner: SpecPath = ['containers', container, 'interfaces', iface];
      const network = c.network(ifspec.network, [...owner, 'network']);
      if (network) c.hostAddress(ifspec.ip, network, [...owner, 'ip'], owner);
      const explicit = ifspec.mac?.toLowerCase();
      const mac = explicit ?? deriveMac(containerMacSeed(c.raw.name, container, iface));
      c.mac(mac, explicit !== undefined, explicit !== undefined ? [...owner, 'mac'] : owner, owner);
    }
  }
}

function checkRouter(c: Checker, name: string, router: RawRouter, gateways: Map<string, SpecPath>): void {
  const base: SpecPath = ['routers', name];
  const ports: { network: KnownNetwork; addr: number }[] = [];
  let unresolvedPorts = false;
  for (const [networkName, address] of Object.entries(router.ports)) {
    const path: SpecPath = [...base, 'ports', networkName];
    const network = c.network(networkName, path, 'key');
    if (!network) {
      unresolvedPorts = true;
      continue;
    }
    const gateway = gateways.get(networkName);
    if (gateway) {
      c.report(
        path,
        `network "${networkName}" already has a router port (${formatPath(gateway)}); a network has one gateway`,
        'key',
      );
      continue;
    }
    gateways.set(networkName, path);
    c.hostAddress(address, network, path, path);
    // Routes are checked against every port on a known network, even one whose address has an
    // issue of its own, so that one mistake does not cascade into "unreachable" next hops.
    const parsed = parseCidr(address, { defaultPrefix: network.subnet.prefix });
    if (parsed.ok) ports.push({ network, addr: parsed.value.addr });
    c.mac(deriveMac(routerMacSeed(c.raw.name, name, networkName)), false, path, path);
  }

  const destinations = new Map<string, SpecPath>();
  for (const [index, route] of (router.routes ?? []).entries()) {
    const path: SpecPath = [...base, 'routes', index];
    const to = parseCidr(route.to, { defaultPrefix: 32 });
    if (to.ok) {
      const key = formatCidr(to.value);
      const dup = destinations.get(key);
      const connected = ports.find((p) => sameCidr(p.network.subnet, to.value));
      if (dup) {
        c.report([...path, 'to'], `duplicate route to ${key} (first in ${formatPath(dup)})`);
      } else if (connected) {
        c.report(
          [...path, 'to'],
          `${key} is the connected subnet of port "${connected.network.name}"; it needs no static route`,
        );
      }
      if (!dup) destinations.set(key, path);
    }
    const via = parseAddr(route.via);
    if (!via.ok) continue;
    const shown = formatAddr(via.value);
    const port = ports.find((p) => contains(p.network.subnet, via.value));
    if (!port) {
      // With a port on an unknown network, reachability cannot be judged; that issue is enough.
      if (unresolvedPorts) continue;
      const subnets = ports.map((p) => formatCidr(p.network.subnet)).join(', ') || 'none';
      c.report(
        [...path, 'via'],
        `next hop ${shown} is not directly reachable: it lies in none of router "${name}"'s port subnets (${subnets})`,
      );
    } else if (port.addr === via.value) {
      c.report([...path, 'via'], `next hop ${shown} is router "${name}"'s own address`);
    } else if (
      port.network.subnet.prefix < 31 &&
      (via.value === networkOf(port.network.subnet) || via.value === broadcastOf(port.network.subnet))
    ) {
      c.report([...path, 'via'], `next hop ${shown} is not a host address of network "${port.network.name}"`);
    }
  }
}

/** An uplink interface belongs to one network; a lab namespace behind it is named like a container and must not clash with one. */
function checkUplinks(c: Checker): void {
  const interfaces = new Map<string, SpecPath>();
  const namespaces = new Map<string, SpecPath>(Object.keys(c.raw.containers ?? {}).map((n) => [n, ['containers', n] as SpecPath]));
  for (const [name, network] of Object.entries(c.raw.networks)) {
    const up = network.uplink;
    if (!up) continue;
    const path: SpecPath = ['networks', name, 'uplink'];
    const other = interfaces.get(up.interface);
    if (other) c.report([...path, 'interface'], `interface ${up.interface} is already the uplink of ${formatPath(other)}`);
    else interfaces.set(up.interface, path);
    if (!up.lab) continue;
    const taken = namespaces.get(up.lab.namespace);
    if (taken) c.report([...path, 'lab', 'namespace'], `"${up.lab.namespace}" is already the name of ${formatPath(taken)}; lab namespaces and containers share names (vnf.<topology>.<name>)`);
    else namespaces.set(up.lab.namespace, [...path, 'lab']);
    const known = c.networks.get(name);
    if (known) c.hostAddress(up.lab.ip, known, [...path, 'lab', 'ip'], [...path, 'lab']);
  }
}

/**
 * A topology that spans hosts: every container names its host, no uplink (NAT and the world
 * behind an uplink live on one host; not across hosts yet), and no two networks share a VNI.
 * A `vni` in a one-host topology has no effect: said, not fatal.
 */
function checkHosts(c: Checker): void {
  const containers = Object.entries(c.raw.containers ?? {});
  if (!spansHosts(c.raw)) {
    for (const [name, n] of Object.entries(c.raw.networks)) {
      if (n.vni !== undefined) c.warn(['networks', name, 'vni'], 'a VNI only matters in a topology that spans hosts (no container names a host): it is ignored', 'key');
    }
    return;
  }
  const named = containers.filter(([, s]) => s.host !== undefined).map(([n]) => n);
  for (const [name, spec] of containers) {
    if (spec.host === undefined) c.report(['containers', name], `name the host it runs on (host: NAME): the other containers do (${named.slice(0, 3).join(', ')}${named.length > 3 ? ', …' : ''})`, 'key');
  }
  for (const [name, n] of Object.entries(c.raw.networks)) {
    if (n.uplink) c.report(['networks', name, 'uplink'], 'an uplink is not supported in a topology that spans hosts (its containers name hosts): NAT and the world behind an uplink stay on one host for now', 'key');
  }
  const vnis = new Map<number, string>();
  for (const [name, n] of Object.entries(c.raw.networks)) {
    const vni = n.vni ?? deriveVni(name);
    const other = vnis.get(vni);
    if (other !== undefined) {
      c.report(n.vni !== undefined ? ['networks', name, 'vni'] : ['networks', name],
        `VNI ${vni} is already the VNI of networks.${other}${n.vni === undefined ? ' (derived from the names): set vni explicitly' : ''}`, n.vni !== undefined ? undefined : 'key');
    } else vnis.set(vni, name);
  }
}

/**
 * A prefix an interface may send from must not hold the address of another member of its own
 * network (a container or the router port): that would let it send as its neighbours.
 */
function checkAllowedSources(c: Checker): void {
  const sorted = new Map<string, Array<[number, SpecPath]>>();
  const membersOf = (network: string): Array<[number, SpecPath]> => {
    let list = sorted.get(network);
    if (!list) {
      list = [...c.claimed(network)].sort((a, b) => a[0] - b[0]);
      sorted.set(network, list);
    }
    return list;
  };
  for (const [container, spec] of Object.entries(c.raw.containers ?? {})) {
    for (const [iface, ifspec] of Object.entries(spec.interfaces)) {
      const owner: SpecPath = ['containers', container, 'interfaces', iface];
      for (const [i, text] of (ifspec.allowedSources ?? []).entries()) {
        const p = parseCidr(text, { defaultPrefix: 32 });
        if (!p.ok) continue;
        const first = networkOf(p.value);
        const last = broadcastOf(p.value);
        const list = membersOf(ifspec.network);
        // The first member at or after `first` (binary search), then those inside the prefix.
        let lo = 0;
        let hi = list.length;
        while (lo < hi) {
          const m = (lo + hi) >> 1;
          if (list[m]![0] < first) lo = m + 1;
          else hi = m;
        }
        for (let k = lo; k < list.length && list[k]![0] <= last; k++) {
          const [addr, who] = list[k]!;
          if (formatPath(who) === formatPath(owner)) continue;
          c.report([...owner, 'allowedSources', i],
            `${formatCidr(p.value)} holds ${formatAddr(addr)}, the address of ${formatPath(who)} on network "${ifspec.network}": this interface could send as it`);
          break;
        }
      }
    }
  }
}

/** What the dataplane's tables hold (bpf/abi): reported where the file asks for more. */
function checkCapacity(c: Checker): void {
  const networks = Object.keys(c.raw.networks);
  if (networks.length > VNF_NETWORKS_MAX) {
    c.report(['networks'], `${networks.length} networks are declared; the dataplane holds at most ${VNF_NETWORKS_MAX} (vnf_networks)`, 'key');
  }
  const routers = Object.keys(c.raw.routers ?? {});
  // Every network and router takes an id, and the id counter takes one entry.
  if (networks.length + routers.length + 1 > VNF_IDS_MAX) {
    c.report(['routers'], `${networks.length} networks and ${routers.length} routers need ${networks.length + routers.length} ids; at most ${VNF_IDS_MAX - 1} fit (vnf_ids)`, 'key');
  }
  let ports = 0;
  const perNetwork = new Map<string, number>();
  for (const [container, spec] of Object.entries(c.raw.containers ?? {})) {
    for (const [iface, ifspec] of Object.entries(spec.interfaces)) {
      const path: SpecPath = ['containers', container, 'interfaces', iface];
      ports++;
      if (ports === MAX_FILE_PORTS + 1) {
        c.report(path, `this is interface number ${ports} of the file; a topology holds at most ${MAX_FILE_PORTS} (half of vnf_ports: the rest is headroom for an apply that replaces ports)`, 'key');
      }
      const n = (perNetwork.get(ifspec.network) ?? 0) + 1;
      perNetwork.set(ifspec.network, n);
      if (n === VNF_MAX_FLOOD + 1) {
        c.report([...path, 'network'], `network "${ifspec.network}" would have more than ${VNF_MAX_FLOOD} ports; a broadcast reaches at most ${VNF_MAX_FLOOD} (VNF_MAX_FLOOD)`);
      }
    }
  }
  let routes = 0;
  for (const [name, router] of Object.entries(c.raw.routers ?? {})) {
    routes += Object.keys(router.ports).length + (router.routes?.length ?? 0);
    if (routes > VNF_ROUTES_MAX) {
      c.report(['routers', name, 'routes'], `the routers have ${routes} routes (connected and static) so far; the dataplane holds at most ${VNF_ROUTES_MAX} (vnf_routes)`, 'key');
      break;
    }
  }
}
