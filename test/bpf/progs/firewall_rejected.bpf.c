// SPDX-License-Identifier: GPL-2.0
/* A stand-in for build/bpf/firewall.bpf.o that the verifier rejects: it has
 * the program name the firewall module expects (vnf_firewall), so an apply
 * that loads it gets as far as the kernel's verifier and fails there. Used by
 * the integration test of a failed apply (test/integration/failed-apply). */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

SEC("tc")
int vnf_firewall(struct __sk_buff *skb)
{
	unsigned char *data = (void *)(long)skb->data;

	return data[20]; /* no check against data_end: rejected */
}

char LICENSE[] SEC("license") = "GPL";
