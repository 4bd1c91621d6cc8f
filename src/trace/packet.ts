/**
 * The probe packet of a trace: Ethernet + IPv4 + a TCP SYN, a UDP datagram or an ICMP echo
 * request, with valid checksums, as the source container would send it.
 */
import { parseMac } from '../codec/struct.js';

export type TraceProto = 'tcp' | 'udp' | 'icmp';

export interface ProbeSpec {
  srcMac: string;
  dstMac: string;
  /** Host-order IPv4 addresses (as in the topology model). */
  src: number;
  dst: number;
  proto: TraceProto;
  sport: number;
  dport: number;
  ttl?: number;
}

export const PROTO_NUMBER: Record<TraceProto, number> = { icmp: 1, tcp: 6, udp: 17 };

function csum(buf: Buffer, initial = 0): number {
  let s = initial;
  for (let i = 0; i + 1 < buf.length; i += 2) s += buf.readUInt16BE(i);
  if (buf.length & 1) s += buf[buf.length - 1]! << 8;
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
}

function pseudo(src: number, dst: number, proto: number, len: number): number {
  return (src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff) + proto + len;
}

function l4(p: ProbeSpec): Buffer {
  if (p.proto === 'tcp') {
    const t = Buffer.alloc(20);
    t.writeUInt16BE(p.sport, 0);
    t.writeUInt16BE(p.dport, 2);
    t.writeUInt32BE(0x1000, 4); // sequence number
    t[12] = 5 << 4; // data offset
    t[13] = 0x02; // SYN
    t.writeUInt16BE(64240, 14); // window
    t.writeUInt16BE(csum(t, pseudo(p.src, p.dst, 6, t.length)), 16);
    return t;
  }
  if (p.proto === 'udp') {
    const u = Buffer.alloc(8 + 4);
    u.writeUInt16BE(p.sport, 0);
    u.writeUInt16BE(p.dport, 2);
    u.writeUInt16BE(u.length, 4);
    u.write('vnf!', 8, 'latin1');
    u.writeUInt16BE(csum(u, pseudo(p.src, p.dst, 17, u.length)) || 0xffff, 6);
    return u;
  }
  const i = Buffer.alloc(8 + 4);
  i[0] = 8; // echo request
  i.writeUInt16BE(p.sport, 4); // identifier
  i.writeUInt16BE(1, 6); // sequence
  i.write('vnf!', 8, 'latin1');
  i.writeUInt16BE(csum(i), 2);
  return i;
}

export function buildProbe(p: ProbeSpec): Buffer {
  const payload = l4(p);
  const ip = Buffer.alloc(20);
  ip[0] = 0x45;
  ip.writeUInt16BE(20 + payload.length, 2);
  ip.writeUInt16BE(0x4000, 6); // DF
  ip[8] = p.ttl ?? 64;
  ip[9] = PROTO_NUMBER[p.proto];
  ip.writeUInt32BE(p.src >>> 0, 12);
  ip.writeUInt32BE(p.dst >>> 0, 16);
  ip.writeUInt16BE(csum(ip), 10);
  const eth = Buffer.alloc(14);
  parseMac(p.dstMac).copy(eth, 0);
  parseMac(p.srcMac).copy(eth, 6);
  eth.writeUInt16BE(0x0800, 12);
  return Buffer.concat([eth, ip, payload]);
}

/** The headers of a frame as the trace shows the packet after the run (NAT may have rewritten it). */
export interface FrameView {
  srcMac: string;
  dstMac: string;
  src: number;
  dst: number;
  proto: number;
  sport?: number;
  dport?: number;
  ttl: number;
}

const macAt = (b: Buffer, o: number): string => [...b.subarray(o, o + 6)].map((x) => x.toString(16).padStart(2, '0')).join(':');

export function viewFrame(b: Buffer): FrameView | undefined {
  if (b.length < 34 || b.readUInt16BE(12) !== 0x0800) return undefined;
  const ihl = (b[14]! & 0xf) * 4;
  const proto = b[23]!;
  const v: FrameView = { dstMac: macAt(b, 0), srcMac: macAt(b, 6), src: b.readUInt32BE(26), dst: b.readUInt32BE(30), proto, ttl: b[22]! };
  const l4o = 14 + ihl;
  if ((proto === 6 || proto === 17) && b.length >= l4o + 4) {
    v.sport = b.readUInt16BE(l4o);
    v.dport = b.readUInt16BE(l4o + 2);
  } else if (proto === 1 && b.length >= l4o + 6) {
    v.sport = b.readUInt16BE(l4o + 4);
  }
  return v;
}
