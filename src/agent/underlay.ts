/**
 * The host's underlay: the interface the overlay's packets leave through, its first IPv4 address
 * (the host's VTEP, registered in the store) and its MTU. Read with `ip -j` in the agent's own
 * network namespace.
 */
import { spawnSync } from 'node:child_process';
import { InputError } from '../ops/errors.js';
import { isVtepAddress } from '../store/values.js';

export interface Underlay {
  ifname: string;
  address: string;
  mtu: number;
}

function ipJson(args: string[]): unknown {
  const r = spawnSync('ip', ['-j', ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new InputError(`ip ${args.join(' ')}: ${r.stderr.trim() || `exit ${r.status}`}`);
  return JSON.parse(r.stdout || '[]');
}

interface IpAddrShow { ifname: string; mtu: number; addr_info?: Array<{ family: string; local: string }> }

/** The first IPv4 address and MTU of `ifname`; a missing interface or address is invalid input. */
export function underlayOf(ifname: string): Underlay {
  const r = spawnSync('ip', ['-j', 'addr', 'show', 'dev', ifname], { encoding: 'utf8' });
  if (r.status !== 0) throw new InputError(`underlay interface ${ifname} does not exist (${r.stderr.trim()})`);
  const link = (JSON.parse(r.stdout || '[]') as IpAddrShow[])[0];
  const v4 = link?.addr_info?.find((a) => a.family === 'inet');
  if (!link || !v4) throw new InputError(`underlay interface ${ifname} has no IPv4 address`);
  if (!isVtepAddress(v4.local)) throw new InputError(`underlay interface ${ifname}'s address ${v4.local} cannot be a VTEP (loopback, multicast or reserved): give --underlay IFACE`);
  return { ifname, address: v4.local, mtu: link.mtu };
}

/** Without --underlay: the interface the route to the store leaves through (the store is on the underlay). */
export function underlayTowards(storeHost: string): Underlay {
  if (!/^\d+\.\d+\.\d+\.\d+$/.test(storeHost)) throw new InputError(`the store's host ${storeHost} is not an IPv4 address: give --underlay IFACE`);
  const route = (ipJson(['route', 'get', storeHost]) as Array<{ dev?: string }>)[0];
  if (!route?.dev) throw new InputError(`no route to the store at ${storeHost}: give --underlay IFACE`);
  return underlayOf(route.dev);
}
