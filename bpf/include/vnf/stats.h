/* SPDX-License-Identifier: GPL-2.0 */
/* Counters: per VNF and reason, per port and direction. Per-CPU slots, so no atomics. */
#ifndef VNF_STATS_H
#define VNF_STATS_H

#include "vnf/maps.h"
#include "vnf/monitor.h"
#include "vnf/trace.h"

static __always_inline void vnf_count(__u32 vnf_id, __u32 reason, __u32 bytes)
{
	__u32 idx = vnf_id * VNF_MAX_REASONS + (reason & (VNF_MAX_REASONS - 1));
	struct vnf_counter *c = bpf_map_lookup_elem(&vnf_stats, &idx);

	if (vnf_trace_on)
		vnf_trace_add(NULL, VNF_TRACE_VERDICT, vnf_id, reason, 0, bytes);
	if (c) {
		c->packets++;
		c->bytes += bytes;
	}
}

static __always_inline void vnf_port_count(__u32 ifindex, __u32 dir, __u32 bytes)
{
	struct vnf_port_stats_key k = { .ifindex = ifindex, .dir = dir };
	struct vnf_counter *c = bpf_map_lookup_elem(&vnf_port_stats, &k);

	if (c) {
		c->packets++;
		c->bytes += bytes;
		return;
	}
	struct vnf_counter init = { .packets = 1, .bytes = bytes };
	/* BPF_NOEXIST: another CPU may have created it; then our packet is lost
	 * from the count, never double-counted. */
	bpf_map_update_elem(&vnf_port_stats, &k, &init, BPF_NOEXIST);
}

/* The single exit of a VNF: counts the verdict's reason and returns the
 * action. Drops always carry a reason >= VNF_R_DROP_BASE. */
static __always_inline int vnf_verdict(struct __sk_buff *skb, __u32 vnf_id, __u32 reason, int action)
{
	vnf_count(vnf_id, reason, skb->len);
	/* Every drop is a monitor event (a constant pass reason compiles this away). */
	if (reason >= VNF_R_DROP_BASE)
		vnf_mon_drop(skb, vnf_id, reason, 0, 0, 0);
	return action;
}

static __always_inline int vnf_drop(struct __sk_buff *skb, __u32 vnf_id, __u32 reason)
{
	return vnf_verdict(skb, vnf_id, reason, TC_ACT_SHOT);
}

/* A drop before the packet's metadata (skb->cb) was set: the event names the
 * hook's device only. */
static __always_inline int vnf_drop_early(struct __sk_buff *skb, __u32 vnf_id, __u32 reason)
{
	vnf_count(vnf_id, reason, skb->len);
	vnf_mon_drop(skb, vnf_id, reason, VNF_MON_F_NO_MD, 0, 0);
	return TC_ACT_SHOT;
}

/* A drop caused by a rule (`rule` of `ruleset`, when `known`): the event names it. */
static __always_inline int vnf_drop_rule(struct __sk_buff *skb, __u32 vnf_id, __u32 reason, __u32 known,
					 __u32 ruleset, __u32 rule)
{
	vnf_count(vnf_id, reason, skb->len);
	vnf_mon_drop(skb, vnf_id, reason, known ? VNF_MON_F_RULE : 0, ruleset, rule);
	return TC_ACT_SHOT;
}

#endif
