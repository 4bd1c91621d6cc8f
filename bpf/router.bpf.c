// SPDX-License-Identifier: GPL-2.0
/*
 * vnf router (slot VNF_ID_ROUTER). The bridge hands it what is addressed to a
 * network's router port (frames to router_mac, ARP requests for router_ip),
 * with md.network = the network it arrived on and md.in = the container port.
 *
 *   ARP for router_ip          -> reply to md.in (learn the requester)
 *   ARP reply to router_ip     -> learn, consume
 *   IPv4 to a router address   -> echo reply to md.in, else drop
 *   IPv4 elsewhere             -> LPM (router id, daddr): miss -> ICMP net unreachable,
 *                                 TTL <= 1 -> ICMP time exceeded, else TTL - 1 and
 *                                 neighbour (out network, next hop): hit -> bridge of
 *                                 the out network; miss -> broadcast ARP request instead
 *
 * Every path ends in exactly one verdict (vnf_verdict/vnf_drop/vnf_handoff/
 * vnf_forward_to_port); a packet answered with an ICMP error or an ARP request
 * also counts the drop reason that caused it (vnf_count).
 */
#include "vnf/chain.h"
#include "vnf/parse.h"
#include "vnf/csum.h"
#include "vnf/router_pkt.h"
#include "vnf/icmp.h"
#include "vnf/router_arp.h"
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

/* Learned neighbours: LRU, under pressure the least recently used goes. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, VNF_NEIGH_MAX);
	__type(key, struct vnf_neigh_key);
	__type(value, struct vnf_neigh);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} vnf_neigh SEC(".maps");

/* Declared neighbours: a plain hash, looked up first; traffic never evicts it. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, VNF_NEIGH_STATIC_MAX);
	__type(key, struct vnf_neigh_key);
	__type(value, struct vnf_neigh);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} vnf_neigh_static SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, VNF_ROUTES_MAX);
	__type(key, struct vnf_route_stats_key);
	__type(value, struct vnf_counter);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} vnf_route_stats SEC(".maps");

static __always_inline void route_count(__u32 router_id, const struct vnf_route *rt, __u32 bytes)
{
	struct vnf_route_stats_key k = { .router_id = router_id, .addr = rt->addr, .prefixlen = rt->prefixlen };
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

/*
 * Learns ip -> mac on a network. A declared neighbour (vnf_neigh_static) is
 * never learned over; a known learned entry with the same MAC is only
 * refreshed (an aligned 8-byte store, no torn read). Otherwise the whole
 * value is replaced by one update (RCU: readers see the old or the new
 * entry): an absent key is only created (NOEXIST), a present one only
 * replaced if it is still there (EXIST).
 */
static __always_inline void neigh_learn(__u32 network, __be32 ip, const __u8 *mac)
{
	struct vnf_neigh_key k = { .network = network, .ip = ip };

	if (bpf_map_lookup_elem(&vnf_neigh_static, &k))
		return;
	struct vnf_neigh *e = bpf_map_lookup_elem(&vnf_neigh, &k);
	__u64 now = bpf_ktime_get_ns();

	if (e) {
		if (mac_eq(e->mac, mac)) {
			e->updated_ns = now;
			return;
		}
	}
	struct vnf_neigh v = { .updated_ns = now, .flags = VNF_NEIGH_F_LEARNED };

	__builtin_memcpy(v.mac, mac, ETH_ALEN);
	bpf_map_update_elem(&vnf_neigh, &k, &v, e ? BPF_EXIST : BPF_NOEXIST);
}

static __always_inline int router_arp(struct __sk_buff *skb, struct vnf_network *n, __u32 net_id)
{
	void *data = pkt_data(skb);
	void *end = pkt_end(skb);
	struct ethhdr *eth = data;
	struct vnf_arp_eth *arp = data + ETH_HLEN;

	if ((void *)(arp + 1) > end)
		return vnf_drop(skb, R, VNF_R_DROP_MALFORMED);
	if (!arp_is_eth_ipv4(arp))
		return vnf_drop(skb, R, VNF_R_DROP_UNSUPPORTED);
	if (arp->ar_tip != n->router_ip)
		return vnf_drop(skb, R, VNF_R_DROP_NOT_FOR_US);
	/* A multicast or zero sender MAC would make the reply (and a learned
	 * next hop) a broadcast. */
	if (mac_is_multicast(arp->ar_sha) || mac_is_zero(arp->ar_sha))
		return vnf_drop(skb, R, VNF_R_DROP_MALFORMED);

	__be32 sip = arp->ar_sip;
	/* sip 0 is an address probe (RFC 5227): answered, nothing to learn.
	 * Our own address as sender is a conflict, never a neighbour. */
	int learn = sip != 0 && sip != n->router_ip;

	if (arp->ar_op == bpf_htons(ARPOP_REQUEST)) {
		if (learn)
			neigh_learn(net_id, sip, arp->ar_sha);
		/* Map helpers do not change packet data: eth/arp are still valid. */
		router_arp_reply(eth, arp, n->router_mac, n->router_ip);
		return vnf_forward_to_port(skb, R, VNF_R_ARP_REPLY, md_in(skb));
	}
	if (arp->ar_op == bpf_htons(ARPOP_REPLY)) {
		if (learn)
			neigh_learn(net_id, sip, arp->ar_sha);
		return vnf_verdict(skb, R, VNF_R_ARP_LEARN, TC_ACT_SHOT);
	}
	return vnf_drop(skb, R, VNF_R_DROP_NOT_FOR_US);
}

/* An ICMP error about the packet back to md.in, or the drop `why` when Linux
 * would not send one. `why` is counted either way. */
static __always_inline int router_icmp_error(struct __sk_buff *skb, struct vnf_network *n, __u8 type, __u8 code,
					     __u32 why, __u32 hlen, __u32 tot)
{
	__u32 len = skb->len;

	if (!icmp_error_allowed(skb, hlen, tot))
		return vnf_drop(skb, R, why);
	/* n points into a map value: still valid after the packet changes. */
	if (icmp_error_build(skb, type, code, n->router_ip, n->router_mac) < 0)
		return vnf_drop(skb, R, why);
	vnf_count(R, why, len);
	return vnf_forward_to_port(skb, R, VNF_R_ICMP_ERROR, md_in(skb));
}

/* IPv4 to one of the router's own addresses: echo requests are answered. */
static __always_inline int router_local(struct __sk_buff *skb, struct vnf_network *n, struct ethhdr *eth,
					struct iphdr *ip, __u32 hlen, __u32 tot)
{
	void *end = pkt_end(skb);

	if (ip->protocol != IPPROTO_ICMP_)
		return vnf_drop(skb, R, VNF_R_DROP_NOT_FOR_US);
	/* A fragmented echo would need reassembly (MF set or offset != 0). */
	if (ip->frag_off & bpf_htons(IPV4_MF | IPV4_OFFSET))
		return vnf_drop(skb, R, VNF_R_DROP_UNSUPPORTED);
	if (tot < hlen + ICMP_HLEN)
		return vnf_drop(skb, R, VNF_R_DROP_MALFORMED);
	/* hlen in [20, 60] (checked by the caller on the 4-bit ihl): a bounded
	 * variable offset, and this comparison gives the access its range. A
	 * header in paged data (never for a small ICMP packet) counts as malformed. */
	struct icmphdr *ic = (void *)ip + hlen;

	if ((void *)(ic + 1) > end)
		return vnf_drop(skb, R, VNF_R_DROP_MALFORMED);
	if (ic->type != ICMP_ECHO_)
		return vnf_drop(skb, R, VNF_R_DROP_NOT_FOR_US);
	/* From the sender's network's router MAC, whichever of our addresses was pinged. */
	icmp_echo_to_reply(eth, ip, ic, n->router_mac);
	return vnf_forward_to_port(skb, R, VNF_R_ICMP_ECHO_REPLY, md_in(skb));
}

/* First octet of an address in network order. */
static __always_inline __u32 ipv4_octet0(__be32 a)
{
	return bpf_ntohl(a) >> 24;
}

static __always_inline int router_ipv4(struct __sk_buff *skb, struct vnf_network *n)
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
	struct vnf_route *rt = NULL;
	struct vnf_network *o = NULL;
	__u32 out_id = 0;
	/* One call site each for the local and the ICMP error paths: every
	 * __always_inline call is a full copy of the code (and of its verifier
	 * states). */
	int local = daddr == n->router_ip;
	__u8 type = ICMP_DEST_UNREACH_, code = ICMP_NET_UNREACH_;
	__u32 why = VNF_R_DROP_NO_ROUTE;

	if (!local) {
		/* Multicast and broadcast are not routed (no multicast routing). */
		if (ipv4_octet0(daddr) >= 224 || ipv4_octet0(daddr) == 0)
			return vnf_drop(skb, R, VNF_R_DROP_NOT_FOR_US);

		struct vnf_route_key key = {
			.prefixlen = 64, /* 32 bits of router id + a full address */
			.router_id = bpf_htonl(n->router_id),
			.addr = daddr,
		};

		rt = bpf_map_lookup_elem(&vnf_routes, &key);
		if (!rt)
			goto icmp_error;
		out_id = rt->network;
		o = bpf_map_lookup_elem(&vnf_networks, &out_id);
		/* The out network must carry a port of this same router. */
		if (!o || o->router_id != n->router_id)
			return vnf_drop(skb, R, VNF_R_DROP_NO_NETWORK);
		/* Our address on another network is local too (Linux answers a
		 * ping to any of its addresses, whichever interface it came in on). */
		local = daddr == o->router_ip;
	}
	if (local)
		return router_local(skb, n, eth, ip, hlen, tot);
	if (!rt || !o) /* never true (both set when !local), said so that nothing has to prove it */
		return vnf_drop(skb, R, VNF_R_DROP_NO_ROUTE);

	/* A directed broadcast of a connected subnet is not forwarded (Linux's
	 * bc_forwarding defaults to off). Prefix 1..30 keeps the shift < 32. */
	__u32 pfx = o->router_prefix;

	if ((rt->flags & VNF_ROUTE_F_CONNECTED) && pfx > 0 && pfx < 31) {
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
	__be32 nh = rt->nexthop ? rt->nexthop : daddr;

	route_count(n->router_id, rt, skb->len);

	struct vnf_neigh_key nk = { .network = out_id, .ip = nh };
	struct vnf_neigh *ne = bpf_map_lookup_elem(&vnf_neigh_static, &nk);

	if (!ne)
		ne = bpf_map_lookup_elem(&vnf_neigh, &nk);

	md_set_network(skb, out_id);
	md_set_flags(skb, md_flags(skb) | VNF_MD_F_FROM_ROUTER);
	skb->cb[0] = 0; /* md.in: not from a container port any more */
	if (!ne) {
		/* The packet is given up for the request, as Linux drops when
		 * its short unresolved queue is full. */
		__u32 len = skb->len;

		if (router_arp_request(skb, o->router_mac, o->router_ip, nh) < 0)
			return vnf_drop(skb, R, VNF_R_DROP_NEIGH_MISS);
		vnf_count(R, VNF_R_DROP_NEIGH_MISS, len);
		return vnf_handoff(skb, R, VNF_R_ARP_REQUEST, VNF_ID_BRIDGE);
	}
	/* Direct writes: eth and ip are still valid (only map helpers since the
	 * bounds check). TTL - 1 with the incremental checksum of Linux's
	 * ip_decrease_ttl: the (ttl, proto) word drops by 0x0100, so the
	 * checksum rises by htons(0x0100), with the end-around carry. */
	__builtin_memcpy(eth->h_dest, ne->mac, ETH_ALEN);
	__builtin_memcpy(eth->h_source, o->router_mac, ETH_ALEN);
	__u32 check = ip->check;

	check += bpf_htons(0x0100);
	ip->check = (__u16)(check + (check >= 0xffff));
	ip->ttl--;
	return vnf_handoff(skb, R, VNF_R_ROUTED, VNF_ID_BRIDGE);

icmp_error:
	return router_icmp_error(skb, n, type, code, why, hlen, tot);
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
	__u32 net_id = md_network(skb);
	struct vnf_network *n = bpf_map_lookup_elem(&vnf_networks, &net_id);

	if (!n)
		return vnf_drop(skb, R, VNF_R_DROP_NO_NETWORK);
	if (!n->router_id)
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
		return router_arp(skb, n, net_id);
	if (eth->h_proto != bpf_htons(ETH_P_IP))
		return vnf_drop(skb, R, VNF_R_DROP_UNSUPPORTED);
	return router_ipv4(skb, n);
}

char LICENSE[] SEC("license") = "GPL";
