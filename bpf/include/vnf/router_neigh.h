/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Resolving a next hop when the router forwards a packet: the neighbour state
 * machine of vnf/neigh.h, driven by packets (a BPF program has no timers that
 * could send anything: every ARP request is a packet turned into one, or sent
 * beside one).
 *
 *   declared                        -> forward
 *   learned, REACHABLE and young     -> forward (first by the tick counter
 *                                       against reachable_until, which costs
 *                                       a load; else by the clock)
 *   learned, otherwise STALE         -> forward; when the last probe is older
 *                                       than retrans (or none was sent) and
 *                                       fewer than ucast_probes were: forward
 *                                       and probe (unicast ARP to the cached
 *                                       MAC); all unanswered: the MAC is
 *                                       forgotten, resolution starts anew
 *   none                             -> INCOMPLETE, this packet becomes the
 *                                       broadcast request
 *   INCOMPLETE                       -> request due (retrans elapsed) and
 *                                       fewer than mcast_probes sent: this
 *                                       packet becomes it; not due: dropped;
 *                                       all sent and unanswered: FAILED
 *   FAILED                           -> ICMP host unreachable for failed_ms,
 *                                       then INCOMPLETE again (a new request)
 *
 * Each request or probe is claimed by one CPU only: the claim checks, under a
 * spin lock, that the entry still holds the times this CPU judged it by, and
 * moves them on. The entries' own maps (LRU hashes) cannot hold a spin lock
 * (the kernel refuses one in an LRU value), so the locks are an array,
 * vnf_neigh_lock, and a next hop takes the one its key hashes to.
 */
#ifndef VNF_ROUTER_NEIGH_H
#define VNF_ROUTER_NEIGH_H

#include "vnf/neigh.h"
#include "vnf/router_cfg.h"

struct neigh_lock {
	struct bpf_spin_lock lock;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, VNF_NEIGH_LOCKS);
	__type(key, __u32);
	__type(value, struct neigh_lock);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} vnf_neigh_lock SEC(".maps");

enum neigh_verdict {
	NEIGH_GO = 0,       /* forward to res.mac */
	NEIGH_GO_PROBE = 1, /* forward to res.mac, and probe it (this CPU claimed the probe) */
	NEIGH_REQUEST = 2,  /* unresolved: this packet becomes the broadcast request (claimed) */
	NEIGH_WAIT = 3,     /* unresolved, this interval's request already sent: drop */
	NEIGH_FAIL = 4,     /* FAILED: ICMP host unreachable */
};

/* What forwarding needs of a resolved neighbour, copied out of its entry. */
struct neigh_res {
	__u8 mac[ETH_ALEN];
	__u16 _pad;
	__u32 ifindex; /* learned: the port it was learned on; 0 for declared ones */
};

#define NEIGH_CLAIM_PROBE 0   /* probe_ns = now, probes + 1 */
#define NEIGH_CLAIM_RESTART 1 /* FAILED -> INCOMPLETE, its first request */
#define NEIGH_CLAIM_FAIL 2    /* INCOMPLETE -> FAILED */

static __always_inline __u32 neigh_lock_slot(const struct vnf_neigh_key *k)
{
	__u32 h = (bpf_ntohl(k->ip) ^ (k->network * 0x9e3779b1U)) * 0x85ebca6bU;

	return (h >> 16) & (VNF_NEIGH_LOCKS - 1);
}

/*
 * Moves entry *e on (`what`) if it still holds the times this CPU judged it
 * by: no other CPU claimed it since, and the element was not replaced and its
 * memory reused for another key (a fresh element has other times). Returns
 * 1 when this CPU won the claim. Under the lock only plain loads and stores
 * (no helper may be called while a bpf_spin_lock is held).
 */
static __always_inline int neigh_claim(struct vnf_neigh *e, const struct vnf_neigh_key *k, __u64 seen_updated,
				       __u64 seen_probe, __u64 now, int what)
{
	__u32 slot = neigh_lock_slot(k);
	struct neigh_lock *l = bpf_map_lookup_elem(&vnf_neigh_lock, &slot);
	int won = 0;

	if (!l)
		return 0;
	bpf_spin_lock(&l->lock);
	if (e->updated_ns == seen_updated && e->probe_ns == seen_probe) {
		won = 1;
		if (what == NEIGH_CLAIM_FAIL) {
			e->state = VNF_NEIGH_FAILED;
			e->updated_ns = now;
		} else if (what == NEIGH_CLAIM_RESTART) {
			e->state = VNF_NEIGH_INCOMPLETE;
			e->updated_ns = now;
			e->probe_ns = now;
			e->probes = 1;
		} else {
			e->probe_ns = now;
			e->probes = e->probes + 1;
		}
	}
	bpf_spin_unlock(&l->lock);
	return won;
}

/* An unresolved next hop: its pending entry, created or moved on. */
static __always_inline int neigh_resolve_pending(const struct vnf_neigh_key *k, const struct router_cfg *cfg,
						 __u64 now)
{
	struct vnf_neigh *e = bpf_map_lookup_elem(&vnf_neigh_pend, k);

	if (!e) {
		struct vnf_neigh v = {
			.updated_ns = now,
			.probe_ns = now,
			.flags = VNF_NEIGH_F_LEARNED,
			.state = VNF_NEIGH_INCOMPLETE,
			.probes = 1,
		};

		/* One CPU creates it (NOEXIST is decided under the bucket
		 * lock) and sends the request; the others drop their packet. */
		return bpf_map_update_elem(&vnf_neigh_pend, k, &v, BPF_NOEXIST) == 0 ? NEIGH_REQUEST : NEIGH_WAIT;
	}
	__u64 updated = e->updated_ns;
	__u64 probe = e->probe_ns;
	__u8 state = e->state;
	__u8 probes = e->probes;

	if (state == VNF_NEIGH_FAILED) {
		if ((__s64)(now - updated) < (__s64)cfg->failed_ns)
			return NEIGH_FAIL;
		return neigh_claim(e, k, updated, probe, now, NEIGH_CLAIM_RESTART) ? NEIGH_REQUEST : NEIGH_WAIT;
	}
	if ((__s64)(now - probe) < (__s64)cfg->retrans_ns)
		return NEIGH_WAIT;
	if (probes < cfg->mcast_probes)
		return neigh_claim(e, k, updated, probe, now, NEIGH_CLAIM_PROBE) ? NEIGH_REQUEST : NEIGH_WAIT;
	/* The last request went unanswered for retrans too. Whoever wins the
	 * claim marks it; every packet that saw it gets the error. */
	neigh_claim(e, k, updated, probe, now, NEIGH_CLAIM_FAIL);
	return NEIGH_FAIL;
}

/*
 * What to do with a packet whose next hop is `ip` on `network` (the out
 * network). On NEIGH_GO and NEIGH_GO_PROBE, *res holds the MAC (and the port
 * it was learned on). Nothing is read from an entry after a helper call.
 */
static __always_inline int neigh_resolve(__u32 network, __be32 ip, struct neigh_res *res)
{
	struct vnf_neigh_key k = { .network = network, .ip = ip };
	struct vnf_neigh *e = bpf_map_lookup_elem(&vnf_neigh_static, &k);
	struct router_cfg cfg;

	if (e) {
		__builtin_memcpy(res->mac, e->mac, ETH_ALEN);
		return NEIGH_GO;
	}
	/* Everything it needs of a learned entry, copied at once: nothing is
	 * read through e after a helper call (the claim re-checks under its
	 * lock that e still holds these values). */
	__u64 updated = 0, probe = 0, until = 0;
	__u8 state = 0, probes = 0;

	e = bpf_map_lookup_elem(&vnf_neigh, &k);
	if (e) {
		updated = e->updated_ns;
		probe = e->probe_ns;
		until = e->reachable_until;
		state = e->state;
		probes = e->probes;
		__builtin_memcpy(res->mac, e->mac, ETH_ALEN);
		res->ifindex = e->ifindex;
		/* The shortcut: confirmed recently enough by the tick counter
		 * (a load), no clock, no settings (vnf/router_cfg.h). */
		if (state == VNF_NEIGH_REACHABLE && (__s64)(bpf_jiffies64() - until) < 0)
			return NEIGH_GO;
	}
	router_cfg_load(&cfg);
	__u64 now = bpf_ktime_get_coarse_ns();

	if (e) {
		if (state == VNF_NEIGH_REACHABLE && (__s64)(now - updated) < (__s64)cfg.reachable_ns)
			return NEIGH_GO;
		/* STALE. Signed differences: a time slightly ahead of ours
		 * (written by another CPU after our clock read) is recent. */
		if (probes && (__s64)(now - probe) < (__s64)cfg.retrans_ns)
			return NEIGH_GO;
		if (probes < cfg.ucast_probes)
			return neigh_claim(e, &k, updated, probe, now, NEIGH_CLAIM_PROBE) ? NEIGH_GO_PROBE : NEIGH_GO;
		/* Every probe unanswered: forget the MAC and resolve anew by
		 * broadcast (Linux: PROBE -> FAILED, then INCOMPLETE with the
		 * next packet). One CPU does it; the others still use the MAC. */
		if (!neigh_claim(e, &k, updated, probe, now, NEIGH_CLAIM_PROBE))
			return NEIGH_GO;
		bpf_map_delete_elem(&vnf_neigh, &k);
	}
	return neigh_resolve_pending(&k, &cfg, now);
}

#endif
