/** The bridge VNF: static FDB entries for every port whose MAC is known. */
import { put, type MapEntries } from '../../model/desired.js';
import type { CompileContext, VnfModule } from '../types.js';
import { fdbEntryCodec, fdbKeyCodec, VNF_FDB_F_STATIC, VNF_ID_BRIDGE } from './codec.js';

function entries(ctx: CompileContext): Record<string, MapEntries> {
  const fdb: MapEntries = new Map();
  for (const p of ctx.ports) {
    if (!p.mac) continue;
    put(fdb, fdbKeyCodec.encode({ network: p.networkId, mac: p.mac }), fdbEntryCodec.encode({ ifindex: p.ifindex, flags: VNF_FDB_F_STATIC, updated_ns: 0n }));
  }
  return { vnf_fdb: fdb };
}

export const bridgeModule: VnfModule = {
  id: VNF_ID_BRIDGE,
  name: 'bridge',
  object: 'bridge',
  programs: ['vnf_bridge'],
  slotProgram: 'vnf_bridge',
  maps: [{ name: 'vnf_fdb', owns: 'static', order: 10, isStatic: (v) => (fdbEntryCodec.decode(v).flags & VNF_FDB_F_STATIC) !== 0 }],
  entries,
  describe(_map, key, value) {
    const k = fdbKeyCodec.decode(key);
    if (!value) return `fdb network ${k.network} ${k.mac}`;
    const e = fdbEntryCodec.decode(value);
    return `fdb network ${k.network} ${k.mac} -> ifindex ${e.ifindex}${e.flags & VNF_FDB_F_STATIC ? ' (static)' : ''}`;
  },
};
