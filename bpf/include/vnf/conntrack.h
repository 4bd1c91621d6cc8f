/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Connection tracking, kernel side (shared by the firewall and NAT): one LRU
 * table per topology, keys in the ORIGINAL direction and scoped by a zone
 * (the ifindex of the port whose policy tracks the connection); timeouts,
 * expiry, per-direction accounting. Layouts are bpf/abi/conntrack.h. Under
 * pressure the LRU evicts the least recently used entries; an evicted TCP
 * connection's next packet is then not a SYN and is dropped as invalid (fail
 * closed).
 *
 * TCP segments of a tracked connection go through ct_tcp.h: state table,
 * sequence and window checks, as Linux's conntrack does.
 *
 * Concurrency: an entry is created whole (bpf_map_update_elem with
 * BPF_NOEXIST, so a racing CPU's entry is never overwritten); afterwards the
 * counters move by atomic adds and last_seen_ns, ruleset and rule are single
 * aligned stores, so a reader on another CPU sees each field old or new,
 * never torn. The TCP state, flags and window state of an entry are read and
 * written only under its lock (ct_tcp.h), so no update is lost. For other
 * protocols the state and flags are byte stores that only ever move one way
 * (UDP -> UDP_REPLIED, flags set, never cleared).
 */
#ifndef VNF_CONNTRACK_H
#define VNF_CONNTRACK_H

#include "vnf/common.h"
#include "abi/conntrack.h"
#include "vnf/ct_tcp.h"

#define CT_NSEC_PER_SEC 1000000000ULL

#define IPPROTO_TCP_ 6
#define IPPROTO_UDP_ 17

/* One LRU list for all CPUs (no BPF_F_NO_COMMON_LRU): eviction order is global. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, VNF_CT_MAX);
	__type(key, struct vnf_ct_key);
	__type(value, struct vnf_ct_entry);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} vnf_ct SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct vnf_ct_cfg);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} vnf_ct_cfg SEC(".maps");

/* Linux's defaults (nf_conntrack_proto_{tcp,udp,icmp}.c), in seconds: used
 * when vnf_ct_cfg holds 0 for a state (or was never written). */
static __always_inline __u32 ct_default_timeout(__u32 state)
{
	switch (state) {
	case VNF_CT_SYN_SENT: return 120;
	case VNF_CT_SYN_RECV: return 60;
	case VNF_CT_ESTABLISHED: return 432000; /* 5 days */
	case VNF_CT_FIN_WAIT: return 120;
	case VNF_CT_CLOSE_WAIT: return 60;
	case VNF_CT_LAST_ACK: return 30;
	case VNF_CT_TIME_WAIT: return 120;
	case VNF_CT_CLOSE: return 10;
	case VNF_CT_SYN_SENT2: return 120;
	case VNF_CT_UDP: return 30;
	case VNF_CT_UDP_REPLIED: return 120;
	case VNF_CT_ICMP: return 30;
	default: return 30;
	}
}

static __always_inline __u64 ct_timeout_ns(__u32 state)
{
	__u32 zero = 0;
	struct vnf_ct_cfg *cfg = bpf_map_lookup_elem(&vnf_ct_cfg, &zero);
	__u32 sec = 0;

	if (cfg && state < 16)
		sec = cfg->timeout[state & 15]; /* & 15: the verifier's bound, timeout[16] */
	if (!sec)
		sec = ct_default_timeout(state);
	return (__u64)sec * CT_NSEC_PER_SEC;
}

/* Older than its state's timeout. Signed difference: a last_seen written by
 * another CPU just after our bpf_ktime_get_ns() is fresh, not 584 years old. */
static __always_inline int ct_expired(const struct vnf_ct_entry *e, __u64 now)
{
	return (__s64)(now - e->last_seen_ns) > (__s64)ct_timeout_ns(e->state);
}

/* The key of the other direction: addresses and ports swapped. */
static __always_inline void ct_key_reverse(struct vnf_ct_key *r, const struct vnf_ct_key *k)
{
	r->zone = k->zone;
	r->saddr = k->daddr;
	r->daddr = k->saddr;
	r->sport = k->dport;
	r->dport = k->sport;
	r->proto = k->proto;
	r->_pad[0] = 0;
	r->_pad[1] = 0;
	r->_pad[2] = 0;
}

/* The state of a new entry, from its first packet. */
static __always_inline __u8 ct_initial_state(__u8 proto)
{
	if (proto == IPPROTO_TCP_)
		return VNF_CT_SYN_SENT; /* only a SYN may create a TCP entry */
	if (proto == IPPROTO_ICMP_)
		return VNF_CT_ICMP;
	return VNF_CT_UDP; /* UDP, and any other IP protocol tracked by addresses */
}

/*
 * Creates the entry of a new connection, whole; a TCP one from its SYN (the
 * segment fw_tcp_seg left in this CPU's work slot; the caller lets only a
 * bare SYN open one). 0 on success (also when another CPU created the same
 * key first: that is the same connection), < 0 when the table refused it
 * (the caller drops: DROP_CT_FULL).
 */
static __always_inline int ct_create(const struct vnf_ct_key *k, __u32 ruleset, __u32 rule, __u8 dir, __u32 bytes,
				     __u64 now)
{
	struct vnf_ct_entry e = {
		.created_ns = now,
		.last_seen_ns = now,
		.packets_orig = 1,
		.bytes_orig = bytes,
		.ruleset = ruleset,
		.rule = rule,
		.state = ct_initial_state(k->proto),
		.dir = dir,
	};
	long ret;

	if (k->proto == IPPROTO_TCP_)
		ct_tcp_new(&e);
	ret = bpf_map_update_elem(&vnf_ct, k, &e, BPF_NOEXIST);

	if (ret == 0 || ret == -17 /* -EEXIST: a concurrent first packet won */)
		return 0;
	return -1;
}

/* Accounts a packet of a tracked connection: per-direction counters (atomic
 * adds), last_seen, and for non-TCP the first reply (UDP -> UDP_REPLIED). */
static __always_inline void ct_touch(struct vnf_ct_entry *e, __u64 now, __u32 len, int reply)
{
	e->last_seen_ns = now;
	if (reply) {
		__sync_fetch_and_add(&e->packets_reply, 1);
		__sync_fetch_and_add(&e->bytes_reply, len);
		if (!(e->flags & VNF_CT_F_SEEN_REPLY))
			e->flags |= VNF_CT_F_SEEN_REPLY;
		if (e->state == VNF_CT_UDP) {
			e->flags |= VNF_CT_F_ASSURED;
			e->state = VNF_CT_UDP_REPLIED;
		}
	} else {
		__sync_fetch_and_add(&e->packets_orig, 1);
		__sync_fetch_and_add(&e->bytes_orig, len);
	}
}

/* Accounts a packet of a tracked TCP connection: counters, and last_seen
 * when `refresh` (ct_tcp_packet says; a fragment without its TCP header
 * refreshes). Flags and state are ct_tcp.h's, under the lock. */
static __always_inline void ct_tcp_touch(struct vnf_ct_entry *e, __u64 now, __u32 len, int reply, int refresh)
{
	if (refresh)
		e->last_seen_ns = now;
	if (reply) {
		__sync_fetch_and_add(&e->packets_reply, 1);
		__sync_fetch_and_add(&e->bytes_reply, len);
	} else {
		__sync_fetch_and_add(&e->packets_orig, 1);
		__sync_fetch_and_add(&e->bytes_orig, len);
	}
}

#endif
