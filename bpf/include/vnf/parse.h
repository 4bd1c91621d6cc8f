/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Bounds-checked header parsing. Every pull checks against data_end before
 * the caller may touch the bytes: that comparison is what lets the verifier
 * accept the access. Pointers are invalid after any helper that can change
 * the packet (adjust_room, change_tail, store_bytes, clone_redirect, ...):
 * re-parse after those.
 */
#ifndef VNF_PARSE_H
#define VNF_PARSE_H

#include "vnf/common.h"

struct vnf_cursor {
	void *pos;
	void *end;
};

static __always_inline void vnf_cursor_init(struct vnf_cursor *c, struct __sk_buff *skb)
{
	c->pos = (void *)(long)skb->data;
	c->end = (void *)(long)skb->data_end;
}

/* Returns a pointer to the next `len` bytes and advances, or NULL if the
 * packet is shorter. */
#define vnf_pull(c, len)                                                  \
	({                                                                \
		void *__p = (c)->pos;                                     \
		void *__r = NULL;                                         \
		if (__p + (len) <= (c)->end) {                            \
			(c)->pos = __p + (len);                           \
			__r = __p;                                        \
		}                                                         \
		__r;                                                      \
	})

struct vnf_arp_eth {
	__be16 ar_hrd;
	__be16 ar_pro;
	__u8 ar_hln;
	__u8 ar_pln;
	__be16 ar_op;
	__u8 ar_sha[ETH_ALEN];
	__be32 ar_sip;
	__u8 ar_tha[ETH_ALEN];
	__be32 ar_tip;
} __attribute__((packed));

#endif
