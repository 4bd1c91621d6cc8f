/**
 * Seeded random firewall rules and packets for differential tests (kernel
 * classifier vs the reference) and benchmarks. Rules are normalized model
 * rules; packets are drawn half from rule shapes (so rules do match) and
 * half uniformly.
 */
import type { Ipv4Prefix } from '../src/spec/model.js';
import type { FirewallDirection, FirewallRule, Protocol } from '../src/vnf/firewall/model.js';
import { PROTO, type FwPacket } from '../src/vnf/firewall/packet.js';
import { addrMask } from '../src/vnf/firewall/ports.js';

export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const pick = <T>(r: () => number, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)] as T;
const PORT_POOL = [22, 25, 53, 80, 123, 443, 3306, 5432, 6379, 8080, 8443, 9090];
const RANGES: Array<[number, number]> = [[1024, 2047], [8000, 8063], [5000, 5100], [60000, 65535]];

function prefix(r: () => number, plens: readonly number[]): Ipv4Prefix {
  const plen = pick(r, plens);
  // Addresses in 10.0.0.0/14 so random rules and packets overlap often.
  const a = (0x0a000000 | Math.floor(r() * 0x40000)) >>> 0;
  return { addr: (a & addrMask(plen)) >>> 0, prefix: plen };
}

function ports(r: () => number): Array<[number, number]> {
  const x = r();
  if (x < 0.35) return [[0, 65535]];
  if (x < 0.75) {
    const p = pick(r, PORT_POOL);
    return [[p, p]];
  }
  if (x < 0.9) return [pick(r, RANGES)];
  const a = pick(r, PORT_POOL);
  const b = pick(r, PORT_POOL);
  return a === b ? [[a, a]] : [[Math.min(a, b), Math.min(a, b)], [Math.max(a, b), Math.max(a, b)]];
}

export function randomRules(n: number, seed: number): FirewallRule[] {
  const r = prng(seed);
  const out: FirewallRule[] = [];
  for (let index = 0; index < n; index++) {
    const proto = pick<Protocol>(r, ['tcp', 'tcp', 'udp', 'icmp', 'any']);
    const action = pick(r, ['allow', 'allow', 'drop', 'reject'] as const);
    const rule: FirewallRule = {
      index, action, proto,
      src: prefix(r, [0, 8, 24, 32, 32]),
      dst: prefix(r, [0, 24, 32]),
      sports: [[0, 65535]],
      dports: proto === 'tcp' || proto === 'udp' ? ports(r) : [[0, 65535]],
    };
    if (proto === 'tcp' || proto === 'udp') {
      if (r() < 0.1) rule.sports = [[1024, 65535]];
    }
    if (proto === 'icmp' && r() < 0.5) rule.icmpType = pick(r, [0, 3, 8, 11]);
    out.push(rule);
  }
  return out;
}

export function randomDirection(n: number, seed: number, def: 'allow' | 'drop' = 'drop'): FirewallDirection {
  return { default: def, rules: randomRules(n, seed) };
}

export function randomPackets(rules: FirewallRule[], n: number, seed: number): FwPacket[] {
  const r = prng(seed);
  const out: FwPacket[] = [];
  const rand32 = (): number => (0x0a000000 | Math.floor(r() * 0x40000)) >>> 0;
  const within = (p: Ipv4Prefix): number => (p.prefix === 0 ? rand32() : (p.addr | (Math.floor(r() * 2 ** (32 - p.prefix)) >>> 0)) >>> 0);
  for (let i = 0; i < n; i++) {
    const base = rules.length && r() < 0.5 ? pick(r, rules) : undefined;
    const protoName = base?.proto && base.proto !== 'any' ? base.proto : pick(r, ['tcp', 'udp', 'icmp', 'other'] as const);
    const proto = protoName === 'other' ? 47 : PROTO[protoName];
    const inRange = (rs: Array<[number, number]> | undefined): number => {
      if (rs && r() < 0.8) {
        const [lo, hi] = pick(r, rs);
        return r() < 0.3 ? pick(r, [lo, hi]) : lo + Math.floor(r() * (hi - lo + 1)); // edges often
      }
      return r() < 0.5 ? pick(r, PORT_POOL) : Math.floor(r() * 65536);
    };
    let sport = 0;
    let dport = 0;
    if (proto === 6 || proto === 17) {
      sport = inRange(base?.sports);
      dport = inRange(base?.dports);
    } else if (proto === 1) {
      dport = base?.icmpType ?? pick(r, [0, 3, 8, 11, 5]);
    }
    out.push({ proto, saddr: base && r() < 0.9 ? within(base.src) : rand32(), daddr: base && r() < 0.9 ? within(base.dst) : rand32(), sport, dport });
  }
  return out;
}

/**
 * A realistic rule set: service ports per subnet, all `allow` in front of a default drop — what
 * a site's policy looks like, with few match shapes however many rules:
 * - 70%: tcp from a client /24 to a service /24 on one service port;
 * - 20%: tcp from a site /16 to one host (/32) on 443 or 22;
 * - 10%: udp from a client /24 to one host (/32) on 53 or 123.
 * Addresses lie in 10.0.0.0/8 (the bench's own endpoints use 172.16/12, which no rule matches).
 */
export function realisticRules(n: number, seed: number): FirewallRule[] {
  const r = prng(seed);
  const services = [80, 443, 8080, 5432, 6379, 3306, 9090, 8443];
  const net24 = (): number => (0x0a000000 | (Math.floor(r() * 0x10000) << 8)) >>> 0;
  const host = (): number => (0x0a000000 | Math.floor(r() * 0x1000000)) >>> 0;
  const out: FirewallRule[] = [];
  for (let index = 0; index < n; index++) {
    const x = r();
    const base = { index, action: 'allow' as const, sports: [[0, 65535]] as Array<[number, number]> };
    if (x < 0.7) {
      const p = pick(r, services);
      out.push({ ...base, proto: 'tcp', src: { addr: net24(), prefix: 24 }, dst: { addr: net24(), prefix: 24 }, dports: [[p, p]] });
    } else if (x < 0.9) {
      const p = pick(r, [443, 22]);
      out.push({ ...base, proto: 'tcp', src: { addr: (host() & 0xffff0000) >>> 0, prefix: 16 }, dst: { addr: host(), prefix: 32 }, dports: [[p, p]] });
    } else {
      const p = pick(r, [53, 123]);
      out.push({ ...base, proto: 'udp', src: { addr: net24(), prefix: 24 }, dst: { addr: host(), prefix: 32 }, dports: [[p, p]] });
    }
  }
  return out;
}
