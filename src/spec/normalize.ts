/**
 * A validated raw topology -> the normalized model (model.ts). Pure and deterministic. It assumes
 * schema and rules passed; a violated assumption is a bug here, and throws.
 */
import { icmpTypeNumber } from './icmp.js';
import { contains, parseAddr, parseCidr, toNetwork, type Cidr } from './ipv4.js';
import { containerMacSeed, deriveMac, routerMacSeed } from './mac.js';
import type {
  AttachPoint,
  Container,
  Firewall,
  FirewallDirection,
  FirewallRule,
  Network,
  Route,
  Router,
  RouterPort,
  Topology,
} from './model.js';
import { ANY_PORT, mergeRanges, parsePortSpec, type PortRange } from './ports.js';
import type { Parsed } from './result.js';
import { API_VERSION, DEFAULT_FDB_AGING_SECONDS, type RawDirection, type RawRouter, type RawTopology } from './schema.js';

/** Linux's nf_conntrack defaults, in seconds. */
export const DEFAULT_CONNTRACK_TIMEOUTS = {
  tcpSynSent: 120,
  tcpSynRecv: 60,
  tcpEstablished: 432_000,
  tcpFinWait: 120,
  tcpCloseWait: 60,
  tcpLastAck: 30,
  tcpTimeWait: 120,
  tcpClose: 10,
  udp: 30,
  udpStream: 120,
  icmp: 30,
} as const;

function must<T>(result: Parsed<T>): T {
  if (!result.ok) throw new Error(`normalize: unvalidated input: ${result.error}`);
  return result.value;
}

/** Code-unit order, independent of locale, so ids are the same on every machine. */
const compare = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
const sortedEntries = <T>(record: Record<string, T> | undefined): [string, T][] =>
  Object.entries(record ?? {}).sort(([a], [b]) => compare(a, b));

const ANY_ADDRESS: Cidr = { addr: 0, prefix: 0 };

export function normalize(raw: RawTopology): Topology {
  const fdbAgingSeconds = raw.settings?.fdbAgingSeconds ?? DEFAULT_FDB_AGING_SECONDS;

  const networks: Network[] = sortedEntries(raw.networks).map(([name, spec], i) => ({
    id: i + 1,
    name,
    subnet: must(parseCidr(spec.subnet)),
    fdbAgingSeconds: spec.fdbAgingSeconds ?? fdbAgingSeconds,
  }));
  const networkByName = new Map(networks.map((n) => [n.name, n]));
  const networkNamed = (name: string): Network => {
    const network = networkByName.get(name);
    if (!network) throw new Error(`normalize: unknown network "${name}"`);
    return network;
  };

  const routers = sortedEntries(raw.routers).map(([name, spec]) => normalizeRouter(raw.name, name, spec, networkNamed));
  for (const router of routers) {
    for (const port of router.ports) {
      const network = networkNamed(port.network);
      network.gateway = port.ip;
      network.router = router.name;
    }
  }

  const firewalls = sortedEntries(raw.firewalls).map(([name, spec]): Firewall => ({
    name,
    attach: (spec.attach ?? [])
      .map(parseAttach)
      .sort((a, b) => compare(a.container, b.container) || compare(a.interface, b.interface)),
    ingress: normalizeDirection(spec.ingress),
    egress: normalizeDirection(spec.egress),
  }));
  const firewallOf = new Map<string, string>();
  for (const firewall of firewalls) {
    for (const at of firewall.attach) firewallOf.set(`${at.container}/${at.interface}`, firewall.name);
  }

  const containers = sortedEntries(raw.containers).map(([name, spec]): Container => ({
    name,
    interfaces: sortedEntries(spec.interfaces).map(([iface, ifspec]) => {
      const network = networkNamed(ifspec.network);
      const firewall = firewallOf.get(`${name}/${iface}`);
      return {
        container: name,
        name: iface,
        network: network.name,
        networkId: network.id,
        ip: must(parseCidr(ifspec.ip, { defaultPrefix: network.subnet.prefix })).addr,
        prefix: network.subnet.prefix,
        mac: ifspec.mac?.toLowerCase() ?? deriveMac(containerMacSeed(raw.name, name, iface)),
        ...(network.gateway !== undefined ? { gateway: network.gateway } : {}),
        ...(firewall !== undefined ? { firewall } : {}),
      };
    }),
  }));

  return {
    apiVersion: API_VERSION,
    name: raw.name,
    settings: { fdbAgingSeconds, conntrackTimeouts: { ...DEFAULT_CONNTRACK_TIMEOUTS, ...raw.settings?.conntrack?.timeouts } },
    networks,
    containers,
    routers,
    firewalls,
  };
}

function normalizeRouter(
  topology: string,
  name: string,
  spec: RawRouter,
  networkNamed: (name: string) => Network,
): Router {
  const ports: RouterPort[] = sortedEntries(spec.ports).map(([networkName, address]) => {
    const network = networkNamed(networkName);
    return {
      network: network.name,
      networkId: network.id,
      ip: must(parseCidr(address, { defaultPrefix: network.subnet.prefix })).addr,
      prefix: network.subnet.prefix,
      mac: deriveMac(routerMacSeed(topology, name, networkName)),
    };
  });
  const connected: Route[] = ports.map((port) => ({
    kind: 'connected',
    to: toNetwork({ addr: port.ip, prefix: port.prefix }),
    network: port.network,
    networkId: port.networkId,
  }));
  const statics: Route[] = (spec.routes ?? []).map((route) => {
    const via = must(parseAddr(route.via));
    const port = ports.find((p) => contains({ addr: p.ip, prefix: p.prefix }, via));
    if (!port) throw new Error(`normalize: next hop of route to ${route.to} is unreachable`);
    return {
      kind: 'static',
      to: must(parseCidr(route.to, { defaultPrefix: 32 })),
      via,
      network: port.network,
      networkId: port.networkId,
    };
  });
  return { name, ports, routes: [...connected, ...statics] };
}

function parseAttach(ref: string): AttachPoint {
  const [container = '', iface = ''] = ref.split('/');
  return { container, interface: iface };
}

function portRanges(specs: (number | string)[] | undefined): PortRange[] {
  if (specs === undefined) return [[...ANY_PORT]];
  return mergeRanges(specs.map((spec) => must(parsePortSpec(spec))));
}

function normalizeDirection(spec: RawDirection | undefined): FirewallDirection {
  return {
    default: spec?.default ?? 'allow',
    rules: (spec?.rules ?? []).map((rule, index): FirewallRule => {
      const out: FirewallRule = {
        index,
        action: rule.action,
        proto: rule.proto ?? 'any',
        src: rule.from !== undefined ? must(parseCidr(rule.from, { defaultPrefix: 32 })) : { ...ANY_ADDRESS },
        dst: rule.to !== undefined ? must(parseCidr(rule.to, { defaultPrefix: 32 })) : { ...ANY_ADDRESS },
        dports: portRanges(rule.ports),
        sports: portRanges(rule['src-ports']),
      };
      if (rule['icmp-type'] !== undefined) out.icmpType = icmpTypeNumber(rule['icmp-type']);
      if (rule.name !== undefined) out.name = rule.name;
      if (rule.comment !== undefined) out.comment = rule.comment;
      return out;
    }),
  };
}
