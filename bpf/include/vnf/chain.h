/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The chain is data: vnf_chains[id] lists the VNFs (vnf_progs slots) to run;
 * each VNF hands the packet on with vnf_next(). A packet keeps the chain id it
 * started with (md cb[2]); chains are never edited in place, so a packet never
 * sees a half-written chain. A failed tail call ends in a counted drop.
 */
#ifndef VNF_CHAIN_H
#define VNF_CHAIN_H

#include "vnf/maps.h"
#include "vnf/md.h"
#include "vnf/stats.h"

/* Runs the VNF at position `pos` of the packet's chain. Only returns on
 * failure. Counts nothing on success: the caller counted its verdict. */
static __always_inline int vnf_run_at(struct __sk_buff *skb, __u32 caller, __u32 pos)
{
	__u32 id = md_chain(skb);
	struct vnf_chain *c = bpf_map_lookup_elem(&vnf_chains, &id);

	if (!c)
		return vnf_drop(skb, caller, VNF_R_DROP_NO_CHAIN);
	if (pos >= c->len || pos >= VNF_MAX_CHAIN)
		return vnf_drop(skb, caller, VNF_R_DROP_NO_CHAIN);
	__u32 hops = md_hops(skb) + 1;
	if (hops > VNF_MAX_HOPS)
		return vnf_drop(skb, caller, VNF_R_DROP_LOOP);
	skb->cb[4] = (skb->cb[4] & 0xffff0000) | (hops << 8) | (pos & 0xff);
	__u32 slot = c->vnf[pos]; /* pos < VNF_MAX_CHAIN: checked above, the verifier's bound */
	if (vnf_trace_on)
		vnf_trace_add(skb, VNF_TRACE_HOP, caller, 0, slot, skb->len);
	bpf_tail_call(skb, &vnf_progs, slot);
	/* bpf_tail_call only returns when the slot is empty (or the tail-call limit is hit). */
	return vnf_drop(skb, caller, VNF_R_DROP_TAIL_CALL);
}

/* Hands the packet to the next VNF of its chain. */
static __always_inline int vnf_next(struct __sk_buff *skb, __u32 caller)
{
	vnf_count(caller, VNF_R_PASS, skb->len);
	return vnf_run_at(skb, caller, md_pos(skb) + 1);
}

/* Hands the packet to the next VNF of its chain, counting `reason` as this VNF's verdict. */
static __always_inline int vnf_next_reason(struct __sk_buff *skb, __u32 caller, __u32 reason)
{
	vnf_count(caller, reason, skb->len);
	return vnf_run_at(skb, caller, md_pos(skb) + 1);
}

/* Hands the packet directly to another VNF (bridge <-> router), outside the chain. */
static __always_inline int vnf_handoff(struct __sk_buff *skb, __u32 caller, __u32 reason, __u32 slot)
{
	__u32 hops = md_hops(skb) + 1;

	if (hops > VNF_MAX_HOPS)
		return vnf_drop(skb, caller, VNF_R_DROP_LOOP);
	skb->cb[4] = (skb->cb[4] & 0xffff00ff) | (hops << 8);
	vnf_count(caller, reason, skb->len);
	if (vnf_trace_on)
		vnf_trace_add(skb, VNF_TRACE_HOP, caller, 0, slot, skb->len);
	bpf_tail_call(skb, &vnf_progs, slot);
	return vnf_drop(skb, caller, VNF_R_DROP_TAIL_CALL);
}

/* The forwarding decision is made: the packet goes into the container behind
 * `ifindex`. Runs that port's chain_out (its policies, ending in DELIVER). */
static __always_inline int vnf_forward_to_port(struct __sk_buff *skb, __u32 caller, __u32 reason, __u32 ifindex)
{
	struct vnf_port *p = bpf_map_lookup_elem(&vnf_ports, &ifindex);

	if (!p)
		return vnf_drop(skb, caller, VNF_R_DROP_NO_PORT);
	/* Networks meet only through a router: never deliver into a port of
	 * another network than the one the packet is on (a stale learned entry,
	 * a port that moved during an apply). */
	if (p->network != md_network(skb))
		return vnf_drop(skb, caller, VNF_R_DROP_CROSS_NETWORK);
	md_set_out(skb, ifindex);
	skb->cb[2] = p->chain_out;
	vnf_count(caller, reason, skb->len);
	return vnf_run_at(skb, caller, 0);
}

#endif
