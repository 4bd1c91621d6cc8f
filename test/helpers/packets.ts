/**
 * Packet builders and checkers for BPF_PROG_TEST_RUN tests: Ethernet, ARP,
 * IPv4, ICMP, UDP, TCP with real checksums, so tests can verify checksums the
 * programs compute instead of comparing with constants.
 */
import { parseMac } from '../../src/codec/struct.js';

export const ETH_P_IP = 0x0800;
export const ETH_P_ARP = 0x0806;
export const IPPROTO_ICMP = 1;
export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;

export function ip4(s: string): number {
  const p = s.split('.').map(Number);
  return (((p[0]! << 24) | (p[1]! << 16) | (p[2]! << 8) | p[3]!) >>> 0);
}
export function ip4str(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

/** RFC 1071 Internet checksum over `buf` (plus an initial 32-bit sum). */
export function inetChecksum(buf: Uint8Array, initial = 0): number {
  let sum = initial;
  for (let i = 0; i + 1 < buf.length; i += 2) sum += (buf[i]! << 8) | buf[i + 1]!;
  if (buf.length % 2) sum += buf[buf.length - 1]! << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

export function eth(dst: string, src: string, type: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(14);
  parseMac(dst).copy(h, 0);
  parseMac(src).copy(h, 6);
  h.writeUInt16BE(type, 12);
  return Buffer.concat([h, payload]);
}

export interface Ipv4Opts {
  src: string;
  dst: string;
  proto: number;
  ttl?: number;
  id?: number;
  tos?: number;
}

export function ipv4(o: Ipv4Opts, payload: Buffer): Buffer {
  const h = Buffer.alloc(20);
  h[0] = 0x45;
  h[1] = o.tos ?? 0;
  h.writeUInt16BE(20 + payload.length, 2);
  h.writeUInt16BE(o.id ?? 1, 4);
  h.writeUInt16BE(0x4000, 6); // DF
  h[8] = o.ttl ?? 64;
  h[9] = o.proto;
  h.writeUInt32BE(ip4(o.src), 12);
  h.writeUInt32BE(ip4(o.dst), 16);
  h.writeUInt16BE(inetChecksum(h), 10);
  return Buffer.concat([h, payload]);
}

function pseudoSum(src: string, dst: string, proto: number, len: number): number {
  const s = ip4(src);
  const d = ip4(dst);
  return (s >>> 16) + (s & 0xffff) + (d >>> 16) + (d & 0xffff) + proto + len;
}

export function udp(src: string, dst: string, sport: number, dport: number, data: Buffer, zeroChecksum = false): Buffer {
  const h = Buffer.alloc(8);
  h.writeUInt16BE(sport, 0);
  h.writeUInt16BE(dport, 2);
  h.writeUInt16BE(8 + data.length, 4);
  const seg = Buffer.concat([h, data]);
  if (!zeroChecksum) {
    const c = inetChecksum(seg, pseudoSum(src, dst, IPPROTO_UDP, seg.length));
    seg.writeUInt16BE(c === 0 ? 0xffff : c, 6);
  }
  return seg;
}

export const TCP_FIN = 0x01;
export const TCP_SYN = 0x02;
export const TCP_RST = 0x04;
export const TCP_PSH = 0x08;
export const TCP_ACK = 0x10;

export const TCP_URG = 0x20;
export const TCP_ECE = 0x40;
export const TCP_CWR = 0x80;

export interface TcpOpts {
  /** Raw window field (default 65535). */
  window?: number;
  /** Option bytes (a multiple of 4, at most 40; see tcpOptions). */
  options?: Buffer;
}

export function tcp(src: string, dst: string, sport: number, dport: number, flags: number, seq = 1, ack = 0, data: Buffer = Buffer.alloc(0), o: TcpOpts = {}): Buffer {
  const opts = o.options ?? Buffer.alloc(0);
  if (opts.length % 4 || opts.length > 40) throw new Error(`TCP options of ${opts.length} bytes`);
  const h = Buffer.alloc(20 + opts.length);
  h.writeUInt16BE(sport, 0);
  h.writeUInt16BE(dport, 2);
  h.writeUInt32BE(seq >>> 0, 4);
  h.writeUInt32BE(ack >>> 0, 8);
  h[12] = ((20 + opts.length) / 4) << 4;
  h[13] = flags;
  h.writeUInt16BE(o.window ?? 65535, 14);
  opts.copy(h, 20);
  const seg = Buffer.concat([h, data]);
  seg.writeUInt16BE(inetChecksum(seg, pseudoSum(src, dst, IPPROTO_TCP, seg.length)), 16);
  return seg;
}

/** TCP options as a stack sends them, NOP-padded to a multiple of 4 bytes. */
export function tcpOptions(o: { mss?: number; wscale?: number; sackPerm?: boolean; ts?: [number, number]; sack?: Array<[number, number]> }): Buffer {
  const parts: Buffer[] = [];
  if (o.mss !== undefined) parts.push(Buffer.from([2, 4, o.mss >> 8, o.mss & 0xff]));
  if (o.sackPerm) parts.push(Buffer.from([1, 1, 4, 2])); // NOP NOP SACK-permitted
  if (o.ts) {
    const t = Buffer.from([1, 1, 8, 10, 0, 0, 0, 0, 0, 0, 0, 0]); // NOP NOP TS
    t.writeUInt32BE(o.ts[0] >>> 0, 4);
    t.writeUInt32BE(o.ts[1] >>> 0, 8);
    parts.push(t);
  }
  if (o.wscale !== undefined) parts.push(Buffer.from([1, 3, 3, o.wscale])); // NOP WS
  if (o.sack?.length) {
    const b = Buffer.alloc(2 + 2 + 8 * o.sack.length);
    b[0] = 1; b[1] = 1; b[2] = 5; b[3] = 2 + 8 * o.sack.length; // NOP NOP SACK
    o.sack.forEach(([l, r], i) => { b.writeUInt32BE(l >>> 0, 4 + 8 * i); b.writeUInt32BE(r >>> 0, 8 + 8 * i); });
    parts.push(b);
  }
  const all = Buffer.concat(parts);
  return Buffer.concat([all, Buffer.alloc((4 - (all.length % 4)) % 4, 1)]);
}

export function icmpEcho(type: 8 | 0, id: number, seq: number, data = Buffer.alloc(16, 0xab)): Buffer {
  const h = Buffer.alloc(8);
  h[0] = type;
  h.writeUInt16BE(id, 4);
  h.writeUInt16BE(seq, 6);
  const m = Buffer.concat([h, data]);
  m.writeUInt16BE(inetChecksum(m), 2);
  return m;
}

export function arp(op: 1 | 2, senderMac: string, senderIp: string, targetMac: string, targetIp: string): Buffer {
  const b = Buffer.alloc(28);
  b.writeUInt16BE(1, 0); // Ethernet
  b.writeUInt16BE(ETH_P_IP, 2);
  b[4] = 6;
  b[5] = 4;
  b.writeUInt16BE(op, 6);
  parseMac(senderMac).copy(b, 8);
  b.writeUInt32BE(ip4(senderIp), 14);
  parseMac(targetMac).copy(b, 18);
  b.writeUInt32BE(ip4(targetIp), 24);
  return b;
}

/** Ethernet + IPv4 + ICMP echo request, ready for a test run. */
export function pingPacket(o: { srcMac: string; dstMac: string; src: string; dst: string; ttl?: number; id?: number; seq?: number }): Buffer {
  return eth(o.dstMac, o.srcMac, ETH_P_IP, ipv4({ src: o.src, dst: o.dst, proto: IPPROTO_ICMP, ttl: o.ttl ?? 64 }, icmpEcho(8, o.id ?? 1, o.seq ?? 1)));
}
