// SPDX-License-Identifier: GPL-2.0
/*
 * Test object for the binding tests: a few map types, globals set at load
 * time, a TC program that counts and rewrites packets and an XDP program.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "abi/vnf_common.h"
#include "binding_test.h"

#define ETH_P_IP 0x0800

/* Set by the test before load (const volatile: lands in .rodata). */
const volatile __s32 cfg_verdict = 0;  /* what the TC program returns */
const volatile __u32 cfg_mark = 0;     /* written to skb->mark when non-zero */

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, struct bt_key);
	__type(value, struct bt_value);
} bt_hash SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, __u64);
} bt_array SEC(".maps");

/* 0: TC packets, 1: XDP packets, 2: TC IPv4 packets */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, struct vnf_counter);
} bt_counters SEC(".maps");

/* LPM trie: batch reads take the generic path, whose cursor is a whole key. */
struct bt_lpm_key {
	__u32 prefixlen;
	__u32 id;
	__u32 addr;
};
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 256);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct bt_lpm_key);
	__type(value, __u32);
} bt_lpm SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} bt_pinned SEC(".maps");

static __always_inline void count(__u32 idx, __u64 bytes)
{
	struct vnf_counter *c = bpf_map_lookup_elem(&bt_counters, &idx);

	if (c) { /* per-CPU slot: no atomics needed */
		c->packets++;
		c->bytes += bytes;
	}
}

/* Counts the packet; swaps the Ethernet addresses of IPv4 packets whose
 * destination is in bt_hash (port 0, proto 0) and bumps that entry's hits. */
SEC("tc")
int bt_tc(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;

	count(0, skb->len);
	if (cfg_mark)
		skb->mark = cfg_mark;
	/* The verifier needs this bound before any header byte is read. */
	if ((void *)(eth + 1) > data_end)
		return cfg_verdict;
	if (eth->h_proto != bpf_htons(ETH_P_IP))
		return cfg_verdict;
	count(2, skb->len);

	struct iphdr *ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > data_end)
		return cfg_verdict;
	struct bt_key key = { .addr = ip->daddr };
	struct bt_value *v = bpf_map_lookup_elem(&bt_hash, &key);
	if (v) {
		__u8 tmp[6];
		__sync_fetch_and_add(&v->hits, 1);
		__builtin_memcpy(tmp, eth->h_dest, 6);
		__builtin_memcpy(eth->h_dest, eth->h_source, 6);
		__builtin_memcpy(eth->h_source, tmp, 6);
	}
	return cfg_verdict;
}

SEC("xdp")
int bt_xdp(struct xdp_md *ctx)
{
	count(1, ctx->data_end - ctx->data);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
