/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Per-packet metadata carried across tail calls in skb->cb[] (20 bytes of
 * qdisc_skb_cb, private to the TC layer and preserved by tail calls):
 *   cb[0] ingress ifindex (the port it came from; 0 when it came from the stack)
 *   cb[1] egress ifindex (set once a forwarding decision is made)
 *   cb[2] chain id being run
 *   cb[3] network id the packet is currently on (changes when routed)
 *   cb[4] bits 0-7 position in the chain, 8-15 hop count, 16-31 VNF_MD_F_* flags
 */
#ifndef VNF_MD_H
#define VNF_MD_H

#include "vnf/common.h"

#define VNF_MD_F_FROM_ROUTER 0x1 /* the router handed this packet to the bridge */
#define VNF_MD_F_EGRESS_HOOK 0x2 /* running from a tc egress hook: deliver = pass */
#define VNF_MD_F_FROM_OVERLAY 0x4 /* received from another host: never learned, routed or sent back */
#define VNF_MD_F_OVL_FLOOD 0x8   /* bridge -> overlay: replicate to the network's remote hosts */
#define VNF_MAX_HOPS 16          /* VNF hand-offs per packet (tail calls are capped at 33) */

static __always_inline __u32 md_in(struct __sk_buff *skb) { return skb->cb[0]; }
static __always_inline __u32 md_out(struct __sk_buff *skb) { return skb->cb[1]; }
static __always_inline __u32 md_chain(struct __sk_buff *skb) { return skb->cb[2]; }
static __always_inline __u32 md_network(struct __sk_buff *skb) { return skb->cb[3]; }
static __always_inline __u32 md_pos(struct __sk_buff *skb) { return skb->cb[4] & 0xff; }
static __always_inline __u32 md_hops(struct __sk_buff *skb) { return (skb->cb[4] >> 8) & 0xff; }
static __always_inline __u32 md_flags(struct __sk_buff *skb) { return skb->cb[4] >> 16; }

static __always_inline void md_set_out(struct __sk_buff *skb, __u32 v) { skb->cb[1] = v; }
static __always_inline void md_set_network(struct __sk_buff *skb, __u32 v) { skb->cb[3] = v; }
static __always_inline void md_set_pos(struct __sk_buff *skb, __u32 pos)
{
	skb->cb[4] = (skb->cb[4] & ~0xffU) | (pos & 0xff);
}
static __always_inline void md_set_flags(struct __sk_buff *skb, __u32 flags)
{
	skb->cb[4] = (skb->cb[4] & 0xffff) | (flags << 16);
}
static __always_inline void md_init(struct __sk_buff *skb, __u32 in, __u32 chain, __u32 network, __u32 flags)
{
	skb->cb[0] = in;
	skb->cb[1] = 0;
	skb->cb[2] = chain;
	skb->cb[3] = network;
	skb->cb[4] = flags << 16;
}

#endif
