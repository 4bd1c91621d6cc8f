/**
 * Per-packet cost of the dataplane with BPF_PROG_TEST_RUN, against the null
 * program measured in the same run:
 * - "repeat": the kernel runs the program N times on one skb and reports the
 *   average (only valid for paths that do not change the packet);
 * - "single": the median kernel-measured duration of many single runs, each
 *   on a fresh copy of the packet (includes a timer floor the null program shows).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { BpfObject } from '../src/bpf/object.js';
import { skbContext } from '../src/bpf/skb.js';
import { projectRoot, type NativeProgram } from '../src/native/binding.js';
import { u32 } from '../src/codec/struct.js';
import {
  chain, chainCodec, floodKeyCodec, networkCodec, portCodec, VNF_DIR_RX, VNF_ID_DELIVER, type NetworkEntry,
} from '../src/vnf/common/codec.js';
import { fdbEntryCodec, fdbKeyCodec, VNF_FDB_F_STATIC, VNF_ID_BRIDGE } from '../src/vnf/bridge/codec.js';
import { neighCodec, neighKeyCodec, routeCodec, routeKey, routeKeyCodec, VNF_ID_ROUTER, VNF_NEIGH_F_STATIC } from '../src/vnf/router/codec.js';
import { compileRuleSet } from '../src/vnf/firewall/classifier.js';
import { ruleSetEntries } from '../src/vnf/firewall/entries.js';
import { fwBindCodec, fwBindKeyCodec, VNF_ID_FIREWALL } from '../src/vnf/firewall/codec.js';
import { unhex } from '../src/model/desired.js';
import { natMasqKeyCodec, natNetCodec, VNF_ID_NAT, VNF_NAT_NET_INSIDE, VNF_NAT_NET_OUTSIDE } from '../src/vnf/nat/codec.js';
import { median, Scratch } from './util.js';

const obj = (n: string): string => join(projectRoot(), 'build', 'bpf', `${n}.bpf.o`);
const ip = (s: string): number => s.split('.').reduce((a, x) => (a << 8) | Number(x), 0) >>> 0;

function frame(dstMac: string, srcMac: string, src: string, dst: string): Buffer {
  const b = Buffer.alloc(14 + 20 + 8 + 56);
  Buffer.from(dstMac.split(':').map((x) => parseInt(x, 16))).copy(b, 0);
  Buffer.from(srcMac.split(':').map((x) => parseInt(x, 16))).copy(b, 6);
  b.writeUInt16BE(0x0800, 12);
  b[14] = 0x45;
  b.writeUInt16BE(b.length - 14, 16);
  b[22] = 64;
  b[23] = 1;
  b.writeUInt32BE(ip(src), 26);
  b.writeUInt32BE(ip(dst), 30);
  let sum = 0;
  for (let i = 14; i < 34; i += 2) sum += b.readUInt16BE(i);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  b.writeUInt16BE(~sum & 0xffff, 24);
  b[34] = 8; // echo request
  return b;
}

export interface CostVariant {
  id: string;
  path: string;
  /** Whether `repeat` is valid (the program leaves the packet as it found it). */
  repeatable: boolean;
  measure(singles: number): { repeatNs?: number; singleNs: number; verdict: number };
}

function measure(prog: NativeProgram, data: Buffer, ifindex: number, repeat: boolean, singles: number): { repeatNs?: number; singleNs: number; verdict: number } {
  const ctx = skbContext({ ifindex });
  const verdict = prog.testRun({ data, ctx }).retval;
  let repeatNs: number | undefined;
  if (repeat) {
    const runs = [1, 2, 3].map(() => prog.testRun({ data, ctx, repeat: 200_000 }).duration);
    repeatNs = median(runs);
  }
  const xs: number[] = [];
  // Kernel-measured duration of one run with a fresh skb (includes the
  // test-run timer's floor, which the null program shows).
  for (let i = 0; i < singles; i++) xs.push(prog.testRun({ data, ctx }).duration);
  return { ...(repeatNs !== undefined ? { repeatNs } : {}), singleNs: median(xs), verdict };
}

/**
 * Loads null, entry, bridge, router, firewall and NAT with a three-network topology in their maps (scratch pins,
 * scratch ports) and returns the paths to measure; `close` undoes everything.
 */
export async function progCostSetup(): Promise<{ variants: CostVariant[]; close: () => void }> {
  const scratch = new Scratch();
  const pins = mkdtempSync('/sys/fs/bpf/vnf-bench-');
  scratch.defer(() => rmSync(pins, { recursive: true, force: true }));
  const objects: BpfObject[] = [];
  scratch.defer(() => objects.forEach((o) => o.close()));
  try {
    const nul = await BpfObject.load(obj('null'));
    objects.push(nul);
    const [entry, bridge, router, fw, nat] = await Promise.all(['entry', 'bridge', 'router', 'firewall', 'nat'].map((n) => BpfObject.load(obj(n), { pinRoot: pins })));
    objects.push(entry!, bridge!, router!, fw!, nat!);
    const progs = entry!.map('vnf_progs');
    progs.update(u32(VNF_ID_DELIVER), u32(entry!.program('vnf_deliver').fd));
    progs.update(u32(VNF_ID_BRIDGE), u32(bridge!.program('vnf_bridge').fd));
    progs.update(u32(VNF_ID_ROUTER), u32(router!.program('vnf_router').fd));
    progs.update(u32(VNF_ID_FIREWALL), u32(fw!.program('vnf_firewall').fd));
    progs.update(u32(VNF_ID_NAT), u32(nat!.program('vnf_nat').fd));
    const [a, b, c, d, e] = [scratch.port(), scratch.port(), scratch.port(), scratch.port(), scratch.port()];
    const chains = entry!.map('vnf_chains');
    chains.update(u32(1), chainCodec.encode(chain([VNF_ID_BRIDGE])));
    chains.update(u32(2), chainCodec.encode(chain([VNF_ID_DELIVER])));
    chains.update(u32(3), chainCodec.encode(chain([VNF_ID_FIREWALL, VNF_ID_BRIDGE])));
    chains.update(u32(4), chainCodec.encode(chain([VNF_ID_NAT, VNF_ID_DELIVER])));
    const macs = {
      a: '02:00:00:00:00:0a', b: '02:00:00:00:00:0b', c: '02:00:00:00:00:0c', d: '02:00:00:00:00:0d', e: '02:00:00:00:00:0e',
      r1: '02:00:00:00:01:01', r2: '02:00:00:00:01:02', r3: '02:00:00:00:01:03',
    };
    const port = (ifindex: number, network: number, mac: string, addr: string, chainIn = 1, chainOut = 2): void =>
      entry!.map('vnf_ports').update(u32(ifindex), portCodec.encode({ network, chain_in: chainIn, chain_out: chainOut, flags: 0, ip: ip(addr), mac, prefix: 24 }));
    port(a.ifindex, 1, macs.a, '10.0.1.10');
    port(b.ifindex, 1, macs.b, '10.0.1.11');
    port(c.ifindex, 2, macs.c, '10.0.2.10');
    port(d.ifindex, 1, macs.d, '10.0.1.12', 3); // behind a firewall: chain firewall > bridge
    port(e.ifindex, 3, macs.e, '10.0.3.10', 1, 4); // on the NAT's outside network: chain_out nat > deliver
    const net = (id: number, members: number[], e: Partial<NetworkEntry>): void => {
      members.forEach((ifindex, index) => entry!.map('vnf_flood').update(floodKeyCodec.encode({ network: id, version: 1, index }), u32(ifindex)));
      entry!.map('vnf_networks').update(u32(id), networkCodec.encode({ fdb_aging_sec: 300, flood_version: 1, flood_count: members.length, router_id: 0, router_ip: 0, router_mac: '00:00:00:00:00:00', router_prefix: 0, ...e }));
    };
    net(1, [a.ifindex, b.ifindex, d.ifindex], { router_id: 1, router_ip: ip('10.0.1.1'), router_mac: macs.r1, router_prefix: 24 });
    net(2, [c.ifindex], { router_id: 1, router_ip: ip('10.0.2.1'), router_mac: macs.r2, router_prefix: 24 });
    net(3, [e.ifindex], { router_id: 1, router_ip: ip('10.0.3.1'), router_mac: macs.r3, router_prefix: 24 });
    const fdb = (network: number, mac: string, ifindex: number): void =>
      bridge!.map('vnf_fdb_static').update(fdbKeyCodec.encode({ network, mac }), fdbEntryCodec.encode({ ifindex, flags: VNF_FDB_F_STATIC, updated_ns: 0n }));
    fdb(1, macs.a, a.ifindex);
    fdb(1, macs.b, b.ifindex);
    fdb(1, macs.d, d.ifindex);
    fdb(2, macs.c, c.ifindex);
    fdb(3, macs.e, e.ifindex);
    // d's firewall: an allow-all set on its ingress (RX), so the measured packet belongs to a
    // tracked connection after the first run (the steady state of a flow through the chain).
    const allowAll = compileRuleSet('bench-chain', 'ingress', { default: 'allow', rules: [] });
    for (const [map, es] of Object.entries(ruleSetEntries(allowAll))) fw!.map(map).updateMany([...es].map(([k, v]) => [unhex(k), v] as const));
    fw!.map('vnf_fw_bind').update(fwBindKeyCodec.encode({ ifindex: d.ifindex, dir: VNF_DIR_RX }), fwBindCodec.encode({ ruleset: allowAll.id, flags: 0 }));
    router!.map('vnf_routes').update(routeKeyCodec.encode(routeKey(1, ip('10.0.2.0'), 24)), routeCodec.encode({ network: 2, nexthop: 0, addr: ip('10.0.2.0'), prefixlen: 24, flags: 1 }));
    router!.map('vnf_neigh_static').update(neighKeyCodec.encode({ network: 2, ip: ip('10.0.2.10') }), neighCodec.encode({ updated_ns: 0n, mac: macs.c, flags: VNF_NEIGH_F_STATIC }));
    // Network 3 is the outside of router 1's NAT, network 1 an inside: 10.0.1.0/24 is masqueraded
    // to 10.0.3.1 (the measured packet belongs to an established mapping after the first run).
    router!.map('vnf_routes').update(routeKeyCodec.encode(routeKey(1, ip('10.0.3.0'), 24)), routeCodec.encode({ network: 3, nexthop: 0, addr: ip('10.0.3.0'), prefixlen: 24, flags: 1 }));
    router!.map('vnf_neigh_static').update(neighKeyCodec.encode({ network: 3, ip: ip('10.0.3.10') }), neighCodec.encode({ updated_ns: 0n, mac: macs.e, flags: VNF_NEIGH_F_STATIC }));
    const natNet = (id: number, flags: number): void =>
      nat!.map('vnf_nat_nets').update(u32(id), natNetCodec.encode({ router_id: 1, flags, outside_ip: ip('10.0.3.1'), port_min: 20000, port_max: 29999, max_per_source: 0, max_inbound: 0 }));
    natNet(3, VNF_NAT_NET_OUTSIDE);
    natNet(1, VNF_NAT_NET_INSIDE);
    nat!.map('vnf_nat_masq').update(natMasqKeyCodec.encode({ prefixlen: 32 + 24, router_id: 1, addr: ip('10.0.1.0') }), u32(1));

    const entryIn = entry!.program('vnf_entry_in');
    const bridged = frame(macs.b, macs.a, '10.0.1.10', '10.0.1.11');
    const routed = frame(macs.r1, macs.a, '10.0.1.10', '10.0.2.10');
    const chained = frame(macs.r1, macs.d, '10.0.1.12', '10.0.2.10');
    const natted = frame(macs.r1, macs.a, '10.0.1.10', '10.0.3.10');
    const variants: CostVariant[] = [
      { id: 'null', path: 'null program (baseline)', repeatable: true, measure: (n) => measure(nul.program('vnf_null'), bridged, a.ifindex, true, n) },
      { id: 'bridge', path: 'entry > bridge > deliver (known unicast)', repeatable: true, measure: (n) => measure(entryIn, bridged, a.ifindex, true, n) },
      // Routing changes the packet (TTL, MACs): with repeat the kernel would run
      // each repetition on the previous one's output, so only single runs count.
      { id: 'router', path: 'entry > bridge > router > bridge > deliver', repeatable: false, measure: (n) => measure(entryIn, routed, a.ifindex, false, n) },
      { id: 'chain', path: 'entry > firewall (tracked) > bridge > router > bridge > deliver', repeatable: false, measure: (n) => measure(entryIn, chained, d.ifindex, false, n) },
      { id: 'nat', path: 'entry > bridge > router > bridge > NAT (masquerade, established) > deliver', repeatable: false, measure: (n) => measure(entryIn, natted, a.ifindex, false, n) },
    ];
    return { variants, close: () => scratch.close() };
  } catch (e) {
    scratch.close();
    throw e;
  }
}
