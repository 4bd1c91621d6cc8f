/**
 * The monitor's kernel side through the real entry program (BPF_PROG_TEST_RUN): a drop sends an
 * event only while a heartbeat is fresh, with the fields of bpf/abi/monitor.h (read back through
 * the binding's ring buffer consumer and the codec); a stale heartbeat is cleared by the program
 * that notices it; the per-CPU token bucket holds a flood to the rate and counts the rest, also
 * right after a monitor lowered the rate.
 */
import t, { type Test } from 'tap';
import { cpus } from 'node:os';
import { u32 } from '../../src/codec/struct.js';
import { native } from '../../src/native/binding.js';
import { monCfgCodec, monEventCodec, type MonEvent } from '../../src/monitor/codec.js';
import { sumMonitorState } from '../../src/monitor/session.js';
import { VNF_ID_CORE, VNF_ID_DELIVER, VNF_PORT_F_SPOOFCHK } from '../../src/vnf/common/codec.js';
import { VNF_ID_BRIDGE } from '../../src/vnf/bridge/codec.js';
import { VNF_R_DROP_SPOOF_IP } from '../../src/abi/vnf_common.js';
import { VNF_MON_F_L3, VNF_MON_F_L4, VNF_MON_F_NO_MD, VNF_MON_F_RULE, VNF_MON_T_DROP, VNF_MON_T_VERDICT, VNF_MON_TTL_MS } from '../../src/abi/monitor.js';
import { createPorts, loadDataplane, type TestDataplane, type TestPort } from '../helpers/dataplane.js';
import { ip4, pingPacket } from '../helpers/packets.js';
import { requirePrivileges } from '../helpers/privilege.js';

/** The token bucket is per CPU: a bound per CPU, since this process may move between them. */
const CPUS = cpus().length;

const MAC = '02:00:00:00:02:0a';
const NET = 7;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Mon {
  dp: TestDataplane;
  port: TestPort;
  events: MonEvent[];
  spoof(repeat?: number): void;
  listen(types: number[], opts?: { ageMs?: number; rate?: number }): void;
  state(): { emitted: bigint; lost_rate: bigint; lost_full: bigint; expired: bigint };
  heartbeats(): bigint[];
  settle(n: number): Promise<void>;
}

async function setup(t: Test): Promise<Mon> {
  const dp = await loadDataplane(t, ['entry', 'bridge']);
  const [port] = createPorts(t, 1);
  dp.setPort(port!.ifindex, {
    network: NET, chain_in: dp.addChain([VNF_ID_BRIDGE]), chain_out: dp.addChain([VNF_ID_DELIVER]), flags: VNF_PORT_F_SPOOFCHK,
    ip: ip4('10.6.0.10'), mac: MAC, prefix: 24,
  });
  const events: MonEvent[] = [];
  const rb = native.openRingBuffer(dp.map('vnf_events').handle, (_e, recs) => {
    for (const r of recs ?? []) events.push(monEventCodec.decode(r));
  });
  t.teardown(() => rb.close());
  const cfg = dp.map('vnf_mon_cfg');
  const st = dp.map('vnf_mon_state');
  const m: Mon = {
    dp, port: port!, events,
    spoof(repeat = 1) {
      const pkt = pingPacket({ srcMac: MAC, dstMac: '02:00:00:00:02:0b', src: '10.6.0.99', dst: '10.6.0.11' });
      for (let i = 0; i < repeat; i++) dp.runFrom(port!.ifindex, pkt);
    },
    listen(types, o = {}) {
      const hb = [0n, 0n, 0n];
      for (const ty of types) hb[ty] = process.hrtime.bigint() - BigInt(o.ageMs ?? 0) * 1_000_000n;
      cfg.update(u32(0), monCfgCodec.encode({ heartbeat_ns: hb, rate: o.rate ?? 0, burst: 0 }));
    },
    state: () => sumMonitorState(st),
    heartbeats: () => monCfgCodec.decode(cfg.lookup(u32(0))!).heartbeat_ns,
    async settle(n) {
      const end = Date.now() + 2000;
      while (events.length < n && Date.now() < end) await sleep(5);
      await sleep(50);
    },
  };
  return m;
}

if (requirePrivileges(t)) {
  t.test('nobody listening: a drop sends nothing and costs no state', async (t) => {
    const m = await setup(t);
    m.spoof(5);
    await m.settle(1);
    t.equal(m.events.length, 0, 'no events');
    t.same(m.state(), { emitted: 0n, lost_rate: 0n, lost_full: 0n, expired: 0n }, 'the monitor path was never entered');
    t.equal(m.dp.stat(VNF_ID_CORE, VNF_R_DROP_SPOOF_IP).packets, 5n, 'the drops were counted as always');
  });

  t.test('a listener: one event per drop, with the fields of the ABI', async (t) => {
    const m = await setup(t);
    m.listen([VNF_MON_T_DROP]);
    m.spoof(3);
    await m.settle(3);
    t.equal(m.events.length, 3, 'three drops, three events');
    const e = m.events[0]!;
    t.match(e, {
      type: VNF_MON_T_DROP, vnf: VNF_ID_CORE, reason: VNF_R_DROP_SPOOF_IP, ifindex: m.port.ifindex, in: m.port.ifindex, out: 0, network: NET,
      saddr: ip4('10.6.0.99'), daddr: ip4('10.6.0.11'), proto: 1, sport: 8, dport: 0,
    });
    t.equal(e.flags, VNF_MON_F_L3 | VNF_MON_F_L4, 'L3 and L4 read; metadata set (no NO_MD), no rule');
    t.notOk(e.flags & (VNF_MON_F_NO_MD | VNF_MON_F_RULE));
    t.ok(e.ts_ns > 0n && e.ts_ns <= process.hrtime.bigint(), 'a CLOCK_MONOTONIC time');
    t.equal(m.state().emitted, 3n, 'counted as emitted');
  });

  t.test('only the types asked for', async (t) => {
    const m = await setup(t);
    m.listen([VNF_MON_T_VERDICT]);
    m.spoof(2);
    await m.settle(1);
    t.equal(m.events.length, 0, 'verdicts asked for: drops send nothing');
  });

  t.test('a stale heartbeat is cleared by the first drop that sees it', async (t) => {
    const m = await setup(t);
    m.listen([VNF_MON_T_DROP], { ageMs: VNF_MON_TTL_MS + 1000 });
    m.spoof(1);
    t.equal(m.heartbeats()[VNF_MON_T_DROP], 0n, 'cleared');
    t.equal(m.state().expired, 1n, 'counted as expired');
    m.spoof(3);
    await m.settle(1);
    t.equal(m.events.length, 0, 'no events');
    t.equal(m.state().expired, 1n, 'and no more work after that');
  });

  t.test('the token bucket: a flood held to the rate, the rest counted; a lowered rate holds at once', async (t) => {
    const m = await setup(t);
    m.listen([VNF_MON_T_DROP], { rate: 5 });
    // The bucket is per CPU: if the scheduler moves this process between the test runs, the
    // other CPU's bucket lets its own burst through. At most the burst per CPU, never the flood.
    m.spoof(50);
    await m.settle(5);
    const first = m.events.length;
    t.ok(first >= 5 && first <= 5 * CPUS, `the burst (= rate, per CPU) got through: ${first} of 50 (${CPUS} CPUs)`);
    t.equal(m.state().lost_rate, BigInt(50 - first), 'the rest counted as lost to the rate limit');
    // A high rate fills the bucket; lowering it must not leave those tokens behind.
    m.listen([VNF_MON_T_DROP], { rate: 1_000_000 });
    await sleep(1100);
    m.spoof(1);
    await m.settle(first + 1);
    t.equal(m.events.length, first + 1, 'the bucket refilled (to the high rate)');
    m.listen([VNF_MON_T_DROP], { rate: 2 });
    const before = m.events.length;
    m.spoof(20);
    await m.settle(before + 2);
    const after = m.events.length - before;
    t.ok(after >= 2 && after <= 2 * CPUS, `after lowering the rate to 2: ${after} events of 20 (2 per CPU at most), not the tokens of the higher rate`);
  });
}
