/**
 * The overlay: one host's slice of a topology that spans hosts. It is not written in the file:
 * the agent (src/agent/) computes it from the store (src/hosts/slice.ts) and puts it under
 * `topology.ext.overlay` of the host's slice, so the generation, the record and `plan` cover it
 * like everything else. A topology without it is a single-host topology, unchanged.
 */

/** An interface of a container that runs on another (live) host. */
export interface RemoteEndpoint {
  /** The host it runs on. */
  host: string;
  container: string;
  iface: string;
  network: string;
  /** Host order, as every address of the model. */
  ip: number;
  prefix: number;
  /** Lowercase. */
  mac: string;
  /** It may send from other addresses (it forwards for them): the receive check takes its MAC only. */
  forwards: boolean;
}

export interface OverlayModel {
  /** This host's name. */
  host: string;
  /** This host's VXLAN device (external / collect_md mode), which the agent creates. */
  device: string;
  /** This host's underlay IPv4 address (host order). */
  local: number;
  /** The MTU of the overlay device: the largest frame (without its Ethernet header) it carries. */
  mtu: number;
  /** The VNI of every network of the topology, by network name. */
  vnis: Record<string, number>;
  /** The other live hosts (their lease is alive), sorted by name. */
  hosts: Array<{ name: string; vtep: number }>;
  /** Interfaces of containers on the other live hosts, sorted by host, container, iface. */
  remotes: RemoteEndpoint[];
}

declare module '../../spec/model.js' {
  interface TopologyExtensions {
    overlay: OverlayModel;
  }
}

/** The overlay part of a slice, if the topology is one host's slice of a multi-host topology. */
export const overlayOf = (t: { ext: { overlay?: OverlayModel } }): OverlayModel | undefined => t.ext.overlay;
