/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The RST that answers a TCP segment, built in place over it: what a Linux
 * host without a socket for it sends (tcp_v4_send_reset, the router about its
 * own addresses) and what Linux's REJECT target sends
 * (nf_reject_ip_tcphdr_put, the firewall). One builder for both; they differ
 * only in the Ethernet source and the TOS. Kernel-side only; no maps.
 */
#ifndef VNF_TCP_RST_H
#define VNF_TCP_RST_H

#include "vnf/common.h"
#include "vnf/csum.h"
#include "vnf/icmp.h"
#include "vnf/tcp.h"

#define VNF_IP_DF 0x4000
#define VNF_RST_TTL 64 /* ip_default_ttl */
#define VNF_RST_TAIL (IPV4_MAX_HLEN - IPV4_MIN_HLEN)

struct vnf_rst_frame {
	__u16 _pad; /* IPv4 header at offset 16, TCP at 36: naturally aligned accesses */
	__u8 eth_dst[ETH_ALEN];
	__u8 eth_src[ETH_ALEN];
	__be16 eth_proto;
	struct iphdr ip;
	struct vnf_tcph tcp;
	/* Zeros after the segment when the original's IPv4 header was longer
	 * (see vnf_rst_build); IPv4's total length excludes them, so a
	 * receiver trims them as Ethernet padding. */
	__u8 tail[VNF_RST_TAIL];
};
_Static_assert(sizeof(struct vnf_rst_frame) == 2 + ETH_HLEN + 40 + VNF_RST_TAIL, "vnf_rst_frame has no hidden padding");

/* How the answer is addressed at layer 2 and what it keeps of the segment. */
#define VNF_RST_F_KEEP_TOS 0x1 /* the segment's TOS (tcp_v4_send_reset); else 0 (nf_reject) */

/*
 * Replaces a TCP segment by its RST: none for a RST, nor for a segment to a
 * link-layer or IP broadcast/multicast address; with ACK set, seq = its ack
 * and flags RST; without, seq 0, ack = its seq + payload length (+1 each for
 * SYN and FIN), flags RST|ACK. IPv4 without options, id 0, DF (the reply
 * socket does path MTU discovery), TTL 64, from the address the segment was
 * sent to; both checksums complete. Ethernet back to the sender, from `mac`,
 * or from the segment's destination MAC when `mac` is NULL. The headers are
 * copied with bpf_skb_load_bytes (linear or paged) and the frame assembled
 * in *f (the caller's stack, or a per-CPU scratch buffer when its stack is
 * short).
 *
 * The frame is 54 bytes, or as long as the original's IPv4 header + 20 when
 * that is longer: bpf_skb_change_tail refuses to cut a CHECKSUM_PARTIAL
 * packet (a segment from a container) below its checksum field, at 14 + IPv4
 * header + 16. Returns 0, or < 0 when no answer is due or a helper failed
 * (the packet may be changed then: drop it). Packet pointers are invalid
 * afterwards.
 */
static __always_inline int vnf_rst_build(struct __sk_buff *skb, struct vnf_rst_frame *f, const __u8 *mac, __u32 flags)
{
	struct ethhdr eth;
	struct iphdr ip;
	struct vnf_tcph th;

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
	if (th.flags & VNF_TCPF_RST)
		return -1;
	if (mac_is_multicast(eth.h_dest) || (bpf_ntohl(ip.daddr) >> 28) >= 0xe)
		return -1; /* 224/4 multicast, 240/4 incl. 255.255.255.255 */

	__builtin_memset(f, 0, sizeof(*f));
	__builtin_memcpy(f->eth_dst, eth.h_source, ETH_ALEN);
	if (mac)
		__builtin_memcpy(f->eth_src, mac, ETH_ALEN);
	else
		__builtin_memcpy(f->eth_src, eth.h_dest, ETH_ALEN);
	f->eth_proto = bpf_htons(ETH_P_IP);
	f->ip.version = 4;
	f->ip.ihl = IPV4_MIN_HLEN / 4;
	if (flags & VNF_RST_F_KEEP_TOS)
		f->ip.tos = ip.tos;
	f->ip.tot_len = bpf_htons(IPV4_MIN_HLEN + sizeof(th));
	f->ip.frag_off = bpf_htons(VNF_IP_DF);
	f->ip.ttl = VNF_RST_TTL;
	f->ip.protocol = IPPROTO_TCP_;
	f->ip.saddr = ip.daddr;
	f->ip.daddr = ip.saddr;
	f->ip.check = csum_ipv4_hdr(&f->ip);

	f->tcp.source = th.dest;
	f->tcp.dest = th.source;
	f->tcp.doff_res = (sizeof(th) / 4) << 4;
	if (th.flags & VNF_TCPF_ACK) {
		f->tcp.seq = th.ack_seq;
		f->tcp.flags = VNF_TCPF_RST;
	} else {
		__u32 ack = bpf_ntohl(th.seq) + (tot - hlen - doff);

		if (th.flags & VNF_TCPF_SYN)
			ack++;
		if (th.flags & VNF_TCPF_FIN)
			ack++;
		f->tcp.ack_seq = bpf_htonl(ack);
		f->tcp.flags = VNF_TCPF_RST | VNF_TCPF_ACK;
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

	if (new_len > sizeof(*f) - 2) /* never: hlen <= 60; said for the verifier */
		return -1;
	/* 0 or -errno; resets GSO state (the answer is one small segment). */
	if (bpf_skb_change_tail(skb, new_len, 0) < 0)
		return -1;
	if (bpf_skb_store_bytes(skb, 0, f->eth_dst, new_len, 0) < 0)
		return -1;
	return 0;
}

#endif
