/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Firewall ABI. Rules are classified by tuple space search over address
 * prefixes and protocol, with ports reduced to equivalence classes:
 * - each port field (source, destination; ICMP type counts as destination
 *   port) of a rule set is cut into elementary intervals at the rules' range
 *   boundaries; one LPM lookup per field maps the packet's port to its
 *   interval's class id (vnf_fw_ports);
 * - rules are grouped by shape (tuple = src/dst prefix length, protocol or
 *   any, and whether each port field is a wildcard); per shape, one hash
 *   lookup with the packet's addresses masked and its port classes gives the
 *   lowest-index rule of that shape that matches (a rule with a port range is
 *   entered once per class its range covers).
 * A packet costs two LPM lookups plus at most one hash lookup per shape —
 * independent of the number of rules — and shapes are visited in order of
 * their first rule, so the search stops as soon as no later shape can hold
 * an earlier rule.
 *
 * Rule sets are double-buffered: each firewall direction in use owns two
 * stable ruleset ids (allocated once from the vnf_ids counter, never reused).
 * The bindings point at the live one; a change rewrites only the entries that
 * differ in the other one (the standby, which no binding points at) while its
 * root is marked INCOMPLETE, clears the mark, then flips the binding of each
 * interface (one map update). The former live set becomes the standby.
 * A set's `version` is a hash of its content: what conntrack entries remember
 * (a ruleset id alone would not say which content allowed a connection).
 */
#ifndef VNF_ABI_FIREWALL_H
#define VNF_ABI_FIREWALL_H

#include "abi/vnf_common.h"

#define VNF_ID_FIREWALL 4
#define VNF_MAP_FW_BIND "vnf_fw_bind"
#define VNF_MAP_FW_SETS "vnf_fw_sets"
#define VNF_MAP_FW_TUPLES "vnf_fw_tuples"
#define VNF_MAP_FW_CLS "vnf_fw_cls"
#define VNF_MAP_FW_PORTS "vnf_fw_ports"
#define VNF_MAP_FW_RULES "vnf_fw_rules"
#define VNF_MAP_FW_STATS "vnf_fw_stats"

#define VNF_FW_MAX_TUPLES 256        /* shapes per protocol class of a rule set (bounded loop) */
#define VNF_FW_CLS_MAX 2097152       /* classifier entries, all rule sets */
#define VNF_FW_RULES_MAX 1048576     /* rules, all rule sets */
#define VNF_FW_BIND_MAX (2 * VNF_PORTS_MAX) /* a binding per port and direction */
#define VNF_FW_SETS_MAX 4096         /* rule sets (two per firewall direction in use) */
#define VNF_FW_TUPLES_MAX 65536      /* shape lists of all rule sets */
#define VNF_FW_PORTS_MAX VNF_FW_RULES_MAX /* port class prefixes, all rule sets */
#define VNF_FW_STATS_MAX (VNF_FW_RULES_MAX + 8192) /* a counter per rule (and default) of every rule set */
#define VNF_FW_DEFAULT_RULE 0xffffffffU

#define VNF_FW_ALLOW 0
#define VNF_FW_DROP 1
#define VNF_FW_REJECT 2

/* vnf_fw_bind: (port ifindex, direction) -> rule set. Direction VNF_DIR_RX is
 * the port's egress policy (traffic from the container), VNF_DIR_TX its
 * ingress policy (traffic to the container). A port whose chain runs the
 * firewall has both; a missing binding drops (fail closed). */
struct vnf_fw_bind_key {
	__u32 ifindex;
	__u32 dir;
};
VNF_STATIC_ASSERT(sizeof(struct vnf_fw_bind_key) == 8, "vnf_fw_bind_key");

struct vnf_fw_bind {
	__u32 ruleset;
	__u32 flags;
};
VNF_STATIC_ASSERT(sizeof(struct vnf_fw_bind) == 8, "vnf_fw_bind");

/* Shapes are listed per protocol class, so a packet visits only the shapes
 * that can match its protocol (those of its protocol and those of any). */
#define VNF_FW_PC_OTHER 0
#define VNF_FW_PC_ICMP 1
#define VNF_FW_PC_TCP 2
#define VNF_FW_PC_UDP 3
#define VNF_FW_PCLASSES 4

/* vnf_fw_sets: ruleset -> its size, default action and version. A set is
 * (re)written root first marked INCOMPLETE, then its entries (only those that
 * differ), then the root without the mark; it is removed the same way round
 * (marked, entries, root). Only a set no binding points at is written. A
 * packet that finds a set marked INCOMPLETE is dropped as NO_POLICY (no
 * binding points at such a set during a complete apply; only a killed one
 * leaves it). */
#define VNF_FW_SET_F_INCOMPLETE 0x1
struct vnf_fw_set {
	__u32 ntuples[VNF_FW_PCLASSES]; /* shapes listed for each protocol class */
	__u32 nrules;
	__u32 default_counter; /* vnf_fw_stats key of the default action */
	__u8 default_action;   /* VNF_FW_ALLOW or VNF_FW_DROP */
	__u8 flags;            /* VNF_FW_SET_F_* */
	__u8 _pad[2];
	__u32 version;         /* content hash (never 0): conntrack entries remember it */
};
VNF_STATIC_ASSERT(sizeof(struct vnf_fw_set) == 32, "vnf_fw_set");

/* vnf_fw_tuples: (ruleset, pclass, i) -> the i-th shape visited for packets of
 * that protocol class, i < ntuples[pclass], in ascending min_rule. The entry's
 * `tuple` names the shape's classifier entries (shared across classes). */
struct vnf_fw_tuple_key {
	__u32 ruleset;
	__u16 pclass;
	__u16 index;
};
VNF_STATIC_ASSERT(sizeof(struct vnf_fw_tuple_key) == 8, "vnf_fw_tuple_key");

#define VNF_FW_T_SPORT_ANY 0x1 /* the shape's rules match any source port: key sport class 0 */
#define VNF_FW_T_DPORT_ANY 0x2
struct vnf_fw_tuple {
	__u32 min_rule;   /* lowest rule index with this shape */
	__u16 tuple;      /* shape id: the `tuple` of its vnf_fw_cls keys */
	__u8 src_plen;    /* 0..32 */
	__u8 dst_plen;
	__u8 flags;       /* VNF_FW_T_* */
	__u8 proto;       /* 0: any protocol, else the protocol number */
	__u8 _pad[2];
};
VNF_STATIC_ASSERT(sizeof(struct vnf_fw_tuple) == 12, "vnf_fw_tuple");

/* vnf_fw_ports: LPM trie, (ruleset, field, port prefix) -> port class id
 * (__u32, 1..65534). prefixlen counts bits after the ruleset and field:
 * 48 + the port prefix length. field 0 = source port, 1 = destination port.
 * The packet's port: TCP/UDP ports; for ICMP sport 0 and dport the type; 0
 * for other protocols. A miss means no rule names that port: class NONE. */
#define VNF_FW_PORT_NONE 0xffff
struct vnf_fw_port_key {
	__u32 prefixlen;
	__u32 ruleset; /* big-endian in the trie */
	__u16 field;   /* big-endian */
	__u16 port;    /* network order */
};
VNF_STATIC_ASSERT(sizeof(struct vnf_fw_port_key) == 12, "vnf_fw_port_key");

/* vnf_fw_cls: packet addresses masked to a shape, its protocol and its port
 * classes (0 for a wildcard port field of the shape) -> lowest matching rule
 * index. Addresses in network order, classes in host order. */
struct vnf_fw_cls_key {
	__u32 ruleset;
	__u16 tuple;  /* shape id */
	__u8 proto;   /* 0 for shapes with any protocol */
	__u8 _pad;
	__u32 saddr;
	__u32 daddr;
	__u16 sport;  /* source port class, 0 for a wildcard */
	__u16 dport;  /* destination port class, 0 for a wildcard */
};
VNF_STATIC_ASSERT(sizeof(struct vnf_fw_cls_key) == 20, "vnf_fw_cls_key");

/* vnf_fw_rules: (ruleset, index) -> action and counter. */
struct vnf_fw_rule_key {
	__u32 ruleset;
	__u32 index;
};
VNF_STATIC_ASSERT(sizeof(struct vnf_fw_rule_key) == 8, "vnf_fw_rule_key");

struct vnf_fw_rule {
	__u32 counter; /* vnf_fw_stats key: stable across rule set versions */
	__u8 action;   /* VNF_FW_* */
	__u8 _pad[3];
};
VNF_STATIC_ASSERT(sizeof(struct vnf_fw_rule) == 8, "vnf_fw_rule");

/* vnf_fw_stats: per-CPU hash, counter id -> struct vnf_counter. */

#endif
