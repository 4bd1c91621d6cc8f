/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Per-port identity, checked where a container's frames enter vnf (the tcx
 * ingress of its host-side veth): a port sends only as itself — its MAC (when
 * the control plane knows it), its IPv4 address or a prefix it was declared
 * to forward for (vnf_port_src), and ARP that names both. IPv4 and ARP only:
 * vnf's networks are IPv4, and any other ethertype would cross the bridge
 * unchecked. What Cilium enforces per endpoint; OpenStack's port security.
 *
 * Headers are copied with bpf_skb_load_bytes (linear or paged data alike),
 * so no packet pointer needs re-checking after a helper.
 */
#ifndef VNF_IDENTITY_H
#define VNF_IDENTITY_H

#include "vnf/maps.h"
#include "vnf/parse.h"

/* What the check needs of a port, copied out of its map value first: a
 * concurrent update of a preallocated hash entry may reuse that memory. */
struct vnf_port_identity {
	__u32 ifindex;
	__be32 ip;
	__u8 mac[ETH_ALEN];
	__u8 mac_known;
	__u8 _pad;
};

/* An address the port may send from besides its own (vnf_port_src). */
static __always_inline int identity_may_send_as(__u32 ifindex, __be32 addr)
{
	struct vnf_port_src_key k = {
		.prefixlen = 64, /* 32 bits of ifindex + a whole address */
		.ifindex = bpf_htonl(ifindex),
		.addr = addr,
	};

	return bpf_map_lookup_elem(&vnf_port_src, &k) != NULL;
}

/* 0 when the frame may enter, else the drop reason. */
static __always_inline __u32 identity_check(struct __sk_buff *skb, const struct vnf_port_identity *id)
{
	struct ethhdr eth;

	if (bpf_skb_load_bytes(skb, 0, &eth, sizeof(eth)) < 0)
		return VNF_R_DROP_MALFORMED;
	if (id->mac_known && !mac_eq(eth.h_source, id->mac))
		return VNF_R_DROP_SPOOF_MAC;
	if (eth.h_proto == bpf_htons(ETH_P_IP)) {
		__be32 saddr;

		if (bpf_skb_load_bytes(skb, ETH_HLEN + 12, &saddr, sizeof(saddr)) < 0)
			return VNF_R_DROP_MALFORMED;
		if (saddr == id->ip || identity_may_send_as(id->ifindex, saddr))
			return 0;
		return VNF_R_DROP_SPOOF_IP;
	}
	if (eth.h_proto == bpf_htons(ETH_P_ARP)) {
		struct vnf_arp_eth arp;

		if (bpf_skb_load_bytes(skb, ETH_HLEN, &arp, sizeof(arp)) < 0)
			return VNF_R_DROP_SPOOF_ARP;
		if (arp.ar_hrd != bpf_htons(1) || arp.ar_pro != bpf_htons(ETH_P_IP) || arp.ar_hln != ETH_ALEN ||
		    arp.ar_pln != 4)
			return VNF_R_DROP_SPOOF_ARP;
		/* The sender hardware address is what neighbours will send to. */
		if (id->mac_known ? !mac_eq(arp.ar_sha, id->mac) : !mac_eq(arp.ar_sha, eth.h_source))
			return VNF_R_DROP_SPOOF_ARP;
		/* Sender IP 0 is an address probe (RFC 5227). */
		if (arp.ar_sip == 0 || arp.ar_sip == id->ip || identity_may_send_as(id->ifindex, arp.ar_sip))
			return 0;
		return VNF_R_DROP_SPOOF_ARP;
	}
	return VNF_R_DROP_ETHERTYPE;
}

#endif
