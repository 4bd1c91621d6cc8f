/**
 * Frames for the packet fuzz test (test/bpf/fuzz.test.ts): a seeded PRNG,
 * builders that control every header field (IPv4 options and fragment bits,
 * TCP options, ICMP errors quoting other packets, ARP of any hardware and
 * protocol type and length, IPv6, 802.1Q/802.1ad tags, LLDP, 802.3 LLC),
 * structured frames drawn from a scene (who sends, to whom), mutations of
 * them (truncation at and inside every header, bit flips, wrong IHL, total
 * length, TCP data offset, fragment bits, bad checksums, swapped types and
 * addresses) and random bytes.
 *
 * Everything is a pure function of its PRNG, and every frame of a stream has
 * a PRNG of its own (seeded from the run's seed, the stream and the frame's
 * index): a frame reported with its seed and index is generated again by the
 * same call.
 */
import { parseMac } from '../../src/codec/struct.js';
import { inetChecksum } from './packets.js';

/* ---- PRNG --------------------------------------------------------------- */

/** 32-bit hash of a few integers (murmur3's finalizer over a running mix). */
export function mix(...xs: number[]): number {
  let h = 0x9e3779b9;
  for (const x of xs) {
    h = Math.imul(h ^ (x >>> 0), 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    h ^= h >>> 16;
  }
  return h >>> 0;
}

/** A stream name as a number, for mix(). */
export function streamId(name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** mulberry32 with the helpers a generator needs. */
export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  u32(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }
  next(): number {
    return this.u32() / 4294967296;
  }
  /** 0 .. n-1 */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  /** lo .. hi inclusive */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }
  bool(p = 0.5): boolean {
    return this.next() < p;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)] as T;
  }
  /** One of `choices` by weight. */
  weighted<T>(choices: ReadonlyArray<readonly [number, T]>): T {
    let total = 0;
    for (const [w] of choices) total += w;
    let x = this.next() * total;
    for (const [w, v] of choices) {
      if ((x -= w) < 0) return v;
    }
    return choices[choices.length - 1]![1];
  }
  bytes(n: number): Buffer {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = this.u32() & 0xff;
    return b;
  }
}

/* ---- constants and small helpers ---------------------------------------- */

export const ETH_HLEN = 14;
export const ET = { IP: 0x0800, ARP: 0x0806, IPV6: 0x86dd, VLAN: 0x8100, QINQ: 0x88a8, LLDP: 0x88cc, RARP: 0x8035, MPLS: 0x8847 } as const;
export const P = { ICMP: 1, TCP: 6, UDP: 17, GRE: 47, ESP: 50, SCTP: 132 } as const;
export const TCPF = { FIN: 0x01, SYN: 0x02, RST: 0x04, PSH: 0x08, ACK: 0x10, URG: 0x20, ECE: 0x40, CWR: 0x80 } as const;

export const BCAST_MAC = Buffer.alloc(6, 0xff);
export const ZERO_MAC = Buffer.alloc(6);
export const LLDP_MAC = parseMac('01:80:c2:00:00:0e');
export const mac = (s: string): Buffer => parseMac(s);
export const macStr = (b: Uint8Array): string => [...b.subarray(0, 6)].map((x) => x.toString(16).padStart(2, '0')).join(':');
export const isMulticastMac = (b: Uint8Array): boolean => (b[0]! & 1) === 1;
export const isZeroMac = (b: Uint8Array): boolean => b[0] === 0 && b[1] === 0 && b[2] === 0 && b[3] === 0 && b[4] === 0 && b[5] === 0;

export const ip = (s: string): number => {
  const p = s.split('.').map(Number);
  return ((p[0]! << 24) | (p[1]! << 16) | (p[2]! << 8) | p[3]!) >>> 0;
};
export const ipStr = (n: number): string => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
export const maskOf = (plen: number): number => (plen === 0 ? 0 : (0xffffffff << (32 - plen)) >>> 0);
export const inPrefix = (addr: number, net: number, plen: number): boolean => ((addr & maskOf(plen)) >>> 0) === ((net & maskOf(plen)) >>> 0);

const u32be = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
};

/* ---- builders ----------------------------------------------------------- */

export function ethFrame(dst: Uint8Array, src: Uint8Array, type: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(14);
  h.set(dst.subarray(0, 6), 0);
  h.set(src.subarray(0, 6), 6);
  h.writeUInt16BE(type & 0xffff, 12);
  return Buffer.concat([h, payload]);
}

/** One's complement sum of the IPv4 pseudo header. */
export function pseudoSum(src: number, dst: number, proto: number, len: number): number {
  return (src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff) + proto + len;
}

export interface Ip4Opts {
  src: number;
  dst: number;
  proto: number;
  ttl?: number;
  id?: number;
  tos?: number;
  /** Flags and fragment offset as the 16-bit field (default DF). */
  frag?: number;
  /** Option bytes, zero-padded to a multiple of 4 (at most 40). */
  options?: Buffer;
}

export function ipv4(o: Ip4Opts, payload: Buffer): Buffer {
  const opts = o.options ?? Buffer.alloc(0);
  const olen = Math.min(40, Math.ceil(opts.length / 4) * 4);
  const h = Buffer.alloc(20 + olen);
  h[0] = 0x40 | ((20 + olen) / 4);
  h[1] = o.tos ?? 0;
  h.writeUInt16BE((h.length + payload.length) & 0xffff, 2);
  h.writeUInt16BE((o.id ?? 1) & 0xffff, 4);
  h.writeUInt16BE((o.frag ?? 0x4000) & 0xffff, 6);
  h[8] = o.ttl ?? 64;
  h[9] = o.proto & 0xff;
  h.writeUInt32BE(o.src >>> 0, 12);
  h.writeUInt32BE(o.dst >>> 0, 16);
  opts.subarray(0, olen).copy(h, 20);
  h.writeUInt16BE(inetChecksum(h), 10);
  return Buffer.concat([h, payload]);
}

export function udp(src: number, dst: number, sport: number, dport: number, data: Buffer, zeroChecksum = false): Buffer {
  const seg = Buffer.alloc(8 + data.length);
  seg.writeUInt16BE(sport & 0xffff, 0);
  seg.writeUInt16BE(dport & 0xffff, 2);
  seg.writeUInt16BE(seg.length & 0xffff, 4);
  data.copy(seg, 8);
  if (!zeroChecksum) {
    const c = inetChecksum(seg, pseudoSum(src, dst, P.UDP, seg.length));
    seg.writeUInt16BE(c === 0 ? 0xffff : c, 6);
  }
  return seg;
}

export interface TcpFields {
  sport: number;
  dport: number;
  flags: number;
  seq?: number;
  ack?: number;
  win?: number;
  /** Option bytes, a multiple of 4, at most 40. */
  options?: Buffer;
  data?: Buffer;
}

export function tcp(src: number, dst: number, f: TcpFields): Buffer {
  const opts = f.options ?? Buffer.alloc(0);
  const data = f.data ?? Buffer.alloc(0);
  const h = Buffer.alloc(20 + opts.length + data.length);
  h.writeUInt16BE(f.sport & 0xffff, 0);
  h.writeUInt16BE(f.dport & 0xffff, 2);
  h.writeUInt32BE((f.seq ?? 1000) >>> 0, 4);
  h.writeUInt32BE((f.ack ?? 0) >>> 0, 8);
  h[12] = ((20 + opts.length) / 4) << 4;
  h[13] = f.flags & 0xff;
  h.writeUInt16BE((f.win ?? 64240) & 0xffff, 14);
  opts.copy(h, 20);
  data.copy(h, 20 + opts.length);
  h.writeUInt16BE(inetChecksum(h, pseudoSum(src, dst, P.TCP, h.length)), 16);
  return h;
}

/** ICMP: type, code, checksum, 4 bytes of `rest`, then `body`. */
export function icmp(type: number, code: number, rest: Buffer, body: Buffer): Buffer {
  const m = Buffer.concat([Buffer.from([type & 0xff, code & 0xff, 0, 0]), rest.subarray(0, 4), Buffer.alloc(Math.max(0, 4 - rest.length)), body]);
  m.writeUInt16BE(inetChecksum(m), 2);
  return m;
}

export function echo(type: 8 | 0, id: number, seq: number, data: Buffer): Buffer {
  const rest = Buffer.alloc(4);
  rest.writeUInt16BE(id & 0xffff, 0);
  rest.writeUInt16BE(seq & 0xffff, 2);
  return icmp(type, 0, rest, data);
}

export interface ArpFields {
  hrd?: number;
  pro?: number;
  hln?: number;
  pln?: number;
  op: number;
  sha: Buffer;
  spa: Buffer | number;
  tha: Buffer;
  tpa: Buffer | number;
}

/** ARP of any hardware/protocol length: addresses are cut or zero-padded to hln/pln. */
export function arp(f: ArpFields): Buffer {
  const hln = f.hln ?? 6;
  const pln = f.pln ?? 4;
  const fit = (b: Buffer | number, n: number): Buffer => {
    const src = typeof b === 'number' ? u32be(b) : b;
    const out = Buffer.alloc(n);
    src.copy(out, 0, 0, Math.min(n, src.length));
    return out;
  };
  const h = Buffer.alloc(8);
  h.writeUInt16BE((f.hrd ?? 1) & 0xffff, 0);
  h.writeUInt16BE((f.pro ?? ET.IP) & 0xffff, 2);
  h[4] = hln & 0xff;
  h[5] = pln & 0xff;
  h.writeUInt16BE(f.op & 0xffff, 6);
  return Buffer.concat([h, fit(f.sha, hln), fit(f.spa, pln), fit(f.tha, hln), fit(f.tpa, pln)]);
}

export function ipv6(src: Buffer, dst: Buffer, next: number, payload: Buffer, hop = 64): Buffer {
  const h = Buffer.alloc(40);
  h.writeUInt32BE(0x60000000, 0);
  h.writeUInt16BE(payload.length & 0xffff, 4);
  h[6] = next;
  h[7] = hop;
  src.copy(h, 8, 0, 16);
  dst.copy(h, 24, 0, 16);
  return Buffer.concat([h, payload]);
}

/** The frame with an 802.1Q (or 802.1ad) tag inserted after the MAC addresses. */
export function withTag(frame: Buffer, tci: number, tpid: number = ET.VLAN): Buffer {
  const tag = Buffer.alloc(4);
  tag.writeUInt16BE(tpid, 0);
  tag.writeUInt16BE(tci & 0xffff, 2);
  return Buffer.concat([frame.subarray(0, 12), tag, frame.subarray(12)]);
}

/** IPv4 options as hosts and routers send them (and some that nobody should). */
export function ipOptions(rng: Rng): Buffer {
  const parts: Buffer[] = [];
  let room = rng.pick([4, 8, 12, 20, 40]);
  while (room > 0) {
    const kind = rng.weighted<string>([[3, 'nop'], [1, 'eol'], [2, 'rr'], [2, 'ts'], [1, 'lsrr'], [1, 'ssrr'], [2, 'ra'], [1, 'sec'], [2, 'junk']]);
    let o: Buffer;
    if (kind === 'nop') o = Buffer.from([1]);
    else if (kind === 'eol') o = Buffer.from([0]);
    else if (kind === 'ra') o = Buffer.from([148, 4, 0, 0]);
    else if (kind === 'sec') o = Buffer.concat([Buffer.from([130, 11]), rng.bytes(9)]);
    else if (kind === 'rr' || kind === 'lsrr' || kind === 'ssrr') {
      const n = rng.range(1, 9);
      o = Buffer.concat([Buffer.from([kind === 'rr' ? 7 : kind === 'lsrr' ? 131 : 137, 3 + 4 * n, 4]), rng.bytes(4 * n)]);
    } else if (kind === 'ts') {
      const n = rng.range(1, 9);
      o = Buffer.concat([Buffer.from([68, 4 + 4 * n, 5, rng.pick([0, 1, 3])]), rng.bytes(4 * n)]);
    } else {
      // A kind with a length that may be 0, 1 or run past the header.
      o = Buffer.concat([Buffer.from([rng.int(256), rng.pick([0, 1, 2, 3, 40, 255, rng.int(256)])]), rng.bytes(rng.int(6))]);
    }
    parts.push(o.subarray(0, room));
    room -= Math.min(room, o.length);
  }
  return Buffer.concat(parts);
}

/** TCP options: well-formed lists as stacks send them, or garbage. */
export function tcpOptions(rng: Rng): Buffer {
  let b: Buffer;
  if (rng.bool(0.7)) {
    const parts: Buffer[] = [];
    if (rng.bool(0.7)) parts.push(Buffer.from([2, 4, 0x05, 0xb4]));
    if (rng.bool(0.5)) parts.push(Buffer.from([1, 1, 4, 2]));
    if (rng.bool(0.5)) parts.push(Buffer.concat([Buffer.from([1, 1, 8, 10]), rng.bytes(8)]));
    if (rng.bool(0.5)) parts.push(Buffer.from([1, 3, 3, rng.pick([0, 7, 14, 15, 255])]));
    if (rng.bool(0.3)) {
      const n = rng.range(1, 4);
      parts.push(Buffer.concat([Buffer.from([1, 1, 5, 2 + 8 * n]), rng.bytes(8 * n)]));
    }
    b = Buffer.concat(parts);
  } else {
    b = rng.bytes(rng.range(1, 40));
  }
  b = b.subarray(0, 40);
  return Buffer.concat([b, Buffer.alloc((4 - (b.length % 4)) % 4, 1)]);
}

/* ---- scenes and structured frames ---------------------------------------- */

export interface Endpoint {
  mac: Buffer;
  ip: number;
}

/**
 * Who a generated frame may come from and go to. Frames mostly come from
 * `self` (its MAC and address); `srcIps`/`srcMacs` are the others a sender
 * may try (allowed prefixes, neighbours, spoofs, martians); destinations are
 * drawn from `peers`, `router` and `dstIps`.
 */
export interface Scene {
  self: Endpoint;
  peers: Endpoint[];
  router?: Endpoint;
  srcIps: number[];
  dstIps: number[];
  srcMacs: Buffer[];
  dstMacs: Buffer[];
}

export interface Gen {
  frame: Buffer;
  /** How it was made: the structure, then each mutation. */
  what: string;
}

const MARTIANS = ['0.0.0.0', '127.0.0.1', '224.0.0.5', '239.255.255.250', '240.0.0.1', '255.255.255.255', '0.1.2.3'].map(ip);

function pickSrc(rng: Rng, s: Scene): { mac: Buffer; ip: number } {
  const m = rng.bool(0.85) ? s.self.mac : rng.pick(s.srcMacs);
  const a = rng.weighted<() => number>([
    [80, () => s.self.ip],
    [12, () => rng.pick(s.srcIps)],
    [4, () => rng.pick(MARTIANS)],
    [4, () => rng.u32()],
  ])();
  return { mac: m, ip: a };
}

function pickDst(rng: Rng, s: Scene): { mac: Buffer; ip: number } {
  const peer = s.peers.length ? rng.pick(s.peers) : s.self;
  return rng.weighted<() => { mac: Buffer; ip: number }>([
    [35, () => ({ mac: peer.mac, ip: peer.ip })],
    [s.router ? 35 : 0, () => ({ mac: s.router!.mac, ip: rng.bool(0.75) ? rng.pick(s.dstIps) : s.router!.ip })],
    [10, () => ({ mac: rng.pick(s.dstMacs), ip: rng.pick(s.dstIps) })],
    [8, () => ({ mac: BCAST_MAC, ip: rng.bool(0.5) ? 0xffffffff : rng.pick(s.dstIps) })],
    [6, () => ({ mac: rng.bool(0.5) ? mac('01:00:5e:00:00:05') : mac('33:33:00:00:00:01'), ip: rng.pick([ip('224.0.0.5'), ip('239.1.2.3')]) })],
    [6, () => ({ mac: peer.mac, ip: rng.u32() })],
  ])();
}

const port = (rng: Rng): number => rng.weighted<() => number>([[4, () => rng.pick([22, 53, 80, 123, 443, 8080])], [4, () => rng.range(1024, 65535)], [1, () => rng.pick([0, 1, 65535])]])();

/** An IPv4 payload of `proto` between src and dst (complete, checksums right). */
function l4(rng: Rng, proto: number, src: number, dst: number): Buffer {
  const data = rng.bytes(rng.weighted<number>([[3, 0], [4, rng.range(1, 32)], [1, rng.range(33, 300)]]));
  if (proto === P.UDP) return udp(src, dst, port(rng), port(rng), data, rng.bool(0.1));
  if (proto === P.TCP) {
    const flags = rng.weighted<number>([
      [5, TCPF.SYN], [3, TCPF.SYN | TCPF.ACK], [4, TCPF.ACK], [2, TCPF.PSH | TCPF.ACK], [2, TCPF.RST], [1, TCPF.RST | TCPF.ACK],
      [2, TCPF.FIN | TCPF.ACK], [1, TCPF.SYN | TCPF.ECE | TCPF.CWR], [1, TCPF.SYN | TCPF.FIN], [1, 0], [1, rng.int(256)],
    ]);
    return tcp(src, dst, { sport: port(rng), dport: port(rng), flags, seq: rng.u32(), ack: rng.u32(), win: rng.int(65536), options: rng.bool(0.4) ? tcpOptions(rng) : undefined, data });
  }
  if (proto === P.ICMP) {
    const type = rng.weighted<number>([[6, 8], [3, 0], [1, 13], [1, 14], [1, 9], [1, 10], [1, 17], [1, 30], [1, rng.int(256)]]);
    if (type === 8 || type === 0) return echo(type, rng.int(65536), rng.int(65536), data);
    return icmp(type, rng.int(4), rng.bytes(4), data);
  }
  return rng.bytes(rng.range(0, 64));
}

/** An ICMP error about `inner` (an IPv4 packet), quoting its header and `quoteL4` bytes after it. */
export function icmpError(type: number, code: number, inner: Buffer, quoteL4 = 8, rest = Buffer.alloc(4)): Buffer {
  const ihl = (inner[0]! & 0x0f) * 4;
  return icmp(type, code, rest, inner.subarray(0, Math.min(inner.length, ihl + quoteL4)));
}

export type StructKind =
  | 'udp' | 'tcp' | 'icmp' | 'icmp-error' | 'ip-other' | 'ip-options' | 'frag-first' | 'frag-middle' | 'frag-last'
  | 'frag-tcp-8' | 'frag-tiny' | 'arp' | 'arp-odd' | 'ipv6' | 'vlan' | 'qinq' | 'lldp' | 'llc' | 'ethertype';

const KINDS: ReadonlyArray<readonly [number, StructKind]> = [
  [14, 'udp'], [14, 'tcp'], [10, 'icmp'], [7, 'icmp-error'], [3, 'ip-other'], [5, 'ip-options'],
  [3, 'frag-first'], [2, 'frag-middle'], [2, 'frag-last'], [1, 'frag-tcp-8'], [1, 'frag-tiny'],
  [10, 'arp'], [4, 'arp-odd'], [3, 'ipv6'], [3, 'vlan'], [1, 'qinq'], [1, 'lldp'], [1, 'llc'], [1, 'ethertype'],
];

/** An IPv4 packet of the scene (src/dst drawn from it). */
function ipPacket(rng: Rng, src: number, dst: number, o: { proto?: number; options?: Buffer; frag?: number; payload?: Buffer } = {}): Buffer {
  const proto = o.proto ?? rng.weighted<number>([[4, P.UDP], [4, P.TCP], [3, P.ICMP], [1, rng.pick([P.GRE, P.ESP, P.SCTP, 0, 255])]]);
  return ipv4(
    { src, dst, proto, ttl: rng.weighted<number>([[10, 64], [2, 1], [1, 0], [2, 2], [1, 255]]), id: rng.int(65536), tos: rng.bool(0.2) ? rng.int(256) : 0, frag: o.frag ?? (rng.bool(0.7) ? 0x4000 : 0), options: o.options },
    o.payload ?? l4(rng, proto, src, dst),
  );
}

/** A structured frame of the scene: a header stack a host could send (possibly as someone else). */
export function structured(rng: Rng, s: Scene, kind: StructKind = rng.weighted(KINDS)): Gen {
  const from = pickSrc(rng, s);
  const to = pickDst(rng, s);
  const ipf = (payload: Buffer): Buffer => ethFrame(to.mac, from.mac, ET.IP, payload);
  switch (kind) {
    case 'udp':
      return { frame: ipf(ipPacket(rng, from.ip, to.ip, { proto: P.UDP })), what: kind };
    case 'tcp':
      return { frame: ipf(ipPacket(rng, from.ip, to.ip, { proto: P.TCP })), what: kind };
    case 'icmp':
      return { frame: ipf(ipPacket(rng, from.ip, to.ip, { proto: P.ICMP })), what: kind };
    case 'icmp-error': {
      // About a packet the destination sent to us (or to someone else).
      const inner = ipPacket(rng, rng.bool(0.8) ? to.ip : rng.pick(s.dstIps), rng.bool(0.8) ? from.ip : rng.pick(s.srcIps), { options: rng.bool(0.15) ? ipOptions(rng) : undefined });
      const [type, code] = rng.pick([[3, 3], [3, 1], [3, 4], [3, 13], [11, 0], [11, 1], [12, 0], [4, 0], [5, 1]] as const);
      const q = rng.weighted<number>([[8, 8], [2, rng.range(0, 7)], [2, rng.range(9, 64)]]);
      return { frame: ipf(ipv4({ src: from.ip, dst: to.ip, proto: P.ICMP, id: rng.int(65536) }, icmpError(type, code, inner, q))), what: `icmp-error ${type}/${code} quote+${q}` };
    }
    case 'ip-other':
      return { frame: ipf(ipPacket(rng, from.ip, to.ip, { proto: rng.pick([P.GRE, P.ESP, P.SCTP, 0, 2, 255]) })), what: kind };
    case 'ip-options':
      return { frame: ipf(ipPacket(rng, from.ip, to.ip, { options: ipOptions(rng) })), what: kind };
    case 'frag-first':
    case 'frag-middle':
    case 'frag-last':
    case 'frag-tcp-8':
    case 'frag-tiny': {
      const proto = kind === 'frag-tcp-8' ? P.TCP : rng.pick([P.UDP, P.TCP, P.ICMP, P.GRE]);
      const whole = l4(rng, proto, from.ip, to.ip);
      let frag: number;
      let payload: Buffer;
      if (kind === 'frag-first') {
        frag = 0x2000;
        payload = whole.subarray(0, Math.max(8, Math.min(whole.length, 8 * rng.range(1, 8))));
      } else if (kind === 'frag-tiny') {
        frag = 0x2000;
        payload = whole.subarray(0, rng.range(1, 7));
      } else if (kind === 'frag-tcp-8') {
        frag = rng.pick([0x2001, 0x0001]);
        payload = rng.bytes(rng.range(1, 40));
      } else {
        frag = (kind === 'frag-middle' ? 0x2000 : 0) | rng.range(1, 0x1fff);
        payload = rng.bytes(rng.pick([8, 16, 24, rng.range(1, 100)]));
      }
      return { frame: ipf(ipv4({ src: from.ip, dst: to.ip, proto, id: rng.int(65536), frag }, payload)), what: kind };
    }
    case 'arp': {
      // Request, reply, probe (sender 0.0.0.0, RFC 5227), gratuitous (sender = target).
      const sub = rng.pick(['request', 'reply', 'probe', 'gratuitous', 'gratuitous-reply'] as const);
      const sha = rng.bool(0.9) ? from.mac : rng.pick(s.srcMacs);
      const tip = s.router && rng.bool(0.5) ? s.router.ip : to.ip;
      const f =
        sub === 'request' ? { op: 1, sha, spa: from.ip, tha: ZERO_MAC, tpa: tip } :
        sub === 'reply' ? { op: 2, sha, spa: from.ip, tha: to.mac, tpa: tip } :
        sub === 'probe' ? { op: 1, sha, spa: 0, tha: ZERO_MAC, tpa: from.ip } :
        sub === 'gratuitous' ? { op: 1, sha, spa: from.ip, tha: ZERO_MAC, tpa: from.ip } :
        { op: 2, sha, spa: from.ip, tha: BCAST_MAC, tpa: from.ip };
      const dst = sub === 'request' || sub === 'probe' || sub === 'gratuitous' || sub === 'gratuitous-reply' ? (rng.bool(0.85) ? BCAST_MAC : to.mac) : to.mac;
      const body = arp(f);
      // Ethernet minimum: padded to 60 bytes, as on a wire, most of the time.
      const frame = ethFrame(dst, from.mac, ET.ARP, rng.bool(0.6) ? Buffer.concat([body, Buffer.alloc(18)]) : body);
      return { frame, what: `arp ${sub}` };
    }
    case 'arp-odd': {
      // Wrong hardware/protocol types or lengths, unknown operations.
      const f: ArpFields = { op: 1, sha: from.mac, spa: from.ip, tha: ZERO_MAC, tpa: s.router?.ip ?? to.ip };
      const what = rng.pick(['hrd', 'pro', 'hln', 'pln', 'op'] as const);
      if (what === 'hrd') f.hrd = rng.pick([0, 6, 0x0101, rng.int(65536)]);
      if (what === 'pro') f.pro = rng.pick([ET.IPV6, 0, rng.int(65536)]);
      if (what === 'hln') f.hln = rng.pick([0, 4, 8, 16, 255]);
      if (what === 'pln') f.pln = rng.pick([0, 6, 16, 255]);
      if (what === 'op') f.op = rng.pick([0, 3, 4, 8, 9, 0xffff]);
      return { frame: ethFrame(rng.bool(0.7) ? BCAST_MAC : to.mac, from.mac, ET.ARP, Buffer.concat([arp(f), rng.bool(0.5) ? Buffer.alloc(18) : Buffer.alloc(0)])), what: `arp bad ${what}` };
    }
    case 'ipv6': {
      const src6 = Buffer.concat([Buffer.from([0xfe, 0x80]), Buffer.alloc(6), rng.bytes(8)]);
      const dst6 = rng.bool(0.5) ? Buffer.from('ff020000000000000000000000000001', 'hex') : rng.bytes(16);
      const next = rng.pick([58, 17, 6, 0, 59]);
      const pl = next === 17 ? Buffer.concat([Buffer.from([0x02, 0x22, 0x02, 0x23, 0, 16, 0, 0]), rng.bytes(8)]) : next === 58 ? Buffer.concat([Buffer.from([rng.pick([133, 134, 135, 136, 128]), 0, 0, 0]), rng.bytes(20)]) : rng.bytes(rng.range(0, 40));
      return { frame: ethFrame(rng.bool(0.5) ? mac('33:33:00:00:00:01') : to.mac, from.mac, ET.IPV6, ipv6(src6, dst6, next, pl)), what: `ipv6 next ${next}` };
    }
    case 'vlan':
    case 'qinq': {
      const inner = structured(rng, s, rng.pick(['udp', 'tcp', 'icmp', 'arp'] as const));
      // 802.1ad: the service tag (0x88a8) outside, the customer tag (0x8100) inside.
      let f = withTag(inner.frame, rng.pick([0, 1, 5, 100, 4095, rng.int(65536)]), ET.VLAN);
      if (kind === 'qinq') f = withTag(f, rng.int(4096), ET.QINQ);
      return { frame: f, what: `${kind}(${inner.what})` };
    }
    case 'lldp': {
      // Chassis id, port id, TTL, end.
      const tlvs = Buffer.concat([Buffer.from([0x02, 0x07, 0x04]), from.mac, Buffer.from([0x04, 0x04, 0x05, 0x65, 0x74, 0x68]), Buffer.from([0x06, 0x02, 0x00, 0x78]), Buffer.from([0, 0])]);
      return { frame: ethFrame(LLDP_MAC, from.mac, ET.LLDP, Buffer.concat([tlvs, Buffer.alloc(Math.max(0, 46 - tlvs.length))])), what: kind };
    }
    case 'llc': {
      // 802.3 with a length field and LLC (e.g. STP BPDUs to 01:80:c2:00:00:00).
      const body = Buffer.concat([Buffer.from([0x42, 0x42, 0x03]), rng.bytes(rng.range(35, 60))]);
      return { frame: ethFrame(rng.bool(0.5) ? mac('01:80:c2:00:00:00') : to.mac, from.mac, body.length, body), what: kind };
    }
    case 'ethertype': {
      const et = rng.pick([ET.RARP, ET.MPLS, 0x88e5, 0x8863, 0x8864, 0x0842, 0x9000, 0xffff, 0x0600, rng.int(65536)]);
      return { frame: ethFrame(to.mac, from.mac, et, rng.bytes(rng.range(0, 80))), what: `ethertype 0x${et.toString(16)}` };
    }
  }
}

/* ---- mutations ---------------------------------------------------------- */

/** Where the headers of a frame are (as far as it has them). */
export function layout(f: Buffer): { l3: number; et: number; ihl?: number; l4?: number; proto?: number; doff?: number } {
  if (f.length < 14) return { l3: 14, et: -1 };
  let l3 = 14;
  let et = f.readUInt16BE(12);
  while ((et === ET.VLAN || et === ET.QINQ) && f.length >= l3 + 4) {
    et = f.readUInt16BE(l3 + 2);
    l3 += 4;
  }
  if (et !== ET.IP || f.length < l3 + 20) return { l3, et };
  const ihl = (f[l3]! & 0x0f) * 4;
  const proto = f[l3 + 9]!;
  const l4 = l3 + ihl;
  const doff = proto === P.TCP && f.length >= l4 + 13 ? (f[l4 + 12]! >> 4) * 4 : undefined;
  return { l3, et, ihl, l4, proto, ...(doff !== undefined ? { doff } : {}) };
}

/** Recomputes the IPv4 header checksum over the header's stated length (where it fits). */
export function fixIpChecksum(f: Buffer): void {
  const { l3, et } = layout(f);
  if (et !== ET.IP || f.length < l3 + 20) return;
  const hlen = Math.max(20, (f[l3]! & 0x0f) * 4);
  const end = Math.min(f.length, l3 + hlen);
  f.writeUInt16BE(0, l3 + 10);
  f.writeUInt16BE(inetChecksum(f.subarray(l3, end)), l3 + 10);
}

/** Recomputes the TCP/UDP/ICMP checksum over the IPv4 payload (as much as there is). */
export function fixL4Checksum(f: Buffer): void {
  const { l3, et, ihl, l4, proto } = layout(f);
  if (et !== ET.IP || ihl === undefined || l4 === undefined || ihl < 20) return;
  const tot = f.readUInt16BE(l3 + 2);
  const end = Math.min(f.length, l3 + tot);
  if (end <= l4) return;
  const seg = f.subarray(l4, end);
  const off = proto === P.TCP ? 16 : proto === P.UDP ? 6 : proto === P.ICMP ? 2 : -1;
  if (off < 0 || seg.length < off + 2) return;
  seg.writeUInt16BE(0, off);
  const init = proto === P.ICMP ? 0 : pseudoSum(f.readUInt32BE(l3 + 12), f.readUInt32BE(l3 + 16), proto!, seg.length);
  seg.writeUInt16BE(inetChecksum(seg, init), off);
}

export type Mutation =
  | 'trunc-boundary' | 'trunc-header' | 'trunc-any' | 'pad' | 'bitflip' | 'byte' | 'ihl' | 'tot-len' | 'doff' | 'ip-csum'
  | 'l4-csum' | 'fix-csum' | 'frag' | 'ttl' | 'proto' | 'version' | 'ethertype' | 'tag' | 'mac-src' | 'mac-dst' | 'ip-src'
  | 'ip-dst' | 'tcp-flags' | 'arp-field' | 'icmp-type' | 'random-tail';

const MUTATIONS: ReadonlyArray<readonly [number, Mutation]> = [
  [8, 'trunc-boundary'], [6, 'trunc-header'], [2, 'trunc-any'], [3, 'pad'], [8, 'bitflip'], [4, 'byte'], [5, 'ihl'], [6, 'tot-len'],
  [4, 'doff'], [4, 'ip-csum'], [4, 'l4-csum'], [4, 'fix-csum'], [5, 'frag'], [4, 'ttl'], [4, 'proto'], [2, 'version'], [2, 'ethertype'],
  [2, 'tag'], [3, 'mac-src'], [3, 'mac-dst'], [4, 'ip-src'], [4, 'ip-dst'], [4, 'tcp-flags'], [3, 'arp-field'], [3, 'icmp-type'], [2, 'random-tail'],
];

/** One mutation of `f` (a new buffer); `s` supplies addresses to swap in. */
export function mutate(rng: Rng, f0: Buffer, s: Scene, m: Mutation = rng.weighted(MUTATIONS)): Gen {
  const f = Buffer.from(f0);
  const L = layout(f);
  const isIp = L.et === ET.IP && L.ihl !== undefined;
  const at = (n: number): Buffer => f.subarray(0, Math.max(0, Math.min(f.length, n)));
  switch (m) {
    case 'trunc-boundary': {
      const b = [12, 14, L.l3, L.l3 + 8, L.l3 + 20, L.l3 + 28];
      if (isIp) b.push(L.l3 + L.ihl!, L.l4! + 4, L.l4! + 8, L.l4! + 12, L.l4! + 20, L.l4! + 28, L.l4! + 8 + 20, L.l4! + 8 + 28);
      if (L.doff !== undefined) b.push(L.l4! + L.doff);
      const n = rng.pick(b.filter((x) => x < f.length && x >= 0));
      return { frame: at(n ?? f.length), what: `trunc@${n}` };
    }
    case 'trunc-header': {
      const n = rng.range(L.l3, Math.min(f.length, (L.l4 ?? L.l3 + 20) + 40));
      return { frame: at(n), what: `trunc@${n}` };
    }
    case 'trunc-any': {
      const n = rng.range(0, f.length);
      return { frame: at(n), what: `trunc@${n}` };
    }
    case 'pad':
      return { frame: Buffer.concat([f, rng.bool(0.5) ? Buffer.alloc(Math.max(1, 60 - f.length)) : rng.bytes(rng.range(1, 64))]), what: 'pad' };
    case 'random-tail': {
      const n = rng.range(L.l3, f.length);
      return { frame: Buffer.concat([f.subarray(0, n), rng.bytes(rng.range(0, 80))]), what: `random@${n}` };
    }
    case 'bitflip': {
      const k = rng.range(1, 4);
      const offs: number[] = [];
      for (let i = 0; i < k && f.length; i++) {
        const o = rng.int(Math.min(f.length, 100));
        f[o]! ^= 1 << rng.int(8);
        offs.push(o);
      }
      return { frame: f, what: `flip@${offs.join(',')}` };
    }
    case 'byte': {
      if (!f.length) return { frame: f, what: 'byte' };
      const o = rng.int(Math.min(f.length, 100));
      f[o] = rng.int(256);
      return { frame: f, what: `byte@${o}` };
    }
    case 'ihl':
    case 'tot-len':
    case 'frag':
    case 'ttl':
    case 'proto':
    case 'version':
    case 'ip-csum':
    case 'fix-csum':
    case 'ip-src':
    case 'ip-dst': {
      if (f.length < L.l3 + 20 || L.et !== ET.IP) return mutate(rng, f0, s, 'bitflip');
      const h = L.l3;
      let what: string = m;
      if (m === 'ihl') {
        const v = rng.range(0, 15);
        f[h] = (f[h]! & 0xf0) | v;
        what = `ihl=${v}`;
      } else if (m === 'tot-len') {
        const hlen = (f[h]! & 0x0f) * 4;
        const v = rng.pick([0, 19, 20, hlen - 1, hlen, hlen + 7, f.length - h - 1, f.length - h + 1, f.length - h + rng.range(2, 100), 0xffff, rng.int(65536)]) & 0xffff;
        f.writeUInt16BE(v, h + 2);
        what = `tot=${v}`;
      } else if (m === 'frag') {
        const v = rng.pick([0x2000, 0x2000 | rng.range(1, 0x1fff), rng.range(1, 0x1fff), 0x0001, 0x2001, 0x1fff, 0x8000, 0x6000, rng.int(65536)]);
        f.writeUInt16BE(v, h + 6);
        what = `frag=0x${v.toString(16)}`;
      } else if (m === 'ttl') {
        f[h + 8] = rng.pick([0, 1, 2, 255]);
        what = `ttl=${f[h + 8]}`;
      } else if (m === 'proto') {
        f[h + 9] = rng.pick([P.ICMP, P.TCP, P.UDP, P.GRE, 0, 255, rng.int(256)]);
        what = `proto=${f[h + 9]}`;
      } else if (m === 'version') {
        f[h] = (rng.int(16) << 4) | (f[h]! & 0x0f);
        what = `version=${f[h]! >> 4}`;
      } else if (m === 'ip-csum') {
        f.writeUInt16BE((f.readUInt16BE(h + 10) + rng.range(1, 0xfffe)) & 0xffff, h + 10);
      } else if (m === 'ip-src' || m === 'ip-dst') {
        const v = m === 'ip-src' ? rng.pick([...s.srcIps, ...MARTIANS, s.self.ip]) : rng.pick([...s.dstIps, ...MARTIANS]);
        f.writeUInt32BE(v >>> 0, h + (m === 'ip-src' ? 12 : 16));
        what = `${m}=${ipStr(v)}`;
      }
      // Header changes usually come with a checksum that matches them (a
      // crafted packet) and sometimes not (corruption).
      if (m !== 'ip-csum' && (m === 'fix-csum' || rng.bool(0.7))) fixIpChecksum(f);
      return { frame: f, what };
    }
    case 'doff':
    case 'tcp-flags': {
      if (L.proto !== P.TCP || L.l4 === undefined || f.length < L.l4 + 14) return mutate(rng, f0, s, 'ihl');
      if (m === 'doff') f[L.l4 + 12] = (rng.int(16) << 4) | (f[L.l4 + 12]! & 0x0f);
      else f[L.l4 + 13] = rng.weighted<number>([[3, TCPF.SYN], [2, TCPF.ACK], [2, TCPF.RST], [1, TCPF.SYN | TCPF.RST], [1, TCPF.SYN | TCPF.FIN], [1, 0xff], [1, 0], [2, rng.int(256)]]);
      if (rng.bool(0.7)) fixL4Checksum(f);
      return { frame: f, what: m === 'doff' ? `doff=${f[L.l4 + 12]! >> 4}` : `flags=0x${f[L.l4 + 13]!.toString(16)}` };
    }
    case 'l4-csum': {
      if (!isIp || L.l4 === undefined || f.length < L.l4 + 18) return mutate(rng, f0, s, 'ip-csum');
      const off = L.l4 + (L.proto === P.TCP ? 16 : L.proto === P.UDP ? 6 : 2);
      f.writeUInt16BE(rng.pick([0, 0xffff, rng.int(65536)]), off);
      return { frame: f, what: 'l4-csum' };
    }
    case 'icmp-type': {
      if (L.proto !== P.ICMP || L.l4 === undefined || f.length < L.l4 + 2) return mutate(rng, f0, s, 'proto');
      f[L.l4] = rng.pick([0, 3, 4, 5, 8, 11, 12, 13, 18, 19, 40, 255]);
      if (rng.bool(0.7)) fixL4Checksum(f);
      return { frame: f, what: `icmp-type=${f[L.l4]}` };
    }
    case 'arp-field': {
      if (L.et !== ET.ARP || f.length < L.l3 + 8) return mutate(rng, f0, s, 'ethertype');
      const o = L.l3 + rng.pick([0, 2, 4, 5, 6, 8, 14, 18, 24]);
      if (o + 1 < f.length) f.writeUInt16BE(rng.pick([0, 1, 2, 6, 0x0800, 0x86dd, 0xffff, rng.int(65536)]), o);
      return { frame: f, what: `arp@${o - L.l3}` };
    }
    case 'ethertype': {
      if (f.length < 14) return { frame: f, what: 'ethertype' };
      const v = rng.pick([ET.IP, ET.ARP, ET.IPV6, ET.VLAN, ET.QINQ, ET.LLDP, 0x05dc, rng.int(65536)]);
      f.writeUInt16BE(v, 12);
      return { frame: f, what: `ethertype=0x${v.toString(16)}` };
    }
    case 'tag':
      if (f.length < 14) return { frame: f, what: 'tag' };
      return { frame: withTag(f, rng.int(65536), rng.bool(0.8) ? ET.VLAN : ET.QINQ), what: 'tag' };
    case 'mac-src':
    case 'mac-dst': {
      if (f.length < 12) return { frame: f, what: m };
      const v = rng.pick([BCAST_MAC, ZERO_MAC, mac('01:00:5e:00:00:01'), ...(m === 'mac-src' ? s.srcMacs : s.dstMacs), rng.bytes(6), s.self.mac]);
      v.copy(f, m === 'mac-src' ? 6 : 0);
      return { frame: f, what: `${m}=${macStr(v)}` };
    }
  }
}

/** Random bytes behind an Ethernet header of the scene (or no header at all). */
export function randomFrame(rng: Rng, s: Scene): Gen {
  const kind = rng.weighted<string>([[3, 'bytes'], [3, 'ip'], [2, 'arp'], [2, 'any']]);
  const n = rng.weighted<number>([[2, rng.range(0, 33)], [6, rng.range(34, 80)], [2, rng.range(81, 400)]]);
  const f = rng.bytes(n);
  if (kind !== 'bytes' && n >= 14) {
    (rng.bool(0.5) ? s.self.mac : rng.bytes(6)).copy(f, 6);
    (rng.bool(0.6) ? rng.pick([...s.dstMacs, BCAST_MAC, ...(s.router ? [s.router.mac] : [])]) : rng.bytes(6)).copy(f, 0);
    if (kind === 'ip') {
      f.writeUInt16BE(ET.IP, 12);
      if (n > 14) f[14] = rng.bool(0.7) ? 0x40 | rng.int(16) : f[14]!;
      if (n >= 30 && rng.bool(0.6)) f.writeUInt32BE(s.self.ip, 26);
    } else if (kind === 'arp') f.writeUInt16BE(ET.ARP, 12);
  }
  return { frame: f, what: `random ${kind} ${n}` };
}

/**
 * Frame `index` of a stream: its own PRNG from (seed, stream, index); a
 * structured frame, then 0-3 mutations of it, or random bytes.
 */
export function fuzzFrame(seed: number, stream: string, index: number, s: Scene): Gen {
  const rng = new Rng(mix(seed, streamId(stream), index));
  if (rng.bool(0.08)) return randomFrame(rng, s);
  let g = structured(rng, s);
  const n = rng.weighted<number>([[22, 0], [45, 1], [23, 2], [10, 3]]);
  for (let i = 0; i < n; i++) {
    const m = mutate(rng, g.frame, s);
    g = { frame: m.frame, what: `${g.what} | ${m.what}` };
  }
  return g;
}
