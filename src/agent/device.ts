/**
 * The host's VXLAN device in external (collect_md) mode: the overlay dataplane sets the remote
 * VTEP and VNI per packet. Created when missing (with the overlay MTU), set up when down; an
 * existing interface of that name that is not such a device is refused.
 */
import { spawnSync } from 'node:child_process';
import { InputError } from '../ops/errors.js';

export const VXLAN_PORT = 4789;

function ip(args: string[]): { status: number; stdout: string; stderr: string } {
  const r = spawnSync('ip', args, { encoding: 'utf8' });
  return { status: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

interface LinkDetails { ifname: string; mtu: number; flags?: string[]; linkinfo?: { info_kind?: string; info_data?: { external?: boolean; port?: number } } }

/** Ensures the device exists, is an external VXLAN device, has `mtu` and is up. Returns whether it was created. */
export function ensureVxlan(device: string, mtu: number, underlayIfname?: string): boolean {
  let created = false;
  let r = ip(['-j', '-d', 'link', 'show', 'dev', device]);
  if (r.status !== 0) {
    const add = ip(['link', 'add', device, 'type', 'vxlan', 'external', 'dstport', String(VXLAN_PORT), ...(underlayIfname ? ['dev', underlayIfname] : [])]);
    if (add.status !== 0) throw new Error(`cannot create the VXLAN device ${device}: ${add.stderr.trim()}`);
    created = true;
    r = ip(['-j', '-d', 'link', 'show', 'dev', device]);
  }
  const link = (JSON.parse(r.stdout || '[]') as LinkDetails[])[0];
  if (!link || link.linkinfo?.info_kind !== 'vxlan' || link.linkinfo.info_data?.external !== true) {
    throw new InputError(`interface ${device} exists and is not an external VXLAN device: remove it or choose another --device`);
  }
  if (link.mtu !== mtu) {
    const m = ip(['link', 'set', 'dev', device, 'mtu', String(mtu)]);
    if (m.status !== 0) throw new Error(`cannot set the MTU of ${device} to ${mtu}: ${m.stderr.trim()}`);
  }
  if (!link.flags?.includes('UP')) {
    const u = ip(['link', 'set', 'dev', device, 'up']);
    if (u.status !== 0) throw new Error(`cannot set ${device} up: ${u.stderr.trim()}`);
  }
  return created;
}
