/** Codecs of bpf/abi/monitor.h (layouts checked against BTF by test/unit/btf-layout.test.ts). */
import { defineStruct } from '../codec/struct.js';

export interface MonEvent {
  ts_ns: bigint;
  type: number;
  vnf: number;
  action: number;
  flags: number;
  reason: number;
  ifindex: number;
  in: number;
  out: number;
  network: number;
  ruleset: number;
  rule: number;
  len: number;
  /** Network order in the kernel; decoded as a host number (formatAddr prints it). */
  saddr: number;
  daddr: number;
  sport: number;
  dport: number;
  proto: number;
}
export const monEventCodec = defineStruct<MonEvent>('vnf_mon_event', [
  ['ts_ns', 'u64'],
  ['type', 'u8'],
  ['vnf', 'u8'],
  ['action', 'u8'],
  ['flags', 'u8'],
  ['reason', 'u32'],
  ['ifindex', 'u32'],
  ['in', 'u32'],
  ['out', 'u32'],
  ['network', 'u32'],
  ['ruleset', 'u32'],
  ['rule', 'u32'],
  ['len', 'u32'],
  ['saddr', 'ipv4'],
  ['daddr', 'ipv4'],
  ['sport', 'u16'],
  ['dport', 'u16'],
  ['proto', 'u8'],
  ['_pad', { pad: 7 }],
]);

export interface MonCfg {
  heartbeat_ns: bigint[];
  rate: number;
  burst: number;
}
export const monCfgCodec = defineStruct<MonCfg>('vnf_mon_cfg', [
  ['heartbeat_ns', { array: 'u64', length: 3 }],
  ['rate', 'u32'],
  ['burst', 'u32'],
]);

export interface MonState {
  refill_ns: bigint;
  tokens: bigint;
  emitted: bigint;
  lost_full: bigint;
  lost_rate: bigint;
  expired: bigint;
}
export const monStateCodec = defineStruct<MonState>('vnf_mon_state', [
  ['refill_ns', 'u64'],
  ['tokens', 'u64'],
  ['emitted', 'u64'],
  ['lost_full', 'u64'],
  ['lost_rate', 'u64'],
  ['expired', 'u64'],
]);
