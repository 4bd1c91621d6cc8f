/**
 * struct __sk_buff as a test-run context (BPF_PROG_TEST_RUN ctx_in): the
 * fields the kernel lets a test set. The layout is UAPI; a test checks it
 * against the running kernel's BTF.
 */
import { defineStruct } from '../codec/struct.js';

export interface SkbContext {
  len?: number;
  mark?: number;
  priority?: number;
  ingress_ifindex?: number;
  ifindex?: number;
  cb?: number[];
  tstamp?: bigint;
  wire_len?: number;
  gso_segs?: number;
  gso_size?: number;
}

export const skbCodec = defineStruct<SkbContext>('__sk_buff', [
  ['len', 'u32'],
  ['pkt_type', 'u32'],
  ['mark', 'u32'],
  ['queue_mapping', 'u32'],
  ['protocol', 'u32'],
  ['vlan_present', 'u32'],
  ['vlan_tci', 'u32'],
  ['vlan_proto', 'u32'],
  ['priority', 'u32'],
  ['ingress_ifindex', 'u32'],
  ['ifindex', 'u32'],
  ['tc_index', 'u32'],
  ['cb', { array: 'u32', length: 5 }],
  ['hash', 'u32'],
  ['tc_classid', 'u32'],
  ['data', 'u32'],
  ['data_end', 'u32'],
  ['napi_id', 'u32'],
  ['family', 'u32'],
  ['remote_ip4', 'u32'],
  ['local_ip4', 'u32'],
  ['remote_ip6', { array: 'u32', length: 4 }],
  ['local_ip6', { array: 'u32', length: 4 }],
  ['remote_port', 'u32'],
  ['local_port', 'u32'],
  ['data_meta', 'u32'],
  ['flow_keys', 'u64'],
  ['tstamp', 'u64'],
  ['wire_len', 'u32'],
  ['gso_segs', 'u32'],
  ['sk', 'u64'],
  ['gso_size', 'u32'],
  ['tstamp_type', 'u8'],
  ['_pad1', { pad: 3 }],
  ['hwtstamp', 'u64'],
]);

export function skbContext(c: SkbContext): Buffer {
  return skbCodec.encode(c);
}
