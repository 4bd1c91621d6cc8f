/**
 * Checks of the frames the dataplane rewrites or builds (packet fuzz test):
 * every one is recomputed from the output bytes — IPv4 header checksum, L4
 * checksum, lengths — and compared field by field with the input it answers
 * or forwards. Each check returns its problems (empty: fine), tagged with the
 * invariant they break: 'checksum', 'length' or 'rewrite' (a field that had
 * to stay or had to become something else).
 */
import { inetChecksum } from './packets.js';
import { ET, ipStr, P, pseudoSum, TCPF } from './fuzz-frames.js';
import type { OutSpec } from './fuzz-model.js';

export interface Problem {
  kind: 'checksum' | 'length' | 'rewrite';
  msg: string;
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

class P$ {
  readonly out: Problem[] = [];
  eq(kind: Problem['kind'], what: string, got: number | string, want: number | string): void {
    if (got !== want) this.out.push({ kind, msg: `${what}: ${got}, want ${want}` });
  }
  same(what: string, got: Uint8Array, want: Uint8Array): void {
    if (!Buffer.from(got).equals(Buffer.from(want))) this.out.push({ kind: 'rewrite', msg: `${what}: ${hex(got)}, want ${hex(want)}` });
  }
  ok(kind: Problem['kind'], cond: boolean, msg: string): void {
    if (!cond) this.out.push({ kind, msg });
  }
}

/** Whether the IPv4 header at 14 (its stated length) sums to zero. */
export function ipHeaderValid(f: Buffer): boolean {
  const hlen = (f[14]! & 0x0f) * 4;
  return hlen >= 20 && f.length >= 14 + hlen && inetChecksum(f.subarray(14, 14 + hlen)) === 0;
}

/**
 * Whether the L4 checksum of the IPv4 packet at 14 is valid (TCP/UDP with
 * the pseudo header, ICMP alone; a UDP checksum of 0 means none). null when
 * there is no whole L4 segment to check (other protocols, fragments, short).
 */
export function l4Valid(f: Buffer): boolean | null {
  if (f.length < 34) return null;
  const hlen = (f[14]! & 0x0f) * 4;
  const tot = f.readUInt16BE(16);
  if (hlen < 20 || tot < hlen || 14 + tot > f.length || f.readUInt16BE(20) & 0x3fff) return null;
  const seg = f.subarray(14 + hlen, 14 + tot);
  const proto = f[23]!;
  if (proto === P.ICMP) return seg.length >= 8 ? inetChecksum(seg) === 0 : null;
  if (proto === P.UDP) {
    if (seg.length < 8) return null;
    if (seg.readUInt16BE(6) === 0) return true;
  } else if (proto !== P.TCP || seg.length < 20) return null;
  return inetChecksum(seg, pseudoSum(f.readUInt32BE(26), f.readUInt32BE(30), proto, seg.length)) === 0;
}

/** An IPv4 frame's lengths: IHL >= 5, header within total length within the frame. */
function lengths(c: P$, f: Buffer, what: string): void {
  const hlen = (f[14]! & 0x0f) * 4;
  const tot = f.readUInt16BE(16);
  c.ok('length', f[14]! >> 4 === 4 && hlen >= 20, `${what}: version/IHL byte 0x${f[14]!.toString(16)}`);
  c.ok('length', tot >= hlen && 14 + tot <= f.length, `${what}: total length ${tot} in a ${f.length}-byte frame (header ${hlen})`);
}

/** The routed frame: MACs rewritten, TTL - 1, nothing else changed; a valid checksum stays valid. */
function routed(c: P$, inp: Buffer, out: Buffer, s: { dstMac: Buffer; srcMac: Buffer }): void {
  c.eq('length', 'frame length', out.length, inp.length);
  if (out.length !== inp.length || out.length < 34) return;
  c.same('eth dst (the next hop)', out.subarray(0, 6), s.dstMac);
  c.same('eth src (the out router port)', out.subarray(6, 12), s.srcMac);
  c.eq('rewrite', 'TTL', out[22]!, inp[22]! - 1);
  const keep = (b: Buffer): Buffer => Buffer.concat([b.subarray(12, 22), b.subarray(23, 24), b.subarray(26)]);
  c.same('every byte but MACs, TTL and checksum (addresses, options, payload)', keep(out), keep(inp));
  if (ipHeaderValid(inp)) c.ok('checksum', ipHeaderValid(out), `IPv4 header checksum broken by the TTL update: in 0x${inp.readUInt16BE(24).toString(16)}, out 0x${out.readUInt16BE(24).toString(16)}`);
  else c.ok('checksum', !ipHeaderValid(out), 'an invalid IPv4 header checksum came out valid');
  if (l4Valid(inp)) c.ok('checksum', l4Valid(out) === true, 'a valid L4 checksum came out invalid');
  lengths(c, out, 'routed');
}

/** An ICMP error about `inp` (router: time exceeded/unreachable; firewall: port unreachable). */
function icmpErr(c: P$, inp: Buffer, out: Buffer, s: { type: number; code: number; srcMac: Uint8Array; srcIp: number }): void {
  const hlen = (inp[14]! & 0x0f) * 4;
  const tot = inp.readUInt16BE(16);
  const qlen = hlen + Math.min(8, tot - hlen);
  c.eq('length', 'ICMP error frame length', out.length, 14 + 28 + qlen);
  if (out.length < 42) return;
  c.same('eth dst = the sender', out.subarray(0, 6), inp.subarray(6, 12));
  c.same('eth src', out.subarray(6, 12), s.srcMac);
  c.eq('rewrite', 'ethertype', out.readUInt16BE(12), ET.IP);
  c.eq('length', 'outer version/IHL', out[14]!, 0x45);
  c.eq('rewrite', 'outer TOS', out[15]!, 0xc0 | (inp[15]! & 0x1e));
  c.eq('length', 'outer total length', out.readUInt16BE(16), 28 + qlen);
  c.eq('rewrite', 'outer flags/offset', out.readUInt16BE(20), 0);
  c.eq('rewrite', 'outer TTL', out[22]!, 64);
  c.eq('rewrite', 'outer protocol', out[23]!, P.ICMP);
  c.eq('rewrite', 'outer source', ipStr(out.readUInt32BE(26)), ipStr(s.srcIp));
  c.eq('rewrite', 'outer destination (the sender)', ipStr(out.readUInt32BE(30)), ipStr(inp.readUInt32BE(26)));
  c.ok('checksum', inetChecksum(out.subarray(14, 34)) === 0, 'outer IPv4 header checksum invalid');
  c.eq('rewrite', 'ICMP type/code', `${out[34]}/${out[35]}`, `${s.type}/${s.code}`);
  c.eq('rewrite', 'ICMP unused word', out.readUInt32BE(38), 0);
  c.ok('checksum', inetChecksum(out.subarray(34)) === 0, 'ICMP checksum invalid');
  c.same('quote = the original IPv4 header with options + 8 bytes', out.subarray(42), inp.subarray(14, 14 + qlen));
}

/** The echo reply rewritten from a request in place. */
function echoReply(c: P$, inp: Buffer, out: Buffer, s: { srcMac: Buffer }): void {
  c.eq('length', 'frame length', out.length, inp.length);
  if (out.length !== inp.length) return;
  const hlen = (inp[14]! & 0x0f) * 4;
  const tot = inp.readUInt16BE(16);
  c.same('eth dst = the sender', out.subarray(0, 6), inp.subarray(6, 12));
  c.same('eth src = the router port', out.subarray(6, 12), s.srcMac);
  c.eq('rewrite', 'TTL', out[22]!, 64);
  c.same('IPv4 source = the pinged address', out.subarray(26, 30), inp.subarray(30, 34));
  c.same('IPv4 destination = the sender', out.subarray(30, 34), inp.subarray(26, 30));
  const keepIp = (b: Buffer): Buffer => Buffer.concat([b.subarray(12, 22), b.subarray(23, 24), b.subarray(34, 14 + hlen)]);
  c.same('other IPv4 header bytes and options', keepIp(out), keepIp(inp));
  c.eq('rewrite', 'ICMP type', out[14 + hlen]!, 0);
  c.eq('rewrite', 'ICMP code (echoed)', out[15 + hlen]!, inp[15 + hlen]!);
  c.same('identifier, sequence, data and padding', out.subarray(18 + hlen), inp.subarray(18 + hlen));
  if (ipHeaderValid(inp)) c.ok('checksum', ipHeaderValid(out), 'IPv4 header checksum broken by the echo reply rewrite');
  const icmpOk = (b: Buffer): boolean => inetChecksum(b.subarray(14 + hlen, 14 + tot)) === 0;
  if (icmpOk(inp)) c.ok('checksum', icmpOk(out), 'ICMP checksum broken by the echo reply rewrite');
  lengths(c, out, 'echo reply');
}

function arpReply(c: P$, inp: Buffer, out: Buffer, s: { mac: Buffer; ip: number }): void {
  c.eq('length', 'frame length', out.length, inp.length);
  if (out.length !== inp.length || out.length < 42) return;
  c.same('eth dst = the requester', out.subarray(0, 6), inp.subarray(22, 28));
  c.same('eth src = the router port', out.subarray(6, 12), s.mac);
  c.same('ethertype, hrd, pro, hln, pln', out.subarray(12, 20), inp.subarray(12, 20));
  c.eq('rewrite', 'op', out.readUInt16BE(20), 2);
  c.same('sha = the router port', out.subarray(22, 28), s.mac);
  c.eq('rewrite', 'sip = the router address', ipStr(out.readUInt32BE(28)), ipStr(s.ip));
  c.same('tha = the requester', out.subarray(32, 38), inp.subarray(22, 28));
  c.same('tip = the requester address', out.subarray(38, 42), inp.subarray(28, 32));
  c.same('padding', out.subarray(42), inp.subarray(42));
}

/** An ARP request built by the router: broadcast (resolution) or unicast to the cached MAC (a probe). */
function arpRequest(c: P$, out: Buffer, s: { dst: Buffer; mac: Buffer; sip: number; tip: number }): void {
  c.eq('length', 'ARP request frame length', out.length, 60);
  if (out.length !== 60) return;
  c.same('eth dst (broadcast, or the probed MAC)', out.subarray(0, 6), s.dst);
  c.same('eth src = the out router port', out.subarray(6, 12), s.mac);
  c.same('ARP Ethernet/IPv4 request', out.subarray(12, 22), Buffer.from([0x08, 0x06, 0, 1, 8, 0, 6, 4, 0, 1]));
  c.same('sha', out.subarray(22, 28), s.mac);
  c.eq('rewrite', 'sip', ipStr(out.readUInt32BE(28)), ipStr(s.sip));
  c.same('tha unknown', out.subarray(32, 38), Buffer.alloc(6));
  c.eq('rewrite', 'tip = the next hop', ipStr(out.readUInt32BE(38)), ipStr(s.tip));
  c.same('zero padding (nothing of the dropped packet)', out.subarray(42), Buffer.alloc(18));
}

/**
 * A RST answering a TCP segment: the firewall's for a rejected one
 * (nf_reject_ip_tcphdr_put: TOS 0, from the segment's destination MAC) or the
 * router's for one to its own address (tcp_v4_send_reset: the segment's TOS,
 * from the router port's MAC). IPv4 id 0 and DF either way.
 */
function rst(c: P$, inp: Buffer, out: Buffer, s: { srcMac?: Buffer; tos: number }): void {
  const hlen = (inp[14]! & 0x0f) * 4;
  const tot = inp.readUInt16BE(16);
  const t = 14 + hlen;
  const doff = (inp[t + 12]! >> 4) * 4;
  const flags = inp[t + 13]!;
  c.eq('length', 'RST frame length', out.length, 14 + hlen + 20);
  if (out.length < 54) return;
  c.same('eth dst = the sender', out.subarray(0, 6), inp.subarray(6, 12));
  c.same(s.srcMac ? 'eth src = the router port' : 'eth src = the original destination', out.subarray(6, 12), s.srcMac ?? inp.subarray(0, 6));
  c.eq('rewrite', 'ethertype', out.readUInt16BE(12), ET.IP);
  c.eq('length', 'version/IHL', out[14]!, 0x45);
  c.eq('rewrite', 'TOS', out[15]!, s.tos);
  c.eq('length', 'total length', out.readUInt16BE(16), 40);
  c.eq('rewrite', 'IPv4 id', out.readUInt16BE(18), 0);
  c.eq('rewrite', 'flags/offset (DF)', out.readUInt16BE(20), 0x4000);
  c.eq('rewrite', 'TTL', out[22]!, 64);
  c.eq('rewrite', 'protocol', out[23]!, P.TCP);
  c.same('source = the original destination', out.subarray(26, 30), inp.subarray(30, 34));
  c.same('destination = the sender', out.subarray(30, 34), inp.subarray(26, 30));
  c.ok('checksum', inetChecksum(out.subarray(14, 34)) === 0, 'RST IPv4 header checksum invalid');
  c.same('ports swapped', out.subarray(34, 38), Buffer.concat([inp.subarray(t + 2, t + 4), inp.subarray(t, t + 2)]));
  c.eq('rewrite', 'TCP data offset', out[46]! >> 4, 5);
  if (flags & TCPF.ACK) {
    c.eq('rewrite', 'flags', out[47]!, TCPF.RST);
    c.eq('rewrite', 'seq = the segment\'s ack', out.readUInt32BE(38), inp.readUInt32BE(t + 8));
  } else {
    const ack = (inp.readUInt32BE(t + 4) + (tot - hlen - doff) + (flags & TCPF.SYN ? 1 : 0) + (flags & TCPF.FIN ? 1 : 0)) >>> 0;
    c.eq('rewrite', 'flags', out[47]!, TCPF.RST | TCPF.ACK);
    c.eq('rewrite', 'seq', out.readUInt32BE(38), 0);
    c.eq('rewrite', 'ack = seq + length (+ SYN, FIN)', out.readUInt32BE(42), ack);
  }
  c.ok('checksum', inetChecksum(out.subarray(34, 54), pseudoSum(out.readUInt32BE(26), out.readUInt32BE(30), P.TCP, 20)) === 0, 'RST TCP checksum invalid');
  c.same('zeros after the segment', out.subarray(54), Buffer.alloc(out.length - 54));
}

/** Problems of `out` against what it must be, given the input frame. */
export function checkOutput(inp: Buffer, out: Buffer, spec: OutSpec): Problem[] {
  const c = new P$();
  switch (spec.kind) {
    case 'same':
      if (!out.equals(inp)) c.out.push({ kind: 'rewrite', msg: `a frame passed on was changed: ${hex(out)}` });
      break;
    case 'routed':
      routed(c, inp, out, spec);
      break;
    case 'icmp-error':
      icmpErr(c, inp, out, spec);
      break;
    case 'echo-reply':
      echoReply(c, inp, out, spec);
      break;
    case 'arp-reply':
      arpReply(c, inp, out, spec);
      break;
    case 'arp-request':
      arpRequest(c, out, spec);
      break;
    case 'rst':
      rst(c, inp, out, spec);
      break;
    case 'unreach':
      icmpErr(c, inp, out, { type: 3, code: 3, srcMac: inp.subarray(0, 6), srcIp: inp.readUInt32BE(30) });
      break;
    case 'observe':
      break;
  }
  return c.out;
}

