/** Codecs of bpf/abi/overlay.h (layouts checked against BTF by test/unit/btf-layout.test.ts). */
import { defineStruct } from '../../codec/struct.js';

export {
  VNF_ID_OVERLAY, VNF_OVL_CFG_F_SET, VNF_OVL_EP_F_FORWARDS, VNF_OVL_EP_MAX, VNF_OVL_FLOOD_MAX, VNF_OVL_HOSTS_MAX,
  VNF_OVL_MAX_FLOOD,
} from '../../abi/overlay.js';

export interface OvlCfg {
  ifindex: number;
  mtu: number;
  /** Underlay address, host order (stored in network order). */
  local: number;
  flags: number;
}
export const ovlCfgCodec = defineStruct<OvlCfg>('vnf_ovl_cfg', [
  ['ifindex', 'u32'],
  ['mtu', 'u32'],
  ['local', 'ipv4'],
  ['flags', 'u32'],
]);

export interface OvlNet {
  vni: number;
  flood_version: number;
  flood_count: number;
}
export const ovlNetCodec = defineStruct<OvlNet>('vnf_ovl_net', [
  ['vni', 'u32'],
  ['flood_version', 'u32'],
  ['flood_count', 'u32'],
  ['_pad', { pad: 4 }],
]);

export interface OvlEpKey {
  network: number;
  mac: string;
}
export const ovlEpKeyCodec = defineStruct<OvlEpKey>('vnf_ovl_ep_key', [
  ['network', 'u32'],
  ['mac', 'mac'],
  ['_pad', { pad: 2 }],
]);

export interface OvlEp {
  /** Host order (stored in network order), as every address of the model. */
  vtep: number;
  vni: number;
  ip: number;
  flags: number;
}
export const ovlEpCodec = defineStruct<OvlEp>('vnf_ovl_ep', [
  ['vtep', 'ipv4'],
  ['vni', 'u32'],
  ['ip', 'ipv4'],
  ['flags', 'u32'],
]);

/** A VTEP as the key of vnf_ovl_hosts or the value of vnf_ovl_flood: network order. */
export const vtepBytes = (vtep: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(vtep >>> 0, 0);
  return b;
};
