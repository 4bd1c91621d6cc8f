/**
 * The bridge VNF: static FDB entries for every port whose MAC is known (a plain hash the
 * dataplane looks up first), and the FDB it learns (LRU) — kept unless its network is gone or
 * its port left that network.
 */
import { put, type MapEntries } from '../../model/desired.js';
import { VNF_MAP_FDB, VNF_MAP_FDB_STATIC, VNF_MAP_LEARN } from '../../abi/bridge.js';
import { VNF_PORTS_MAX } from '../../abi/vnf_common.js';
import type { CompileContext, MapDecl, StatusReader, StatusSection, VnfModule } from '../types.js';
import { overlayOf } from '../overlay/model.js';
import { fdbEntryCodec, fdbKeyCodec, learnCodec, VNF_FDB_F_REMOTE, VNF_FDB_F_STATIC, VNF_FDB_MAX, VNF_FDB_STATIC_MAX, VNF_ID_BRIDGE } from './codec.js';

function entries(ctx: CompileContext): Record<string, MapEntries> {
  const fdb: MapEntries = new Map();
  for (const p of ctx.ports) {
    if (!p.mac) continue;
    put(fdb, fdbKeyCodec.encode({ network: p.networkId, mac: p.mac }), fdbEntryCodec.encode({ ifindex: p.ifindex, flags: VNF_FDB_F_STATIC, updated_ns: 0n }));
  }
  // Endpoints on other hosts (a slice's ext.overlay): behind this host's VXLAN device.
  const o = overlayOf(ctx.topology);
  const device = ctx.ports.find((p) => p.source === 'overlay');
  if (o && device) {
    const live = new Set(o.hosts.map((h) => h.name));
    const networks = new Set(ctx.topology.networks.map((n) => n.name));
    for (const r of o.remotes) {
      if (!live.has(r.host) || !networks.has(r.network) || o.vnis[r.network] === undefined) continue;
      put(fdb, fdbKeyCodec.encode({ network: ctx.networkId(r.network), mac: r.mac }), fdbEntryCodec.encode({
        ifindex: device.ifindex, flags: VNF_FDB_F_STATIC | VNF_FDB_F_REMOTE, updated_ns: 0n,
      }));
    }
  }
  return { [VNF_MAP_FDB_STATIC]: fdb };
}

function describe(key: Buffer, value: Buffer | undefined, names: Parameters<NonNullable<MapDecl['describe']>>[2]): string {
  const k = fdbKeyCodec.decode(key);
  const head = `fdb ${names.network(k.network)} ${k.mac}`;
  return value ? `${head} -> ${names.ifname(fdbEntryCodec.decode(value).ifindex)}` : head;
}

function status(r: StatusReader): StatusSection[] {
  const rows: StatusSection['rows'] = [];
  for (const [map, kind] of [[VNF_MAP_FDB_STATIC, 'static'], [VNF_MAP_FDB, 'learned']] as const) {
    for (const [k, v] of r.entries(map)) {
      const key = fdbKeyCodec.decode(k);
      const e = fdbEntryCodec.decode(v);
      rows.push({
        network: r.names.network(key.network), mac: key.mac, ifname: r.names.ifname(e.ifindex), kind,
        ageSeconds: kind === 'learned' ? Number((r.now - e.updated_ns) / 1_000_000_000n) : null,
      });
    }
  }
  rows.sort((a, b) => String(a['network']).localeCompare(String(b['network'])) || String(a['mac']).localeCompare(String(b['mac'])));
  return [{ key: 'fdb', title: 'FDB', columns: ['network', 'mac', 'ifname', 'kind', 'ageSeconds'], headers: ['network', 'mac', 'interface', 'kind', 'age (s)'], rows }];
}

export const bridgeModule: VnfModule = {
  name: 'bridge',
  id: VNF_ID_BRIDGE,
  object: 'bridge',
  programs: ['vnf_bridge'],
  slotProgram: 'vnf_bridge',
  maps: [
    {
      name: VNF_MAP_FDB_STATIC, type: 'hash', keySize: fdbKeyCodec.size, valueSize: fdbEntryCodec.size,
      maxEntries: VNF_FDB_STATIC_MAX, kind: 'config', stage: 'publish', order: 10, describe,
    },
    {
      name: VNF_MAP_FDB, type: 'lru_hash', keySize: fdbKeyCodec.size, valueSize: fdbEntryCodec.size,
      maxEntries: VNF_FDB_MAX, kind: 'learned', describe,
      // A learned MAC means something while its port is a port of the same network.
      keep: (key, value, live) => live.ports.get(fdbEntryCodec.decode(value).ifindex) === fdbKeyCodec.decode(key).network,
      dependsOn: ['ports', 'networks'],
    },
    {
      // How many new MACs each port taught the bridge in the current window.
      name: VNF_MAP_LEARN, type: 'hash', keySize: 4, valueSize: learnCodec.size, maxEntries: VNF_PORTS_MAX,
      kind: 'learned', keep: (key, _v, live) => live.ports.has(key.readUInt32LE(0)), dependsOn: ['ports'],
    },
  ],
  entries,
  status,
};
