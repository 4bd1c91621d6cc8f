/**
 * The Linux baseline of the overlay, on the same simulated hosts: per host and per network with
 * a container there, a Linux bridge and a VXLAN device (the network's VNI, `nolearning`), the
 * containers' host-side veths enslaved to the bridge, MTU 1450. The control plane is static, as
 * vnf's store would give it: head-end replication by all-zero FDB entries to every other host
 * with a port on the network (and only those), and per remote MAC an entry on the VXLAN device
 * (which host) and a static one on the bridge (which port).
 */
import { run } from '../sys.js';
import type { Cluster } from './cluster.js';
import type { SimContainer } from './containers.js';
import { OVERLAY_MTU, UNDERLAY_IF } from './names.js';
import type { MultiHostTopology } from './topology.js';

export interface LinuxOverlayOptions {
  /** UDP port of the VXLAN devices (default 4789; another when vnf's device holds 4789 on the same hosts). */
  port?: number;
  /** Device names get this in front of the network's index (default "l"): <p>br<i>, <p>vx<i>. */
  prefix?: string;
}

export interface LinuxOverlay {
  /** Per host, per network: its bridge and VXLAN device. */
  devices: Array<{ host: string; network: string; vni: number; bridge: string; vxlan: string }>;
}

export function linuxOverlay(cluster: Cluster, mt: MultiHostTopology, containers: Map<string, SimContainer>, o: LinuxOverlayOptions = {}): LinuxOverlay {
  const port = o.port ?? 4789;
  const p = o.prefix ?? 'l';
  const t = mt.topology;
  // network -> host -> the interfaces there
  const where = new Map<string, Map<string, Array<{ mac: string; hostVeth: string }>>>();
  for (const c of containers.values()) {
    for (const i of c.interfaces) {
      if (!where.has(i.network)) where.set(i.network, new Map());
      const byHost = where.get(i.network)!;
      if (!byHost.has(c.host.name)) byHost.set(c.host.name, []);
      byHost.get(c.host.name)!.push({ mac: i.mac, hostVeth: i.hostVeth });
    }
  }
  const out: LinuxOverlay = { devices: [] };
  t.networks.forEach((n, idx) => {
    const byHost = where.get(n.name);
    if (!byHost) return;
    const vni = mt.vniOf.get(n.name)!;
    for (const [hostName, ports] of byHost) {
      const h = cluster.host(hostName);
      const br = `${p}br${idx}`;
      const vx = `${p}vx${idx}`;
      const ip = (...args: string[]): void => {
        run(['ip', '-n', h.ns, ...args]);
      };
      const fdb = (...args: string[]): void => {
        run(['bridge', '-n', h.ns, 'fdb', ...args]);
      };
      ip('link', 'add', br, 'mtu', String(OVERLAY_MTU), 'type', 'bridge');
      ip('link', 'add', vx, 'mtu', String(OVERLAY_MTU), 'type', 'vxlan', 'id', String(vni), 'dstport', String(port), 'local', h.addr, 'dev', UNDERLAY_IF, 'nolearning');
      ip('link', 'set', vx, 'master', br);
      for (const x of ports) ip('link', 'set', x.hostVeth, 'master', br);
      ip('link', 'set', vx, 'up');
      ip('link', 'set', br, 'up');
      for (const [other, remote] of byHost) {
        if (other === hostName) continue;
        const dst = cluster.host(other).addr;
        fdb('append', '00:00:00:00:00:00', 'dev', vx, 'dst', dst);
        for (const r of remote) {
          fdb('append', r.mac, 'dev', vx, 'dst', dst);
          fdb('add', r.mac, 'dev', vx, 'master', 'static');
        }
      }
      out.devices.push({ host: hostName, network: n.name, vni, bridge: br, vxlan: vx });
    }
  });
  return out;
}
