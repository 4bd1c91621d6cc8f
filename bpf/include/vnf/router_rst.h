/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The RST the router answers a TCP segment to one of its own addresses with:
 * it listens on no port, so Linux's tcp_v4_rcv finds no socket and sends
 * tcp_v4_send_reset. Built over the segment, back to its sender, from the
 * address it was sent to. Kernel-side only; no maps.
 */
#ifndef VNF_ROUTER_RST_H
#define VNF_ROUTER_RST_H

#include "vnf/common.h"
#include "vnf/csum.h"
#include "vnf/icmp.h"

#define IPPROTO_TCP_R 6
#define IPPROTO_UDP_R 17
#define TCPF_FIN_R 0x01
#define TCPF_SYN_R 0x02
#define TCPF_RST_R 0x04
#define TCPF_ACK_R 0x10
#define IP_DF_R 0x4000
#define ROUTER_RST_TTL 64 /* ip_default_ttl */
#define ROUTER_RST_TAIL (IPV4_MAX_HLEN - IPV4_MIN_HLEN)

/* The 20 bytes of a TCP header without bitfields. */
struct router_tcph {
	__be16 source;
	__be16 dest;
	__be32 seq;
	__be32 ack_seq;
	__u8 doff_res; /* data offset in the high 4 bits */
	__u8 flags;
	__be16 window;
	__sum16 check;
	__be16 urg_ptr;
};
_Static_assert(sizeof(struct router_tcph) == 20, "router_tcph is the fixed TCP header");

struct router_rst_frame {
	__u16 _pad; /* IPv4 header at stack offset 16: naturally aligned stack accesses */
	__u8 eth_dst[ETH_ALEN];
	__u8 eth_src[ETH_ALEN];
	__be16 eth_proto;
	struct iphdr ip;
	struct router_tcph tcp;
	/* Zeros after the segment when the original's IPv4 header was longer
	 * (see below); IPv4's total length excludes them: Ethernet padding. */
	__u8 tail[ROUTER_RST_TAIL];
};
_Static_assert(sizeof(struct router_rst_frame) == 2 + ETH_HLEN + 40 + ROUTER_RST_TAIL, "no hidden padding");

/*
 * Replaces a TCP segment by its RST, as tcp_v4_send_reset builds it: none for
 * a RST; with ACK set, seq = its ack and flags RST; without, seq 0, ack = its
 * seq + payload length (+1 each for SYN and FIN), flags RST|ACK. IPv4 without
 * options, id 0 and DF (the reply socket does path MTU discovery), TTL 64,
 * the segment's TOS. Ethernet back to the sender from `mac`. No answer to a
 * link-layer or IP broadcast/multicast either. The headers are copied with
 * bpf_skb_load_bytes (linear or paged). The frame is 54 bytes, or as long as
 * the original's IPv4 header + 20 when that is longer: bpf_skb_change_tail
 * refuses to cut a CHECKSUM_PARTIAL packet (a segment from a container) below
 * its checksum field. Returns 0, or < 0 when no answer is due or a helper
 * failed (the packet may be changed then: drop it). Packet pointers are
 * invalid afterwards.
 */
static __always_inline int router_rst_build(struct __sk_buff *skb, const __u8 *mac)
{
	struct router_rst_frame f = {};
	struct ethhdr eth;
	struct iphdr ip;
	struct router_tcph th;

	if (bpf_skb_load_bytes(skb, 0, &eth, sizeof(eth)) < 0)
		return -1;
	if (bpf_skb_load_bytes(skb, ETH_HLEN, &ip, sizeof(ip)) < 0)
		return -1;
	/* ihl is 4 bits: hlen in [20, 60] after this check, new_len below in
	 * [54, 94]: inside f, the bound bpf_skb_store_bytes needs. */
	__u32 hlen = ip.ihl * 4;
	__u32 tot = bpf_ntohs(ip.tot_len);

	if (hlen < IPV4_MIN_HLEN)
		return -1;
	if (bpf_skb_load_bytes(skb, ETH_HLEN + hlen, &th, sizeof(th)) < 0)
		return -1;
	__u32 doff = (th.doff_res >> 4) * 4;

	if (doff < sizeof(th) || tot < hlen + doff)
		return -1;
	if (th.flags & TCPF_RST_R)
		return -1;
	if (mac_is_multicast(eth.h_dest) || (bpf_ntohl(ip.daddr) >> 28) >= 0xe)
		return -1;

	__builtin_memcpy(f.eth_dst, eth.h_source, ETH_ALEN);
	__builtin_memcpy(f.eth_src, mac, ETH_ALEN);
	f.eth_proto = bpf_htons(ETH_P_IP);
	f.ip.version = 4;
	f.ip.ihl = IPV4_MIN_HLEN / 4;
	f.ip.tos = ip.tos;
	f.ip.tot_len = bpf_htons(IPV4_MIN_HLEN + sizeof(th));
	f.ip.frag_off = bpf_htons(IP_DF_R);
	f.ip.ttl = ROUTER_RST_TTL;
	f.ip.protocol = IPPROTO_TCP_R;
	f.ip.saddr = ip.daddr;
	f.ip.daddr = ip.saddr;
	f.ip.check = csum_ipv4_hdr(&f.ip);

	f.tcp.source = th.dest;
	f.tcp.dest = th.source;
	f.tcp.doff_res = (sizeof(th) / 4) << 4;
	if (th.flags & TCPF_ACK_R) {
		f.tcp.seq = th.ack_seq;
		f.tcp.flags = TCPF_RST_R;
	} else {
		__u32 ack = bpf_ntohl(th.seq) + (tot - hlen - doff);

		if (th.flags & TCPF_SYN_R)
			ack++;
		if (th.flags & TCPF_FIN_R)
			ack++;
		f.tcp.ack_seq = bpf_htonl(ack);
		f.tcp.flags = TCPF_RST_R | TCPF_ACK_R;
	}
	/* Pseudo header (addresses, protocol, TCP length) and the header, as
	 * stored 16-bit words: the one's complement sum is the same in either
	 * byte order. */
	const __u16 *w = (const __u16 *)&f.tcp;
	__u32 sum = (ip.saddr >> 16) + (ip.saddr & 0xffff) + (ip.daddr >> 16) + (ip.daddr & 0xffff) +
		    bpf_htons(IPPROTO_TCP_R) + bpf_htons(sizeof(th));

#pragma unroll
	for (int i = 0; i < (int)(sizeof(th) / 2); i++)
		sum += w[i];
	f.tcp.check = csum_fold32(sum);

	__u32 new_len = ETH_HLEN + hlen + sizeof(th);

	if (new_len > sizeof(f) - 2) /* never: hlen <= 60; said for the verifier */
		return -1;
	/* 0 or -errno; resets GSO state (the answer is one small segment). */
	if (bpf_skb_change_tail(skb, new_len, 0) < 0)
		return -1;
	if (bpf_skb_store_bytes(skb, 0, f.eth_dst, new_len, 0) < 0)
		return -1;
	return 0;
}

#endif
