/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The connection table under pressure: what keeps a flood of new connections
 * from costing established ones their state, close to what Linux does
 * (nf_conntrack's early_drop, its garbage collector, ASSURED), with quotas
 * per port. Layouts are bpf/abi/conntrack.h.
 *
 *   vnf_ct        a plain hash: traffic never evicts an entry. Entries go
 *                 when they expire (lazily on lookup, or by the collector,
 *                 ct_gc.h), when TCP closes or resets them, when a changed
 *                 policy cuts them, when an early drop makes room, or when
 *                 the control plane removes a port's (its sweep) or all
 *                 (`vnf-ctl conntrack --flush`).
 *   vnf_ct_slots  an index: every entry the kernel creates holds one slot
 *                 (its key, its class, the counter that counts it), found
 *                 by probing from the key's hash. It is what the collector
 *                 walks, in bounded resumable chunks (a hash map cannot be
 *                 walked from where the last walk stopped:
 *                 bpf_for_each_map_elem always starts at bucket 0, and a walk
 *                 of 262,144 entries took 40-100 ms here), and where an early
 *                 drop looks for a victim (Linux looks in the new entry's
 *                 bucket).
 *   vnf_ct_zone   per zone (port), how many of its entries hold a slot, by
 *                 class: PROTECTED (ASSURED and within the assured quota,
 *                 never early-dropped) and the rest (new, unreplied, or
 *                 ASSURED beyond the quota). A new entry needs room in its
 *                 zone's unassured quota, or it is dropped (DROP_CT_FULL).
 *
 * Counting is exact by construction: a count moves only with a successful
 * compare-and-swap of its slot's state (claim +1, release -1, protection
 * moves one from unassured to assured), so each slot is counted once and
 * uncounted once, whoever releases it. An entry removed by user space leaves
 * its slot behind; the collector finds the slot's entry gone and releases it
 * (and its count). A counter removed by user space (the sweep of a removed
 * port, a flush) takes its counts with it: slots remember the counter's
 * generation and are uncounted only from that one; the collector recounts
 * live slots of an older generation in the zone's current counter.
 *
 * Removal: a hash map reuses a removed element at once (measured on this
 * kernel, with and without BPF_F_NO_PREALLOC: a write through a pointer
 * taken before the delete lands in the next insert's value), so removal is a
 * protocol: under the key's lock (vnf_ct_lock, which outlives the entry),
 * check the entry is still this key's (tag) and live, mark it DYING; then,
 * lock released (no map operation may run under a bpf_spin_lock), delete it
 * and release its slot. Exactly one CPU gets to mark it; every CPU that
 * locks it later sees DYING (or, reused, another tag) and backs off.
 * BPF_F_NO_PREALLOC is used anyway: it recycles just as fast and costs
 * memory only for entries that exist, where a preallocated table of 262,144
 * 128-byte entries costs ~52 MB per topology from the start.
 *
 * Not covered by the protocol: the counters and last_seen of an entry are
 * written without the lock (atomic adds, one store), so a packet racing the
 * removal of its own entry may add to the element's next owner; and a zone
 * counter removed by user space while a packet holds a pointer to it.
 * Accounting noise in a race of nanoseconds; no verdict depends on it.
 */
#ifndef VNF_CT_TABLE_H
#define VNF_CT_TABLE_H

#include "vnf/common.h"
#include "abi/conntrack.h"
#include "vnf/ct_tcp.h"

#define ENOMEM_ 12
#define EEXIST_ 17
#define E2BIG_ 7

#define CT_SLOT_MASK (VNF_CT_SLOTS - 1)
#define CT_PROBES 64      /* slots probed for a free one from the key's home (quadratic steps) */
#define CT_EVICT_PROBES 64 /* slots looked at for an early-drop victim (16 found none 0.3% of the time: empty runs) */

_Static_assert((VNF_CT_SLOTS & CT_SLOT_MASK) == 0, "VNF_CT_SLOTS is a power of two");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, VNF_CT_ZONES);
	__type(key, __u32);
	__type(value, struct vnf_ct_zone);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} vnf_ct_zone SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, VNF_CT_SLOTS);
	__type(key, __u32);
	__type(value, struct vnf_ct_slot);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} vnf_ct_slots SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, VNF_CT_STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} vnf_ct_stats SEC(".maps");

/* A new entry is assembled here, and an early drop's victim key copied
 * here, not on the stack: the firewall's main frame leaves ~144 of the 512
 * bytes to the call chain under it (ct_create -> the early drop's loop ->
 * ct_kill). Per CPU, not pinned: it outlives no call. */
struct ct_scratch {
	struct vnf_ct_entry e;
	struct vnf_ct_key victim;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ct_scratch);
} ct_scratch SEC(".maps");

static __always_inline struct ct_scratch *ct_scratch_get(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&ct_scratch, &zero);
}

static __always_inline void ct_stat(__u32 i)
{
	__u64 *c = bpf_map_lookup_elem(&vnf_ct_stats, &i);

	if (c)
		*c += 1; /* this CPU's slot: no atomics */
}

/* ---- settings ------------------------------------------------------------ */

static __always_inline struct vnf_ct_cfg *ct_cfg(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&vnf_ct_cfg, &zero);
}

static __always_inline __s64 ct_max_assured(void)
{
	struct vnf_ct_cfg *c = ct_cfg();

	return c && c->max_assured ? c->max_assured : VNF_CT_DEFAULT_MAX_ASSURED;
}

static __always_inline __s64 ct_max_new(void)
{
	struct vnf_ct_cfg *c = ct_cfg();

	return c && c->max_new ? c->max_new : VNF_CT_DEFAULT_MAX_NEW;
}

/* ---- slots --------------------------------------------------------------- */

#define ST_STATE(st) ((__u32)(st) & 0xf)
#define ST_CLASS(st) (((__u32)(st) >> 4) & 0xf)
#define ST_SEQ(st) (((__u32)(st) >> 8) & 0xffffff)
#define ST_CGEN(st) ((__u32)((st) >> 32))
#define ST_MAKE(state, class, seq, cgen) \
	(((__u64)(cgen) << 32) | ((__u64)((seq) & 0xffffff) << 8) | ((__u64)(class) << 4) | (__u64)(state))

static __always_inline int ct_key_eq(const struct vnf_ct_key *a, const struct vnf_ct_key *b)
{
	return a->zone == b->zone && a->saddr == b->saddr && a->daddr == b->daddr && a->sport == b->sport &&
	       a->dport == b->dport && a->proto == b->proto;
}

static __always_inline struct vnf_ct_slot *ct_slot(__u32 s)
{
	s &= CT_SLOT_MASK;
	return bpf_map_lookup_elem(&vnf_ct_slots, &s);
}

/* ---- zone counters ------------------------------------------------------- */

/* The counter of a zone, created (counts 0, a fresh generation) if `create`.
 * NULL only when the map is full (or, without `create`, when there is none). */
static __always_inline struct vnf_ct_zone *ct_zone(__u32 zone, int create)
{
	struct vnf_ct_zone *z = bpf_map_lookup_elem(&vnf_ct_zone, &zone);

	if (z || !create)
		return z;
	struct vnf_ct_zone init = { .gen = (__u32)bpf_ktime_get_ns() | 1 };

	/* BPF_NOEXIST: a CPU creating it at the same time wins, we use its. */
	bpf_map_update_elem(&vnf_ct_zone, &zone, &init, BPF_NOEXIST);
	return bpf_map_lookup_elem(&vnf_ct_zone, &zone);
}

static __always_inline void ct_count_add(struct vnf_ct_zone *z, __u32 class, __s64 n)
{
	if (class == VNF_CT_CLASS_ASSURED)
		__sync_fetch_and_add(&z->assured, n);
	else
		__sync_fetch_and_add(&z->unassured, n);
}

/* Uncounts a released slot from the counter that counted it (if that one
 * still exists: same zone, same generation). */
static __always_inline void ct_uncount(__u32 zone, __u64 st)
{
	struct vnf_ct_zone *z = bpf_map_lookup_elem(&vnf_ct_zone, &zone);

	if (z && z->gen == ST_CGEN(st))
		ct_count_add(z, ST_CLASS(st), -1);
}

/* Releases slot `sl` from the state `st` the caller saw (USED, its key's).
 * 1 if this call released it (and uncounted it); 0 if it had changed
 * meanwhile (released by another, or moved: then that one accounts). */
static __always_inline int ct_slot_release(struct vnf_ct_slot *sl, __u64 st, __u32 zone)
{
	if (__sync_val_compare_and_swap(&sl->st, st, ST_MAKE(VNF_CT_SLOT_FREE, 0, ST_SEQ(st) + 1, 0)) != st)
		return 0;
	ct_uncount(zone, st);
	return 1;
}

/* ---- removal ------------------------------------------------------------- */

#define CT_KILL_MARKED 0x1    /* the caller marked it DYING under the lock (ct_tcp_packet) */
#define CT_KILL_EXPIRED 0x2   /* only if it is expired (checked under the lock) */
#define CT_KILL_UNPROTECTED 0x4 /* only if it is not PROTECTED (an early drop) */

/*
 * Removes the entry `e` of key `k` from vnf_ct and releases its slot, if
 * this CPU is the one to (see the removal protocol above) and `how` allows.
 * Returns 1 when it removed it, 0 when not (another CPU is removing it, it
 * was reused, or `how` said no). `now` for CT_KILL_EXPIRED.
 *
 * A global function: verified once, on its own; callable from the packet
 * path, the collector and the early drop alike. Its pointers may be NULL for
 * all the verifier knows.
 */
__attribute__((noinline)) int ct_kill(const struct vnf_ct_key *k, struct vnf_ct_entry *e, __u32 how, __u64 now)
{
	struct ct_lock *l;
	struct vnf_ct_slot *sl;
	__u32 h, lk;
	__u64 st;

	if (!k || !e)
		return 0;
	if (!(how & CT_KILL_MARKED)) {
		/* The timeout of the state as read now (a map lookup: not under
		 * the lock); a packet that moves the state refreshes last_seen. */
		__s64 timeout = (how & CT_KILL_EXPIRED) ? (__s64)ct_timeout_ns(e->state) : 0;
		int mine = 0;

		h = ct_hash(k);
		lk = ct_lock_of(h);
		l = bpf_map_lookup_elem(&vnf_ct_lock, &lk);
		if (!l)
			return 0;
		bpf_spin_lock(&l->lock);
		if (ct_entry_live(e, ct_tag_of(h)) &&
		    (!(how & CT_KILL_EXPIRED) || (__s64)(now - e->last_seen_ns) > timeout) &&
		    (!(how & CT_KILL_UNPROTECTED) || !(e->flags & VNF_CT_F_PROTECTED))) {
			ct_flags_set(e, VNF_CT_F_DYING);
			mine = 1;
		}
		bpf_spin_unlock(&l->lock);
		if (!mine)
			return 0;
	}
	/* DYING: no one else moves its slot now but the collector, which
	 * releases only slots whose entry is gone. Read it before the delete. */
	sl = e->tag ? ct_slot(e->slot) : NULL;
	st = sl ? sl->st : 0;
	bpf_map_delete_elem(&vnf_ct, k); /* -ENOENT if user space removed it meanwhile: fine */
	if (sl && ST_STATE(st) == VNF_CT_SLOT_USED && ct_key_eq(&sl->key, k))
		ct_slot_release(sl, st, k->zone);
	return 1;
}

/* ---- protection ------------------------------------------------------------ */

/*
 * An ASSURED entry asks for a place in its zone's assured quota: if there is
 * room, it becomes PROTECTED (never early-dropped) and its slot moves from
 * the zone's unassured count to its assured one. Called when a packet finds
 * it ASSURED and not PROTECTED (TCP: CT_TCP_ASSURE; UDP: a reply), so an
 * entry refused now asks again with its next packet. Returns 1 when it
 * became PROTECTED.
 */
__attribute__((noinline)) int ct_assure(const struct vnf_ct_key *k, struct vnf_ct_entry *e)
{
	struct vnf_ct_zone *z;
	struct vnf_ct_slot *sl;
	struct ct_lock *l;
	__s64 max = ct_max_assured();
	__u32 h, lk, s, tag;
	int ok = 0;

	if (!k || !e)
		return 0;
	z = ct_zone(k->zone, 1);
	if (!z) {
		ct_stat(VNF_CT_S_ZONE_FULL);
		return 0;
	}
	/* Take a place first (the lock comes after: no map operation may run
	 * under it); give it back if the entry cannot use it. The plain read
	 * spares a full zone the atomics of every packet that asks again. */
	if ((__s64)z->assured >= max) {
		ct_stat(VNF_CT_S_ASSURED_QUOTA);
		return 0;
	}
	if ((__s64)__sync_fetch_and_add(&z->assured, 1) >= max) {
		__sync_fetch_and_add(&z->assured, -1);
		ct_stat(VNF_CT_S_ASSURED_QUOTA);
		return 0;
	}
	h = ct_hash(k);
	lk = ct_lock_of(h);
	l = bpf_map_lookup_elem(&vnf_ct_lock, &lk);
	if (!l) {
		__sync_fetch_and_add(&z->assured, -1);
		return 0;
	}
	bpf_spin_lock(&l->lock);
	if (ct_entry_live(e, ct_tag_of(h)) && (e->flags & (VNF_CT_F_ASSURED | VNF_CT_F_PROTECTED)) == VNF_CT_F_ASSURED) {
		ct_flags_set(e, VNF_CT_F_PROTECTED);
		ok = 1;
	}
	s = e->slot;
	tag = e->tag;
	bpf_spin_unlock(&l->lock);
	/* Its slot changes class, counted in this counter from now on. An entry
	 * written by user space (tag 0) has none: it is protected but counted
	 * nowhere. The slot can only change under us if the entry is being
	 * removed; then the place goes back. */
	sl = ok && tag ? ct_slot(s) : NULL;
	if (sl) {
		__u64 st = sl->st;

		if (ST_STATE(st) == VNF_CT_SLOT_USED && ST_CLASS(st) == VNF_CT_CLASS_NEW && ct_key_eq(&sl->key, k) &&
		    __sync_val_compare_and_swap(&sl->st, st,
						ST_MAKE(VNF_CT_SLOT_USED, VNF_CT_CLASS_ASSURED, ST_SEQ(st) + 1, z->gen)) == st) {
			if (ST_CGEN(st) == z->gen)
				__sync_fetch_and_add(&z->unassured, -1);
			ct_stat(VNF_CT_S_ASSURED);
			return 1;
		}
	}
	__sync_fetch_and_add(&z->assured, -1);
	if (ok && !tag)
		ct_stat(VNF_CT_S_ASSURED);
	return ok;
}

/* ---- creation -------------------------------------------------------------- */

struct ct_probe {
	__u32 home;
	__u32 slot; /* the slot found (claimed), or ~0 */
	__u64 st;   /* its state as claimed (BUSY) */
};

/* One slot of a claim (bpf_loop callback): a FREE slot becomes BUSY, ours.
 * Returns 1 to stop. Probes at home + i(i+1)/2 (which visits every slot of
 * a power-of-two table): linear probing's clusters left 1 in ~4000 claims
 * without a free slot in 32 probes at half load. */
static long ct_claim_step(__u32 i, void *data)
{
	struct ct_probe *p = data;
	__u32 s = (p->home + (i * (i + 1) >> 1)) & CT_SLOT_MASK;
	struct vnf_ct_slot *sl = bpf_map_lookup_elem(&vnf_ct_slots, &s);
	__u64 st, busy;

	if (!sl)
		return 1;
	st = sl->st;
	if (ST_STATE(st) != VNF_CT_SLOT_FREE)
		return 0;
	busy = ST_MAKE(VNF_CT_SLOT_BUSY, 0, ST_SEQ(st) + 1, 0);
	if (__sync_val_compare_and_swap(&sl->st, st, busy) != st)
		return 0; /* another CPU took it: go on probing */
	p->slot = s;
	p->st = busy;
	return 1;
}

/* One slot of an early drop (bpf_loop callback): an unprotected entry there
 * is removed. Returns 1 to stop (one victim is enough). */
static long ct_evict_step(__u32 i, void *data)
{
	struct ct_probe *p = data;
	__u32 s = (p->home + i) & CT_SLOT_MASK;
	struct vnf_ct_slot *sl = bpf_map_lookup_elem(&vnf_ct_slots, &s);
	struct ct_scratch *w = ct_scratch_get();
	struct vnf_ct_entry *e;
	__u64 st;

	if (!sl || !w)
		return 1;
	st = sl->st;
	if (ST_STATE(st) != VNF_CT_SLOT_USED || ST_CLASS(st) != VNF_CT_CLASS_NEW)
		return 0;
	w->victim = sl->key; /* a copy: the slot may change under us */
	e = bpf_map_lookup_elem(&vnf_ct, &w->victim);
	if (!e || e->slot != s || (e->flags & VNF_CT_F_PROTECTED))
		return 0;
	if (!ct_kill(&w->victim, e, CT_KILL_UNPROTECTED, 0))
		return 0;
	ct_stat(VNF_CT_S_EARLY_DROP);
	p->slot = s;
	return 1;
}

/* The table is full: remove one unprotected entry near `home` (other keys'
 * homes: a random victim, as Linux's early_drop takes one from the new
 * entry's bucket). 1 if one went. */
static __always_inline int ct_early_drop(__u32 home)
{
	struct ct_probe p = { .home = home, .slot = ~0U };

	bpf_loop(CT_EVICT_PROBES, ct_evict_step, &p, 0);
	return p.slot != ~0U;
}

#endif
