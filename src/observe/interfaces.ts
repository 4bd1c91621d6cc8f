/** Interfaces of the host namespace, read from sysfs. */
import { existsSync, readdirSync, readFileSync } from 'node:fs';

/** Reads a sysfs attribute of an interface; undefined if the interface is gone (also mid-removal). */
function attr(name: string, key: string): string | undefined {
  const f = `/sys/class/net/${name}/${key}`;
  if (!existsSync(f)) return undefined;
  try {
    return readFileSync(f, 'utf8').trim();
  } catch {
    return undefined; // removed between the check and the read (sysfs answers EINVAL/ENOENT)
  }
}

export function ifindexOf(name: string): number | undefined {
  const v = attr(name, 'ifindex');
  return v === undefined ? undefined : Number(v);
}

export function interfaceNames(): Map<number, string> {
  const out = new Map<number, string>();
  for (const name of readdirSync('/sys/class/net')) {
    const idx = ifindexOf(name);
    if (idx !== undefined) out.set(idx, name);
  }
  return out;
}

export function macOf(name: string): string | undefined {
  return attr(name, 'address');
}

/** The peer ifindex of a veth (its iflink), as seen from the host namespace. */
export function iflinkOf(name: string): number | undefined {
  const v = attr(name, 'iflink');
  return v === undefined ? undefined : Number(v);
}

/**
 * Interfaces that carry an IPv4 default route (destination 0, mask 0) in a routing table in the
 * format of /proc/net/route: a header line, then one whitespace-separated line per route
 * (Iface Destination Gateway Flags RefCnt Use Metric Mask ...), addresses in hex.
 */
export function parseDefaultRouteInterfaces(table: string): Set<string> {
  const out = new Set<string>();
  for (const line of table.split('\n').slice(1)) {
    const [iface, dest, , , , , , mask] = line.trim().split(/\s+/);
    if (iface && dest === '00000000' && mask === '00000000') out.add(iface);
  }
  return out;
}

/** Interfaces that carry a default route in the host namespace (/proc/net/route). */
export function defaultRouteInterfaces(): Set<string> {
  let table: string;
  try {
    table = readFileSync('/proc/net/route', 'utf8');
  } catch {
    return new Set(); // no IPv4 routing table: no default route
  }
  return parseDefaultRouteInterfaces(table);
}
