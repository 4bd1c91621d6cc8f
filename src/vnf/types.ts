/**
 * What a VNF module provides to the control plane. Adding a VNF means adding
 * bpf/<vnf>.bpf.c, bpf/abi/<vnf>.h and src/vnf/<vnf>/ and listing the module
 * in src/vnf/registry.ts.
 */
import type { MapEntries, ManagedMap } from '../model/desired.js';
import type { Topology } from '../spec/model.js';

/** An interface that carries a port: a lab/file container interface or an attachment. */
export interface PortInterface {
  ifname: string;
  ifindex: number;
  source: 'file' | 'attach';
  container?: string;
  iface?: string;
  network: string;
  networkId: number;
  ip: number;
  prefix: number;
  /** Lowercase MAC, or undefined when unknown (attachment without a namespace). */
  mac?: string;
  firewall?: string;
}

export interface CompileContext {
  topology: Topology;
  ports: PortInterface[];
  /** Router id (1..N by router name). */
  routerId(name: string): number;
  /** The VNFs, in chain order (for composing chains). */
  stages: ReadonlyArray<{ id: number; inChain?: (p: PortInterface) => boolean }>;
}

export interface VnfModule {
  id: number;
  name: string;
  /** build/bpf/<object>.bpf.o */
  object: string;
  /** Every program of the object (pinned per build). */
  programs: string[];
  /** The program that fills slot `id` of vnf_progs. */
  slotProgram?: string;
  maps: ManagedMap[];
  /** Desired entries of this VNF's maps. */
  entries(ctx: CompileContext): Record<string, MapEntries>;
  /** One line describing an entry, for plan and get. */
  describe(map: string, key: Buffer, value: Buffer | undefined): string;
  /** Whether this VNF runs in a port's chains (before the forwarder and before delivery). */
  inChain?(port: PortInterface): boolean;
}
