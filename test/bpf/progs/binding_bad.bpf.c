// SPDX-License-Identifier: GPL-2.0
/* Deliberately rejected by the verifier: reads packet data without a bounds
 * check. The binding test asserts the error carries the verifier log. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

SEC("tc")
int bad_unbounded(struct __sk_buff *skb)
{
	unsigned char *data = (void *)(long)skb->data;

	return data[20]; /* no check against data_end */
}

char LICENSE[] SEC("license") = "GPL";
