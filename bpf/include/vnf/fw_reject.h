/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The answers of a reject rule, built in place over the rejected packet as
 * Linux's REJECT target builds them (net/ipv4/netfilter/nf_reject_ipv4.c):
 * a TCP segment gets a RST, anything else an ICMP port unreachable quoting
 * it. Both come from the original destination: addresses, ports and Ethernet
 * addresses swapped, TTL 64. Kernel-side only; no maps.
 */
#ifndef VNF_FW_REJECT_H
#define VNF_FW_REJECT_H

#include "vnf/common.h"
#include "vnf/csum.h"
#include "vnf/icmp.h"
#include "vnf/fw_parse.h"
#include "vnf/tcp_rst.h"

/* The TCP answer: Linux's nf_reject_ip_tcphdr_put, from the segment's own
 * destination MAC and address, TOS 0 (vnf/tcp_rst.h). */
static __always_inline int fw_rst_build(struct __sk_buff *skb, struct vnf_rst_frame *f)
{
	return vnf_rst_build(skb, f, 0, 0);
}

/*
 * Replaces the packet by an ICMP port unreachable about it, from its
 * destination (address and MAC) back to its sender — what the destination
 * host itself would send, and what Linux's REJECT sends by default: the
 * router's icmp_error_fill (vnf/icmp.h) with the original destination as
 * the source, assembled in *f. The IPv4 header and its TOS, the quote (the
 * original header with options + 8 bytes) and the checksums as there. No
 * answer where Linux gives none (icmp_error_allowed: broadcasts, multicasts,
 * non-first fragments, ICMP errors). Returns 0 or < 0 (then drop).
 */
static __always_inline int fw_unreach_build(struct __sk_buff *skb, struct icmp_err_frame *f, __u32 hlen, __u32 tot)
{
	if (!icmp_error_allowed(skb, hlen, tot))
		return -1;
	return icmp_error_fill(skb, f, ICMP_DEST_UNREACH_, ICMP_PORT_UNREACH_, 0, 0);
}

#endif
