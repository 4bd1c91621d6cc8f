/**
 * Attachments (`vnf-ctl attach`, the CNI plugin) as the kernel holds them: port entries marked
 * ATTACHED, with each module's option (the firewall) read back from that module's entries. The
 * kernel is the truth: they survive the loss of the record, and an apply of the file keeps them.
 */
import { unhex } from '../model/desired.js';
import { readIds, reverseIds } from '../model/ids.js';
import type { Attachment } from '../model/compile.js';
import type { Observed } from '../observe/kernel.js';
import { interfaceNames } from '../observe/interfaces.js';
import { chainCodec, portCodec, VNF_PORT_F_ATTACHED } from '../vnf/common/codec.js';
import { u32 } from '../codec/struct.js';
import { VNF_MAP_CHAINS, VNF_MAP_IDS, VNF_MAP_PORTS } from '../abi/vnf_common.js';
import { VNFS } from '../vnf/registry.js';
import type { Topology } from '../spec/model.js';
import { contains, formatAddr, formatCidr } from '../spec/ipv4.js';
import { fileAddresses } from './addresses.js';
import { LOST_ATTACH_OPTION as LOST_OPTION } from '../vnf/types.js';

const ZERO_MAC = '00:00:00:00:00:00';

/** `topologies`: where option names may come from (the applied topology, the one being applied). */
export function kernelAttachments(actual: Observed, topologies: Topology[] = []): Array<Attachment & { ifindex: number }> {
  const ports = actual.entries(VNF_MAP_PORTS);
  if (!ports) return [];
  const names = interfaceNames();
  const ids = readIds(actual.entries(VNF_MAP_IDS));
  const network = reverseIds(ids).network;
  const chains = actual.entries(VNF_MAP_CHAINS);
  const chainOf = (id: number): number[] => {
    const v = chains?.get(u32(id).toString('hex'));
    if (!v) return [];
    const c = chainCodec.decode(v);
    return c.vnf.slice(0, c.len);
  };
  const out: Array<Attachment & { ifindex: number }> = [];
  for (const [k, v] of ports) {
    const p = portCodec.decode(v);
    if (!(p.flags & VNF_PORT_F_ATTACHED)) continue;
    const ifindex = unhex(k).readUInt32LE(0);
    const ifname = names.get(ifindex);
    const runs = new Set([...chainOf(p.chain_in), ...chainOf(p.chain_out)]);
    const options: Record<string, string> = {};
    for (const m of VNFS) {
      const o = m.attachOption?.read({ ifindex, runs: m.id !== undefined && runs.has(m.id), entries: (map) => actual.entries(map), ids, topologies });
      if (o !== undefined) options[m.name] = o;
    }
    out.push({
      // An interface that is gone keeps its entry until the next apply drops it.
      ifname: ifname ?? `#${ifindex}`,
      ifindex,
      network: network(p.network),
      ip: p.ip,
      prefix: p.prefix,
      ...(p.mac !== ZERO_MAC ? { mac: p.mac } : {}),
      ...(Object.keys(options).length ? { options } : {}),
    });
  }
  return out.sort((a, b) => a.ifname.localeCompare(b.ifname));
}

/**
 * Why `t` cannot keep these attachments, one line each: an option names what left the file, or
 * the file moved the network under the attachment's address or gives that address a role.
 */
export function attachmentProblems(t: Topology, attachments: Attachment[]): string[] {
  const out: string[] = [];
  const taken = new Map<string, Map<number, string>>();
  for (const a of attachments) {
    const net = t.networks.find((n) => n.name === a.network);
    if (net) {
      const shown = `${formatAddr(a.ip)}/${a.prefix}`;
      if (!contains(net.subnet, a.ip) || a.prefix !== net.subnet.prefix) {
        out.push(`attached interface ${a.ifname} has ${shown}, outside network ${a.network} (${formatCidr(net.subnet)}) in the file: detach it first`);
      } else {
        if (!taken.has(net.name)) taken.set(net.name, fileAddresses(t, net).taken);
        const who = taken.get(net.name)!.get(a.ip);
        if (who) out.push(`attached interface ${a.ifname} has ${shown}, which the file gives ${who}: detach it first, or choose another address`);
      }
    }
    for (const m of VNFS) {
      const o = a.options?.[m.name];
      const why = o === undefined ? undefined : m.attachOption?.problem(t, o);
      if (why) out.push(`attached interface ${a.ifname} (network ${a.network}): ${why}`);
    }
  }
  return out;
}

/** Notes for a plan: attachments whose option the kernel no longer names (they fail closed). */
export function attachmentNotes(attachments: Attachment[]): string[] {
  const out: string[] = [];
  for (const a of attachments) {
    for (const [module, o] of Object.entries(a.options ?? {})) {
      if (o === LOST_OPTION) out.push(`attached interface ${a.ifname}: its ${module} is no longer known; it drops everything until it is detached and attached again`);
    }
  }
  return out;
}
