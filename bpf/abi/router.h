/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* router VNF ABI: routes (LPM per router) and neighbours. See vnf_common.h. */
#ifndef VNF_ABI_ROUTER_H
#define VNF_ABI_ROUTER_H

#include "abi/vnf_common.h"

#define VNF_ID_ROUTER 3
#define VNF_MAP_ROUTES "vnf_routes"
#define VNF_MAP_NEIGH "vnf_neigh"
#define VNF_MAP_NEIGH_STATIC "vnf_neigh_static"
#define VNF_MAP_ROUTE_STATS "vnf_route_stats"
#define VNF_ROUTES_MAX 16384
#define VNF_NEIGH_MAX 16384
#define VNF_NEIGH_STATIC_MAX (2 * VNF_PORTS_MAX)

/* vnf_routes: LPM trie. prefixlen counts bits of (router_id, addr): 32 for
 * the router id plus the route's prefix length, so each router has its own
 * table in one trie. addr is in network order. */
struct vnf_route_key {
	__u32 prefixlen;
	__u32 router_id; /* big-endian in the trie: written with htonl */
	__u32 addr;
};
VNF_STATIC_ASSERT(sizeof(struct vnf_route_key) == 12, "vnf_route_key");

#define VNF_ROUTE_F_CONNECTED 0x1 /* the destination is on `network` itself */
#define VNF_ROUTE_F_STATIC 0x2
struct vnf_route {
	__u32 network;  /* out network */
	__u32 nexthop;  /* gateway, network order; 0 for connected routes */
	__u32 addr;     /* the route's own prefix (network order) and length: */
	__u8 prefixlen; /* the LPM lookup returns the value, not the matched key */
	__u8 flags;     /* VNF_ROUTE_F_* */
	__u8 _pad[2];
};
VNF_STATIC_ASSERT(sizeof(struct vnf_route) == 16, "vnf_route");

/* vnf_route_stats: per-CPU counters per route, keyed by what the route is
 * (router id and prefix), so they stay with the route across edits. */
struct vnf_route_stats_key {
	__u32 router_id;
	__u32 addr;      /* network order */
	__u32 prefixlen; /* 0..32 */
};
VNF_STATIC_ASSERT(sizeof(struct vnf_route_stats_key) == 12, "vnf_route_stats_key");

/* Neighbours, (network, IPv4) -> MAC, in three tables looked up in this order:
 * vnf_neigh_static: declared containers (control plane; a plain hash that
 *   traffic cannot evict; never changed by the dataplane);
 * vnf_neigh: resolved neighbours learned from ARP (LRU), REACHABLE or STALE;
 * vnf_neigh_pend: next hops being resolved or that failed to (LRU, INCOMPLETE
 *   or FAILED): unresolved destinations churn this table only, so a sweep of
 *   absent addresses never evicts a resolved neighbour.
 * The states are Linux's (include/net/neighbour.h), simplified: no DELAY (a
 * STALE neighbour is probed when first used), no PROBE state of its own (a
 * STALE entry with probes > 0 is being probed). See bpf/include/vnf/neigh.h. */
struct vnf_neigh_key {
	__u32 network;
	__u32 ip; /* network order */
};
VNF_STATIC_ASSERT(sizeof(struct vnf_neigh_key) == 8, "vnf_neigh_key");

enum vnf_neigh_state {
	VNF_NEIGH_PERMANENT = 0,  /* declared (vnf_neigh_static) */
	VNF_NEIGH_INCOMPLETE = 1, /* ARP requests sent, no answer yet */
	VNF_NEIGH_REACHABLE = 2,  /* confirmed by ARP within the reachable time (then STALE, by age) */
	VNF_NEIGH_STALE = 3,      /* not confirmed (a gratuitous ARP); used, and re-resolved when used */
	VNF_NEIGH_FAILED = 4,     /* no answer: ICMP host unreachable, then a new resolution */
};

#define VNF_NEIGH_F_STATIC 0x1
#define VNF_NEIGH_F_LEARNED 0x2
struct vnf_neigh {
	__u64 updated_ns; /* REACHABLE: last confirmation; other states: when the state began
			   * (CLOCK_MONOTONIC_COARSE, see vnf/neigh.h) */
	__u8 mac[6];      /* zero while INCOMPLETE or FAILED */
	__u16 flags;      /* VNF_NEIGH_F_* */
	__u64 probe_ns;   /* last ARP request for it (rate limit: one per retransmit time) */
	__u64 reachable_until; /* REACHABLE: the kernel's jiffies until which it is used without
				* reading the clock (a forwarding shortcut; 0 = read the clock) */
	__u32 ifindex;    /* learned: the port its ARP came from (a probed packet's copy goes there) */
	__u8 state;       /* enum vnf_neigh_state */
	__u8 probes;      /* ARP requests sent since the last confirmation */
	__u8 _pad[2];
};
VNF_STATIC_ASSERT(sizeof(struct vnf_neigh) == 40, "vnf_neigh");

#define VNF_MAP_NEIGH_PEND "vnf_neigh_pend"
#define VNF_MAP_NEIGH_LOCK "vnf_neigh_lock" /* kernel-only: serialises the claim of a probe */
#define VNF_MAP_ROUTER_CFG "vnf_router_cfg"
#define VNF_MAP_ICMP_RL "vnf_icmp_rl"
#define VNF_NEIGH_PEND_MAX 4096
#define VNF_NEIGH_LOCKS 256
#define VNF_ICMP_RL_MAX 8192

/* vnf_router_cfg[0]: timers of the neighbour state machine and the ICMP rate
 * limit, from the topology's settings.router. Without VNF_ROUTER_CFG_F_SET
 * (nothing written yet) the dataplane uses Linux's defaults, below. */
#define VNF_ROUTER_CFG_F_SET 0x1
#define VNF_NEIGH_DEF_REACHABLE_MS 30000 /* base_reachable_time */
#define VNF_NEIGH_DEF_RETRANS_MS 1000    /* retrans_time */
#define VNF_NEIGH_DEF_FAILED_MS 3000     /* vnf's own: how long FAILED lasts (one resolution's time) */
#define VNF_NEIGH_DEF_UCAST_PROBES 3     /* ucast_solicit */
#define VNF_NEIGH_DEF_MCAST_PROBES 3     /* mcast_solicit */
#define VNF_ICMP_DEF_RATELIMIT_MS 1000   /* icmp_ratelimit */
#define VNF_ICMP_BURST 6                 /* Linux's XRLIM_BURST_FACTOR */
struct vnf_router_cfg {
	__u32 flags;             /* VNF_ROUTER_CFG_F_* */
	__u32 reachable_ms;      /* REACHABLE this long after a confirmation, then STALE */
	__u32 retrans_ms;        /* at most one ARP request per next hop this often */
	__u32 failed_ms;         /* FAILED this long (host unreachable), then a new resolution */
	__u32 icmp_ratelimit_ms; /* one ICMP error per destination this often, bursts of VNF_ICMP_BURST; 0 = no limit */
	__u8 ucast_probes;       /* unicast probes of a STALE neighbour before it is resolved anew by broadcast */
	__u8 mcast_probes;       /* broadcast requests of an INCOMPLETE one before it FAILS */
	__u8 _pad[2];
};
VNF_STATIC_ASSERT(sizeof(struct vnf_router_cfg) == 24, "vnf_router_cfg");

/* vnf_icmp_rl: (network, address) of a host the router sent ICMP errors to
 * -> its token bucket, as Linux's inet_peer_xrlim_allow: tokens accrue with
 * time up to VNF_ICMP_BURST x the rate limit, an error costs one rate limit. */
struct vnf_icmp_rl {
	__u64 last_ns;
	__u64 tokens_ns;
};
VNF_STATIC_ASSERT(sizeof(struct vnf_icmp_rl) == 16, "vnf_icmp_rl");

#endif
