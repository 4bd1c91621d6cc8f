// SPDX-License-Identifier: GPL-2.0
/*
 * Test object: what a sender really puts in the skb's linear part. Attached
 * to a veth's tc egress, it counts the frames of exactly `probe_len` bytes
 * and, of those, the ones whose linear part ends before the IPv4 header does
 * (data_end - data < Ethernet + 20): headers a program cannot read by direct
 * packet access without pulling them first. Always passes the frame.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

const volatile __u32 probe_len = 64;

/* [0] frames of probe_len bytes, [1] of those with paged IPv4 headers */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} lp_counts SEC(".maps");

SEC("tc")
int linear_probe(struct __sk_buff *skb)
{
	__u32 k = 0;
	__u64 *n;

	if (skb->len != probe_len)
		return 0; /* TC_ACT_OK */
	n = bpf_map_lookup_elem(&lp_counts, &k);
	if (n)
		__sync_fetch_and_add(n, 1);
	if (skb->data_end - skb->data < 14 + 20) {
		k = 1;
		n = bpf_map_lookup_elem(&lp_counts, &k);
		if (n)
			__sync_fetch_and_add(n, 1);
	}
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
