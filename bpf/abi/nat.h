/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * NAT VNF ABI. A router's NAT has one OUTSIDE network (one of its port
 * networks, usually one whose port is an uplink interface) and INSIDE
 * networks (its other port networks). The NAT program runs in the chains of
 * every port of those networks and translates at three points, like Linux's
 * PREROUTING/POSTROUTING hooks on the router's interfaces:
 *
 *   VNF_NAT_AT_OUT_IN   chain_in of an outside port (from the world):
 *                       replies of masqueraded/floating flows (un-SNAT),
 *                       new flows to a floating address or a forwarded port
 *                       of the outside address (DNAT); ARP requests for a
 *                       floating address are answered here
 *   VNF_NAT_AT_OUT_OUT  chain_out of an outside port (to the world): new
 *                       flows from a masqueraded prefix (SNAT to the outside
 *                       address, a port from the range) or from a floating
 *                       inside address (SNAT to its outside address, ports
 *                       kept)
 *   VNF_NAT_AT_IN_IN    chain_in of an inside port (from a container):
 *                       replies of DNAT flows (un-DNAT: from the public
 *                       address), and hairpin: new flows from inside to a
 *                       floating address or forwarded port (DNAT)
 * (chain_out of an inside port: nothing to do.)
 *
 * Every translated connection has two vnf_nat entries, each keyed by a tuple
 * exactly as a packet carries it at the point where it is translated: the
 * original direction's (where the connection was created) and the reply
 * direction's (the translated tuple reversed, at the point replies pass).
 * Allocation is collision-free: the reply entry is inserted first, with
 * BPF_NOEXIST, and its key is the outside tuple; a taken key means a taken
 * tuple, and the next port of the range is tried.
 *
 * State, timeouts and counters come from the shared conntrack
 * (bpf/abi/conntrack.h): each connection has one vnf_ct entry in the zone
 * VNF_CT_ZONE_NAT | router id, keyed by its original tuple before
 * translation. A mapping whose conntrack entry is gone or expired is dead:
 * its port is free again, and the NAT's collector (a bpf_timer) removes both
 * entries.
 *
 * Fairness: a router's NAT is shared by every container behind it. Each
 * connection counts against its source in vnf_nat_src: an inside address
 * (masquerade, floating outbound, hairpin) may hold at most max_per_source
 * mappings, and connections from the world (to forwarded ports and floating
 * addresses, under address 0) at most max_inbound, so neither one container
 * nor a flood from outside can take the table or the conntrack zone from the
 * others. A connection is counted when its mapping is made and uncounted by
 * whoever deletes its original entry.
 *
 * Addresses and ports are in network order unless said otherwise. ICMP echo
 * is tracked by its identifier: sport = identifier, dport = 0, for requests
 * and replies alike.
 */
#ifndef VNF_ABI_NAT_H
#define VNF_ABI_NAT_H

#include "abi/vnf_common.h"
#include "abi/conntrack.h"

#define VNF_ID_NAT 5
#define VNF_MAP_NAT_NETS "vnf_nat_nets"   /* config: network id -> its role in a router's NAT */
#define VNF_MAP_NAT_MASQ "vnf_nat_masq"   /* config: LPM (router, prefix): sources masqueraded */
#define VNF_MAP_NAT_FLOAT "vnf_nat_float" /* config: floating addresses, both ways */
#define VNF_MAP_NAT_FWD "vnf_nat_fwd"     /* config: forwarded ports of the outside address */
#define VNF_MAP_NAT "vnf_nat_map"         /* learned: the mappings (not "vnf_nat": the program's name) */
#define VNF_MAP_NAT_GC "vnf_nat_gc"       /* kernel-only: the collector's timer */
#define VNF_MAP_NAT_SRC "vnf_nat_src"     /* learned: connections per source (fairness) */

#define VNF_NAT_NETS_MAX VNF_NETWORKS_MAX
#define VNF_NAT_MASQ_MAX 4096
#define VNF_NAT_FLOAT_MAX 8192 /* two entries per floating address */
#define VNF_NAT_FWD_MAX 4096
#define VNF_NAT_MAX 131072     /* two entries per translated connection */
#define VNF_NAT_PROBES 128     /* ports of the range tried for one new connection */
#define VNF_NAT_GC_INTERVAL_MS 1000
#define VNF_NAT_DEFAULT_PORT_MIN 20000 /* when the file gives no range */
#define VNF_NAT_DEFAULT_PORT_MAX 29999
#define VNF_NAT_SRC_MAX 65536
#define VNF_NAT_DEFAULT_MAX_PER_SOURCE 4096 /* when vnf_nat_net.max_per_source is 0 */
#define VNF_NAT_DEFAULT_MAX_INBOUND 16384   /* when vnf_nat_net.max_inbound is 0 */

/* The conntrack zone of a router's NAT: never an ifindex (those are < 2^31). */
#define VNF_NAT_ZONE(router_id) (VNF_CT_ZONE_NAT | (router_id))

/* vnf_nat_nets: network id -> its role. */
#define VNF_NAT_NET_OUTSIDE 0x1
#define VNF_NAT_NET_INSIDE 0x2
struct vnf_nat_net {
	__u32 router_id;  /* the NAT's router (its zone is VNF_NAT_ZONE(router_id)) */
	__u32 flags;      /* VNF_NAT_NET_* */
	__u32 outside_ip; /* the router's address on the outside network (network order) */
	__u16 port_min;   /* masquerade port range, HOST order, inclusive */
	__u16 port_max;
	__u32 max_per_source; /* mappings one inside address may hold (0: the default) */
	__u32 max_inbound;    /* mappings of connections from the world (0: the default) */
};
VNF_STATIC_ASSERT(sizeof(struct vnf_nat_net) == 24, "vnf_nat_net");

/* vnf_nat_masq: LPM trie, (router id, source prefix) -> 1. prefixlen counts
 * bits of (router_id, addr): 32 + the prefix length. router_id is
 * big-endian in the trie (written with htonl), addr network order. */
struct vnf_nat_masq_key {
	__u32 prefixlen;
	__u32 router_id;
	__u32 addr;
};
VNF_STATIC_ASSERT(sizeof(struct vnf_nat_masq_key) == 12, "vnf_nat_masq_key");

/* vnf_nat_float: (router id, address, which) -> the other address.
 * VNF_NAT_FLOAT_BY_OUTSIDE: outside address -> inside address;
 * VNF_NAT_FLOAT_BY_INSIDE: inside address -> outside address. */
#define VNF_NAT_FLOAT_BY_OUTSIDE 0
#define VNF_NAT_FLOAT_BY_INSIDE 1
struct vnf_nat_float_key {
	__u32 router_id;
	__u32 addr;  /* network order */
	__u32 which; /* VNF_NAT_FLOAT_BY_* */
};
VNF_STATIC_ASSERT(sizeof(struct vnf_nat_float_key) == 12, "vnf_nat_float_key");

struct vnf_nat_float {
	__u32 addr; /* network order */
};
VNF_STATIC_ASSERT(sizeof(struct vnf_nat_float) == 4, "vnf_nat_float");

/* vnf_nat_fwd: (router id, protocol, port of the outside address) -> where
 * it is forwarded (an inside address and port). */
struct vnf_nat_fwd_key {
	__u32 router_id;
	__u16 port; /* network order */
	__u8 proto; /* IPPROTO_TCP or IPPROTO_UDP */
	__u8 _pad;
};
VNF_STATIC_ASSERT(sizeof(struct vnf_nat_fwd_key) == 8, "vnf_nat_fwd_key");

struct vnf_nat_fwd {
	__u32 addr; /* network order */
	__u16 port; /* network order */
	__u8 _pad[2];
};
VNF_STATIC_ASSERT(sizeof(struct vnf_nat_fwd) == 8, "vnf_nat_fwd");

/* Where a vnf_nat entry applies (see the top of this file). */
#define VNF_NAT_AT_OUT_IN 1
#define VNF_NAT_AT_OUT_OUT 2
#define VNF_NAT_AT_IN_IN 3

/* What kind of translation a connection got. */
#define VNF_NAT_K_MASQ 1      /* source NAT to the outside address, a port from the range */
#define VNF_NAT_K_FLOAT_OUT 2 /* a floating address's own outbound connection (1:1, ports kept) */
#define VNF_NAT_K_FLOAT_IN 3  /* an inbound connection to a floating address (1:1, ports kept) */
#define VNF_NAT_K_FORWARD 4   /* an inbound connection to a forwarded port */

/* vnf_nat: a tuple as a packet carries it at `at` -> the tuple it leaves with. */
struct vnf_nat_key {
	__u32 zone;  /* VNF_NAT_ZONE(router id) */
	__u32 saddr; /* network order */
	__u32 daddr;
	__u16 sport; /* network order; ICMP echo: the identifier */
	__u16 dport; /* network order; ICMP echo: 0 */
	__u8 proto;
	__u8 at;     /* VNF_NAT_AT_* */
	__u8 _pad[2];
};
VNF_STATIC_ASSERT(sizeof(struct vnf_nat_key) == 20, "vnf_nat_key");

struct vnf_nat_entry {
	__u32 saddr; /* the packet's tuple after translation (network order; */
	__u32 daddr; /* for ICMP echo, sport is the new identifier) */
	__u16 sport;
	__u16 dport;
	struct vnf_ct_key ct; /* the connection's conntrack entry: zone VNF_NAT_ZONE, original tuple before translation */
	__u8 dir;     /* 0: this key is the connection's original direction, 1: its reply */
	__u8 kind;    /* VNF_NAT_K_* */
	__u8 peer_at; /* `at` of the other entry of the pair (its key: this entry's translated tuple reversed) */
	__u8 _pad;
};
VNF_STATIC_ASSERT(sizeof(struct vnf_nat_entry) == 36, "vnf_nat_entry");

/* vnf_nat_src: (NAT zone, source) -> how many mappings it holds. The source
 * is the inside address of an outbound or hairpin connection, 0 for the
 * world's connections. */
struct vnf_nat_src_key {
	__u32 zone; /* VNF_NAT_ZONE(router id) */
	__u32 addr; /* network order; 0: the world */
};
VNF_STATIC_ASSERT(sizeof(struct vnf_nat_src_key) == 8, "vnf_nat_src_key");

struct vnf_nat_src {
	__u64 count;
};
VNF_STATIC_ASSERT(sizeof(struct vnf_nat_src) == 8, "vnf_nat_src");

/* vnf_nat_gc[0]: the collector that removes dead mappings (opaque to user space). */
struct vnf_nat_gc {
#ifdef __bpf__
	struct bpf_timer timer;
#else
	__u64 timer[2];
#endif
	__u64 last_ns; /* when it last ran */
	__u64 removed; /* entries it removed, in total */
};
#define VNF_NAT_GC_SIZE 32
VNF_STATIC_ASSERT(sizeof(struct vnf_nat_gc) == VNF_NAT_GC_SIZE, "vnf_nat_gc");

#endif
