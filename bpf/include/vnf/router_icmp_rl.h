/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The rate limit on the router's ICMP errors, as Linux's icmp_ratelimit
 * (icmpv4_xrlim_allow -> inet_peer_xrlim_allow): per destination host, a
 * token bucket filling at one token per rate limit, holding at most
 * VNF_ICMP_BURST; an error takes a token. A host seen for the first time
 * starts with a full bucket (Linux: rate_last 60 s in the past). Linux's
 * icmp_ratemask limits destination unreachable, source quench, time exceeded
 * and parameter problem: every error the router sends; echo replies are not
 * limited. (Linux's second, host-wide limit, icmp_msgs_per_sec, is not
 * modelled.)
 */
#ifndef VNF_ROUTER_ICMP_RL_H
#define VNF_ROUTER_ICMP_RL_H

#include "vnf/common.h"
#include "abi/router.h"

/* Key: the network the host is on and its address (struct vnf_neigh_key). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, VNF_ICMP_RL_MAX);
	__type(key, struct vnf_neigh_key);
	__type(value, struct vnf_icmp_rl);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} vnf_icmp_rl SEC(".maps");

/* Whether an ICMP error to `dst` on `network` may go now; takes its token. */
static __always_inline int icmp_rl_allow(__u32 network, __be32 dst, __u64 now, __u64 rate_ns)
{
	struct vnf_neigh_key k = { .network = network, .ip = dst };
	__u64 max = VNF_ICMP_BURST * rate_ns;

	if (!rate_ns)
		return 1;
	struct vnf_icmp_rl *e = bpf_map_lookup_elem(&vnf_icmp_rl, &k);

	if (!e) {
		struct vnf_icmp_rl v = { .last_ns = now, .tokens_ns = max - rate_ns };

		/* -EEXIST when another CPU created it meanwhile: this error goes anyway. */
		bpf_map_update_elem(&vnf_icmp_rl, &k, &v, BPF_NOEXIST);
		return 1;
	}
	__u64 last = e->last_ns;
	__u64 tokens = e->tokens_ns;

	if ((__s64)(now - last) > 0)
		tokens += now - last;
	if (tokens > max)
		tokens = max;
	int ok = tokens >= rate_ns;

	if (ok)
		tokens -= rate_ns;
	/* Two 8-byte stores, no lock: CPUs racing here may let an extra error
	 * through, as Linux's own lockless update may. */
	e->last_ns = now;
	e->tokens_ns = tokens;
	return ok;
}

#endif
