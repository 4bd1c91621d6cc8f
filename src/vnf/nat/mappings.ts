/**
 * The active NAT mappings, from the kernel's vnf_nat entries and the conntrack entries behind
 * them. Pure: callers read the maps (`vnf-ctl nat`, `vnf-ctl get`) and pass them in.
 *
 * One row per connection: its original entry (dir 0), keyed by the first packet's tuple at the
 * point where it was translated (bpf/abi/nat.h). A mapping whose conntrack entry is gone, dying
 * or expired is dead (its port is free again, the collector removes it): it is not shown.
 */
import { endpoint, formatEndpoint, type Endpoint } from '../conntrack/endpoint.js';
import { CT_STATES, ctCfgCodec, ctEntryCodec, timeoutTable, VNF_CT_F_DYING } from '../conntrack/codec.js';
import { DEFAULT_CONNTRACK_TIMEOUTS } from '../conntrack/model.js';
import {
  natEntryCodec, natKeyCodec, VNF_NAT_K_FLOAT_IN, VNF_NAT_K_FLOAT_OUT, VNF_NAT_K_FORWARD, VNF_NAT_K_MASQ,
} from './codec.js';

export type NatMappingKind = 'masquerade' | 'floating-out' | 'floating-in' | 'forward';

export interface NatMapping {
  router: string;
  kind: NatMappingKind;
  proto: string;
  /** The inside host's end. */
  inside: Endpoint;
  /** What it is seen as outside. */
  outside: Endpoint;
  /** The other end (its ICMP identifier, if any, is the translated one: null). */
  remote: Endpoint;
  /** The conntrack state. */
  state: string;
  idleSeconds: number;
}

export const NAT_KINDS: Record<number, NatMappingKind> = {
  [VNF_NAT_K_MASQ]: 'masquerade',
  [VNF_NAT_K_FLOAT_OUT]: 'floating-out',
  [VNF_NAT_K_FLOAT_IN]: 'floating-in',
  [VNF_NAT_K_FORWARD]: 'forward',
};

const PROTOS: Record<number, string> = { 1: 'icmp', 6: 'tcp', 17: 'udp' };
const ZONE_ROUTER = 0x7fffffff;

export interface MappingSources {
  /** vnf_nat entries. */
  nat: Iterable<readonly [Buffer, Buffer]>;
  /** A vnf_ct entry by its key (struct vnf_ct_key, raw). */
  ct(key: Buffer): Buffer | undefined;
  /** vnf_ct_cfg[0], if pinned (0 timeouts mean the kernel's defaults). */
  ctCfg: Buffer | undefined;
  /** The kernel's CLOCK_MONOTONIC now, in ns. */
  now: bigint;
  routerName(id: number): string;
}

/** Timeouts (ns) by conntrack state, as the kernel judges them (ct_timeout_ns). */
export function timeoutsNs(cfg: Buffer | undefined): (state: number) => bigint {
  const set = cfg ? ctCfgCodec.decode(cfg).timeout : [];
  const defaults = timeoutTable(DEFAULT_CONNTRACK_TIMEOUTS);
  return (state) => BigInt((set[state] || defaults[state]) || 30) * 1_000_000_000n;
}

export function natMappings(src: MappingSources): NatMapping[] {
  const timeout = timeoutsNs(src.ctCfg);
  const out: NatMapping[] = [];
  for (const [k, v] of src.nat) {
    const e = natEntryCodec.decode(v);
    if (e.dir !== 0) continue;
    const ctValue = src.ct(e.ct);
    if (!ctValue) continue;
    const ct = ctEntryCodec.decode(ctValue);
    const idle = src.now - ct.last_seen_ns;
    if (ct.flags & VNF_CT_F_DYING || idle > timeout(ct.state)) continue;
    const key = natKeyCodec.decode(k);
    /** The remote end of an ICMP echo carries no identifier of its own. */
    const at = (addr: number, port: number, remote = false): Endpoint => endpoint(key.proto, addr, remote && key.proto !== 6 && key.proto !== 17 ? 0 : port);
    const outbound = e.kind === VNF_NAT_K_MASQ || e.kind === VNF_NAT_K_FLOAT_OUT;
    out.push({
      router: src.routerName((key.zone & ZONE_ROUTER) >>> 0),
      kind: NAT_KINDS[e.kind] ?? (`kind ${e.kind}` as NatMappingKind),
      proto: PROTOS[key.proto] ?? String(key.proto),
      ...(outbound
        ? { inside: at(key.saddr, key.sport), outside: at(e.saddr, e.sport), remote: at(key.daddr, key.dport, true) }
        : { inside: at(e.daddr, e.dport), outside: at(key.daddr, key.dport), remote: at(key.saddr, key.sport, true) }),
      state: CT_STATES[ct.state] ?? String(ct.state),
      idleSeconds: idle > 0n ? Number(idle / 1_000_000_000n) : 0,
    });
  }
  return out.sort((a, b) =>
    a.router.localeCompare(b.router) || a.kind.localeCompare(b.kind) || formatEndpoint(a.inside).localeCompare(formatEndpoint(b.inside), undefined, { numeric: true }) ||
    formatEndpoint(a.remote).localeCompare(formatEndpoint(b.remote), undefined, { numeric: true }));
}

export const MAPPING_COLUMNS = ['router', 'kind', 'proto', 'inside', 'outside', 'remote', 'state', 'idle'] as const;

/** Table rows of mappings, in MAPPING_COLUMNS order. */
export const mappingRows = (m: NatMapping[]): string[][] =>
  m.map((x) => [x.router, x.kind, x.proto, formatEndpoint(x.inside), formatEndpoint(x.outside), formatEndpoint(x.remote), x.state, `${x.idleSeconds}s`]);
