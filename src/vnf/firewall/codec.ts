/** Codecs of bpf/abi/firewall.h. */
import { defineStruct } from '../../codec/struct.js';

import {
  VNF_FW_ALLOW, VNF_FW_DROP, VNF_FW_REJECT, VNF_FW_PC_ICMP, VNF_FW_PC_OTHER, VNF_FW_PC_TCP, VNF_FW_PC_UDP,
} from '../../abi/firewall.js';

export {
  VNF_ID_FIREWALL, VNF_FW_MAX_TUPLES, VNF_FW_DEFAULT_RULE, VNF_FW_T_SPORT_ANY, VNF_FW_T_DPORT_ANY, VNF_FW_PORT_NONE,
  VNF_FW_PCLASSES as PCLASSES, VNF_FW_CLS_MAX, VNF_FW_RULES_MAX, VNF_FW_SET_F_INCOMPLETE, VNF_FW_BIND_MAX,
  VNF_FW_PORTS_MAX, VNF_FW_SETS_MAX, VNF_FW_STATS_MAX, VNF_FW_TUPLES_MAX,
} from '../../abi/firewall.js';

export const FW_ACTION = { allow: VNF_FW_ALLOW, drop: VNF_FW_DROP, reject: VNF_FW_REJECT } as const;
export type FwAction = keyof typeof FW_ACTION;
export const FW_ACTION_NAME: Record<number, FwAction> = { 0: 'allow', 1: 'drop', 2: 'reject' };

export interface FwBindKey {
  ifindex: number;
  dir: number;
}
export const fwBindKeyCodec = defineStruct<FwBindKey>('vnf_fw_bind_key', [['ifindex', 'u32'], ['dir', 'u32']]);

export interface FwBind {
  ruleset: number;
  flags: number;
}
export const fwBindCodec = defineStruct<FwBind>('vnf_fw_bind', [['ruleset', 'u32'], ['flags', 'u32']]);

export const PCLASS = { other: VNF_FW_PC_OTHER, icmp: VNF_FW_PC_ICMP, tcp: VNF_FW_PC_TCP, udp: VNF_FW_PC_UDP } as const;
export const pclassOf = (proto: number): number => (proto === 1 ? PCLASS.icmp : proto === 6 ? PCLASS.tcp : proto === 17 ? PCLASS.udp : PCLASS.other);

export interface FwSet {
  ntuples: number[];
  nrules: number;
  default_counter: number;
  default_action: number;
  flags?: number;
  /** Content hash: what conntrack entries remember. */
  version: number;
}
export const fwSetCodec = defineStruct<FwSet>('vnf_fw_set', [
  ['ntuples', { array: 'u32', length: 4 }],
  ['nrules', 'u32'],
  ['default_counter', 'u32'],
  ['default_action', 'u8'],
  ['flags', 'u8'],
  ['_pad', { pad: 2 }],
  ['version', 'u32'],
]);

export interface FwTupleKey {
  ruleset: number;
  pclass: number;
  index: number;
}
export const fwTupleKeyCodec = defineStruct<FwTupleKey>('vnf_fw_tuple_key', [['ruleset', 'u32'], ['pclass', 'u16'], ['index', 'u16']]);


export interface FwTuple {
  min_rule: number;
  tuple: number;
  src_plen: number;
  dst_plen: number;
  flags: number;
  proto: number;
}
export const fwTupleCodec = defineStruct<FwTuple>('vnf_fw_tuple', [
  ['min_rule', 'u32'],
  ['tuple', 'u16'],
  ['src_plen', 'u8'],
  ['dst_plen', 'u8'],
  ['flags', 'u8'],
  ['proto', 'u8'],
  ['_pad', { pad: 2 }],
]);

export interface FwClsKey {
  ruleset: number;
  tuple: number;
  proto: number;
  saddr: number;
  daddr: number;
  sport: number;
  dport: number;
}
export const fwClsKeyCodec = defineStruct<FwClsKey>('vnf_fw_cls_key', [
  ['ruleset', 'u32'],
  ['tuple', 'u16'],
  ['proto', 'u8'],
  ['_pad', { pad: 1 }],
  ['saddr', 'ipv4'],
  ['daddr', 'ipv4'],
  ['sport', 'u16'],
  ['dport', 'u16'],
]);

export interface FwPortKey {
  /** 48 + the port prefix length. */
  prefixlen: number;
  ruleset: number;
  field: number;
  port: number;
}
export const fwPortKeyCodec = defineStruct<FwPortKey>('vnf_fw_port_key', [
  ['prefixlen', 'u32'],
  ['ruleset', 'be32'],
  ['field', 'be16'],
  ['port', 'be16'],
]);

export interface FwRuleKey {
  ruleset: number;
  index: number;
}
export const fwRuleKeyCodec = defineStruct<FwRuleKey>('vnf_fw_rule_key', [['ruleset', 'u32'], ['index', 'u32']]);

export interface FwRule {
  counter: number;
  action: number;
}
export const fwRuleCodec = defineStruct<FwRule>('vnf_fw_rule', [['counter', 'u32'], ['action', 'u8'], ['_pad', { pad: 3 }]]);
