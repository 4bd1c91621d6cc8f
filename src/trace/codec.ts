/** Codec of bpf/abi/trace.h (layout checked against BTF by test/unit/btf-layout.test.ts). */
import { defineStruct } from '../codec/struct.js';

export { VNF_MAP_TRACE, VNF_TRACE_SLOTS, VNF_TRACE_VERDICT, VNF_TRACE_HOP, VNF_TRACE_FLOOD, VNF_TRACE_PROBE } from '../abi/trace.js';

export interface TraceRec {
  kind: number;
  vnf: number;
  reason: number;
  arg: number;
  in: number;
  out: number;
  chain: number;
  network: number;
  pos: number;
  len: number;
}

export const traceRecCodec = defineStruct<TraceRec>('vnf_trace_rec', [
  ['kind', 'u32'],
  ['vnf', 'u32'],
  ['reason', 'u32'],
  ['arg', 'u32'],
  ['in', 'u32'],
  ['out', 'u32'],
  ['chain', 'u32'],
  ['network', 'u32'],
  ['pos', 'u32'],
  ['len', 'u32'],
]);
