/**
 * What `vnf-ctl get --store` shows (pure): the hosts (registered or named by the topology), their
 * liveness and what they applied, and where every endpoint lives.
 */
import { formatAddr } from '../spec/ipv4.js';
import type { Topology } from '../spec/model.js';
import type { Snapshot } from './snapshot.js';

export interface HostStatus {
  name: string;
  underlay: string | null;
  /** Its lease is alive (its registration is in the store). */
  alive: boolean;
  appliedRevision: number | null;
  appliedAt: string | null;
  error: string | null;
}

export interface EndpointStatus {
  container: string;
  iface: string;
  network: string;
  ip: string;
  mac: string;
  host: string | null;
  hostAlive: boolean;
}

export interface StoreStatus {
  topology: { name: string; revision: number } | null;
  hosts: HostStatus[];
  endpoints: EndpointStatus[];
}

export function storeStatus(snap: Snapshot, topology: Topology | undefined): StoreStatus {
  const names = new Set<string>([...snap.hosts.keys(), ...snap.applied.keys()]);
  for (const c of topology?.containers ?? []) if (c.host !== undefined) names.add(c.host);
  const hosts = [...names].sort().map((name): HostStatus => {
    const h = snap.hosts.get(name);
    const a = snap.applied.get(name);
    return { name, underlay: h?.underlay ?? null, alive: h !== undefined, appliedRevision: a?.revision ?? null, appliedAt: a?.at ?? null, error: a?.error ?? null };
  });
  const endpoints = (topology?.containers ?? []).flatMap((c) => c.interfaces.map((i): EndpointStatus => ({
    container: c.name, iface: i.name, network: i.network, ip: formatAddr(i.ip), mac: i.mac, host: c.host ?? null, hostAlive: c.host !== undefined && snap.hosts.has(c.host),
  })));
  return { topology: topology && snap.topology ? { name: topology.name, revision: snap.topology.revision } : null, hosts, endpoints };
}

/** How far a host's applied revision is behind the stored one: "-" when there is nothing to compare. */
export function lagOf(h: HostStatus, stored: number | undefined): string {
  if (stored === undefined || h.appliedRevision === null) return '-';
  return h.appliedRevision >= stored ? 'in sync' : `${stored - h.appliedRevision} revisions behind`;
}
