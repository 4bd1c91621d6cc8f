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

#define FW_RST_TTL 64
#define FW_IP_DF 0x4000
#define ICMP_PORT_UNREACH_ 3
#define FW_RST_PAD (IPV4_MAX_HLEN - IPV4_MIN_HLEN)

struct fw_rst_frame {
	__u16 _pad; /* IPv4 header at stack offset 16, TCP at 36: aligned stack
		     * accesses, as in struct icmp_err_frame */
	__u8 eth_dst[ETH_ALEN];
	__u8 eth_src[ETH_ALEN];
	__be16 eth_proto;
	struct iphdr ip;
	struct fw_tcph tcp;
	/* Zeros after the segment when the original's headers were longer:
	 * see fw_rst_build. IPv4's total length excludes them, so a receiver
	 * trims them as Ethernet padding. */
	__u8 tail[FW_RST_PAD];
};
_Static_assert(sizeof(struct fw_rst_frame) == 2 + ETH_HLEN + 40 + FW_RST_PAD, "fw_rst_frame has no hidden padding");

/* Whether Linux's nf_send_reset would answer: never a RST with a RST, nor a
 * segment to a link-layer or IP multicast/broadcast address. */
static __always_inline int fw_rst_allowed(const __u8 *eth_dst, __be32 daddr, __u8 tcp_flags)
{
	if (tcp_flags & TCPF_RST_)
		return 0;
	if (mac_is_multicast(eth_dst))
		return 0;
	return (bpf_ntohl(daddr) >> 28) < 0xe; /* 224/4 multicast, 240/4 incl. 255.255.255.255 */
}

/*
 * Replaces a TCP segment by the RST that answers it (nf_reject_ip_tcphdr_put):
 * with ACK set, seq = its ack and flags RST; without, seq 0, ack = its seq +
 * payload length (+1 each for SYN and FIN) and flags RST|ACK. IPv4 without
 * options, id 0, DF, TTL 64; both checksums complete.
 *
 * The frame is 54 bytes, or as long as the original's IPv4 + TCP headers
 * when those were longer: bpf_skb_change_tail refuses to cut a
 * CHECKSUM_PARTIAL packet (a TCP segment a container sent) below its
 * checksum field, which lies at 14 + IPv4 header + 16. The frame is
 * assembled in *f (the firewall passes a per-CPU scratch buffer: its stack
 * is short), zeroed here. Returns 0, or < 0 when no answer is due or a
 * helper failed (the packet may then be changed: the caller drops it).
 * Packet pointers are invalid afterwards.
 */
static __always_inline int fw_rst_build(struct __sk_buff *skb, struct fw_rst_frame *f)
{
	struct ethhdr eth;
	struct iphdr ip;
	struct fw_tcph th;

	if (bpf_skb_load_bytes(skb, 0, &eth, sizeof(eth)) < 0)
		return -1;
	if (bpf_skb_load_bytes(skb, ETH_HLEN, &ip, sizeof(ip)) < 0)
		return -1;
	/* ihl is 4 bits: hlen in [20, 60] after this check, so new_len below
	 * lies in [54, 94], inside *f — the bound bpf_skb_store_bytes needs. */
	__u32 hlen = ip.ihl * 4;
	__u32 tot = bpf_ntohs(ip.tot_len);

	if (hlen < IPV4_MIN_HLEN)
		return -1;
	if (bpf_skb_load_bytes(skb, ETH_HLEN + hlen, &th, sizeof(th)) < 0)
		return -1;
	__u32 doff = (th.doff_res >> 4) * 4;

	if (doff < sizeof(th) || tot < hlen + doff)
		return -1;
	if (!fw_rst_allowed(eth.h_dest, ip.daddr, th.flags))
		return -1;

	__builtin_memset(f, 0, sizeof(*f));
	__builtin_memcpy(f->eth_dst, eth.h_source, ETH_ALEN);
	__builtin_memcpy(f->eth_src, eth.h_dest, ETH_ALEN);
	f->eth_proto = bpf_htons(ETH_P_IP);
	f->ip.version = 4;
	f->ip.ihl = IPV4_MIN_HLEN / 4;
	f->ip.tot_len = bpf_htons(IPV4_MIN_HLEN + sizeof(th));
	f->ip.frag_off = bpf_htons(FW_IP_DF);
	f->ip.ttl = FW_RST_TTL;
	f->ip.protocol = IPPROTO_TCP_;
	f->ip.saddr = ip.daddr;
	f->ip.daddr = ip.saddr;
	f->ip.check = csum_ipv4_hdr(&f->ip);

	f->tcp.source = th.dest;
	f->tcp.dest = th.source;
	f->tcp.doff_res = (sizeof(th) / 4) << 4;
	if (th.flags & TCPF_ACK_) {
		f->tcp.seq = th.ack_seq;
		f->tcp.flags = TCPF_RST_;
	} else {
		__u32 ack = bpf_ntohl(th.seq) + (tot - hlen - doff);

		if (th.flags & TCPF_SYN_)
			ack++;
		if (th.flags & TCPF_FIN_)
			ack++;
		f->tcp.ack_seq = bpf_htonl(ack);
		f->tcp.flags = TCPF_RST_ | TCPF_ACK_;
	}
	/* Checksum over the pseudo header (addresses, protocol, TCP length)
	 * and the header, 16-bit words read as stored: the one's complement
	 * sum is the same in either byte order. */
	const __u16 *w = (const __u16 *)&f->tcp;
	__u32 sum = (ip.saddr >> 16) + (ip.saddr & 0xffff) + (ip.daddr >> 16) + (ip.daddr & 0xffff) +
		    bpf_htons(IPPROTO_TCP_) + bpf_htons(sizeof(th));

#pragma unroll
	for (int i = 0; i < (int)(sizeof(th) / 2); i++)
		sum += w[i];
	f->tcp.check = csum_fold32(sum);

	__u32 new_len = ETH_HLEN + hlen + sizeof(th);

	if (new_len < ETH_HLEN + IPV4_MIN_HLEN + sizeof(th))
		new_len = ETH_HLEN + IPV4_MIN_HLEN + sizeof(th);
	if (new_len > sizeof(*f) - 2) /* never: hlen <= 60; said for the verifier */
		return -1;
	/* 0 or -errno; resets GSO state (the answer is one small segment). */
	if (bpf_skb_change_tail(skb, new_len, 0) < 0)
		return -1;
	if (bpf_skb_store_bytes(skb, 0, f->eth_dst, new_len, 0) < 0)
		return -1;
	return 0;
}

/*
 * Replaces the packet by an ICMP port unreachable about it, from its
 * destination (address and MAC) back to its sender — what the destination
 * host itself would send, and what Linux's REJECT sends by default: the
 * router's icmp_error_build (vnf/icmp.h) with the original destination as
 * the source, assembled in *f. The IPv4 header and its TOS, the quote (the
 * original header with options + 8 bytes) and the checksums as there. No
 * answer where Linux gives none (icmp_error_allowed: broadcasts, multicasts,
 * non-first fragments, ICMP errors). Returns 0 or < 0 (then drop).
 */
static __always_inline int fw_unreach_build(struct __sk_buff *skb, struct icmp_err_frame *f, __u32 hlen, __u32 tot)
{
	struct ethhdr eth;
	struct iphdr ip;

	if (!icmp_error_allowed(skb, hlen, tot))
		return -1;
	if (bpf_skb_load_bytes(skb, 0, &eth, sizeof(eth)) < 0)
		return -1;
	if (bpf_skb_load_bytes(skb, ETH_HLEN, &ip, sizeof(ip)) < 0)
		return -1;
	hlen = ip.ihl * 4;
	tot = bpf_ntohs(ip.tot_len);
	if (hlen < IPV4_MIN_HLEN || tot < hlen)
		return -1;
	__u32 plen = tot - hlen;

	if (plen > ICMP_QUOTE_L4)
		plen = ICMP_QUOTE_L4;
	__u32 qlen = hlen + plen; /* [20, 68]: fits f->quote */

	__builtin_memset(f, 0, sizeof(*f)); /* bytes past the quote add nothing to the sum */
	if (bpf_skb_load_bytes(skb, ETH_HLEN, f->quote, qlen) < 0)
		return -1;
	__builtin_memcpy(f->eth_dst, eth.h_source, ETH_ALEN);
	__builtin_memcpy(f->eth_src, eth.h_dest, ETH_ALEN);
	f->eth_proto = bpf_htons(ETH_P_IP);
	f->ip.version = 4;
	f->ip.ihl = IPV4_MIN_HLEN / 4;
	f->ip.tos = (ip.tos & IPTOS_TOS_MASK_) | IPTOS_PREC_INTERNETCONTROL_;
	f->ip.tot_len = bpf_htons(ICMP_ERR_HDRS + qlen);
	f->ip.id = (__be16)bpf_get_prandom_u32(); /* no DF (as Linux): the id must vary */
	f->ip.ttl = ICMP_ERR_TTL;
	f->ip.protocol = IPPROTO_ICMP_;
	f->ip.saddr = ip.daddr;
	f->ip.daddr = ip.saddr;
	f->ip.check = csum_ipv4_hdr(&f->ip);
	f->icmp.type = ICMP_DEST_UNREACH_;
	f->icmp.code = ICMP_PORT_UNREACH_;

	/* ICMP header + the zero-padded quote: a constant size, a multiple of
	 * 4 as bpf_csum_diff requires. */
	__s64 sum = bpf_csum_diff(NULL, 0, (__be32 *)&f->icmp, ICMP_HLEN + sizeof(f->quote), 0);

	if (sum < 0)
		return -1;
	f->icmp.checksum = csum_fold32((__u32)sum);

	__u32 new_len = ETH_HLEN + ICMP_ERR_HDRS + qlen;

	if (bpf_skb_change_tail(skb, new_len, 0) < 0)
		return -1;
	if (bpf_skb_store_bytes(skb, 0, f->eth_dst, new_len, 0) < 0)
		return -1;
	return 0;
}

#endif
