/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * vnf-ctl trace: what a trace instance of the programs (loaded with the
 * const volatile vnf_trace_on set) records about one packet run with
 * BPF_PROG_TEST_RUN. The live instance compiles every recording out.
 *
 * vnf_trace is an array, never pinned: entry 0 is the header (its `arg`
 * counts the records written, lost ones included), entries 1.. the records in
 * the order the stages ran. The control plane zeroes it before each run.
 */
#ifndef VNF_ABI_TRACE_H
#define VNF_ABI_TRACE_H

#include "abi/vnf_common.h"

#define VNF_MAP_TRACE "vnf_trace"
#define VNF_TRACE_SLOTS 128 /* the header and 127 records */

/* Record kinds */
#define VNF_TRACE_VERDICT 1 /* a VNF counted `reason` (its verdict, or an event on the way) */
#define VNF_TRACE_HOP 2     /* a tail call into slot `arg` (position `pos` of chain `chain`) */
#define VNF_TRACE_FLOOD 3   /* the bridge would send a clone to port `arg` (not sent in a trace) */
#define VNF_TRACE_PROBE 4   /* the router would send an ARP probe out of port `arg` (not sent) */

struct vnf_trace_rec {
	__u32 kind;    /* VNF_TRACE_*; 0 in the header */
	__u32 vnf;     /* VNF id (counters' id) */
	__u32 reason;  /* VERDICT: VNF_R_* */
	__u32 arg;     /* HOP: slot; FLOOD, PROBE: port ifindex; header: records written */
	__u32 in;      /* packet metadata at the time (HOP, FLOOD, PROBE): ingress port */
	__u32 out;     /* egress port, once decided */
	__u32 chain;   /* chain id being run */
	__u32 network; /* network id the packet is on */
	__u32 pos;     /* HOP: position in the chain */
	__u32 len;     /* packet length */
};
VNF_STATIC_ASSERT(sizeof(struct vnf_trace_rec) == 40, "vnf_trace_rec");

#endif
