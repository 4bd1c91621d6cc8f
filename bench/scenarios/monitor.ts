/**
 * What `vnf-ctl monitor` costs the dataplane: BPF_PROG_TEST_RUN ns per packet of a drop (a port's
 * identity check refusing a spoofed source, in vnf_entry_in) with nobody listening, with a
 * listener (heartbeat fresh, no rate limit, the ring buffer drained by the binding's consumer),
 * with a listener whose rate limit is spent, against the same entry program built without the
 * hook (bench/progs/entry_nomon.bpf.c) and the null program, in interleaved rounds.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { BpfObject } from '../../src/bpf/object.js';
import { skbContext } from '../../src/bpf/skb.js';
import { u32 } from '../../src/codec/struct.js';
import { native, projectRoot, type NativeProgram } from '../../src/native/binding.js';
import { portCodec, VNF_PORT_F_SPOOFCHK } from '../../src/vnf/common/codec.js';
import { monCfgCodec, monStateCodec } from '../../src/monitor/codec.js';
import { VNF_MON_T_DROP } from '../../src/abi/monitor.js';
import { emptyResult, fmtRatio, fmtSummary, interleave, Samples, type Context, type Scenario, type ScenarioResult } from '../lib/harness.js';
import { median, Scratch } from '../util.js';

const ip = (s: string): number => s.split('.').reduce((a, x) => (a << 8) | Number(x), 0) >>> 0;

/** An ICMP echo from `src` with a's MAC: a spoofed source when src is not a's address. */
function frame(src: string): Buffer {
  const b = Buffer.alloc(14 + 20 + 8 + 56);
  Buffer.from([2, 0, 0, 0, 0, 0x0b]).copy(b, 0);
  Buffer.from([2, 0, 0, 0, 0, 0x0a]).copy(b, 6);
  b.writeUInt16BE(0x0800, 12);
  b[14] = 0x45;
  b.writeUInt16BE(b.length - 14, 16);
  b[22] = 64;
  b[23] = 1;
  b.writeUInt32BE(ip(src), 26);
  b.writeUInt32BE(ip('10.0.1.11'), 30);
  b[34] = 8;
  return b;
}

interface Variant {
  id: string;
  path: string;
  before?: () => void;
  prog: () => NativeProgram;
}

export const monitorScenario: Scenario = {
  id: 'monitor',
  title: 'vnf-ctl monitor: ns per dropped packet with and without a listener',
  about: 'PROG_TEST_RUN of a spoof drop in vnf_entry_in: no listener, listener (events to a drained ring buffer), listener over its rate limit, the entry built without the hook, null',
  minutes: { quick: 0.3, full: 1 },
  async run(ctx: Context): Promise<ScenarioResult> {
    const res = emptyResult();
    const scratch = new Scratch();
    ctx.cleanup.defer('close the monitor bench objects and scratch ports', () => scratch.close());
    const obj = (p: string): string => join(projectRoot(), 'build', p);
    const pins = mkdtempSync('/sys/fs/bpf/vnf-bench-mon-');
    const pinsOff = mkdtempSync('/sys/fs/bpf/vnf-bench-mon-');
    scratch.defer(() => rmSync(pins, { recursive: true, force: true }));
    scratch.defer(() => rmSync(pinsOff, { recursive: true, force: true }));
    const nul = await BpfObject.load(obj('bpf/null.bpf.o'));
    scratch.defer(() => nul.close());
    const entry = await BpfObject.load(obj('bpf/entry.bpf.o'), { pinRoot: pins });
    scratch.defer(() => entry.close());
    const off = await BpfObject.load(obj('bench/entry_nomon.bpf.o'), { pinRoot: pinsOff });
    scratch.defer(() => off.close());
    const a = scratch.port();
    const port = portCodec.encode({ network: 1, chain_in: 1, chain_out: 2, flags: VNF_PORT_F_SPOOFCHK, ip: ip('10.0.1.10'), mac: '02:00:00:00:00:0a', prefix: 24 });
    entry.map('vnf_ports').update(u32(a.ifindex), port);
    off.map('vnf_ports').update(u32(a.ifindex), port);
    let events = 0;
    const rb = native.openRingBuffer(entry.map('vnf_events').handle, (_e, recs) => (events += recs?.length ?? 0));
    scratch.defer(() => rb.close());
    const cfg = entry.map('vnf_mon_cfg');
    const listen = (hb: bigint, rate: number): void => {
      const hbs = [0n, 0n, 0n];
      hbs[VNF_MON_T_DROP] = hb;
      cfg.update(u32(0), monCfgCodec.encode({ heartbeat_ns: hbs, rate, burst: 0 }));
    };
    scratch.defer(() => listen(0n, 0));
    const variants: Variant[] = [
      { id: 'null', path: 'null program', prog: () => nul.program('vnf_null') },
      { id: 'nohook', path: 'drop, entry built without the monitor hook', prog: () => off.program('vnf_entry_in') },
      { id: 'idle', path: 'drop, monitor hook, nobody listening', before: () => listen(0n, 0), prog: () => entry.program('vnf_entry_in') },
      { id: 'listen', path: 'drop, a listener (every drop an event, ring buffer drained)', before: () => listen(process.hrtime.bigint(), 0xffffffff), prog: () => entry.program('vnf_entry_in') },
      { id: 'limited', path: 'drop, a listener over its rate limit (counted as lost)', before: () => listen(process.hrtime.bigint(), 1), prog: () => entry.program('vnf_entry_in') },
    ];
    const data = frame('10.0.1.99');
    const skb = skbContext({ ifindex: a.ifindex });
    const verdict = entry.program('vnf_entry_in').testRun({ data, ctx: skb }).retval;
    const s = new Samples();
    s.metric('repeat', 'ns', 'lower');
    // 5,000 runs per call: 5,000 records (72 B with their header) fit the 1 MiB ring buffer, so
    // with a listener every drop is an event; the consumer drains between calls.
    const repeat = 5000;
    const calls = ctx.quick ? 10 : 40;
    const state = entry.map('vnf_mon_state');
    const totals = (): { emitted: bigint; full: bigint; rate: bigint } => {
      const t = { emitted: 0n, full: 0n, rate: 0n };
      for (const slot of state.splitPerCpu(state.lookup(u32(0))!)) {
        const x = monStateCodec.decode(slot);
        t.emitted += x.emitted;
        t.full += x.lost_full;
        t.rate += x.lost_rate;
      }
      return t;
    };
    const before = totals();
    await interleave(variants, ctx.rounds, async (v, r) => {
      const xs: number[] = [];
      for (let i = 0; i < calls; i++) {
        v.before?.();
        xs.push(v.prog().testRun({ data, ctx: skb, repeat }).duration);
        if (v.id === 'listen') await new Promise((done) => setTimeout(done, 25));
      }
      s.add('repeat', v.id, r, median(xs));
    });
    await new Promise((done) => setTimeout(done, 200));
    const after = totals();
    res.figures = { repeat: s.figures('repeat', 'nohook') };
    const f = (id: string) => res.figures['repeat']!.find((x) => x.variant === id)!;
    res.tables.push({
      title: 'ns per dropped packet (kernel-measured, repeat), ratio to the entry program without the hook per round',
      columns: ['path', 'ns', '× no hook'],
      rows: variants.map((v) => [v.path, fmtSummary(f(v.id).summary), v.id === 'nohook' ? '(baseline)' : fmtRatio(f(v.id).ratio)]),
      notes: [`verdict ${verdict} (2 = TC_ACT_SHOT); per round the median of ${calls} calls of ${repeat} runs on one skb. Listener: ${after.emitted - before.emitted} events sent, ${events} delivered to JS, ${after.full - before.full} lost to a full ring buffer; over the rate limit: ${after.rate - before.rate} counted as lost.`],
    });
    return res;
  },
};
