/** Connection tracking's part of the normalized topology (topology.ext.conntrack). */
import type { Topology } from '../../spec/model.js';

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
