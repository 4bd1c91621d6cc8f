/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The trace switch. vnf_trace_on is a load-time constant (.rodata, frozen):
 * in the live instance it is 0, the verifier sees every `if (vnf_trace_on)`
 * branch as dead and removes it, so the dataplane pays nothing. A trace
 * instance (vnf-ctl trace) sets it: stages are recorded into vnf_trace, and
 * transmissions that BPF_PROG_TEST_RUN would really perform (clone redirects)
 * are recorded instead of made. Everything else a trace instance writes goes
 * to private copies of the maps (src/trace/instance.ts), never to live state.
 */
#ifndef VNF_TRACE_H
#define VNF_TRACE_H

#include "vnf/common.h"
#include "abi/trace.h"

const volatile __u32 vnf_trace_on = 0;

/* Not pinned: each object of the live instance has its own (unused) one; the
 * trace instance shares one between its objects. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, VNF_TRACE_SLOTS);
	__type(key, __u32);
	__type(value, struct vnf_trace_rec);
} vnf_trace SEC(".maps");

/* Appends a record; `skb` may be NULL (no metadata then). A test run is one
 * packet on one CPU: no concurrent writer. */
static __always_inline void vnf_trace_add(struct __sk_buff *skb, __u32 kind, __u32 vnf, __u32 reason, __u32 arg, __u32 len)
{
	__u32 zero = 0;
	struct vnf_trace_rec *h = bpf_map_lookup_elem(&vnf_trace, &zero);

	if (!h)
		return;
	__u32 i = h->arg + 1;
	h->arg = i;
	if (i >= VNF_TRACE_SLOTS)
		return;
	struct vnf_trace_rec *r = bpf_map_lookup_elem(&vnf_trace, &i);
	if (!r)
		return;
	r->kind = kind;
	r->vnf = vnf;
	r->reason = reason;
	r->arg = arg;
	r->len = len;
	if (skb) {
		r->in = skb->cb[0];
		r->out = skb->cb[1];
		r->chain = skb->cb[2];
		r->network = skb->cb[3];
		r->pos = skb->cb[4] & 0xff;
	}
}

#endif
