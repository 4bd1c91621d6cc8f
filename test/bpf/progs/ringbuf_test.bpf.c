// SPDX-License-Identifier: GPL-2.0
/*
 * Test object for the ring buffer consumer: each run of rb_tc writes one
 * record (a sequence number and the packet's length) into rb_events, or
 * counts it lost when the ring is full.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

struct rb_record {
	__u64 seq;
	__u32 len;
	__u32 _pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096 * 4);
} rb_events SEC(".maps");

/* 0: next sequence number, 1: records lost (ring full) */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} rb_state SEC(".maps");

SEC("tc")
int rb_tc(struct __sk_buff *skb)
{
	__u32 k = 0;
	__u64 *seq = bpf_map_lookup_elem(&rb_state, &k);

	if (!seq)
		return 0;
	struct rb_record r = { .seq = __sync_fetch_and_add(seq, 1), .len = skb->len };

	if (bpf_ringbuf_output(&rb_events, &r, sizeof(r), 0) < 0) {
		k = 1;
		__u64 *lost = bpf_map_lookup_elem(&rb_state, &k);

		if (lost)
			__sync_fetch_and_add(lost, 1);
	}
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
