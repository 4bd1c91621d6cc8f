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
