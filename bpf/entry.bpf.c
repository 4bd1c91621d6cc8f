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
#include "vnf/deliver.h"
#include "vnf/identity.h"

SEC("tc")
int vnf_entry_in(struct __sk_buff *skb)
{
	__u32 ifindex = skb->ifindex;
	struct vnf_port *p = bpf_map_lookup_elem(&vnf_ports, &ifindex);

	if (!p)
		return vnf_drop_early(skb, VNF_ID_CORE, VNF_R_DROP_NO_PORT);
	/* Copied before any helper call: an update of the port may reuse the value's memory. */
	__u32 chain = p->chain_in;
	__u32 network = p->network;
	__u32 flags = p->flags;
	struct vnf_port_identity id = { .ifindex = ifindex, .ip = p->ip }; /* network order, as every address in the maps */

	__builtin_memcpy(id.mac, p->mac, ETH_ALEN);
	id.mac_known = !mac_is_zero(id.mac);
	/* Set before the checks below, so that their drops name the port and network. */
	md_init(skb, ifindex, chain, network, 0);
	vnf_port_count(ifindex, VNF_DIR_RX, skb->len);
	/* The receive path moved a VLAN tag into skb->vlan_tci: the frame would
	 * otherwise be judged as untagged IPv4 and delivered still tagged. */
	if (skb->vlan_present)
		return vnf_drop(skb, VNF_ID_CORE, VNF_R_DROP_VLAN);
	if (flags & VNF_PORT_F_SPOOFCHK) {
		__u32 why = identity_check(skb, &id);

		if (why)
			return vnf_drop(skb, VNF_ID_CORE, why);
	}
	vnf_count(VNF_ID_CORE, VNF_R_PASS, skb->len);
	return vnf_run_at(skb, VNF_ID_CORE, 0);
}

/* Flooded copies reach a port here (its tcx egress): broadcast and multicast
 * go on; a unicast copy for a MAC that is not the port's container is dropped
 * before that port's policies see it (a flood of unknown unicast would
 * otherwise create connection state in ports it was never addressed to). */
SEC("tc")
int vnf_entry_out(struct __sk_buff *skb)
{
	__u32 ifindex = skb->ifindex;
	struct vnf_port *p = bpf_map_lookup_elem(&vnf_ports, &ifindex);

	if (!p)
		return vnf_drop_early(skb, VNF_ID_CORE, VNF_R_DROP_NO_PORT);
	__u32 chain = p->chain_out;
	__u32 network = p->network;
	__u8 mac[ETH_ALEN];
	__u8 dst[ETH_ALEN];

	__builtin_memcpy(mac, p->mac, ETH_ALEN);
	/* Set before the checks below, so that their drops name the port and network. */
	md_init(skb, 0, chain, network, VNF_MD_F_EGRESS_HOOK);
	md_set_out(skb, ifindex);
	if (bpf_skb_load_bytes(skb, 0, dst, sizeof(dst)) < 0)
		return vnf_drop(skb, VNF_ID_CORE, VNF_R_DROP_MALFORMED);
	if (!mac_is_multicast(dst) && !mac_is_zero(mac) && !mac_eq(dst, mac))
		return vnf_drop(skb, VNF_ID_CORE, VNF_R_DROP_NOT_FOR_PORT);
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
	if (deliver_pkt_type(skb) < 0)
		return vnf_drop(skb, VNF_ID_CORE, VNF_R_DROP_REDIRECT);
	/* Into the peer (the container side) without a trip through the host's
	 * backlog queue; returns TC_ACT_REDIRECT on success, TC_ACT_SHOT if the
	 * flags are invalid. Delivery failures past this point are the kernel's. */
	int ret = bpf_redirect_peer(out, 0);
	if (ret != TC_ACT_REDIRECT)
		return vnf_drop(skb, VNF_ID_CORE, VNF_R_DROP_REDIRECT);
	return vnf_verdict(skb, VNF_ID_CORE, VNF_R_DELIVER, ret);
}

char LICENSE[] SEC("license") = "GPL";
