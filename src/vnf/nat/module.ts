/**
 * The NAT VNF (bpf/abi/nat.h): per router, an outside network and inside networks (its other
 * port networks). Config: each network's role (what makes its ports translate, published last),
 * the masqueraded prefixes (LPM keyed by router), floating addresses (both ways) and forwarded
 * ports. The mappings are the dataplane's (learned: kept while their router exists; a mapping
 * whose conntrack entry died is removed by the NAT's own collector, vnf_nat_gc).
 */
import { formatAddr, formatCidr } from '../../spec/ipv4.js';
import { hex } from '../../model/desired.js';
import { VNF_MAP_CT, VNF_MAP_CT_CFG } from '../../abi/conntrack.js';
import type { Live, MetricsDecl, PortInterface, StatusReader, StatusSection, VnfModule } from '../types.js';
import type { Topology } from '../../spec/model.js';
import {
  natEntryCodec, natFloatCodec, natFloatKeyCodec, natFwdCodec, natFwdKeyCodec, natKeyCodec, natMasqKeyCodec, natNetCodec, natSrcCodec, natSrcKeyCodec, VNF_MAP_NAT_SRC, VNF_NAT_SRC_MAX,
  VNF_ID_NAT, VNF_MAP_NAT, VNF_MAP_NAT_FLOAT, VNF_MAP_NAT_FWD, VNF_MAP_NAT_GC, VNF_MAP_NAT_MASQ, VNF_MAP_NAT_NETS,
  VNF_NAT_FLOAT_MAX, VNF_NAT_FWD_MAX, VNF_NAT_GC_SIZE, VNF_NAT_MASQ_MAX, VNF_NAT_MAX, VNF_NAT_NETS_MAX,
} from './codec.js';
import { describeFloat, describeFwd, describeMapping, describeMasq, describeNet, natChanges } from './describe.js';
import { natEntries } from './entries.js';
import { natMappings } from './mappings.js';
import { natRoles, natsOf } from './model.js';
import { natSpec } from './spec.js';

/** A mapping's zone is VNF_NAT_ZONE(router id): it means something while that router exists. */
export const keepMapping = (key: Buffer, _v: Buffer, live: Live): boolean =>
  live.routers.has((natKeyCodec.decode(key).zone & 0x7fffffff) >>> 0);

export const keepSource = (key: Buffer, _v: Buffer, live: Live): boolean =>
  live.routers.has((natSrcKeyCodec.decode(key).zone & 0x7fffffff) >>> 0);

/** NAT runs on every port of a network with a role in a router's NAT (outside or inside). */
export const natRunsOn = (port: PortInterface, topology: Topology): boolean => natRoles(topology).has(port.network);

/**
 * After the firewall (10) everywhere but in what comes in through an outside port, where NAT runs
 * first: as Linux's PREROUTING before its filter, so that port's policy sees a reply of a
 * masqueraded connection with the inside address it saw that connection leave with (in its
 * chain_out, before the source NAT).
 */
export const natOrder = (port: PortInterface, topology: Topology, chain: 'in' | 'out'): number =>
  chain === 'in' && natRoles(topology).get(port.network)?.outside ? 5 : 20;

const range = ([lo, hi]: readonly [number, number]): string => (lo === hi ? String(lo) : `${lo}-${hi}`);

function status(r: StatusReader): StatusSection[] {
  const nats = natsOf(r.topology);
  const raw = r.entries(VNF_MAP_NAT);
  if (nats.length === 0 && raw.length === 0) return [];
  const count = new Map<string, number>();
  if (raw.length > 0) {
    const ct = new Map(r.entries(VNF_MAP_CT).map(([k, v]) => [hex(k), v]));
    const mappings = natMappings({
      nat: raw, ct: (k) => ct.get(hex(k)), ctCfg: r.entries(VNF_MAP_CT_CFG)[0]?.[1], now: r.now, routerName: (id) => r.names.router(id),
    });
    for (const m of mappings) count.set(m.router, (count.get(m.router) ?? 0) + 1);
  }
  const rows: StatusSection['rows'] = nats.map((n) => ({
    router: n.router,
    outside: n.outside,
    outsideIp: formatAddr(n.outsideIp),
    inside: n.inside,
    masquerade: n.masquerade.map(formatCidr),
    ports: n.masquerade.length ? range(n.ports) : null,
    floatingCount: n.floating.length,
    forwardCount: n.forward.length,
    mappingCount: count.get(n.router) ?? 0,
  }));
  // Mappings of routers whose NAT left the file (kept until they expire, while the router exists).
  for (const [router, n] of count) {
    if (!nats.some((x) => x.router === router)) rows.push({ router, outside: null, outsideIp: null, inside: [], masquerade: [], ports: null, floatingCount: 0, forwardCount: 0, mappingCount: n });
  }
  return [{ key: 'nat', title: 'NAT', columns: ['router', 'outside', 'outsideIp', 'inside', 'masquerade', 'ports', 'floatingCount', 'forwardCount', 'mappingCount'],
    headers: ['router', 'outside', 'outside ip', 'inside', 'masquerade', 'ports', 'floating', 'forward', 'mappings'], rows }];
}

const metrics: MetricsDecl = {
  families: [{
    name: 'vnf_nat_mappings', type: 'gauge', labels: ['router', 'origin'],
    help: 'Translated connections a router\'s NAT holds (origin: inside = opened from an inside address, outside = from the world), as counted for its quotas',
  }],
  read(r) {
    // The per-source counts the dataplane keeps for fairness (one small entry per source): the
    // mappings themselves are not dumped on every scrape.
    const count = new Map<string, bigint>();
    for (const n of natsOf(r.topology)) for (const origin of ['inside', 'outside']) count.set(`${n.router}\u0000${origin}`, 0n);
    for (const [k, v] of r.entries(VNF_MAP_NAT_SRC)) {
      const key = natSrcKeyCodec.decode(k);
      const n = BigInt.asIntN(64, natSrcCodec.decode(v).count);
      const id = `${r.names.router((key.zone & 0x7fffffff) >>> 0)}\u0000${key.addr ? 'inside' : 'outside'}`;
      count.set(id, (count.get(id) ?? 0n) + (n > 0n ? n : 0n));
    }
    return {
      vnf_nat_mappings: [...count].map(([id, value]) => {
        const [router, origin] = id.split('\u0000') as [string, string];
        return { labels: { router, origin }, value };
      }),
    };
  },
};

export const natModule: VnfModule = {
  name: 'nat',
  id: VNF_ID_NAT,
  object: 'nat',
  programs: ['vnf_nat'],
  slotProgram: 'vnf_nat',
  spec: natSpec,
  maps: [
    // What the roles point at first (define), then the roles, which make a network's ports translate (publish).
    {
      name: VNF_MAP_NAT_MASQ, type: 'lpm_trie', keySize: natMasqKeyCodec.size, valueSize: 4, maxEntries: VNF_NAT_MASQ_MAX,
      kind: 'config', stage: 'define', order: 70, describe: describeMasq,
    },
    {
      name: VNF_MAP_NAT_FLOAT, type: 'hash', keySize: natFloatKeyCodec.size, valueSize: natFloatCodec.size, maxEntries: VNF_NAT_FLOAT_MAX,
      kind: 'config', stage: 'define', order: 71, describe: describeFloat,
    },
    {
      name: VNF_MAP_NAT_FWD, type: 'hash', keySize: natFwdKeyCodec.size, valueSize: natFwdCodec.size, maxEntries: VNF_NAT_FWD_MAX,
      kind: 'config', stage: 'define', order: 72, describe: describeFwd,
    },
    {
      name: VNF_MAP_NAT_NETS, type: 'hash', keySize: 4, valueSize: natNetCodec.size, maxEntries: VNF_NAT_NETS_MAX,
      kind: 'config', stage: 'publish', order: 40, describe: describeNet,
    },
    {
      name: VNF_MAP_NAT, type: 'hash', keySize: natKeyCodec.size, valueSize: natEntryCodec.size, maxEntries: VNF_NAT_MAX,
      kind: 'learned', keep: keepMapping, dependsOn: ['routers'], describe: describeMapping,
    },
    // Mappings per source (fairness): counted by the dataplane, swept with their router.
    {
      name: VNF_MAP_NAT_SRC, type: 'hash', keySize: natSrcKeyCodec.size, valueSize: natSrcCodec.size, maxEntries: VNF_NAT_SRC_MAX,
      kind: 'learned', keep: keepSource, dependsOn: ['routers'],
      describe: (k, v) => {
        const key = natSrcKeyCodec.decode(k);
        return `nat source ${key.addr ? formatAddr(key.addr) : 'the world'}: ${v ? BigInt.asIntN(64, natSrcCodec.decode(v).count) : '?'} mappings`;
      },
    },
    // The collector that removes dead mappings (a bpf_timer): the dataplane's alone.
    { name: VNF_MAP_NAT_GC, type: 'array', keySize: 4, valueSize: VNF_NAT_GC_SIZE, maxEntries: 1, kind: 'kernel' },
  ],
  entries: natEntries,
  chain: { order: natOrder, runsOn: natRunsOn },
  // Floating addresses are the router's on the outside network: never given to an attachment.
  // Inside addresses that floating addresses and forwards lead to are meant for a container:
  // given only to one that asks for it by address.
  addresses: (t, network) => natsOf(t).flatMap((n) => [
    ...(n.outside === network ? n.floating.map((f) => ({ addr: f.outside, who: `router ${n.router}'s floating address for ${formatAddr(f.inside)}` })) : []),
    ...n.floating.map((f) => ({ addr: f.inside, who: `the inside address of floating address ${formatAddr(f.outside)} (router ${n.router})`, reserved: true })),
    ...n.forward.map((f) => ({ addr: f.to, who: `the target of router ${n.router}'s ${f.proto} port ${f.port} forward`, reserved: true })),
  ]),
  status,
  metrics,
  changes: natChanges,
};
