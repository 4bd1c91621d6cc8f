/** Codecs of bpf/abi/nat.h (layouts checked against BTF by test/unit/abi-layout.test.ts). */
import { defineStruct } from '../../codec/struct.js';

export {
  VNF_ID_NAT, VNF_NAT_NETS_MAX, VNF_NAT_MASQ_MAX, VNF_NAT_FLOAT_MAX, VNF_NAT_FWD_MAX, VNF_NAT_MAX, VNF_NAT_PROBES,
  VNF_NAT_GC_INTERVAL_MS, VNF_NAT_DEFAULT_PORT_MIN, VNF_NAT_DEFAULT_PORT_MAX, VNF_NAT_NET_OUTSIDE, VNF_NAT_NET_INSIDE,
  VNF_NAT_FLOAT_BY_OUTSIDE, VNF_NAT_FLOAT_BY_INSIDE, VNF_NAT_AT_OUT_IN, VNF_NAT_AT_OUT_OUT, VNF_NAT_AT_IN_IN,
  VNF_NAT_K_MASQ, VNF_NAT_K_FLOAT_OUT, VNF_NAT_K_FLOAT_IN, VNF_NAT_K_FORWARD, VNF_NAT_GC_SIZE,
  VNF_MAP_NAT_NETS, VNF_MAP_NAT_MASQ, VNF_MAP_NAT_FLOAT, VNF_MAP_NAT_FWD, VNF_MAP_NAT, VNF_MAP_NAT_GC,
  VNF_MAP_NAT_SRC, VNF_NAT_SRC_MAX, VNF_NAT_DEFAULT_MAX_PER_SOURCE, VNF_NAT_DEFAULT_MAX_INBOUND,
} from '../../abi/nat.js';
export { VNF_CT_ZONE_NAT } from '../../abi/conntrack.js';

/** The conntrack zone of a router's NAT (VNF_NAT_ZONE in bpf/abi/nat.h). */
export const natZone = (routerId: number): number => (0x80000000 | routerId) >>> 0;

export interface NatNet {
  router_id: number;
  flags: number;
  outside_ip: number;
  /** Host order, inclusive. */
  port_min: number;
  port_max: number;
  /** Fairness quotas (0: the kernel's defaults). */
  max_per_source: number;
  max_inbound: number;
}
export const natNetCodec = defineStruct<NatNet>('vnf_nat_net', [
  ['router_id', 'u32'],
  ['flags', 'u32'],
  ['outside_ip', 'ipv4'],
  ['port_min', 'u16'],
  ['port_max', 'u16'],
  ['max_per_source', 'u32'],
  ['max_inbound', 'u32'],
]);

export interface NatSrcKey {
  zone: number;
  /** An inside address; 0 for the world's connections. */
  addr: number;
}
export const natSrcKeyCodec = defineStruct<NatSrcKey>('vnf_nat_src_key', [
  ['zone', 'u32'],
  ['addr', 'ipv4'],
]);

export interface NatSrc {
  /** Read as signed: a count below zero (mappings made before counting began) never blocks. */
  count: bigint;
}
export const natSrcCodec = defineStruct<NatSrc>('vnf_nat_src', [['count', 'u64']]);

export interface NatMasqKey {
  /** 32 (router id bits) + the prefix length. */
  prefixlen: number;
  router_id: number;
  addr: number;
}
/** router_id is big-endian so the trie's prefix runs over (router id, address). */
export const natMasqKeyCodec = defineStruct<NatMasqKey>('vnf_nat_masq_key', [
  ['prefixlen', 'u32'],
  ['router_id', 'be32'],
  ['addr', 'ipv4'],
]);

export interface NatFloatKey {
  router_id: number;
  addr: number;
  which: number;
}
export const natFloatKeyCodec = defineStruct<NatFloatKey>('vnf_nat_float_key', [
  ['router_id', 'u32'],
  ['addr', 'ipv4'],
  ['which', 'u32'],
]);

export interface NatFloat {
  addr: number;
}
export const natFloatCodec = defineStruct<NatFloat>('vnf_nat_float', [['addr', 'ipv4']]);

export interface NatFwdKey {
  router_id: number;
  port: number;
  proto: number;
}
export const natFwdKeyCodec = defineStruct<NatFwdKey>('vnf_nat_fwd_key', [
  ['router_id', 'u32'],
  ['port', 'be16'],
  ['proto', 'u8'],
  ['_pad', { pad: 1 }],
]);

export interface NatFwd {
  addr: number;
  port: number;
}
export const natFwdCodec = defineStruct<NatFwd>('vnf_nat_fwd', [
  ['addr', 'ipv4'],
  ['port', 'be16'],
  ['_pad', { pad: 2 }],
]);

export interface NatKey {
  zone: number;
  saddr: number;
  daddr: number;
  sport: number;
  dport: number;
  proto: number;
  at: number;
}
export const natKeyCodec = defineStruct<NatKey>('vnf_nat_key', [
  ['zone', 'u32'],
  ['saddr', 'ipv4'],
  ['daddr', 'ipv4'],
  ['sport', 'be16'],
  ['dport', 'be16'],
  ['proto', 'u8'],
  ['at', 'u8'],
  ['_pad', { pad: 2 }],
]);

export interface NatEntry {
  saddr: number;
  daddr: number;
  sport: number;
  dport: number;
  /** struct vnf_ct_key, raw (decode with ctKeyCodec). */
  ct: Buffer;
  dir: number;
  kind: number;
  peer_at: number;
}
export const natEntryCodec = defineStruct<NatEntry>('vnf_nat_entry', [
  ['saddr', 'ipv4'],
  ['daddr', 'ipv4'],
  ['sport', 'be16'],
  ['dport', 'be16'],
  ['ct', { bytes: 20 }],
  ['dir', 'u8'],
  ['kind', 'u8'],
  ['peer_at', 'u8'],
  ['_pad', { pad: 1 }],
]);
