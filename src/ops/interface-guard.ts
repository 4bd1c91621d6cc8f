/**
 * Which host interfaces may become ports: never the loopback interface, one another topology
 * uses, one whose name cannot be a pin name, nor — unless forced — the interface of the host's
 * default route or anything but a veth (delivery is bpf_redirect_peer, which only veth pairs
 * support). Used by `attach` and for networks' uplinks.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { linksDir, PINNABLE_IFNAME } from '../model/names.js';
import { defaultRouteInterfaces } from '../observe/interfaces.js';
import { listTopologies } from '../observe/kernel.js';

const IFF_LOOPBACK = 0x8;

function linkKind(ifname: string): string | undefined {
  const r = spawnSync('ip', ['-d', '-j', 'link', 'show', 'dev', ifname], { encoding: 'utf8' });
  if (r.status !== 0) return undefined;
  const [l] = JSON.parse(r.stdout) as Array<{ linkinfo?: { info_kind?: string } }>;
  return l?.linkinfo?.info_kind;
}

/** Why `ifname` cannot be a port of `topology`, or undefined. `force` lifts the default-route and veth checks (attach --force). */
export function refusePort(ifname: string, topology: string, force: boolean | 'never'): string | undefined {
  const hint = force === 'never' ? '' : ' (use --force if that is really meant)';
  if (!PINNABLE_IFNAME.test(ifname)) return `${ifname}: vnf pins a link per port by interface name, and bpffs cannot hold this one (letters, digits, '_' and '-' only)`;
  const flags = Number(readFileSync(`/sys/class/net/${ifname}/flags`, 'utf8').trim());
  if (flags & IFF_LOOPBACK) return `${ifname} is the loopback interface`;
  for (const other of listTopologies()) {
    if (other !== topology && existsSync(linksDir(other)) && readdirSync(linksDir(other)).includes(`${ifname}@in`)) {
      return `${ifname} is a port of topology ${other}; detach it there first`;
    }
  }
  if (force === true) return undefined;
  if (defaultRouteInterfaces().has(ifname)) return `${ifname} carries the host's default route; making it a port would cut the host off${hint}`;
  const kind = linkKind(ifname);
  if (kind !== 'veth') return `${ifname} is ${kind ? `a ${kind} interface` : 'not a veth'}; vnf delivers into ports through veth pairs${hint}`;
  return undefined;
}
