/**
 * `vnf-ctl graph NAME`: an applied topology as DOT, drawn from its record (the last applied
 * topology) and, with counters, from the kernel: each port's packets (`stats`) found by the
 * owner `get` shows for it, and the drops of each VNF. Interfaces attached at run time are read
 * from the kernel (they are in no file).
 */
import { readFileSync } from 'node:fs';
import { topologyDot, type GraphAttachment, type GraphCounters, type PortCounters } from '../graph/dot.js';
import { observe } from '../observe/kernel.js';
import { kernelAttachments } from './attachments.js';
import { stateDir } from '../model/names.js';
import { peekRecord } from '../state/store.js';
import { InputError } from './errors.js';
import { requireTopology, topologyStats, topologyStatus } from './status.js';

function countersOf(name: string): GraphCounters {
  const status = topologyStatus(name);
  const stats = topologyStats(name);
  const byIfname = new Map<string, PortCounters>();
  for (const p of stats.ports) {
    const c = byIfname.get(p.ifname) ?? { rx: 0n, tx: 0n };
    c[p.direction] += p.packets;
    byIfname.set(p.ifname, c);
  }
  const interfaces = new Map<string, PortCounters>();
  const uplinks = new Map<string, PortCounters>();
  for (const i of status.interfaces) {
    const c = byIfname.get(i.ifname) ?? { rx: 0n, tx: 0n };
    if (i.owner === 'uplink') uplinks.set(i.network, c);
    else if (i.owner.includes('/')) interfaces.set(i.owner, c); // "container/interface", as interfaceKey() spells it
  }
  const drops = new Map<string, bigint>();
  for (const v of stats.vnfs) if (v.verdict === 'drop') drops.set(v.vnf, (drops.get(v.vnf) ?? 0n) + v.packets);
  return { interfaces, uplinks, attached: byIfname, drops: [...drops].map(([vnf, packets]) => ({ vnf, packets })) };
}

function aliasOf(ifname: string): string | undefined {
  try {
    return readFileSync(`/sys/class/net/${ifname}/ifalias`, 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

/** Interfaces attached at run time: they live only in the kernel. */
function attachmentsOf(name: string, t: Parameters<typeof topologyDot>[0]): GraphAttachment[] {
  return kernelAttachments(observe(name), [t]).map((a) => {
    const alias = a.ifname ? aliasOf(a.ifname) : undefined;
    return { ifname: a.ifname, network: a.network, ip: a.ip, ...(a.options ? { options: a.options } : {}), ...(alias ? { alias } : {}) };
  });
}

export function appliedTopologyDot(name: string, o: { counters?: boolean } = {}): string {
  requireTopology(name);
  const rec = peekRecord(name);
  if (!rec) {
    throw new InputError(`topology ${name} is applied but has no usable record (${stateDir(name)}): ` +
      'run `vnf-ctl apply -f FILE` with its file to rebuild it, or draw the file itself with `vnf-ctl graph -f FILE`');
  }
  return topologyDot(rec.topology, {
    ...(rec.file ? { source: rec.file } : {}),
    ...(o.counters ? { counters: countersOf(name) } : {}),
    attachments: attachmentsOf(name, rec.topology),
  });
}
