/**
 * The monitor's maps in the map registry (declared by the core, whose objects all carry them:
 * bpf/include/vnf/monitor.h). The dataplane and `vnf-ctl monitor` own their content; apply only
 * makes sure they exist (a topology applied before they did gets them on its next apply, which
 * reloads the programs because a registered map is missing) and checks their layout.
 */
import { VNF_MAP_EVENTS, VNF_MAP_MON_CFG, VNF_MAP_MON_STATE, VNF_MON_RINGBUF_SIZE } from '../abi/monitor.js';
import type { MapDecl } from '../vnf/types.js';
import { monCfgCodec, monStateCodec } from './codec.js';

export const monitorMaps: MapDecl[] = [
  { name: VNF_MAP_EVENTS, type: 'ringbuf', keySize: 0, valueSize: 0, maxEntries: VNF_MON_RINGBUF_SIZE, kind: 'kernel' },
  { name: VNF_MAP_MON_CFG, type: 'array', keySize: 4, valueSize: monCfgCodec.size, maxEntries: 1, kind: 'kernel' },
  { name: VNF_MAP_MON_STATE, type: 'percpu_array', keySize: 4, valueSize: monStateCodec.size, maxEntries: 1, kind: 'kernel' },
];
