/** Codecs of bpf/abi/firewall.h. */
import { defineStruct } from '../../codec/struct.js';

export const VNF_ID_FIREWALL = 4;
export const VNF_FW_MAX_TUPLES = 256;
export const VNF_FW_DEFAULT_RULE = 0xffffffff;
export const FW_ACTION = { allow: 0, drop: 1, reject: 2 } as const;
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

export const PCLASS = { other: 0, icmp: 1, tcp: 2, udp: 3 } as const;
export const PCLASSES = 4;
export const pclassOf = (proto: number): number => (proto === 1 ? PCLASS.icmp : proto === 6 ? PCLASS.tcp : proto === 17 ? PCLASS.udp : PCLASS.other);

export interface FwSet {
  ntuples: number[];
  nrules: number;
  default_counter: number;
  default_action: number;
}
export const fwSetCodec = defineStruct<FwSet>('vnf_fw_set', [
  ['ntuples', { array: 'u32', length: 4 }],
  ['nrules', 'u32'],
  ['default_counter', 'u32'],
  ['default_action', 'u8'],
  ['_pad', { pad: 3 }],
]);

export interface FwTupleKey {
  ruleset: number;
  pclass: number;
  index: number;
}
export const fwTupleKeyCodec = defineStruct<FwTupleKey>('vnf_fw_tuple_key', [['ruleset', 'u32'], ['pclass', 'u16'], ['index', 'u16']]);

export const VNF_FW_T_SPORT_ANY = 0x1;
export const VNF_FW_T_DPORT_ANY = 0x2;
export const VNF_FW_PORT_NONE = 0xffff;

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
