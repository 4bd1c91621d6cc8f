/**
 * A validated raw topology -> the normalized model (model.ts), core first, then every VNF
 * module's fragment under `ext`. Pure and deterministic. It assumes schema and rules passed; a
 * violated assumption is a bug here, and throws.
 */
import { contains, parseAddr, parseCidr, toNetwork } from './ipv4.js';
import { containerMacSeed, deriveMac, routerMacSeed } from './mac.js';
import type { Container, Network, Route, Router, RouterPort, Topology } from './model.js';
import { API_VERSION, DEFAULT_FDB_AGING_SECONDS, type RawRouter, type RawTopology } from './schema.js';
import { VNFS } from '../vnf/registry.js';
import { must, sortedEntries } from './util.js';
import { deriveVni, spansHosts } from './hosts.js';


export function normalize(raw: RawTopology): Topology {
  const fdbAgingSeconds = raw.settings?.fdbAgingSeconds ?? DEFAULT_FDB_AGING_SECONDS;
  const multiHost = spansHosts(raw);

  const networks: Network[] = sortedEntries(raw.networks).map(([name, spec]) => {
    const subnet = must(parseCidr(spec.subnet));
    const lab = spec.uplink?.lab;
    return {
      name,
      subnet,
      fdbAgingSeconds: spec.fdbAgingSeconds ?? fdbAgingSeconds,
      ...(multiHost ? { vni: spec.vni ?? deriveVni(name) } : {}),
      ...(spec.uplink ? {
        uplink: {
          interface: spec.uplink.interface,
          ...(lab ? { lab: { namespace: lab.namespace, ip: must(parseCidr(lab.ip, { defaultPrefix: subnet.prefix })).addr } } : {}),
        },
      } : {}),
    };
  });
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

  const containers = sortedEntries(raw.containers).map(([name, spec]): Container => ({
    name,
    ...(spec.host !== undefined ? { host: spec.host } : {}),
    interfaces: sortedEntries(spec.interfaces).map(([iface, ifspec]) => {
      const network = networkNamed(ifspec.network);
      return {
        container: name,
        name: iface,
        network: network.name,
        ip: must(parseCidr(ifspec.ip, { defaultPrefix: network.subnet.prefix })).addr,
        prefix: network.subnet.prefix,
        mac: ifspec.mac?.toLowerCase() ?? deriveMac(containerMacSeed(raw.name, name, iface)),
        ...(network.gateway !== undefined ? { gateway: network.gateway } : {}),
        allowedSources: (ifspec.allowedSources ?? []).map((p) => must(parseCidr(p, { defaultPrefix: 32 }))),
      };
    }),
  }));

  const topology: Topology = {
    apiVersion: API_VERSION,
    name: raw.name,
    settings: { fdbAgingSeconds },
    networks,
    containers,
    routers,
    ext: {},
  };
  const ext = topology.ext as Record<string, unknown>;
  for (const v of VNFS) {
    const fragment = v.spec?.normalize?.(raw, topology);
    if (fragment !== undefined) ext[v.name] = fragment;
  }
  return topology;
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
      ip: must(parseCidr(address, { defaultPrefix: network.subnet.prefix })).addr,
      prefix: network.subnet.prefix,
      mac: deriveMac(routerMacSeed(topology, name, networkName)),
    };
  });
  const connected: Route[] = ports.map((port) => ({
    kind: 'connected',
    to: toNetwork({ addr: port.ip, prefix: port.prefix }),
    network: port.network,
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
    };
  });
  return { name, ports, routes: [...connected, ...statics] };
}
