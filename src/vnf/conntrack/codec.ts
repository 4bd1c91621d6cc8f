/** Codecs of bpf/abi/conntrack.h (shared by the firewall and NAT). */
import { defineStruct } from '../../codec/struct.js';
import type { ConntrackTimeouts } from './model.js';

import { enum_vnf_ct_state, enum_vnf_ct_stat } from '../../abi/conntrack.js';

export {
  VNF_CT_F_SEEN_REPLY, VNF_CT_F_FIN_ORIG, VNF_CT_F_FIN_REPLY, VNF_CT_F_ASSURED, VNF_CT_F_DYING, VNF_CT_F_PROTECTED,
  VNF_CT_TCP_F_WINDOW_SCALE, VNF_CT_TCP_F_SACK_PERM, VNF_CT_TCP_F_CLOSE_INIT, VNF_CT_TCP_F_DATA_UNACK,
  VNF_CT_TCP_F_MAXACK_SET, VNF_CT_MAX, VNF_CT_LOCKS, VNF_CT_SLOTS, VNF_CT_ZONES, VNF_CT_STAT_MAX, VNF_CT_GC_SIZE,
  VNF_CT_DEFAULT_MAX_ASSURED, VNF_CT_DEFAULT_MAX_NEW, VNF_CT_SLOT_FREE, VNF_CT_SLOT_BUSY, VNF_CT_SLOT_USED,
  VNF_CT_CLASS_NEW, VNF_CT_CLASS_ASSURED,
} from '../../abi/conntrack.js';

/** State names by value (enum vnf_ct_state: VNF_CT_SYN_SENT -> 'syn-sent'), as Linux names them. */
export const CT_STATES: readonly string[] = Object.entries(enum_vnf_ct_state)
  .filter(([k]) => k !== 'VNF_CT_STATES')
  .sort((a, b) => a[1] - b[1])
  .map(([k]) => k.replace(/^VNF_CT_/, '').toLowerCase().replaceAll('_', '-'));
export const CT_STATE: Record<string, number> = Object.fromEntries(CT_STATES.map((s, i) => [s, i]));

export interface CtKey {
  zone: number;
  saddr: number;
  daddr: number;
  sport: number;
  dport: number;
  proto: number;
}
export const ctKeyCodec = defineStruct<CtKey>('vnf_ct_key', [
  ['zone', 'u32'],
  ['saddr', 'ipv4'],
  ['daddr', 'ipv4'],
  ['sport', 'be16'],
  ['dport', 'be16'],
  ['proto', 'u8'],
  ['_pad', { pad: 3 }],
]);

/** TCP window tracking of one direction (struct vnf_ct_tcp_dir). */
export interface CtTcpDir {
  td_end: number;
  td_maxend: number;
  td_maxwin: number;
  td_maxack: number;
  td_scale: number;
  flags: number;
}
export const ctTcpDirCodec = defineStruct<CtTcpDir>('vnf_ct_tcp_dir', [
  ['td_end', 'u32'],
  ['td_maxend', 'u32'],
  ['td_maxwin', 'u32'],
  ['td_maxack', 'u32'],
  ['td_scale', 'u8'],
  ['flags', 'u8'],
  ['_pad', { pad: 2 }],
]);

export interface CtEntry {
  created_ns: bigint;
  last_seen_ns: bigint;
  packets_orig: bigint;
  bytes_orig: bigint;
  packets_reply: bigint;
  bytes_reply: bigint;
  ruleset: number;
  rule: number;
  state: number;
  flags: number;
  dir: number;
  /** TCP: struct vnf_ct_tcp_dir tcp[2] ([0] original sender, [1] reply), raw; see ctTcpDirs. */
  tcp: Buffer;
  last_seq: number;
  last_ack: number;
  last_end: number;
  last_win: number;
  last_dir: number;
  last_index: number;
  last_wscale: number;
  last_flags: number;
  retrans: number;
  /** Its vnf_ct_slots index (meaningful when tag != 0). */
  slot: number;
}
export const ctEntryCodec = defineStruct<CtEntry>('vnf_ct_entry', [
  ['created_ns', 'u64'],
  ['last_seen_ns', 'u64'],
  ['packets_orig', 'u64'],
  ['bytes_orig', 'u64'],
  ['packets_reply', 'u64'],
  ['bytes_reply', 'u64'],
  ['ruleset', 'u32'],
  ['rule', 'u32'],
  ['state', 'u8'],
  ['flags', 'u8'],
  ['dir', 'u8'],
  ['_pad', { pad: 1 }],
  ['tag', 'u32'],
  ['tcp', { bytes: 2 * ctTcpDirCodec.size }],
  ['last_seq', 'u32'],
  ['last_ack', 'u32'],
  ['last_end', 'u32'],
  ['last_win', 'u16'],
  ['last_dir', 'u8'],
  ['last_index', 'u8'],
  ['last_wscale', 'u8'],
  ['last_flags', 'u8'],
  ['retrans', 'u8'],
  ['_pad2', { pad: 1 }],
  ['slot', 'u32'],
]);

/** The two directions' TCP window state of an entry: [original sender, reply sender]. */
export function ctTcpDirs(e: CtEntry): [CtTcpDir, CtTcpDir] {
  return [ctTcpDirCodec.decode(e.tcp, 0), ctTcpDirCodec.decode(e.tcp, ctTcpDirCodec.size)];
}

/** vnf_ct_cfg[0]: 0 means the kernel's default everywhere. */
export interface CtCfg {
  timeout: number[];
  /** PROTECTED (ASSURED, within quota) entries per zone. */
  max_assured: number;
  /** Other entries per zone. */
  max_new: number;
  gc_interval_ms: number;
}
export const ctCfgCodec = defineStruct<CtCfg>('vnf_ct_cfg', [
  ['timeout', { array: 'u32', length: 16 }],
  ['max_assured', 'u32'],
  ['max_new', 'u32'],
  ['gc_interval_ms', 'u32'],
  ['_pad', { pad: 4 }],
]);

/** vnf_ct_zone: a zone's (port's) counts of the entries that hold a slot, by class. */
export interface CtZone {
  assured: bigint;
  unassured: bigint;
  /** The counter's incarnation (slots are uncounted only from the one that counted them). */
  gen: number;
}
export const ctZoneCodec = defineStruct<CtZone>('vnf_ct_zone', [
  ['assured', 'u64'],
  ['unassured', 'u64'],
  ['gen', 'u32'],
  ['_pad', { pad: 4 }],
]);

/** vnf_ct_slots (kernel-only; decoded by tests): st packs state, class, sequence and counter gen. */
export interface CtSlot {
  st: bigint;
  /** struct vnf_ct_key, raw (see ctKeyCodec). */
  key: Buffer;
}
export const ctSlotCodec = defineStruct<CtSlot>('vnf_ct_slot', [
  ['st', 'u64'],
  ['key', { bytes: 20 }],
  ['_pad', { pad: 4 }],
]);

/** The parts of a slot's st word. */
export function slotState(st: bigint): { state: number; cls: number; seq: number; cgen: number } {
  return { state: Number(st & 0xfn), cls: Number((st >> 4n) & 0xfn), seq: Number((st >> 8n) & 0xffffffn), cgen: Number(st >> 32n) };
}

/** vnf_ct_gc[0] (kernel-only; decoded by tests): the collector's timer (opaque) and progress. */
export interface CtGc {
  timer: Buffer;
  cursor: bigint;
  last_ns: bigint;
  cycles: bigint;
}
export const ctGcCodec = defineStruct<CtGc>('vnf_ct_gc', [
  ['timer', { bytes: 16 }],
  ['cursor', 'u64'],
  ['last_ns', 'u64'],
  ['cycles', 'u64'],
]);

/** Names of the conntrack event counters (enum vnf_ct_stat: VNF_CT_S_EARLY_DROP -> 'early-drop'), by index. */
export const CT_STATS: readonly string[] = Object.entries(enum_vnf_ct_stat)
  .filter(([k]) => k !== 'VNF_CT_STATS')
  .sort((a, b) => a[1] - b[1])
  .map(([k]) => k.replace(/^VNF_CT_S_/, '').toLowerCase().replaceAll('_', '-'));

/** Timeouts (seconds) indexed by state, as the kernel reads them. */
export function timeoutTable(t: ConntrackTimeouts): number[] {
  const out = new Array<number>(16).fill(0);
  out[CT_STATE['syn-sent']] = t.tcpSynSent;
  out[CT_STATE['syn-recv']] = t.tcpSynRecv;
  out[CT_STATE.established] = t.tcpEstablished;
  out[CT_STATE['fin-wait']] = t.tcpFinWait;
  out[CT_STATE['close-wait']] = t.tcpCloseWait;
  out[CT_STATE['last-ack']] = t.tcpLastAck;
  out[CT_STATE['time-wait']] = t.tcpTimeWait;
  out[CT_STATE.close] = t.tcpClose;
  out[CT_STATE.udp] = t.udp;
  out[CT_STATE['udp-replied']] = t.udpStream;
  out[CT_STATE.icmp] = t.icmp;
  out[CT_STATE['syn-sent2']] = t.tcpSynSent; // simultaneous open: Linux's SYN_SENT2 has SYN_SENT's 2 minutes
  return out;
}
