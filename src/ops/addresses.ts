/**
 * The addresses of a network that the topology file gives a role, for run-time attachments: vnf's
 * own IPAM never hands them out, attach refuses the taken ones, and an apply refuses a file that
 * would give a live attachment's address a role.
 */
import { contains, formatAddr } from '../spec/ipv4.js';
import type { Network, Topology } from '../spec/model.js';
import { VNFS } from '../vnf/registry.js';

/**
 * The addresses of network `net` that the file gives a role: `taken` are never an attachment's;
 * `reserved` (next hops of routes, NAT targets: addresses meant for something attached later)
 * are given only to an attachment that asks for one by address, never by vnf's own IPAM.
 */
export function fileAddresses(t: Topology, net: Network): { taken: Map<number, string>; reserved: Map<number, string> } {
  const taken = new Map<number, string>();
  const reserved = new Map<number, string>();
  for (const c of t.containers) for (const i of c.interfaces) if (i.network === net.name) taken.set(i.ip, `${c.name}/${i.name}`);
  for (const r of t.routers) {
    for (const p of r.ports) if (p.network === net.name) taken.set(p.ip, `router ${r.name}'s address`);
    for (const rt of r.routes) {
      if (rt.via !== undefined && contains(net.subnet, rt.via)) reserved.set(rt.via, `router ${r.name}'s next hop for ${formatAddr(rt.to.addr)}/${rt.to.prefix}`);
    }
  }
  const lab = net.uplink?.lab;
  if (lab && contains(net.subnet, lab.ip)) taken.set(lab.ip, `the lab address behind the uplink of ${net.name}`);
  for (const m of VNFS) {
    for (const a of m.addresses?.(t, net.name) ?? []) {
      if (!contains(net.subnet, a.addr)) continue;
      (a.reserved ? reserved : taken).set(a.addr, a.who);
    }
  }
  return { taken, reserved };
}

