/**
 * Connection tracking, shared by the firewall and NAT: one table per topology, entries zoned by
 * the port whose policy tracks them (bpf/include/vnf/conntrack.h). The control plane writes the
 * timeouts and removes the entries of ports that are gone; the dataplane owns the rest.
 */
import { u32 } from '../../codec/struct.js';
import { put, type MapEntries } from '../../model/desired.js';
import { VNF_CT_LOCKS, VNF_CT_MAX, VNF_MAP_CT, VNF_MAP_CT_CFG, VNF_MAP_CT_LOCK } from '../../abi/conntrack.js';
import type { CompileContext, VnfModule } from '../types.js';
import { ctCfgCodec, ctEntryCodec, ctKeyCodec, timeoutTable } from './codec.js';
import { timeoutsOf } from './model.js';
import { conntrackSpec } from './spec.js';

function entries(ctx: CompileContext): Record<string, MapEntries> {
  const cfg: MapEntries = new Map();
  put(cfg, u32(0), ctCfgCodec.encode({ timeout: timeoutTable(timeoutsOf(ctx.topology)) }));
  return { [VNF_MAP_CT_CFG]: cfg };
}

export const conntrackModule: VnfModule = {
  name: 'conntrack',
  spec: conntrackSpec,
  maps: [
    {
      name: VNF_MAP_CT_CFG, type: 'array', keySize: 4, valueSize: ctCfgCodec.size, maxEntries: 1,
      kind: 'config', stage: 'define', order: 50, describe: () => 'conntrack timeouts',
    },
    {
      name: VNF_MAP_CT, type: 'lru_hash', keySize: ctKeyCodec.size, valueSize: ctEntryCodec.size, maxEntries: VNF_CT_MAX,
      kind: 'learned',
      // Zone = the ifindex of the tracking port: its connections go with it.
      keep: (key, _v, live) => live.ports.has(key.readUInt32LE(0)),
      dependsOn: ['ports'],
    },
    // Locks serialising TCP window updates (struct bpf_spin_lock): the dataplane's alone.
    { name: VNF_MAP_CT_LOCK, type: 'array', keySize: 4, valueSize: 4, maxEntries: VNF_CT_LOCKS, kind: 'kernel' },
  ],
  entries,
};
