/**
 * Attachments (`vnf-ctl attach`) as the kernel holds them: port entries marked ATTACHED. The
 * kernel is the truth: they survive the loss of the record, and an apply of the file keeps them.
 */
import { unhex } from '../model/desired.js';
import { readIds, reverseIds } from '../model/ids.js';
import type { Attachment } from '../model/compile.js';
import type { Observed } from '../observe/kernel.js';
import { interfaceNames } from '../observe/interfaces.js';
import { portCodec, VNF_PORT_F_ATTACHED } from '../vnf/common/codec.js';
import { VNF_MAP_IDS, VNF_MAP_PORTS } from '../abi/vnf_common.js';

const ZERO_MAC = '00:00:00:00:00:00';

export function kernelAttachments(actual: Observed): Array<Attachment & { ifindex: number }> {
  const ports = actual.entries(VNF_MAP_PORTS);
  if (!ports) return [];
  const names = interfaceNames();
  const ids = readIds(actual.entries(VNF_MAP_IDS));
  const network = reverseIds(ids).network;
  const out: Array<Attachment & { ifindex: number }> = [];
  for (const [k, v] of ports) {
    const p = portCodec.decode(v);
    if (!(p.flags & VNF_PORT_F_ATTACHED)) continue;
    const ifindex = unhex(k).readUInt32LE(0);
    const ifname = names.get(ifindex);
    out.push({
      // An interface that is gone keeps its entry until the next apply drops it.
      ifname: ifname ?? `#${ifindex}`,
      ifindex,
      network: network(p.network),
      ip: p.ip,
      prefix: p.prefix,
      ...(p.mac !== ZERO_MAC ? { mac: p.mac } : {}),
    });
  }
  return out.sort((a, b) => a.ifname.localeCompare(b.ifname));
}
