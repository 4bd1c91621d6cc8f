/**
 * compile: topology + the interfaces that carry it (with their ifindexes,
 * looked up by observe) -> the desired dataplane state. Pure: the same input
 * gives the same bytes, so a second apply finds nothing to change.
 */
import type { Topology } from '../spec/model.js';
import { VNFS } from '../vnf/registry.js';
import type { CompileContext, PortInterface } from '../vnf/types.js';
import type { DesiredState, MapEntries } from './desired.js';

/** A `vnf-ctl attach`ment as recorded in the topology's state. */
export interface Attachment {
  ifname: string;
  network: string;
  ip: number;
  prefix: number;
  mac?: string;
  netns?: string;
}

export interface CompileInput {
  topology: Topology;
  /** Host-side interface of each file container interface, by "container/iface". */
  fileInterfaces: Map<string, { ifname: string; ifindex: number }>;
  attachments: Array<Attachment & { ifindex: number }>;
}

export function portInterfaces(input: CompileInput): PortInterface[] {
  const { topology } = input;
  const netId = new Map(topology.networks.map((n) => [n.name, n.id]));
  const out: PortInterface[] = [];
  for (const c of topology.containers) {
    for (const i of c.interfaces) {
      const host = input.fileInterfaces.get(`${c.name}/${i.name}`);
      if (!host) throw new Error(`internal: no host interface resolved for ${c.name}/${i.name}`);
      out.push({
        ifname: host.ifname, ifindex: host.ifindex, source: 'file', container: c.name, iface: i.name,
        network: i.network, networkId: i.networkId, ip: i.ip, prefix: i.prefix, mac: i.mac,
        ...(i.firewall ? { firewall: i.firewall } : {}),
      });
    }
  }
  for (const a of input.attachments) {
    const id = netId.get(a.network);
    if (id === undefined) continue; // the network left the file: the attachment no longer applies
    out.push({
      ifname: a.ifname, ifindex: a.ifindex, source: 'attach', network: a.network, networkId: id,
      ip: a.ip, prefix: a.prefix, ...(a.mac ? { mac: a.mac } : {}),
    });
  }
  return out.sort((a, b) => a.ifindex - b.ifindex);
}

export function compile(input: CompileInput): DesiredState {
  const ports = portInterfaces(input);
  const routers = [...input.topology.routers].map((r) => r.name).sort();
  const ctx: CompileContext = {
    topology: input.topology,
    ports,
    routerId: (name) => routers.indexOf(name) + 1,
    stages: VNFS.map((v) => ({ id: v.id, ...(v.inChain ? { inChain: v.inChain } : {}) })),
  };
  const maps: Record<string, MapEntries> = {};
  for (const v of VNFS) Object.assign(maps, v.entries(ctx));
  return {
    topology: input.topology.name,
    interfaces: ports.map((p) => ({
      ifname: p.ifname, ifindex: p.ifindex, source: p.source, network: p.network,
      ...(p.container ? { container: p.container } : {}), ...(p.iface ? { iface: p.iface } : {}),
    })),
    maps,
  };
}
