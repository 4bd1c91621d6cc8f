// SPDX-License-Identifier: GPL-2.0
/*
 * The null VNF: passes every packet untouched. It is the baseline that
 * benchmarks compare each VNF's per-packet cost against, and the program the
 * environment probe uses to test for tcx without touching an interface.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

SEC("tc")
int vnf_null(struct __sk_buff *skb)
{
	return 0; /* TC_ACT_OK (tcx: TCX_PASS) */
}

char LICENSE[] SEC("license") = "GPL";
