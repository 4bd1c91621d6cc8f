/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ICMPv4 messages a router sends: echo replies rewritten in place, and errors
 * (destination unreachable, time exceeded) built over the offending packet.
 * Kernel-side only; no maps.
 */
#ifndef VNF_ICMP_H
#define VNF_ICMP_H

#include "vnf/common.h"
#include "vnf/csum.h"
#include "vnf/router_pkt.h"

#define IPV4_MIN_HLEN 20
#define IPV4_MAX_HLEN 60           /* ihl is 4 bits: 15 words */
#define IPV4_MF 0x2000
#define IPV4_OFFSET 0x1fff
#define ICMP_HLEN 8
#define ICMP_QUOTE_L4 8            /* RFC 792: the original header + 64 bits of its data */
#define ICMP_ERR_HDRS (IPV4_MIN_HLEN + ICMP_HLEN)
#define ICMP_NR_TYPES 18           /* Linux NR_ICMP_TYPES: types above it count as errors */
#define ICMP_SOURCE_QUENCH_ 4
#define ICMP_REDIRECT_ 5
#define ICMP_PARAMETERPROB_ 12
#define ICMP_PROT_UNREACH_ 2        /* ICMP_DEST_UNREACH codes */
#define ICMP_PORT_UNREACH_ 3
#define IPTOS_TOS_MASK_ 0x1e
#define IPTOS_PREC_INTERNETCONTROL_ 0xc0
#define ICMP_ERR_TTL 64            /* Linux's default ip_default_ttl */

/* RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m') for one 16-bit word m -> m'. All
 * three in packet (network) byte order: the one's complement sum does not
 * care about byte order as long as every word is read the same way. */
static __always_inline __u16 csum_replace16(__u16 check, __u16 old, __u16 new)
{
	__u32 sum = (__u16)~check + (__u16)~old + (__u32) new;

	return csum_fold32(sum);
}

/* Whether an ICMP message of this type is an error (Linux icmp_pointers[].error,
 * and every unknown type beyond NR_ICMP_TYPES). No error is sent about one. */
static __always_inline int icmp_type_is_error(__u8 type)
{
	return type == ICMP_DEST_UNREACH_ || type == ICMP_SOURCE_QUENCH_ || type == ICMP_REDIRECT_ ||
	       type == ICMP_TIME_EXCEEDED_ || type == ICMP_PARAMETERPROB_ || type > ICMP_NR_TYPES;
}

/*
 * Rewrites an echo request into its reply in place (no helper call, so the
 * caller's packet pointers stay valid): MACs and IPs swapped (the swap keeps
 * the IP checksum), type 8 -> 0 and TTL reset to 64 (Linux answers with a new
 * packet carrying the default TTL), both checksums updated incrementally.
 * A request with a wrong ICMP checksum gives a reply with a wrong one, which
 * the sender drops: the same outcome as Linux dropping the request.
 */
static __always_inline void icmp_echo_to_reply(struct ethhdr *eth, struct iphdr *ip, struct icmphdr *ic,
					       const __u8 *router_mac)
{
	__be32 a = ip->saddr;
	__u16 old = *(__u16 *)&ip->ttl; /* the (ttl, protocol) word */

	__builtin_memcpy(eth->h_dest, eth->h_source, ETH_ALEN);
	__builtin_memcpy(eth->h_source, router_mac, ETH_ALEN);
	ip->saddr = ip->daddr;
	ip->daddr = a;
	ip->ttl = ICMP_ERR_TTL;
	ip->check = csum_replace16(ip->check, old, *(__u16 *)&ip->ttl);

	old = *(__u16 *)&ic->type; /* the (type, code) word; the code is echoed as Linux does */
	ic->type = ICMP_ECHOREPLY_;
	ic->checksum = csum_replace16(ic->checksum, old, *(__u16 *)&ic->type);
}

/* The ICMP error as written over the packet, assembled on the stack first. */
struct icmp_err_frame {
	__u16 _pad; /* puts the IPv4 header at offset 16: the verifier requires
		     * naturally aligned stack accesses (check_ptr_alignment is
		     * strict for PTR_TO_STACK) and clang writes whole words */
	__u8 eth_dst[ETH_ALEN];
	__u8 eth_src[ETH_ALEN];
	__be16 eth_proto;
	struct iphdr ip;
	struct icmphdr icmp;
	__u8 quote[IPV4_MAX_HLEN + ICMP_QUOTE_L4];
};
_Static_assert(sizeof(struct icmp_err_frame) == 2 + ETH_HLEN + ICMP_ERR_HDRS + IPV4_MAX_HLEN + ICMP_QUOTE_L4,
	       "icmp_err_frame has no hidden padding");

/*
 * Whether Linux would send an ICMP error about this packet (__icmp_send):
 * never about a link-layer broadcast/multicast (pkt_type != PACKET_HOST), a
 * multicast/broadcast destination, a non-first fragment, or an ICMP error
 * (nor an ICMP message too short to tell its type). The caller has validated
 * the IPv4 header: hlen is its length, tot its total length. The headers are
 * copied with bpf_skb_load_bytes (0 on success, -EFAULT past the end), which
 * reads linear and paged data alike: callers need not have pulled them.
 */
static __always_inline int icmp_error_allowed(struct __sk_buff *skb, __u32 hlen, __u32 tot)
{
	struct ethhdr eth;
	struct iphdr ip;

	if (bpf_skb_load_bytes(skb, 0, &eth, sizeof(eth)) < 0)
		return 0;
	if (bpf_skb_load_bytes(skb, ETH_HLEN, &ip, sizeof(ip)) < 0)
		return 0;
	if (mac_is_multicast(eth.h_dest))
		return 0;
	if ((bpf_ntohl(ip.daddr) >> 28) >= 0xe) /* 224/4 multicast, 240/4 incl. 255.255.255.255 */
		return 0;
	if (ip.frag_off & bpf_htons(IPV4_OFFSET))
		return 0;
	if (ip.protocol == IPPROTO_ICMP_) {
		__u8 type;

		if (tot < hlen + 1)
			return 0;
		if (bpf_skb_load_bytes(skb, ETH_HLEN + hlen, &type, 1) < 0)
			return 0;
		if (icmp_type_is_error(type))
			return 0;
	}
	return 1;
}

/*
 * Turns the packet into an ICMP error about it, addressed back to its sender:
 *   eth(dst = old eth src, src = mac) | IPv4(src_ip -> old src, TTL 64,
 *   TOS as Linux: precedence "internetwork control") | ICMP type/code |
 *   old IPv4 header with its options + first 8 bytes of its payload.
 * `mac` NULL: from the packet's own destination MAC; `src_ip` NULL: from its
 * destination address (what the destination host itself, or Linux's REJECT,
 * sends). Linux quotes as much as fits in 576 bytes (RFC 1812); we quote what
 * RFC 792 requires, which is all a sender uses to find the socket.
 *
 * Everything is assembled in *f (the caller's stack, or a per-CPU scratch
 * buffer when its stack is short), then the packet is resized once with
 * bpf_skb_change_tail and written with one bpf_skb_store_bytes: the quote is
 * copied out before the packet changes, so no bytes have to be moved inside
 * it (bpf_skb_adjust_room would only have opened a hole we then overwrite).
 * Whether an error is due at all is the caller's (icmp_error_allowed).
 * Returns 0, or < 0 when a helper failed (the packet may then be changed:
 * the caller must drop it). All packet pointers are invalid afterwards.
 */
static __always_inline int icmp_error_fill(struct __sk_buff *skb, struct icmp_err_frame *f, __u8 type, __u8 code,
					   const __be32 *src_ip, const __u8 *mac)
{
	struct ethhdr eth;
	struct iphdr ip;

	/* Copies, not packet pointers: linear or paged, and nothing to re-check
	 * after the helpers below change the packet. */
	if (bpf_skb_load_bytes(skb, 0, &eth, sizeof(eth)) < 0)
		return -1;
	if (bpf_skb_load_bytes(skb, ETH_HLEN, &ip, sizeof(ip)) < 0)
		return -1;
	/* ihl is 4 bits, so hlen <= 60; with the lower check the verifier knows
	 * hlen in [20, 60] and qlen below in [20, 68]: a non-zero size that fits
	 * f->quote, which is what bpf_skb_load_bytes' ARG_CONST_SIZE demands. */
	__u32 hlen = ip.ihl * 4;
	__u32 tot = bpf_ntohs(ip.tot_len);

	if (hlen < IPV4_MIN_HLEN || tot < hlen)
		return -1;
	__u32 plen = tot - hlen;

	if (plen > ICMP_QUOTE_L4)
		plen = ICMP_QUOTE_L4;
	__u32 qlen = hlen + plen;

	/* Zeroed: bytes past the quote then add nothing to the checksum. */
	__builtin_memset(f, 0, sizeof(*f));
	if (bpf_skb_load_bytes(skb, ETH_HLEN, f->quote, qlen) < 0)
		return -1;

	__builtin_memcpy(f->eth_dst, eth.h_source, ETH_ALEN);
	if (mac)
		__builtin_memcpy(f->eth_src, mac, ETH_ALEN);
	else
		__builtin_memcpy(f->eth_src, eth.h_dest, ETH_ALEN);
	f->eth_proto = bpf_htons(ETH_P_IP);
	f->ip.version = 4;
	f->ip.ihl = IPV4_MIN_HLEN / 4;
	f->ip.tos = (ip.tos & IPTOS_TOS_MASK_) | IPTOS_PREC_INTERNETCONTROL_;
	f->ip.tot_len = bpf_htons(ICMP_ERR_HDRS + qlen);
	f->ip.id = (__be16)bpf_get_prandom_u32(); /* no DF (as Linux): the id must vary */
	f->ip.ttl = ICMP_ERR_TTL;
	f->ip.protocol = IPPROTO_ICMP_;
	f->ip.saddr = src_ip ? *src_ip : ip.daddr;
	f->ip.daddr = ip.saddr;
	f->ip.check = csum_ipv4_hdr(&f->ip); /* check is still 0 here */
	f->icmp.type = type;
	f->icmp.code = code;

	/* Sum of the ICMP header and the whole (zero-padded) quote: a constant
	 * size, a multiple of 4 as bpf_csum_diff requires (-EINVAL otherwise).
	 * The result is an unfolded 32-bit sum (or, on some kernels, already
	 * folded to 16 bits): folding it again is harmless. */
	__s64 sum = bpf_csum_diff(NULL, 0, (__be32 *)&f->icmp, ICMP_HLEN + sizeof(f->quote), 0);

	if (sum < 0)
		return -1;
	f->icmp.checksum = csum_fold32((__u32)sum);

	/* Trims (or grows, zero-filled) to the new length; 0 or -errno. It
	 * refuses to cut below a CHECKSUM_PARTIAL offset (csum_start +
	 * csum_offset + 2), which for TCP/UDP lies within the header we keep. */
	__u32 new_len = ETH_HLEN + ICMP_ERR_HDRS + qlen;

	if (bpf_skb_change_tail(skb, new_len, 0) < 0)
		return -1;
	/* new_len <= 14 + 28 + 68 = sizeof(*f) - 2: the read stays inside *f. */
	if (bpf_skb_store_bytes(skb, 0, f->eth_dst, new_len, 0) < 0)
		return -1;
	return 0;
}

/* The router's error: from its port (address and MAC), assembled on the stack. */
static __always_inline int icmp_error_build(struct __sk_buff *skb, __u8 type, __u8 code, __be32 router_ip,
					    const __u8 *router_mac)
{
	struct icmp_err_frame f;

	return icmp_error_fill(skb, &f, type, code, &router_ip, router_mac);
}

#endif
