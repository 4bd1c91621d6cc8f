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

/* Neighbours, (network, IPv4) -> MAC, in two tables looked up static first:
 * vnf_neigh_static: declared containers (control plane; a plain hash that
 *   traffic cannot evict); vnf_neigh: learned from ARP (LRU). */
struct vnf_neigh_key {
	__u32 network;
	__u32 ip; /* network order */
};
VNF_STATIC_ASSERT(sizeof(struct vnf_neigh_key) == 8, "vnf_neigh_key");

#define VNF_NEIGH_F_STATIC 0x1
#define VNF_NEIGH_F_LEARNED 0x2
struct vnf_neigh {
	__u64 updated_ns;
	__u8 mac[6];
	__u16 flags;
};
VNF_STATIC_ASSERT(sizeof(struct vnf_neigh) == 16, "vnf_neigh");

#endif
