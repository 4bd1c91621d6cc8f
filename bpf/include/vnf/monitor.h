/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Dataplane events for `vnf-ctl monitor` (bpf/abi/monitor.h): drops, firewall
 * verdicts and new connections, written to the vnf_events ring buffer.
 *
 * Cost: every call site first asks vnf_mon_wanted(type): one lookup in a
 * one-entry array (the verifier inlines it: no helper call) and a compare
 * with 0. Only when a monitor's heartbeat is set does the packet go into
 * vnf_mon_emit, a subprogram of its own (its stack is not added to the
 * caller's frame): clock, heartbeat age, per-CPU token bucket, then the
 * record, assembled per CPU and copied into the ring buffer.
 */
#ifndef VNF_MONITOR_H
#define VNF_MONITOR_H

#include "vnf/md.h"
#include "abi/monitor.h"

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, VNF_MON_RINGBUF_SIZE);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} vnf_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct vnf_mon_cfg);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} vnf_mon_cfg SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct vnf_mon_state);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} vnf_mon_state SEC(".maps");

/* Where an event is assembled before bpf_ringbuf_output copies it out (per
 * CPU, not pinned: nothing in it outlives the call). Filled here rather than
 * reserved in the ring buffer, so that the record's type is in each object's
 * BTF (through this map's value) for the layout tests. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct vnf_mon_event);
} vnf_mon_buf SEC(".maps");

#define VNF_MON_NSEC 1000000000ULL

/* Whether some monitor wants events of `type` (a constant at every call site). */
static __always_inline int vnf_mon_wanted(__u32 type)
{
#ifdef VNF_MONITOR_OFF /* bench/progs/entry_nomon.bpf.c: the baseline without the hook */
	return 0;
#endif
	__u32 zero = 0;
	struct vnf_mon_cfg *c = bpf_map_lookup_elem(&vnf_mon_cfg, &zero);

	return c && c->heartbeat_ns[type] != 0;
}

/* The IPv4 summary of the packet (bpf_skb_load_bytes: works on paged frames
 * too, e.g. trafgen's). Leaves the fields 0 for anything else. */
static __always_inline void vnf_mon_l34(struct __sk_buff *skb, struct vnf_mon_event *e)
{
	__be16 h_proto;
	struct iphdr ip;

	if (bpf_skb_load_bytes(skb, 12, &h_proto, sizeof(h_proto)) < 0 || h_proto != bpf_htons(ETH_P_IP))
		return;
	if (bpf_skb_load_bytes(skb, ETH_HLEN, &ip, sizeof(ip)) < 0)
		return;
	e->proto = ip.protocol;
	e->saddr = ip.saddr;
	e->daddr = ip.daddr;
	e->flags |= VNF_MON_F_L3;
	if (ip.frag_off & bpf_htons(0x1fff)) /* a later fragment: no L4 header */
		return;
	__u32 l4 = ETH_HLEN + (ip.ihl & 0xf) * 4;
	__u16 ports[2];

	if (ip.protocol == IPPROTO_TCP_ || ip.protocol == IPPROTO_UDP_) {
		if (bpf_skb_load_bytes(skb, l4, ports, sizeof(ports)) < 0)
			return;
		e->sport = bpf_ntohs(ports[0]);
		e->dport = bpf_ntohs(ports[1]);
		e->flags |= VNF_MON_F_L4;
	} else if (ip.protocol == IPPROTO_ICMP_) {
		__u8 tc[2];

		if (bpf_skb_load_bytes(skb, l4, tc, sizeof(tc)) < 0)
			return;
		e->sport = tc[0];
		e->dport = tc[1];
		e->flags |= VNF_MON_F_L4;
	}
}

/*
 * The slow path, taken only while a monitor listens. `what` packs type (bits
 * 0-7), VNF id (8-15), action (16-23) and VNF_MON_F_* flags (24-31): a
 * subprogram takes at most 5 arguments. Returns 1 when the event was sent.
 */
static __attribute__((noinline)) int vnf_mon_emit(struct __sk_buff *skb, __u32 what, __u32 reason, __u32 ruleset,
						  __u32 rule)
{
	__u32 zero = 0;
	__u32 type = what & 0xff;
	struct vnf_mon_cfg *c = bpf_map_lookup_elem(&vnf_mon_cfg, &zero);
	struct vnf_mon_state *s = bpf_map_lookup_elem(&vnf_mon_state, &zero);
	struct vnf_mon_event *e = bpf_map_lookup_elem(&vnf_mon_buf, &zero);

	if (!c || !s || !e || type >= VNF_MON_T_MAX)
		return 0;
	__u64 hb = c->heartbeat_ns[type];
	__u64 now = bpf_ktime_get_ns();

	if (!hb)
		return 0;
	if ((__s64)(now - hb) > (__s64)(VNF_MON_TTL_MS * 1000000ULL)) {
		/* The monitor went away without clearing its heartbeat (killed):
		 * clear it, so the cost goes with it. A monitor that wrote a fresh
		 * one in between loses events until its next heartbeat (1 s). */
		c->heartbeat_ns[type] = 0;
		s->expired++;
		return 0;
	}

	/* Token bucket, per CPU (no atomics): `rate` tokens a second, at most `burst`. */
	__u64 rate = c->rate ? c->rate : VNF_MON_RATE_DEFAULT;
	__u64 burst = c->burst ? c->burst : rate;
	__u64 elapsed = now - s->refill_ns;

	if (elapsed >= VNF_MON_NSEC) {
		s->tokens = burst;
		s->refill_ns = now;
	} else {
		__u64 add = elapsed * rate / VNF_MON_NSEC; /* elapsed < 1e9, rate < 2^32: no overflow */

		if (add) {
			s->tokens += add;
			s->refill_ns += add * VNF_MON_NSEC / rate;
		}
	}
	if (s->tokens > burst) /* also when a monitor lowered the rate since the last refill */
		s->tokens = burst;
	if (!s->tokens) {
		s->lost_rate++;
		return 0;
	}
	s->tokens--;

	__builtin_memset(e, 0, sizeof(*e));
	e->ts_ns = now;
	e->type = type;
	e->vnf = (what >> 8) & 0xff;
	e->action = (what >> 16) & 0xff;
	e->flags = what >> 24;
	e->reason = reason;
	e->ifindex = skb->ifindex;
	if (!(e->flags & VNF_MON_F_NO_MD)) {
		e->in = md_in(skb);
		e->out = md_out(skb);
		e->network = md_network(skb);
	}
	e->ruleset = ruleset;
	e->rule = rule;
	e->len = skb->len;
	vnf_mon_l34(skb, e);
	/* -EAGAIN when the ring buffer is full: the monitor does not keep up. */
	if (bpf_ringbuf_output(&vnf_events, e, sizeof(*e), 0) < 0) {
		s->lost_full++;
		return 0;
	}
	s->emitted++;
	return 1;
}

#define VNF_MON_WHAT(type, vnf, action, flags) \
	((type) | ((__u32)(vnf) << 8) | ((__u32)(action) << 16) | ((__u32)(flags) << 24))

/* A drop, with the rule that caused it when one did (VNF_MON_F_RULE in flags). */
static __always_inline void vnf_mon_drop(struct __sk_buff *skb, __u32 vnf_id, __u32 reason, __u32 flags,
					 __u32 ruleset, __u32 rule)
{
	if (vnf_mon_wanted(VNF_MON_T_DROP))
		vnf_mon_emit(skb, VNF_MON_WHAT(VNF_MON_T_DROP, vnf_id, 0, flags), reason, ruleset, rule);
}

/* A firewall verdict on a new flow, by rule. */
static __always_inline void vnf_mon_verdict(struct __sk_buff *skb, __u32 vnf_id, __u32 action, __u32 reason,
					    __u32 ruleset, __u32 rule)
{
	if (vnf_mon_wanted(VNF_MON_T_VERDICT))
		vnf_mon_emit(skb, VNF_MON_WHAT(VNF_MON_T_VERDICT, vnf_id, action, VNF_MON_F_RULE), reason, ruleset,
			     rule);
}

/* A connection entry created (firewall conntrack, NAT mapping). */
static __always_inline void vnf_mon_new(struct __sk_buff *skb, __u32 vnf_id, __u32 reason, __u32 flags,
					__u32 ruleset, __u32 rule)
{
	if (vnf_mon_wanted(VNF_MON_T_NEW))
		vnf_mon_emit(skb, VNF_MON_WHAT(VNF_MON_T_NEW, vnf_id, 0, flags), reason, ruleset, rule);
}

#endif
