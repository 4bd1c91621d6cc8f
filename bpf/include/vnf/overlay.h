/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The overlay's per-network table, shared by the overlay VNF and the bridge
 * (which hands a flooded frame to the overlay only when the network has
 * remote hosts). Pinned by name: both objects share the same map.
 */
#ifndef VNF_OVERLAY_H
#define VNF_OVERLAY_H

#include "vnf/common.h"
#include "abi/overlay.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, VNF_NETWORKS_MAX);
	__type(key, __u32);
	__type(value, struct vnf_ovl_net);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} vnf_ovl_net SEC(".maps");

/* Remote hosts with a port on `network` (0 when it has none or is not stretched). */
static __always_inline __u32 ovl_remote_hosts(__u32 network)
{
	struct vnf_ovl_net *o = bpf_map_lookup_elem(&vnf_ovl_net, &network);

	return o ? o->flood_count : 0;
}

#endif
