/** The connection tracking table of a topology, read back from the kernel (list, flush). */
import { join } from 'node:path';
import { BpfMap } from '../bpf/map.js';
import { formatAddr } from '../spec/ipv4.js';
import { pinDir } from '../model/names.js';
import { interfaceNames } from '../observe/interfaces.js';
import { readRaw } from '../observe/kernel.js';
import { CT_STATES, ctEntryCodec, ctKeyCodec } from '../vnf/conntrack/codec.js';
import { VNF_MAP_CT } from '../abi/conntrack.js';
import { requireTopology } from './status.js';

export interface ConntrackEntry {
  interface: string;
  proto: string;
  src: string;
  dst: string;
  state: string;
  policy: 'egress' | 'ingress';
  rule: number | 'default';
  ageSeconds: number;
  idleSeconds: number;
  packets: { orig: bigint; reply: bigint };
  bytes: { orig: bigint; reply: bigint };
}

const PROTOS: Record<number, string> = { 1: 'icmp', 6: 'tcp', 17: 'udp' };

export function conntrackEntries(name: string): ConntrackEntry[] {
  requireTopology(name);
  const raw = readRaw(join(pinDir(name), VNF_MAP_CT)) ?? [];
  const names = interfaceNames();
  const now = process.hrtime.bigint();
  return raw.map(([k, v]) => {
    const key = ctKeyCodec.decode(k);
    const e = ctEntryCodec.decode(v);
    const proto = PROTOS[key.proto] ?? String(key.proto);
    const port = (p: number): string => (key.proto === 6 || key.proto === 17 ? `:${p}` : '');
    return {
      interface: names.get(key.zone) ?? `#${key.zone}`,
      proto,
      src: `${formatAddr(key.saddr)}${port(key.sport)}`,
      dst: `${formatAddr(key.daddr)}${port(key.dport)}`,
      state: CT_STATES[e.state] ?? String(e.state),
      policy: e.dir === 0 ? 'egress' : 'ingress',
      rule: e.rule === 0xffffffff ? 'default' : e.rule,
      ageSeconds: Number((now - e.created_ns) / 1_000_000_000n),
      idleSeconds: Number((now - e.last_seen_ns) / 1_000_000_000n),
      packets: { orig: e.packets_orig, reply: e.packets_reply },
      bytes: { orig: e.bytes_orig, reply: e.bytes_reply },
    } satisfies ConntrackEntry;
  });
}

/** Deletes every tracked connection of the topology; returns how many. */
export function flushConntrack(name: string): number {
  requireTopology(name);
  const path = join(pinDir(name), VNF_MAP_CT);
  const m = BpfMap.openPinned(path);
  try {
    return m.deleteMany(m.keys());
  } finally {
    m.close();
  }
}
