/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Connection tracking ABI, shared by the firewall and (later) NAT. One table
 * per topology; entries are scoped by a zone (the ifindex of the port whose
 * policy tracks them), so each port's policy sees only its own connections
 * and replies in either direction find them. Keys are the ORIGINAL direction.
 */
#ifndef VNF_ABI_CONNTRACK_H
#define VNF_ABI_CONNTRACK_H

#include "abi/vnf_common.h"

#define VNF_MAP_CT "vnf_ct"
#define VNF_MAP_CT_CFG "vnf_ct_cfg"
#define VNF_CT_MAX 262144

struct vnf_ct_key {
	__u32 zone;  /* ifindex of the tracking port */
	__u32 saddr; /* network order, original direction */
	__u32 daddr;
	__u16 sport; /* network order; ICMP echo: the identifier */
	__u16 dport; /* network order; ICMP echo: 0 */
	__u8 proto;
	__u8 _pad[3];
};
VNF_STATIC_ASSERT(sizeof(struct vnf_ct_key) == 20, "vnf_ct_key");

/* States; also the index of their timeout in struct vnf_ct_cfg. Never renumber. */
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
	VNF_CT_STATES = 12,
};

#define VNF_CT_F_SEEN_REPLY 0x1
#define VNF_CT_F_FIN_ORIG 0x2
#define VNF_CT_F_FIN_REPLY 0x4
#define VNF_CT_F_ASSURED 0x8

struct vnf_ct_entry {
	__u64 created_ns;
	__u64 last_seen_ns;   /* bpf_ktime_get_ns(); expired when older than the state's timeout */
	__u64 packets_orig;
	__u64 bytes_orig;
	__u64 packets_reply;
	__u64 bytes_reply;
	__u32 ruleset;        /* rule set (version) that allowed the connection */
	__u32 rule;           /* index of the allowing rule, VNF_FW_DEFAULT_RULE for the default */
	__u8 state;           /* enum vnf_ct_state */
	__u8 flags;           /* VNF_CT_F_* */
	__u8 dir;             /* policy direction that allowed it: VNF_DIR_RX (egress policy) or VNF_DIR_TX */
	__u8 _pad[5];
};
VNF_STATIC_ASSERT(sizeof(struct vnf_ct_entry) == 64, "vnf_ct_entry");

/* vnf_ct_cfg[0]: timeouts in seconds, indexed by enum vnf_ct_state. */
struct vnf_ct_cfg {
	__u32 timeout[16];
};
VNF_STATIC_ASSERT(sizeof(struct vnf_ct_cfg) == 64, "vnf_ct_cfg");

#endif
