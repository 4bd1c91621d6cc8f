/* SPDX-License-Identifier: GPL-2.0 */
/* Delivery into a container: what a redirect to a veth's peer needs. */
#ifndef VNF_DELIVER_H
#define VNF_DELIVER_H

#include "vnf/common.h"

/* skb->pkt_type, read so that clang cannot fold the context offset into a
 * register (the verifier accepts only ctx + constant offset loads). */
static __always_inline __u32 skb_pkt_type(struct __sk_buff *skb)
{
	__u32 v;

	asm volatile("%0 = *(u32 *)(%1 + %2)" : "=r"(v) : "r"(skb), "i"(__builtin_offsetof(struct __sk_buff, pkt_type)));
	return v;
}

#define PACKET_HOST_ 0
#define PACKET_BROADCAST_ 1
#define PACKET_MULTICAST_ 2

/*
 * The packet type the container's stack must see. The host-side veth's
 * eth_type_trans marked a frame for the container's MAC as PACKET_OTHERHOST
 * (not the host veth's MAC), and before Linux 6.15 bpf_redirect_peer() did not
 * reset it: the container then drops every unicast delivery. Set it from the
 * destination MAC, as the peer's own eth_type_trans would. bpf_skb_change_type
 * only moves between HOST, BROADCAST, MULTICAST and OTHERHOST; 0 or -errno.
 */
static __always_inline long deliver_pkt_type(struct __sk_buff *skb)
{
	__u8 dst[ETH_ALEN];
	__u32 want = PACKET_HOST_;

	if (bpf_skb_load_bytes(skb, 0, dst, sizeof(dst)) < 0)
		return -1;
	if (mac_is_multicast(dst))
		want = (dst[0] & dst[1] & dst[2] & dst[3] & dst[4] & dst[5]) == 0xff ? PACKET_BROADCAST_ : PACKET_MULTICAST_;
	if (skb_pkt_type(skb) == want)
		return 0;
	return bpf_skb_change_type(skb, want);
}

#endif
