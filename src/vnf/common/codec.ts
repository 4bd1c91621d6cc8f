/** Codecs of bpf/abi/vnf_common.h. */
import { defineStruct } from '../../codec/struct.js';

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
