/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Connection tracking ABI, shared by the firewall and (later) NAT. One table
 * per topology; entries are scoped by a zone (the ifindex of the port whose
 * policy tracks them), so each port's policy sees only its own connections
 * and replies in either direction find them. Keys are the ORIGINAL direction.
 *
 * Under pressure (bpf/include/vnf/ct_table.h): the table is a plain hash that
 * traffic never evicts; every entry holds a slot of an index (vnf_ct_slots)
 * that the kernel's garbage collector walks in bounded chunks, and each zone
 * has counters of its protected (ASSURED, within quota) and other entries
 * (vnf_ct_zone) with a quota each (vnf_ct_cfg). A full table early-drops an
 * unprotected entry, as Linux early-drops unassured ones; protected entries
 * are never early-dropped.
 */
#ifndef VNF_ABI_CONNTRACK_H
#define VNF_ABI_CONNTRACK_H

#include "abi/vnf_common.h"

#define VNF_MAP_CT "vnf_ct"
#define VNF_MAP_CT_CFG "vnf_ct_cfg"
#define VNF_MAP_CT_LOCK "vnf_ct_lock" /* kernel-only: locks serialising an entry's state changes and removal */
#define VNF_MAP_CT_ZONE "vnf_ct_zone"   /* zone -> counts of its entries (struct vnf_ct_zone) */
#define VNF_MAP_CT_SLOTS "vnf_ct_slots" /* kernel-only: the index the garbage collector walks */
#define VNF_MAP_CT_GC "vnf_ct_gc"       /* kernel-only: the collector's timer and cursor */
#define VNF_MAP_CT_STATS "vnf_ct_stats" /* per-CPU event counters, indexed by enum vnf_ct_stat */
#define VNF_CT_LOCKS 1024 /* vnf_ct_lock entries; a connection takes the one its key hashes to */
#define VNF_CT_MAX 262144 /* vnf_ct entries */
#define VNF_CT_SLOTS 524288 /* vnf_ct_slots: twice VNF_CT_MAX, so that probes stay short; a power of two */
#define VNF_CT_ZONES 32768 /* vnf_ct_zone: twice VNF_PORTS_MAX (counters of removed ports wait for the sweep) */
#define VNF_CT_STAT_MAX 16 /* vnf_ct_stats entries */

/* Per-port quotas when vnf_ct_cfg holds 0 (settings.conntrack.maxPerPort /
 * maxNewPerPort), and the collector's period (vnf_ct_cfg.gc_interval_ms). */
#define VNF_CT_DEFAULT_MAX_ASSURED 32768
#define VNF_CT_DEFAULT_MAX_NEW 32768
#define VNF_CT_DEFAULT_GC_INTERVAL_MS 10
#define VNF_CT_GC_SLOTS 1024 /* slots visited per collector run at most */
#define VNF_CT_GC_BUDGET_NS 250000 /* and for at most this long (softirq time) */

/* Zones with this bit are NATs' (bpf/abi/nat.h: VNF_NAT_ZONE(router id)), not ports'. */
#define VNF_CT_ZONE_NAT 0x80000000U

struct vnf_ct_key {
	__u32 zone;  /* ifindex of the tracking port, or VNF_CT_ZONE_NAT | router id */
	__u32 saddr; /* network order, original direction */
	__u32 daddr;
	__u16 sport; /* network order; ICMP echo: the identifier */
	__u16 dport; /* network order; ICMP echo: 0 */
	__u8 proto;
	__u8 _pad[3];
};
VNF_STATIC_ASSERT(sizeof(struct vnf_ct_key) == 20, "vnf_ct_key");

/* States; also the index of their timeout in struct vnf_ct_cfg. Never renumber.
 * The TCP states are Linux's (enum tcp_conntrack, nf_conntrack_proto_tcp.c),
 * named from the sender of the last segment that moved them, not from one
 * side: FIN_WAIT = a FIN seen, CLOSE_WAIT = its ACK seen, LAST_ACK = FINs of
 * both sides seen, TIME_WAIT = the last ACK seen, CLOSE = reset. SYN_SENT2 is
 * a simultaneous open (SYNs of both sides seen). */
enum vnf_ct_state {
	VNF_CT_NONE = 0,
	VNF_CT_SYN_SENT = 1,
	VNF_CT_SYN_RECV = 2,
	VNF_CT_ESTABLISHED = 3,
	VNF_CT_FIN_WAIT = 4,
	VNF_CT_CLOSE_WAIT = 5,
	VNF_CT_LAST_ACK = 6,
	VNF_CT_TIME_WAIT = 7,
	VNF_CT_CLOSE = 8,
	VNF_CT_UDP = 9,         /* UDP, no reply seen */
	VNF_CT_UDP_REPLIED = 10,
	VNF_CT_ICMP = 11,       /* ICMP echo */
	VNF_CT_SYN_SENT2 = 12,  /* TCP simultaneous open */
	VNF_CT_STATES = 13,
};

#define VNF_CT_F_SEEN_REPLY 0x1
#define VNF_CT_F_FIN_ORIG 0x2
#define VNF_CT_F_FIN_REPLY 0x4
#define VNF_CT_F_ASSURED 0x8    /* as Linux's: TCP after the handshake, UDP after a reply */
#define VNF_CT_F_DYING 0x10     /* being removed (set under the lock by the one CPU that removes it) */
#define VNF_CT_F_PROTECTED 0x20 /* ASSURED and holding a place in its zone's assured quota: never early-dropped */

/* TCP window tracking of one direction, as Linux's struct ip_ct_tcp_state:
 * what the sender of that direction sent and what its peer allowed it. */
#define VNF_CT_TCP_F_WINDOW_SCALE 0x01 /* its SYN carried the window scale option */
#define VNF_CT_TCP_F_SACK_PERM 0x02    /* its SYN carried SACK-permitted */
#define VNF_CT_TCP_F_CLOSE_INIT 0x04   /* it sent the first FIN (it began the close) */
#define VNF_CT_TCP_F_DATA_UNACK 0x10   /* it has data in flight not yet acknowledged */
#define VNF_CT_TCP_F_MAXACK_SET 0x20   /* td_maxack holds an ACK it sent */

struct vnf_ct_tcp_dir {
	__u32 td_end;    /* highest sequence number sent + length (the next byte) */
	__u32 td_maxend; /* right edge the peer allowed: highest ack + window seen from it */
	__u32 td_maxwin; /* largest window it advertised (scaled), 0 = nothing seen from it yet */
	__u32 td_maxack; /* highest ACK it sent (VNF_CT_TCP_F_MAXACK_SET) */
	__u8 td_scale;   /* window scale applied to its windows (0 unless both SYNs had the option) */
	__u8 flags;      /* VNF_CT_TCP_F_* */
	__u8 _pad[2];
};
VNF_STATIC_ASSERT(sizeof(struct vnf_ct_tcp_dir) == 20, "vnf_ct_tcp_dir");

/* Index of a segment's flags in the TCP state table (Linux's enum tcp_bit_set). */
enum vnf_ct_tcp_index {
	VNF_CT_TCP_SYN = 0,
	VNF_CT_TCP_SYNACK = 1,
	VNF_CT_TCP_FIN = 2,
	VNF_CT_TCP_ACK = 3,
	VNF_CT_TCP_RST = 4,
	VNF_CT_TCP_NONE = 5,
};

/* last_flags: what an ignored SYN carried, and connection-wide marks. */
#define VNF_CT_TCP_L_CHALLENGE_ACK 0x40 /* an ignored SYN in LAST_ACK may draw an RFC 5961 challenge ACK */
#define VNF_CT_TCP_L_SIMULTANEOUS 0x80  /* simultaneous open */

struct vnf_ct_entry {
	__u64 created_ns;
	__u64 last_seen_ns;   /* bpf_ktime_get_ns(); expired when older than the state's timeout */
	__u64 packets_orig;
	__u64 bytes_orig;
	__u64 packets_reply;
	__u64 bytes_reply;
	__u32 ruleset;        /* version (content hash) of the rule set that allowed the connection */
	__u32 rule;           /* index of the allowing rule, VNF_FW_DEFAULT_RULE for the default */
	__u8 state;           /* enum vnf_ct_state */
	__u8 flags;           /* VNF_CT_F_* */
	__u8 dir;             /* policy direction that allowed it: VNF_DIR_RX (egress policy) or VNF_DIR_TX */
	__u8 _pad;
	__u32 tag;            /* a hash of the key, never 0 (0: written by user space); checked under the lock */
	/* TCP only (zero otherwise), kept by bpf/include/vnf/ct_tcp.h under a lock. */
	struct vnf_ct_tcp_dir tcp[2]; /* [0] the original direction's sender, [1] the reply's */
	__u32 last_seq;       /* the last segment that moved the state, or was ignored: */
	__u32 last_ack;
	__u32 last_end;       /* its sequence number + length */
	__u16 last_win;       /* its raw window */
	__u8 last_dir;        /* 0 original, 1 reply */
	__u8 last_index;      /* enum vnf_ct_tcp_index */
	__u8 last_wscale;     /* window scale of an ignored SYN (for a resync on its SYN/ACK) */
	__u8 last_flags;      /* VNF_CT_TCP_F_* of an ignored SYN | VNF_CT_TCP_L_* */
	__u8 retrans;         /* consecutive retransmissions of the last ACK segment (saturates) */
	__u8 _pad2;
	__u32 slot;           /* its vnf_ct_slots index */
};
VNF_STATIC_ASSERT(sizeof(struct vnf_ct_entry) == 128, "vnf_ct_entry");

/* vnf_ct_cfg[0]: timeouts in seconds, indexed by enum vnf_ct_state; per-port
 * quotas; the collector's period. 0 means the default everywhere. */
struct vnf_ct_cfg {
	__u32 timeout[16];
	__u32 max_assured;    /* ASSURED entries per zone */
	__u32 max_new;        /* unassured entries per zone */
	__u32 gc_interval_ms; /* between collector runs */
	__u32 _pad;
};
VNF_STATIC_ASSERT(sizeof(struct vnf_ct_cfg) == 80, "vnf_ct_cfg");

/* vnf_ct_zone: zone (port ifindex) -> how many of its entries hold a slot,
 * by class. Moved only together with a slot's state (atomically). `gen`
 * names this counter's incarnation: a slot remembers the gen it was counted
 * in, and is uncounted only from that one (a counter removed by the control
 * plane's sweep or flush and created again starts from 0). */
struct vnf_ct_zone {
	__u64 assured;
	__u64 unassured;
	__u32 gen;
	__u32 _pad;
};
VNF_STATIC_ASSERT(sizeof(struct vnf_ct_zone) == 24, "vnf_ct_zone");

/* vnf_ct_slots: the index of the entries, for the collector (a hash map
 * cannot be walked in resumable chunks). `st` packs, so that one
 * compare-and-swap moves all of it: bits 0-3 the state, 4-7 the class, 8-31
 * a sequence number (bumped by every change, so a stale compare-and-swap
 * fails), 32-63 the gen of the zone counter that counts it. */
#define VNF_CT_SLOT_FREE 0
#define VNF_CT_SLOT_BUSY 1 /* being claimed or moved by one CPU */
#define VNF_CT_SLOT_USED 2
#define VNF_CT_CLASS_NEW 0     /* counted in vnf_ct_zone.unassured */
#define VNF_CT_CLASS_ASSURED 1 /* counted in vnf_ct_zone.assured (the entry is PROTECTED) */
struct vnf_ct_slot {
	__u64 st;
	struct vnf_ct_key key;
	__u32 _pad;
};
VNF_STATIC_ASSERT(sizeof(struct vnf_ct_slot) == 32, "vnf_ct_slot");

/* vnf_ct_stats[i]: events, counted per CPU. */
enum vnf_ct_stat {
	VNF_CT_S_ASSURED = 0,       /* an ASSURED entry became PROTECTED (took a place in its zone's assured quota) */
	VNF_CT_S_ASSURED_QUOTA = 1, /* it could not: its zone is at its assured quota (it stays early-droppable) */
	VNF_CT_S_NEW_QUOTA = 2,     /* a new entry refused: its zone is at its unassured quota (DROP_CT_FULL) */
	VNF_CT_S_FULL = 3,          /* a new entry refused: the table is full and nothing could be early-dropped */
	VNF_CT_S_EARLY_DROP = 4,    /* an unassured entry removed to make room */
	VNF_CT_S_GC_RUNS = 5,       /* collector runs */
	VNF_CT_S_GC_EXPIRED = 6,    /* expired entries the collector removed */
	VNF_CT_S_GC_STALE = 7,      /* slots whose entry user space removed, released by the collector */
	VNF_CT_S_GC_ADOPTED = 8,    /* slots recounted in their zone's current counter */
	VNF_CT_S_ZONE_FULL = 9,     /* no zone counter could be created (DROP_CT_FULL) */
	VNF_CT_S_RETRY = 10,        /* a packet found its entry being removed or moved and was run again */
	VNF_CT_STATS = 11,
};

/* vnf_ct_gc[0]: the collector: its timer (opaque to user space, which never
 * reads this map), where it goes on, when it last ran. */
struct vnf_ct_gc {
#ifdef __bpf__
	struct bpf_timer timer;
#else
	__u64 timer[2];
#endif
	__u64 cursor;  /* next slot to visit */
	__u64 last_ns; /* when it last ran (bpf_ktime_get_ns) */
	__u64 cycles;  /* full walks of the index */
};
#define VNF_CT_GC_SIZE 40
VNF_STATIC_ASSERT(sizeof(struct vnf_ct_gc) == VNF_CT_GC_SIZE, "vnf_ct_gc");

#endif
