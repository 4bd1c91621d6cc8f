// SPDX-License-Identifier: GPL-2.0
/*
 * The bench's null forwarder: the floor any vnf path pays. On the two-pair
 * layout vnf uses (container A -- host veth a, host veth b -- container B) it
 * runs at the tcx ingress of a and b and hands every frame to the other
 * pair's container with bpf_redirect_peer(), as vnf's DELIVER stage does:
 * one hash lookup (ingress ifindex -> target ifindex), the packet type fixed
 * from the destination MAC (see bpf/include/vnf/deliver.h: before Linux 6.15
 * redirect_peer kept the PACKET_OTHERHOST the host veth set), the redirect.
 * No parsing, no policy: what is left is the cost of the hook and the hop.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#define TC_ACT_SHOT_ 2
#define PACKET_HOST_ 0
#define PACKET_BROADCAST_ 1
#define PACKET_MULTICAST_ 2

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);   /* ingress ifindex (host-side veth) */
	__type(value, __u32); /* host-side veth whose peer receives the frame */
} fwd_peer SEC(".maps");

SEC("tc")
int fwd_redirect_peer(struct __sk_buff *skb)
{
	__u32 key = skb->ifindex;
	__u32 *out = bpf_map_lookup_elem(&fwd_peer, &key);
	__u8 dst[6];
	__u32 want = PACKET_HOST_;

	if (!out)
		return TC_ACT_SHOT_;
	if (bpf_skb_load_bytes(skb, 0, dst, sizeof(dst)) < 0)
		return TC_ACT_SHOT_;
	if (dst[0] & 1)
		want = (dst[0] & dst[1] & dst[2] & dst[3] & dst[4] & dst[5]) == 0xff ? PACKET_BROADCAST_ : PACKET_MULTICAST_;
	if (skb->pkt_type != want && bpf_skb_change_type(skb, want) < 0)
		return TC_ACT_SHOT_;
	/* TC_ACT_REDIRECT on success; TC_ACT_SHOT for invalid flags. */
	return bpf_redirect_peer(*out, 0);
}

char LICENSE[] SEC("license") = "GPL";
