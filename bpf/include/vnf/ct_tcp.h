/* SPDX-License-Identifier: GPL-2.0 */
/*
 * TCP connection tracking with sequence and window checks, following Linux's
 * nf_conntrack_proto_tcp.c (the state table tcp_conntracks, tcp_valid_flags,
 * tcp_in_window and the special cases of nf_conntrack_tcp_packet). Layouts
 * are bpf/abi/conntrack.h (struct vnf_ct_entry: tcp[2], last_*).
 *
 * A tracked segment is judged in this order, as Linux does:
 *   1. its flags must be a valid combination (tcp_error);
 *   2. the state table gives the next state for (direction, flags, state):
 *      invalid -> drop; "ignore" -> the segment passes without changing the
 *      state (it may be valid for the endpoints while we are out of sync),
 *      only annotating last_*; a SYN in TIME_WAIT/CLOSE reopens the tuple
 *      when the old connection was closed (FIN) or reset by that side;
 *   3. RSTs are acted upon only when exact (Linux: seq == the highest ACK the
 *      receiver sent, or right after the sender's last segment), or when
 *      they answer a segment we let through as ignored; an inexact in-window
 *      RST passes (the endpoint answers a challenge ACK, RFC 5961) but leaves
 *      the state alone;
 *   4. the window check (tcp_in_window): per direction td_end (the highest
 *      seq + len sent), td_maxend (the right edge the peer allowed),
 *      td_maxwin (the peer's largest window), scaled by the window scale of
 *      the SYNs when both carried the option (RFC 7323):
 *        I.   seq <= sender.td_maxend
 *        II.  seq + len >= sender.td_end - receiver.td_maxwin
 *        III. ack <= receiver.td_end  (ack = the highest SACK right edge when
 *             the receiver allowed SACK)
 *        IV.  ack >= receiver.td_end - max(sender.td_maxwin, 66000)
 *      then the window state moves forward.
 *
 * Where this differs from Linux. Stricter:
 *   - a segment failing II or IV, or starting beyond the window, is invalid
 *     (Linux lets it pass unchanged as "ignored", and tolerates data up to a
 *     window beyond the right edge for stacks that overshoot);
 *   - a responder's SYN/ACK outside the handshake (Linux: ignored, passes)
 *     passes only when it is in window, as a retransmission would be;
 *   - RSTs in the closing states must be in window too (Linux accepts any
 *     RST there, tcp_can_early_drop);
 *   - the RST exceptions for "answers a segment we let through" require the
 *     RST to travel against that segment, as an answer does; without it two
 *     forged segments of one direction (an ignored SYN, then an RST acking
 *     it) would reset the entry;
 *   - an invalid segment changes nothing (Linux may record an invalid
 *     FIN/RST and shorten the timeout, nf_tcp_handle_invalid; and it keeps
 *     what it initialised from a segment that then fails the checks).
 * Looser, in one case: Linux judges a fragmented segment whole, after
 * reassembly; here its first fragment is judged alone and, its length
 * unknown, it is taken to reach as far as the receiver's advertised right
 * edge (at most), so that the ACK of the whole datagram is in window.
 * Not implemented: Linux's shorter timeouts for unacknowledged data,
 * retransmissions and zero windows (TCP_CONNTRACK_UNACK/RETRANS: the flags
 * and the retransmission count are kept, no timeout uses them yet), the
 * CLOSE timeout after an inexact RST, mid-stream pickup (never: only a SYN
 * creates an entry), NAT sequence offsets, SYN proxy.
 *
 * Verifier and stack: the firewall's main frame leaves little of the 512
 * bytes to this call chain. ct_tcp_packet is a global function (checked
 * once, on its own); what passes between its phases (the segment, copies of
 * the windows, the table's verdict) lives in a per-CPU work slot, not in
 * registers and the stack; the segment is read from the packet by
 * fw_parse.h's fw_tcp_seg, also global, only where a segment is judged.
 *
 * Concurrency: several CPUs may handle segments of one connection at once.
 * The window state is read and written under a bpf_spin_lock. The locks live
 * in an array of 1024 (vnf_ct_lock), not in the entries: a connection takes
 * the one its key hashes to (two connections sharing a lock only wait for
 * each other), so the lock outlives the entry and serialises its removal too
 * (ct_table.h). Every program that writes TCP state of vnf_ct takes the lock,
 * so no update is lost. The lock covers the TCP fields, state and flags; the
 * counters (atomic adds), last_seen (one 8-byte store) and the rule set
 * (revalidation) are written outside it, as before.
 *
 * An entry may be removed (expiry, the collector, an early drop, a reset) by
 * another CPU between our lookup and our lock, and a hash map reuses a
 * removed element at once (with or without BPF_F_NO_PREALLOC on this kernel:
 * both recycle through a per-CPU free list, checked here): a stale pointer
 * may then point at another connection's entry. Under the lock, before
 * touching anything, ct_tcp_packet checks that the entry is still this key's
 * (its tag, a hash of the key) and not being removed (VNF_CT_F_DYING, set
 * under the same lock by the one CPU that removes it); otherwise the packet
 * is run again (CT_TCP_GONE) and finds what is there now.
 */
#ifndef VNF_CT_TCP_H
#define VNF_CT_TCP_H

#include "vnf/common.h"
#include "abi/conntrack.h"

#define TCP_F_FIN 0x01
#define TCP_F_SYN 0x02
#define TCP_F_RST 0x04
#define TCP_F_PSH 0x08
#define TCP_F_ACK 0x10
#define TCP_F_URG 0x20
#define TCP_F_ECE 0x40
#define TCP_F_CWR 0x80
#define TCPF_FIN_ TCP_F_FIN
#define TCPF_SYN_ TCP_F_SYN
#define TCPF_RST_ TCP_F_RST
#define TCPF_ACK_ TCP_F_ACK

#define TCP_MAX_WSCALE 14 /* RFC 7323: larger shift counts are taken as 14 */

/* struct ct_tcp_seg.opts: VNF_CT_TCP_F_WINDOW_SCALE / SACK_PERM when the
 * options carried them, and: */
#define CT_SEG_OPTIONS 0x40 /* the header had options (Linux resets a sender's flags only then) */
#define CT_SEG_PARTIAL 0x80 /* a first fragment: the segment goes on beyond `end` */

/* What the tracker needs of a TCP segment, host order (fw_parse.h's fw_tcp_seg). */
struct ct_tcp_seg {
	__u32 seq;
	__u32 ack;
	__u32 sack;   /* the highest right edge of the first SACK option's blocks, if after ack; else ack */
	__u32 end;    /* seq + payload length + SYN + FIN */
	__u16 win;    /* raw window */
	__u8 flags;   /* TCP flags */
	__u8 wscale;  /* window scale option (<= 14) */
	__u8 opts;    /* see above */
	__u8 _pad[3];
};

/* ---- locks ------------------------------------------------------------- */

#define CT_LOCKS VNF_CT_LOCKS

struct ct_lock {
	struct bpf_spin_lock lock;
};

/* Pinned with vnf_ct: every program object sharing the table shares these
 * (an old and a new firewall program during a replacement included). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, CT_LOCKS);
	__type(key, __u32);
	__type(value, struct ct_lock);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} vnf_ct_lock SEC(".maps");

/*
 * The segment being judged and working copies of the two directions' window
 * state, per CPU, in a map rather than on the stack: the main program's
 * frame and this call chain share 512 bytes, and the verifier prunes the
 * firewall's paths far better when no subprogram reads the main frame
 * through a pointer. A tc program runs to its end on its CPU (softirqs are
 * off around tc egress, and ingress runs in softirq), so nothing else uses
 * the slot between fw_tcp_seg writing the segment and conntrack reading it.
 * Not pinned: nothing in it outlives a packet.
 */
#define CT_HDR_BUF 64 /* a TCP header with options (at most 60 bytes), in a power-of-two buffer */

struct ct_tcp_work {
	struct ct_tcp_seg seg;
	struct vnf_ct_tcp_dir snd; /* copies of the sender's and the receiver's state */
	struct vnf_ct_tcp_dir rcv;
	__u32 seq;                 /* the segment's values as the window check takes them */
	__u32 ack;
	__u32 sack;
	__u32 end;
	/* The segment's TCP header as read, and the walk over its options (fw_parse.h): */
	__u8 hdr[CT_HDR_BUF];
	__u32 opt_len;             /* option bytes, 1..40, from hdr[20] */
	__u32 opt_i;               /* offset of the next option */
	__u8 opt_sack_done;        /* the first SACK option was read (Linux reads only that one) */
	/* The segment's place in the state table (ct_tcp_decide -> ct_tcp_finish): */
	__u8 index;                /* enum vnf_ct_tcp_index */
	__u8 old;                  /* the current state, T_* */
	__u8 nw;                   /* the next state, T_* */
	__u8 _pad[4];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ct_tcp_work);
} ct_tcp_work SEC(".maps");

/* This CPU's work slot (NULL never happens: an array of 1). */
static __always_inline struct ct_tcp_work *ct_tcp_work_get(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&ct_tcp_work, &zero);
}

/* A hash of a connection's (original) key: multiply-xor over its fields,
 * then a final mix so that the low bits (its home in vnf_ct_slots) depend on
 * every field, as the high ones (its lock) do. */
static __always_inline __u32 ct_hash(const struct vnf_ct_key *k)
{
	__u32 h = k->zone * 0x9e3779b1U;

	h = (h ^ k->saddr) * 0x85ebca6bU;
	h = (h ^ k->daddr) * 0xc2b2ae35U;
	h = (h ^ (((__u32)k->sport << 16) | k->dport)) * 0x9e3779b1U;
	h = (h ^ k->proto) * 0x85ebca6bU;
	h ^= h >> 15;
	h *= 0x2c1b3c6dU;
	h ^= h >> 12;
	return h;
}

/* The lock of a connection: the top 10 bits of its hash, 0 .. CT_LOCKS - 1. */
static __always_inline __u32 ct_lock_of(__u32 h)
{
	return h >> 22;
}

static __always_inline __u32 ct_lock_slot(const struct vnf_ct_key *k)
{
	return ct_lock_of(ct_hash(k));
}

/* The tag an entry of this key carries (struct vnf_ct_entry.tag): never 0. */
static __always_inline __u32 ct_tag_of(__u32 h)
{
	return h | 1;
}

/* Sets flag bits of an entry with one atomic OR on the 8-byte word that
 * holds its state and flags: some flags are set without the lock (ct_touch:
 * a UDP reply) while others are set under it (DYING, PROTECTED); a plain
 * read-modify-write of the flags byte could undo a concurrent one. */
_Static_assert(__builtin_offsetof(struct vnf_ct_entry, state) % 8 == 0 &&
		       __builtin_offsetof(struct vnf_ct_entry, flags) == __builtin_offsetof(struct vnf_ct_entry, state) + 1,
	       "state and flags: the low bytes of an aligned 8-byte word");
static __always_inline void ct_flags_set(struct vnf_ct_entry *e, __u8 f)
{
	__sync_fetch_and_or((__u64 *)&e->state, (__u64)f << 8); /* little-endian: byte 1 is flags */
}

/* Whether `e`, under its key's lock, is still that key's entry and in use:
 * its tag (0 for an entry user space wrote whole) and not being removed. */
static __always_inline int ct_entry_live(const struct vnf_ct_entry *e, __u32 tag)
{
	return (e->tag == tag || e->tag == 0) && !(e->flags & VNF_CT_F_DYING);
}

/* ---- sequence arithmetic (mod 2^32, RFC 1982) --------------------------- */

static __always_inline int ct_before(__u32 a, __u32 b)
{
	return (__s32)(a - b) < 0;
}
#define ct_after(a, b) ct_before(b, a)

/* ---- the state table ----------------------------------------------------- */

/* Linux's TCP states in table order; 10 and 11 are the table's verdicts. */
enum {
	T_NO = 0, T_SS, T_SR, T_ES, T_FW, T_CW, T_LA, T_TW, T_CL, T_S2,
	T_IV = 10, /* invalid */
	T_IG = 11, /* ignore: pass without a state change */
};

/* One row of the table: the next state for each current state, 4 bits each. */
#define CT_ROW(no, ss, sr, es, fw, cw, la, tw, cl, s2)                                           \
	((__u64)(no) | (__u64)(ss) << 4 | (__u64)(sr) << 8 | (__u64)(es) << 12 | (__u64)(fw) << 16 | \
	 (__u64)(cw) << 20 | (__u64)(la) << 24 | (__u64)(tw) << 28 | (__u64)(cl) << 32 | (__u64)(s2) << 36)

/*
 * tcp_conntracks[dir][index] of Linux 6.x. Columns: the current state NO SS
 * SR ES FW CW LA TW CL S2. Notable cells: an original SYN reopens TW/CL (SS,
 * subject to the close rule in ct_tcp_decide) and is ignored mid-connection;
 * a reply SYN is invalid but in SS (simultaneous open) and TW (the server
 * reopening with the roles switched); the responder's SYN/ACK is ignored
 * after SYN_SENT; an ACK after a FIN is CLOSE_WAIT; RST closes.
 */
static __always_inline __u64 ct_tcp_row(__u32 dir, __u32 index)
{
	switch (dir * 6 + index) {
	/* ORIGINAL         NO    SS    SR    ES    FW    CW    LA    TW    CL    S2 */
	case 0: return CT_ROW(T_SS, T_SS, T_IG, T_IG, T_IG, T_IG, T_IG, T_SS, T_SS, T_S2); /* syn */
	case 1: return CT_ROW(T_IV, T_IV, T_SR, T_IV, T_IV, T_IV, T_IV, T_IV, T_IV, T_SR); /* syn/ack */
	case 2: return CT_ROW(T_IV, T_IV, T_FW, T_FW, T_LA, T_LA, T_LA, T_TW, T_CL, T_IV); /* fin */
	case 3: return CT_ROW(T_ES, T_IV, T_ES, T_ES, T_CW, T_CW, T_TW, T_TW, T_CL, T_IV); /* ack */
	case 4: return CT_ROW(T_IV, T_CL, T_CL, T_CL, T_CL, T_CL, T_CL, T_CL, T_CL, T_CL); /* rst */
	/* REPLY */
	case 6: return CT_ROW(T_IV, T_S2, T_IV, T_IV, T_IV, T_IV, T_IV, T_SS, T_IV, T_S2); /* syn */
	case 7: return CT_ROW(T_IV, T_SR, T_IG, T_IG, T_IG, T_IG, T_IG, T_IG, T_IG, T_SR); /* syn/ack */
	case 8: return CT_ROW(T_IV, T_IV, T_FW, T_FW, T_LA, T_LA, T_LA, T_TW, T_CL, T_IV); /* fin */
	case 9: return CT_ROW(T_IV, T_IG, T_SR, T_ES, T_CW, T_CW, T_TW, T_TW, T_CL, T_IG); /* ack */
	case 10: return CT_ROW(T_IV, T_CL, T_CL, T_CL, T_CL, T_CL, T_CL, T_CL, T_CL, T_CL); /* rst */
	default: return CT_ROW(T_IV, T_IV, T_IV, T_IV, T_IV, T_IV, T_IV, T_IV, T_IV, T_IV); /* none */
	}
}

/* enum vnf_ct_state <-> table state: the same numbers but SYN_SENT2; T_IV
 * for a state that is not TCP's. */
static __always_inline __u32 ct_tcp_tstate(__u8 s)
{
	if (s <= VNF_CT_CLOSE)
		return s;
	return s == VNF_CT_SYN_SENT2 ? T_S2 : T_IV;
}

static __always_inline __u8 ct_tcp_vstate(__u32 t)
{
	return t == T_S2 ? VNF_CT_SYN_SENT2 : (__u8)t;
}

/* Linux's get_conntrack_index(): RST, then SYN(/ACK), FIN, ACK. */
static __always_inline __u32 ct_tcp_index(__u8 f)
{
	if (f & TCP_F_RST)
		return VNF_CT_TCP_RST;
	if (f & TCP_F_SYN)
		return (f & TCP_F_ACK) ? VNF_CT_TCP_SYNACK : VNF_CT_TCP_SYN;
	if (f & TCP_F_FIN)
		return VNF_CT_TCP_FIN;
	if (f & TCP_F_ACK)
		return VNF_CT_TCP_ACK;
	return VNF_CT_TCP_NONE;
}

/* Linux's tcp_valid_flags: the combinations of FIN/SYN/RST/ACK/URG a TCP
 * sends (PSH, ECE and CWR may come with any). NULL, SYN|FIN, SYN|RST, FIN
 * or URG without ACK, RST|FIN, ... are invalid. */
static __always_inline int ct_tcp_flags_valid(__u8 f)
{
	switch (f & (TCP_F_FIN | TCP_F_SYN | TCP_F_RST | TCP_F_ACK | TCP_F_URG)) {
	case TCP_F_SYN:
	case TCP_F_SYN | TCP_F_URG:
	case TCP_F_SYN | TCP_F_ACK:
	case TCP_F_RST:
	case TCP_F_RST | TCP_F_ACK:
	case TCP_F_FIN | TCP_F_ACK:
	case TCP_F_FIN | TCP_F_ACK | TCP_F_URG:
	case TCP_F_ACK:
	case TCP_F_ACK | TCP_F_URG:
		return 1;
	default:
		return 0;
	}
}

/* ---- window tracking ----------------------------------------------------- */

/* The options of a SYN into its sender's state (Linux's tcp_options): only
 * when the header has options, which then replace the sender's flags. */
static __always_inline void ct_tcp_take_options(struct vnf_ct_tcp_dir *d, const struct ct_tcp_seg *s)
{
	if (!(s->opts & CT_SEG_OPTIONS))
		return;
	d->flags = s->opts & (VNF_CT_TCP_F_WINDOW_SCALE | VNF_CT_TCP_F_SACK_PERM);
	d->td_scale = (s->opts & VNF_CT_TCP_F_WINDOW_SCALE) ? s->wscale : 0;
}

/* A sender's state from its SYN or SYN/ACK (Linux's tcp_init_sender). Window
 * scaling holds only when both SYNs carried the option (RFC 7323 2.2): the
 * second SYN of the handshake turns it off for both sides otherwise. */
static __always_inline void ct_tcp_init_sender(struct vnf_ct_tcp_dir *snd, struct vnf_ct_tcp_dir *rcv,
					       const struct ct_tcp_seg *s, __u32 dir)
{
	snd->td_end = s->end;
	snd->td_maxend = s->end;
	snd->td_maxwin = s->win ? s->win : 1;
	ct_tcp_take_options(snd, s);
	if (dir && !((snd->flags & VNF_CT_TCP_F_WINDOW_SCALE) && (rcv->flags & VNF_CT_TCP_F_WINDOW_SCALE))) {
		snd->td_scale = 0;
		rcv->td_scale = 0;
	}
}

/*
 * Linux's tcp_in_window(): is the segment inside the window of its direction
 * (checks I..IV above)? 1 yes, 0 no (invalid). It works on copies of the two
 * directions' state (in the work slot) and writes them back only for a valid
 * segment with `update`: an invalid segment changes nothing (Linux may have
 * initialised a sender from it already), and a check without `update` (of a
 * segment that is then ignored) writes nothing.
 *
 * A subprogram called with the lock held (the kernel allows static ones).
 * Its values live in the work slot rather than in registers: few registers
 * to spill keeps this call chain's frames within what the main program's
 * frame leaves of the 512 bytes, and it is verified on its own path.
 */
static __always_inline int ct_tcp_in_window(struct vnf_ct_entry *e, struct ct_tcp_work *w, __u32 dir,
						      __u32 update)
{
	struct vnf_ct_tcp_dir *snd = &w->snd, *rcv = &w->rcv;
	const struct ct_tcp_seg *s = &w->seg;
	__u8 f = s->flags;
	__u32 win, swin;

	dir &= 1;
	*snd = e->tcp[dir];
	*rcv = e->tcp[dir ^ 1];
	w->seq = s->seq;
	w->ack = s->ack;
	w->end = s->end;
	/* SACK blocks acknowledge beyond ack (RFC 2018), when the receiver allowed them. */
	w->sack = (rcv->flags & VNF_CT_TCP_F_SACK_PERM) ? s->sack : s->ack;

	if (snd->td_maxwin == 0) {
		/* Nothing seen from this sender yet. */
		if (f & TCP_F_SYN) {
			/* The SYN/ACK answering the SYN, or the peer's SYN of a
			 * simultaneous open (which acks nothing: valid). */
			ct_tcp_init_sender(snd, rcv, s, dir);
			if (!(f & TCP_F_ACK))
				goto commit;
		} else {
			/* The responder's first segment is not a SYN/ACK (it
			 * resets the SYN): take what the segment says. */
			snd->td_end = w->end;
			swin = (__u32)s->win << snd->td_scale;
			snd->td_maxwin = swin ? swin : 1;
			snd->td_maxend = w->end + snd->td_maxwin;
			if (rcv->td_maxwin == 0)
				rcv->td_end = rcv->td_maxend = w->sack;
			else if (w->sack == rcv->td_end + 1)
				rcv->td_end++; /* an answer to a keep-alive */
		}
	} else if ((f & TCP_F_SYN) && ct_after(w->end, snd->td_end) &&
		   (e->state == VNF_CT_SYN_SENT || e->state == VNF_CT_SYN_RECV)) {
		/* A SYN (or SYN/ACK) with a later sequence number during the
		 * handshake: the endpoint started over (RFC 793 3.3). */
		ct_tcp_init_sender(snd, rcv, s, dir);
		if (dir && !(f & TCP_F_ACK))
			goto commit;
	}

	if (!(f & TCP_F_ACK) || ((f & TCP_F_RST) && w->ack == 0)) {
		/* No ACK: take it as acking what it may; or a stack that sends
		 * RST|ACK with ack 0. */
		w->ack = rcv->td_end;
		w->sack = rcv->td_end;
	}
	if ((f & TCP_F_RST) && w->seq == 0 && e->state == VNF_CT_SYN_SENT) {
		w->seq = snd->td_end; /* a RST answering the SYN */
		w->end = snd->td_end;
	}

	/* I. Upper bound: it starts at most at the right edge the receiver allowed. */
	if (!ct_before(w->seq, snd->td_maxend + 1))
		return 0;
	/* III. It acks nothing the receiver has not sent. */
	if (!ct_before(w->sack, rcv->td_end + 1))
		return 0;
	/* II. Lower bound: it ends within the receiver's largest window of the newest data. */
	if (rcv->td_maxwin && !ct_after(w->end, snd->td_end - rcv->td_maxwin - 1))
		return 0;
	/* IV. Its ack is not older than a window (at least 66000, Linux's MAXACKWINCONST). */
	swin = snd->td_maxwin > 66000 ? snd->td_maxwin : 66000;
	if (!ct_after(w->sack, rcv->td_end - swin - 1))
		return 0;
	if (!update)
		return 1;

	win = s->win;
	if (!(f & TCP_F_SYN))
		win <<= snd->td_scale; /* windows of SYNs are never scaled */
	swin = win + (w->sack - w->ack);
	if (snd->td_maxwin < swin)
		snd->td_maxwin = swin;
	/* A first fragment's segment goes on beyond `end`, by as much as the
	 * receiver's window allows at most. */
	swin = w->end;
	if ((s->opts & CT_SEG_PARTIAL) && ct_after(snd->td_maxend, swin))
		swin = snd->td_maxend;
	if (ct_after(swin, snd->td_end)) {
		snd->td_end = swin;
		snd->flags |= VNF_CT_TCP_F_DATA_UNACK;
	}
	if (f & TCP_F_ACK) {
		if (!(snd->flags & VNF_CT_TCP_F_MAXACK_SET)) {
			snd->td_maxack = w->ack;
			snd->flags |= VNF_CT_TCP_F_MAXACK_SET;
		} else if (ct_after(w->ack, snd->td_maxack)) {
			snd->td_maxack = w->ack;
		}
	}
	/* Data beyond the allowed edge (a zero-window probe's byte): the
	 * receiver's window must have been that large. */
	if (rcv->td_maxwin != 0 && ct_after(w->end, snd->td_maxend))
		rcv->td_maxwin += w->end - snd->td_maxend;
	if (ct_after(w->sack + win, rcv->td_maxend - 1)) {
		rcv->td_maxend = w->sack + win;
		if (win == 0)
			rcv->td_maxend++; /* room for a zero-window probe */
	}
	if (w->ack == rcv->td_end)
		rcv->flags &= ~VNF_CT_TCP_F_DATA_UNACK;

	/* The last ACK segment, to tell retransmissions (and for the RST rules). */
	if (ct_tcp_index(f) == VNF_CT_TCP_ACK) {
		if (e->last_dir == dir && e->last_seq == w->seq && e->last_ack == w->ack && e->last_end == w->end &&
		    e->last_win == s->win) {
			if (e->retrans < 255)
				e->retrans++;
		} else {
			e->last_dir = dir;
			e->last_seq = w->seq;
			e->last_ack = w->ack;
			e->last_end = w->end;
			e->last_win = s->win;
			e->retrans = 0;
		}
	}
commit:
	if (update) {
		e->tcp[dir] = *snd;
		e->tcp[dir ^ 1] = *rcv;
	}
	return 1;
}

/* ---- one segment --------------------------------------------------------- */

/* What happens to a segment (bits; 0 = invalid: drop, nothing changed). */
#define CT_TCP_PASS 0x1    /* it passes */
#define CT_TCP_REFRESH 0x2 /* and renews the entry's timeout (not for ignored segments) */
#define CT_TCP_KILL 0x4    /* then the entry goes (reset before any reply: Linux's nf_ct_kill_acct) */
#define CT_TCP_REOPEN 0x8  /* the entry goes and the SYN is judged as a new connection (nf_ct_kill + NF_REPEAT) */
#define CT_TCP_ASSURE 0x10 /* ASSURED but not PROTECTED: ask for a place in the zone's quota (ct_assure) */
#define CT_TCP_GONE 0x20   /* the entry was removed (or reused) under us: nothing changed, run the packet again */
#define CT_TCP_DROP 0

/* A segment the table ignores: it passes without a state change, only
 * annotated in last_* (for the resync on its answer and the RST rules). */
static __always_inline __u32 ct_tcp_ignore(struct vnf_ct_entry *e, const struct ct_tcp_work *w, __u32 dir)
{
	const struct ct_tcp_seg *s = &w->seg;

	e->last_index = w->index;
	e->last_dir = dir;
	e->last_seq = s->seq;
	e->last_end = s->end;
	e->last_win = s->win;
	if (w->index == VNF_CT_TCP_SYN && !dir) {
		/* A new SYN while we think the connection is up: the client
		 * may have restarted. Remember its options: if the server
		 * answers with a SYN/ACK, we resync from them. In LAST_ACK the
		 * server may answer with a challenge ACK (RFC 5961), which
		 * must not be taken as the last ACK. */
		e->last_flags = s->opts & (VNF_CT_TCP_F_WINDOW_SCALE | VNF_CT_TCP_F_SACK_PERM);
		e->last_wscale = s->wscale; /* 0 without the option */
		if (w->old == T_LA)
			e->last_flags |= VNF_CT_TCP_L_CHALLENGE_ACK;
	}
	if (w->old == T_SS && w->index == VNF_CT_TCP_ACK && dir)
		e->last_ack = s->ack; /* maybe a challenge ACK answering the SYN */
	return CT_TCP_PASS;
}

/*
 * A RST the table would act on (next state CLOSE): Linux's rules for
 * accepting it. Returns 0 to go on with the window check, 1 to accept it
 * without one (it answers a segment we let through), -1 when invalid. For
 * an inexact RST on an established connection the next state becomes the
 * current one (it passes, the state stays: the endpoint will challenge it).
 */
static __always_inline int ct_tcp_rst(struct vnf_ct_entry *e, struct ct_tcp_work *w, __u32 dir)
{
	const struct ct_tcp_seg *s = &w->seg;
	struct vnf_ct_tcp_dir *rcv = &e->tcp[(dir & 1) ^ 1];
	__u8 eflags = e->flags;
	int established = w->old == T_ES && (eflags & VNF_CT_F_ASSURED);

	/* Not after a SYN we let through: the receiver's highest ACK may be stale then. */
	if ((rcv->flags & VNF_CT_TCP_F_MAXACK_SET) && e->last_index != VNF_CT_TCP_SYN) {
		if (s->seq == 0 && !established)
			return 0; /* an answer to a SYN we let through */
		if (ct_before(s->seq, rcv->td_maxack))
			return -1; /* behind what the receiver acknowledged */
		if (!established || s->seq == rcv->td_maxack)
			return 0; /* exact (RFC 5961 3.2) */
		if (e->last_index == VNF_CT_TCP_ACK && e->last_dir == dir && s->seq == e->last_end)
			return 0; /* right after the sender's last segment */
		w->nw = w->old;
	}
	/* It answers a SYN (a) or, on a half-open connection, an ACK (c) that
	 * we let through. vnf: an answer travels against it. */
	if (e->last_dir != dir && s->ack == e->last_end &&
	    (((eflags & VNF_CT_F_SEEN_REPLY) && e->last_index == VNF_CT_TCP_SYN) ||
	     (!(eflags & VNF_CT_F_ASSURED) && e->last_index == VNF_CT_TCP_ACK)))
		return 1;
	/* The client resets after a challenge ACK answered its SYN. */
	if (w->old == T_SS && !dir && e->last_index == VNF_CT_TCP_ACK && e->last_dir && s->seq == e->last_ack)
		return 1;
	return 0;
}

/* What ct_tcp_decide leaves to do. */
#define CT_STEP_DONE 0   /* the verdict is decided (*verdict) */
#define CT_STEP_WINDOW 1 /* the window check (updating), then ct_tcp_finish */
#define CT_STEP_FINISH 2 /* ct_tcp_finish without a window check */
#define CT_STEP_IGNORE 3 /* the window check (not updating), then ct_tcp_ignore */

/*
 * The state table and Linux's special cases (nf_conntrack_tcp_packet up to
 * its tcp_in_window call), with the lock held. `dir` 0 original, 1 reply.
 * Leaves index, old and next state in the work slot; returns a CT_STEP_*,
 * or sets *verdict (CT_TCP_*) and returns CT_STEP_DONE.
 */
static __always_inline __u32 ct_tcp_decide(struct vnf_ct_entry *e, struct ct_tcp_work *w, __u32 dir, __u32 *verdict)
{
	const struct ct_tcp_seg *s = &w->seg;
	__u32 index = ct_tcp_index(s->flags);
	__u32 old = ct_tcp_tstate(e->state);
	__u32 nw;

	*verdict = CT_TCP_DROP;
	if (old > T_S2)
		return CT_STEP_DONE; /* not a TCP state: a corrupt entry */
	nw = (ct_tcp_row(dir, index) >> (old * 4)) & 0xf;
	w->index = index;
	w->old = old;
	w->nw = nw;

	switch (nw) {
	case T_SS:
		if (old < T_TW)
			break;
		/* RFC 1122 4.2.2.13: a SYN may reopen a connection in
		 * TIME_WAIT; Linux also reopens a closed one. Only when it was
		 * closed (a FIN began the close) or reset by this side: else
		 * the endpoints may still hold it, and the SYN is ignored. */
		if (((e->tcp[0].flags | e->tcp[1].flags) & VNF_CT_TCP_F_CLOSE_INIT) ||
		    (e->last_dir == dir && e->last_index == VNF_CT_TCP_RST)) {
			*verdict = CT_TCP_REOPEN;
			return CT_STEP_DONE;
		}
		__attribute__((fallthrough));
	case T_IG:
		if (index == VNF_CT_TCP_SYNACK && e->last_index == VNF_CT_TCP_SYN && e->last_dir != dir &&
		    s->ack == e->last_end) {
			/* This SYN/ACK acks a SYN we ignored: the endpoints are
			 * in sync, we are not. Take the connection up from the
			 * SYN as remembered, as a new handshake. (Its sender's
			 * state is reset; the window check initialises it.) */
			struct vnf_ct_tcp_dir *o = &e->tcp[(e->last_dir & 1)];
			struct vnf_ct_tcp_dir *r = &e->tcp[dir & 1];

			o->td_end = e->last_end;
			o->td_maxend = e->last_end;
			o->td_maxwin = e->last_win ? e->last_win : 1;
			o->td_scale = e->last_wscale;
			e->last_flags &= ~VNF_CT_TCP_L_CHALLENGE_ACK;
			o->flags = e->last_flags & (VNF_CT_TCP_F_WINDOW_SCALE | VNF_CT_TCP_F_SACK_PERM);
			r->td_end = 0;
			r->td_maxend = 0;
			r->td_maxwin = 0;
			r->td_maxack = 0;
			r->td_scale = 0;
			r->flags = 0;
			w->old = T_SS;
			w->nw = T_SR;
			return CT_STEP_WINDOW;
		}
		/* vnf: the responder's SYN/ACK in a later state passes only
		 * in window (a retransmission is; a forged one with a
		 * guessed sequence is not). Linux passes it unchecked. */
		if (index == VNF_CT_TCP_SYNACK && dir)
			return CT_STEP_IGNORE;
		*verdict = ct_tcp_ignore(e, w, dir);
		return CT_STEP_DONE;
	case T_IV:
		return CT_STEP_DONE;
	case T_TW:
		/* RFC 5961: after a SYN in LAST_ACK, the ACK from the other
		 * side is a challenge ACK, not the last ACK. */
		if (old == T_LA && index == VNF_CT_TCP_ACK && e->last_dir != dir && e->last_index == VNF_CT_TCP_SYN &&
		    (e->last_flags & VNF_CT_TCP_L_CHALLENGE_ACK)) {
			e->last_flags &= ~VNF_CT_TCP_L_CHALLENGE_ACK;
			*verdict = CT_TCP_PASS;
			return CT_STEP_DONE;
		}
		break;
	case T_S2:
		e->last_flags |= VNF_CT_TCP_L_SIMULTANEOUS;
		break;
	case T_SR:
		if (dir && index == VNF_CT_TCP_ACK && (e->last_flags & VNF_CT_TCP_L_SIMULTANEOUS))
			w->nw = T_ES;
		break;
	case T_CL:
		if (index != VNF_CT_TCP_RST)
			break;
		{
			int r = ct_tcp_rst(e, w, dir);

			if (r < 0)
				return CT_STEP_DONE;
			if (r > 0)
				return CT_STEP_FINISH;
		}
		break;
	default:
		break;
	}
	return CT_STEP_WINDOW;
}

/* The segment is accepted: the state moves (the end of Linux's
 * nf_conntrack_tcp_packet). Returns CT_TCP_* bits. */
static __always_inline __u32 ct_tcp_finish(struct vnf_ct_entry *e, const struct ct_tcp_work *w, __u32 dir)
{
	__u32 index = w->index, old = w->old, nw = w->nw;
	__u8 f = w->seg.flags;

	e->last_index = index;
	e->last_dir = dir;
	if (e->state != ct_tcp_vstate(nw))
		e->state = ct_tcp_vstate(nw);
	if (old != nw && nw == T_FW)
		e->tcp[dir & 1].flags |= VNF_CT_TCP_F_CLOSE_INIT;
	/* (Only this code writes a TCP entry's flags, under the lock.) */
	if (f & TCP_F_FIN)
		e->flags |= dir ? VNF_CT_F_FIN_REPLY : VNF_CT_F_FIN_ORIG;
	/* ASSURED: a valid ACK completing the handshake after a reply. */
	if ((e->flags & VNF_CT_F_SEEN_REPLY) && (old == T_SR || old == T_ES) && nw == T_ES)
		e->flags |= VNF_CT_F_ASSURED;
	if (!(e->flags & VNF_CT_F_SEEN_REPLY)) {
		/* Reset before any reply: the connection never was (a SYN
		 * answered by RST). The entry goes at once. */
		if (f & TCP_F_RST)
			return CT_TCP_PASS | CT_TCP_KILL;
		/* A retransmitted SYN does not keep an unanswered entry alive. */
		if (index == VNF_CT_TCP_SYN && old == T_SS)
			return CT_TCP_PASS;
	}
	/* An ASSURED connection not yet protected asks for a place in its
	 * zone's assured quota (ct_assure, ct_table.h: map operations, so not
	 * under this lock); until it has one, every segment asks again. */
	if ((e->flags & (VNF_CT_F_ASSURED | VNF_CT_F_PROTECTED)) == VNF_CT_F_ASSURED)
		return CT_TCP_PASS | CT_TCP_REFRESH | CT_TCP_ASSURE;
	return CT_TCP_PASS | CT_TCP_REFRESH;
}

/*
 * A segment of the tracked connection `e` (key `k`, the original direction;
 * `dir` 0 original, 1 reply), the one in this CPU's work slot (fw_tcp_seg
 * put it there). Takes the connection's lock. Returns CT_TCP_* bits; 0
 * (CT_TCP_DROP) for an invalid segment, which changed nothing; CT_TCP_GONE
 * when `e` is no longer this key's live entry. With CT_TCP_KILL or
 * CT_TCP_REOPEN the entry is marked DYING here, under the lock: the caller
 * is the one that removes it (ct_kill with CT_KILL_MARKED).
 *
 * A global function: the verifier checks it once, on its own, with
 * arguments of any value (a static one is re-verified for every state the
 * caller reaches it in, which multiplies with the table's many paths), and
 * its frame is not the caller's. Its pointers may then be NULL for all the
 * verifier knows.
 */
__attribute__((noinline)) __u32 ct_tcp_packet(struct vnf_ct_entry *e, const struct vnf_ct_key *k, __u32 dir)
{
	struct ct_tcp_work *w = ct_tcp_work_get();
	struct ct_lock *l;
	__u32 h, slot, r;

	if (!e || !k || !w || !ct_tcp_flags_valid(w->seg.flags))
		return CT_TCP_DROP;
	h = ct_hash(k);
	slot = ct_lock_of(h);
	l = bpf_map_lookup_elem(&vnf_ct_lock, &slot);
	if (!l)
		return CT_TCP_DROP;
	dir &= 1;
	bpf_spin_lock(&l->lock);
	if (!ct_entry_live(e, ct_tag_of(h))) {
		bpf_spin_unlock(&l->lock);
		return CT_TCP_GONE;
	}
	/* Phases (nf_conntrack_tcp_packet): the table, the window, the move.
	 * What passes between them is in the work slot, so that little is
	 * live across the window check's call. */
	switch (ct_tcp_decide(e, w, dir, &r)) {
	case CT_STEP_WINDOW:
		r = ct_tcp_in_window(e, w, dir, 1) ? ct_tcp_finish(e, w, dir) : CT_TCP_DROP;
		break;
	case CT_STEP_FINISH:
		r = ct_tcp_finish(e, w, dir);
		break;
	case CT_STEP_IGNORE:
		r = ct_tcp_in_window(e, w, dir, 0) ? ct_tcp_ignore(e, w, dir) : CT_TCP_DROP;
		break;
	default:
		break;
	}
	if ((r & CT_TCP_PASS) && dir && !(e->flags & VNF_CT_F_SEEN_REPLY))
		e->flags |= VNF_CT_F_SEEN_REPLY;
	if (r & (CT_TCP_KILL | CT_TCP_REOPEN))
		ct_flags_set(e, VNF_CT_F_DYING); /* ours to remove: no other CPU acts on it now */
	bpf_spin_unlock(&l->lock);
	return r;
}

/* The TCP state of a new entry, from the SYN that creates it (this CPU's
 * segment; Linux's tcp_new, then the SYN's own pass through the table:
 * SYN_SENT, last SYN). Without options, wscale and the option bits are 0. */
static __always_inline void ct_tcp_new(struct vnf_ct_entry *e)
{
	struct ct_tcp_work *w = ct_tcp_work_get();
	struct vnf_ct_tcp_dir *o = &e->tcp[0];

	if (!w)
		return;
	o->td_end = w->seg.end;
	o->td_maxend = w->seg.end;
	o->td_maxwin = w->seg.win ? w->seg.win : 1;
	o->flags = w->seg.opts & (VNF_CT_TCP_F_WINDOW_SCALE | VNF_CT_TCP_F_SACK_PERM);
	o->td_scale = w->seg.wscale;
	e->last_index = VNF_CT_TCP_SYN;
	e->last_dir = 0;
}

#endif
