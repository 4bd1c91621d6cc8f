/**
 * Firewall state read back from the kernel: rules with hit counters, and the
 * connection tracking table (list, flush).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { BpfMap } from '../bpf/map.js';
import { formatAddr } from '../spec/index.js';
import { pinDir } from '../model/names.js';
import { interfaceNames } from '../observe/interfaces.js';
import { listTopologies } from '../observe/kernel.js';
import { readRecord } from '../state/store.js';
import { u32 } from '../codec/struct.js';
import { sumCounters, type Counter } from '../vnf/common/codec.js';
import { compileRuleSet } from '../vnf/firewall/classifier.js';
import { formatRule } from '../vnf/firewall/describe.js';
import { CT_STATES, ctEntryCodec, ctKeyCodec } from '../vnf/conntrack/codec.js';
import { InputError } from './errors.js';

export interface FirewallStatus {
  name: string;
  attach: string[];
  directions: Array<{
    direction: 'ingress' | 'egress';
    default: string;
    defaultHits: Counter;
    rules: Array<{ index: number; rule: string; hits: Counter }>;
  }>;
}

function requireApplied(name: string): void {
  if (!listTopologies().includes(name)) throw new InputError(`no applied topology named ${name}`);
}

export function firewallStatus(name: string): FirewallStatus[] {
  requireApplied(name);
  const rec = readRecord(name);
  const path = join(pinDir(name), 'vnf_fw_stats');
  const stats = existsSync(path) ? BpfMap.openPinned(path) : undefined;
  const hits = (id: number): Counter => {
    const v = stats?.lookup(u32(id));
    return v && stats ? sumCounters(stats.splitPerCpu(v)) : { packets: 0n, bytes: 0n };
  };
  try {
    return (rec?.topology.firewalls ?? []).map((f) => ({
      name: f.name,
      attach: f.attach.map((a) => `${a.container}/${a.interface}`),
      directions: (['ingress', 'egress'] as const).map((direction) => {
        const c = compileRuleSet(f.name, direction, f[direction]);
        return {
          direction,
          default: f[direction].default,
          defaultHits: hits(c.defaultCounter),
          rules: f[direction].rules.map((r, i) => ({ index: r.index, rule: formatRule(r), hits: hits(c.rules[i]!.counter) })),
        };
      }),
    }));
  } finally {
    stats?.close();
  }
}

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
  requireApplied(name);
  const path = join(pinDir(name), 'vnf_ct');
  if (!existsSync(path)) return [];
  const names = interfaceNames();
  const now = process.hrtime.bigint();
  const m = BpfMap.openPinned(path);
  try {
    return m.entries().map(([k, v]) => {
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
  } finally {
    m.close();
  }
}

/** Deletes every tracked connection of the topology; returns how many. */
export function flushConntrack(name: string): number {
  requireApplied(name);
  const path = join(pinDir(name), 'vnf_ct');
  if (!existsSync(path)) return 0;
  const m = BpfMap.openPinned(path);
  try {
    return m.deleteMany(m.keys());
  } finally {
    m.close();
  }
}
