/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * overlay VNF ABI: a network stretched across hosts over VXLAN (one
 * collect_md device per host; the program sets the remote VTEP and the VNI of
 * every frame it sends and checks them on every frame it receives). See
 * vnf_common.h for the rules. The control plane fills every map from one
 * host's slice (src/vnf/overlay/model.ts).
 */
#ifndef VNF_ABI_OVERLAY_H
#define VNF_ABI_OVERLAY_H

#include "abi/vnf_common.h"

#define VNF_ID_OVERLAY 6
#define VNF_MAP_OVL_CFG "vnf_ovl_cfg"
#define VNF_MAP_OVL_NET "vnf_ovl_net"
#define VNF_MAP_OVL_VNI "vnf_ovl_vni"
#define VNF_MAP_OVL_FLOOD "vnf_ovl_flood"
#define VNF_MAP_OVL_EP "vnf_ovl_ep"
#define VNF_MAP_OVL_HOSTS "vnf_ovl_hosts"

#define VNF_OVL_HOSTS_MAX 1024
#define VNF_OVL_EP_MAX 32768 /* remote endpoints; their REMOTE FDB entries share vnf_fdb_static */
#define VNF_OVL_FLOOD_MAX 16384 /* (network, remote host) pairs, old and new lists during an apply */
#define VNF_OVL_MAX_FLOOD 1024 /* remote hosts of one network a broadcast reaches (bpf_loop) */

/* vnf_ovl_cfg[0]: this host's VXLAN device. ifindex 0 = no overlay (every
 * hand-off to the overlay is then a counted drop). */
#define VNF_OVL_CFG_F_SET 0x1
struct vnf_ovl_cfg {
	__u32 ifindex; /* the VXLAN device (external / collect_md) */
	__u32 mtu;     /* largest frame it carries, without the Ethernet header */
	__u32 local;   /* this host's underlay address, network order */
	__u32 flags;   /* VNF_OVL_CFG_F_* */
};
VNF_STATIC_ASSERT(sizeof(struct vnf_ovl_cfg) == 16, "vnf_ovl_cfg");

/* vnf_ovl_net: network id -> its VNI and the list of remote hosts that have a
 * port on it (vnf_ovl_flood), written under a new version then flipped, as
 * vnf_flood. Read by the bridge too: a flood count of 0 means no hand-off. */
struct vnf_ovl_net {
	__u32 vni;
	__u32 flood_version;
	__u32 flood_count;
	__u32 _pad;
};
VNF_STATIC_ASSERT(sizeof(struct vnf_ovl_net) == 16, "vnf_ovl_net");

/* vnf_ovl_vni: VNI (u32) -> network id (u32): what a received frame is on. */

/* vnf_ovl_flood: (network, version, index) -> VTEP (u32, network order). The
 * key is struct vnf_flood_key. */

/* vnf_ovl_hosts: VTEP (u32, network order) -> 1: the live hosts a frame may come from. */

/* vnf_ovl_ep: (network, MAC) -> an interface of a container on another host. */
struct vnf_ovl_ep_key {
	__u32 network;
	__u8 mac[6];
	__u8 _pad[2];
};
VNF_STATIC_ASSERT(sizeof(struct vnf_ovl_ep_key) == 12, "vnf_ovl_ep_key");

#define VNF_OVL_EP_F_FORWARDS 0x1 /* it may send from other addresses: only its MAC is checked */
struct vnf_ovl_ep {
	__u32 vtep;  /* its host's underlay address, network order */
	__u32 vni;
	__u32 ip;    /* its address, network order */
	__u32 flags; /* VNF_OVL_EP_F_* */
};
VNF_STATIC_ASSERT(sizeof(struct vnf_ovl_ep) == 16, "vnf_ovl_ep");

#endif
