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

/** Why `t` cannot keep these attachments (an option names what left the file), one line each. */
export function attachmentProblems(t: Topology, attachments: Attachment[]): string[] {
  const out: string[] = [];
  for (const a of attachments) {
    for (const m of VNFS) {
      const o = a.options?.[m.name];
      const why = o === undefined ? undefined : m.attachOption?.problem(t, o);
      if (why) out.push(`attached interface ${a.ifname} (network ${a.network}): ${why}`);
    }
  }
  return out;
}
