/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The router's settings (vnf_router_cfg[0], written by the control plane from
 * the topology's settings.router): neighbour timers and the ICMP rate limit,
 * read into nanoseconds on the stack. Linux's defaults until the control
 * plane has written them (VNF_ROUTER_CFG_F_SET clear).
 */
#ifndef VNF_ROUTER_CFG_H
#define VNF_ROUTER_CFG_H

#include "vnf/common.h"
#include "abi/router.h"

#define NSEC_PER_MSEC 1000000ULL

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct vnf_router_cfg);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} vnf_router_cfg SEC(".maps");

struct router_cfg {
	__u64 reachable_ns;
	__u64 retrans_ns;
	__u64 failed_ns;
	__u64 icmp_rl_ns; /* 0: no rate limit */
	__u8 ucast_probes;
	__u8 mcast_probes;
};

/* The kernel's tick rate, from its configuration (libbpf reads
 * /proc/config.gz or /boot/config-*); 0 when that is not available. */
extern unsigned int CONFIG_HZ __kconfig __weak;

/* An array value is written in place by an update: a read racing with the
 * control plane may mix old and new settings, each of them valid. */
static __always_inline void router_cfg_load(struct router_cfg *c)
{
	__u32 k = 0;
	struct vnf_router_cfg *v = bpf_map_lookup_elem(&vnf_router_cfg, &k);

	if (v && (v->flags & VNF_ROUTER_CFG_F_SET)) {
		c->reachable_ns = v->reachable_ms * NSEC_PER_MSEC;
		c->retrans_ns = v->retrans_ms * NSEC_PER_MSEC;
		c->failed_ns = v->failed_ms * NSEC_PER_MSEC;
		c->icmp_rl_ns = v->icmp_ratelimit_ms * NSEC_PER_MSEC;
		c->ucast_probes = v->ucast_probes;
		c->mcast_probes = v->mcast_probes;
		return;
	}
	c->reachable_ns = VNF_NEIGH_DEF_REACHABLE_MS * NSEC_PER_MSEC;
	c->retrans_ns = VNF_NEIGH_DEF_RETRANS_MS * NSEC_PER_MSEC;
	c->failed_ns = VNF_NEIGH_DEF_FAILED_MS * NSEC_PER_MSEC;
	c->icmp_rl_ns = VNF_ICMP_DEF_RATELIMIT_MS * NSEC_PER_MSEC;
	c->ucast_probes = VNF_NEIGH_DEF_UCAST_PROBES;
	c->mcast_probes = VNF_NEIGH_DEF_MCAST_PROBES;
}

/*
 * The jiffies until which a neighbour confirmed now is REACHABLE: the
 * forwarding shortcut of vnf/router_neigh.h, which reads the tick counter
 * (bpf_jiffies64: one load, inlined by the verifier) instead of the clock (a
 * helper call). Rounded down to whole ticks and counted from the current
 * tick, so it never outlasts the reachable time. 0 (no shortcut) when HZ is
 * unknown.
 */
static __always_inline __u64 router_reachable_until(const struct router_cfg *c)
{
	__u64 hz = CONFIG_HZ;

	if (!hz)
		return 0;
	return bpf_jiffies64() + c->reachable_ns / NSEC_PER_MSEC * hz / 1000;
}

#endif
