/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Maps shared by all vnf objects of a topology. Every object declares them
 * identically and pins them by name, so libbpf creates them on the first load
 * and reuses the pins afterwards (and refuses a pin whose type, key, value or
 * size differ). The control plane also checks vnf_meta's ABI version.
 */
#ifndef VNF_MAPS_H
#define VNF_MAPS_H

#include "vnf/common.h"

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, VNF_MAX_PROGS);
	__type(key, __u32);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} vnf_progs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct vnf_meta);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} vnf_meta SEC(".maps");

/* Read and written by the control plane only; declared here so that every
 * object pins the same map. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, VNF_IDS_MAX);
	__type(key, struct vnf_id_key);
	__type(value, struct vnf_id);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} vnf_ids SEC(".maps");

/* Hash maps for configuration: an update replaces the whole value at once
 * (RCU), so a packet never sees half of an old and half of a new entry. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, VNF_PORTS_MAX);
	__type(key, __u32);
	__type(value, struct vnf_port);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} vnf_ports SEC(".maps");

/* An LPM trie must be created with BPF_F_NO_PREALLOC. */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, VNF_PORT_SRC_MAX);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct vnf_port_src_key);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} vnf_port_src SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, VNF_NETWORKS_MAX);
	__type(key, __u32);
	__type(value, struct vnf_network);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} vnf_networks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, VNF_CHAINS_MAX);
	__type(key, __u32);
	__type(value, struct vnf_chain);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} vnf_chains SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, VNF_FLOOD_ENTRIES_MAX);
	__type(key, struct vnf_flood_key);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} vnf_flood SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, VNF_STATS_ENTRIES);
	__type(key, __u32);
	__type(value, struct vnf_counter);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} vnf_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, VNF_PORT_STATS_MAX);
	__type(key, struct vnf_port_stats_key);
	__type(value, struct vnf_counter);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} vnf_port_stats SEC(".maps");

#endif
