/** Codecs of bpf/abi/vnf_common.h (checked against BTF by test/unit/abi-layout.test.ts). */
import { defineStruct } from '../../codec/struct.js';

export const VNF_ABI_VERSION = 1;
export const VNF_ID_CORE = 1;
export const VNF_ID_DELIVER = 1;
export const VNF_MAX_PROGS = 16;
export const VNF_MAX_CHAIN = 15;
export const VNF_MAX_REASONS = 64;
export const VNF_MAX_FLOOD = 64;
export const VNF_PORT_F_ATTACHED = 0x1;
export const VNF_DIR_RX = 0;
export const VNF_DIR_TX = 1;

export interface Counter {
  packets: bigint;
  bytes: bigint;
}
export const counterCodec = defineStruct<Counter>('vnf_counter', [
  ['packets', 'u64'],
  ['bytes', 'u64'],
]);

/** Sums the per-CPU slots of a counter. */
export function sumCounters(slots: Buffer[]): Counter {
  let packets = 0n;
  let bytes = 0n;
  for (const s of slots) {
    const c = counterCodec.decode(s);
    packets += c.packets;
    bytes += c.bytes;
  }
  return { packets, bytes };
}

export interface Meta {
  abi_version: number;
  flags: number;
}
export const metaCodec = defineStruct<Meta>('vnf_meta', [
  ['abi_version', 'u32'],
  ['flags', 'u32'],
]);

export interface Port {
  network: number;
  chain_in: number;
  chain_out: number;
  flags: number;
  /** IPv4 as an unsigned 32-bit number (a.b.c.d = a<<24|...); stored in network order. */
  ip: number;
  mac: string;
  prefix: number;
}
export const portCodec = defineStruct<Port>('vnf_port', [
  ['network', 'u32'],
  ['chain_in', 'u32'],
  ['chain_out', 'u32'],
  ['flags', 'u32'],
  ['ip', 'ipv4'],
  ['mac', 'mac'],
  ['prefix', 'u8'],
  ['_pad', { pad: 1 }],
]);

export interface NetworkEntry {
  fdb_aging_sec: number;
  flood_version: number;
  flood_count: number;
  router_id: number;
  router_ip: number;
  router_mac: string;
  router_prefix: number;
}
export const networkCodec = defineStruct<NetworkEntry>('vnf_network', [
  ['fdb_aging_sec', 'u32'],
  ['flood_version', 'u32'],
  ['flood_count', 'u32'],
  ['router_id', 'u32'],
  ['router_ip', 'ipv4'],
  ['router_mac', 'mac'],
  ['router_prefix', 'u8'],
  ['_pad', { pad: 1 }],
]);

export interface FloodKey {
  network: number;
  version: number;
  index: number;
}
export const floodKeyCodec = defineStruct<FloodKey>('vnf_flood_key', [
  ['network', 'u32'],
  ['version', 'u32'],
  ['index', 'u32'],
]);

export interface Chain {
  len: number;
  vnf: number[];
}
export const chainCodec = defineStruct<Chain>('vnf_chain', [
  ['len', 'u8'],
  ['vnf', { array: 'u8', length: VNF_MAX_CHAIN }],
]);
export function chain(vnfs: number[]): Chain {
  if (vnfs.length > VNF_MAX_CHAIN) throw new RangeError(`a chain holds at most ${VNF_MAX_CHAIN} VNFs`);
  return { len: vnfs.length, vnf: vnfs };
}

export interface PortStatsKey {
  ifindex: number;
  dir: number;
}
export const portStatsKeyCodec = defineStruct<PortStatsKey>('vnf_port_stats_key', [
  ['ifindex', 'u32'],
  ['dir', 'u32'],
]);

/** Reason codes of enum vnf_reason: never renumbered. */
export const REASONS: Record<number, string> = {
  0: 'pass',
  1: 'forward',
  2: 'flood',
  3: 'to-router',
  4: 'routed',
  5: 'arp-reply',
  6: 'icmp-error',
  7: 'arp-request',
  8: 'deliver',
  9: 'arp-learn',
  10: 'icmp-echo-reply',
  11: 'fw-allow',
  12: 'fw-established',
  13: 'fw-reply',
  14: 'fw-related',
  15: 'fw-reject-sent',
  16: 'fw-not-ip',
  17: 'ct-new',
  18: 'ct-expired',
  19: 'ct-revalidated',
  32: 'drop:no-port',
  33: 'drop:no-chain',
  34: 'drop:tail-call',
  35: 'drop:malformed',
  36: 'drop:ttl',
  37: 'drop:no-route',
  38: 'drop:neigh-miss',
  39: 'drop:no-network',
  40: 'drop:hairpin',
  41: 'drop:unsupported',
  42: 'drop:redirect',
  43: 'drop:policy',
  44: 'drop:not-for-us',
  45: 'drop:loop',
  46: 'drop:no-policy',
  47: 'drop:ct-invalid',
  48: 'drop:reject',
  49: 'drop:ct-full',
};
export const REASON = Object.fromEntries(Object.entries(REASONS).map(([k, v]) => [v, Number(k)])) as Record<string, number>;
export const VNF_R_DROP_BASE = 32;
export const statsIndex = (vnfId: number, reason: number): number => vnfId * VNF_MAX_REASONS + reason;
