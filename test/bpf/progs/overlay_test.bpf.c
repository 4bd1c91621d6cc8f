// SPDX-License-Identifier: GPL-2.0
/*
 * Test helpers for the overlay VNF (test/bpf/overlay.test.ts):
 *   ovl_test_rx    a frame "received" on the VXLAN device: sets the tunnel key
 *                  a decapsulating device would (outer source, VNI) unless the
 *                  test says none, then runs what vnf_entry_in runs (the
 *                  device's chain_in), sharing the dataplane's pinned maps
 *   ovl_test_seen  on the VXLAN device's tcx egress: records the VTEP and VNI
 *                  of every frame the overlay sends, then drops it, so nothing
 *                  is encapsulated or leaves the machine
 * A TX tunnel key read back with bpf_skb_get_tunnel_key() has the remote VTEP
 * in local_ipv4 (the key's u.ipv4.dst) and what an RX key calls the sender in
 * remote_ipv4 (u.ipv4.src).
 */
#include "vnf/chain.h"

struct ovl_test_key {
	__u32 outer_src; /* host order; 0 = no tunnel key */
	__u32 vni;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ovl_test_key);
} ovl_test_key SEC(".maps");

struct ovl_seen_key {
	__u32 vtep; /* host order */
	__u32 vni;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, struct ovl_seen_key);
	__type(value, __u64);
} ovl_seen SEC(".maps");

SEC("tc")
int ovl_test_rx(struct __sk_buff *skb)
{
	__u32 zero = 0;
	struct ovl_test_key *t = bpf_map_lookup_elem(&ovl_test_key, &zero);

	if (t && t->outer_src) {
		struct bpf_tunnel_key key = {};

		key.local_ipv4 = t->outer_src; /* read back as remote_ipv4 */
		key.remote_ipv4 = 0x0a0000fe;
		key.tunnel_id = t->vni;
		key.tunnel_ttl = 64;
		if (bpf_skb_set_tunnel_key(skb, &key, sizeof(key), 0) < 0)
			return 99;
	}
	__u32 ifindex = skb->ifindex;
	struct vnf_port *p = bpf_map_lookup_elem(&vnf_ports, &ifindex);

	if (!p)
		return 98;
	md_init(skb, ifindex, p->chain_in, p->network, 0);
	return vnf_run_at(skb, VNF_ID_CORE, 0);
}

SEC("tc")
int ovl_test_seen(struct __sk_buff *skb)
{
	struct bpf_tunnel_key key = {};
	struct ovl_seen_key k = {};

	if (bpf_skb_get_tunnel_key(skb, &key, sizeof(key), 0) == 0) {
		k.vtep = key.local_ipv4;
		k.vni = key.tunnel_id;
	}
	__u64 *n = bpf_map_lookup_elem(&ovl_seen, &k);
	if (n) {
		__sync_fetch_and_add(n, 1);
	} else {
		__u64 one = 1;
		bpf_map_update_elem(&ovl_seen, &k, &one, BPF_NOEXIST);
	}
	return TC_ACT_SHOT;
}

char LICENSE[] SEC("license") = "GPL";
