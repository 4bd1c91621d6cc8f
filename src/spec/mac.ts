/** Ethernet MAC addresses as normalized lowercase strings "aa:bb:cc:dd:ee:ff". */
import { createHash } from 'node:crypto';
import { failed, parsed, type Parsed } from './result.js';

const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i;

/** Bit 0 of the first octet: group (multicast/broadcast) address. */
const MULTICAST_BIT = 0x01;
/** Bit 1 of the first octet: locally administered (not assigned by a vendor). */
const LOCAL_BIT = 0x02;

function firstOctet(mac: string): number {
  return parseInt(mac.slice(0, 2), 16);
}

/** Parses an interface MAC: six colon-separated hex octets, unicast, not all zero. */
export function parseMac(text: string): Parsed<string> {
  if (!MAC.test(text)) {
    return failed(`"${text}" is not a MAC address: expected six hex octets like 02:00:00:00:00:01`);
  }
  const mac = text.toLowerCase();
  if (firstOctet(mac) & MULTICAST_BIT) {
    return failed(`${mac} is a multicast address; an interface needs a unicast MAC (first octet even)`);
  }
  if (mac === '00:00:00:00:00:00') return failed('00:00:00:00:00:00 is not a usable interface MAC');
  return parsed(mac);
}

export function formatMac(bytes: Uint8Array): string {
  return Array.from(bytes.subarray(0, 6), (b) => b.toString(16).padStart(2, '0')).join(':');
}

export function isUnicast(mac: string): boolean {
  return (firstOctet(mac) & MULTICAST_BIT) === 0;
}

export function isLocallyAdministered(mac: string): boolean {
  return (firstOctet(mac) & LOCAL_BIT) !== 0;
}

/**
 * A stable MAC for `seed`: the first six bytes of sha256(seed), made locally administered and
 * unicast, so it never collides with a vendor-assigned address and is the same on every run.
 */
export function deriveMac(seed: string): string {
  const bytes = createHash('sha256').update(seed).digest().subarray(0, 6);
  bytes[0] = ((bytes[0] ?? 0) | LOCAL_BIT) & ~MULTICAST_BIT;
  return formatMac(bytes);
}

/** The seed of a container interface's MAC. */
export function containerMacSeed(topology: string, container: string, iface: string): string {
  return `container:${topology}/${container}/${iface}`;
}

/** The seed of a router port's MAC. */
export function routerMacSeed(topology: string, router: string, network: string): string {
  return `router:${topology}/${router}/${network}`;
}
