/* SPDX-License-Identifier: GPL-2.0 */
/* ARP as the router speaks it: replies for its own address, requests for next hops. */
#ifndef VNF_ROUTER_ARP_H
#define VNF_ROUTER_ARP_H

#include "vnf/common.h"
#include "vnf/parse.h"
#include "vnf/neigh.h" /* arp_is_eth_ipv4 */

#define ETH_ZLEN_ 60 /* minimum Ethernet frame without FCS */

/*
 * Rewrites a request for `ip` into the reply, in place (direct packet writes,
 * no helper: the caller's pointers stay valid). Sent to the requester's
 * hardware address, as Linux's arp_process does (dest_hw = sha).
 */
static __always_inline void router_arp_reply(struct ethhdr *eth, struct vnf_arp_eth *arp, const __u8 *mac,
					     __be32 ip)
{
	__be32 sip = arp->ar_sip;

	__builtin_memcpy(eth->h_dest, arp->ar_sha, ETH_ALEN);
	__builtin_memcpy(eth->h_source, mac, ETH_ALEN);
	arp->ar_op = bpf_htons(ARPOP_REPLY);
	__builtin_memcpy(arp->ar_tha, arp->ar_sha, ETH_ALEN); /* before sha is overwritten */
	arp->ar_tip = sip;
	__builtin_memcpy(arp->ar_sha, mac, ETH_ALEN);
	arp->ar_sip = ip;
}

/* A "who-has tip tell sip", padded with zeros to the Ethernet minimum. */
struct router_arp_frame {
	__u8 eth_dst[ETH_ALEN];
	__u8 eth_src[ETH_ALEN];
	__be16 eth_proto;
	struct vnf_arp_eth arp;
	__u8 pad[ETH_ZLEN_ - ETH_HLEN - sizeof(struct vnf_arp_eth)];
};
_Static_assert(sizeof(struct router_arp_frame) == ETH_ZLEN_, "router_arp_frame is one minimum frame");

/*
 * Replaces the packet by an ARP request from (mac, sip) for tip: broadcast
 * when dst is NULL (resolution), else unicast to dst (a probe of a cached
 * MAC, as Linux's PROBE state sends it: the target hardware address stays
 * zero either way, as in Linux's arp_create). The frame is
 * 60 bytes, not 42: bpf_skb_change_tail refuses to cut a CHECKSUM_PARTIAL
 * packet (a TCP segment from a container) below csum_start + csum_offset + 2,
 * which is 52 for TCP behind a 20-byte IPv4 header; 60 is also what a wire
 * would carry. The padding is written too, so no byte of the dropped packet is
 * broadcast. skb->protocol stays ETH_P_IP (no helper can set it to ARP): a
 * receiver that trusts skb->protocol instead of re-parsing (bpf_redirect_peer
 * does not run eth_type_trans) would misread it; a redirect to a veth's
 * egress re-parses it on the peer. Returns 0 or < 0 (then drop); packet
 * pointers are invalid afterwards.
 */
static __always_inline int router_arp_request(struct __sk_buff *skb, const __u8 *dst, const __u8 *mac, __be32 sip,
					      __be32 tip)
{
	struct router_arp_frame f __attribute__((aligned(8))) = {};

	if (dst)
		__builtin_memcpy(f.eth_dst, dst, ETH_ALEN);
	else
		__builtin_memset(f.eth_dst, 0xff, ETH_ALEN);
	__builtin_memcpy(f.eth_src, mac, ETH_ALEN);
	f.eth_proto = bpf_htons(ETH_P_ARP);
	f.arp.ar_hrd = bpf_htons(ARPHRD_ETHER_);
	f.arp.ar_pro = bpf_htons(ETH_P_IP);
	f.arp.ar_hln = ETH_ALEN;
	f.arp.ar_pln = 4;
	f.arp.ar_op = bpf_htons(ARPOP_REQUEST);
	__builtin_memcpy(f.arp.ar_sha, mac, ETH_ALEN);
	f.arp.ar_sip = sip;
	f.arp.ar_tip = tip; /* tha stays zero: unknown */

	/* 0 or -errno (-EINVAL below the minimum length described above). */
	if (bpf_skb_change_tail(skb, sizeof(f), 0) < 0)
		return -1;
	if (bpf_skb_store_bytes(skb, 0, &f, sizeof(f), 0) < 0)
		return -1;
	return 0;
}

#endif
