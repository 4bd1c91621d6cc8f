/** Connection tracking's part of the normalized topology (topology.ext.conntrack). */
import type { Topology } from '../../spec/model.js';
import { VNF_CT_DEFAULT_MAX_ASSURED, VNF_CT_DEFAULT_MAX_NEW } from '../../abi/conntrack.js';

export interface ConntrackTimeouts {
  tcpSynSent: number;
  tcpSynRecv: number;
  tcpEstablished: number;
  tcpFinWait: number;
  tcpCloseWait: number;
  tcpLastAck: number;
  tcpTimeWait: number;
  tcpClose: number;
  udp: number;
  udpStream: number;
  icmp: number;
}

export interface ConntrackModel {
  /** Seconds per state; Linux's defaults unless the file sets them. */
  timeouts: ConntrackTimeouts;
  /** Protected (ASSURED) connections one port may hold: beyond, its connections stay early-droppable. */
  maxPerPort: number;
  /** Other (new, unreplied) connections one port may hold: beyond, its new connections are dropped (ct-full). */
  maxNewPerPort: number;
}

declare module '../../spec/model.js' {
  interface TopologyExtensions {
    conntrack: ConntrackModel;
  }
}

/** Linux's nf_conntrack defaults, in seconds. */
export const DEFAULT_CONNTRACK_TIMEOUTS: ConntrackTimeouts = {
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
};

export const timeoutsOf = (t: Topology): ConntrackTimeouts => t.ext.conntrack?.timeouts ?? DEFAULT_CONNTRACK_TIMEOUTS;

/** The per-port quotas when the file sets none (bpf/abi/conntrack.h: an eighth of the table each). */
export const DEFAULT_MAX_PER_PORT = VNF_CT_DEFAULT_MAX_ASSURED;
export const DEFAULT_MAX_NEW_PER_PORT = VNF_CT_DEFAULT_MAX_NEW;

export const conntrackOf = (t: Topology): ConntrackModel =>
  t.ext.conntrack ?? { timeouts: DEFAULT_CONNTRACK_TIMEOUTS, maxPerPort: DEFAULT_MAX_PER_PORT, maxNewPerPort: DEFAULT_MAX_NEW_PER_PORT };
