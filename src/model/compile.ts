/**
 * compile: topology + the interfaces that carry it (with their ifindexes) + the stable ids ->
 * the desired dataplane state. Pure: the same input gives the same bytes, so a second apply
 * finds nothing to change. Every map's entries come from the VNF modules (src/vnf/registry.ts).
 */
import type { Topology } from '../spec/model.js';
import { VNFS } from '../vnf/registry.js';
import { VNF_ID_BRIDGE } from '../vnf/bridge/codec.js';
import { VNF_ID_DELIVER } from '../vnf/common/codec.js';
import type { CompileContext, GroupSpec, PortInterface } from '../vnf/types.js';
import type { DesiredState, MapEntries } from './desired.js';
import { placeGroups, type KernelGroups } from './groups.js';
import type { IdTable } from './ids.js';

/** A port put on a network with `vnf-ctl attach` (read back from the kernel, or being added). */
export interface Attachment {
  ifname: string;
  network: string;
  ip: number;
  prefix: number;
  mac?: string;
  /** Per-module options (e.g. firewall), by module name. */
  options?: Record<string, string>;
}

export interface CompileInput {
  topology: Topology;
  /** Host-side interface of each file container interface, by "container/iface". */
  fileInterfaces: Map<string, { ifname: string; ifindex: number }>;
  /** The uplink interface of each network that has one, by network name. */
  uplinks?: Map<string, { ifname: string; ifindex: number }>;
  attachments: Array<Attachment & { ifindex: number }>;
  /** This host's VXLAN device, when the topology is one host's slice (ext.overlay). */
  overlay?: { ifname: string; ifindex: number };
  ids: IdTable;
  /** What the kernel holds of each module's groups (where to place them); none when absent. */
  groups?: Record<string, KernelGroups>;
}

function portOptions(t: Topology, container: string, iface: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const v of VNFS) {
    const o = v.portOption?.(t, container, iface);
    if (o !== undefined) out[v.name] = o;
  }
  return out;
}

export function portInterfaces(input: CompileInput): PortInterface[] {
  const { topology, ids } = input;
  const out: PortInterface[] = [];
  for (const c of topology.containers) {
    for (const i of c.interfaces) {
      const host = input.fileInterfaces.get(`${c.name}/${i.name}`);
      if (!host) throw new Error(`internal: no host interface resolved for ${c.name}/${i.name}`);
      out.push({
        ifname: host.ifname, ifindex: host.ifindex, source: 'file', container: c.name, iface: i.name,
        network: i.network, networkId: ids.networks.get(i.network)!, ip: i.ip, prefix: i.prefix, mac: i.mac,
        allowedSources: i.allowedSources, options: portOptions(topology, c.name, i.name),
      });
    }
  }
  for (const n of topology.networks) {
    if (!n.uplink) continue;
    const host = input.uplinks?.get(n.name);
    if (!host) throw new Error(`internal: no host interface resolved for the uplink of network ${n.name}`);
    // The world is behind it: no address, no MAC, no identity checks (many hosts send through it).
    out.push({
      ifname: host.ifname, ifindex: host.ifindex, source: 'uplink', network: n.name, networkId: ids.networks.get(n.name)!,
      ip: 0, prefix: n.subnet.prefix, allowedSources: [], options: {},
    });
  }
  if (input.overlay) {
    // Other hosts are behind it: no network of its own (the VNI says which), no identity (the
    // overlay VNF checks what each host may send).
    out.push({
      ifname: input.overlay.ifname, ifindex: input.overlay.ifindex, source: 'overlay', network: '', networkId: 0,
      ip: 0, prefix: 0, allowedSources: [], options: {},
    });
  }
  for (const a of input.attachments) {
    const id = ids.networks.get(a.network);
    if (id === undefined) continue; // the network left the file: the attachment no longer applies
    out.push({
      ifname: a.ifname, ifindex: a.ifindex, source: 'attach', network: a.network, networkId: id,
      ip: a.ip, prefix: a.prefix, ...(a.mac ? { mac: a.mac } : {}), allowedSources: [], options: { ...(a.options ?? {}) },
    });
  }
  return out.sort((a, b) => a.ifindex - b.ifindex);
}

/** The VNFs that run on a port, in chain order, before the forwarder and before delivery. */
export function chainsFor(port: PortInterface, topology: Topology): { chainIn: number[]; chainOut: number[] } {
  const ordered = (c: 'in' | 'out'): number[] => VNFS.filter((v) => v.chain?.runsOn(port, topology, c) && v.id !== undefined)
    .map((v) => {
      const o = v.chain!.order;
      return { id: v.id!, order: typeof o === 'number' ? o : o(port, topology, c) };
    })
    .sort((a, b) => a.order - b.order || a.id - b.id)
    .map((x) => x.id);
  return { chainIn: [...ordered('in'), VNF_ID_BRIDGE], chainOut: [...ordered('out'), VNF_ID_DELIVER] };
}

export function compile(input: CompileInput): DesiredState {
  const ports = portInterfaces(input);
  let ids = input.ids;
  const placed = new Map<string, number>();
  const ctx: CompileContext = {
    topology: input.topology,
    ports,
    get ids() {
      return ids;
    },
    networkId: (name) => ids.networks.get(name)!,
    routerId: (name) => ids.routers.get(name)!,
    chains: (port) => chainsFor(port, input.topology),
    groupId: (module, owner) => placed.get(`${module}\u0000${owner}`),
  };
  // Groups first: config entries (bindings, the id table) name the slots they are placed in.
  const specs: Array<GroupSpec & { module: string }> = [];
  for (const v of VNFS) if (v.desiredGroups) for (const g of v.desiredGroups(ctx)) specs.push({ ...g, module: v.name });
  const p = placeGroups(specs, ids, input.groups ?? {});
  ids = p.ids;
  const groups = p.groups;
  for (const g of groups) placed.set(`${g.module}\u0000${g.owner}`, g.id);
  const maps: Record<string, MapEntries> = {};
  for (const v of VNFS) if (v.entries) Object.assign(maps, v.entries(ctx));
  return {
    topology: input.topology.name,
    interfaces: ports.map((p) => ({
      ifname: p.ifname, ifindex: p.ifindex, source: p.source, network: p.network,
      ...(p.container ? { container: p.container } : {}), ...(p.iface ? { iface: p.iface } : {}),
    })),
    maps,
    groups,
    live: {
      ports: new Map(ports.map((p) => [p.ifindex, p.networkId])),
      networks: new Set(ids.networks.values()),
      routers: new Set(ids.routers.values()),
      config: maps,
      groups,
    },
    ids,
  };
}
