/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* bridge VNF ABI: the forwarding database. See vnf_common.h for the rules. */
#ifndef VNF_ABI_BRIDGE_H
#define VNF_ABI_BRIDGE_H

#include "abi/vnf_common.h"

#define VNF_ID_BRIDGE 2
#define VNF_MAP_FDB "vnf_fdb"
#define VNF_MAP_FDB_STATIC "vnf_fdb_static"
#define VNF_MAP_LEARN "vnf_learn"
#define VNF_FDB_MAX 65536
#define VNF_FDB_STATIC_MAX (2 * VNF_PORTS_MAX) /* a port that changes network holds two keys during an apply */

/* Two tables with the same layout, looked up static first:
 * vnf_fdb_static: (network, MAC) -> port of every port whose MAC the control
 *   plane knows. A plain hash: traffic can never evict it.
 * vnf_fdb: what the bridge learned. LRU: under pressure the least recently
 *   used learned entry goes, never a static one. */
struct vnf_fdb_key {
	__u32 network;
	__u8 mac[6];
	__u8 _pad[2];
};
VNF_STATIC_ASSERT(sizeof(struct vnf_fdb_key) == 12, "vnf_fdb_key");

#define VNF_FDB_F_STATIC 0x1 /* from the control plane: never ages, never moved by learning */
#define VNF_FDB_F_REMOTE 0x2 /* an endpoint on another host: ifindex is the overlay device, the
			      * frame is handed to the overlay VNF (vnf_ovl_ep says where it goes) */
struct vnf_fdb_entry {
	__u32 ifindex;
	__u32 flags;
	__u64 updated_ns; /* bpf_ktime_get_ns() of the last learn/refresh */
};
VNF_STATIC_ASSERT(sizeof(struct vnf_fdb_entry) == 16, "vnf_fdb_entry");

/* vnf_learn: port ifindex -> how many new MACs it taught the bridge in the
 * current window (one FDB aging time). A port teaches at most
 * VNF_LEARN_PER_PORT new MACs per window: a container sending from random
 * source MACs cannot flush the learned table (its other entries stay). */
#define VNF_LEARN_PER_PORT 64
struct vnf_learn {
	__u64 window_ns; /* bpf_ktime_get_ns() when the window began */
	__u32 count;     /* new MACs learned in it */
	__u32 _pad;
};
VNF_STATIC_ASSERT(sizeof(struct vnf_learn) == 16, "vnf_learn");

#endif
