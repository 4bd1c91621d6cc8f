// SPDX-License-Identifier: GPL-2.0
/*
 * Bench baseline: the core's entry programs built without the monitor hook
 * (vnf_mon_wanted() is constant 0, so every event site compiles away), to
 * measure what the hook costs on the drop path when nobody listens.
 */
#define VNF_MONITOR_OFF 1
#include "../../bpf/entry.bpf.c"
