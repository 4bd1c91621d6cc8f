/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * monitor ABI: dataplane events (drops, firewall verdicts, new connections)
 * sent to `vnf-ctl monitor` through a BPF ring buffer. See vnf_common.h for
 * the rules.
 *
 * Nothing is sent unless a monitor asked for it: vnf_mon_cfg holds, per event
 * type, the CLOCK_MONOTONIC time (bpf_ktime_get_ns) of the last heartbeat of
 * a monitor that wants that type, written every second. 0 means nobody
 * listens: the programs then pay one (inlined) array lookup and a compare.
 * A heartbeat older than VNF_MON_TTL_MS (a monitor that was SIGKILLed) is
 * reset to 0 by the first program that notices, so the cost goes away with
 * the listener.
 */
#ifndef VNF_ABI_MONITOR_H
#define VNF_ABI_MONITOR_H

#include "abi/vnf_common.h"

#define VNF_MAP_EVENTS "vnf_events"
#define VNF_MAP_MON_CFG "vnf_mon_cfg"
#define VNF_MAP_MON_STATE "vnf_mon_state"
#define VNF_MON_RINGBUF_SIZE (1024 * 1024) /* bytes; a power of two and a page multiple */
#define VNF_MON_TTL_MS 5000               /* a heartbeat older than this: nobody listens */
#define VNF_MON_RATE_DEFAULT 1000          /* events per second per CPU */

/* Event types: also the index of their heartbeat in vnf_mon_cfg. Never renumber. */
enum vnf_mon_type {
	VNF_MON_T_DROP = 0,    /* a packet was dropped (reason >= VNF_R_DROP_BASE) */
	VNF_MON_T_VERDICT = 1, /* firewall: a new flow classified by a rule (allow, drop, reject) */
	VNF_MON_T_NEW = 2,     /* conntrack: a connection entry created */
	VNF_MON_T_MAX = 3,
};

/* vnf_mon_event.flags */
#define VNF_MON_F_NO_MD 0x1 /* dropped before the packet's metadata was set: in/out/network unknown */
#define VNF_MON_F_L3 0x2    /* an IPv4 header was read: proto, saddr, daddr valid */
#define VNF_MON_F_L4 0x4    /* TCP/UDP ports (ICMP: type and code) were read */
#define VNF_MON_F_RULE 0x8  /* ruleset and rule are valid */

/* vnf_mon_event.action (verdict events: what the rule said) */
#define VNF_MON_A_ALLOW 0
#define VNF_MON_A_DROP 1
#define VNF_MON_A_REJECT 2

/* One record in vnf_events. */
struct vnf_mon_event {
	__u64 ts_ns;      /* bpf_ktime_get_ns() */
	__u8 type;        /* VNF_MON_T_* */
	__u8 vnf;         /* VNF id (vnf_progs slot) that decided */
	__u8 action;      /* verdict events: VNF_MON_A_* */
	__u8 flags;       /* VNF_MON_F_* */
	__u32 reason;     /* VNF_R_* */
	__u32 ifindex;    /* the device whose hook runs (skb->ifindex) */
	__u32 in;         /* md: ingress port (0: from the stack / egress hook) */
	__u32 out;        /* md: egress port (0: not decided yet) */
	__u32 network;    /* md: network id the packet was on */
	__u32 ruleset;    /* firewall: rule set (group slot id) */
	__u32 rule;       /* firewall: rule index, VNF_FW_DEFAULT_RULE for the default (valid with VNF_MON_F_RULE) */
	__u32 len;        /* skb->len */
	__u32 saddr;      /* network order */
	__u32 daddr;      /* network order */
	__u16 sport;      /* host order; ICMP: type */
	__u16 dport;      /* host order; ICMP: code */
	__u8 proto;
	__u8 _pad[7];
};
VNF_STATIC_ASSERT(sizeof(struct vnf_mon_event) == 64, "vnf_mon_event");

/* vnf_mon_cfg[0]: written by monitors only. */
struct vnf_mon_cfg {
	__u64 heartbeat_ns[VNF_MON_T_MAX]; /* per type: last heartbeat, 0 = nobody listens */
	__u32 rate;                        /* events per second per CPU (token bucket); 0 = VNF_MON_RATE_DEFAULT */
	__u32 burst;                       /* bucket depth; 0 = rate */
};
VNF_STATIC_ASSERT(sizeof(struct vnf_mon_cfg) == 32, "vnf_mon_cfg");

/* vnf_mon_state: per CPU, written by the programs: the token bucket and what
 * became of the events they wanted to send. */
struct vnf_mon_state {
	__u64 refill_ns;    /* when tokens were last refilled */
	__u64 tokens;       /* events that may still be sent */
	__u64 emitted;      /* events written to the ring buffer */
	__u64 lost_full;    /* events lost: the ring buffer was full (nobody reads fast enough) */
	__u64 lost_rate;    /* events lost to the rate limit */
	__u64 expired;      /* heartbeats found stale and reset (a monitor went away without saying so) */
};
VNF_STATIC_ASSERT(sizeof(struct vnf_mon_state) == 48, "vnf_mon_state");

#endif /* VNF_ABI_MONITOR_H */
