/**
 * Rules a schema cannot express: references between sections and addressing. Runs on a topology
 * that passed the schema, so every string here already parses; it never throws.
 */
import { formatPath, type PendingIssue, type SpecPath } from './errors.js';
import {
  broadcastOf,
  contains,
  formatAddr,
  formatCidr,
  networkOf,
  overlaps,
  parseAddr,
  parseCidr,
  sameCidr,
  type Cidr,
} from './ipv4.js';
import { containerMacSeed, deriveMac, routerMacSeed } from './mac.js';
import type { RawRouter, RawTopology } from './schema.js';
import { didYouMean } from './suggest.js';

interface KnownNetwork {
  name: string;
  subnet: Cidr;
}

/** Collects issues, and remembers who already claimed an address, a MAC or a gateway. */
class Checker {
  readonly issues: PendingIssue[] = [];
  readonly networks = new Map<string, KnownNetwork>();
  /** network name -> address -> the path that uses it */
  private readonly addresses = new Map<string, Map<number, SpecPath>>();
  private readonly macs = new Map<string, SpecPath>();

  constructor(readonly raw: RawTopology) {}

  report(path: SpecPath, message: string, at?: 'key'): void {
    this.issues.push({ path, message, ...(at ? { at } : {}) });
  }

  /** The network `name`, or an "unknown network" issue at `path`. */
  network(name: string, path: SpecPath, at?: 'key'): KnownNetwork | undefined {
    const network = this.networks.get(name);
    if (!network) {
      const names = [...this.networks.keys()];
      const known = names.length > 0 ? ` (defined networks: ${names.join(', ')})` : ' (no networks are defined)';
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

export function checkRules(raw: RawTopology): PendingIssue[] {
  const c = new Checker(raw);
  checkNetworks(c);
  checkContainers(c);
  const gateways = new Map<string, SpecPath>();
  for (const [name, router] of Object.entries(raw.routers ?? {})) checkRouter(c, name, router, gateways);
  checkFirewalls(c);
  return c.issues;
}

function checkNetworks(c: Checker): void {
  const seen: KnownNetwork[] = [];
  for (const [name, network] of Object.entries(c.raw.networks)) {
    const subnet = parseCidr(network.subnet);
    if (!subnet.ok) continue;
    const known = { name, subnet: subnet.value };
    c.networks.set(name, known);
    const clash = seen.find((other) => overlaps(other.subnet, known.subnet));
    if (clash) {
      c.report(
        ['networks', name, 'subnet'],
        `subnet ${formatCidr(known.subnet)} overlaps networks.${clash.name}.subnet (${formatCidr(clash.subnet)})`,
      );
    }
    seen.push(known);
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

  const destinations: { to: Cidr; path: SpecPath }[] = [];
  for (const [index, route] of (router.routes ?? []).entries()) {
    const path: SpecPath = [...base, 'routes', index];
    const to = parseCidr(route.to, { defaultPrefix: 32 });
    if (to.ok) {
      const dup = destinations.find((d) => sameCidr(d.to, to.value));
      const connected = ports.find((p) => sameCidr(p.network.subnet, to.value));
      if (dup) {
        c.report([...path, 'to'], `duplicate route to ${formatCidr(to.value)} (first in ${formatPath(dup.path)})`);
      } else if (connected) {
        c.report(
          [...path, 'to'],
          `${formatCidr(to.value)} is the connected subnet of port "${connected.network.name}"; it needs no static route`,
        );
      }
      destinations.push({ to: to.value, path });
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

function checkFirewalls(c: Checker): void {
  const containers = c.raw.containers ?? {};
  const attached = new Map<string, string>();
  for (const [name, firewall] of Object.entries(c.raw.firewalls ?? {})) {
    for (const [index, ref] of (firewall.attach ?? []).entries()) {
      const path: SpecPath = ['firewalls', name, 'attach', index];
      const [containerName = '', iface = ''] = ref.split('/');
      const container = containers[containerName];
      if (!container) {
        c.report(path, `unknown container "${containerName}"${didYouMean(containerName, Object.keys(containers))}`);
        continue;
      }
      const ifaces = Object.keys(container.interfaces);
      if (!ifaces.includes(iface)) {
        const has = ifaces.length > 0 ? ` (it has ${ifaces.join(', ')})` : '';
        c.report(path, `container "${containerName}" has no interface "${iface}"${didYouMean(iface, ifaces) || has}`);
        continue;
      }
      const other = attached.get(ref);
      if (other === name) {
        c.report(path, `${ref} is listed twice`);
      } else if (other !== undefined) {
        c.report(path, `${ref} is already attached to firewall "${other}"; an interface takes at most one firewall`);
      } else {
        attached.set(ref, name);
      }
    }
  }
}
