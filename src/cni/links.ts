/**
 * The container's veth pair, made and taken down with iproute2 (one process per step) and sysfs.
 * The host side stays down until its port is attached: the container's first packet already
 * meets its identity check and firewall.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { CNI_CODES, CniError } from './errors.js';

function ip(args: string[], opts: { netns?: string; input?: string } = {}): { ok: boolean; stdout: string; stderr: string } {
  const argv = opts.netns ? ['nsenter', `--net=${opts.netns}`, 'ip', ...args] : ['ip', ...args];
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', ...(opts.input !== undefined ? { input: opts.input } : {}) });
  if (r.error) throw new CniError(CNI_CODES.io, `cannot run ${argv[0]}: ${r.error.message}`);
  return { ok: r.status === 0, stdout: r.stdout, stderr: r.stderr.trim() };
}

export const linkExists = (ifname: string): boolean => existsSync(`/sys/class/net/${ifname}`);

export function linkMac(ifname: string): string | undefined {
  try {
    return readFileSync(`/sys/class/net/${ifname}/address`, 'utf8').trim();
  } catch {
    return undefined;
  }
}

export function linkAlias(ifname: string): string {
  try {
    return readFileSync(`/sys/class/net/${ifname}/ifalias`, 'utf8').trim();
  } catch {
    return '';
  }
}

/** The veth pair: `host` here (down, with `alias`), `ifname` in `netns` with `mac`. */
export function createVeth(o: { host: string; ifname: string; mac: string; netns: string; mtu: number; alias: string }): void {
  const r = ip(['link', 'add', o.host, 'mtu', String(o.mtu), 'type', 'veth', 'peer', 'name', o.ifname, 'address', o.mac, 'mtu', String(o.mtu), 'netns', o.netns]);
  if (!r.ok) {
    const exists = /File exists/.test(r.stderr);
    throw new CniError(exists ? CNI_CODES.attachRefused : CNI_CODES.io,
      exists ? `cannot make interface ${o.ifname} in ${o.netns}: an interface of that name exists there` : `cannot make the veth pair ${o.host} / ${o.ifname}`, r.stderr);
  }
  try {
    writeFileSync(`/sys/class/net/${o.host}/ifalias`, o.alias);
    // Should the port ever lose its programs while up, the host's own stack must not serve it:
    // nothing forwarded from it, no ARP answered for the host's addresses on it.
    writeFileSync(`/proc/sys/net/ipv4/conf/${o.host}/forwarding`, '0');
    writeFileSync(`/proc/sys/net/ipv4/conf/${o.host}/arp_ignore`, '8');
  } catch (e) {
    deleteLink(o.host);
    throw new CniError(CNI_CODES.io, `cannot set up host interface ${o.host}: ${(e as Error).message}`);
  }
  // The host side carries no address: no IPv6 link-local chatter into the network from it.
  try {
    writeFileSync(`/proc/sys/net/ipv6/conf/${o.host}/disable_ipv6`, '1');
  } catch {
    /* IPv6 disabled on this host */
  }
}

export function deleteLink(ifname: string): void {
  if (!linkExists(ifname)) return;
  const r = ip(['link', 'del', ifname]);
  if (!r.ok && linkExists(ifname)) throw new CniError(CNI_CODES.io, `cannot remove interface ${ifname}`, r.stderr);
}

export function setUp(ifname: string): void {
  const r = ip(['link', 'set', 'dev', ifname, 'up']);
  if (!r.ok) throw new CniError(CNI_CODES.io, `cannot bring ${ifname} up`, r.stderr);
}

export interface Route { dst: string; gw?: string }

/**
 * Address, link up and routes of the container side. A route the container has already (a default
 * route through a network attached before this one) is kept: the first network keeps the default.
 */
export function configureContainer(netns: string, ifname: string, cidr: string, routes: Route[]): void {
  const r = ip(['-batch', '-'], { netns, input: `addr add ${cidr} dev ${ifname}\nlink set dev ${ifname} up\n` });
  if (!r.ok) throw new CniError(CNI_CODES.io, `cannot configure ${ifname} in ${netns}`, r.stderr);
  if (!routes.length) return;
  const lines = routes.map((x) => `route add ${x.dst}${x.gw ? ` via ${x.gw}` : ''} dev ${ifname}`);
  const rr = ip(['-force', '-batch', '-'], { netns, input: lines.join('\n') + '\n' });
  const errors = rr.stderr.split('\n').filter((l) => /RTNETLINK answers|Error/.test(l) && !/File exists/.test(l));
  if (!rr.ok && errors.length) throw new CniError(CNI_CODES.io, `cannot add the routes of ${ifname} in ${netns}`, rr.stderr);
}

/** The IPv4 addresses (CIDR) of `ifname` in `netns`; undefined when it does not exist there. */
export function containerAddresses(netns: string, ifname: string): { mac: string; addresses: string[] } | undefined {
  const r = ip(['-j', 'addr', 'show', 'dev', ifname], { netns });
  if (!r.ok) return undefined;
  const [l] = JSON.parse(r.stdout) as Array<{ address?: string; addr_info?: Array<{ family: string; local: string; prefixlen: number }> }>;
  if (!l) return undefined;
  return { mac: l.address ?? '', addresses: (l.addr_info ?? []).filter((a) => a.family === 'inet').map((a) => `${a.local}/${a.prefixlen}`) };
}
