/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The router's neighbours: the tables, and how ARP fills them. Shared by the
 * router (bpf/router.bpf.c: ARP that asks or answers it, and resolution in
 * vnf/router_neigh.h) and the bridge (bpf/bridge.bpf.c), which floods
 * broadcast ARP without handing it to the router and calls
 * neigh_gratuitous_arp() on it so that a gratuitous ARP still reaches the
 * neighbour table. Pinned by name: both objects share the same maps.
 *
 * Linux's neighbour subsystem (net/core/neighbour.c, net/ipv4/arp.c),
 * simplified:
 *   learned (vnf_neigh)      REACHABLE for reachable_ms after a confirmation
 *                            (ARP from it that asks or answers the router),
 *                            then STALE: still used, re-resolved by unicast
 *                            probes when used; a gratuitous ARP with a new MAC
 *                            makes it STALE with that MAC.
 *   pending (vnf_neigh_pend) INCOMPLETE: broadcast requests, one per
 *                            retrans_ms; unanswered, FAILED: packets to it get
 *                            ICMP host unreachable for failed_ms, then a new
 *                            resolution. An answer moves it to vnf_neigh.
 *   declared (vnf_neigh_static) never changed here.
 * Learning is restricted as Linux's arp_process restricts it (arp_accept = 0):
 * requests to the router create an entry, replies only update a known or
 * pending one, gratuitous ARP only a known or pending one; and (vnf's own
 * rule) only from a sender address on the subnet of the network the ARP
 * arrived on — an address outside it is never learned.
 *
 * Clock: CLOCK_MONOTONIC_COARSE (bpf_ktime_get_coarse_ns), the clock of
 * every time in these entries and of vnf/router_icmp_rl.h: updated once per
 * tick (4 ms at HZ 250), which is plenty for timers of 10 ms and more, and
 * it is read on the forwarding path of every packet to a learned neighbour:
 * measured here, 24 ns a call against 46 ns for bpf_ktime_get_ns. It is
 * CLOCK_MONOTONIC rounded down to the last tick, so the control plane
 * computes ages against CLOCK_MONOTONIC (off by less than a tick).
 *
 * Concurrency: values of these LRU maps are preallocated; an update replaces
 * the element and the old one may be reused for another key while a program
 * still holds a pointer to it. Fields are copied into locals right after the
 * lookup, and every change of more than one field is a whole-value update
 * (bpf_map_update_elem: readers see the old or the new value). The only
 * in-place writes: the refresh of a confirmation time (one aligned 8-byte
 * store) and the claim of a probe in vnf/router_neigh.h (under a lock, after
 * checking that the element is still the one judged).
 */
#ifndef VNF_NEIGH_H
#define VNF_NEIGH_H

#include "vnf/common.h"
#include "vnf/parse.h"
#include "vnf/md.h"
#include "vnf/stats.h"
#include "abi/router.h"

#define ARPHRD_ETHER_ 1

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

/* Next hops being resolved or that failed to be: LRU of their own, so that
 * traffic to absent addresses evicts only its own kind. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, VNF_NEIGH_PEND_MAX);
	__type(key, struct vnf_neigh_key);
	__type(value, struct vnf_neigh);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} vnf_neigh_pend SEC(".maps");

/* Whether an ARP packet is Ethernet/IPv4 (the only kind the router speaks). */
static __always_inline int arp_is_eth_ipv4(const struct vnf_arp_eth *arp)
{
	return arp->ar_hrd == bpf_htons(ARPHRD_ETHER_) && arp->ar_pro == bpf_htons(ETH_P_IP) &&
	       arp->ar_hln == ETH_ALEN && arp->ar_pln == 4;
}

/*
 * Whether `ip` may be learned as a neighbour on the network whose router port
 * is router_ip/prefix: a unicast address of that subnet, neither the router's
 * own address, nor 0.0.0.0 (an address probe, RFC 5227), nor the subnet's
 * broadcast address. prefix is 1..32 for a router port (clamped for the
 * verifier: the shift stays below 32).
 */
static __always_inline int neigh_may_learn(__be32 ip, __be32 router_ip, __u32 prefix)
{
	__u32 a = bpf_ntohl(ip);

	if (ip == 0 || ip == router_ip || (a >> 28) >= 0xe)
		return 0;
	if (prefix == 0 || prefix > 32)
		return 0;
	__u32 host = prefix == 32 ? 0 : 0xffffffffU >> prefix;

	if ((a ^ bpf_ntohl(router_ip)) & ~host)
		return 0; /* another subnet */
	return prefix >= 31 || (a & host) != host;
}

/*
 * Learns ip -> mac on a network from ARP that asks the router (create = 1:
 * a request for its address) or answers it (create = 0: a reply to its
 * address, taken only for a neighbour it knows or is resolving — Linux does
 * not accept unsolicited replies). The entry becomes REACHABLE, its probes
 * answered; a pending (INCOMPLETE/FAILED) entry of the same next hop is
 * removed, after the learned one exists so that a packet finds one of them.
 * A declared neighbour is never learned over. `ifindex` is the port the ARP
 * came from; reachable_until the jiffies of the forwarding shortcut
 * (vnf/router_cfg.h). Returns 1 when something was learned or refreshed. The
 * caller has checked neigh_may_learn and the MAC (unicast, not zero).
 */
static __always_inline int neigh_learn(__u32 network, __be32 ip, const __u8 *mac, __u32 ifindex, int create,
				       __u64 reachable_until)
{
	struct vnf_neigh_key k = { .network = network, .ip = ip };

	if (bpf_map_lookup_elem(&vnf_neigh_static, &k))
		return 0;
	__u64 now = bpf_ktime_get_coarse_ns();
	struct vnf_neigh *e = bpf_map_lookup_elem(&vnf_neigh, &k);

	if (e) {
		__u8 cur[ETH_ALEN];
		__u8 state = e->state;
		__u8 probes = e->probes;
		__u32 cur_if = e->ifindex;

		__builtin_memcpy(cur, e->mac, ETH_ALEN);
		if (mac_eq(cur, mac) && state == VNF_NEIGH_REACHABLE && probes == 0 && cur_if == ifindex) {
			/* Only the confirmation changes: aligned 8-byte stores, each
			 * seen whole. A reader between them sees the new time with
			 * the old shortcut (it reads the clock) or the reverse (it
			 * takes the shortcut): REACHABLE either way. */
			e->updated_ns = now;
			e->reachable_until = reachable_until;
			return 1;
		}
	} else if (!create && !bpf_map_lookup_elem(&vnf_neigh_pend, &k)) {
		return 0;
	}
	struct vnf_neigh v = {
		.updated_ns = now,
		.flags = VNF_NEIGH_F_LEARNED,
		.reachable_until = reachable_until,
		.ifindex = ifindex,
		.state = VNF_NEIGH_REACHABLE,
	};

	__builtin_memcpy(v.mac, mac, ETH_ALEN);
	/* An absent key is only created (NOEXIST: if another CPU created it
	 * meanwhile, theirs stays), a present one only replaced if it is still
	 * there (EXIST: an entry the control plane swept stays swept). */
	if (bpf_map_update_elem(&vnf_neigh, &k, &v, e ? BPF_EXIST : BPF_NOEXIST) < 0)
		return 0;
	bpf_map_delete_elem(&vnf_neigh_pend, &k); /* -ENOENT when nothing was pending */
	return 1;
}

/*
 * The bridge's hook, for a broadcast ARP frame it is about to flood on
 * `network` (whose entry is *net): a gratuitous ARP (a request or reply whose
 * sender and target addresses are equal, as Linux's arp_is_garp) from a
 * neighbour the router knows — learned, or pending resolution — gives it the
 * sender's MAC, STALE (a broadcast asserts no reachability; the next packet
 * to it probes the new MAC). Nothing else: the same MAC changes nothing, an
 * unknown or declared neighbour is not touched, a sender outside the
 * network's subnet is never learned. The frame is read with
 * bpf_skb_load_bytes: no packet pointer of the caller is invalidated, and a
 * paged ARP header is read as well. Counted as the router's NEIGH_UPDATE.
 */
static __always_inline void neigh_gratuitous_arp(struct __sk_buff *skb, __u32 network, const struct vnf_network *net)
{
	/* Copied first: *net is a value of a preallocated hash (see above). */
	__be32 router_ip = net->router_ip;
	__u32 prefix = net->router_prefix;
	struct vnf_arp_eth arp;

	if (!net->router_id)
		return;
	if (bpf_skb_load_bytes(skb, ETH_HLEN, &arp, sizeof(arp)) < 0)
		return;
	if (!arp_is_eth_ipv4(&arp))
		return;
	if (arp.ar_op != bpf_htons(ARPOP_REQUEST) && arp.ar_op != bpf_htons(ARPOP_REPLY))
		return;
	if (arp.ar_sip != arp.ar_tip || !neigh_may_learn(arp.ar_sip, router_ip, prefix))
		return;
	if (mac_is_multicast(arp.ar_sha) || mac_is_zero(arp.ar_sha))
		return;

	struct vnf_neigh_key k = { .network = network, .ip = arp.ar_sip };

	if (bpf_map_lookup_elem(&vnf_neigh_static, &k))
		return;
	struct vnf_neigh *e = bpf_map_lookup_elem(&vnf_neigh, &k);

	if (e) {
		__u8 cur[ETH_ALEN];

		__builtin_memcpy(cur, e->mac, ETH_ALEN);
		if (mac_eq(cur, arp.ar_sha))
			return;
	} else if (!bpf_map_lookup_elem(&vnf_neigh_pend, &k)) {
		return;
	}
	struct vnf_neigh v = {
		.updated_ns = bpf_ktime_get_coarse_ns(),
		.flags = VNF_NEIGH_F_LEARNED,
		.ifindex = md_in(skb), /* the port it came from */
		.state = VNF_NEIGH_STALE,
	};

	__builtin_memcpy(v.mac, arp.ar_sha, ETH_ALEN);
	if (bpf_map_update_elem(&vnf_neigh, &k, &v, e ? BPF_EXIST : BPF_NOEXIST) < 0)
		return;
	if (!e)
		bpf_map_delete_elem(&vnf_neigh_pend, &k);
	vnf_count(VNF_ID_ROUTER, VNF_R_NEIGH_UPDATE, skb->len);
}

#endif
