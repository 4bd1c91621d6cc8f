/** Codecs of bpf/abi/vnf_common.h (layouts checked against BTF by test/unit/btf-layout.test.ts). */
import { defineStruct } from '../../codec/struct.js';
import { enum_vnf_reason, VNF_MAX_CHAIN, VNF_MAX_REASONS, VNF_R_DROP_BASE } from '../../abi/vnf_common.js';

export {
  VNF_ABI_VERSION, VNF_ID_CORE, VNF_ID_DELIVER, VNF_MAX_PROGS, VNF_MAX_CHAIN, VNF_MAX_REASONS, VNF_MAX_FLOOD,
  VNF_PORT_F_ATTACHED, VNF_PORT_F_OVERLAY, VNF_PORT_F_SPOOFCHK, VNF_PORT_SRC_MAX, VNF_DIR_RX, VNF_DIR_TX, VNF_R_DROP_BASE, VNF_IDK_NEXT, VNF_IDK_NETWORK, VNF_IDK_ROUTER, VNF_IDK_GROUP,
  VNF_ID_NAME_LEN, VNF_PORTS_MAX, VNF_NETWORKS_MAX, VNF_CHAINS_MAX, VNF_FLOOD_ENTRIES_MAX, VNF_PORT_STATS_MAX,
  VNF_IDS_MAX, VNF_STATS_ENTRIES,
} from '../../abi/vnf_common.js';

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
  generation: bigint;
}
export const metaCodec = defineStruct<Meta>('vnf_meta', [
  ['abi_version', 'u32'],
  ['flags', 'u32'],
  ['generation', 'u64'],
]);

export interface IdKey {
  kind: number;
  name: string;
}
const idKeyStruct = defineStruct<{ kind: number; name: Buffer }>('vnf_id_key', [
  ['kind', 'u32'],
  ['name', { bytes: 16 }],
]);
/** vnf_id_key with the name as a string (NUL-padded in the kernel). */
export const idKeyCodec = {
  ...idKeyStruct,
  encode: (k: IdKey): Buffer => idKeyStruct.encode({ kind: k.kind, name: Buffer.from(k.name, 'utf8') }),
  decode: (b: Uint8Array, off = 0): IdKey => {
    const r = idKeyStruct.decode(b, off);
    const end = r.name.indexOf(0);
    return { kind: r.kind, name: r.name.subarray(0, end < 0 ? r.name.length : end).toString('utf8') };
  },
};

export interface IdValue {
  id: number;
}
export const idCodec = defineStruct<IdValue>('vnf_id', [
  ['id', 'u32'],
  ['_pad', { pad: 4 }],
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

export interface PortSrcKey {
  /** 32 (ifindex bits) + the prefix length. */
  prefixlen: number;
  ifindex: number;
  addr: number;
}
/** ifindex is big-endian so the trie's prefix runs over (port, address). */
export const portSrcKeyCodec = defineStruct<PortSrcKey>('vnf_port_src_key', [
  ['prefixlen', 'u32'],
  ['ifindex', 'be32'],
  ['addr', 'ipv4'],
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

/** VNF_R_FW_ALLOW -> 'fw-allow', VNF_R_DROP_NO_PORT -> 'drop:no-port'. */
function reasonName(constant: string): string {
  const s = constant.replace(/^VNF_R_/, '');
  const drop = s.startsWith('DROP_');
  const words = (drop ? s.slice(5) : s).toLowerCase().replaceAll('_', '-');
  return drop ? `drop:${words}` : words;
}

/** Reason codes of enum vnf_reason (never renumbered), by value. */
export const REASONS: Record<number, string> = Object.fromEntries(
  Object.entries(enum_vnf_reason).filter(([k]) => k !== 'VNF_R_DROP_BASE').map(([k, v]) => [v, reasonName(k)]),
);
export const REASON = Object.fromEntries(Object.entries(REASONS).map(([k, v]) => [v, Number(k)])) as Record<string, number>;
export const isDrop = (reason: number): boolean => reason >= VNF_R_DROP_BASE;
export const statsIndex = (vnfId: number, reason: number): number => vnfId * VNF_MAX_REASONS + reason;
