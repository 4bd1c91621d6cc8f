/**
 * IPv4 addresses and prefixes as plain numbers.
 *
 * An address is an unsigned 32-bit integer in host order (10.1.0.1 === 0x0a010001), so it can be
 * compared, masked and sorted with ordinary arithmetic. `>>> 0` brings the result of every bitwise
 * operation back into the unsigned range, because JavaScript's bitwise operators yield signed int32.
 */
import { failed, parsed, type Parsed } from './result.js';

/** A prefix: an address and a prefix length 0..32. Not necessarily a network address. */
export interface Cidr {
  addr: number;
  prefix: number;
}

const DECIMAL = /^[0-9]+$/;

/** The common case without allocations: four octets 0-255 without leading zeros; -1 otherwise. */
function fastAddr(text: string): number {
  let addr = 0;
  let octet = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 46 /* . */) {
      if (digits === 0 || dots === 3) return -1;
      addr = addr * 256 + octet;
      octet = 0;
      digits = 0;
      dots++;
    } else if (c >= 48 && c <= 57) {
      if (digits > 0 && octet === 0) return -1; // a leading zero
      octet = octet * 10 + (c - 48);
      if (++digits > 3 || octet > 255) return -1;
    } else {
      return -1;
    }
  }
  if (dots !== 3 || digits === 0) return -1;
  return addr * 256 + octet;
}

/** Parses dotted-quad notation strictly: four decimal octets, no leading zeros, no whitespace. */
/** IPv6 text is recognised only to say so: vnf is IPv4 only for now. */
const ipv6 = (text: string): Parsed<never> | undefined =>
  text.includes(':') ? failed(`IPv6 is not supported yet: "${text}" (vnf bridges, routes and filters IPv4 only)`) : undefined;

export function parseAddr(text: string): Parsed<number> {
  const fast = fastAddr(text);
  if (fast >= 0) return parsed(fast);
  const v6 = ipv6(text);
  if (v6) return v6;
  const parts = text.split('.');
  if (parts.length !== 4) {
    return failed(`"${text}" is not an IPv4 address: expected 4 dot-separated numbers like 10.1.0.1`);
  }
  let addr = 0;
  for (const part of parts) {
    if (!DECIMAL.test(part)) {
      return failed(`"${text}" is not an IPv4 address: "${part}" is not a decimal number 0-255`);
    }
    if (part.length > 1 && part.startsWith('0')) {
      return failed(`"${text}" is not an IPv4 address: leading zeros are not allowed ("${part}")`);
    }
    const octet = Number(part);
    if (octet > 255) {
      return failed(`"${text}" is not an IPv4 address: ${part} is out of range 0-255`);
    }
    addr = addr * 256 + octet;
  }
  return parsed(addr);
}

function parsePrefixLength(text: string, whole: string): Parsed<number> {
  if (!DECIMAL.test(text) || (text.length > 1 && text.startsWith('0'))) {
    return failed(`"${whole}": prefix length "${text}" is not a number 0-32`);
  }
  const prefix = Number(text);
  if (prefix > 32) return failed(`"${whole}": prefix length ${prefix} is out of range 0-32`);
  return parsed(prefix);
}

export interface ParseCidrOptions {
  /** Accept a bare address; it gets this prefix length (e.g. 32 for a host route). */
  defaultPrefix?: number;
}

/** Parses "a.b.c.d/len". Host bits may be set; see {@link isNetworkAddress}. */
export function parseCidr(text: string, options: ParseCidrOptions = {}): Parsed<Cidr> {
  const v6 = ipv6(text);
  if (v6) return v6;
  const slash = text.indexOf('/');
  if (slash < 0) {
    if (options.defaultPrefix === undefined) {
      return failed(`"${text}" is missing a prefix length, e.g. "${text}/24"`);
    }
    const addr = parseAddr(text);
    return addr.ok ? parsed({ addr: addr.value, prefix: options.defaultPrefix }) : addr;
  }
  const addr = parseAddr(text.slice(0, slash));
  if (!addr.ok) return addr;
  const prefix = parsePrefixLength(text.slice(slash + 1), text);
  if (!prefix.ok) return prefix;
  return parsed({ addr: addr.value, prefix: prefix.value });
}

export function formatAddr(addr: number): string {
  return [addr >>> 24, (addr >>> 16) & 0xff, (addr >>> 8) & 0xff, addr & 0xff].join('.');
}

export function formatCidr(cidr: Cidr): string {
  return `${formatAddr(cidr.addr)}/${cidr.prefix}`;
}

/** The netmask of a prefix length: mask(24) === 0xffffff00, mask(0) === 0. */
export function mask(prefix: number): number {
  // A shift count of 32 is taken modulo 32 by JavaScript, so /0 needs its own case.
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

export function networkOf(cidr: Cidr): number {
  return (cidr.addr & mask(cidr.prefix)) >>> 0;
}

export function broadcastOf(cidr: Cidr): number {
  return (networkOf(cidr) | ~mask(cidr.prefix)) >>> 0;
}

/** The same prefix with its host bits cleared: 10.1.0.5/24 -> 10.1.0.0/24. */
export function toNetwork(cidr: Cidr): Cidr {
  return { addr: networkOf(cidr), prefix: cidr.prefix };
}

/** True when no host bits are set. */
export function isNetworkAddress(cidr: Cidr): boolean {
  return networkOf(cidr) === cidr.addr;
}

/** True when `addr` lies in the prefix `net`. */
export function contains(net: Cidr, addr: number): boolean {
  return ((addr & mask(net.prefix)) >>> 0) === networkOf(net);
}

/** True when every address of `inner` lies in `outer`. */
export function containsCidr(outer: Cidr, inner: Cidr): boolean {
  return inner.prefix >= outer.prefix && contains(outer, inner.addr);
}

/** True when two prefixes share at least one address (then one contains the other). */
export function overlaps(a: Cidr, b: Cidr): boolean {
  return containsCidr(a, b) || containsCidr(b, a);
}

export function sameCidr(a: Cidr, b: Cidr): boolean {
  return a.addr === b.addr && a.prefix === b.prefix;
}
