/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Packet pointers read so that clang cannot reshape the load. The verifier
 * only accepts skb->data / skb->data_end as a load from the context pointer
 * plus a constant offset; when the same read is inlined in several places
 * (or sits across a helper call), clang may keep the offset in a register and
 * emit ctx + reg, rejected as "dereference of modified ctx ptr". The asm pins
 * the instruction to `rX = *(u32 *)(ctx + off)`.
 */
#ifndef VNF_ROUTER_PKT_H
#define VNF_ROUTER_PKT_H

#include "vnf/common.h"

static __always_inline void *pkt_data(struct __sk_buff *skb)
{
	void *p;

	asm volatile("%0 = *(u32 *)(%1 + %2)"
		     : "=r"(p)
		     : "r"(skb), "i"(__builtin_offsetof(struct __sk_buff, data)));
	return p;
}

static __always_inline void *pkt_end(struct __sk_buff *skb)
{
	void *p;

	asm volatile("%0 = *(u32 *)(%1 + %2)"
		     : "=r"(p)
		     : "r"(skb), "i"(__builtin_offsetof(struct __sk_buff, data_end)));
	return p;
}

#endif
