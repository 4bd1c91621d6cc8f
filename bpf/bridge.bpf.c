// SPDX-License-Identifier: GPL-2.0
/*
 * bridge VNF (slot VNF_ID_BRIDGE): one L2 learning switch per network.
 *
 *   learn   source MAC -> ingress port in vnf_fdb, unless the control plane
 *           owns that MAC (vnf_fdb_static): a static entry never moves
 *   router  frames for the network's router port (its MAC, or an ARP request
 *           for its IP) are handed to the router VNF by tail call
 *   forward known unicast -> chain_out of the destination port (DELIVER)
 *   flood   broadcast, multicast, unknown or aged unicast -> a clone to every
 *           other port of the network's live flood list; each clone leaves
 *           through that port's host veth egress, where vnf_entry_out runs
 *           the port's chain_out.
 *
 * Every path ends in exactly one counted verdict (vnf_verdict, vnf_drop,
 * vnf_handoff, vnf_forward_to_port): nothing is passed silently.
 */
#include "vnf/chain.h"
#include "vnf/parse.h"
#include "abi/bridge.h"
#include "abi/router.h"
#include "vnf/neigh.h" /* the router's neighbour table: neigh_gratuitous_arp */

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, VNF_FDB_MAX);
	__type(key, struct vnf_fdb_key);
	__type(value, struct vnf_fdb_entry);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} vnf_fdb SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, VNF_FDB_STATIC_MAX);
	__type(key, struct vnf_fdb_key);
	__type(value, struct vnf_fdb_entry);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} vnf_fdb_static SEC(".maps");

/* A learned entry pointing at the right port is refreshed at most this often:
 * a map update per packet would cost an LRU node allocation per packet. */
#define FDB_REFRESH_NS 1000000000ULL
#define NSEC_PER_SEC 1000000000ULL

static __always_inline void fdb_key(struct vnf_fdb_key *k, __u32 network, const __u8 *mac)
{
	k->network = network;
	__builtin_memcpy(k->mac, mac, ETH_ALEN);
	k->_pad[0] = 0;
	k->_pad[1] = 0;
}

/* Learns src -> in. Updates go through bpf_map_update_elem, which swaps the
 * whole value under RCU: a reader on another CPU sees the old or the new
 * entry, never a mix of ifindex and timestamp. */
static __always_inline void fdb_learn(__u32 network, const __u8 *src, __u32 in, __u64 now)
{
	struct vnf_fdb_key k;
	struct vnf_fdb_entry e = { .ifindex = in, .flags = 0, .updated_ns = now };

	fdb_key(&k, network, src);
	/* MAC-move protection: a MAC the control plane placed is never learned
	 * elsewhere (and needs no learning where it is). */
	if (bpf_map_lookup_elem(&vnf_fdb_static, &k))
		return;
	struct vnf_fdb_entry *cur = bpf_map_lookup_elem(&vnf_fdb, &k);
	if (!cur) {
		/* BPF_NOEXIST: if another CPU wrote the key since our lookup,
		 * theirs stays; -EEXIST is ignored. */
		bpf_map_update_elem(&vnf_fdb, &k, &e, BPF_NOEXIST);
		return;
	}
	/* Copied before the comparison: the map value may change under us. */
	__u32 cur_if = cur->ifindex;
	__u64 cur_ns = cur->updated_ns;

	if (cur_if == in && (__s64)(now - cur_ns) <= (__s64)FDB_REFRESH_NS)
		return;
	/* BPF_EXIST: if the entry vanished meanwhile (LRU eviction, control
	 * plane delete) the next packet re-learns it. */
	bpf_map_update_elem(&vnf_fdb, &k, &e, BPF_EXIST);
}

/* Learned entries older than the network's aging time are unknown. Signed
 * difference: a timestamp slightly in the future (written by another CPU
 * after our bpf_ktime_get_ns) counts as fresh, not as 584 years old. */
static __always_inline int fdb_usable(const struct vnf_fdb_entry *e, __u64 now, __u32 aging_sec)
{
	__u64 updated = e->updated_ns;

	return (__s64)(now - updated) <= (__s64)((__u64)aging_sec * NSEC_PER_SEC);
}

/* An ARP request (broadcast) asking for the router port's address. */
static __always_inline int is_arp_for(struct vnf_cursor *c, const struct ethhdr *eth, __be32 ip)
{
	if (eth->h_proto != bpf_htons(ETH_P_ARP))
		return 0;
	struct vnf_arp_eth *arp = vnf_pull(c, sizeof(*arp));
	if (!arp)
		return 0; /* too short to be an ARP request: an ordinary broadcast */
	return arp->ar_op == bpf_htons(ARPOP_REQUEST) && arp->ar_tip == ip;
}

/*
 * Sends a clone to every port of the network's live flood list but `in`.
 * The bound: i < VNF_MAX_FLOOD is a constant, so the verifier walks at most
 * 64 iterations (the runtime count only shortens it).
 * bpf_clone_redirect() clones the skb and queues the clone on the port's
 * egress (dev_queue_xmit; its tcx egress programs run inside the call). It
 * returns 0 when the clone was transmitted, a negative errno when the helper
 * failed (no such device, device down, no memory, xmit recursion) and a
 * positive NET_XMIT_* code when the egress path dropped the clone: a drop by
 * the port's chain_out there has already been counted by that VNF, so only
 * the helper's own failures count as DROP_REDIRECT here. It may also
 * reallocate the original's head, so no packet pointer is used after it.
 */
static __always_inline void flood(struct __sk_buff *skb, __u32 network, __u32 version, __u32 count, __u32 in)
{
	struct vnf_flood_key k = { .network = network, .version = version };

	for (__u32 i = 0; i < VNF_MAX_FLOOD; i++) {
		if (i >= count)
			break;
		k.index = i;
		__u32 *ifindex = bpf_map_lookup_elem(&vnf_flood, &k);
		if (!ifindex)
			continue; /* a hole in the list: the control plane writes it whole before the flip */
		__u32 out = *ifindex;
		if (out == in)
			continue; /* never back out of the ingress port */
		/* A port that moved to another network (an apply between its
		 * port entry and this network's flood list) gets no copy. */
		struct vnf_port *p = bpf_map_lookup_elem(&vnf_ports, &out);
		if (!p || p->network != network) {
			vnf_count(VNF_ID_BRIDGE, VNF_R_DROP_CROSS_NETWORK, skb->len);
			continue;
		}
		long ret = bpf_clone_redirect(skb, out, 0);
		if (ret < 0)
			vnf_count(VNF_ID_BRIDGE, VNF_R_DROP_REDIRECT, skb->len);
	}
}

SEC("tc")
int vnf_bridge(struct __sk_buff *skb)
{
	struct vnf_cursor c;
	__u32 in = md_in(skb);
	__u32 network = md_network(skb);
	int from_router = md_flags(skb) & VNF_MD_F_FROM_ROUTER;

	vnf_cursor_init(&c, skb);
	struct ethhdr *eth = vnf_pull(&c, sizeof(*eth));
	if (!eth)
		return vnf_drop(skb, VNF_ID_BRIDGE, VNF_R_DROP_MALFORMED);

	struct vnf_network *net = bpf_map_lookup_elem(&vnf_networks, &network);
	if (!net)
		return vnf_drop(skb, VNF_ID_BRIDGE, VNF_R_DROP_NO_NETWORK);

	__u64 now = bpf_ktime_get_ns(); /* CLOCK_MONOTONIC, the clock of updated_ns */

	if (!from_router && in && !mac_is_multicast(eth->h_source) && !mac_is_zero(eth->h_source) &&
	    !mac_eq(eth->h_source, net->router_mac))
		fdb_learn(network, eth->h_source, in, now);

	if (net->router_id && !from_router) {
		if (mac_eq(eth->h_dest, net->router_mac))
			return vnf_handoff(skb, VNF_ID_BRIDGE, VNF_R_TO_ROUTER, VNF_ID_ROUTER);
		/* The router answers ARP for its own address; flooding the request
		 * would only reach containers that cannot answer it. */
		if (mac_is_multicast(eth->h_dest) && is_arp_for(&c, eth, net->router_ip))
			return vnf_handoff(skb, VNF_ID_BRIDGE, VNF_R_TO_ROUTER, VNF_ID_ROUTER);
		/* Router hook (vnf/neigh.h): a gratuitous ARP about to be flooded
		 * updates the router's learned neighbour; the frame is flooded as before. */
		if (eth->h_proto == bpf_htons(ETH_P_ARP) && mac_is_multicast(eth->h_dest))
			neigh_gratuitous_arp(skb, network, net);
	}

	if (!mac_is_multicast(eth->h_dest)) {
		struct vnf_fdb_key k;

		fdb_key(&k, network, eth->h_dest);
		__u32 out = 0;
		struct vnf_fdb_entry *e = bpf_map_lookup_elem(&vnf_fdb_static, &k);

		if (e) {
			out = e->ifindex;
		} else {
			e = bpf_map_lookup_elem(&vnf_fdb, &k);
			if (e && fdb_usable(e, now, net->fdb_aging_sec))
				out = e->ifindex;
		}
		if (out) {
			if (out == in)
				return vnf_drop(skb, VNF_ID_BRIDGE, VNF_R_DROP_HAIRPIN);
			return vnf_forward_to_port(skb, VNF_ID_BRIDGE, VNF_R_FORWARD, out);
		}
	}

	/* One consistent list: version and count are read once, before any clone. */
	flood(skb, network, net->flood_version, net->flood_count, in);
	/* The clones went out; the original has nowhere left to go. SHOT, not
	 * STOLEN: tcx honours only PASS, DROP and REDIRECT and turns any other
	 * code into TCX_NEXT, which would let the original continue. */
	return vnf_verdict(skb, VNF_ID_BRIDGE, VNF_R_FLOOD, TC_ACT_SHOT);
}

char LICENSE[] SEC("license") = "GPL";
