/* SPDX-License-Identifier: GPL-2.0 */
/* Internet checksum helpers (RFC 1071, incremental updates per RFC 1624). */
#ifndef VNF_CSUM_H
#define VNF_CSUM_H

#include "vnf/common.h"

static __always_inline __u16 csum_fold32(__u32 sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)~sum;
}

/* Checksum of a 20-byte IPv4 header with no options (check field included as is). */
static __always_inline __u16 csum_ipv4_hdr(const struct iphdr *ip)
{
	const __u16 *w = (const __u16 *)ip;
	__u32 sum = 0;

#pragma unroll
	for (int i = 0; i < 10; i++)
		sum += w[i];
	return csum_fold32(sum);
}

#endif
