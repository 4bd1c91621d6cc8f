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
 * overlay a static entry flagged REMOTE (an endpoint on another host) hands
 *           the frame to the overlay VNF (vnf_overlay.bpf.c: tunnel key,
 *           redirect to the VXLAN device); after a local flood, a network
 *           with remote hosts hands the frame to the overlay for head-end
 *           replication. Frames from the overlay (VNF_MD_F_FROM_OVERLAY) are
 *           never learned, never routed here and never sent back to it.
 *
 * Every path ends in exactly one counted verdict (vnf_verdict, vnf_drop,
 * vnf_handoff, vnf_forward_to_port): nothing is passed silently.
 */
#include "vnf/chain.h"
#include "vnf/parse.h"
#include "abi/bridge.h"
#include "abi/router.h"
#include "vnf/neigh.h" /* the router's neighbour table: neigh_gratuitous_arp */
#include "vnf/overlay.h" /* the overlay's networks: ovl_remote_hosts */

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

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, VNF_PORTS_MAX);
	__type(key, __u32);
	__type(value, struct vnf_learn);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} vnf_learn SEC(".maps");

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

/* Whether port `in` may teach the bridge one more new MAC in the current
 * window (VNF_LEARN_PER_PORT per aging time); counts it when it may. Racing
 * CPUs may each count past the limit by one: a bound, not an exact quota. */
static __always_inline int learn_allowed(__u32 in, __u64 now, __u32 aging_sec)
{
	struct vnf_learn *l = bpf_map_lookup_elem(&vnf_learn, &in);

	if (!l) {
		struct vnf_learn fresh = { .window_ns = now, .count = 1 };

		bpf_map_update_elem(&vnf_learn, &in, &fresh, BPF_NOEXIST);
		return 1;
	}
	__u64 start = l->window_ns;

	if ((__s64)(now - start) > (__s64)((__u64)aging_sec * NSEC_PER_SEC)) {
		struct vnf_learn fresh = { .window_ns = now, .count = 1 };

		bpf_map_update_elem(&vnf_learn, &in, &fresh, BPF_EXIST);
		return 1;
	}
	if (l->count >= VNF_LEARN_PER_PORT)
		return 0;
	__sync_fetch_and_add(&l->count, 1);
	return 1;
}

/* Learns src -> in. Updates go through bpf_map_update_elem, which swaps the
 * whole value under RCU: a reader on another CPU sees the old or the new
 * entry, never a mix of ifindex and timestamp. */
static __always_inline void fdb_learn(__u32 network, const __u8 *src, __u32 in, __u64 now, __u32 aging_sec)
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
		if (!learn_allowed(in, now, aging_sec)) {
			vnf_count(VNF_ID_BRIDGE, VNF_R_LEARN_LIMIT, 0);
			return;
		}
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

/* An ARP request (broadcast) asking for the router port's address. Read with
 * bpf_skb_load_bytes: the ARP payload may sit in paged data (only the
 * Ethernet header is sure to be linear at tc). */
static __always_inline int is_arp_for(struct __sk_buff *skb, __be16 proto, __be32 ip)
{
	struct vnf_arp_eth arp;

	if (proto != bpf_htons(ETH_P_ARP))
		return 0;
	if (bpf_skb_load_bytes(skb, ETH_HLEN, &arp, sizeof(arp)) < 0)
		return 0; /* too short to be an ARP request: an ordinary broadcast */
	return arp.ar_op == bpf_htons(ARPOP_REQUEST) && arp.ar_tip == ip;
}

struct flood_ctx {
	struct __sk_buff *skb;
	struct vnf_flood_key k;
	__u32 in;
};

/*
 * One port of the flood list (bpf_loop callback, verified once whatever the
 * count). bpf_clone_redirect() clones the skb and queues the clone on the
 * port's egress (dev_queue_xmit; its tcx egress programs run inside the
 * call). It returns 0 when the clone was transmitted, a negative errno when
 * the helper failed (no such device, device down, no memory, xmit recursion)
 * and a positive NET_XMIT_* code when the egress path dropped the clone: a
 * drop by the port's chain_out there has already been counted by that VNF,
 * so only the helper's own failures count as DROP_REDIRECT here. It may also
 * reallocate the original's head, so no packet pointer is used after it.
 */
static long flood_one(__u32 i, void *data)
{
	struct flood_ctx *c = data;

	c->k.index = i;
	__u32 *ifindex = bpf_map_lookup_elem(&vnf_flood, &c->k);
	if (!ifindex)
		return 0; /* a hole in the list: the control plane writes it whole before the flip */
	__u32 out = *ifindex;
	if (out == c->in)
		return 0; /* never back out of the ingress port */
	/* A port that moved to another network (an apply between its port
	 * entry and this network's flood list) gets no copy. */
	struct vnf_port *p = bpf_map_lookup_elem(&vnf_ports, &out);
	if (!p || p->network != c->k.network) {
		vnf_count(VNF_ID_BRIDGE, VNF_R_DROP_CROSS_NETWORK, c->skb->len);
		return 0;
	}
	/* A trace never transmits: bpf_clone_redirect sends even from a test run. */
	if (vnf_trace_on) {
		vnf_trace_add(c->skb, VNF_TRACE_FLOOD, VNF_ID_BRIDGE, 0, out, c->skb->len);
		return 0;
	}
	long ret = bpf_clone_redirect(c->skb, out, 0);
	if (ret < 0)
		vnf_count(VNF_ID_BRIDGE, VNF_R_DROP_REDIRECT, c->skb->len);
	return 0;
}

/* Sends a clone to every port of the network's live flood list but `in`:
 * at most VNF_MAX_FLOOD (the control plane validates a network's size
 * against it), whatever a corrupt count says. */
static __always_inline void flood(struct __sk_buff *skb, __u32 network, __u32 version, __u32 count, __u32 in)
{
	struct flood_ctx c = { .skb = skb, .k = { .network = network, .version = version }, .in = in };

	if (count > VNF_MAX_FLOOD)
		count = VNF_MAX_FLOOD;
	bpf_loop(count, flood_one, &c, 0);
}

SEC("tc")
int vnf_bridge(struct __sk_buff *skb)
{
	__u32 in = md_in(skb);
	__u32 network = md_network(skb);
	int from_router = md_flags(skb) & VNF_MD_F_FROM_ROUTER;
	int from_overlay = md_flags(skb) & VNF_MD_F_FROM_OVERLAY;
	struct ethhdr eth;

	/* A copy: nothing below has to re-check a packet pointer after a helper. */
	if (bpf_skb_load_bytes(skb, 0, &eth, sizeof(eth)) < 0)
		return vnf_drop(skb, VNF_ID_BRIDGE, VNF_R_DROP_MALFORMED);

	struct vnf_network *n = bpf_map_lookup_elem(&vnf_networks, &network);
	if (!n)
		return vnf_drop(skb, VNF_ID_BRIDGE, VNF_R_DROP_NO_NETWORK);
	/* Copied before any helper call: a concurrent update of the network may
	 * reuse the value's memory (preallocated hash). */
	struct vnf_network net = *n;

	__u64 now = bpf_ktime_get_ns(); /* CLOCK_MONOTONIC, the clock of updated_ns */

	if (!from_router && !from_overlay && in && !mac_is_multicast(eth.h_source) && !mac_is_zero(eth.h_source) &&
	    !mac_eq(eth.h_source, net.router_mac))
		fdb_learn(network, eth.h_source, in, now, net.fdb_aging_sec);

	/* The sending host routed it already (the router is on every host). */
	if (from_overlay && net.router_id && mac_eq(eth.h_dest, net.router_mac))
		return vnf_drop(skb, VNF_ID_BRIDGE, VNF_R_DROP_NOT_FOR_US);
	if (net.router_id && !from_router && !from_overlay) {
		if (mac_eq(eth.h_dest, net.router_mac))
			return vnf_handoff(skb, VNF_ID_BRIDGE, VNF_R_TO_ROUTER, VNF_ID_ROUTER);
		/* The router answers ARP for its own address; flooding the request
		 * would only reach containers that cannot answer it. */
		if (mac_is_multicast(eth.h_dest) && is_arp_for(skb, eth.h_proto, net.router_ip))
			return vnf_handoff(skb, VNF_ID_BRIDGE, VNF_R_TO_ROUTER, VNF_ID_ROUTER);
		/* Router hook (vnf/neigh.h): a gratuitous ARP about to be flooded
		 * updates the router's learned neighbour; the frame is flooded as before. */
		if (eth.h_proto == bpf_htons(ETH_P_ARP) && mac_is_multicast(eth.h_dest))
			neigh_gratuitous_arp(skb, network, &net);
	}

	if (!mac_is_multicast(eth.h_dest)) {
		struct vnf_fdb_key k;

		fdb_key(&k, network, eth.h_dest);
		__u32 out = 0;
		__u32 eflags = 0;
		struct vnf_fdb_entry *e = bpf_map_lookup_elem(&vnf_fdb_static, &k);

		if (e) {
			out = e->ifindex;
			eflags = e->flags;
		} else {
			e = bpf_map_lookup_elem(&vnf_fdb, &k);
			if (e && fdb_usable(e, now, net.fdb_aging_sec))
				out = e->ifindex;
		}
		if (out) {
			if (out == in)
				return vnf_drop(skb, VNF_ID_BRIDGE, VNF_R_DROP_HAIRPIN);
			if (eflags & VNF_FDB_F_REMOTE) {
				/* From another host to a third one: not ours to relay. */
				if (from_overlay)
					return vnf_drop(skb, VNF_ID_BRIDGE, VNF_R_DROP_HAIRPIN);
				md_set_out(skb, out);
				return vnf_handoff(skb, VNF_ID_BRIDGE, VNF_R_FORWARD, VNF_ID_OVERLAY);
			}
			return vnf_forward_to_port(skb, VNF_ID_BRIDGE, VNF_R_FORWARD, out);
		}
	}

	/* One consistent list: version and count were read once, before any clone. */
	flood(skb, network, net.flood_version, net.flood_count, in);
	/* Head-end replication: the other hosts with ports on the network get a
	 * copy each, from the overlay; what came from the overlay never goes back. */
	if (!from_overlay && ovl_remote_hosts(network)) {
		md_set_flags(skb, md_flags(skb) | VNF_MD_F_OVL_FLOOD);
		return vnf_handoff(skb, VNF_ID_BRIDGE, VNF_R_FLOOD, VNF_ID_OVERLAY);
	}
	/* The clones went out; the original has nowhere left to go. SHOT, not
	 * STOLEN: tcx honours only PASS, DROP and REDIRECT and turns any other
	 * code into TCX_NEXT, which would let the original continue. */
	return vnf_verdict(skb, VNF_ID_BRIDGE, VNF_R_FLOOD, TC_ACT_SHOT);
}

char LICENSE[] SEC("license") = "GPL";
