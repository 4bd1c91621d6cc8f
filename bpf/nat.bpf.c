// SPDX-License-Identifier: GPL-2.0
/*
 * NAT VNF (slot VNF_ID_NAT): masquerade, floating addresses and port
 * forwarding of a router, at the three points of bpf/abi/nat.h (read its top
 * comment first). It runs after the firewall in both chains of every port of
 * a network that has a vnf_nat_nets entry:
 *   chain_in of an outside port   VNF_NAT_AT_OUT_IN   (md.out == 0)
 *   chain_out of an outside port  VNF_NAT_AT_OUT_OUT  (md.out != 0; from the
 *                                 bridge's forward or a flooded clone at the
 *                                 port's egress hook: both are translated)
 *   chain_in of an inside port    VNF_NAT_AT_IN_IN
 *   chain_out of an inside port   nothing
 *
 *   a packet of a known mapping (vnf_nat, keyed by the tuple as it is here)
 *     whose conntrack entry lives: conntrack state moves (TCP through
 *     ct_tcp_packet as the firewall's; never a drop here: policy is the
 *     firewall's), the packet is rewritten to the entry's tuple
 *   a dead mapping (conntrack entry gone or expired) is removed, both
 *     entries, and the packet is handled as new
 *   new connections (TCP only from a bare SYN, ICMP only an echo request):
 *     OUT_OUT  floating inside source -> its outside address, ports kept;
 *              masqueraded source -> the outside address, a port (echo: an
 *              identifier) from the range
 *     OUT_IN / IN_IN (hairpin)  to a floating outside address -> its inside
 *              address; to a forwarded port of the outside address -> its
 *              target
 *     a conntrack entry (zone VNF_NAT_ZONE, the original tuple), then the
 *     reply entry (BPF_NOEXIST: the outside tuple is free, or taken; a taken
 *     one held by a dead mapping is reclaimed), then the original entry
 *   ICMP errors about a mapped connection: the quoted packet and the outer
 *     address it concerns are translated, every checksum fixed
 *   ARP requests at OUT_IN for a floating outside address: answered with
 *     the router's MAC on this network
 *   non-first fragments that would need translation: dropped (no inside
 *     address ever leaks); first fragments are translated as whole packets
 *   what must be translated to leave through the outside but cannot be (no
 *     mapping; an ICMP error whose outer source or quote stays inside) is
 *     dropped as NAT_UNMAPPED
 *
 * Defences (test/bpf/nat-attacks.test.ts): at OUT_IN the world may not send
 * as the inside (masqueraded prefixes, floating addresses, the outside
 * address: DROP_SPOOF_IP); ICMP redirects never pass; a mapping whose rule
 * changed or went (nat_still_wanted) ends its connection; new mappings count
 * against their source's quota (vnf_nat_src: an inside address, or the
 * world) and are refused beyond it (DROP_NAT_QUOTA).
 *
 * A collector (a bpf_timer in vnf_nat_gc, armed by the first packet)
 * removes dead mappings every VNF_NAT_GC_INTERVAL_MS.
 *
 * Every path ends in exactly one counted verdict; a new mapping also counts
 * VNF_R_NAT_NEW beside it.
 */
#include "vnf/chain.h"
#include "vnf/conntrack.h"
#include "vnf/fw_parse.h"
#include "vnf/parse.h"
#include "vnf/router_pkt.h"
#include "vnf/router_arp.h"
#include "abi/nat.h"

#define NAT VNF_ID_NAT

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, VNF_NAT_NETS_MAX);
	__type(key, __u32);
	__type(value, struct vnf_nat_net);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} vnf_nat_nets SEC(".maps");

/* An LPM trie must be created with BPF_F_NO_PREALLOC. */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, VNF_NAT_MASQ_MAX);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct vnf_nat_masq_key);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} vnf_nat_masq SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, VNF_NAT_FLOAT_MAX);
	__type(key, struct vnf_nat_float_key);
	__type(value, struct vnf_nat_float);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} vnf_nat_float SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, VNF_NAT_FWD_MAX);
	__type(key, struct vnf_nat_fwd_key);
	__type(value, struct vnf_nat_fwd);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} vnf_nat_fwd SEC(".maps");

/* The mappings: a plain hash, never an LRU (a flood must not evict live
 * mappings); elements allocated as mappings are made. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, VNF_NAT_MAX);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct vnf_nat_key);
	__type(value, struct vnf_nat_entry);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} vnf_nat_map SEC(".maps");

/* Mappings per source (fairness, see bpf/abi/nat.h). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, VNF_NAT_SRC_MAX);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct vnf_nat_src_key);
	__type(value, struct vnf_nat_src);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} vnf_nat_src SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct vnf_nat_gc);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} vnf_nat_gc SEC(".maps");

/* One packet's working state, per CPU (not on the 512-byte stack, which the
 * conntrack call chains need): the parsed packet, its key, the translation. */
struct nat_work {
	struct vnf_nat_key key;   /* the packet's tuple here (the original tuple for a new connection) */
	struct vnf_nat_entry ent; /* its translation */
	struct vnf_nat_key rkey;  /* a new connection's reply key */
	struct vnf_nat_entry rent;
	struct vnf_nat_key pkey;  /* scratch: a pair's other key */
	struct vnf_nat_entry pent; /* scratch: an entry found in the way */
	struct vnf_ct_key ck;
	__u64 now;
	__u32 len;
	__u32 l4off;    /* offset of the L4 header */
	__u32 l4len;    /* IP payload length */
	__u32 outside_ip;
	__u32 router_id;
	__u16 port_min; /* host order */
	__u16 port_max;
	__u32 max_per_source; /* fairness quotas (0: the defaults) */
	__u32 max_inbound;
	__u8 at;
	__u8 proto;
	__u8 echo;      /* ICMP echo: identifier in sport */
	__u8 first_frag;
	__u8 kind;      /* the new connection's VNF_NAT_K_* */
	__u8 rat;       /* where its replies pass */
	__u8 _pad[2];
	/* ICMP errors: the outer header and the quote. */
	__be32 o_saddr;
	__be32 o_daddr;
	__u32 hlen;
	__u32 tot;
	__u8 iph_old[20];
	__u8 iph_new[20];
	__u8 l4_old[20];
	__u8 l4_new[20];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct nat_work);
} nat_work SEC(".maps");

static __always_inline struct nat_work *nat_work_get(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&nat_work, &zero);
}

#define NAT_IP_CSUM (ETH_HLEN + 10)
#define NAT_IP_SADDR (ETH_HLEN + 12)
#define NAT_IP_DADDR (ETH_HLEN + 16)

/* ---- conntrack --------------------------------------------------------- */

/* The connection's conntrack entry lives: present, not being removed, not expired. */
static __always_inline int nat_ct_alive(const struct vnf_ct_key *ck, __u64 now)
{
	struct vnf_ct_entry *e = bpf_map_lookup_elem(&vnf_ct, ck);

	if (!e || (e->flags & VNF_CT_F_DYING))
		return 0;
	return !ct_expired(e, now);
}

static __always_inline int nat_ct_eq(const struct vnf_ct_key *a, const struct vnf_ct_key *b)
{
	return ct_key_eq(a, b);
}

/* ---- fairness ---------------------------------------------------------- */

/* The source a connection counts against, from its original entry's key: the
 * inside address of an outbound or hairpin connection, 0 for the world's. */
static __always_inline __u32 nat_src_of(const struct vnf_nat_key *k)
{
	return k->at == VNF_NAT_AT_OUT_IN ? 0 : k->saddr;
}

/* One connection of `k`'s source fewer. Counts are read as signed: a count
 * that went below zero (a mapping made before counting began) never blocks. */
static __always_inline void nat_src_put(const struct vnf_nat_key *k)
{
	struct vnf_nat_src_key sk = { .zone = k->zone, .addr = nat_src_of(k) };
	struct vnf_nat_src *c = bpf_map_lookup_elem(&vnf_nat_src, &sk);

	if (c)
		__sync_fetch_and_add(&c->count, -1);
}

/* One more (a mapping was made). Without room for a new counter the
 * connection goes uncounted: the map holds far more sources than a router
 * has containers. */
static __always_inline void nat_src_get(const struct vnf_nat_key *k)
{
	struct vnf_nat_src_key sk = { .zone = k->zone, .addr = nat_src_of(k) };
	struct vnf_nat_src *c = bpf_map_lookup_elem(&vnf_nat_src, &sk);

	if (!c) {
		struct vnf_nat_src one = { .count = 1 };

		if (bpf_map_update_elem(&vnf_nat_src, &sk, &one, BPF_NOEXIST) == 0)
			return;
		c = bpf_map_lookup_elem(&vnf_nat_src, &sk);
		if (!c)
			return;
	}
	__sync_fetch_and_add(&c->count, 1);
}

/* Whether `k`'s source holds its quota of mappings. */
static __always_inline int nat_src_full(const struct vnf_nat_key *k, __u32 max_per_source, __u32 max_inbound)
{
	struct vnf_nat_src_key sk = { .zone = k->zone, .addr = nat_src_of(k) };
	struct vnf_nat_src *c = bpf_map_lookup_elem(&vnf_nat_src, &sk);
	__s64 lim;

	if (!c)
		return 0;
	if (sk.addr)
		lim = max_per_source ? max_per_source : VNF_NAT_DEFAULT_MAX_PER_SOURCE;
	else
		lim = max_inbound ? max_inbound : VNF_NAT_DEFAULT_MAX_INBOUND;
	return (__s64)c->count >= lim;
}

/* The key of the other entry of `e`'s pair (its translated tuple reversed,
 * at peer_at). ICMP echo keeps {identifier, 0}. */
static __always_inline void nat_peer_key(struct vnf_nat_key *p, __u32 zone, __u8 proto, const struct vnf_nat_entry *e)
{
	p->zone = zone;
	p->saddr = e->daddr;
	p->daddr = e->saddr;
	if (proto == IPPROTO_ICMP_) {
		p->sport = e->sport;
		p->dport = e->dport;
	} else {
		p->sport = e->dport;
		p->dport = e->sport;
	}
	p->proto = proto;
	p->at = e->peer_at;
	p->_pad[0] = 0;
	p->_pad[1] = 0;
}

/*
 * Removes the pair of mapping (k, e): k, and its peer if the peer still
 * belongs to the same connection (its conntrack key: a peer key may already
 * be another, live mapping's, when a port was given again). `e` is a copy.
 */
__attribute__((noinline)) int nat_pair_remove(const struct vnf_nat_key *k, const struct vnf_nat_entry *e)
{
	struct vnf_nat_key p;
	struct vnf_nat_entry *pe;

	if (!k || !e)
		return 0;
	/* Whoever deletes the original entry uncounts the connection. */
	if (bpf_map_delete_elem(&vnf_nat_map, k) == 0 && e->dir == 0)
		nat_src_put(k);
	nat_peer_key(&p, k->zone, k->proto, e);
	pe = bpf_map_lookup_elem(&vnf_nat_map, &p);
	if (pe && nat_ct_eq(&pe->ct, &e->ct) && bpf_map_delete_elem(&vnf_nat_map, &p) == 0 && e->dir == 1)
		nat_src_put(&p);
	return 1;
}

/* ---- rewriting --------------------------------------------------------- */

#define NAT_X_SNAT 0x1
#define NAT_X_DNAT 0x2

static __always_inline int nat_set_addr(struct __sk_buff *skb, __u32 off, __u32 l4csum, __u64 l4flags, __be32 from,
					__be32 to)
{
	if (bpf_l3_csum_replace(skb, NAT_IP_CSUM, from, to, 4) < 0)
		return -1;
	if (l4csum && bpf_l4_csum_replace(skb, l4csum, from, to, l4flags | BPF_F_PSEUDO_HDR | 4) < 0)
		return -1;
	return bpf_skb_store_bytes(skb, off, &to, 4, 0);
}

static __always_inline int nat_set_port(struct __sk_buff *skb, __u32 off, __u32 l4csum, __u64 l4flags, __be16 from,
					__be16 to)
{
	if (l4csum && bpf_l4_csum_replace(skb, l4csum, from, to, l4flags | 2) < 0)
		return -1;
	return bpf_skb_store_bytes(skb, off, &to, 2, 0);
}

/*
 * Rewrites the packet from the tuple w->key to w->ent: addresses (IP and
 * pseudo-header checksums), ports (TCP/UDP) or the echo identifier (ICMP
 * checksum). Incremental updates: a first fragment's L4 checksum covers the
 * whole datagram and stays right. A UDP checksum of 0 stays 0. Returns
 * NAT_X_* of what changed, < 0 when a helper failed.
 */
__attribute__((noinline)) int nat_apply(struct __sk_buff *skb)
{
	struct nat_work *w = nat_work_get();
	__u32 l4csum = 0, l4 = 0;
	__u64 fl = 0;
	int x = 0;

	if (!skb || !w)
		return -1;
	l4 = w->l4off;
	if (w->proto == IPPROTO_TCP_) {
		l4csum = l4 + 16;
	} else if (w->proto == IPPROTO_UDP_) {
		l4csum = l4 + 6;
		fl = BPF_F_MARK_MANGLED_0;
	}
	__be32 os = w->key.saddr, od = w->key.daddr, ns = w->ent.saddr, nd = w->ent.daddr;
	__be16 osp = w->key.sport, odp = w->key.dport, nsp = w->ent.sport, ndp = w->ent.dport;
	__u8 echo = w->echo;

	if (os != ns) {
		if (nat_set_addr(skb, NAT_IP_SADDR, l4csum, fl, os, ns) < 0)
			return -1;
		x |= NAT_X_SNAT;
	}
	if (od != nd) {
		if (nat_set_addr(skb, NAT_IP_DADDR, l4csum, fl, od, nd) < 0)
			return -1;
		x |= NAT_X_DNAT;
	}
	if (echo) {
		/* The identifier: the ICMP checksum has no pseudo header. */
		if (osp != nsp) {
			if (nat_set_port(skb, l4 + 4, l4 + 2, 0, osp, nsp) < 0)
				return -1;
			x |= w->at == VNF_NAT_AT_OUT_OUT ? NAT_X_SNAT : NAT_X_DNAT;
		}
		return x;
	}
	if (!l4csum)
		return x;
	if (osp != nsp) {
		if (nat_set_port(skb, l4, l4csum, fl, osp, nsp) < 0)
			return -1;
		x |= NAT_X_SNAT;
	}
	if (odp != ndp) {
		if (nat_set_port(skb, l4 + 2, l4csum, fl, odp, ndp) < 0)
			return -1;
		x |= NAT_X_DNAT;
	}
	return x;
}

/* ---- a packet of a known mapping --------------------------------------- */

#define NAT_E_NEW 0   /* no live mapping: handle as new */
#define NAT_E_XLATE 1 /* w->ent is the translation */
#define NAT_E_RETRY 2 /* the conntrack entry went away under us: run again */
#define NAT_E_BAD 3   /* the TCP header could not be read */

/*
 * Looks the packet's key up; a mapping whose conntrack entry is gone or
 * expired is removed (both entries). A live one's conntrack entry is
 * updated in the mapping's direction: TCP as the firewall does (a REOPEN
 * kills the old connection and its pair: the SYN is new; an out-of-window
 * segment changes no state but is still translated), others touched.
 */
/*
 * Whether the rule a mapping was made by still holds (the firewall re-checks
 * a connection against a changed rule set; so does NAT): a forward that was
 * removed or retargeted, a floating address that moved or went, a source no
 * longer masqueraded, a new outside address. Read from the entry in w->ent
 * found under w->key: its original direction (dir 0) carries the first
 * packet's tuple in the key and the translated one in the entry; the reply
 * direction the other way round. 1 when it holds.
 */
__attribute__((noinline)) int nat_still_wanted(void)
{
	struct nat_work *w = nat_work_get();
	struct vnf_nat_float_key fk = {};
	struct vnf_nat_float *f;

	if (!w)
		return 0;
	__u32 router = w->router_id, oip = w->outside_ip;
	int reply = w->ent.dir & 1;
	/* The original tuple's source and the translated addresses, either way. */
	__be32 in_src = reply ? w->ent.daddr : w->key.saddr;     /* MASQ / FLOAT_OUT: the inside source */
	__be32 out_src = reply ? w->key.daddr : w->ent.saddr;    /* ... and what it leaves as */
	__be32 pub_dst = reply ? w->ent.saddr : w->key.daddr;    /* FLOAT_IN / FORWARD: the public destination */
	__be32 in_dst = reply ? w->key.saddr : w->ent.daddr;     /* ... and the inside host */
	__be16 pub_port = reply ? w->ent.sport : w->key.dport;
	__be16 in_port = reply ? w->key.sport : w->ent.dport;

	switch (w->ent.kind) {
	case VNF_NAT_K_MASQ: {
		struct vnf_nat_masq_key mk = { .prefixlen = 64, .router_id = bpf_htonl(router), .addr = in_src };

		return out_src == oip && bpf_map_lookup_elem(&vnf_nat_masq, &mk) != NULL;
	}
	case VNF_NAT_K_FLOAT_OUT:
		fk.router_id = router;
		fk.addr = in_src;
		fk.which = VNF_NAT_FLOAT_BY_INSIDE;
		f = bpf_map_lookup_elem(&vnf_nat_float, &fk);
		return f && f->addr == out_src;
	case VNF_NAT_K_FLOAT_IN:
		fk.router_id = router;
		fk.addr = pub_dst;
		fk.which = VNF_NAT_FLOAT_BY_OUTSIDE;
		f = bpf_map_lookup_elem(&vnf_nat_float, &fk);
		return f && f->addr == in_dst;
	case VNF_NAT_K_FORWARD: {
		struct vnf_nat_fwd_key dk = { .router_id = router, .port = pub_port, .proto = w->proto };
		struct vnf_nat_fwd *d = bpf_map_lookup_elem(&vnf_nat_fwd, &dk);

		return pub_dst == oip && d && d->addr == in_dst && d->port == in_port;
	}
	}
	return 0;
}

__attribute__((noinline)) int nat_established(struct __sk_buff *skb)
{
	struct nat_work *w = nat_work_get();
	struct vnf_nat_entry *m;
	struct vnf_ct_entry *ce;

	if (!skb || !w)
		return NAT_E_NEW;
	m = bpf_map_lookup_elem(&vnf_nat_map, &w->key);
	if (!m)
		return NAT_E_NEW;
	w->ent = *m;
	ce = bpf_map_lookup_elem(&vnf_ct, &w->ent.ct);
	if (!ce || (ce->flags & VNF_CT_F_DYING)) {
		nat_pair_remove(&w->key, &w->ent);
		return NAT_E_NEW;
	}
	if (ct_expired(ce, w->now)) {
		ct_kill(&w->ent.ct, ce, CT_KILL_EXPIRED, w->now);
		nat_pair_remove(&w->key, &w->ent);
		return NAT_E_NEW;
	}
	/* Its rule changed or went: the connection ends here (both entries and
	 * its conntrack entry), and the packet is judged as a new one. */
	if (!nat_still_wanted()) {
		ct_kill(&w->ent.ct, ce, 0, 0);
		nat_pair_remove(&w->key, &w->ent);
		return NAT_E_NEW;
	}
	__u32 dir = w->ent.dir & 1;

	if (w->proto == IPPROTO_TCP_) {
		if (fw_tcp_seg(skb, w->l4off, w->l4len, w->first_frag) < 0)
			return NAT_E_BAD;
		__u32 act = ct_tcp_packet(ce, &w->ent.ct, dir);

		if (act & CT_TCP_GONE)
			return NAT_E_RETRY;
		if (act & CT_TCP_REOPEN) {
			ct_kill(&w->ent.ct, ce, CT_KILL_MARKED, 0);
			nat_pair_remove(&w->key, &w->ent);
			return NAT_E_NEW;
		}
		if (act & CT_TCP_PASS) {
			ct_tcp_touch(ce, w->now, w->len, dir, act & CT_TCP_REFRESH);
			if (act & CT_TCP_KILL)
				ct_kill(&w->ent.ct, ce, CT_KILL_MARKED, 0);
			else if (act & CT_TCP_ASSURE)
				ct_assure(&w->ent.ct, ce);
		}
		/* Not passed: the firewall's business; the mapping holds. */
		return NAT_E_XLATE;
	}
	ct_touch(ce, w->now, w->len, dir);
	if ((ce->flags & (VNF_CT_F_ASSURED | VNF_CT_F_PROTECTED)) == VNF_CT_F_ASSURED)
		ct_assure(&w->ent.ct, ce);
	return NAT_E_XLATE;
}

/* ---- new connections --------------------------------------------------- */

/* The key of tuple (s, d, sp, dp) reversed, at `at` (echo keeps {id, 0}). */
static __always_inline void nat_rev_key(struct vnf_nat_key *k, __u32 zone, __u8 proto, __u8 at, __be32 s, __be32 d,
					__be16 sp, __be16 dp)
{
	k->zone = zone;
	k->saddr = d;
	k->daddr = s;
	if (proto == IPPROTO_ICMP_) {
		k->sport = sp;
		k->dport = dp;
	} else {
		k->sport = dp;
		k->dport = sp;
	}
	k->proto = proto;
	k->at = at;
	k->_pad[0] = 0;
	k->_pad[1] = 0;
}

#define NAT_INS_OK 0
#define NAT_INS_TAKEN 1 /* held by a live mapping */
#define NAT_INS_FULL 2  /* the table is full */

/*
 * Inserts the reply entry w->rkey -> w->rent with BPF_NOEXIST. A key held
 * by a dead mapping (its conntrack entry gone or expired) is reclaimed: its
 * pair is removed and the insert tried again. Never replaces a live one.
 */
static __always_inline int nat_reply_insert(struct nat_work *w)
{
	long r = bpf_map_update_elem(&vnf_nat_map, &w->rkey, &w->rent, BPF_NOEXIST);

	if (r == 0)
		return NAT_INS_OK;
	if (r != -EEXIST_)
		return NAT_INS_FULL; /* -E2BIG, or -ENOMEM */
	struct vnf_nat_entry *ex = bpf_map_lookup_elem(&vnf_nat_map, &w->rkey);

	if (!ex)
		goto again; /* went meanwhile */
	w->pent = *ex;
	if (nat_ct_alive(&w->pent.ct, w->now))
		return NAT_INS_TAKEN;
	nat_pair_remove(&w->rkey, &w->pent);
again:
	r = bpf_map_update_elem(&vnf_nat_map, &w->rkey, &w->rent, BPF_NOEXIST);
	if (r == 0)
		return NAT_INS_OK;
	return r == -EEXIST_ ? NAT_INS_TAKEN : NAT_INS_FULL;
}

struct nat_probe {
	__u32 start;
	__u32 n;
	__u32 min;
	__u32 port; /* the port found (host order), 0 = none */
	__u32 full;
};

/* One port of the range (bpf_loop callback). Returns 1 to stop. */
static long nat_probe_step(__u32 i, void *data)
{
	struct nat_probe *p = data;
	struct nat_work *w = nat_work_get();
	__u32 n = p->n;

	if (!w || !n)
		return 1;
	__u32 port = p->min + (p->start + i) % n;
	__be16 be = bpf_htons((__u16)port);

	if (w->echo)
		w->rkey.sport = be; /* the identifier */
	else
		w->rkey.dport = be;
	switch (nat_reply_insert(w)) {
	case NAT_INS_OK:
		p->port = port;
		return 1;
	case NAT_INS_FULL:
		p->full = 1;
		return 1;
	default:
		return 0;
	}
}

#define NAT_C_MADE 0
#define NAT_C_NONE 1  /* no translation applies */
#define NAT_C_RACED 2 /* another CPU made the mapping first: w->ent is its translation */

/*
 * A new connection at w->at with the original tuple w->key. Returns
 * NAT_C_MADE when a mapping was made (w->ent is the translation), NAT_C_NONE
 * when none applies (the packet passes untouched), NAT_C_RACED, or a drop
 * reason (>= VNF_R_DROP_BASE).
 */
__attribute__((noinline)) int nat_create(struct __sk_buff *skb)
{
	struct nat_work *w = nat_work_get();
	struct vnf_ct_entry *ce;
	__u32 router, at, zone;
	__u8 proto;

	if (!skb || !w)
		return VNF_R_DROP_MALFORMED;
	router = w->router_id;
	at = w->at;
	zone = w->key.zone;
	proto = w->proto;
	w->ent.saddr = w->key.saddr;
	w->ent.daddr = w->key.daddr;
	w->ent.sport = w->key.sport;
	w->ent.dport = w->key.dport;
	w->kind = 0;
	if (at == VNF_NAT_AT_OUT_OUT) {
		struct vnf_nat_float_key fk = { .router_id = router, .addr = w->key.saddr, .which = VNF_NAT_FLOAT_BY_INSIDE };
		struct vnf_nat_float *f = bpf_map_lookup_elem(&vnf_nat_float, &fk);

		if (f) {
			w->ent.saddr = f->addr;
			w->kind = VNF_NAT_K_FLOAT_OUT;
		} else {
			struct vnf_nat_masq_key mk = { .prefixlen = 64, .router_id = bpf_htonl(router), .addr = w->key.saddr };

			if (!bpf_map_lookup_elem(&vnf_nat_masq, &mk))
				return NAT_C_NONE;
			w->ent.saddr = w->outside_ip;
			w->kind = VNF_NAT_K_MASQ;
		}
		w->rat = VNF_NAT_AT_OUT_IN;
	} else {
		struct vnf_nat_float_key fk = { .router_id = router, .addr = w->key.daddr, .which = VNF_NAT_FLOAT_BY_OUTSIDE };
		struct vnf_nat_float *f = bpf_map_lookup_elem(&vnf_nat_float, &fk);

		if (f) {
			w->ent.daddr = f->addr;
			w->kind = VNF_NAT_K_FLOAT_IN;
		} else {
			if (w->key.daddr != w->outside_ip || (proto != IPPROTO_TCP_ && proto != IPPROTO_UDP_))
				return NAT_C_NONE;
			struct vnf_nat_fwd_key dk = { .router_id = router, .port = w->key.dport, .proto = proto };
			struct vnf_nat_fwd *d = bpf_map_lookup_elem(&vnf_nat_fwd, &dk);

			if (!d)
				return NAT_C_NONE;
			w->ent.daddr = d->addr;
			w->ent.dport = d->port;
			w->kind = VNF_NAT_K_FORWARD;
		}
		w->rat = VNF_NAT_AT_IN_IN;
	}

	/* The connection's conntrack entry, keyed by its original tuple. An
	 * expired one of the same tuple goes first (it would be taken as ours). */
	w->ck.zone = zone;
	w->ck.saddr = w->key.saddr;
	w->ck.daddr = w->key.daddr;
	w->ck.sport = w->key.sport;
	w->ck.dport = w->key.dport;
	w->ck.proto = proto;
	w->ck._pad[0] = 0;
	w->ck._pad[1] = 0;
	w->ck._pad[2] = 0;
	/* Fairness: the source's quota of mappings, before anything is taken. */
	if (nat_src_full(&w->key, w->max_per_source, w->max_inbound))
		return VNF_R_DROP_NAT_QUOTA;
	ce = bpf_map_lookup_elem(&vnf_ct, &w->ck);
	if (ce && !(ce->flags & VNF_CT_F_DYING) && ct_expired(ce, w->now))
		ct_kill(&w->ck, ce, CT_KILL_EXPIRED, w->now);
	if (proto == IPPROTO_TCP_ && fw_tcp_seg(skb, w->l4off, w->l4len, w->first_frag) < 0)
		return VNF_R_DROP_MALFORMED;
	if (ct_create(&w->ck, 0, 0, 0, w->len) < 0)
		return VNF_R_DROP_CT_FULL;

	/* The reply entry: replies carry the translated tuple reversed and
	 * leave with the original one reversed. */
	w->rent.saddr = w->key.daddr;
	w->rent.daddr = w->key.saddr;
	if (w->echo) {
		w->rent.sport = w->key.sport;
		w->rent.dport = w->key.dport;
	} else {
		w->rent.sport = w->key.dport;
		w->rent.dport = w->key.sport;
	}
	w->rent.ct = w->ck;
	w->rent.dir = 1;
	w->rent.kind = w->kind;
	w->rent.peer_at = at;
	w->rent._pad = 0;
	nat_rev_key(&w->rkey, zone, proto, w->rat, w->ent.saddr, w->ent.daddr, w->ent.sport, w->ent.dport);

	__u32 reason = 0;

	if (w->kind == VNF_NAT_K_MASQ) {
		__u32 min = w->port_min, max = w->port_max;

		if (!min || max < min) {
			min = VNF_NAT_DEFAULT_PORT_MIN;
			max = VNF_NAT_DEFAULT_PORT_MAX;
		}
		struct nat_probe p = { .min = min, .n = max - min + 1 };

		p.start = bpf_get_prandom_u32() % p.n;
		bpf_loop(p.n < VNF_NAT_PROBES ? p.n : VNF_NAT_PROBES, nat_probe_step, &p, 0);
		if (p.full)
			reason = VNF_R_DROP_NAT_FULL;
		else if (!p.port)
			reason = VNF_R_DROP_NAT_EXHAUSTED;
		else
			w->ent.sport = bpf_htons((__u16)p.port); /* echo: the identifier */
	} else {
		switch (nat_reply_insert(w)) {
		case NAT_INS_OK:
			break;
		case NAT_INS_TAKEN:
			/* Taken by this very connection: another CPU is mapping
			 * it at the same time; its mapping stands. */
			if (ct_key_eq(&w->pent.ct, &w->ck)) {
				struct vnf_nat_entry *m = bpf_map_lookup_elem(&vnf_nat_map, &w->key);

				if (m) {
					w->ent = *m;
					return NAT_C_RACED;
				}
			}
			reason = VNF_R_DROP_NAT_EXHAUSTED;
			break;
		default:
			reason = VNF_R_DROP_NAT_FULL;
			break;
		}
	}
	if (!reason) {
		w->ent.ct = w->ck;
		w->ent.dir = 0;
		w->ent.kind = w->kind;
		w->ent.peer_at = w->rat;
		w->ent._pad = 0;
		long r = bpf_map_update_elem(&vnf_nat_map, &w->key, &w->ent, BPF_NOEXIST);

		if (r == 0) {
			nat_src_get(&w->key);
			return NAT_C_MADE;
		}
		bpf_map_delete_elem(&vnf_nat_map, &w->rkey);
		if (r == -EEXIST_) {
			/* Another CPU mapped the same connection first (same
			 * original tuple, same conntrack entry): its mapping
			 * stands, ours goes; the packet takes the winner's. */
			struct vnf_nat_entry *m = bpf_map_lookup_elem(&vnf_nat_map, &w->key);

			if (m) {
				w->ent = *m;
				return NAT_C_RACED;
			}
		}
		reason = VNF_R_DROP_NAT_FULL;
	}
	/* No mapping: the conntrack entry made for it goes too. */
	ce = bpf_map_lookup_elem(&vnf_ct, &w->ck);
	if (ce)
		ct_kill(&w->ck, ce, 0, 0);
	return reason;
}

/* ---- ICMP errors ------------------------------------------------------- */

/* RFC 1624 incremental updates of a checksum as stored, over values as
 * stored (one's complement sums do not depend on the byte order). */
static __always_inline __u16 nat_csum_fold(__u32 s)
{
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return (__u16)s;
}

static __always_inline __u16 nat_csum4(__u16 check, __u32 from, __u32 to)
{
	__u32 s = (__u16)~check;

	s += (~from & 0xffff) + (~from >> 16) + (to & 0xffff) + (to >> 16);
	return (__u16)~nat_csum_fold(s);
}

static __always_inline __u16 nat_csum2(__u16 check, __u16 from, __u16 to)
{
	__u32 s = (__u16)~check;

	s += (__u16)~from + to;
	return (__u16)~nat_csum_fold(s);
}

static __always_inline __u16 rd16(const __u8 *b, __u32 o)
{
	__u16 v;

	__builtin_memcpy(&v, b + o, 2);
	return v;
}

static __always_inline __u32 rd32(const __u8 *b, __u32 o)
{
	__u32 v;

	__builtin_memcpy(&v, b + o, 4);
	return v;
}

static __always_inline void wr16(__u8 *b, __u32 o, __u16 v)
{
	__builtin_memcpy(b + o, &v, 2);
}

static __always_inline void wr32(__u8 *b, __u32 o, __u32 v)
{
	__builtin_memcpy(b + o, &v, 4);
}

/*
 * An ICMP error (outer header at ETH_HLEN, w->hlen/w->tot; quote parsed
 * into w->key as the reverse of the quoted tuple, at this point): if it
 * concerns a live mapping, the quoted header gets the swapped translation
 * (addresses, ports or echo identifier, its IP checksum, its L4 checksum
 * when quoted: a UDP 0 stays 0), the outer address equal to the key's gets
 * the entry's, and the ICMP and outer IP checksums follow every change.
 * Returns 1 when translated, 0 when it concerns no mapping, < 0 on failure.
 */
__attribute__((noinline)) int nat_icmp_error(struct __sk_buff *skb)
{
	struct nat_work *w = nat_work_get();
	struct vnf_nat_entry *m;

	if (!skb || !w)
		return 0;
	m = bpf_map_lookup_elem(&vnf_nat_map, &w->key);
	if (!m)
		return 0;
	w->ent = *m;
	if (!nat_ct_alive(&w->ent.ct, w->now))
		return 0;

	__u32 icmp = ETH_HLEN + (w->hlen & 0x3f);
	__u32 io = icmp + 8;
	__u32 avail = w->tot - (w->hlen & 0x3f) - 8;

	if (bpf_skb_load_bytes(skb, io, w->iph_old, 20) < 0)
		return -1;
	__u32 ihl = (w->iph_old[0] & 0xf) * 4;
	__u32 il4 = io + ihl;
	__u32 tcp_full = w->proto == IPPROTO_TCP_ && avail >= ihl + 20;

	if (tcp_full) {
		if (bpf_skb_load_bytes(skb, il4, w->l4_old, 20) < 0)
			return -1;
	} else if (bpf_skb_load_bytes(skb, il4, w->l4_old, 8) < 0) {
		return -1;
	}
	__builtin_memcpy(w->iph_new, w->iph_old, 20);
	__builtin_memcpy(w->l4_new, w->l4_old, 20);

	/* The quote travelled against this packet: it becomes the entry's
	 * tuple reversed. */
	__u32 os = rd32(w->iph_old, 12), od = rd32(w->iph_old, 16);
	__u32 ns = w->ent.daddr, nd = w->ent.saddr;
	__u16 ck = rd16(w->iph_old, 10);

	ck = nat_csum4(ck, os, ns);
	ck = nat_csum4(ck, od, nd);
	wr32(w->iph_new, 12, ns);
	wr32(w->iph_new, 16, nd);
	wr16(w->iph_new, 10, ck);

	if (w->proto == IPPROTO_ICMP_) {
		__u16 oid = rd16(w->l4_old, 4), nid = w->ent.sport;

		wr16(w->l4_new, 4, nid);
		wr16(w->l4_new, 2, nat_csum2(rd16(w->l4_old, 2), oid, nid));
	} else {
		__u16 osp = rd16(w->l4_old, 0), odp = rd16(w->l4_old, 2);
		__u16 nsp = w->ent.dport, ndp = w->ent.sport;
		__u32 co = w->proto == IPPROTO_TCP_ ? 16 : 6;

		wr16(w->l4_new, 0, nsp);
		wr16(w->l4_new, 2, ndp);
		if (w->proto == IPPROTO_TCP_ ? tcp_full : rd16(w->l4_old, 6) != 0) {
			__u16 c = rd16(w->l4_old, co);

			c = nat_csum4(c, os, ns);
			c = nat_csum4(c, od, nd);
			c = nat_csum2(c, osp, nsp);
			c = nat_csum2(c, odp, ndp);
			if (w->proto == IPPROTO_UDP_ && c == 0)
				c = 0xffff;
			wr16(w->l4_new, co, c);
		}
	}

	/* The ICMP checksum covers the quote: the difference of what changed. */
	__s64 diff = bpf_csum_diff((__be32 *)w->iph_old, 20, (__be32 *)w->iph_new, 20, 0);

	if (diff < 0)
		return -1;
	if (tcp_full)
		diff = bpf_csum_diff((__be32 *)w->l4_old, 20, (__be32 *)w->l4_new, 20, (__u32)diff);
	else
		diff = bpf_csum_diff((__be32 *)w->l4_old, 8, (__be32 *)w->l4_new, 8, (__u32)diff);
	if (diff < 0)
		return -1;
	if (bpf_skb_store_bytes(skb, io, w->iph_new, 20, 0) < 0)
		return -1;
	if (tcp_full) {
		if (bpf_skb_store_bytes(skb, il4, w->l4_new, 20, 0) < 0)
			return -1;
	} else if (bpf_skb_store_bytes(skb, il4, w->l4_new, 8, 0) < 0) {
		return -1;
	}
	if (bpf_l4_csum_replace(skb, icmp + 2, 0, (__u32)diff, 0) < 0)
		return -1;

	/* The outer addresses the error concerns: those equal to the key's. */
	if (w->o_saddr == w->key.saddr && w->ent.saddr != w->key.saddr) {
		__be32 to = w->ent.saddr;

		if (bpf_l3_csum_replace(skb, NAT_IP_CSUM, w->o_saddr, to, 4) < 0 ||
		    bpf_skb_store_bytes(skb, NAT_IP_SADDR, &to, 4, 0) < 0)
			return -1;
	}
	if (w->o_daddr == w->key.daddr && w->ent.daddr != w->key.daddr) {
		__be32 to = w->ent.daddr;

		if (bpf_l3_csum_replace(skb, NAT_IP_CSUM, w->o_daddr, to, 4) < 0 ||
		    bpf_skb_store_bytes(skb, NAT_IP_DADDR, &to, 4, 0) < 0)
			return -1;
	}
	return 1;
}

/* ---- ARP --------------------------------------------------------------- */

/* An ARP request for a floating outside address of this network's router
 * becomes the reply, in place. 1 when it did, 0 otherwise, < 0 on failure. */
__attribute__((noinline)) int nat_arp(struct __sk_buff *skb, __u32 router, __u32 network)
{
	__u32 need = ETH_HLEN + sizeof(struct vnf_arp_eth);

	if (!skb || skb->len < need)
		return 0;
	if (pkt_end(skb) - pkt_data(skb) < (long)need && bpf_skb_pull_data(skb, need) < 0)
		return -1;
	void *data = pkt_data(skb);
	void *end = pkt_end(skb);
	struct ethhdr *eth = data;
	struct vnf_arp_eth *arp = data + ETH_HLEN;

	if ((void *)(arp + 1) > end)
		return 0;
	if (arp->ar_hrd != bpf_htons(1) || arp->ar_pro != bpf_htons(ETH_P_IP) || arp->ar_hln != ETH_ALEN ||
	    arp->ar_pln != 4 || arp->ar_op != bpf_htons(ARPOP_REQUEST))
		return 0;
	struct vnf_nat_float_key fk = { .router_id = router, .addr = arp->ar_tip, .which = VNF_NAT_FLOAT_BY_OUTSIDE };

	if (!bpf_map_lookup_elem(&vnf_nat_float, &fk))
		return 0;
	struct vnf_network *n = bpf_map_lookup_elem(&vnf_networks, &network);

	if (!n)
		return 0;
	__u8 mac[ETH_ALEN];

	__builtin_memcpy(mac, n->router_mac, ETH_ALEN);
	if (mac_is_zero(mac))
		return 0;
	/* Map lookups do not change the packet: eth/arp are still valid. */
	router_arp_reply(eth, arp, mac, fk.addr);
	return 1;
}

/* ---- the collector ----------------------------------------------------- */

__u32 nat_gc_owner;

struct nat_gc_walk {
	__u64 now;
	__u64 removed;
};

static long nat_gc_step(struct bpf_map *map, struct vnf_nat_key *k, struct vnf_nat_entry *e, struct nat_gc_walk *g)
{
	struct vnf_ct_key ck = e->ct;

	if (nat_ct_alive(&ck, g->now))
		return 0;
	if (bpf_map_delete_elem(map, k) == 0) {
		g->removed++;
		if (e->dir == 0)
			nat_src_put(k);
	}
	return 0;
}

static int nat_gc_run(void *map, int *key, struct vnf_nat_gc *g)
{
	struct nat_gc_walk w = { .now = bpf_ktime_get_ns() };

	bpf_for_each_map_elem(&vnf_nat_map, nat_gc_step, &w, 0);
	g->removed += w.removed;
	g->last_ns = w.now;
	bpf_timer_start(&g->timer, VNF_NAT_GC_INTERVAL_MS * 1000000ULL, 0);
	return 0;
}

/* Arms the collector with this object's program the first time this object
 * sees a packet, and again when it has not run for a while (as ct_gc_arm). */
static __always_inline void nat_gc_arm(__u64 now)
{
	__u32 zero = 0;
	struct vnf_nat_gc *g = bpf_map_lookup_elem(&vnf_nat_gc, &zero);

	if (!g)
		return;
	if (nat_gc_owner &&
	    (__s64)(now - g->last_ns) < (__s64)(VNF_NAT_GC_INTERVAL_MS * 1000000ULL * 8 + CT_NSEC_PER_SEC))
		return;
	nat_gc_owner = 1;
	g->last_ns = now;
	bpf_timer_init(&g->timer, &vnf_nat_gc, CLOCK_MONOTONIC_);
	bpf_timer_set_callback(&g->timer, nat_gc_run);
	bpf_timer_start(&g->timer, VNF_NAT_GC_INTERVAL_MS * 1000000ULL, 0);
}

/* ---- the program ------------------------------------------------------- */

/* Headers the rewrites touch, linear (helpers that write pull what they
 * need themselves; this spares them the copy in the common case). */
#define NAT_PULL_LEN (ETH_HLEN + 60 + 20)

static __always_inline int nat_pull(struct __sk_buff *skb)
{
	__u32 len = skb->len;

	if (len > NAT_PULL_LEN)
		len = NAT_PULL_LEN;
	if (pkt_end(skb) - pkt_data(skb) >= (long)len)
		return 0;
	return bpf_skb_pull_data(skb, len);
}

/* An address of the NAT's inside, or one of its public ones: what the world
 * never sends from. */
static __always_inline int nat_inside_addr(__u32 router, __be32 oip, __be32 a)
{
	struct vnf_nat_masq_key mk = { .prefixlen = 64, .router_id = bpf_htonl(router), .addr = a };
	struct vnf_nat_float_key fi = { .router_id = router, .addr = a, .which = VNF_NAT_FLOAT_BY_INSIDE };
	struct vnf_nat_float_key fo = { .router_id = router, .addr = a, .which = VNF_NAT_FLOAT_BY_OUTSIDE };

	return a == oip || bpf_map_lookup_elem(&vnf_nat_masq, &mk) || bpf_map_lookup_elem(&vnf_nat_float, &fi) ||
	       bpf_map_lookup_elem(&vnf_nat_float, &fo);
}

/* A non-first fragment: dropped when its datagram would need translation
 * here (its header, in the first fragment, was translated or would be). */
static __always_inline int nat_frag_needs(__u32 at, __u32 router, __be32 oip, __be32 s, __be32 d)
{
	if (at == VNF_NAT_AT_OUT_OUT) {
		struct vnf_nat_float_key fk = { .router_id = router, .addr = s, .which = VNF_NAT_FLOAT_BY_INSIDE };
		struct vnf_nat_masq_key mk = { .prefixlen = 64, .router_id = bpf_htonl(router), .addr = s };

		return bpf_map_lookup_elem(&vnf_nat_float, &fk) || bpf_map_lookup_elem(&vnf_nat_masq, &mk);
	}
	struct vnf_nat_float_key fk = { .router_id = router, .addr = d, .which = VNF_NAT_FLOAT_BY_OUTSIDE };

	return d == oip || bpf_map_lookup_elem(&vnf_nat_float, &fk);
}

SEC("tc")
int vnf_nat(struct __sk_buff *skb)
{
	__u32 network = md_network(skb);
	struct vnf_nat_net *np = bpf_map_lookup_elem(&vnf_nat_nets, &network);
	struct fw_pkt p = {};
	__u32 reason, at;

	if (!np)
		return vnf_next(skb, NAT);
	__u32 router = np->router_id, nflags = np->flags;
	__be32 oip = np->outside_ip;
	__u16 pmin = np->port_min, pmax = np->port_max;
	__u32 qsrc = np->max_per_source, qin = np->max_inbound;

	if (md_out(skb))
		at = (nflags & VNF_NAT_NET_OUTSIDE) ? VNF_NAT_AT_OUT_OUT : 0;
	else
		at = (nflags & VNF_NAT_NET_OUTSIDE) ? VNF_NAT_AT_OUT_IN :
		     (nflags & VNF_NAT_NET_INSIDE)  ? VNF_NAT_AT_IN_IN : 0;
	if (!at)
		return vnf_next(skb, NAT);
	__u64 now = bpf_ktime_get_ns();

	nat_gc_arm(now);

	__be16 h_proto;

	if (bpf_skb_load_bytes(skb, 12, &h_proto, sizeof(h_proto)) < 0)
		return vnf_drop(skb, NAT, VNF_R_DROP_MALFORMED);
	if (h_proto == bpf_htons(ETH_P_ARP)) {
		if (at != VNF_NAT_AT_OUT_IN)
			return vnf_next(skb, NAT);
		int r = nat_arp(skb, router, network);

		if (r < 0)
			return vnf_drop(skb, NAT, VNF_R_DROP_MALFORMED);
		if (r > 0)
			return vnf_forward_to_port(skb, NAT, VNF_R_NAT_ARP_REPLY, md_in(skb));
		return vnf_next(skb, NAT);
	}
	if (h_proto != bpf_htons(ETH_P_IP))
		return vnf_next(skb, NAT);
	if (nat_pull(skb) < 0)
		return vnf_drop(skb, NAT, VNF_R_DROP_MALFORMED);
	reason = fw_parse(skb, &p);
	if (reason)
		return vnf_drop(skb, NAT, reason);
	/* The world never sends as the inside: not from a masqueraded prefix
	 * (the inside networks and their gateways), a floating address (either
	 * side), nor the outside address itself. An uplink has no identity
	 * check of its own; without this, a host out there could reach a
	 * floating or forwarded host as another tenant (and have its replies
	 * sent into that tenant), or forge ICMP from the inside gateway. */
	if (at == VNF_NAT_AT_OUT_IN && nat_inside_addr(router, oip, p.saddr))
		return vnf_drop(skb, NAT, VNF_R_DROP_SPOOF_IP);

	if (p.kind == FW_K_FRAG) {
		if (nat_frag_needs(at, router, oip, p.saddr, p.daddr))
			return vnf_drop(skb, NAT, VNF_R_DROP_UNSUPPORTED);
		goto untranslated;
	}
	if (p.kind != FW_K_PORTS && p.kind != FW_K_ECHO_REQ && p.kind != FW_K_ECHO_REP && p.kind != FW_K_ICMP_ERR)
		goto untranslated;

	struct nat_work *w = nat_work_get();

	if (!w)
		return vnf_drop(skb, NAT, VNF_R_DROP_MALFORMED);
	w->now = now;
	w->len = skb->len;
	w->l4off = ETH_HLEN + p.hlen;
	w->l4len = p.tot - p.hlen;
	w->outside_ip = oip;
	w->router_id = router;
	w->port_min = pmin;
	w->port_max = pmax;
	w->max_per_source = qsrc;
	w->max_inbound = qin;
	w->at = at;
	w->first_frag = p.first_frag;
	w->key.zone = VNF_NAT_ZONE(router);
	w->key.at = at;
	w->key._pad[0] = 0;
	w->key._pad[1] = 0;

	if (p.kind == FW_K_ICMP_ERR) {
		/* A redirect through NAT would name a new gateway for an inside
		 * host, chosen by whoever sent it: never passed (Linux drops
		 * redirects about NATed connections). */
		if (p.cdport == FW_ICMP_REDIRECT)
			return vnf_drop(skb, NAT, VNF_R_DROP_UNSUPPORTED);
		/* The quote travelled the other way: its tuple reversed. */
		if (!p.in_ok)
			goto untranslated;
		if (p.in_proto == IPPROTO_ICMP_ ? p.in_echo == 0xff :
		    (p.in_proto != IPPROTO_TCP_ && p.in_proto != IPPROTO_UDP_))
			goto untranslated;
		w->proto = p.in_proto;
		w->echo = p.in_proto == IPPROTO_ICMP_;
		w->key.proto = p.in_proto;
		w->key.saddr = p.in_daddr;
		w->key.daddr = p.in_saddr;
		if (w->echo) {
			w->key.sport = p.in_sport;
			w->key.dport = 0;
		} else {
			w->key.sport = p.in_dport;
			w->key.dport = p.in_sport;
		}
		w->o_saddr = p.saddr;
		w->o_daddr = p.daddr;
		w->hlen = p.hlen;
		w->tot = p.tot;
		int r = nat_icmp_error(skb);

		/* Leaving through the outside, the error may be the router's about a
		 * packet it got after DNAT (a TTL or an unreachable target of a
		 * forward or floating address): the quote then matches the
		 * connection's reply entry, which sits at IN_IN. */
		if (r == 0 && at == VNF_NAT_AT_OUT_OUT) {
			w->key.at = VNF_NAT_AT_IN_IN;
			r = nat_icmp_error(skb);
		}
		if (r < 0)
			return vnf_drop(skb, NAT, VNF_R_DROP_MALFORMED);
		if (r > 0) {
			/* Translated, it still must not leave with an inside source
			 * (an inside host forging an error about another's
			 * connection keeps its own address outside). */
			__be32 osrc;

			if (at == VNF_NAT_AT_OUT_OUT &&
			    (bpf_skb_load_bytes(skb, NAT_IP_SADDR, &osrc, 4) < 0 || nat_frag_needs(at, router, oip, osrc, 0)))
				return vnf_drop(skb, NAT, VNF_R_DROP_NAT_UNMAPPED);
			return vnf_next_reason(skb, NAT, VNF_R_NAT_ICMP_ERROR);
		}
		goto untranslated;
	}

	w->proto = p.proto;
	w->echo = p.proto == IPPROTO_ICMP_;
	w->key.proto = p.proto;
	w->key.saddr = p.saddr;
	w->key.daddr = p.daddr;
	w->key.sport = p.sport;
	w->key.dport = p.dport;

	int created = 0;
	int e = nat_established(skb); /* never a non-first fragment: those were handled above */

	if (e == NAT_E_RETRY) {
		ct_stat(VNF_CT_S_RETRY);
		return vnf_run_at(skb, NAT, md_pos(skb));
	}
	if (e == NAT_E_BAD)
		return vnf_drop(skb, NAT, VNF_R_DROP_MALFORMED);
	if (e == NAT_E_NEW) {
		/* Only a bare SYN opens a TCP connection, only an echo request an ICMP one. */
		if (p.kind == FW_K_ECHO_REP)
			goto untranslated;
		if (p.proto == IPPROTO_TCP_ && (p.tcp_flags & (TCPF_SYN_ | TCPF_ACK_ | TCPF_RST_ | TCPF_FIN_)) != TCPF_SYN_)
			goto untranslated;
		int c = nat_create(skb);

		if (c == NAT_C_NONE)
			goto untranslated;
		if (c >= VNF_R_DROP_BASE)
			return vnf_drop(skb, NAT, (__u32)c & (VNF_MAX_REASONS - 1));
		if (c != NAT_C_MADE && c != NAT_C_RACED)
			return vnf_drop(skb, NAT, VNF_R_DROP_MALFORMED);
		created = c == NAT_C_MADE;
		if (created) /* the packet as it came, before its translation */
			vnf_mon_new(skb, NAT, VNF_R_NAT_NEW, 0, 0, 0);
	}
	int x = nat_apply(skb);

	if (x < 0)
		return vnf_drop(skb, NAT, VNF_R_DROP_MALFORMED);
	if (created)
		vnf_count(NAT, VNF_R_NAT_NEW, skb->len);
	if (x & NAT_X_SNAT)
		return vnf_next_reason(skb, NAT, VNF_R_NAT_SNAT);
	if (x & NAT_X_DNAT)
		return vnf_next_reason(skb, NAT, VNF_R_NAT_DNAT);

untranslated:
	/* Never leak an inside address: what leaves through the outside
	 * from a source this NAT translates, yet found nothing to translate
	 * it by (a TCP segment or an echo reply of no known connection, an
	 * ICMP error about nothing translated, another IP protocol), is
	 * dropped. Linux leaves such INVALID packets untranslated, for the
	 * filter to drop. */
	if (at == VNF_NAT_AT_OUT_OUT && nat_frag_needs(at, router, oip, p.saddr, p.daddr))
		return vnf_drop(skb, NAT, VNF_R_DROP_NAT_UNMAPPED);
	/* Nor inside addresses in the quote of an error nothing translated. */
	if (at == VNF_NAT_AT_OUT_OUT && p.kind == FW_K_ICMP_ERR && p.in_ok &&
	    (nat_frag_needs(at, router, oip, p.in_saddr, 0) || nat_frag_needs(at, router, oip, p.in_daddr, 0)))
		return vnf_drop(skb, NAT, VNF_R_DROP_NAT_UNMAPPED);
	return vnf_next(skb, NAT);
}

char LICENSE[] SEC("license") = "GPL";
