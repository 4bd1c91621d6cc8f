/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * vnf ABI shared by the kernel programs and the control plane: fixed-width
 * types, explicit padding, sizes asserted. The TypeScript codecs mirror these
 * structs (src/vnf/common/codec.ts) and a test compares them with the BTF of
 * the compiled objects. Never reorder or renumber; add at the end and bump
 * VNF_ABI_VERSION when a layout changes.
 */
#ifndef VNF_ABI_COMMON_H
#define VNF_ABI_COMMON_H

#ifndef __bpf__
#include <linux/types.h>
#endif

#define VNF_ABI_VERSION 5
#define VNF_STATIC_ASSERT(cond, msg) _Static_assert(cond, msg)

/* Slots of the shared program array (vnf_progs), also the VNF ids of the
 * counters. Each VNF owns one; a VNF's own header defines its id. The core
 * (entry.bpf.c: entry programs and the DELIVER stage) is id 1. */
#define VNF_ID_CORE 1
#define VNF_ID_DELIVER VNF_ID_CORE
#define VNF_MAX_PROGS 16

/* Map names (pinned by name under /sys/fs/bpf/vnf/<topology>/). */
#define VNF_MAP_PROGS "vnf_progs"
#define VNF_MAP_META "vnf_meta"
#define VNF_MAP_PORTS "vnf_ports"
#define VNF_MAP_NETWORKS "vnf_networks"
#define VNF_MAP_CHAINS "vnf_chains"
#define VNF_MAP_FLOOD "vnf_flood"
#define VNF_MAP_STATS "vnf_stats"
#define VNF_MAP_PORT_STATS "vnf_port_stats"
#define VNF_MAP_IDS "vnf_ids"

/* Capacities of the shared maps. The control plane validates a topology
 * against them (with the file position of what does not fit) before it
 * changes anything. Content-addressed maps (chains, flood lists) hold the
 * old and the new version during an apply: they are sized for twice the
 * live content. */
#define VNF_PORTS_MAX 16384
#define VNF_NETWORKS_MAX 1024
#define VNF_CHAINS_MAX 8192
#define VNF_FLOOD_ENTRIES_MAX (2 * VNF_PORTS_MAX)
#define VNF_PORT_STATS_MAX (2 * VNF_PORTS_MAX)
#define VNF_IDS_MAX 8192

/* Packet/byte counter, kept per CPU in the kernel and summed by the CLI. */
struct vnf_counter {
	__u64 packets;
	__u64 bytes;
};
VNF_STATIC_ASSERT(sizeof(struct vnf_counter) == 16, "vnf_counter");

/* vnf_meta[0]: layout version of the pinned maps, checked before reuse, and
 * the generation of the last complete apply (a hash of what it applied; the
 * control plane's record of a topology is only trusted when it names the
 * same generation). */
struct vnf_meta {
	__u32 abi_version;
	__u32 flags;
	__u64 generation;
};
VNF_STATIC_ASSERT(sizeof(struct vnf_meta) == 16, "vnf_meta");

/* vnf_ids: stable ids of named things (networks, routers, group slots). An
 * id is allocated once, from a counter that only grows (the VNF_IDK_NEXT
 * entry, name empty), and kept while its name exists: learned state keyed by
 * an id (FDB, neighbours) never changes meaning under it, and entries keyed
 * by a group id (rule sets) belong to one owner. A group slot's name is a
 * hash of its module and owner and the slot (0 or 1): "<14 hex>:<slot>".
 * Control plane only. */
#define VNF_IDK_NEXT 0
#define VNF_IDK_NETWORK 1
#define VNF_IDK_ROUTER 2
#define VNF_IDK_GROUP 3
#define VNF_ID_NAME_LEN 16
struct vnf_id_key {
	__u32 kind;                  /* VNF_IDK_* */
	char name[VNF_ID_NAME_LEN];  /* NUL-padded */
};
VNF_STATIC_ASSERT(sizeof(struct vnf_id_key) == 20, "vnf_id_key");

struct vnf_id {
	__u32 id; /* VNF_IDK_NEXT: the next id to hand out */
	__u32 _pad;
};
VNF_STATIC_ASSERT(sizeof(struct vnf_id) == 8, "vnf_id");

/* vnf_ports: host-side interface (ifindex) -> its place in the topology. */
#define VNF_PORT_F_ATTACHED 0x1 /* added by `vnf-ctl attach`, not by the file */
#define VNF_PORT_F_SPOOFCHK 0x2 /* the port sends only as itself: source MAC (when known),
				  * IPv4 source and ARP sender are checked at its ingress */
#define VNF_PORT_F_OVERLAY 0x4  /* this host's VXLAN device: a port of no network, its
				  * frames come from other hosts (checked by the overlay VNF) */
struct vnf_port {
	__u32 network;   /* network id (vnf_networks key) */
	__u32 chain_in;  /* chain for packets from the container */
	__u32 chain_out; /* chain for packets to the container */
	__u32 flags;     /* VNF_PORT_F_* */
	__u32 ip;        /* container address, network order; 0 = unknown */
	__u8 mac[6];     /* container MAC; zero = unknown */
	__u8 prefix;     /* container prefix length */
	__u8 _pad;
};
VNF_STATIC_ASSERT(sizeof(struct vnf_port) == 28, "vnf_port");

/* vnf_port_src: LPM trie, (port, prefix) -> 1: what a port may send as besides
 * its own address (a container that forwards for others declares its
 * prefixes). prefixlen counts bits of (ifindex, addr): 32 + the prefix. */
#define VNF_MAP_PORT_SRC "vnf_port_src"
#define VNF_PORT_SRC_MAX 16384
struct vnf_port_src_key {
	__u32 prefixlen;
	__u32 ifindex; /* big-endian in the trie */
	__u32 addr;    /* network order */
};
VNF_STATIC_ASSERT(sizeof(struct vnf_port_src_key) == 12, "vnf_port_src_key");

/* vnf_networks: network id -> one L2 segment (an eBPF bridge). */
struct vnf_network {
	__u32 fdb_aging_sec;  /* learned FDB entries older than this are unknown */
	__u32 flood_version;  /* live version of this network's flood list */
	__u32 flood_count;    /* ports in that version */
	__u32 router_id;      /* 0 = no router port on this network */
	__u32 router_ip;      /* router port address, network order */
	__u8 router_mac[6];   /* router port MAC */
	__u8 router_prefix;
	__u8 _pad;
};
VNF_STATIC_ASSERT(sizeof(struct vnf_network) == 28, "vnf_network");

/* vnf_flood: (network, version, index) -> ifindex. A new list is written
 * under a new version, then vnf_network.flood_version flips to it. */
struct vnf_flood_key {
	__u32 network;
	__u32 version;
	__u32 index;
};
VNF_STATIC_ASSERT(sizeof(struct vnf_flood_key) == 12, "vnf_flood_key");
#define VNF_MAX_FLOOD 1024 /* ports of one network: a broadcast reaches every one (bpf_loop) */

/* vnf_chains: chain id -> the VNFs (vnf_progs slots) to run, in order.
 * Chains are immutable: a change writes a new id, then flips the port. */
#define VNF_MAX_CHAIN 15
struct vnf_chain {
	__u8 len;
	__u8 vnf[VNF_MAX_CHAIN];
};
VNF_STATIC_ASSERT(sizeof(struct vnf_chain) == 16, "vnf_chain");

/* vnf_port_stats: (ifindex, direction) -> counter. */
#define VNF_DIR_RX 0 /* from the container */
#define VNF_DIR_TX 1 /* to the container */
struct vnf_port_stats_key {
	__u32 ifindex;
	__u32 dir;
};
VNF_STATIC_ASSERT(sizeof(struct vnf_port_stats_key) == 8, "vnf_port_stats_key");

/* vnf_stats: per-CPU array indexed by vnf_id * VNF_MAX_REASONS + reason.
 * Reasons below VNF_R_DROP_BASE are passes, from it on drops. Never renumber. */
#define VNF_MAX_REASONS 128
enum vnf_reason {
	VNF_R_PASS = 0,           /* handed on (next VNF, or the stack) */
	VNF_R_FORWARD = 1,        /* bridge: known unicast to one port */
	VNF_R_FLOOD = 2,          /* bridge: broadcast/multicast/unknown to all ports */
	VNF_R_TO_ROUTER = 3,      /* bridge: addressed to the network's router port */
	VNF_R_ROUTED = 4,         /* router: forwarded to another network */
	VNF_R_ARP_REPLY = 5,      /* router: answered ARP for its own address */
	VNF_R_ICMP_ERROR = 6,     /* router: sent an ICMP error (time exceeded, unreachable) */
	VNF_R_ARP_REQUEST = 7,    /* router: sent ARP for a missing neighbour */
	VNF_R_DELIVER = 8,        /* core: delivered into the container */
	VNF_R_ARP_LEARN = 9,      /* router: consumed an ARP reply, neighbour learned */
	VNF_R_ICMP_ECHO_REPLY = 10, /* router: answered a ping to its own address */
	VNF_R_FW_ALLOW = 11,        /* firewall: a new connection allowed by a rule or the default */
	VNF_R_FW_ESTABLISHED = 12,  /* firewall: packet of a tracked connection (original direction) */
	VNF_R_FW_REPLY = 13,        /* firewall: reply of a tracked connection */
	VNF_R_FW_RELATED = 14,      /* firewall: ICMP error about a tracked connection */
	VNF_R_FW_REJECT_SENT = 15,  /* firewall: TCP RST / ICMP unreachable sent for a reject */
	VNF_R_FW_NOT_IP = 16,       /* firewall: ARP and other non-IP control frames pass */
	VNF_R_CT_NEW = 17,          /* conntrack: entry created */
	VNF_R_CT_EXPIRED = 18,      /* conntrack: an expired entry was found and removed */
	VNF_R_CT_REVALIDATED = 19,  /* conntrack: entry re-checked against a changed rule set and kept */
	VNF_R_LEARN_LIMIT = 20,     /* bridge: a port's new MACs beyond its learning limit were not learned */
	VNF_R_ARP_PROBE = 21,       /* router: a stale neighbour re-resolved: the packet went on, an ARP probe beside it */
	VNF_R_TCP_RESET = 22,       /* router: answered TCP to one of its addresses with a RST */
	VNF_R_NEIGH_UPDATE = 23,    /* router: a gratuitous ARP gave a learned neighbour a new MAC (seen by the bridge) */
	VNF_R_NAT_SNAT = 24,        /* nat: source translated (masquerade, floating address, or a reply of a DNAT connection) */
	VNF_R_NAT_DNAT = 25,        /* nat: destination translated (forwarded port, floating address, or a reply of an SNAT connection) */
	VNF_R_NAT_ARP_REPLY = 26,   /* nat: answered ARP for a floating address */
	VNF_R_NAT_ICMP_ERROR = 27,  /* nat: an ICMP error about a translated connection, translated (outer and quoted headers) */
	VNF_R_NAT_NEW = 28,         /* nat: a mapping created (counted beside the packet's verdict) */
	VNF_R_OVL_TX = 29,          /* overlay: sent to the host of a remote endpoint */
	VNF_R_OVL_FLOOD = 30,       /* overlay: replicated to every remote host with a port on the network */
	VNF_R_OVL_RX = 31,          /* overlay: received from a live host, handed to the bridge */
	VNF_R_DROP_BASE = 32,
	VNF_R_DROP_NO_PORT = 32,      /* interface has no vnf_ports entry */
	VNF_R_DROP_NO_CHAIN = 33,     /* chain id not in vnf_chains */
	VNF_R_DROP_TAIL_CALL = 34,    /* tail call failed (empty slot) */
	VNF_R_DROP_MALFORMED = 35,    /* truncated or invalid headers */
	VNF_R_DROP_TTL = 36,          /* TTL expired */
	VNF_R_DROP_NO_ROUTE = 37,     /* no route (ICMP unreachable sent) */
	VNF_R_DROP_NEIGH_MISS = 38,   /* next hop MAC unknown (ARP sent) */
	VNF_R_DROP_NO_NETWORK = 39,   /* network id not in vnf_networks */
	VNF_R_DROP_HAIRPIN = 40,      /* destination is the ingress port */
	VNF_R_DROP_UNSUPPORTED = 41,  /* e.g. non-IPv4 to the router */
	VNF_R_DROP_REDIRECT = 42,     /* redirect helper failed */
	VNF_R_DROP_POLICY = 43,       /* firewall policy */
	VNF_R_DROP_NOT_FOR_US = 44,   /* router: not addressed to it (e.g. ARP for another IP) */
	VNF_R_DROP_LOOP = 45,         /* too many VNF hops */
	VNF_R_DROP_NO_POLICY = 46,    /* firewall: interface has no binding / rule set (fail closed) */
	VNF_R_DROP_CT_INVALID = 47,   /* firewall: not a valid new connection (e.g. TCP without SYN, unrelated ICMP error) */
	VNF_R_DROP_REJECT = 48,       /* firewall: rejected (the RST/ICMP answer is counted as REJECT_SENT) */
	VNF_R_DROP_CT_FULL = 49,      /* conntrack: could not insert an entry */
	VNF_R_DROP_CROSS_NETWORK = 50, /* the out port is not on the packet's network (mid-apply move) */
	VNF_R_DROP_SPOOF_MAC = 51,    /* identity: source MAC is not the port's */
	VNF_R_DROP_SPOOF_IP = 52,     /* identity: IPv4 source is neither the port's nor one it may send as */
	VNF_R_DROP_SPOOF_ARP = 53,    /* identity: ARP sender MAC/IP is not the port's (or malformed ARP) */
	VNF_R_DROP_VLAN = 54,         /* a VLAN-tagged frame (no VLAN is configured) */
	VNF_R_DROP_ETHERTYPE = 55,    /* identity: neither IPv4 nor ARP (vnf's networks are IPv4) */
	VNF_R_DROP_NOT_FOR_PORT = 56, /* a flooded unicast copy for another MAC than the port's container */
	VNF_R_DROP_NEIGH_FAILED = 57,  /* router: the next hop did not answer ARP (ICMP host unreachable sent) */
	VNF_R_DROP_NEIGH_PENDING = 58, /* router: next hop being resolved, this interval's ARP request already sent */
	VNF_R_DROP_MARTIAN = 59,       /* router: martian destination, 0/8 or 127/8 (Linux: martian_destination) */
	VNF_R_DROP_NO_SOCKET = 60,     /* router: TCP, UDP or another protocol to its own address (RST / ICMP unreachable sent) */
	VNF_R_DROP_ICMP_RATELIMIT = 61, /* router: an ICMP error was due but the destination's rate limit held it back */
	VNF_R_DROP_NAT_EXHAUSTED = 62,  /* nat: no free outside port (or identifier) for a new connection */
	VNF_R_DROP_NAT_FULL = 63,       /* nat: the mapping table is full */
	VNF_R_DROP_NAT_UNMAPPED = 64,   /* nat: would leave with an inside source it must translate, but has no mapping
					 * (not a connection's first packet, or a protocol NAT does not translate) */
	VNF_R_DROP_NAT_QUOTA = 65,      /* nat: the source holds its quota of mappings (max_per_source, max_inbound) */
	VNF_R_DROP_OVL_NO_TUNNEL = 66,  /* overlay: a frame on the VXLAN device without tunnel metadata, or no overlay configured */
	VNF_R_DROP_OVL_UNKNOWN_HOST = 67, /* overlay: the outer source is not a live host */
	VNF_R_DROP_OVL_UNKNOWN_VNI = 68,  /* overlay: the VNI is no network's */
	VNF_R_DROP_OVL_SPOOF = 69,      /* overlay: inner source MAC neither the network's router nor an endpoint of the sending host */
	VNF_R_DROP_OVL_MTU = 70,        /* overlay: frame larger than the overlay MTU */
	VNF_R_DROP_OVL_NO_ENDPOINT = 71, /* overlay: a remote FDB entry without its endpoint (mid-apply) */
};
#define VNF_STATS_ENTRIES (VNF_MAX_PROGS * VNF_MAX_REASONS)

#endif /* VNF_ABI_COMMON_H */
