/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * vnf ABI shared by the kernel programs and the control plane: fixed-width
 * types, explicit padding, sizes asserted. The TypeScript codecs mirror these
 * structs and a test compares them with the BTF of the compiled objects.
 * Never reorder or renumber; add fields at the end and bump VNF_ABI_VERSION.
 */
#ifndef VNF_ABI_COMMON_H
#define VNF_ABI_COMMON_H

#ifdef __bpf__
/* vmlinux.h provides __u8.. __u64 */
#else
#include <linux/types.h>
#endif

#define VNF_ABI_VERSION 1

/* Packet/byte counter, kept per CPU in the kernel and summed by the CLI. */
struct vnf_counter {
	__u64 packets;
	__u64 bytes;
};

#define VNF_STATIC_ASSERT(cond, msg) _Static_assert(cond, msg)
VNF_STATIC_ASSERT(sizeof(struct vnf_counter) == 16, "vnf_counter layout");

#endif /* VNF_ABI_COMMON_H */
