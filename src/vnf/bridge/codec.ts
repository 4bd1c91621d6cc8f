/** Codecs of bpf/abi/bridge.h. */
import { defineStruct } from '../../codec/struct.js';

export const VNF_ID_BRIDGE = 2;
export const VNF_FDB_F_STATIC = 0x1;

export interface FdbKey {
  network: number;
  mac: string;
}
export const fdbKeyCodec = defineStruct<FdbKey>('vnf_fdb_key', [
  ['network', 'u32'],
  ['mac', 'mac'],
  ['_pad', { pad: 2 }],
]);

export interface FdbEntry {
  ifindex: number;
  flags: number;
  updated_ns: bigint;
}
export const fdbEntryCodec = defineStruct<FdbEntry>('vnf_fdb_entry', [
  ['ifindex', 'u32'],
  ['flags', 'u32'],
  ['updated_ns', 'u64'],
]);
