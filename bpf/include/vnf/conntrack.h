/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Connection tracking, kernel side (shared by the firewall and NAT): one
 * table per topology, keys in the ORIGINAL direction and scoped by a zone
 * (the ifindex of the port whose policy tracks the connection); timeouts,
 * expiry, per-direction accounting. Layouts are bpf/abi/conntrack.h.
 *
 * Under pressure (ct_table.h, ct_gc.h): the table is a plain hash that
 * traffic never evicts; a port may hold at most its quota of unassured and
 * of protected (ASSURED) entries; a full table early-drops an unprotected
 * entry; a collector driven by a bpf_timer reclaims expired entries. A new
 * connection that finds no room is dropped as DROP_CT_FULL.
 *
 * TCP segments of a tracked connection go through ct_tcp.h: state table,
 * sequence and window checks, as Linux's conntrack does.
 *
 * Concurrency: an entry is created whole (bpf_map_update_elem with
 * BPF_NOEXIST, so a racing CPU's entry is never overwritten); afterwards the
 * counters move by atomic adds and last_seen_ns, ruleset and rule are single
 * aligned stores, so a reader on another CPU sees each field old or new,
 * never torn. The TCP state, flags and window state of an entry are read and
 * written only under its lock (ct_tcp.h), so no update is lost; so are the
 * PROTECTED and DYING flags, and an entry is removed only by the CPU that
 * marked it DYING (ct_table.h). For other protocols the state is a byte
 * store and flags are set by atomic ORs (ct_flags_set), both only ever
 * moving one way (UDP -> UDP_REPLIED, flags set, never cleared).
 */
#ifndef VNF_CONNTRACK_H
#define VNF_CONNTRACK_H

#include "vnf/common.h"
#include "abi/conntrack.h"

#define CT_NSEC_PER_SEC 1000000000ULL

#define IPPROTO_TCP_ 6
#define IPPROTO_UDP_ 17

/* A plain hash: nothing evicts an entry behind our back (an LRU would, and
 * would take established connections with it under a flood). Elements are
 * allocated as entries are created (see ct_table.h for why not preallocated). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, VNF_CT_MAX);
	__uint(map_flags, BPF_F_NO_PREALLOC);
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

#include "vnf/ct_tcp.h"
#include "vnf/ct_table.h"
#include "vnf/ct_gc.h"

#define CT_CREATE_FULL 1 /* ct_insert: the table is full (or no element was ready): make room, try again */

/*
 * Inserts the entry of a new connection, whole; a TCP one from its SYN (the
 * segment fw_tcp_seg left in this CPU's work slot; the caller lets only a
 * bare SYN open one). 0 on success (also when another CPU created the same
 * key first: that is the same connection), CT_CREATE_FULL when the table
 * refused it for room, < 0 when there is no room for it (its zone is at its
 * unassured quota, or no slot near its home is free).
 *
 * In order: arm the collector (ct_gc.h); take a place in the zone's
 * unassured quota; claim a slot (BUSY: ours); insert the entry, which names its slot; publish the slot (USED,
 * counted by this counter's generation). Whatever fails gives back what was
 * taken. A global function: verified once, on its own; the entry is
 * assembled in a per-CPU buffer, not on a stack.
 */
__attribute__((noinline)) int ct_insert(const struct vnf_ct_key *k, __u32 ruleset, __u32 rule, __u32 dir, __u32 bytes)
{
	struct ct_scratch *w = ct_scratch_get();
	struct vnf_ct_entry *e = w ? &w->e : NULL;
	struct ct_probe p = { .slot = ~0U };
	struct vnf_ct_slot *sl;
	struct vnf_ct_zone *z;
	__u64 now = bpf_ktime_get_ns();
	__s64 max = ct_max_new();
	__u32 h, cgen;
	long ret;

	if (!k || !e)
		return -1;
	ct_gc_arm(now);
	z = ct_zone(k->zone, 1);
	if (!z) {
		ct_stat(VNF_CT_S_ZONE_FULL);
		return -1;
	}
	if ((__s64)z->unassured >= max) {
		ct_stat(VNF_CT_S_NEW_QUOTA);
		return -1;
	}
	if ((__s64)__sync_fetch_and_add(&z->unassured, 1) >= max) {
		__sync_fetch_and_add(&z->unassured, -1);
		ct_stat(VNF_CT_S_NEW_QUOTA);
		return -1;
	}
	cgen = z->gen;
	h = ct_hash(k);
	p.home = h & CT_SLOT_MASK;
	bpf_loop(CT_PROBES, ct_claim_step, &p, 0);
	sl = p.slot != ~0U ? ct_slot(p.slot) : NULL;
	if (!sl) {
		__sync_fetch_and_add(&z->unassured, -1);
		ct_stat(VNF_CT_S_FULL);
		return -1;
	}
	sl->key = *k;

	__builtin_memset(e, 0, sizeof(*e));
	e->created_ns = now;
	e->last_seen_ns = now;
	e->packets_orig = 1;
	e->bytes_orig = bytes;
	e->ruleset = ruleset;
	e->rule = rule;
	e->state = ct_initial_state(k->proto);
	e->dir = dir;
	e->tag = ct_tag_of(h);
	e->slot = p.slot;
	if (k->proto == IPPROTO_TCP_)
		ct_tcp_new(e);
	ret = bpf_map_update_elem(&vnf_ct, k, e, BPF_NOEXIST);
	if (ret != 0) {
		__sync_val_compare_and_swap(&sl->st, p.st, ST_MAKE(VNF_CT_SLOT_FREE, 0, ST_SEQ(p.st) + 1, 0));
		__sync_fetch_and_add(&z->unassured, -1);
		if (ret == -EEXIST_)
			return 0; /* a concurrent first packet won */
		/* Full (-E2BIG), or no element ready on this CPU (-ENOMEM: the
		 * allocator refills asynchronously). */
		return CT_CREATE_FULL;
	}
	__sync_val_compare_and_swap(&sl->st, p.st, ST_MAKE(VNF_CT_SLOT_USED, VNF_CT_CLASS_NEW, ST_SEQ(p.st) + 1, cgen));
	return 0;
}

/* Makes room for key `k`: early-drops one unprotected entry near its home. */
__attribute__((noinline)) int ct_make_room(const struct vnf_ct_key *k)
{
	if (!k)
		return 0;
	return ct_early_drop(ct_hash(k) & CT_SLOT_MASK);
}

/*
 * Creates the entry of a new connection (ct_insert); when the table is full,
 * early-drops an unprotected entry and tries once more (the victim's element
 * is then this CPU's next one). 0 on success, < 0 when there is no room: the
 * caller drops the packet as DROP_CT_FULL.
 *
 * Inlined into the caller, so that the steps (global functions) are called
 * one after the other from its frame, not nested: the firewall's main frame
 * leaves ~144 bytes of stack to the deepest chain under it.
 */
static __always_inline int ct_create(const struct vnf_ct_key *k, __u32 ruleset, __u32 rule, __u32 dir, __u32 bytes)
{
	int r = ct_insert(k, ruleset, rule, dir, bytes);

	if (r == CT_CREATE_FULL && ct_make_room(k))
		r = ct_insert(k, ruleset, rule, dir, bytes);
	if (r == CT_CREATE_FULL) {
		ct_stat(VNF_CT_S_FULL);
		return -1;
	}
	return r;
}

/* Accounts a packet of a tracked connection: per-direction counters (atomic
 * adds), last_seen, and for non-TCP the first reply (UDP -> UDP_REPLIED,
 * ASSURED: the caller then asks for protection, ct_assure). */
static __always_inline void ct_touch(struct vnf_ct_entry *e, __u64 now, __u32 len, int reply)
{
	e->last_seen_ns = now;
	if (reply) {
		__sync_fetch_and_add(&e->packets_reply, 1);
		__sync_fetch_and_add(&e->bytes_reply, len);
		if (!(e->flags & VNF_CT_F_SEEN_REPLY))
			ct_flags_set(e, VNF_CT_F_SEEN_REPLY);
		if (e->state == VNF_CT_UDP) {
			ct_flags_set(e, VNF_CT_F_ASSURED);
			e->state = VNF_CT_UDP_REPLIED; /* a byte store: the flags byte is not touched */
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
