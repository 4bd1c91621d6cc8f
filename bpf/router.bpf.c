// SPDX-License-Identifier: GPL-2.0
/*
 * vnf router (slot VNF_ID_ROUTER). The bridge hands it what is addressed to a
 * network's router port (frames to router_mac, ARP requests for router_ip),
 * with md.network = the network it arrived on and md.in = the container port.
 *
 *   ARP request for router_ip  -> reply to md.in (learn the requester)
 *   ARP reply to router_ip     -> learn (a neighbour it knows or resolves), consume
 *   IPv4 to a router address   -> ICMP echo: reply; TCP: RST; UDP: ICMP port
 *                                 unreachable; other protocols: ICMP protocol
 *                                 unreachable (it has no sockets, as Linux
 *                                 without a listener)
 *   IPv4 elsewhere             -> martian destinations (0/8, 127/8) dropped;
 *                                 LPM (router id, daddr): miss -> ICMP net unreachable,
 *                                 TTL <= 1 -> ICMP time exceeded, else the next hop's
 *                                 neighbour (vnf/router_neigh.h): resolved -> TTL - 1,
 *                                 MACs, bridge of the out network (stale: a copy goes
 *                                 on and the packet becomes a unicast ARP probe, both
 *                                 through the neighbour's port's egress);
 *                                 unresolved -> the packet becomes a broadcast ARP
 *                                 request (one per next hop and retransmit time, else
 *                                 dropped); failed -> ICMP host unreachable
 *   ICMP errors are rate-limited per destination (vnf/router_icmp_rl.h).
 *
 * Every path ends in exactly one verdict (vnf_verdict/vnf_drop/vnf_handoff/
 * vnf_forward_to_port); a packet answered with an ICMP error, a RST or an ARP
 * request also counts the drop reason that caused it (vnf_count).
 *
 * Map values of preallocated hashes (networks, neighbours) are copied into
 * locals right after their lookup: an update elsewhere may replace such an
 * element and reuse its memory for another key while this program still
 * holds the pointer, so nothing is read through it after a helper call.
 */
#include "vnf/chain.h"
#include "vnf/parse.h"
#include "vnf/csum.h"
#include "vnf/router_pkt.h"
#include "vnf/icmp.h"
#include "vnf/neigh.h"
#include "vnf/router_cfg.h"
#include "vnf/router_neigh.h"
#include "vnf/router_icmp_rl.h"
#include "vnf/router_arp.h"
#include "vnf/tcp_rst.h"
#include "abi/router.h"
#include "abi/bridge.h"

#define R VNF_ID_ROUTER

/* One trie for every router: the key's first 32 bits are the router id. An
 * LPM trie must be created with BPF_F_NO_PREALLOC. */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, VNF_ROUTES_MAX);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct vnf_route_key);
	__type(value, struct vnf_route);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} vnf_routes SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, VNF_ROUTES_MAX);
	__type(key, struct vnf_route_stats_key);
	__type(value, struct vnf_counter);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} vnf_route_stats SEC(".maps");

/* What the router needs of a network's router port, copied out of vnf_networks. */
struct rnet {
	__u32 id;
	__u32 router_id;
	__be32 ip;
	__u8 mac[ETH_ALEN];
	__u8 prefix;
	__u8 _pad;
};

static __always_inline int rnet_load(struct rnet *r, __u32 id)
{
	struct vnf_network *n = bpf_map_lookup_elem(&vnf_networks, &id);

	if (!n)
		return -1;
	r->id = id;
	r->router_id = n->router_id;
	r->ip = n->router_ip;
	__builtin_memcpy(r->mac, n->router_mac, ETH_ALEN);
	r->prefix = n->router_prefix;
	return 0;
}

static __always_inline void route_count(__u32 router_id, __u32 addr, __u32 prefixlen, __u32 bytes)
{
	struct vnf_route_stats_key k = { .router_id = router_id, .addr = addr, .prefixlen = prefixlen };
	struct vnf_counter *c = bpf_map_lookup_elem(&vnf_route_stats, &k);

	if (c) {
		c->packets++;
		c->bytes += bytes;
		return;
	}
	struct vnf_counter init = { .packets = 1, .bytes = bytes };
	/* BPF_NOEXIST: if another CPU created the entry meanwhile, this packet
	 * goes uncounted rather than resetting that CPU's count. */
	bpf_map_update_elem(&vnf_route_stats, &k, &init, BPF_NOEXIST);
}

static __always_inline int router_arp(struct __sk_buff *skb, const struct rnet *in)
{
	void *data = pkt_data(skb);
	void *end = pkt_end(skb);
	struct ethhdr *eth = data;
	struct vnf_arp_eth *arp = data + ETH_HLEN;

	if ((void *)(arp + 1) > end)
		return vnf_drop(skb, R, VNF_R_DROP_MALFORMED);
	if (!arp_is_eth_ipv4(arp))
		return vnf_drop(skb, R, VNF_R_DROP_UNSUPPORTED);
	if (arp->ar_tip != in->ip)
		return vnf_drop(skb, R, VNF_R_DROP_NOT_FOR_US);
	/* A multicast or zero sender MAC would make the reply (and a learned
	 * next hop) a broadcast. */
	if (mac_is_multicast(arp->ar_sha) || mac_is_zero(arp->ar_sha))
		return vnf_drop(skb, R, VNF_R_DROP_MALFORMED);

	/* Learned only from a sender on this network's subnet: not 0.0.0.0 (an
	 * address probe, RFC 5227: answered, nothing to learn), not our own
	 * address (a conflict), not an address of another subnet. */
	int learn = neigh_may_learn(arp->ar_sip, in->ip, in->prefix);
	struct router_cfg cfg;
	__u64 until = 0;

	if (learn) {
		router_cfg_load(&cfg);
		until = router_reachable_until(&cfg);
	}
	if (arp->ar_op == bpf_htons(ARPOP_REQUEST)) {
		if (learn)
			neigh_learn(in->id, arp->ar_sip, arp->ar_sha, md_in(skb), 1, until);
		/* Map helpers do not change packet data: eth/arp are still valid. */
		router_arp_reply(eth, arp, in->mac, in->ip);
		return vnf_forward_to_port(skb, R, VNF_R_ARP_REPLY, md_in(skb));
	}
	if (arp->ar_op == bpf_htons(ARPOP_REPLY)) {
		/* Taken only when it answers: for a neighbour known or being resolved. */
		if (learn && neigh_learn(in->id, arp->ar_sip, arp->ar_sha, md_in(skb), 0, until))
			return vnf_verdict(skb, R, VNF_R_ARP_LEARN, TC_ACT_SHOT);
		return vnf_drop(skb, R, VNF_R_DROP_NOT_FOR_US);
	}
	return vnf_drop(skb, R, VNF_R_DROP_NOT_FOR_US);
}

/*
 * An ICMP error about the packet back to md.in, from `src`, or the drop `why`
 * when Linux would not send one (icmp_error_allowed) or the destination's
 * rate limit holds it back (then counted as ICMP_RATELIMIT). `why` is counted
 * either way.
 */
static __always_inline int router_icmp_error(struct __sk_buff *skb, const struct rnet *in, __be32 src, __u8 type,
					     __u8 code, __u32 why, __u32 hlen, __u32 tot)
{
	__u32 len = skb->len;
	struct router_cfg cfg;
	__be32 dst;

	if (!icmp_error_allowed(skb, hlen, tot))
		return vnf_drop(skb, R, why);
	if (bpf_skb_load_bytes(skb, ETH_HLEN + __builtin_offsetof(struct iphdr, saddr), &dst, sizeof(dst)) < 0)
		return vnf_drop(skb, R, why);
	router_cfg_load(&cfg);
	if (!icmp_rl_allow(in->id, dst, bpf_ktime_get_coarse_ns(), cfg.icmp_rl_ns)) {
		vnf_count(R, why, len);
		return vnf_drop(skb, R, VNF_R_DROP_ICMP_RATELIMIT);
	}
	/* The packet becomes the error: its event first, as it came. */
	vnf_mon_drop(skb, R, why, 0, 0, 0);
	vnf_count(R, why, len);
	if (icmp_error_build(skb, type, code, src, in->mac) < 0)
		return TC_ACT_SHOT;
	return vnf_forward_to_port(skb, R, VNF_R_ICMP_ERROR, md_in(skb));
}

/*
 * IPv4 to one of the router's own addresses (daddr). It has no sockets:
 * echo requests are answered, TCP gets a RST, UDP an ICMP port unreachable,
 * other protocols an ICMP protocol unreachable (Linux: no socket, no
 * protocol handler), both from daddr and rate-limited like every ICMP error.
 * Other ICMP is not for it. Fragments would need reassembly: dropped. L4
 * checksums are not verified (Linux drops a corrupt segment silently; here
 * it is answered). Returns the verdict, or -1 when the caller must send the
 * ICMP error (*code set): one call site of router_icmp_error for the program.
 */
static __always_inline int router_local(struct __sk_buff *skb, const struct rnet *in, struct ethhdr *eth,
					struct iphdr *ip, __u32 hlen, __u32 tot, __u8 *code)
{
	void *end = pkt_end(skb);
	__u8 proto = ip->protocol;

	/* A fragment (MF set or offset != 0) would need reassembly. */
	if (ip->frag_off & bpf_htons(IPV4_MF | IPV4_OFFSET))
		return vnf_drop(skb, R, VNF_R_DROP_UNSUPPORTED);
	if (proto == IPPROTO_TCP_) {
		__u32 len = skb->len;
		struct vnf_rst_frame f;

		/* As tcp_v4_send_reset: from the router's MAC, the segment's TOS. */
		/* The segment becomes the RST: its event first, as it came. */
		vnf_mon_drop(skb, R, VNF_R_DROP_NO_SOCKET, 0, 0, 0);
		vnf_count(R, VNF_R_DROP_NO_SOCKET, len);
		if (vnf_rst_build(skb, &f, in->mac, VNF_RST_F_KEEP_TOS) < 0)
			return TC_ACT_SHOT;
		return vnf_forward_to_port(skb, R, VNF_R_TCP_RESET, md_in(skb));
	}
	if (proto != IPPROTO_ICMP_) {
		*code = proto == IPPROTO_UDP_ ? ICMP_PORT_UNREACH_ : ICMP_PROT_UNREACH_;
		return -1;
	}
	if (tot < hlen + ICMP_HLEN)
		return vnf_drop(skb, R, VNF_R_DROP_MALFORMED);
	/* hlen in [20, 60] (checked by the caller on the 4-bit ihl): a bounded
	 * variable offset, and this comparison gives the access its range. The
	 * header is linear: router_pull made it so. */
	struct icmphdr *ic = (void *)ip + hlen;

	if ((void *)(ic + 1) > end)
		return vnf_drop(skb, R, VNF_R_DROP_MALFORMED);
	if (ic->type != ICMP_ECHO_)
		return vnf_drop(skb, R, VNF_R_DROP_NOT_FOR_US);
	/* From the sender's network's router MAC, whichever of our addresses was pinged. */
	icmp_echo_to_reply(eth, ip, ic, in->mac);
	return vnf_forward_to_port(skb, R, VNF_R_ICMP_ECHO_REPLY, md_in(skb));
}

/*
 * A packet for a STALE neighbour (vnf/router_neigh.h claimed its probe): the
 * routed packet goes on as a copy and the packet itself becomes the unicast
 * ARP probe (Linux's PROBE state: packets still go to the cached MAC while it
 * is probed). Both leave through the egress of the port the neighbour was
 * learned on, where vnf_entry_out runs that port's chain_out, exactly as for
 * a copy the bridge floods. Not through the bridge's forwarding: that ends in
 * bpf_redirect_peer, which skips eth_type_trans, and the probe still carries
 * skb->protocol IPv4 (no helper can make it ARP): the container would take
 * it for an IPv4 packet and drop it. Through a veth's egress, the peer
 * re-parses the frame. A port that is gone or on another network gets
 * neither: the packet is handed on unprobed (that probe is lost; the next
 * one is due after retrans). bpf_clone_redirect transmits the copy before it
 * returns (0, or < 0 when the helper failed; > 0 is a drop on the egress
 * path, counted there) and may reallocate the packet: nothing is read from it
 * directly afterwards. Returns 1 when the caller must turn the packet into
 * the probe, else 0 (hand it on).
 */
static __always_inline int router_probe_copy(struct __sk_buff *skb, __u32 out_net, __u32 port)
{
	struct vnf_port *p = bpf_map_lookup_elem(&vnf_ports, &port);

	if (!p || p->network != out_net)
		return 0;
	/* A trace never transmits (see trace.h): it records the probe it would
	 * send and follows the packet itself, which the caller hands to the
	 * bridge (to the same port's chain_out as the copy would run). */
	if (vnf_trace_on) {
		vnf_trace_add(skb, VNF_TRACE_PROBE, R, 0, port, skb->len);
		return 0;
	}
	if (bpf_clone_redirect(skb, port, 0) < 0)
		vnf_count(R, VNF_R_DROP_REDIRECT, skb->len);
	else
		vnf_count(R, VNF_R_ROUTED, skb->len);
	return 1;
}

/* First octet of an address in network order. */
static __always_inline __u32 ipv4_octet0(__be32 a)
{
	return bpf_ntohl(a) >> 24;
}

static __always_inline int router_ipv4(struct __sk_buff *skb, const struct rnet *in)
{
	void *data = pkt_data(skb);
	void *end = pkt_end(skb);
	struct ethhdr *eth = data;
	struct iphdr *ip = data + ETH_HLEN;

	if ((void *)(ip + 1) > end)
		return vnf_drop(skb, R, VNF_R_DROP_MALFORMED);
	if (ip->version != 4 || ip->ihl < 5)
		return vnf_drop(skb, R, VNF_R_DROP_MALFORMED);
	__u32 hlen = ip->ihl * 4;
	__u32 tot = bpf_ntohs(ip->tot_len);

	/* skb->len counts paged data too; more than tot is Ethernet padding. */
	if (tot < hlen || tot > skb->len - ETH_HLEN)
		return vnf_drop(skb, R, VNF_R_DROP_MALFORMED);
	/* Martian sources (0/8, 127/8, multicast, class E, broadcast) are
	 * invalid headers to a router (Linux: ip_route_input "martian source"). */
	__u32 s0 = ipv4_octet0(ip->saddr);

	if (s0 == 0 || s0 == 127 || s0 >= 224)
		return vnf_drop(skb, R, VNF_R_DROP_MALFORMED);
	__be32 daddr = ip->daddr;
	struct rnet out = {};
	/* The route, copied: the out network, next hop, and what it is (for its counter). */
	__u32 rt_found = 0, rt_nexthop = 0, rt_addr = 0, rt_prefixlen = 0, rt_flags = 0;
	/* One call site each for the local and the ICMP error paths: every
	 * __always_inline call is a full copy of the code (and of its verifier
	 * states). */
	int local = daddr == in->ip;
	__u8 type = ICMP_DEST_UNREACH_, code = ICMP_NET_UNREACH_;
	__u32 why = VNF_R_DROP_NO_ROUTE;
	__be32 err_src = in->ip;

	if (!local) {
		__u32 d0 = ipv4_octet0(daddr);

		/* Multicast and broadcast are not routed (no multicast routing). */
		if (d0 >= 224)
			return vnf_drop(skb, R, VNF_R_DROP_NOT_FOR_US);
		/* Martian destinations: Linux's ip_route_input drops 0/8 and
		 * (route_localnet off) 127/8 before any route is looked up. */
		if (d0 == 0 || d0 == 127)
			return vnf_drop(skb, R, VNF_R_DROP_MARTIAN);

		struct vnf_route_key key = {
			.prefixlen = 64, /* 32 bits of router id + a full address */
			.router_id = bpf_htonl(in->router_id),
			.addr = daddr,
		};
		struct vnf_route *rt = bpf_map_lookup_elem(&vnf_routes, &key);

		if (!rt)
			goto icmp_error;
		rt_found = 1;
		__u32 out_id = rt->network;

		rt_nexthop = rt->nexthop;
		rt_addr = rt->addr;
		rt_prefixlen = rt->prefixlen;
		rt_flags = rt->flags;
		/* The out network must carry a port of this same router. */
		if (rnet_load(&out, out_id) < 0 || out.router_id != in->router_id)
			return vnf_drop(skb, R, VNF_R_DROP_NO_NETWORK);
		/* Our address on another network is local too (Linux answers a
		 * ping to any of its addresses, whichever interface it came in on). */
		local = daddr == out.ip;
	}
	if (local) {
		int v = router_local(skb, in, eth, ip, hlen, tot, &code);

		if (v >= 0)
			return v;
		why = VNF_R_DROP_NO_SOCKET;
		err_src = daddr; /* Linux answers from the address the packet was sent to */
		goto icmp_error;
	}
	if (!rt_found) /* never true (set when !local), said so that nothing has to prove it */
		return vnf_drop(skb, R, VNF_R_DROP_NO_ROUTE);

	/* A directed broadcast of a connected subnet is not forwarded (Linux's
	 * bc_forwarding defaults to off). Prefix 1..30 keeps the shift < 32. */
	__u32 pfx = out.prefix;

	if ((rt_flags & VNF_ROUTE_F_CONNECTED) && pfx > 0 && pfx < 31) {
		__u32 host = 0xffffffffU >> pfx;

		if ((bpf_ntohl(daddr) & host) == host)
			return vnf_drop(skb, R, VNF_R_DROP_NOT_FOR_US);
	}
	/* As Linux's ip_forward: the route is looked up first, then the TTL. */
	if (ip->ttl <= 1) {
		type = ICMP_TIME_EXCEEDED_;
		code = ICMP_EXC_TTL_;
		why = VNF_R_DROP_TTL;
		goto icmp_error;
	}
	__be32 nh = rt_nexthop ? rt_nexthop : daddr;

	route_count(in->router_id, rt_addr, rt_prefixlen, skb->len);

	struct neigh_res res = {};
	int nv = neigh_resolve(out.id, nh, &res);

	if (nv == NEIGH_FAIL) {
		code = ICMP_HOST_UNREACH_;
		why = VNF_R_DROP_NEIGH_FAILED;
		goto icmp_error;
	}
	if (nv == NEIGH_WAIT)
		return vnf_drop(skb, R, VNF_R_DROP_NEIGH_PENDING);

	md_set_network(skb, out.id);
	md_set_flags(skb, md_flags(skb) | VNF_MD_F_FROM_ROUTER);
	skb->cb[0] = 0; /* md.in: not from a container port any more */

	__u32 reason = VNF_R_ARP_REQUEST;
	const __u8 *arp_dst = NULL; /* broadcast */

	if (nv != NEIGH_REQUEST) {
		/* Direct writes: eth and ip are still valid (only map, clock and
		 * lock helpers since the bounds check). TTL - 1 with the
		 * incremental checksum of Linux's ip_decrease_ttl: the (ttl,
		 * proto) word drops by 0x0100, so the checksum rises by
		 * htons(0x0100), with the end-around carry. */
		__builtin_memcpy(eth->h_dest, res.mac, ETH_ALEN);
		__builtin_memcpy(eth->h_source, out.mac, ETH_ALEN);
		__u32 check = ip->check;

		check += bpf_htons(0x0100);
		ip->check = (__u16)(check + (check >= 0xffff));
		ip->ttl--;
		if (nv != NEIGH_GO_PROBE || !router_probe_copy(skb, out.id, res.ifindex))
			return vnf_handoff(skb, R, VNF_R_ROUTED, VNF_ID_BRIDGE);
		reason = VNF_R_ARP_PROBE;
		arp_dst = res.mac;
	}
	/* The packet becomes the ARP request (its copy went on for a probe;
	 * otherwise it is given up for the request, as Linux drops when its
	 * short queue of packets to an unresolved neighbour is full). */
	__u32 len = skb->len;

	if (reason != VNF_R_ARP_PROBE) /* given up: its event first, as it came */
		vnf_mon_drop(skb, R, VNF_R_DROP_NEIGH_MISS, 0, 0, 0);
	if (router_arp_request(skb, arp_dst, out.mac, out.ip, nh) < 0) {
		if (reason == VNF_R_ARP_PROBE)
			return vnf_drop(skb, R, VNF_R_DROP_NEIGH_MISS);
		vnf_count(R, VNF_R_DROP_NEIGH_MISS, len);
		return TC_ACT_SHOT;
	}
	if (reason == VNF_R_ARP_PROBE)
		/* To the port's egress (see router_probe_copy): TC_ACT_REDIRECT. */
		return vnf_verdict(skb, R, VNF_R_ARP_PROBE, bpf_redirect(res.ifindex, 0));
	/* Broadcast: the bridge floods it, copies through each port's egress. */
	vnf_count(R, VNF_R_DROP_NEIGH_MISS, len);
	return vnf_handoff(skb, R, VNF_R_ARP_REQUEST, VNF_ID_BRIDGE);

icmp_error:
	return router_icmp_error(skb, in, err_src, type, code, why, hlen, tot);
}

/*
 * What the router reads by direct packet access must be in the skb's linear
 * part: Ethernet, the longest IPv4 header and the first 20 bytes after it (an
 * ICMP header, the TCP header a RST answers), or an ARP packet. A packet may
 * carry less there: one sent from an AF_PACKET TX ring (trafgen) arrives with
 * only its Ethernet header linear, the rest in page fragments, and so can a
 * packet after GRO or decapsulation. bpf_skb_pull_data(skb, len) makes len
 * bytes linear (and writable); it fails with -ENOMEM when len > skb->len, so
 * len is clamped, and only called when the linear part is short (it is a
 * helper call, and a copy of the head when the skb is cloned). It changes the
 * packet: every packet pointer must be re-read afterwards (none is held here).
 */
#define ROUTER_PULL_LEN (ETH_HLEN + IPV4_MAX_HLEN + 20)

static __always_inline int router_pull(struct __sk_buff *skb)
{
	__u32 len = skb->len;

	if (len > ROUTER_PULL_LEN)
		len = ROUTER_PULL_LEN;
	if (pkt_end(skb) - pkt_data(skb) >= (long)len)
		return 0;
	return bpf_skb_pull_data(skb, len);
}

SEC("tc")
int vnf_router(struct __sk_buff *skb)
{
	struct rnet in = {};

	if (rnet_load(&in, md_network(skb)) < 0)
		return vnf_drop(skb, R, VNF_R_DROP_NO_NETWORK);
	if (!in.router_id)
		return vnf_drop(skb, R, VNF_R_DROP_NOT_FOR_US);
	/* Only fails without memory (len is at most skb->len). */
	if (router_pull(skb) < 0)
		return vnf_drop(skb, R, VNF_R_DROP_MALFORMED);

	void *data = pkt_data(skb);
	void *end = pkt_end(skb);
	struct ethhdr *eth = data;

	if ((void *)(eth + 1) > end)
		return vnf_drop(skb, R, VNF_R_DROP_MALFORMED);
	if (eth->h_proto == bpf_htons(ETH_P_ARP))
		return router_arp(skb, &in);
	if (eth->h_proto != bpf_htons(ETH_P_IP))
		return vnf_drop(skb, R, VNF_R_DROP_UNSUPPORTED);
	return router_ipv4(skb, &in);
}

char LICENSE[] SEC("license") = "GPL";
