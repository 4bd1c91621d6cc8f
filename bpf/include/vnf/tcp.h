/* SPDX-License-Identifier: GPL-2.0 */
/* The TCP header as the programs read and write it. Kernel-side only. */
#ifndef VNF_TCP_H
#define VNF_TCP_H

#include "vnf/common.h"

#define VNF_TCPF_FIN 0x01
#define VNF_TCPF_SYN 0x02
#define VNF_TCPF_RST 0x04
#define VNF_TCPF_ACK 0x10

/* The 20 bytes of a TCP header without bitfields. */
struct vnf_tcph {
	__be16 source;
	__be16 dest;
	__be32 seq;
	__be32 ack_seq;
	__u8 doff_res; /* data offset in the high nibble */
	__u8 flags;
	__be16 window;
	__be16 check;
	__be16 urg_ptr;
};
_Static_assert(sizeof(struct vnf_tcph) == 20, "vnf_tcph is the fixed TCP header");

#endif
