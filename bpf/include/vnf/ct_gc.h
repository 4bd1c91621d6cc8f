/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The conntrack garbage collector, in the kernel: nothing depends on a
 * control-plane process to reclaim entries.
 *
 * A bpf_timer in the pinned map vnf_ct_gc runs ct_gc_run every
 * vnf_ct_cfg.gc_interval_ms (10 ms by default), in softirq. Each run visits
 * the next slots of the index (vnf_ct_slots, ct_table.h) from where the last
 * one stopped, at most VNF_CT_GC_SLOTS of them and for at most
 * VNF_CT_GC_BUDGET_NS (a slot whose entry is looked up costs ~0.6 us on this
 * machine, an empty one ~15 ns): a full walk of the 524,288 slots takes 512
 * runs, ~5 s. For each used slot it
 *   - removes the entry if it expired (ct_kill, which takes the entry's lock
 *     and re-checks, so a packet refreshing it wins);
 *   - releases the slot if its entry is gone (user space removed it: a
 *     flush, the sweep of a removed port) or is another slot's, and uncounts
 *     it;
 *   - recounts it in its zone's current counter when the one that counted it
 *     was removed and created again (a flush racing new connections).
 * Expired entries are also removed lazily, by the packet that finds them.
 *
 * The timer is armed by the datapath on first use (ct_gc_arm, from
 * ct_create): by each loaded object once (a per-object .bss flag), so a new
 * build that replaces the firewall takes the collector over with its first
 * new connection (bpf_timer_set_callback swaps the program the timer holds;
 * until then the old program, which the timer keeps loaded, goes on
 * collecting); and again by anyone who finds it has not run for a long time.
 * The timer lives in the pinned map: removing the topology's pins drops the
 * map's last user reference, which cancels and frees the timer (and with it
 * the program it held).
 *
 * What a timer callback may call (checked on this kernel, 6.18): map
 * lookups, updates and deletes, bpf_loop, bpf_spin_lock/unlock (released
 * before returning), atomics, bpf_ktime_get_ns, bpf_timer_start on its own
 * timer. Deleting the current element inside bpf_for_each_map_elem on a hash
 * map is allowed too, but that walk cannot resume (see ct_table.h).
 */
#ifndef VNF_CT_GC_H
#define VNF_CT_GC_H

#include "vnf/ct_table.h"

#define CLOCK_MONOTONIC_ 1

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct vnf_ct_gc);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} vnf_ct_gc SEC(".maps");

/* Set once this loaded object has taken the collector over (its .bss: every
 * load of the object starts from 0). */
__u32 ct_gc_owner;

static __always_inline __u64 ct_gc_interval_ns(void)
{
	struct vnf_ct_cfg *c = ct_cfg();
	__u32 ms = c && c->gc_interval_ms ? c->gc_interval_ms : VNF_CT_DEFAULT_GC_INTERVAL_MS;

	return (__u64)ms * 1000000ULL;
}

struct ct_gc_walk {
	__u64 now;
	__u64 deadline;
	__u32 start;
	__u32 visited;
};

/* A slot whose entry lives on, counted by a counter that is gone (a flush or
 * sweep removed it): count it in the zone's current counter, if there is
 * one (a zone without one was swept: its entries are on their way out). */
static __always_inline void ct_gc_adopt(struct vnf_ct_slot *sl, __u64 st, __u32 zone)
{
	struct vnf_ct_zone *z = bpf_map_lookup_elem(&vnf_ct_zone, &zone);
	__u32 class = ST_CLASS(st);

	if (!z || z->gen == ST_CGEN(st))
		return;
	ct_count_add(z, class, 1);
	if (__sync_val_compare_and_swap(&sl->st, st, ST_MAKE(VNF_CT_SLOT_USED, class, ST_SEQ(st) + 1, z->gen)) != st) {
		ct_count_add(z, class, -1); /* moved meanwhile: whoever moved it accounts */
		return;
	}
	ct_stat(VNF_CT_S_GC_ADOPTED);
}

/* One slot (bpf_loop callback). Returns 1 to stop (out of time). */
static long ct_gc_step(__u32 i, void *data)
{
	struct ct_gc_walk *w = data;
	__u32 s = (w->start + i) & CT_SLOT_MASK;
	struct vnf_ct_slot *sl;
	struct vnf_ct_entry *e;
	struct vnf_ct_key k;
	__u64 st;

	if ((i & 63) == 63 && bpf_ktime_get_ns() > w->deadline)
		return 1;
	w->visited = i + 1;
	sl = bpf_map_lookup_elem(&vnf_ct_slots, &s);
	if (!sl)
		return 1;
	st = sl->st;
	if (ST_STATE(st) != VNF_CT_SLOT_USED)
		return 0;
	k = sl->key;
	if (sl->st != st)
		return 0; /* changed while we read the key: next walk */
	e = bpf_map_lookup_elem(&vnf_ct, &k);
	if (!e || e->slot != s || e->tag == 0) {
		/* Its entry is gone (or is not the one that holds this slot). */
		if (ct_slot_release(sl, st, k.zone))
			ct_stat(VNF_CT_S_GC_STALE);
		return 0;
	}
	if (ct_expired(e, w->now)) {
		if (ct_kill(&k, e, CT_KILL_EXPIRED, w->now))
			ct_stat(VNF_CT_S_GC_EXPIRED);
		return 0;
	}
	ct_gc_adopt(sl, st, k.zone);
	return 0;
}

/* The timer's callback: one bounded run, then the next one is due. */
static int ct_gc_run(void *map, int *key, struct vnf_ct_gc *g)
{
	__u64 now = bpf_ktime_get_ns();
	struct ct_gc_walk w = {
		.now = now,
		.deadline = now + VNF_CT_GC_BUDGET_NS,
		.start = (__u32)g->cursor & CT_SLOT_MASK,
	};
	__u64 next;

	bpf_loop(VNF_CT_GC_SLOTS, ct_gc_step, &w, 0);
	next = (__u64)w.start + w.visited;
	if (next >= VNF_CT_SLOTS) {
		next -= VNF_CT_SLOTS;
		g->cycles++;
	}
	g->cursor = next;
	g->last_ns = now;
	ct_stat(VNF_CT_S_GC_RUNS);
	bpf_timer_start(&g->timer, ct_gc_interval_ns(), 0);
	return 0;
}

/*
 * Arms the collector, with this object's program as its callback, the first
 * time this object creates an entry, and again whenever it has not run for
 * 64 periods and a second (its timer start failed, or it was never armed).
 * Costs an array lookup and two compares otherwise.
 */
static __always_inline void ct_gc_arm(__u64 now)
{
	__u32 zero = 0;
	struct vnf_ct_gc *g = bpf_map_lookup_elem(&vnf_ct_gc, &zero);
	__u64 interval;

	if (!g)
		return;
	interval = ct_gc_interval_ns();
	if (ct_gc_owner && (__s64)(now - g->last_ns) < (__s64)(interval * 64 + CT_NSEC_PER_SEC))
		return;
	ct_gc_owner = 1;
	g->last_ns = now;
	/* -EBUSY when another object initialised it already: fine, the
	 * callback is ours from here on. */
	bpf_timer_init(&g->timer, &vnf_ct_gc, CLOCK_MONOTONIC_);
	bpf_timer_set_callback(&g->timer, ct_gc_run);
	bpf_timer_start(&g->timer, interval, 0);
}

#endif
