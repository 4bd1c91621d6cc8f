// SPDX-License-Identifier: GPL-2.0
/*
 * firewall VNF (slot VNF_ID_FIREWALL): a stateful IPv4 firewall per port.
 *
 * It runs first in both chains of a port that has one:
 *   chain_in  [firewall, bridge]   packets FROM the container: md.out == 0,
 *                                  point = md.in, direction VNF_DIR_RX (the
 *                                  container's egress policy)
 *   chain_out [firewall, deliver]  packets TO the container: md.out != 0,
 *                                  point = md.out, direction VNF_DIR_TX (its
 *                                  ingress policy)
 *
 *   binding (point, dir) -> rule set; none -> drop NO_POLICY (fail closed)
 *   ARP passes; IPv6 and every other non-IPv4 frame is dropped: the policy is
 *     IPv4-only and must not be bypassed by another ethertype
 *   conntrack (zone = point, keys in the original direction): a packet of a
 *     tracked connection passes (ESTABLISHED / REPLY), a TCP segment only if
 *     its flags are valid and it is in window (bpf/include/vnf/ct_tcp.h, as
 *     Linux's conntrack), an ICMP error about one passes (RELATED); an entry
 *     allowed by an older version of the rule set is re-classified against
 *     the current one first and cut if now denied
 *   new connections: TCP must open with a bare SYN; the rule set classifies
 *     (tuple space search, see bpf/abi/firewall.h); allow -> entry + pass
 *     (or DROP_CT_FULL when the port is at its quota of new connections, or
 *     the table is full and nothing unprotected could be early-dropped:
 *     bpf/include/vnf/ct_table.h), drop -> drop, reject -> TCP RST / ICMP
 *     port unreachable in place of the packet, sent back to its sender
 *   a broadcast/multicast copy flooded to a port's egress hook opens no
 *     connection in that port's zone (allowed, untracked: fw_flooded_to_all)
 *   an ASSURED connection (TCP after the handshake, UDP after a reply) asks
 *     for a place in its port's quota of protected connections, which are
 *     never early-dropped
 *
 * Fragments: a first fragment (offset 0, MF) is handled as a whole packet
 * and, when it passes, its ports are remembered by (zone, addresses, IP id,
 * protocol) for 30 s (vnf_fw_frags); later fragments of the datagram are
 * then handled with those ports, like the first (same connection, same
 * verdict, no TCP state change). A non-first fragment whose first fragment
 * was not seen is classified on addresses and protocol only: only rules that
 * name no ports can match it, it creates no entry, and a reject drops it
 * without an answer. TCP fragments at offset 8 (RFC 1858) and L4 headers cut
 * by fragmentation are dropped as malformed.
 *
 * Every path ends in exactly one verdict (the exits at the bottom, the
 * reject answer, or a hand-off that counts its own failure); tcx honours
 * only TC_ACT_OK/SHOT/REDIRECT, so nothing else is returned.
 */
#include "vnf/chain.h"
#include "vnf/conntrack.h"
#include "vnf/fw_parse.h"
#include "vnf/fw_reject.h"
#include "abi/firewall.h"
#include "abi/bridge.h"

#define FW VNF_ID_FIREWALL

#define FW_FRAGS_MAX 8192
#define FW_FRAG_TTL_NS (30ULL * CT_NSEC_PER_SEC) /* Linux's ipfrag_time */

/* A rule set whose shape list has a hole (written incompletely): the packet
 * is dropped as NO_POLICY, never classified against half a rule set. */
#define FW_RULE_ERR 0xfffffffeU

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, VNF_FW_BIND_MAX);
	__type(key, struct vnf_fw_bind_key);
	__type(value, struct vnf_fw_bind);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} vnf_fw_bind SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, VNF_FW_SETS_MAX);
	__type(key, __u32);
	__type(value, struct vnf_fw_set);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} vnf_fw_sets SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, VNF_FW_TUPLES_MAX);
	__type(key, struct vnf_fw_tuple_key);
	__type(value, struct vnf_fw_tuple);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} vnf_fw_tuples SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, VNF_FW_CLS_MAX);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct vnf_fw_cls_key);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} vnf_fw_cls SEC(".maps");

/* An LPM trie must be created with BPF_F_NO_PREALLOC. */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, VNF_FW_PORTS_MAX);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct vnf_fw_port_key);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} vnf_fw_ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, VNF_FW_RULES_MAX);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct vnf_fw_rule_key);
	__type(value, struct vnf_fw_rule);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} vnf_fw_rules SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, VNF_FW_STATS_MAX);
	__uint(map_flags, BPF_F_NO_PREALLOC); /* allocated as rules are hit, not up front */
	__type(key, __u32);
	__type(value, struct vnf_counter);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} vnf_fw_stats SEC(".maps");

/* First fragments that passed, for the rest of their datagram. Kernel-only
 * state (the control plane never writes it); LRU, so it needs no cleanup. */
struct fw_frag_key {
	__u32 zone;
	__be32 saddr;
	__be32 daddr;
	__be16 id;
	__u8 proto;
	__u8 _pad;
};
_Static_assert(sizeof(struct fw_frag_key) == 16, "fw_frag_key");

struct fw_frag {
	__u64 seen_ns;
	__be16 sport; /* conntrack ports, as struct fw_pkt */
	__be16 dport;
	__u16 csport; /* classification ports */
	__u16 cdport;
	__u8 kind;
	__u8 _pad[7];
};
_Static_assert(sizeof(struct fw_frag) == 24, "fw_frag");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, FW_FRAGS_MAX);
	__type(key, struct fw_frag_key);
	__type(value, struct fw_frag);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} vnf_fw_frags SEC(".maps");

/* Scratch space of one packet's run, per CPU: the reject answers and the
 * fragment record are assembled here instead of on the stack, whose 512
 * bytes the main frame and the classifier's frames share. A tc program runs
 * to its end on one CPU without another run of it in between, so the buffer
 * is ours from fill to use. Not pinned: nothing in it outlives a packet. */
union fw_scratch {
	struct vnf_rst_frame rst;
	struct icmp_err_frame icmp;
	struct {
		struct fw_frag_key k;
		struct fw_frag v;
	} frag;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, union fw_scratch);
} fw_scratch SEC(".maps");

/* ---- classification ---------------------------------------------------- */

/* What the rule set classifies on. */
struct fw_flow {
	__be32 saddr;
	__be32 daddr;
	__u16 sport; /* host order; ICMP: 0 and the type */
	__u16 dport;
	__u8 proto;
	__u8 has_ports; /* 0: a fragment without its L4 header: port class NONE */
	__u8 _pad[2];
};

struct fw_cls_ctx {
	struct vnf_fw_cls_key key;
	__be32 saddr;
	__be32 daddr;
	__u32 best;
	__u32 ruleset;
	__u16 sclass;
	__u16 dclass;
	__u16 pclass;
	__u8 proto;
	__u8 _pad;
};

static __always_inline __u32 fw_pclass(__u8 proto)
{
	return proto == IPPROTO_ICMP_ ? VNF_FW_PC_ICMP :
	       proto == IPPROTO_TCP_  ? VNF_FW_PC_TCP :
	       proto == IPPROTO_UDP_  ? VNF_FW_PC_UDP : VNF_FW_PC_OTHER;
}

/* Network-order mask of a prefix length 0..32, without a branch or an
 * undefined 32-bit shift: the low word of ~0 << 32 shifted right by plen. */
static __always_inline __be32 fw_mask(__u8 plen)
{
	return bpf_htonl((__u32)(0xffffffff00000000ULL >> (plen & 63)));
}

/* The port class of a port in one field of a rule set (one LPM lookup). */
static __always_inline __u16 fw_port_class(__u32 ruleset, __u16 field, __u16 port)
{
	struct vnf_fw_port_key k = {
		.prefixlen = 64, /* 32 bits ruleset + 16 field + a whole port */
		.ruleset = bpf_htonl(ruleset),
		.field = bpf_htons(field),
		.port = bpf_htons(port),
	};
	__u32 *c = bpf_map_lookup_elem(&vnf_fw_ports, &k);

	return c ? (__u16)*c : VNF_FW_PORT_NONE;
}

/*
 * One shape (bpf_loop callback): shapes come in ascending min_rule, so once
 * a shape's first rule is not below the best match found, no later shape can
 * improve it. Returns 1 to stop the loop.
 */
static long fw_cls_step(__u32 i, void *data)
{
	struct fw_cls_ctx *c = data;
	struct vnf_fw_tuple_key tk = { .ruleset = c->ruleset, .pclass = c->pclass, .index = i };
	struct vnf_fw_tuple *t = bpf_map_lookup_elem(&vnf_fw_tuples, &tk);

	if (!t) {
		c->best = FW_RULE_ERR;
		return 1;
	}
	if (t->min_rule >= c->best)
		return 1;
	if (t->proto && t->proto != c->proto)
		return 0; /* the OTHER class lists shapes of several protocols */
	c->key.tuple = t->tuple;
	c->key.proto = t->proto;
	c->key.saddr = c->saddr & fw_mask(t->src_plen);
	c->key.daddr = c->daddr & fw_mask(t->dst_plen);
	c->key.sport = (t->flags & VNF_FW_T_SPORT_ANY) ? 0 : c->sclass;
	c->key.dport = (t->flags & VNF_FW_T_DPORT_ANY) ? 0 : c->dclass;

	__u32 *r = bpf_map_lookup_elem(&vnf_fw_cls, &c->key);

	if (r && *r < c->best)
		c->best = *r;
	return 0;
}

/*
 * The index of the first rule of `ruleset` that matches, VNF_FW_DEFAULT_RULE
 * when none does, FW_RULE_ERR when the rule set is incomplete. Not inlined:
 * verified once per call site instead of once per path into it, and its
 * stack is not added to the reject path's. bpf_loop verifies the callback
 * once, whatever the count; the count is capped at VNF_FW_MAX_TUPLES, the
 * compiler's limit, so a corrupt ntuples cannot make a packet loop long.
 */
static __attribute__((noinline)) __u32 fw_classify(__u32 ruleset, __u32 ntuples, struct fw_flow *f)
{
	struct fw_cls_ctx c = {
		.key = { .ruleset = ruleset },
		.saddr = f->saddr,
		.daddr = f->daddr,
		.best = VNF_FW_DEFAULT_RULE,
		.ruleset = ruleset,
		.sclass = VNF_FW_PORT_NONE,
		.dclass = VNF_FW_PORT_NONE,
		.pclass = fw_pclass(f->proto),
		.proto = f->proto,
	};

	if (f->has_ports) {
		c.sclass = fw_port_class(ruleset, 0, f->sport);
		c.dclass = fw_port_class(ruleset, 1, f->dport);
	}
	if (ntuples > VNF_FW_MAX_TUPLES)
		ntuples = VNF_FW_MAX_TUPLES;
	/* Returns the iterations run, or -E2BIG/-EINVAL for a bad count or flags (not here). */
	if (bpf_loop(ntuples, fw_cls_step, &c, 0) < 0)
		return FW_RULE_ERR;
	return c.best;
}

struct fw_verdict {
	__u32 rule;
	__u32 counter;
	__u8 action;
};

/* The action and counter of a classification result; < 0 when the rule set
 * is incomplete (the caller drops NO_POLICY). Unknown actions drop. */
static __always_inline int fw_resolve(__u32 ruleset, const struct vnf_fw_set *set, __u32 rule, struct fw_verdict *v)
{
	if (rule == FW_RULE_ERR)
		return -1;
	v->rule = rule;
	if (rule == VNF_FW_DEFAULT_RULE) {
		v->counter = set->default_counter;
		v->action = set->default_action == VNF_FW_ALLOW ? VNF_FW_ALLOW : VNF_FW_DROP;
		return 0;
	}
	struct vnf_fw_rule_key rk = { .ruleset = ruleset, .index = rule };
	struct vnf_fw_rule *r = bpf_map_lookup_elem(&vnf_fw_rules, &rk);

	if (!r)
		return -1;
	v->counter = r->counter;
	v->action = r->action <= VNF_FW_REJECT ? r->action : VNF_FW_DROP;
	return 0;
}

/* Per-rule counter (per CPU: no atomics). */
static __always_inline void fw_count_rule(__u32 counter, __u32 bytes)
{
	struct vnf_counter *c = bpf_map_lookup_elem(&vnf_fw_stats, &counter);

	if (c) {
		c->packets++;
		c->bytes += bytes;
		return;
	}
	struct vnf_counter init = { .packets = 1, .bytes = bytes };
	/* BPF_NOEXIST: another CPU may have created it since; then this packet
	 * goes uncounted rather than resetting that CPU's slot. */
	bpf_map_update_elem(&vnf_fw_stats, &counter, &init, BPF_NOEXIST);
}

/* ---- conntrack lookups ------------------------------------------------- */

static __always_inline void fw_ct_key(struct vnf_ct_key *k, __u32 zone, __be32 s, __be32 d, __be16 sp, __be16 dp,
				      __u8 proto)
{
	k->zone = zone;
	k->saddr = s;
	k->daddr = d;
	k->sport = sp;
	k->dport = dp;
	k->proto = proto;
	k->_pad[0] = 0;
	k->_pad[1] = 0;
	k->_pad[2] = 0;
}

/* A live entry, or NULL. An expired one is removed and counted on the way
 * (ct_kill re-checks under its lock; whoever removes it counts): the packet
 * is then handled as if the connection had never existed. One being removed
 * by another CPU (DYING) is as good as gone. */
static __always_inline struct vnf_ct_entry *fw_ct_find(struct vnf_ct_key *k, __u64 now, __u32 bytes)
{
	struct vnf_ct_entry *e = bpf_map_lookup_elem(&vnf_ct, k);

	if (!e)
		return NULL;
	if (e->flags & VNF_CT_F_DYING)
		return NULL;
	if (ct_expired(e, now)) {
		if (ct_kill(k, e, CT_KILL_EXPIRED, now))
			vnf_count(FW, VNF_R_CT_EXPIRED, bytes);
		return NULL;
	}
	return e;
}

/* The packet's entry went away (or was reused) while we held it: run the
 * firewall again for it, to find what is there now. Counted as a conntrack
 * event; the hop count bounds the repeats. */
static __always_inline int fw_ct_retry(struct __sk_buff *skb)
{
	ct_stat(VNF_CT_S_RETRY);
	return vnf_run_at(skb, FW, md_pos(skb));
}

/* ---- fragments --------------------------------------------------------- */

static __always_inline void fw_frag_key(struct fw_frag_key *k, __u32 zone, const struct fw_pkt *p)
{
	k->zone = zone;
	k->saddr = p->saddr;
	k->daddr = p->daddr;
	k->id = p->ip_id;
	k->proto = p->proto;
	k->_pad = 0;
}

/* Remembers the ports of a first fragment that passed. Key and value are
 * assembled in the per-CPU scratch buffer, not on the main frame's stack. */
static __always_inline void fw_frag_record(__u32 zone, const struct fw_pkt *p, __u64 now)
{
	__u32 zero = 0;
	union fw_scratch *s = bpf_map_lookup_elem(&fw_scratch, &zero);

	if (!s)
		return;
	fw_frag_key(&s->frag.k, zone, p);
	s->frag.v.seen_ns = now;
	s->frag.v.sport = p->sport;
	s->frag.v.dport = p->dport;
	s->frag.v.csport = p->csport;
	s->frag.v.cdport = p->cdport;
	s->frag.v.kind = p->kind;
	bpf_map_update_elem(&vnf_fw_frags, &s->frag.k, &s->frag.v, BPF_ANY);
}

/* A non-first fragment takes the ports and kind of its first fragment, if
 * that passed within the last 30 s; otherwise it stays FW_K_FRAG. */
static __always_inline void fw_frag_resolve(__u32 zone, struct fw_pkt *p, __u64 now)
{
	struct fw_frag_key k;

	fw_frag_key(&k, zone, p);
	struct fw_frag *v = bpf_map_lookup_elem(&vnf_fw_frags, &k);

	if (!v || (__s64)(now - v->seen_ns) > (__s64)FW_FRAG_TTL_NS)
		return;
	p->sport = v->sport;
	p->dport = v->dport;
	p->csport = v->csport;
	p->cdport = v->cdport;
	p->kind = v->kind;
}

/* ---- reject ------------------------------------------------------------ */

/* Builds the answer of a reject in place of the packet (its own subprogram
 * and the scratch buffer: none of it is added to the main frame's stack). 0
 * when the packet now holds the answer, < 0 when none is due or a helper
 * failed. */
static __attribute__((noinline)) int fw_reject_build(struct __sk_buff *skb, __u32 tcp, __u32 hlen, __u32 tot)
{
	__u32 zero = 0;
	union fw_scratch *a = bpf_map_lookup_elem(&fw_scratch, &zero);

	if (!a)
		return -1;
	if (tcp)
		return fw_rst_build(skb, &a->rst);
	return fw_unreach_build(skb, &a->icmp, hlen & 0x3f, tot & 0xffff);
}

/* A broadcast or multicast copy the bridge flooded to this port's tc egress
 * hook: it is allowed through (the rules said so) but opens no connection in
 * this port's zone. Every port of the network gets such a copy; tracking them
 * would let one sender fill every port's quota, and give each container an
 * entry for a flow that was never its own. Unicast copies reach this far only
 * when addressed to the port (vnf_entry_out drops the rest: NOT_FOR_PORT). */
static __always_inline int fw_flooded_to_all(struct __sk_buff *skb)
{
	__u8 dst[ETH_ALEN];

	if (!(md_flags(skb) & VNF_MD_F_EGRESS_HOOK))
		return 0;
	if (bpf_skb_load_bytes(skb, 0, dst, sizeof(dst)) < 0)
		return 1;
	return mac_is_multicast(dst);
}

/* ---- the program ------------------------------------------------------- */

SEC("tc")
int vnf_firewall(struct __sk_buff *skb)
{
	__u32 out = md_out(skb);
	__u32 in = md_in(skb);
	__u32 point = out ? out : in;
	__u32 dir = out ? VNF_DIR_TX : VNF_DIR_RX;
	__u32 reason;
	__u64 now = 0;
	struct fw_pkt p = {};
	struct fw_flow f = {};
	struct fw_verdict v = {};
	struct vnf_ct_key ck = {};
	/* The rule a drop is due to, for the monitor's event. */
	__u32 ev_known = 0, ev_set = 0, ev_rule = 0;

	/* 1. The rule set of this port and direction. */
	struct vnf_fw_bind_key bk = { .ifindex = point, .dir = dir };
	struct vnf_fw_bind *b = bpf_map_lookup_elem(&vnf_fw_bind, &bk);

	if (!b) {
		reason = VNF_R_DROP_NO_POLICY;
		goto drop;
	}
	__u32 ruleset = b->ruleset;
	struct vnf_fw_set *set = bpf_map_lookup_elem(&vnf_fw_sets, &ruleset);

	if (!set || (set->flags & VNF_FW_SET_F_INCOMPLETE)) {
		reason = VNF_R_DROP_NO_POLICY;
		goto drop;
	}
	/* What conntrack entries remember: the set's content, not its id (a
	 * standby id is rewritten with other content before it is bound again). */
	__u32 version = set->version;

	/* 2. ARP passes; anything but IPv4 is dropped. */
	__be16 h_proto;

	if (bpf_skb_load_bytes(skb, 12, &h_proto, sizeof(h_proto)) < 0) {
		reason = VNF_R_DROP_MALFORMED;
		goto drop;
	}
	if (h_proto == bpf_htons(ETH_P_ARP)) {
		reason = VNF_R_FW_NOT_IP;
		goto pass;
	}
	if (h_proto != bpf_htons(ETH_P_IP)) {
		reason = VNF_R_DROP_UNSUPPORTED;
		goto drop;
	}

	/* 3. Headers. */
	reason = fw_parse(skb, &p);
	if (reason)
		goto drop;
	now = bpf_ktime_get_ns(); /* CLOCK_MONOTONIC, the clock of last_seen_ns */
	__u32 len = skb->len;
	int nonfirst = p.kind == FW_K_FRAG;

	if (nonfirst)
		fw_frag_resolve(point, &p, now);

	/* 4./5. Conntrack. The tuple looked up is the packet's own, or for an
	 * ICMP error the quoted packet's; `rel` says whether it matched as the
	 * entry's original (0) or reply (1) direction. */
	int related = p.kind == FW_K_ICMP_ERR;
	__be32 ts = p.saddr, td = p.daddr;
	__be16 tsp = p.sport, tdp = p.dport;
	__u8 tproto = p.proto, tkind = p.kind;

	if (related) {
		/* The error goes back to the sender of the quoted packet (as
		 * nf_conntrack_inet_error checks); anything else is forged. */
		if (!p.in_ok || p.daddr != p.in_saddr) {
			reason = VNF_R_DROP_CT_INVALID;
			goto drop;
		}
		ts = p.in_saddr;
		td = p.in_daddr;
		tsp = p.in_sport;
		tdp = p.in_dport;
		tproto = p.in_proto;
		tkind = p.in_proto == IPPROTO_ICMP_ ? (p.in_echo == ICMP_ECHO_ ? FW_K_ECHO_REQ :
						      p.in_echo == ICMP_ECHOREPLY_ ? FW_K_ECHO_REP : FW_K_ICMP) :
			p.in_proto == IPPROTO_TCP_ || p.in_proto == IPPROTO_UDP_ ? FW_K_PORTS : FW_K_OTHER;
	}

	struct vnf_ct_entry *e = NULL;
	int rel = 0;

	/* Original direction: the tuple as is. Echo replies never are. */
	if (tkind == FW_K_PORTS || tkind == FW_K_OTHER || tkind == FW_K_ECHO_REQ) {
		fw_ct_key(&ck, point, ts, td, tsp, tdp, tproto);
		e = fw_ct_find(&ck, now, len);
	}
	/* Reply direction: addresses (and ports) swapped; echo {id, 0} keeps
	 * its ports. Echo requests never are replies. */
	if (!e && (tkind == FW_K_PORTS || tkind == FW_K_OTHER || tkind == FW_K_ECHO_REP)) {
		if (tkind == FW_K_ECHO_REP)
			fw_ct_key(&ck, point, td, ts, tsp, tdp, tproto);
		else
			fw_ct_key(&ck, point, td, ts, tdp, tsp, tproto);
		e = fw_ct_find(&ck, now, len);
		rel = 1;
	}

	if (e) {
		/* The error travels against the packet it quotes. */
		int pkt_reply = related ? !rel : rel;
		__u32 edir = e->dir;

		/* The original direction passes the hook the connection was
		 * allowed at, replies the other one. A packet with the tuple of
		 * a connection in the wrong direction is forged (e.g. another
		 * host sending as the container's own address). */
		if ((pkt_reply == 0) != (edir == dir)) {
			reason = VNF_R_DROP_CT_INVALID;
			goto drop;
		}

		/* Revalidation: the policy that allowed the connection changed. */
		__u32 cur = ruleset;
		__u32 cver = version;
		struct vnf_fw_set *cset = set;

		if (edir != dir) {
			struct vnf_fw_bind_key ek = { .ifindex = point, .dir = edir };
			struct vnf_fw_bind *eb = bpf_map_lookup_elem(&vnf_fw_bind, &ek);

			if (!eb) {
				reason = VNF_R_DROP_NO_POLICY;
				goto drop;
			}
			cur = eb->ruleset;
			cset = bpf_map_lookup_elem(&vnf_fw_sets, &cur);
			if (!cset || (cset->flags & VNF_FW_SET_F_INCOMPLETE)) {
				reason = VNF_R_DROP_NO_POLICY;
				goto drop;
			}
			cver = cset->version;
		}
		if (e->ruleset != cver) {
			/* The connection's first packet, as the rule set saw it. */
			f.saddr = ck.saddr;
			f.daddr = ck.daddr;
			f.proto = ck.proto;
			f.has_ports = 1;
			if (ck.proto == IPPROTO_TCP_ || ck.proto == IPPROTO_UDP_) {
				f.sport = bpf_ntohs(ck.sport);
				f.dport = bpf_ntohs(ck.dport);
			} else if (ck.proto == IPPROTO_ICMP_) {
				f.dport = ICMP_ECHO_; /* only echo requests create ICMP entries */
			}
			__u32 rule = fw_classify(cur, cset->ntuples[fw_pclass(f.proto) & 3], &f);

			if (fw_resolve(cur, cset, rule, &v) < 0) {
				reason = VNF_R_DROP_NO_POLICY;
				goto drop;
			}
			if (v.action != VNF_FW_ALLOW) {
				fw_count_rule(v.counter, len);
				ct_kill(&ck, e, 0, 0);
				ev_known = 1;
				ev_set = cur;
				ev_rule = v.rule;
				reason = VNF_R_DROP_POLICY;
				goto drop;
			}
			/* rule first, then ruleset: a CPU that sees the new
			 * ruleset skips revalidation, and the rule it may still
			 * see old is informational. */
			e->rule = v.rule;
			e->ruleset = cver;
			vnf_count(FW, VNF_R_CT_REVALIDATED, len);
		}
		if (related) {
			reason = VNF_R_FW_RELATED;
			goto pass;
		}
		if (ck.proto == IPPROTO_TCP_ && !nonfirst) {
			/* The segment against the connection's state and windows
			 * (bpf/include/vnf/ct_tcp.h). */
			if (fw_tcp_seg(skb, ETH_HLEN + p.hlen, p.tot - p.hlen, p.first_frag) < 0) {
				reason = VNF_R_DROP_MALFORMED;
				goto drop;
			}
			__u32 act = ct_tcp_packet(e, &ck, pkt_reply);

			if (act & CT_TCP_GONE)
				return fw_ct_retry(skb);
			if (act & CT_TCP_REOPEN) {
				/* A SYN reusing the tuple of a closed connection:
				 * the old entry goes and the packet runs through the
				 * firewall again (Linux: nf_ct_kill + NF_REPEAT), to
				 * be judged as a new connection by this direction's
				 * policy (the roles may have switched), never passed
				 * as part of the old one. Counts its verdict there;
				 * the hop count bounds the repeats. */
				ct_kill(&ck, e, CT_KILL_MARKED, 0);
				return vnf_run_at(skb, FW, md_pos(skb));
			}
			if (!(act & CT_TCP_PASS)) {
				reason = VNF_R_DROP_CT_INVALID;
				goto drop;
			}
			ct_tcp_touch(e, now, len, pkt_reply, act & CT_TCP_REFRESH);
			if (act & CT_TCP_KILL)
				ct_kill(&ck, e, CT_KILL_MARKED, 0);
			else if (act & CT_TCP_ASSURE)
				ct_assure(&ck, e);
		} else if (ck.proto == IPPROTO_TCP_) {
			ct_tcp_touch(e, now, len, pkt_reply, 1); /* a later fragment: no header to judge */
		} else {
			ct_touch(e, now, len, pkt_reply);
			/* Replied: ASSURED; protected once its zone has room. */
			if ((e->flags & (VNF_CT_F_ASSURED | VNF_CT_F_PROTECTED)) == VNF_CT_F_ASSURED)
				ct_assure(&ck, e);
		}
		reason = pkt_reply ? VNF_R_FW_REPLY : VNF_R_FW_ESTABLISHED;
		goto pass;
	}

	/* 6. A new connection. */
	if (related) {
		reason = VNF_R_DROP_CT_INVALID; /* an error about nothing we track */
		goto drop;
	}
	/* Only a bare SYN opens a TCP connection (ECE/CWR/PSH/URG aside): an
	 * ACK, RST or FIN without an entry belongs to a connection we do not
	 * know (or that expired), and SYN+ACK is a reply. A non-first fragment
	 * whose first was seen carries no flags (0), so it never opens one;
	 * one whose first was not seen is classified on addresses only. */
	if (p.proto == IPPROTO_TCP_ && p.kind != FW_K_FRAG &&
	    (p.tcp_flags & (TCPF_SYN_ | TCPF_ACK_ | TCPF_RST_ | TCPF_FIN_)) != TCPF_SYN_) {
		reason = VNF_R_DROP_CT_INVALID;
		goto drop;
	}
	f.saddr = p.saddr;
	f.daddr = p.daddr;
	f.sport = p.csport;
	f.dport = p.cdport;
	f.proto = p.proto;
	f.has_ports = p.kind != FW_K_FRAG;

	__u32 rule = fw_classify(ruleset, set->ntuples[fw_pclass(p.proto) & 3], &f);

	if (fw_resolve(ruleset, set, rule, &v) < 0) {
		reason = VNF_R_DROP_NO_POLICY;
		goto drop;
	}
	fw_count_rule(v.counter, len);
	vnf_mon_verdict(skb, FW, v.action == VNF_FW_ALLOW ? VNF_MON_A_ALLOW : v.action == VNF_FW_REJECT ? VNF_MON_A_REJECT : VNF_MON_A_DROP,
			v.action == VNF_FW_ALLOW ? VNF_R_FW_ALLOW : v.action == VNF_FW_REJECT ? VNF_R_DROP_REJECT : VNF_R_DROP_POLICY,
			ruleset, v.rule);
	if (v.action == VNF_FW_ALLOW) {
		/* Echo requests, TCP, UDP and other IP protocols are tracked
		 * (the packet's tuple is the original direction); other ICMP
		 * and fragments without their first are not. */
		if ((p.kind == FW_K_PORTS || p.kind == FW_K_OTHER || p.kind == FW_K_ECHO_REQ) &&
		    !fw_flooded_to_all(skb)) {
			fw_ct_key(&ck, point, p.saddr, p.daddr, p.sport, p.dport, p.proto);
			/* A TCP entry starts from its SYN (sequence, window, options). */
			if (p.proto == IPPROTO_TCP_ && fw_tcp_seg(skb, ETH_HLEN + p.hlen, p.tot - p.hlen, p.first_frag) < 0) {
				reason = VNF_R_DROP_MALFORMED;
				goto drop;
			}
			if (ct_create(&ck, version, v.rule, dir, len) < 0) {
				reason = VNF_R_DROP_CT_FULL;
				goto drop;
			}
			vnf_count(FW, VNF_R_CT_NEW, len);
			vnf_mon_new(skb, FW, VNF_R_CT_NEW, VNF_MON_F_RULE, ruleset, v.rule);
		}
		reason = VNF_R_FW_ALLOW;
		goto pass;
	}
	ev_known = 1;
	ev_set = ruleset;
	ev_rule = v.rule;
	if (v.action == VNF_FW_REJECT)
		goto reject;
	reason = VNF_R_DROP_POLICY;
	goto drop;

reject:
	/* No answer about a fragment without its header, nor from a tc egress
	 * hook (a flooded copy: bpf_redirect_peer works only at ingress, and
	 * every port the flood reached would answer). */
	if (nonfirst || (md_flags(skb) & VNF_MD_F_EGRESS_HOOK)) {
		reason = VNF_R_DROP_REJECT;
		goto drop;
	}
	/* The packet becomes the answer: its event first, as it came. */
	vnf_mon_drop(skb, FW, VNF_R_DROP_REJECT, VNF_MON_F_RULE, ev_set, ev_rule);
	vnf_count(FW, VNF_R_DROP_REJECT, len);
	if (fw_reject_build(skb, p.proto == IPPROTO_TCP_, p.hlen, p.tot) < 0)
		return TC_ACT_SHOT;
	if (dir == VNF_DIR_RX) {
		/* Straight back into the container that sent it: the answer is
		 * the firewall's own, no chain_out runs for it. Returns
		 * TC_ACT_REDIRECT, or TC_ACT_SHOT for bad flags. */
		vnf_port_count(in, VNF_DIR_TX, skb->len);
		long ret = bpf_redirect_peer(in, 0);

		if (ret != TC_ACT_REDIRECT)
			return vnf_drop(skb, FW, VNF_R_DROP_REDIRECT);
		return vnf_verdict(skb, FW, VNF_R_FW_REJECT_SENT, TC_ACT_REDIRECT);
	}
	/* To the container: the answer leaves as if the container had sent it,
	 * through the bridge of its network (which may route it back). */
	skb->cb[0] = point;
	skb->cb[1] = 0;
	__u32 cb4 = skb->cb[4] & ~((__u32)(VNF_MD_F_FROM_ROUTER | VNF_MD_F_EGRESS_HOOK) << 16);

	/* The barrier keeps clang from narrowing the store to the flags' half
	 * word at ctx + 66: the verifier accepts only whole cb[] words at a
	 * constant offset ("dereference of modified ctx ptr"). */
	asm volatile("" : "+r"(cb4));
	skb->cb[4] = cb4;
	return vnf_handoff(skb, FW, VNF_R_FW_REJECT_SENT, VNF_ID_BRIDGE);

pass:
	if (p.first_frag)
		fw_frag_record(point, &p, now);
	vnf_count(FW, reason, skb->len);
	return vnf_next(skb, FW);

drop:
	return vnf_drop_rule(skb, FW, reason, ev_known, ev_set, ev_rule);
}

char LICENSE[] SEC("license") = "GPL";
