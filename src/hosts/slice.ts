/**
 * One host's slice of a topology that spans hosts (pure): the topology with only this host's
 * containers, every network and router (routing is distributed: each host routes for its own
 * containers), and `ext.overlay` (src/vnf/overlay/model.ts) filled from the live hosts.
 * Endpoints of hosts that are not live (no lease) are left out, so traffic to them is not sent
 * into the void and their flood entries go.
 */
import type { Topology } from '../spec/model.js';
import type { OverlayModel, RemoteEndpoint } from '../vnf/overlay/model.js';

/** The overlay device's overhead: outer IPv4 (20) + UDP (8) + VXLAN (8) + inner Ethernet (14). */
export const VXLAN_OVERHEAD = 50;

export interface SliceInput {
  topology: Topology;
  /** This host. */
  host: string;
  /** The live hosts (this one may be among them) and their underlay (VTEP) address, host order. */
  hosts: ReadonlyMap<string, number>;
  /** This host's VXLAN device. */
  device: string;
  /** This host's underlay address, host order. */
  local: number;
  /** The underlay interface's MTU. */
  underlayMtu: number;
  /** Local containers whose host interfaces exist; the others are left out until they do. All when absent. */
  ready?: (container: string) => boolean;
}

const byName = (a: { name: string }, b: { name: string }): number => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

export function sliceFor(input: SliceInput): Topology {
  const { topology: t, host } = input;
  const ready = input.ready ?? (() => true);
  const containers = t.containers.filter((c) => c.host === host && ready(c.name));
  const vnis: Record<string, number> = {};
  for (const n of [...t.networks].sort(byName)) if (n.vni !== undefined) vnis[n.name] = n.vni;
  const others = [...input.hosts].filter(([name]) => name !== host).map(([name, vtep]) => ({ name, vtep })).sort(byName);
  const live = new Set(others.map((h) => h.name));
  const remotes: RemoteEndpoint[] = [];
  for (const c of t.containers) {
    if (c.host === undefined || !live.has(c.host)) continue;
    for (const i of c.interfaces) {
      remotes.push({ host: c.host, container: c.name, iface: i.name, network: i.network, ip: i.ip, prefix: i.prefix, mac: i.mac.toLowerCase(), forwards: i.allowedSources.length > 0 });
    }
  }
  remotes.sort((a, b) => cmp(a.host, b.host) || cmp(a.container, b.container) || cmp(a.iface, b.iface));
  const overlay: OverlayModel = {
    host,
    device: input.device,
    local: input.local,
    mtu: input.underlayMtu - VXLAN_OVERHEAD,
    vnis,
    hosts: others,
    remotes,
  };
  return { ...t, containers, ext: { ...t.ext, overlay } };
}

/** The hosts the topology's containers name, sorted. */
export function hostsOf(t: Topology): string[] {
  return [...new Set(t.containers.flatMap((c) => (c.host === undefined ? [] : [c.host])))].sort();
}
