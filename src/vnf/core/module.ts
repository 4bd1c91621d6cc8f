/**
 * The core: entry programs on every port, the DELIVER stage, and the shared
 * maps (ports, networks, chains, flood lists, meta).
 */
import { u32 } from '../../codec/struct.js';
import { contentId } from '../../model/names.js';
import { put, type MapEntries } from '../../model/desired.js';
import { formatAddr } from '../../spec/index.js';
import {
  chain, chainCodec, floodKeyCodec, metaCodec, networkCodec, portCodec, VNF_ABI_VERSION, VNF_ID_CORE, VNF_ID_DELIVER,
  VNF_PORT_F_ATTACHED,
} from '../common/codec.js';
import { VNF_ID_BRIDGE } from '../bridge/codec.js';
import type { CompileContext, PortInterface, VnfModule } from '../types.js';

const ZERO_MAC = '00:00:00:00:00:00';

/**
 * The chains of a port: the VNFs that apply to it (firewall, NAT, ...) run
 * before the forwarder on the way in and before delivery on the way out.
 */
export function chainsFor(port: PortInterface, stages: ReadonlyArray<{ id: number; inChain?: (p: PortInterface) => boolean }>): { chainIn: number[]; chainOut: number[] } {
  const policy = stages.filter((s) => s.inChain?.(port)).map((s) => s.id);
  return { chainIn: [...policy, VNF_ID_BRIDGE], chainOut: [...policy, VNF_ID_DELIVER] };
}

export const chainId = (vnfs: number[]): number => contentId(['chain', ...vnfs]);

function coreEntries(ctx: CompileContext): Record<string, MapEntries> {
  const ports: MapEntries = new Map();
  const chains: MapEntries = new Map();
  const networks: MapEntries = new Map();
  const flood: MapEntries = new Map();
  const meta: MapEntries = new Map();
  put(meta, u32(0), metaCodec.encode({ abi_version: VNF_ABI_VERSION, flags: 0 }));

  for (const p of ctx.ports) {
    const { chainIn, chainOut } = chainsFor(p, ctx.stages);
    for (const c of [chainIn, chainOut]) put(chains, u32(chainId(c)), chainCodec.encode(chain(c)));
    put(ports, u32(p.ifindex), portCodec.encode({
      network: p.networkId,
      chain_in: chainId(chainIn),
      chain_out: chainId(chainOut),
      flags: p.source === 'attach' ? VNF_PORT_F_ATTACHED : 0,
      ip: p.ip,
      mac: p.mac ?? ZERO_MAC,
      prefix: p.prefix,
    }));
  }

  for (const n of ctx.topology.networks) {
    const members = ctx.ports.filter((p) => p.networkId === n.id).map((p) => p.ifindex).sort((a, b) => a - b);
    const version = contentId(['flood', n.id, ...members]);
    members.forEach((ifindex, index) => put(flood, floodKeyCodec.encode({ network: n.id, version, index }), u32(ifindex)));
    const router = ctx.topology.routers.find((r) => r.ports.some((rp) => rp.networkId === n.id));
    const rp = router?.ports.find((x) => x.networkId === n.id);
    put(networks, u32(n.id), networkCodec.encode({
      fdb_aging_sec: n.fdbAgingSeconds,
      flood_version: version,
      flood_count: members.length,
      router_id: router ? ctx.routerId(router.name) : 0,
      router_ip: rp?.ip ?? 0,
      router_mac: rp?.mac ?? ZERO_MAC,
      router_prefix: rp?.prefix ?? 0,
    }));
  }
  return { vnf_ports: ports, vnf_chains: chains, vnf_networks: networks, vnf_flood: flood, vnf_meta: meta };
}

function describe(map: string, key: Buffer, value: Buffer | undefined): string {
  switch (map) {
    case 'vnf_ports': {
      const ifindex = key.readUInt32LE(0);
      if (!value) return `port ifindex ${ifindex}`;
      const p = portCodec.decode(value);
      return `port ifindex ${ifindex}: network ${p.network}, ${p.ip ? `${formatAddr(p.ip)}/${p.prefix}` : 'no ip'}, mac ${p.mac}, chains ${p.chain_in}/${p.chain_out}${p.flags & VNF_PORT_F_ATTACHED ? ' (attached)' : ''}`;
    }
    case 'vnf_networks': {
      const id = key.readUInt32LE(0);
      if (!value) return `network ${id}`;
      const n = networkCodec.decode(value);
      return `network ${id}: ${n.flood_count} ports (flood list ${n.flood_version}), aging ${n.fdb_aging_sec}s${n.router_id ? `, router ${n.router_id} at ${formatAddr(n.router_ip)} ${n.router_mac}` : ''}`;
    }
    case 'vnf_chains': {
      const id = key.readUInt32LE(0);
      if (!value) return `chain ${id}`;
      const c = chainCodec.decode(value);
      return `chain ${id}: [${c.vnf.slice(0, c.len).join(', ')}]`;
    }
    case 'vnf_flood': {
      const k = floodKeyCodec.decode(key);
      return `flood network ${k.network} list ${k.version} #${k.index}${value ? ` -> ifindex ${value.readUInt32LE(0)}` : ''}`;
    }
    case 'vnf_meta':
      return value ? `meta: abi ${metaCodec.decode(value).abi_version}` : 'meta';
    default:
      return `${map} ${key.toString('hex')}`;
  }
}

export const coreModule: VnfModule = {
  id: VNF_ID_CORE,
  name: 'core',
  object: 'entry',
  programs: ['vnf_entry_in', 'vnf_entry_out', 'vnf_deliver'],
  slotProgram: 'vnf_deliver',
  maps: [
    { name: 'vnf_meta', owns: 'all', order: 0 },
    { name: 'vnf_chains', owns: 'all', order: 1 },
    { name: 'vnf_flood', owns: 'all', order: 2 },
    { name: 'vnf_ports', owns: 'all', order: 3 },
    { name: 'vnf_networks', owns: 'all', order: 4 },
  ],
  entries: coreEntries,
  describe,
};
