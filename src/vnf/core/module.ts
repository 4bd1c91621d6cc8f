/**
 * The core: entry programs on every port, the DELIVER stage, and the shared maps (ids, ports,
 * networks, chains, flood lists, meta, counters).
 */
import { createHash } from 'node:crypto';
import { u32 } from '../../codec/struct.js';
import { contentId } from '../../model/names.js';
import { idEntries } from '../../model/ids.js';
import { put, type MapEntries } from '../../model/desired.js';
import { formatAddr } from '../../spec/ipv4.js';
import type { Topology } from '../../spec/model.js';
import {
  VNF_MAP_CHAINS, VNF_MAP_FLOOD, VNF_MAP_IDS, VNF_MAP_META, VNF_MAP_NETWORKS, VNF_MAP_PORTS, VNF_MAP_PORT_STATS,
  VNF_MAP_PORT_SRC, VNF_MAP_PROGS, VNF_MAP_STATS,
} from '../../abi/vnf_common.js';
import {
  chain, chainCodec, counterCodec, floodKeyCodec, idCodec, idKeyCodec, metaCodec, networkCodec, portCodec,
  portSrcKeyCodec, portStatsKeyCodec, VNF_ABI_VERSION, VNF_PORT_F_OVERLAY, VNF_PORT_F_SPOOFCHK, VNF_PORT_SRC_MAX, VNF_CHAINS_MAX, VNF_FLOOD_ENTRIES_MAX, VNF_ID_CORE, VNF_IDS_MAX, VNF_IDK_NEXT,
  VNF_MAX_PROGS, VNF_NETWORKS_MAX, VNF_PORT_F_ATTACHED, VNF_PORT_STATS_MAX, VNF_PORTS_MAX, VNF_STATS_ENTRIES,
} from '../common/codec.js';
import type { CompileContext, MapDecl, StatusReader, StatusSection, VnfModule } from '../types.js';
import { monitorMaps } from '../../monitor/maps.js';

const ZERO_MAC = '00:00:00:00:00:00';

export const chainId = (vnfs: number[]): number => contentId(['chain', ...vnfs]);

/** The JSON of a topology and its generation (what the record of it must name to be trusted), once per topology object. */
const serialized = new WeakMap<Topology, { json: string; generation: bigint }>();
export function serialize(t: Topology): { json: string; generation: bigint } {
  let s = serialized.get(t);
  if (!s) {
    const json = JSON.stringify(t);
    s = { json, generation: createHash('sha256').update(json).digest().readBigUInt64LE(0) };
    serialized.set(t, s);
  }
  return s;
}
export const generationOf = (t: Topology): bigint => serialize(t).generation;

function coreEntries(ctx: CompileContext): Record<string, MapEntries> {
  const ports: MapEntries = new Map();
  const chains: MapEntries = new Map();
  const networks: MapEntries = new Map();
  const flood: MapEntries = new Map();
  const meta: MapEntries = new Map();
  const sources: MapEntries = new Map();
  put(meta, u32(0), metaCodec.encode({ abi_version: VNF_ABI_VERSION, flags: 0, generation: generationOf(ctx.topology) }));

  const members = new Map<number, number[]>();
  for (const p of ctx.ports) {
    const { chainIn, chainOut } = ctx.chains(p);
    for (const c of [chainIn, chainOut]) put(chains, u32(chainId(c)), chainCodec.encode(chain(c)));
    put(ports, u32(p.ifindex), portCodec.encode({
      network: p.networkId,
      chain_in: chainId(chainIn),
      chain_out: chainId(chainOut),
      // Every port sends only as itself (its identity is checked at its ingress); an uplink
      // carries the world (many hosts), and has no identity to check.
      flags: (p.source === 'uplink' || p.source === 'overlay' ? 0 : VNF_PORT_F_SPOOFCHK) | (p.source === 'attach' ? VNF_PORT_F_ATTACHED : 0) |
        (p.source === 'overlay' ? VNF_PORT_F_OVERLAY : 0),
      ip: p.ip,
      mac: p.mac ?? ZERO_MAC,
      prefix: p.prefix,
    }));
    for (const src of p.allowedSources) {
      put(sources, portSrcKeyCodec.encode({ prefixlen: 32 + src.prefix, ifindex: p.ifindex, addr: src.addr }), u32(1));
    }
    if (p.source === 'overlay') continue; // in no network's flood list: the overlay replicates by host
    const list = members.get(p.networkId) ?? [];
    list.push(p.ifindex);
    members.set(p.networkId, list);
  }

  const gateways = new Map<string, { router: string; ip: number; mac: string; prefix: number }>();
  for (const r of ctx.topology.routers) for (const rp of r.ports) gateways.set(rp.network, { router: r.name, ...rp });
  for (const n of ctx.topology.networks) {
    const id = ctx.networkId(n.name);
    const list = (members.get(id) ?? []).sort((a, b) => a - b);
    const version = contentId(['flood', id, ...list]);
    list.forEach((ifindex, index) => put(flood, floodKeyCodec.encode({ network: id, version, index }), u32(ifindex)));
    const gw = gateways.get(n.name);
    put(networks, u32(id), networkCodec.encode({
      fdb_aging_sec: n.fdbAgingSeconds,
      flood_version: version,
      flood_count: list.length,
      router_id: gw ? ctx.routerId(gw.router) : 0,
      router_ip: gw?.ip ?? 0,
      router_mac: gw?.mac ?? ZERO_MAC,
      router_prefix: gw?.prefix ?? 0,
    }));
  }
  const ids = idEntries(ctx.ids);
  return {
    [VNF_MAP_IDS]: ids, [VNF_MAP_PORT_SRC]: sources, [VNF_MAP_PORTS]: ports, [VNF_MAP_CHAINS]: chains, [VNF_MAP_NETWORKS]: networks,
    [VNF_MAP_FLOOD]: flood, [VNF_MAP_META]: meta,
  };
}

const ifKey = (key: Buffer): number => key.readUInt32LE(0);

export const coreMaps: MapDecl[] = [
  { name: VNF_MAP_PROGS, type: 'prog_array', keySize: 4, valueSize: 4, maxEntries: VNF_MAX_PROGS, kind: 'kernel' },
  {
    name: VNF_MAP_IDS, type: 'hash', keySize: idKeyCodec.size, valueSize: idCodec.size, maxEntries: VNF_IDS_MAX,
    kind: 'config', stage: 'define', order: 0,
    describe(key, value) {
      const k = idKeyCodec.decode(key);
      const id = value ? ` = ${idCodec.decode(value).id}` : '';
      return k.kind === VNF_IDK_NEXT ? `id counter${id}` : `id of ${k.kind === 1 ? 'network' : k.kind === 2 ? 'router' : 'group slot'} ${k.name}${id}`;
    },
  },
  {
    name: VNF_MAP_CHAINS, type: 'hash', keySize: 4, valueSize: chainCodec.size, maxEntries: VNF_CHAINS_MAX,
    kind: 'config', stage: 'define', order: 10,
    describe(key, value) {
      if (!value) return `chain ${ifKey(key)}`;
      const c = chainCodec.decode(value);
      return `chain ${ifKey(key)}: [${c.vnf.slice(0, c.len).join(', ')}]`;
    },
  },
  {
    name: VNF_MAP_FLOOD, type: 'hash', keySize: floodKeyCodec.size, valueSize: 4, maxEntries: VNF_FLOOD_ENTRIES_MAX,
    kind: 'config', stage: 'define', order: 20,
    describe(key, value, names) {
      const k = floodKeyCodec.decode(key);
      return `flood ${names.network(k.network)} list ${k.version} #${k.index}${value ? ` -> ${names.ifname(value.readUInt32LE(0))}` : ''}`;
    },
  },
  {
    name: VNF_MAP_PORT_SRC, type: 'lpm_trie', keySize: portSrcKeyCodec.size, valueSize: 4, maxEntries: VNF_PORT_SRC_MAX,
    kind: 'config', stage: 'define', order: 30,
    describe(key, _value, names) {
      const k = portSrcKeyCodec.decode(key);
      return `${names.ifname(k.ifindex)} may send as ${formatAddr(k.addr)}/${k.prefixlen - 32}`;
    },
  },
  {
    name: VNF_MAP_PORTS, type: 'hash', keySize: 4, valueSize: portCodec.size, maxEntries: VNF_PORTS_MAX,
    kind: 'config', stage: 'bind', order: 0,
    describe(key, value, names) {
      const ifname = names.ifname(ifKey(key));
      if (!value) return `port ${ifname}`;
      const p = portCodec.decode(value);
      return `port ${ifname}: network ${names.network(p.network)}, ${p.ip ? `${formatAddr(p.ip)}/${p.prefix}` : 'no ip'}, mac ${p.mac}, chains ${p.chain_in}/${p.chain_out}${p.flags & VNF_PORT_F_ATTACHED ? ' (attached)' : ''}`;
    },
  },
  {
    name: VNF_MAP_NETWORKS, type: 'hash', keySize: 4, valueSize: networkCodec.size, maxEntries: VNF_NETWORKS_MAX,
    kind: 'config', stage: 'publish', order: 0,
    describe(key, value, names) {
      const id = ifKey(key);
      if (!value) return `network ${names.network(id)}`;
      const n = networkCodec.decode(value);
      return `network ${names.network(id)} (id ${id}): ${n.flood_count} ports (flood list ${n.flood_version}), aging ${n.fdb_aging_sec}s${n.router_id ? `, router ${names.router(n.router_id)} at ${formatAddr(n.router_ip)} ${n.router_mac}` : ''}`;
    },
  },
  {
    name: VNF_MAP_META, type: 'array', keySize: 4, valueSize: metaCodec.size, maxEntries: 1,
    kind: 'config', stage: 'commit', order: 0,
    describe: (_k, value) => (value ? `meta: layout v${metaCodec.decode(value).abi_version}, generation ${metaCodec.decode(value).generation.toString(16)}` : 'meta'),
  },
  { name: VNF_MAP_STATS, type: 'percpu_array', keySize: 4, valueSize: counterCodec.size, maxEntries: VNF_STATS_ENTRIES, kind: 'kernel' },
  {
    name: VNF_MAP_PORT_STATS, type: 'percpu_hash', keySize: portStatsKeyCodec.size, valueSize: counterCodec.size,
    maxEntries: VNF_PORT_STATS_MAX, kind: 'stats',
    keep: (key, _v, live) => live.ports.has(portStatsKeyCodec.decode(key).ifindex),
    dependsOn: ['ports'],
  },
  ...monitorMaps,
];

function status(r: StatusReader): StatusSection[] {
  const subnets = new Map((r.topology?.networks ?? []).map((n) => [n.name, `${formatAddr(n.subnet.addr)}/${n.subnet.prefix}`]));
  const rows: StatusSection['rows'] = r.entries(VNF_MAP_NETWORKS).map(([k, v]) => {
    const id = k.readUInt32LE(0);
    const n = networkCodec.decode(v);
    const name = r.names.network(id);
    return {
      network: name, id, subnet: subnets.get(name) ?? null, portCount: n.flood_count,
      router: n.router_id ? r.names.router(n.router_id) : null, gateway: n.router_id ? formatAddr(n.router_ip) : null,
      agingSeconds: n.fdb_aging_sec,
    };
  });
  rows.sort((a, b) => String(a['network']).localeCompare(String(b['network'])));
  return [{ key: 'networks', title: 'NETWORKS', columns: ['network', 'id', 'subnet', 'portCount', 'router', 'gateway', 'agingSeconds'],
    headers: ['network', 'id', 'subnet', 'ports', 'router', 'gateway', 'aging (s)'], rows }];
}

export const coreModule: VnfModule = {
  name: 'core',
  id: VNF_ID_CORE,
  object: 'entry',
  programs: ['vnf_entry_in', 'vnf_entry_out', 'vnf_deliver'],
  slotProgram: 'vnf_deliver',
  maps: coreMaps,
  entries: coreEntries,
  status,
};
