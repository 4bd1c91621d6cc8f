/** The connection tracking table of a topology, read back from the kernel (list, flush). */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { BpfMap } from '../bpf/map.js';
import { pinDir } from '../model/names.js';
import { interfaceNames } from '../observe/interfaces.js';
import { readMap, readRaw } from '../observe/kernel.js';
import { readIds, reverseIds } from '../model/ids.js';
import { CT_STATES, ctEntryCodec, ctKeyCodec, VNF_CT_F_ASSURED, VNF_CT_F_DYING, VNF_CT_F_PROTECTED } from '../vnf/conntrack/codec.js';
import { VNF_CT_ZONE_NAT, VNF_MAP_CT, VNF_MAP_CT_ZONE } from '../abi/conntrack.js';
import { VNF_MAP_IDS } from '../abi/vnf_common.js';
import { requireTopology } from './status.js';
import { endpoint, type Endpoint } from '../vnf/conntrack/endpoint.js';

export type { Endpoint };

export interface ConntrackEntry {
  /** The port that tracks it; null for a connection of a router's NAT (see router) or a port no longer known. */
  ifname: string | null;
  /** The router whose NAT tracks it; null for a port's connection. */
  router: string | null;
  /** The conntrack zone (the port's ifindex, or the NAT flag with the router id). */
  zone: number;
  proto: string;
  src: Endpoint;
  dst: Endpoint;
  state: string;
  /** ASSURED as Linux means it (TCP after the handshake, UDP after a reply). */
  assured: boolean;
  /** Holding a place in its port's quota of protected connections: never early-dropped. */
  protected: boolean;
  /** The firewall direction that opened it; null for a connection of a router's NAT. */
  direction: 'egress' | 'ingress' | null;
  /** Index of the rule that allowed it in its direction; null when the default did, or for NAT. */
  rule: number | null;
  ageSeconds: number;
  idleSeconds: number;
  packets: { orig: bigint; reply: bigint };
  bytes: { orig: bigint; reply: bigint };
}

const PROTOS: Record<number, string> = { 1: 'icmp', 6: 'tcp', 17: 'udp' };

export function conntrackEntries(name: string): ConntrackEntry[] {
  requireTopology(name);
  const raw = readRaw(join(pinDir(name), VNF_MAP_CT)) ?? [];
  const names = interfaceNames();
  let routers: ((id: number) => string) | undefined;
  const routerOf = (zone: number): string => {
    routers ??= reverseIds(readIds(readMap(join(pinDir(name), VNF_MAP_IDS)))).router;
    return routers((zone & ~VNF_CT_ZONE_NAT) >>> 0);
  };
  return decodeConntrack(raw, (zone) => names.get(zone), routerOf, process.hrtime.bigint());
}

/**
 * vnf_ct entries as rows (pure): `ifname` names a port's zone (undefined when the port is gone),
 * `router` a NAT zone's router; `now` is the kernel's CLOCK_MONOTONIC in ns.
 */
export function decodeConntrack(raw: Iterable<readonly [Buffer, Buffer]>, ifname: (zone: number) => string | undefined, router: (zone: number) => string, now: bigint): ConntrackEntry[] {
  const out: ConntrackEntry[] = [];
  for (const [k, v] of raw) {
    const key = ctKeyCodec.decode(k);
    const e = ctEntryCodec.decode(v);
    if (e.flags & VNF_CT_F_DYING) continue; // being removed by the kernel this very moment
    const proto = PROTOS[key.proto] ?? String(key.proto);
    const nat = (key.zone & VNF_CT_ZONE_NAT) !== 0;
    out.push({
      ifname: nat ? null : ifname(key.zone) ?? null,
      router: nat ? router(key.zone) : null,
      zone: key.zone,
      proto,
      src: endpoint(key.proto, key.saddr, key.sport),
      dst: endpoint(key.proto, key.daddr, key.dport),
      state: CT_STATES[e.state] ?? String(e.state),
      assured: (e.flags & VNF_CT_F_ASSURED) !== 0,
      protected: (e.flags & VNF_CT_F_PROTECTED) !== 0,
      direction: nat ? null : e.dir === 0 ? 'egress' : 'ingress',
      rule: nat || e.rule === 0xffffffff ? null : e.rule,
      ageSeconds: Number((now - e.created_ns) / 1_000_000_000n),
      idleSeconds: Number((now - e.last_seen_ns) / 1_000_000_000n),
      packets: { orig: e.packets_orig, reply: e.packets_reply },
      bytes: { orig: e.bytes_orig, reply: e.bytes_reply },
    });
  }
  return out;
}

/**
 * Deletes every tracked connection of the topology, then every port's counters (which start again
 * from 0 under a new generation: the kernel uncounts a slot only from the counter that counted it,
 * and recounts a slot whose entry outlived the flush in the new one). The index slots the deleted
 * entries held are released by the kernel's collector within one walk. Returns how many went.
 */
export function flushConntrack(name: string): number {
  requireTopology(name);
  const dir = pinDir(name);
  const clear = (map: string): number => {
    const path = join(dir, map);
    if (!existsSync(path)) return 0;
    const m = BpfMap.openPinned(path);
    try {
      return m.deleteMany(m.keys());
    } finally {
      m.close();
    }
  };
  const n = clear(VNF_MAP_CT);
  clear(VNF_MAP_CT_ZONE);
  return n;
}
