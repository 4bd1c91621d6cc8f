/** What the agent reads from its own host: which containers' interfaces exist, and which topologies are its slices. */
import { hostVethName } from '../model/names.js';
import { ifindexOf } from '../observe/interfaces.js';
import { listTopologies } from '../observe/kernel.js';
import { peekRecord } from '../state/store.js';
import type { Topology } from '../spec/model.js';

/** Whether every interface of the container has its host-side veth here (the runtime created it). */
export const containerReady = (t: Topology, container: string): boolean =>
  t.containers.find((c) => c.name === container)?.interfaces.every((i) => ifindexOf(hostVethName(t.name, container, i.name)) !== undefined) ?? false;

/** Topologies applied here as this host's slice (their record carries ext.overlay for this host). */
export function localSlices(host: string): string[] {
  return listTopologies().filter((name) => peekRecord(name)?.topology.ext.overlay?.host === host);
}
