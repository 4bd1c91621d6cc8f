/**
 * A dataplane event as `vnf-ctl monitor` shows it: the raw record (bpf/abi/monitor.h) with its
 * numbers turned into names — VNF and reason from the generated ABI enums and the module
 * registry, ports from their ifindex (and the container interface behind them, from the applied
 * topology), the network from its id, and a firewall's rule set and rule index into the firewall,
 * direction and rule they stand for.
 */
import { formatAddr } from '../spec/ipv4.js';
import { REASONS } from '../vnf/common/codec.js';
import type { EventRule } from '../vnf/types.js';
import {
  VNF_MON_A_ALLOW, VNF_MON_A_REJECT, VNF_MON_F_L3, VNF_MON_F_L4, VNF_MON_F_NO_MD, VNF_MON_F_RULE, VNF_MON_T_DROP, VNF_MON_T_NEW,
  VNF_MON_T_VERDICT,
} from '../abi/monitor.js';
import { monEventCodec, type MonEvent } from './codec.js';

export type EventType = 'drop' | 'verdict' | 'new';
export const EVENT_TYPES: readonly EventType[] = ['drop', 'verdict', 'new'];
export const TYPE_IDS: Record<EventType, number> = { drop: VNF_MON_T_DROP, verdict: VNF_MON_T_VERDICT, new: VNF_MON_T_NEW };

/** Names for the ids in events (see names.ts). */
export interface EventNames {
  vnf(id: number): string;
  ifname(ifindex: number): string;
  /** "container/interface" behind a host-side port, when the topology says. */
  owner(ifindex: number): string | undefined;
  network(id: number): string;
  rule(vnf: number, ruleset: number, rule: number): EventRule | undefined;
  /** Wall-clock milliseconds of a bpf_ktime_get_ns() time. */
  wallMs(ktimeNs: bigint): number;
}

export interface PortRef {
  ifindex: number;
  ifname: string;
  /** The container interface behind it ("web/eth0"), when known. */
  owner?: string;
}

export interface MonitorEvent {
  time: string;
  type: EventType;
  vnf: string;
  reason: string;
  /** verdict: what the rule said. */
  action?: 'allow' | 'drop' | 'reject';
  /** The port whose hook ran (where the packet was seen). */
  port: PortRef;
  /** Where the packet came from (a container's port), where it was going, when known. */
  in?: PortRef;
  out?: PortRef;
  network?: string;
  /** The rule the event is due to (a firewall's: its name, direction and rule index). */
  rule?: { ruleset: number; index: number | 'default' } & Partial<Omit<EventRule, 'rule'>>;
  proto?: string;
  src?: string;
  dst?: string;
  sport?: number;
  dport?: number;
  icmpType?: number;
  icmpCode?: number;
  len: number;
}

const PROTOS: Record<number, string> = { 1: 'icmp', 6: 'tcp', 17: 'udp' };
const ACTIONS: Record<number, MonitorEvent['action']> = { [VNF_MON_A_ALLOW]: 'allow', [VNF_MON_A_REJECT]: 'reject' };

function port(names: EventNames, ifindex: number): PortRef {
  const owner = names.owner(ifindex);
  return { ifindex, ifname: names.ifname(ifindex), ...(owner ? { owner } : {}) };
}

/** Decodes one raw record; undefined for a record too short to be one (never thrown). */
export function decodeEvent(buf: Buffer, names: EventNames): MonitorEvent | undefined {
  if (buf.length < monEventCodec.size) return undefined;
  return describeEvent(monEventCodec.decode(buf), names);
}

export function describeEvent(e: MonEvent, names: EventNames): MonitorEvent {
  const type = EVENT_TYPES[e.type] ?? 'drop';
  const out: MonitorEvent = {
    time: new Date(names.wallMs(e.ts_ns)).toISOString(),
    type,
    vnf: names.vnf(e.vnf),
    reason: REASONS[e.reason] ?? `reason-${e.reason}`,
    port: port(names, e.ifindex),
    len: e.len,
  };
  if (type === 'verdict') out.action = ACTIONS[e.action] ?? 'drop';
  if (!(e.flags & VNF_MON_F_NO_MD)) {
    if (e.in) out.in = port(names, e.in);
    if (e.out) out.out = port(names, e.out);
    if (e.network) out.network = names.network(e.network);
  }
  if (e.flags & VNF_MON_F_RULE) {
    const r = names.rule(e.vnf, e.ruleset, e.rule);
    if (r) {
      const { rule: index, ...named } = r;
      out.rule = { ruleset: e.ruleset, index, ...named };
    } else {
      out.rule = { ruleset: e.ruleset, index: e.rule };
    }
  }
  if (e.flags & VNF_MON_F_L3) {
    out.proto = PROTOS[e.proto] ?? String(e.proto);
    out.src = formatAddr(e.saddr);
    out.dst = formatAddr(e.daddr);
    if (e.flags & VNF_MON_F_L4) {
      if (e.proto === 1) {
        out.icmpType = e.sport;
        out.icmpCode = e.dport;
      } else {
        out.sport = e.sport;
        out.dport = e.dport;
      }
    }
  }
  return out;
}
