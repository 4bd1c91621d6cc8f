/* SPDX-License-Identifier: GPL-2.0 */
/* Kernel-side basics shared by every vnf program. */
#ifndef VNF_COMMON_H
#define VNF_COMMON_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "abi/vnf_common.h"

/* TC verdicts (also valid tcx return codes: TCX_PASS=0, TCX_DROP=2, TCX_REDIRECT=7).
 * vmlinux.h carries no macros, so they are spelled out here. */
#define TC_ACT_OK 0
#define TC_ACT_SHOT 2
#define TC_ACT_REDIRECT 7

#define ETH_ALEN 6
#define ETH_HLEN 14
#define ETH_P_IP 0x0800
#define ETH_P_ARP 0x0806
#define ETH_P_IPV6 0x86DD
#define ARPOP_REQUEST 1
#define ARPOP_REPLY 2
#define IPPROTO_ICMP_ 1
#define IPPROTO_TCP_ 6
#define IPPROTO_UDP_ 17
#define ICMP_ECHOREPLY_ 0
#define ICMP_DEST_UNREACH_ 3
#define ICMP_ECHO_ 8
#define ICMP_TIME_EXCEEDED_ 11
#define ICMP_NET_UNREACH_ 0
#define ICMP_HOST_UNREACH_ 1
#define ICMP_EXC_TTL_ 0
#define BPF_F_INGRESS_ 1 /* bpf_redirect/clone_redirect flag: to the device's ingress */

#ifndef likely
#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)
#endif

static __always_inline int mac_is_zero(const __u8 *m)
{
	return (m[0] | m[1] | m[2] | m[3] | m[4] | m[5]) == 0;
}

static __always_inline int mac_is_multicast(const __u8 *m)
{
	return m[0] & 1; /* includes broadcast */
}

static __always_inline int mac_eq(const __u8 *a, const __u8 *b)
{
	return ((a[0] ^ b[0]) | (a[1] ^ b[1]) | (a[2] ^ b[2]) | (a[3] ^ b[3]) | (a[4] ^ b[4]) |
		(a[5] ^ b[5])) == 0;
}

#endif
