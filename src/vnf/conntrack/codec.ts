/** Codecs of bpf/abi/conntrack.h (shared by the firewall and NAT). */
import { defineStruct } from '../../codec/struct.js';
import type { ConntrackTimeouts } from './model.js';

export const CT_STATES = [
  'none', 'syn-sent', 'syn-recv', 'established', 'fin-wait', 'close-wait', 'last-ack', 'time-wait', 'close', 'udp', 'udp-replied', 'icmp',
] as const;
export type CtStateName = (typeof CT_STATES)[number];
export const CT_STATE = Object.fromEntries(CT_STATES.map((s, i) => [s, i])) as Record<CtStateName, number>;
export const VNF_CT_F_SEEN_REPLY = 0x1;
export const VNF_CT_F_FIN_ORIG = 0x2;
export const VNF_CT_F_FIN_REPLY = 0x4;
export const VNF_CT_F_ASSURED = 0x8;

export interface CtKey {
  zone: number;
  saddr: number;
  daddr: number;
  sport: number;
  dport: number;
  proto: number;
}
export const ctKeyCodec = defineStruct<CtKey>('vnf_ct_key', [
  ['zone', 'u32'],
  ['saddr', 'ipv4'],
  ['daddr', 'ipv4'],
  ['sport', 'be16'],
  ['dport', 'be16'],
  ['proto', 'u8'],
  ['_pad', { pad: 3 }],
]);

export interface CtEntry {
  created_ns: bigint;
  last_seen_ns: bigint;
  packets_orig: bigint;
  bytes_orig: bigint;
  packets_reply: bigint;
  bytes_reply: bigint;
  ruleset: number;
  rule: number;
  state: number;
  flags: number;
  dir: number;
}
export const ctEntryCodec = defineStruct<CtEntry>('vnf_ct_entry', [
  ['created_ns', 'u64'],
  ['last_seen_ns', 'u64'],
  ['packets_orig', 'u64'],
  ['bytes_orig', 'u64'],
  ['packets_reply', 'u64'],
  ['bytes_reply', 'u64'],
  ['ruleset', 'u32'],
  ['rule', 'u32'],
  ['state', 'u8'],
  ['flags', 'u8'],
  ['dir', 'u8'],
  ['_pad', { pad: 5 }],
]);

export interface CtCfg {
  timeout: number[];
}
export const ctCfgCodec = defineStruct<CtCfg>('vnf_ct_cfg', [['timeout', { array: 'u32', length: 16 }]]);

/** Timeouts (seconds) indexed by state, as the kernel reads them. */
export function timeoutTable(t: ConntrackTimeouts): number[] {
  const out = new Array<number>(16).fill(0);
  out[CT_STATE['syn-sent']] = t.tcpSynSent;
  out[CT_STATE['syn-recv']] = t.tcpSynRecv;
  out[CT_STATE.established] = t.tcpEstablished;
  out[CT_STATE['fin-wait']] = t.tcpFinWait;
  out[CT_STATE['close-wait']] = t.tcpCloseWait;
  out[CT_STATE['last-ack']] = t.tcpLastAck;
  out[CT_STATE['time-wait']] = t.tcpTimeWait;
  out[CT_STATE.close] = t.tcpClose;
  out[CT_STATE.udp] = t.udp;
  out[CT_STATE['udp-replied']] = t.udpStream;
  out[CT_STATE.icmp] = t.icmp;
  return out;
}
