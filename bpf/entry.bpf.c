// SPDX-License-Identifier: GPL-2.0
/*
 * vnf core: the entry programs attached to every container's host-side veth,
 * and the DELIVER stage that ends every chain_out.
 *
 *   container --> host veth tcx ingress: vnf_entry_in  -> chain_in  (..., bridge)
 *   bridge/router decide the out port     -> chain_out of that port (..., DELIVER)
 *   DELIVER: bpf_redirect_peer() straight into the destination container
 *   flooded clones reach the out port's tcx egress: vnf_entry_out -> chain_out -> DELIVER = pass
 *
 * Fail closed: a packet on an interface without a vnf_ports entry, with a
 * missing chain or an empty program slot is dropped and counted, never passed.
 */
#include "vnf/chain.h"

SEC("tc")
int vnf_entry_in(struct __sk_buff *skb)
{
	__u32 ifindex = skb->ifindex;
	struct vnf_port *p = bpf_map_lookup_elem(&vnf_ports, &ifindex);

	if (!p)
		return vnf_drop(skb, VNF_ID_CORE, VNF_R_DROP_NO_PORT);
	vnf_port_count(ifindex, VNF_DIR_RX, skb->len);
	md_init(skb, ifindex, p->chain_in, p->network, 0);
	vnf_count(VNF_ID_CORE, VNF_R_PASS, skb->len);
	return vnf_run_at(skb, VNF_ID_CORE, 0);
}

SEC("tc")
int vnf_entry_out(struct __sk_buff *skb)
{
	__u32 ifindex = skb->ifindex;
	struct vnf_port *p = bpf_map_lookup_elem(&vnf_ports, &ifindex);

	if (!p)
		return vnf_drop(skb, VNF_ID_CORE, VNF_R_DROP_NO_PORT);
	md_init(skb, 0, p->chain_out, p->network, VNF_MD_F_EGRESS_HOOK);
	md_set_out(skb, ifindex);
	vnf_count(VNF_ID_CORE, VNF_R_PASS, skb->len);
	return vnf_run_at(skb, VNF_ID_CORE, 0);
}

/* Slot VNF_ID_DELIVER: the last stage of every chain_out. */
SEC("tc")
int vnf_deliver(struct __sk_buff *skb)
{
	__u32 out = md_out(skb);

	if (!out)
		return vnf_drop(skb, VNF_ID_CORE, VNF_R_DROP_NO_PORT);
	vnf_port_count(out, VNF_DIR_TX, skb->len);
	if (md_flags(skb) & VNF_MD_F_EGRESS_HOOK)
		return vnf_verdict(skb, VNF_ID_CORE, VNF_R_DELIVER, TC_ACT_OK);
	/* Into the peer (the container side) without a trip through the host's
	 * backlog queue; returns TC_ACT_REDIRECT on success, TC_ACT_SHOT if the
	 * flags are invalid. Delivery failures past this point are the kernel's. */
	int ret = bpf_redirect_peer(out, 0);
	if (ret != TC_ACT_REDIRECT)
		return vnf_drop(skb, VNF_ID_CORE, VNF_R_DROP_REDIRECT);
	return vnf_verdict(skb, VNF_ID_CORE, VNF_R_DELIVER, ret);
}

char LICENSE[] SEC("license") = "GPL";
