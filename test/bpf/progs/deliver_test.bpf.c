// SPDX-License-Identifier: GPL-2.0
/* The packet type DELIVER sets before bpf_redirect_peer(), observable in a test run (the
 * output context of BPF_PROG_TEST_RUN does not carry pkt_type, the return value does). */
#include "vnf/deliver.h"

SEC("tc")
int pkt_type_as_received(struct __sk_buff *skb)
{
	return skb_pkt_type(skb);
}

SEC("tc")
int pkt_type_for_delivery(struct __sk_buff *skb)
{
	if (deliver_pkt_type(skb) < 0)
		return 99;
	return skb_pkt_type(skb);
}

char LICENSE[] SEC("license") = "GPL";
