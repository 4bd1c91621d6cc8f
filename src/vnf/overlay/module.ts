/**
 * The overlay VNF: a topology's networks stretched across hosts over this host's VXLAN device
 * (a port of no network, source 'overlay'). From the slice in `ext.overlay` (model.ts) it writes
 * the device's settings, the VNI of every network, the live hosts frames may come from, the
 * remote endpoints (where a frame for one goes, and what a frame from one may be), and per
 * network the list of remote hosts with a port on it (head-end replication), versioned and
 * flipped like the bridge's flood lists. The bridge hands it frames for remote endpoints (their
 * static FDB entries are flagged REMOTE, bridge/module.ts) and flooded frames of networks with
 * remote hosts; frames from the device run [overlay, bridge].
 */
import { u32 } from '../../codec/struct.js';
import { put, type MapEntries } from '../../model/desired.js';
import { contentId } from '../../model/names.js';
import { formatAddr } from '../../spec/ipv4.js';
import {
  VNF_MAP_OVL_CFG, VNF_MAP_OVL_EP, VNF_MAP_OVL_FLOOD, VNF_MAP_OVL_HOSTS, VNF_MAP_OVL_NET, VNF_MAP_OVL_VNI,
} from '../../abi/overlay.js';
import { floodKeyCodec, VNF_NETWORKS_MAX } from '../common/codec.js';
import type { CompileContext, MapDecl, StatusReader, StatusSection, VnfModule } from '../types.js';
import {
  ovlCfgCodec, ovlEpCodec, ovlEpKeyCodec, ovlNetCodec, vtepBytes, VNF_ID_OVERLAY, VNF_OVL_CFG_F_SET, VNF_OVL_EP_F_FORWARDS,
  VNF_OVL_EP_MAX, VNF_OVL_FLOOD_MAX, VNF_OVL_HOSTS_MAX,
} from './codec.js';
import { overlayOf } from './model.js';

/** The remote hosts (VTEPs, sorted) with an endpoint on each network, by network name. */
export function remoteHostsByNetwork(o: NonNullable<ReturnType<typeof overlayOf>>): Map<string, number[]> {
  const vtep = new Map(o.hosts.map((h) => [h.name, h.vtep]));
  const out = new Map<string, Set<number>>();
  for (const r of o.remotes) {
    const v = vtep.get(r.host);
    if (v === undefined) continue; // not a live host: nothing goes there
    const s = out.get(r.network) ?? new Set<number>();
    s.add(v);
    out.set(r.network, s);
  }
  return new Map([...out].map(([n, s]) => [n, [...s].sort((a, b) => a - b)]));
}

function entries(ctx: CompileContext): Record<string, MapEntries> {
  const cfg: MapEntries = new Map();
  const vnis: MapEntries = new Map();
  const hosts: MapEntries = new Map();
  const eps: MapEntries = new Map();
  const nets: MapEntries = new Map();
  const flood: MapEntries = new Map();
  const o = overlayOf(ctx.topology);
  const device = ctx.ports.find((p) => p.source === 'overlay');
  // An array always holds its entry (it cannot be deleted): without an overlay, it says "off".
  put(cfg, u32(0), ovlCfgCodec.encode(o && device
    ? { ifindex: device.ifindex, mtu: o.mtu, local: o.local, flags: VNF_OVL_CFG_F_SET }
    : { ifindex: 0, mtu: 0, local: 0, flags: 0 }));
  if (o && device) {
    for (const h of o.hosts) put(hosts, vtepBytes(h.vtep), u32(1));
    const vtep = new Map(o.hosts.map((h) => [h.name, h.vtep]));
    const known = new Set(ctx.topology.networks.map((n) => n.name));
    for (const r of o.remotes) {
      const v = vtep.get(r.host);
      const vni = o.vnis[r.network];
      if (v === undefined || vni === undefined || !known.has(r.network)) continue;
      put(eps, ovlEpKeyCodec.encode({ network: ctx.networkId(r.network), mac: r.mac }), ovlEpCodec.encode({
        vtep: v, vni, ip: r.ip, flags: r.forwards ? VNF_OVL_EP_F_FORWARDS : 0,
      }));
    }
    const remote = remoteHostsByNetwork(o);
    for (const n of ctx.topology.networks) {
      const vni = o.vnis[n.name];
      if (vni === undefined) continue;
      const id = ctx.networkId(n.name);
      put(vnis, u32(vni), u32(id));
      const list = remote.get(n.name) ?? [];
      const version = contentId(['ovl-flood', id, vni, ...list]);
      list.forEach((v, index) => put(flood, floodKeyCodec.encode({ network: id, version, index }), vtepBytes(v)));
      put(nets, u32(id), ovlNetCodec.encode({ vni, flood_version: version, flood_count: list.length }));
    }
  }
  return {
    [VNF_MAP_OVL_CFG]: cfg, [VNF_MAP_OVL_VNI]: vnis, [VNF_MAP_OVL_HOSTS]: hosts, [VNF_MAP_OVL_EP]: eps,
    [VNF_MAP_OVL_FLOOD]: flood, [VNF_MAP_OVL_NET]: nets,
  };
}

const vtepOf = (b: Buffer): string => formatAddr(b.readUInt32BE(0));

const maps: MapDecl[] = [
  {
    name: VNF_MAP_OVL_CFG, type: 'array', keySize: 4, valueSize: ovlCfgCodec.size, maxEntries: 1, kind: 'config', stage: 'define', order: 40,
    describe(_k, v, names) {
      if (!v) return 'overlay settings';
      const c = ovlCfgCodec.decode(v);
      return c.flags & VNF_OVL_CFG_F_SET ? `overlay device ${names.ifname(c.ifindex)}, local ${formatAddr(c.local)}, mtu ${c.mtu}` : 'overlay off';
    },
  },
  {
    name: VNF_MAP_OVL_HOSTS, type: 'hash', keySize: 4, valueSize: 4, maxEntries: VNF_OVL_HOSTS_MAX, kind: 'config', stage: 'define', order: 41,
    describe: (k) => `overlay host ${vtepOf(k)}`,
  },
  {
    name: VNF_MAP_OVL_VNI, type: 'hash', keySize: 4, valueSize: 4, maxEntries: VNF_NETWORKS_MAX, kind: 'config', stage: 'define', order: 42,
    describe: (k, v, names) => `vni ${k.readUInt32LE(0)}${v ? ` -> network ${names.network(v.readUInt32LE(0))}` : ''}`,
  },
  {
    name: VNF_MAP_OVL_EP, type: 'hash', keySize: ovlEpKeyCodec.size, valueSize: ovlEpCodec.size, maxEntries: VNF_OVL_EP_MAX,
    kind: 'config', stage: 'define', order: 43,
    describe(k, v, names) {
      const key = ovlEpKeyCodec.decode(k);
      const head = `remote endpoint ${names.network(key.network)} ${key.mac}`;
      if (!v) return head;
      const e = ovlEpCodec.decode(v);
      return `${head} at ${formatAddr(e.vtep)} (vni ${e.vni}), ${formatAddr(e.ip)}${e.flags & VNF_OVL_EP_F_FORWARDS ? ', forwards' : ''}`;
    },
  },
  {
    name: VNF_MAP_OVL_FLOOD, type: 'hash', keySize: floodKeyCodec.size, valueSize: 4, maxEntries: VNF_OVL_FLOOD_MAX,
    kind: 'config', stage: 'define', order: 44,
    describe(k, v, names) {
      const key = floodKeyCodec.decode(k);
      return `overlay flood ${names.network(key.network)} list ${key.version} #${key.index}${v ? ` -> ${vtepOf(v)}` : ''}`;
    },
  },
  {
    // Flips a network's replication list: published after the lists (define) are written.
    name: VNF_MAP_OVL_NET, type: 'hash', keySize: 4, valueSize: ovlNetCodec.size, maxEntries: VNF_NETWORKS_MAX,
    kind: 'config', stage: 'publish', order: 5,
    describe(k, v, names) {
      const head = `overlay network ${names.network(k.readUInt32LE(0))}`;
      if (!v) return head;
      const n = ovlNetCodec.decode(v);
      return `${head}: vni ${n.vni}, ${n.flood_count} remote hosts (list ${n.flood_version})`;
    },
  },
];

function status(r: StatusReader): StatusSection[] {
  const o = r.topology ? overlayOf(r.topology) : undefined;
  if (!o) return [];
  const names = new Map(o.hosts.map((h) => [h.vtep, h.name]));
  const rows: StatusSection['rows'] = r.entries(VNF_MAP_OVL_EP).map(([k, v]) => {
    const key = ovlEpKeyCodec.decode(k);
    const e = ovlEpCodec.decode(v);
    return { network: r.names.network(key.network), mac: key.mac, ip: formatAddr(e.ip), host: names.get(e.vtep) ?? null, vtep: formatAddr(e.vtep), vni: e.vni };
  });
  rows.sort((a, b) => String(a['network']).localeCompare(String(b['network'])) || String(a['mac']).localeCompare(String(b['mac'])));
  return [{ key: 'remotes', title: 'REMOTE ENDPOINTS', columns: ['network', 'mac', 'ip', 'host', 'vtep', 'vni'], rows }];
}

export const overlayModule: VnfModule = {
  name: 'overlay',
  id: VNF_ID_OVERLAY,
  object: 'overlay',
  programs: ['vnf_overlay'],
  slotProgram: 'vnf_overlay',
  maps,
  entries,
  // Only on the VXLAN device, first: what comes from another host is checked before the bridge.
  chain: { order: 0, runsOn: (p, _t, c) => p.source === 'overlay' && c === 'in' },
  status,
};
