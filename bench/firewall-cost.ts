/**
 * Firewall cost as rules grow (10 .. 100,000), all in one run:
 * - BPF_PROG_TEST_RUN ns/packet through entry > firewall for a new packet
 *   that matches no rule (the worst case: every shape visited, then the
 *   default) and for a packet of a tracked connection, vs the null program;
 * - control plane: time to apply a 100,000-rule firewall through the real
 *   apply path (lab + applyTopology), and a one-rule change at 100,000 rules.
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
import { parseTopology } from '../src/spec/index.js';
import { labDown, labUp } from '../src/lab/lab.js';
import { applyTopology } from '../src/ops/topology.js';
import { randomDirection } from './fw-gen.js';
import { ruleMatches } from '../src/vnf/firewall/reference.js';
import { fmt, median, Scratch } from './util.js';

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

export interface FwCostRow {
  rules: number;
  loadMs: number;
  shapes: string;
  missNs: number;
  trackedNs: number;
}

export async function firewallCost(sizes = [10, 1000, 10_000, 100_000]): Promise<{ nullNs: number; rows: FwCostRow[] }> {
  const scratch = new Scratch();
  try {
    const nul = await BpfObject.load(obj('null'));
    scratch.defer(() => nul.close());
    const port = scratch.port();
    const pkt = frame('udp', '192.168.7.1', '192.168.7.2', 40000, 4444); // outside the generator's 10/8: matches no rule
    const nullNs = median([1, 2, 3].map(() => nul.program('vnf_null').testRun({ data: pkt, ctx: skbContext({ ifindex: port.ifindex }), repeat: 200_000 }).duration));
    const rows: FwCostRow[] = [];
    for (const n of sizes) {
      const pins = mkdtempSync('/sys/fs/bpf/vnf-bench-fw-');
      const objs: BpfObject[] = [];
      try {
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
        const gen = randomDirection(n, 42 + n, 'drop');
        const probe = { proto: 17, saddr: 0xc0a80701, daddr: 0xc0a80702, sport: 40000, dport: 4444 };
        const dir = { ...gen, rules: gen.rules.filter((r) => !ruleMatches(r, probe)).map((r, index) => ({ ...r, index })) };
        const t0 = process.hrtime.bigint();
        const c = compileRuleSet('bench', 'egress', dir);
        const entries = ruleSetEntries(c);
        for (const [map, es] of Object.entries(entries)) fw.map(map).updateMany([...es].map(([k, v]) => [unhex(k), v] as const));
        fw.map('vnf_fw_bind').update(fwBindKeyCodec.encode({ ifindex: port.ifindex, dir: VNF_DIR_RX }), fwBindCodec.encode({ ruleset: c.id, flags: 0 }));
        const loadMs = Number(process.hrtime.bigint() - t0) / 1e6;
        const run = (data: Buffer, repeat: number): number => entry.program('vnf_entry_in').testRun({ data, ctx: skbContext({ ifindex: port.ifindex }), repeat }).duration;
        const missNs = median([1, 2, 3].map(() => run(pkt, 50_000)));
        if (process.env.VNF_BENCH_DEBUG) {
          const st = entry.map('vnf_stats');
          for (const [k, v] of st.entries()) {
            const sum = st.splitPerCpu(v).reduce((a, b) => a + b.readBigUInt64LE(0), 0n);
            if (sum) console.error(`  stats ${Math.floor(k.readUInt32LE(0) / 64)}/${k.readUInt32LE(0) % 64}: ${sum}`);
          }
        }
        // A tracked flow: an allow-all second binding would change the rule set; instead
        // allow by default for one run to create the entry, then measure the tracked path.
        const allowAll = compileRuleSet('bench-allow', 'egress', { default: 'allow', rules: [] });
        for (const [map, es] of Object.entries(ruleSetEntries(allowAll))) fw.map(map).updateMany([...es].map(([k, v]) => [unhex(k), v] as const));
        fw.map('vnf_fw_bind').update(fwBindKeyCodec.encode({ ifindex: port.ifindex, dir: VNF_DIR_RX }), fwBindCodec.encode({ ruleset: allowAll.id, flags: 0 }));
        const flow = frame('udp', '192.168.7.1', '192.168.7.2', 40001, 5555);
        run(flow, 1);
        const trackedNs = median([1, 2, 3].map(() => run(flow, 50_000)));
        rows.push({ rules: dir.rules.length, loadMs, shapes: c.set.ntuples.join('/'), missNs, trackedNs });
      } finally {
        objs.forEach((o) => o.close());
        rmSync(pins, { recursive: true, force: true });
      }
    }
    return { nullNs, rows };
  } finally {
    scratch.close();
  }
}

export function formatFirewallCost(r: { nullNs: number; rows: FwCostRow[] }): string {
  const first = r.rows[0]!;
  const lines = [
    `Firewall per-packet cost (BPF_PROG_TEST_RUN, entry > firewall > deliver; null program ${fmt(r.nullNs)} ns in the same run)`,
    'rules'.padStart(8) + '  shapes t/u/i/o'.padEnd(18) + 'load ms'.padStart(9) + '  no-match ns  vs 10 rules  vs null' + '  tracked ns  vs null',
  ];
  for (const x of r.rows) {
    lines.push(String(x.rules).padStart(8) + `  ${x.shapes}`.padEnd(18) + fmt(x.loadMs).padStart(9) + fmt(x.missNs).padStart(13) +
      fmt(x.missNs / first.missNs, 2).padStart(12) + fmt(x.missNs / r.nullNs, 1).padStart(9) + fmt(x.trackedNs).padStart(12) + fmt(x.trackedNs / r.nullNs, 1).padStart(8));
  }
  return lines.join('\n');
}

/** Control plane at 100k rules: a full apply, then a one-rule change, through the real apply path. */
export async function firewallApplyTimes(n = 100_000): Promise<{ applyMs: number; changeMs: number; changeOps: number; noopMs: number }> {
  const name = `fwb${process.pid % 100000}`;
  const yaml = `apiVersion: vnf/v1
name: ${name}
containers:
  a: { interfaces: { eth0: { network: n, ip: 10.200.0.10/24 } } }
  b: { interfaces: { eth0: { network: n, ip: 10.200.0.11/24 } } }
networks: { n: { subnet: 10.200.0.0/24 } }
firewalls:
  big: { attach: [a/eth0], ingress: { default: drop, rules: [] } }
`;
  const parsed = parseTopology(yaml);
  if (!parsed.ok) throw new Error('bench topology invalid');
  const topo = parsed.topology;
  topo.ext.firewall!.firewalls[0]!.ingress = randomDirection(n, 7, 'drop');
  try {
    let t0 = process.hrtime.bigint();
    await labUp(topo);
    const applyMs = Number(process.hrtime.bigint() - t0) / 1e6;
    const changed = structuredClone(topo);
    const rules = changed.ext.firewall!.firewalls[0]!.ingress.rules;
    const mid = Math.floor(rules.length / 2);
    const toggle = (i: number): void => {
      rules[i] = { ...rules[i]!, action: rules[i]!.action === 'allow' ? 'drop' : 'allow' };
    };
    // The first change fills the empty standby rule set whole; measured: the one after it.
    toggle(mid);
    await applyTopology(structuredClone(changed));
    toggle(mid + 1);
    t0 = process.hrtime.bigint();
    const r = await applyTopology(changed);
    const changeMs = Number(process.hrtime.bigint() - t0) / 1e6;
    t0 = process.hrtime.bigint();
    await applyTopology(changed);
    const noopMs = Number(process.hrtime.bigint() - t0) / 1e6;
    return { applyMs, changeMs, changeOps: r.plan.ops.length, noopMs };
  } finally {
    await labDown(topo).catch(() => undefined);
  }
}
