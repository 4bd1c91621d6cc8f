/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the firewall reads of a packet: the IPv4 header (with options), the
 * L4 fields it classifies and tracks on, for ICMP errors the quoted packet,
 * and for a TCP segment being judged what the window check needs (sequence,
 * ack, window, length, and the options it uses: fw_tcp_seg, into conntrack's
 * per-CPU work slot). Headers are copied with bpf_skb_load_bytes, which reads
 * linear and paged data alike (a GSO segment from a container may carry its
 * headers anywhere) and needs no packet pointer, so nothing here has to be
 * re-checked after a helper call. Kernel-side only.
 */
#ifndef VNF_FW_PARSE_H
#define VNF_FW_PARSE_H

#include "vnf/common.h"
#include "vnf/conntrack.h"
#include "vnf/tcp.h"

#define FW_IPV4_MF 0x2000
#define FW_IPV4_OFFSET 0x1fff
#define FW_ICMP_SOURCE_QUENCH 4
#define FW_ICMP_REDIRECT 5
#define FW_ICMP_PARAMETERPROB 12

/* What kind of packet it is, for conntrack. */
enum fw_kind {
	FW_K_PORTS = 0,     /* TCP or UDP: ports from the header */
	FW_K_OTHER = 1,     /* another IP protocol: tracked by addresses, ports 0 */
	FW_K_ECHO_REQ = 2,  /* ICMP echo request: ct ports {id, 0}, creates an entry */
	FW_K_ECHO_REP = 3,  /* ICMP echo reply: only ever a reply */
	FW_K_ICMP = 4,      /* other ICMP informational types: stateless */
	FW_K_ICMP_ERR = 5,  /* ICMP error: related to a tracked connection, or invalid */
	FW_K_FRAG = 6,      /* non-first fragment: no L4 header */
};

struct fw_pkt {
	__be32 saddr;
	__be32 daddr;
	__be16 sport;   /* conntrack ports, network order (ICMP echo: id, 0) */
	__be16 dport;
	__u16 csport;   /* classification ports, host order (ICMP: 0, type) */
	__u16 cdport;
	__be16 ip_id;
	__u16 tot;      /* IPv4 total length */
	__u8 hlen;      /* IPv4 header length, 20..60 */
	__u8 proto;
	__u8 kind;      /* enum fw_kind */
	__u8 tcp_flags; /* 0 without a TCP header */
	__u8 first_frag;/* offset 0 with MF: the rest of the datagram follows */
	__u8 _pad[3];
	/* ICMP errors: the quoted packet's tuple, as it travelled. */
	__be32 in_saddr;
	__be32 in_daddr;
	__be16 in_sport;
	__be16 in_dport;
	__u8 in_proto;
	__u8 in_echo;   /* quoted ICMP: 8 request, 0 reply, 0xff anything else */
	__u8 in_ok;     /* the quote could be read: a tuple to look up */
	__u8 _pad2;
};


struct fw_l4h { /* first 8 bytes of UDP, ICMP, or TCP */
	__be16 a; /* ports; ICMP: type/code */
	__be16 b; /* ICMP: checksum */
	__be16 c; /* ICMP echo: identifier */
	__be16 d;
};

/* ---- the TCP segment ---------------------------------------------------- */

#define TCPOPT_EOL 0
#define TCPOPT_NOP 1
#define TCPOPT_WINDOW 3     /* kind, 3, shift */
#define TCPOPT_SACK_PERM 4  /* kind, 2 */
#define TCPOPT_SACK 5       /* kind, 2 + 8n, n blocks of (left, right) edges */
#define TCPOPT_TIMESTAMP 8
#define TCP_OPT_MAX 40      /* a 60-byte header */

/* Option byte `o` (0 = the first after the 20-byte header) of the header in
 * the work slot. Every read masks its index with CT_HDR_BUF - 1: the walk's
 * own checks keep it under 60, the mask is what the verifier can follow
 * (clang folds the checks into forms it cannot); bytes past the options are
 * stale but never reached. */
#define OPT(w, o) ((w)->hdr[(20 + (o)) & (CT_HDR_BUF - 1)])

/* A big-endian 32-bit value at option byte o. */
static __always_inline __u32 fw_opt_be32(const struct ct_tcp_work *w, __u32 o)
{
	return ((__u32)OPT(w, o) << 24) | ((__u32)OPT(w, o + 1) << 16) | ((__u32)OPT(w, o + 2) << 8) | OPT(w, o + 3);
}

/* bpf_loop's context must be on the stack: it only carries the work slot. */
struct fw_opt_ctx {
	struct ct_tcp_work *w;
};

/*
 * One option (bpf_loop callback over the work slot; returns 1 to stop). As
 * Linux's tcp_options and tcp_sack: EOL ends the list, NOP is one byte, a
 * size under 2 or past the end stops the walk (nothing after it is
 * trusted), options of the wrong size are skipped, only the first SACK
 * option counts. The callback is verified once whatever the count.
 */
static long fw_opt_step(__u32 n, void *data)
{
	struct ct_tcp_work *w = ((struct fw_opt_ctx *)data)->w;
	struct ct_tcp_seg *s = &w->seg;
	__u32 i = w->opt_i, len = w->opt_len;
	__u8 kind, size;

	if (len > TCP_OPT_MAX || i >= len)
		return 1;
	kind = OPT(w, i);
	if (kind == TCPOPT_EOL)
		return 1;
	if (kind == TCPOPT_NOP) {
		w->opt_i = i + 1;
		return 0;
	}
	if (i + 1 >= len)
		return 1;
	size = OPT(w, i + 1);
	if (size < 2 || size > len - i)
		return 1;
	if (kind == TCPOPT_WINDOW && size == 3) {
		__u8 ws = OPT(w, i + 2);

		s->wscale = ws > TCP_MAX_WSCALE ? TCP_MAX_WSCALE : ws;
		s->opts |= VNF_CT_TCP_F_WINDOW_SCALE;
	} else if (kind == TCPOPT_SACK_PERM && size == 2) {
		s->opts |= VNF_CT_TCP_F_SACK_PERM;
	} else if (kind == TCPOPT_SACK && !w->opt_sack_done && size >= 10 && ((size - 2) & 7) == 0) {
		/* Up to 4 blocks (i + size <= len <= 40); the right edge of
		 * block b is at i + 2 + 8b + 4. */
		for (__u32 b = 0; b < 4; b++) {
			if (8 * b + 10 > size)
				break;
			__u32 right = fw_opt_be32(w, i + 2 + 8 * b + 4);

			if (ct_after(right, s->sack))
				s->sack = right;
		}
		w->opt_sack_done = 1;
	}
	w->opt_i = i + size;
	return 0;
}

/*
 * The TCP segment of the packet, for the window check, into this CPU's work
 * slot (struct ct_tcp_seg): sequence, ack, window, its end (Linux's
 * segment_seq_plus_len: SYN and FIN take a sequence number each), and of
 * its options the window scale and SACK-permitted (used from SYNs) and the
 * highest SACK right edge (used from other segments). `off` is the TCP
 * header, `len` the IP payload from it (fw_parse checked that the header
 * fits), `partial` a first fragment (the segment goes on in the next ones).
 * The header and its options are read at once; the common options,
 * timestamps alone (NOP NOP TS), need no walk. Returns 0, or < 0 when the
 * header cannot be read.
 *
 * Called only where a segment is judged (tracked, or opening a
 * connection), not from fw_parse. A global function taking no pointer into
 * the caller's frame: the verifier checks it once, and the caller keeps its
 * pruning (a subprogram reading the caller's frame, or called early, costs
 * the verifier much of it over everything that follows).
 */
__attribute__((noinline)) int fw_tcp_seg(struct __sk_buff *skb, __u32 off, __u32 len, __u32 partial)
{
	struct ct_tcp_work *w = ct_tcp_work_get();
	const struct vnf_tcph *th;
	struct ct_tcp_seg *s;
	__u32 n, doff, olen;

	if (!skb || !w || len < sizeof(*th))
		return -1;
	n = len < 60 ? len : 60;
	/* The barrier keeps clang from folding the mask into the min above:
	 * the masked register is the bound the verifier checks the size by. */
	asm volatile("" : "+r"(n));
	n &= CT_HDR_BUF - 1;
	if (n < sizeof(*th) || bpf_skb_load_bytes(skb, off, w->hdr, n) < 0)
		return -1;
	th = (const struct vnf_tcph *)w->hdr;
	s = &w->seg;
	doff = (th->doff_res >> 4) * 4;
	s->seq = bpf_ntohl(th->seq);
	s->ack = bpf_ntohl(th->ack_seq);
	s->sack = s->ack;
	s->win = bpf_ntohs(th->window);
	s->flags = th->flags;
	s->wscale = 0;
	s->opts = partial ? CT_SEG_PARTIAL : 0;
	s->end = s->seq + (len - doff) + ((th->flags & TCP_F_SYN) ? 1 : 0) + ((th->flags & TCP_F_FIN) ? 1 : 0);
	olen = doff - sizeof(*th);
	if (doff <= sizeof(*th) || doff > n)
		return 0;
	s->opts |= CT_SEG_OPTIONS;
	if (olen == 12 && OPT(w, 0) == TCPOPT_NOP && OPT(w, 1) == TCPOPT_NOP && OPT(w, 2) == TCPOPT_TIMESTAMP &&
	    OPT(w, 3) == 10)
		return 0;
	w->opt_len = olen;
	w->opt_i = 0;
	w->opt_sack_done = 0;
	/* Each step consumes at least one byte: 40 steps walk any list. */
	struct fw_opt_ctx c = { .w = w };

	bpf_loop(TCP_OPT_MAX, fw_opt_step, &c, 0);
	return 0;
}

static __always_inline int fw_icmp_is_error(__u8 type)
{
	/* Linux's icmp_is_err(): conntrack treats exactly these as errors about
	 * another packet (nf_conntrack_icmpv4_error). */
	return type == ICMP_DEST_UNREACH_ || type == FW_ICMP_SOURCE_QUENCH || type == FW_ICMP_REDIRECT ||
	       type == ICMP_TIME_EXCEEDED_ || type == FW_ICMP_PARAMETERPROB;
}

/*
 * The packet quoted by an ICMP error at `off` (its IPv4 header): it needs its
 * addresses, protocol and, for TCP/UDP/ICMP, the first 8 bytes after its
 * header (ports, or type and echo identifier), as RFC 792 guarantees.
 * Returns 0, or < 0 when the quote is too short or not IPv4.
 */
static __always_inline int fw_parse_quote(struct __sk_buff *skb, __u32 off, __u32 avail, struct fw_pkt *p)
{
	struct iphdr ih;
	struct fw_l4h l4;

	if (avail < sizeof(ih))
		return -1;
	if (bpf_skb_load_bytes(skb, off, &ih, sizeof(ih)) < 0)
		return -1;
	if (ih.version != 4 || ih.ihl < 5)
		return -1;
	__u32 ihl = ih.ihl * 4;

	p->in_saddr = ih.saddr;
	p->in_daddr = ih.daddr;
	p->in_proto = ih.protocol;
	p->in_sport = 0;
	p->in_dport = 0;
	p->in_echo = 0xff;
	if (ih.protocol != IPPROTO_TCP_ && ih.protocol != IPPROTO_UDP_ && ih.protocol != IPPROTO_ICMP_)
		return 0;
	/* A quoted non-first fragment has no ports to match a connection by. */
	if (ih.frag_off & bpf_htons(FW_IPV4_OFFSET))
		return -1;
	if (avail < ihl + sizeof(l4))
		return -1;
	if (bpf_skb_load_bytes(skb, off + ihl, &l4, sizeof(l4)) < 0)
		return -1;
	if (ih.protocol == IPPROTO_ICMP_) {
		__u8 t = ((__u8 *)&l4)[0]; /* the type byte */

		if (t == ICMP_ECHO_ || t == ICMP_ECHOREPLY_) {
			p->in_echo = t;
			p->in_sport = l4.c;
		}
		return 0;
	}
	p->in_sport = l4.a;
	p->in_dport = l4.b;
	return 0;
}

/*
 * Parses an IPv4 packet behind the Ethernet header. Returns 0, or the drop
 * reason (VNF_R_DROP_MALFORMED) for a packet no host would accept: bad
 * version or header length, a total length beyond the frame, an L4 header cut
 * short, the RFC 1858 fragment attacks (a first fragment too short to hold
 * the ports, a TCP fragment at offset 8 that would overwrite them).
 */
static __always_inline __u32 fw_parse(struct __sk_buff *skb, struct fw_pkt *p)
{
	struct iphdr ip;

	if (bpf_skb_load_bytes(skb, ETH_HLEN, &ip, sizeof(ip)) < 0)
		return VNF_R_DROP_MALFORMED;
	if (ip.version != 4 || ip.ihl < 5)
		return VNF_R_DROP_MALFORMED;
	__u32 hlen = ip.ihl * 4;
	__u32 tot = bpf_ntohs(ip.tot_len);

	/* skb->len counts paged data too; more than tot is Ethernet padding. */
	if (tot < hlen || tot > skb->len - ETH_HLEN)
		return VNF_R_DROP_MALFORMED;

	p->saddr = ip.saddr;
	p->daddr = ip.daddr;
	p->proto = ip.protocol;
	p->hlen = hlen;
	p->tot = tot;
	p->ip_id = ip.id;
	p->sport = 0;
	p->dport = 0;
	p->csport = 0;
	p->cdport = 0;
	p->tcp_flags = 0;
	p->in_ok = 0;

	__u16 frag = bpf_ntohs(ip.frag_off);
	__u32 foff = frag & FW_IPV4_OFFSET;

	p->first_frag = (frag & FW_IPV4_MF) && foff == 0;
	if (foff) {
		/* RFC 1858: offset 1 (8 bytes) can only serve to rewrite the TCP
		 * flags of the first fragment after it was checked. */
		if (foff == 1 && ip.protocol == IPPROTO_TCP_)
			return VNF_R_DROP_MALFORMED;
		p->kind = FW_K_FRAG;
		return 0;
	}

	__u32 l4off = ETH_HLEN + hlen;
	__u32 l4len = tot - hlen;

	if (ip.protocol == IPPROTO_TCP_) {
		struct vnf_tcph th;

		if (l4len < sizeof(th))
			return VNF_R_DROP_MALFORMED;
		if (bpf_skb_load_bytes(skb, l4off, &th, sizeof(th)) < 0)
			return VNF_R_DROP_MALFORMED;
		if ((th.doff_res >> 4) < 5 || (__u32)(th.doff_res >> 4) * 4 > l4len)
			return VNF_R_DROP_MALFORMED;
		p->kind = FW_K_PORTS;
		p->sport = th.source;
		p->dport = th.dest;
		p->csport = bpf_ntohs(th.source);
		p->cdport = bpf_ntohs(th.dest);
		p->tcp_flags = th.flags;
		return 0;
	}
	if (ip.protocol == IPPROTO_UDP_ || ip.protocol == IPPROTO_ICMP_) {
		struct fw_l4h l4;

		if (l4len < sizeof(l4))
			return VNF_R_DROP_MALFORMED;
		if (bpf_skb_load_bytes(skb, l4off, &l4, sizeof(l4)) < 0)
			return VNF_R_DROP_MALFORMED;
		if (ip.protocol == IPPROTO_UDP_) {
			p->kind = FW_K_PORTS;
			p->sport = l4.a;
			p->dport = l4.b;
			p->csport = bpf_ntohs(l4.a);
			p->cdport = bpf_ntohs(l4.b);
			return 0;
		}
		__u8 type = ((__u8 *)&l4)[0];

		p->cdport = type; /* ICMP classifies on its type as the destination "port" */
		if (type == ICMP_ECHO_ || type == ICMP_ECHOREPLY_) {
			p->kind = type == ICMP_ECHO_ ? FW_K_ECHO_REQ : FW_K_ECHO_REP;
			p->sport = l4.c; /* request and reply share {id, 0} */
			return 0;
		}
		if (fw_icmp_is_error(type)) {
			p->kind = FW_K_ICMP_ERR;
			/* An error in pieces, or one whose quote is cut short,
			 * cannot be matched to a connection: in_ok stays 0 and
			 * the caller drops it as CT_INVALID. */
			p->in_ok = !p->first_frag &&
				   fw_parse_quote(skb, l4off + sizeof(l4), l4len - sizeof(l4), p) == 0;
			return 0;
		}
		p->kind = FW_K_ICMP;
		return 0;
	}
	p->kind = FW_K_OTHER;
	return 0;
}

#endif
