/**
 * Firewall cost as rules grow (10 .. 100,000), set up for scenarios/firewall-prog.ts:
 * BPF_PROG_TEST_RUN ns/packet through entry > firewall > deliver for a new packet that matches
 * no rule (the worst case: every shape visited, then the default) and for a packet of a tracked
 * connection, and the null program on the same packet as the baseline. (The control plane at
 * 100,000 rules is measured end to end by scenarios/control-plane.ts.)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { BpfObject } from '../src/bpf/object.js';
import { skbContext } from '../src/bpf/skb.js';
import { projectRoot } from '../src/native/binding.js';
import { u32 } from '../src/codec/struct.js';
import { chain, chainCodec, networkCodec, portCodec, VNF_DIR_RX, VNF_ID_DELIVER } from '../src/vnf/common/codec.js';
import { VNF_ID_BRIDGE } from '../src/vnf/bridge/codec.js';
import { compileRuleSet } from '../src/vnf/firewall/classifier.js';
import { ruleSetEntries } from '../src/vnf/firewall/entries.js';
import { fwBindCodec, fwBindKeyCodec, VNF_ID_FIREWALL } from '../src/vnf/firewall/codec.js';
import { unhex } from '../src/model/desired.js';
import { randomRules } from './fw-gen.js';
import type { FirewallRule } from '../src/vnf/firewall/model.js';
import { ruleMatches } from '../src/vnf/firewall/reference.js';
import { median, Scratch } from './util.js';

const obj = (n: string): string => join(projectRoot(), 'build', 'bpf', `${n}.bpf.o`);

function frame(proto: 'udp', src: string, dst: string, sport: number, dport: number): Buffer {
  const ip = (s: string): number => s.split('.').reduce((a, x) => (a << 8) | Number(x), 0) >>> 0;
  const b = Buffer.alloc(14 + 20 + 8 + 32);
  b.writeUInt16BE(0x0800, 12);
  b[14] = 0x45;
  b.writeUInt16BE(b.length - 14, 16);
  b[22] = 64;
  b[23] = proto === 'udp' ? 17 : 6;
  b.writeUInt32BE(ip(src), 26);
  b.writeUInt32BE(ip(dst), 30);
  b.writeUInt16BE(sport, 34);
  b.writeUInt16BE(dport, 36);
  b.writeUInt16BE(8 + 32, 38);
  return b;
}

export type RuleGen = (n: number, seed: number) => FirewallRule[];

export interface FwCostSetup {
  rules: number;
  shapes: string;
  loadMs: number;
  /** One measurement of both figures (median of 3 × `repeat` runs each). */
  measure(repeat: number): { missNs: number; trackedNs: number };
  close(): void;
}

/** The null program on the same packet: the baseline of the firewall figures. */
export async function nullCostSetup(): Promise<{ measure(repeat: number): number; close(): void }> {
  const scratch = new Scratch();
  try {
    const nul = await BpfObject.load(obj('null'));
    scratch.defer(() => nul.close());
    const port = scratch.port();
    const pkt = frame('udp', '192.168.7.1', '192.168.7.2', 40000, 4444);
    return {
      measure: (repeat) => median([1, 2, 3].map(() => nul.program('vnf_null').testRun({ data: pkt, ctx: skbContext({ ifindex: port.ifindex }), repeat }).duration)),
      close: () => scratch.close(),
    };
  } catch (e) {
    scratch.close();
    throw e;
  }
}

/**
 * entry > firewall > deliver with an `n`-rule set from `gen` (rules that would match the probe
 * removed, so it visits every shape and ends in the default drop), in its own objects and pins.
 */
export async function firewallCostSetup(n: number, gen: RuleGen = randomRules, seed = 42 + n): Promise<FwCostSetup> {
  const scratch = new Scratch();
  const pins = mkdtempSync('/sys/fs/bpf/vnf-bench-fw-');
  scratch.defer(() => rmSync(pins, { recursive: true, force: true }));
  const objs: BpfObject[] = [];
  scratch.defer(() => objs.forEach((o) => o.close()));
  try {
    const port = scratch.port();
    const pkt = frame('udp', '192.168.7.1', '192.168.7.2', 40000, 4444); // outside the generators' 10/8: matches no rule
    for (const name of ['entry', 'bridge', 'firewall']) objs.push(await BpfObject.load(obj(name), { pinRoot: pins }));
    const [entry, bridge, fw] = objs as [BpfObject, BpfObject, BpfObject];
    const progs = entry.map('vnf_progs');
    progs.update(u32(VNF_ID_DELIVER), u32(entry.program('vnf_deliver').fd));
    progs.update(u32(VNF_ID_BRIDGE), u32(bridge.program('vnf_bridge').fd));
    progs.update(u32(VNF_ID_FIREWALL), u32(fw.program('vnf_firewall').fd));
    entry.map('vnf_chains').update(u32(1), chainCodec.encode(chain([VNF_ID_FIREWALL, VNF_ID_DELIVER])));
    entry.map('vnf_ports').update(u32(port.ifindex), portCodec.encode({ network: 1, chain_in: 1, chain_out: 1, flags: 0, ip: 0, mac: '02:00:00:00:00:01', prefix: 24 }));
    entry.map('vnf_networks').update(u32(1), networkCodec.encode({ fdb_aging_sec: 300, flood_version: 1, flood_count: 0, router_id: 0, router_ip: 0, router_mac: '00:00:00:00:00:00', router_prefix: 0 }));
    // Without the rules that would match the probe packet: it then visits
    // every shape and ends in the default drop, leaving the packet as it
    // was (so `repeat` measures the same work each time).
    const probe = { proto: 17, saddr: 0xc0a80701, daddr: 0xc0a80702, sport: 40000, dport: 4444 };
    const dir = { default: 'drop' as const, rules: gen(n, seed).filter((r) => !ruleMatches(r, probe)).map((r, index) => ({ ...r, index })) };
    const t0 = process.hrtime.bigint();
    const c = compileRuleSet('bench', 'egress', dir);
    for (const [map, es] of Object.entries(ruleSetEntries(c))) fw.map(map).updateMany([...es].map(([k, v]) => [unhex(k), v] as const));
    const loadMs = Number(process.hrtime.bigint() - t0) / 1e6;
    // A tracked flow: created while an allow-all set is bound, then measured on that binding.
    const allowAll = compileRuleSet('bench-allow', 'egress', { default: 'allow', rules: [] });
    for (const [map, es] of Object.entries(ruleSetEntries(allowAll))) fw.map(map).updateMany([...es].map(([k, v]) => [unhex(k), v] as const));
    const bind = (id: number): void => fw.map('vnf_fw_bind').update(fwBindKeyCodec.encode({ ifindex: port.ifindex, dir: VNF_DIR_RX }), fwBindCodec.encode({ ruleset: id, flags: 0 }));
    const run = (data: Buffer, repeat: number): number => entry.program('vnf_entry_in').testRun({ data, ctx: skbContext({ ifindex: port.ifindex }), repeat }).duration;
    const flow = frame('udp', '192.168.7.1', '192.168.7.2', 40001, 5555);
    return {
      rules: dir.rules.length,
      shapes: c.set.ntuples.join('/'),
      loadMs,
      measure(repeat: number) {
        bind(c.id);
        const missNs = median([1, 2, 3].map(() => run(pkt, repeat)));
        if (process.env.VNF_BENCH_DEBUG) {
          const st = entry.map('vnf_stats');
          for (const [k, v] of st.entries()) {
            const sum = st.splitPerCpu(v).reduce((a, b) => a + b.readBigUInt64LE(0), 0n);
            if (sum) console.error(`  stats ${Math.floor(k.readUInt32LE(0) / 64)}/${k.readUInt32LE(0) % 64}: ${sum}`);
          }
        }
        bind(allowAll.id);
        run(flow, 1);
        const trackedNs = median([1, 2, 3].map(() => run(flow, repeat)));
        return { missNs, trackedNs };
      },
      close: () => scratch.close(),
    };
  } catch (e) {
    scratch.close();
    throw e;
  }
}
