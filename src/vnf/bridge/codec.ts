/** Codecs of bpf/abi/bridge.h (layouts checked against BTF by test/unit/btf-layout.test.ts). */
import { defineStruct } from '../../codec/struct.js';

export { VNF_ID_BRIDGE, VNF_FDB_F_REMOTE, VNF_FDB_F_STATIC, VNF_FDB_MAX, VNF_FDB_STATIC_MAX, VNF_LEARN_PER_PORT } from '../../abi/bridge.js';

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

export interface LearnEntry {
  window_ns: bigint;
  count: number;
}
export const learnCodec = defineStruct<LearnEntry>('vnf_learn', [
  ['window_ns', 'u64'],
  ['count', 'u32'],
  ['_pad', { pad: 4 }],
]);
