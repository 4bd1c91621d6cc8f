// SPDX-License-Identifier: GPL-2.0
/*
 * overlay VNF (slot VNF_ID_OVERLAY): networks stretched across hosts over one
 * VXLAN device per host in external (collect_md) mode. The device is a port
 * of no network (VNF_PORT_F_OVERLAY) whose chain_in is [overlay, bridge].
 *
 *   tx      the bridge found a REMOTE FDB entry (md.out = the device): the
 *           endpoint's host (vnf_ovl_ep) becomes the tunnel key (remote VTEP,
 *           the network's VNI) and the frame is redirected to the device
 *   flood   the bridge flooded locally and the network has remote hosts
 *           (VNF_MD_F_OVL_FLOOD): a clone per remote host with a port on the
 *           network (head-end replication, vnf_ovl_flood, bpf_loop)
 *   rx      a frame on the device (md.in = the device): the tunnel key must
 *           name a live host (vnf_ovl_hosts) and a known VNI; the inner
 *           source is the network's router (the anycast gateway: routed on
 *           the sending host) or an endpoint of that very host, sending as
 *           itself (IPv4 source, ARP sender) unless it forwards. Then on to
 *           the bridge with md.network set and VNF_MD_F_FROM_OVERLAY.
 *
 * bpf_skb_set_tunnel_key() attaches per-CPU tunnel metadata to the skb
 * (0 or -errno); the VXLAN device encapsulates with it when the frame reaches
 * its xmit. bpf_skb_get_tunnel_key() fails (-EINVAL) on a frame that did not
 * come out of a tunnel. Every path ends in exactly one counted verdict.
 */
#include "vnf/chain.h"
#include "vnf/parse.h"
#include "vnf/overlay.h"

#define O VNF_ID_OVERLAY

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct vnf_ovl_cfg);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} vnf_ovl_cfg SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, VNF_NETWORKS_MAX);
	__type(key, __u32);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} vnf_ovl_vni SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, VNF_OVL_FLOOD_MAX);
	__type(key, struct vnf_flood_key);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} vnf_ovl_flood SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, VNF_OVL_HOSTS_MAX);
	__type(key, __u32);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} vnf_ovl_hosts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, VNF_OVL_EP_MAX);
	__type(key, struct vnf_ovl_ep_key);
	__type(value, struct vnf_ovl_ep);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} vnf_ovl_ep SEC(".maps");

#define TUNNEL_TTL 64

/* The tunnel key of a frame to host `vtep` (network order) on `vni`. */
static __always_inline long ovl_set_key(struct __sk_buff *skb, __u32 vtep, __u32 vni, __u32 local)
{
	struct bpf_tunnel_key key = {};

	key.remote_ipv4 = bpf_ntohl(vtep);
	key.local_ipv4 = bpf_ntohl(local); /* 0: the route to the VTEP picks the source */
	key.tunnel_id = vni;
	key.tunnel_ttl = TUNNEL_TTL;
	return bpf_skb_set_tunnel_key(skb, &key, sizeof(key), 0);
}

/* A frame the device cannot carry whole: larger than its MTU and not GSO
 * (a GSO frame is segmented to the MTU the container stack was given). */
static __always_inline int ovl_too_big(struct __sk_buff *skb, __u32 mtu)
{
	return mtu && skb->gso_size == 0 && skb->len > mtu + ETH_HLEN;
}

static __always_inline int ovl_tx(struct __sk_buff *skb, const struct vnf_ovl_cfg *cfg)
{
	struct ethhdr eth;
	struct vnf_ovl_ep_key k = { .network = md_network(skb) };

	if (bpf_skb_load_bytes(skb, 0, &eth, sizeof(eth)) < 0)
		return vnf_drop(skb, O, VNF_R_DROP_MALFORMED);
	__builtin_memcpy(k.mac, eth.h_dest, ETH_ALEN);
	struct vnf_ovl_ep *e = bpf_map_lookup_elem(&vnf_ovl_ep, &k);
	if (!e)
		return vnf_drop(skb, O, VNF_R_DROP_OVL_NO_ENDPOINT);
	__u32 vtep = e->vtep;
	__u32 vni = e->vni;

	if (ovl_too_big(skb, cfg->mtu))
		return vnf_drop(skb, O, VNF_R_DROP_OVL_MTU);
	if (ovl_set_key(skb, vtep, vni, cfg->local) < 0)
		return vnf_drop(skb, O, VNF_R_DROP_REDIRECT);
	/* TC_ACT_REDIRECT, or TC_ACT_SHOT for invalid flags. A test run does
	 * not perform the redirect: nothing is sent from a trace. */
	long ret = bpf_redirect(cfg->ifindex, 0);
	if (ret != TC_ACT_REDIRECT)
		return vnf_drop(skb, O, VNF_R_DROP_REDIRECT);
	return vnf_verdict(skb, O, VNF_R_OVL_TX, ret);
}

struct ovl_flood_ctx {
	struct __sk_buff *skb;
	struct vnf_flood_key k;
	__u32 vni;
	__u32 ifindex;
	__u32 local;
};

/* One remote host (bpf_loop callback). bpf_clone_redirect() sends a clone
 * through the device's xmit inside the call (the VXLAN device has no queue):
 * it encapsulates with the tunnel key set just before, so the next host's
 * key never reaches this host's clone. 0 sent, < 0 the helper failed, > 0
 * NET_XMIT_* (the device dropped it: its own counters say why). */
static long ovl_flood_one(__u32 i, void *data)
{
	struct ovl_flood_ctx *c = data;

	c->k.index = i;
	__u32 *v = bpf_map_lookup_elem(&vnf_ovl_flood, &c->k);
	if (!v)
		return 0; /* a hole: the control plane writes a list whole before the flip */
	__u32 vtep = *v;

	if (vnf_trace_on) {
		vnf_trace_add(c->skb, VNF_TRACE_FLOOD, O, 0, c->ifindex, c->skb->len);
		return 0;
	}
	if (ovl_set_key(c->skb, vtep, c->vni, c->local) < 0 || bpf_clone_redirect(c->skb, c->ifindex, 0) < 0)
		vnf_count(O, VNF_R_DROP_REDIRECT, c->skb->len);
	return 0;
}

static __always_inline int ovl_flood(struct __sk_buff *skb, const struct vnf_ovl_cfg *cfg)
{
	__u32 network = md_network(skb);
	struct vnf_ovl_net *n = bpf_map_lookup_elem(&vnf_ovl_net, &network);

	if (!n)
		return vnf_drop(skb, O, VNF_R_DROP_NO_NETWORK);
	struct ovl_flood_ctx c = {
		.skb = skb, .k = { .network = network, .version = n->flood_version },
		.vni = n->vni, .ifindex = cfg->ifindex, .local = cfg->local,
	};
	__u32 count = n->flood_count;

	if (ovl_too_big(skb, cfg->mtu))
		return vnf_drop(skb, O, VNF_R_DROP_OVL_MTU);
	if (count > VNF_OVL_MAX_FLOOD)
		count = VNF_OVL_MAX_FLOOD;
	bpf_loop(count, ovl_flood_one, &c, 0);
	/* The clones went out (the local ones before the hand-off). SHOT: tcx
	 * turns any code but PASS, DROP and REDIRECT into "next". */
	return vnf_verdict(skb, O, VNF_R_OVL_FLOOD, TC_ACT_SHOT);
}

/* 0 when the inner frame may enter as `e`'s, else the drop reason. */
static __always_inline __u32 ovl_identity(struct __sk_buff *skb, __be16 proto, const __u8 *src, __u32 ip)
{
	if (proto == bpf_htons(ETH_P_IP)) {
		__be32 saddr;

		if (bpf_skb_load_bytes(skb, ETH_HLEN + 12, &saddr, sizeof(saddr)) < 0)
			return VNF_R_DROP_MALFORMED;
		return saddr == ip ? 0 : VNF_R_DROP_SPOOF_IP;
	}
	if (proto == bpf_htons(ETH_P_ARP)) {
		struct vnf_arp_eth arp;

		if (bpf_skb_load_bytes(skb, ETH_HLEN, &arp, sizeof(arp)) < 0)
			return VNF_R_DROP_SPOOF_ARP;
		if (!mac_eq(arp.ar_sha, src))
			return VNF_R_DROP_SPOOF_ARP;
		return arp.ar_sip == 0 || arp.ar_sip == ip ? 0 : VNF_R_DROP_SPOOF_ARP;
	}
	return VNF_R_DROP_ETHERTYPE;
}

static __always_inline int ovl_rx(struct __sk_buff *skb)
{
	struct bpf_tunnel_key key = {};

	if (bpf_skb_get_tunnel_key(skb, &key, sizeof(key), 0) < 0)
		return vnf_drop(skb, O, VNF_R_DROP_OVL_NO_TUNNEL);
	__u32 vtep = bpf_htonl(key.remote_ipv4); /* the outer source */
	if (!bpf_map_lookup_elem(&vnf_ovl_hosts, &vtep))
		return vnf_drop(skb, O, VNF_R_DROP_OVL_UNKNOWN_HOST);
	__u32 vni = key.tunnel_id;
	__u32 *nid = bpf_map_lookup_elem(&vnf_ovl_vni, &vni);
	if (!nid)
		return vnf_drop(skb, O, VNF_R_DROP_OVL_UNKNOWN_VNI);
	__u32 network = *nid;
	struct vnf_network *n = bpf_map_lookup_elem(&vnf_networks, &network);
	if (!n)
		return vnf_drop(skb, O, VNF_R_DROP_NO_NETWORK);
	__u8 router_mac[ETH_ALEN];
	__u32 router_id = n->router_id;

	__builtin_memcpy(router_mac, n->router_mac, ETH_ALEN);
	md_set_network(skb, network); /* before the checks: their drops name the network */

	struct ethhdr eth;
	if (bpf_skb_load_bytes(skb, 0, &eth, sizeof(eth)) < 0)
		return vnf_drop(skb, O, VNF_R_DROP_MALFORMED);
	if (!(router_id && mac_eq(eth.h_source, router_mac))) {
		struct vnf_ovl_ep_key k = { .network = network };

		__builtin_memcpy(k.mac, eth.h_source, ETH_ALEN);
		struct vnf_ovl_ep *e = bpf_map_lookup_elem(&vnf_ovl_ep, &k);
		if (!e || e->vtep != vtep || e->vni != vni)
			return vnf_drop(skb, O, VNF_R_DROP_OVL_SPOOF);
		__u32 ip = e->ip;
		__u32 eflags = e->flags;

		if (!(eflags & VNF_OVL_EP_F_FORWARDS)) {
			__u32 why = ovl_identity(skb, eth.h_proto, eth.h_source, ip);

			if (why)
				return vnf_drop(skb, O, why);
		}
	}
	md_set_flags(skb, md_flags(skb) | VNF_MD_F_FROM_OVERLAY);
	return vnf_next_reason(skb, O, VNF_R_OVL_RX);
}

SEC("tc")
int vnf_overlay(struct __sk_buff *skb)
{
	__u32 zero = 0;
	struct vnf_ovl_cfg *c = bpf_map_lookup_elem(&vnf_ovl_cfg, &zero);

	if (!c || !(c->flags & VNF_OVL_CFG_F_SET) || !c->ifindex)
		return vnf_drop(skb, O, VNF_R_DROP_OVL_NO_TUNNEL);
	/* An array value is updated in place: copied once. */
	struct vnf_ovl_cfg cfg = *c;
	__u32 flags = md_flags(skb);

	if (md_in(skb) == cfg.ifindex && !(flags & VNF_MD_F_FROM_OVERLAY))
		return ovl_rx(skb);
	if (flags & VNF_MD_F_FROM_OVERLAY)
		return vnf_drop(skb, O, VNF_R_DROP_LOOP); /* never back to the overlay */
	if (flags & VNF_MD_F_OVL_FLOOD)
		return ovl_flood(skb, &cfg);
	if (md_out(skb) != cfg.ifindex)
		return vnf_drop(skb, O, VNF_R_DROP_NO_PORT);
	return ovl_tx(skb, &cfg);
}

char LICENSE[] SEC("license") = "GPL";
