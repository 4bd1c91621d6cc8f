/**
 * Names of one simulated cluster: every namespace carries the cluster's prefix (random, short),
 * so two clusters (two tests, a test and the bench, another helper's) never meet. Interface
 * names inside a cluster's namespaces are fixed: each namespace is private to the cluster.
 */
import { randomBytes } from 'node:crypto';

/** The underlay bridge (the physical network) inside the underlay namespace. */
export const UNDERLAY_BRIDGE = 'ulbr';
/** Each host's interface on the underlay. */
export const UNDERLAY_IF = 'ul0';
export const UNDERLAY_MTU = 1500;
/** A container interface's MTU: the overlay (VXLAN over IPv4) takes 50 bytes of the underlay's 1500. */
export const OVERLAY_MTU = 1450;
/** The agent's VXLAN device in each host (its --device default). */
export const OVERLAY_DEVICE = 'vnfvx0';

export interface ClusterNames {
  prefix: string;
  /** The underlay's namespace (bridge, etcd, vnf-ctl). */
  underlay: string;
  /** 10.<octet>.0.0/24 is the underlay subnet. */
  octet: number;
}

/** A fresh cluster name set; `prefix` defaults to "vs" + 6 random hex digits. */
export function clusterNames(prefix?: string): ClusterNames {
  const p = prefix ?? `vs${randomBytes(3).toString('hex')}`;
  return { prefix: p, underlay: `${p}-ul`, octet: 16 + (randomBytes(1)[0]! % 200) };
}

/** The host's name as its agent registers it: h1, h2, … (short, and what topology files use). */
export const hostName = (i: number): string => `h${i + 1}`;
export const hostNetns = (n: ClusterNames, host: string): string => `${n.prefix}-${host}`;
/** The underlay address of host number i (0-based): .11, .12, … The bridge holds .1. */
export const hostAddr = (n: ClusterNames, i: number): string => `10.${n.octet}.0.${11 + i}`;
export const bridgeAddr = (n: ClusterNames): string => `10.${n.octet}.0.1`;
/** The underlay-side end of host i's veth (in the underlay namespace). */
export const underlayPort = (host: string): string => `ul-${host}`;
