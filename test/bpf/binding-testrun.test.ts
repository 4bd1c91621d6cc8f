/** BPF_PROG_TEST_RUN through the binding: verdicts, output packets, context, counters. */
import t from 'tap';
import { skbContext } from '../../src/bpf/index.js';
import { defineStruct, u32 } from '../../src/codec/struct.js';
import { sumCounters } from '../../src/vnf/common/codec.js';
import { loadTest } from '../helpers/objects.js';
import { requirePrivileges } from '../helpers/privilege.js';
import { ip4, pingPacket } from '../helpers/packets.js';

const keyC = defineStruct<{ addr: number; port: number; proto: number }>('bt_key', [
  ['addr', 'ipv4'], ['port', 'u16'], ['proto', 'u8'], ['_pad', { pad: 1 }],
]);

const A = '02:00:00:00:00:0a';
const B = '02:00:00:00:00:0b';

if (requirePrivileges(t)) {
  t.test('verdict, output packet and counters', async (t) => {
    const obj = await loadTest(t, 'binding_test');
    const prog = obj.program('bt_tc');
    const pkt = pingPacket({ srcMac: A, dstMac: B, src: '10.0.0.1', dst: '10.0.0.2' });

    let r = prog.testRun({ data: pkt });
    t.equal(r.retval, 0, 'TC_ACT_OK');
    t.same(r.data, pkt, 'no entry: packet unchanged');

    obj.map('bt_hash').update(keyC.encode({ addr: ip4('10.0.0.2'), port: 0, proto: 0 }), Buffer.alloc(24));
    r = prog.testRun({ data: pkt });
    t.same(r.data.subarray(0, 6), pkt.subarray(6, 12), 'destination MAC is the old source');
    t.same(r.data.subarray(6, 12), pkt.subarray(0, 6), 'source MAC is the old destination');
    t.same(r.data.subarray(12), pkt.subarray(12), 'rest untouched');
    const hits = obj.map('bt_hash').lookup(keyC.encode({ addr: ip4('10.0.0.2'), port: 0, proto: 0 }))!.readBigUInt64LE(0);
    t.equal(hits, 1n, 'the program updated the map entry');

    const c = obj.map('bt_counters');
    t.same(sumCounters(c.splitPerCpu(c.lookup(u32(0))!)), { packets: 2n, bytes: BigInt(2 * pkt.length) }, 'per-CPU counter');
    t.same(sumCounters(c.splitPerCpu(c.lookup(u32(2))!)).packets, 2n, 'IPv4 counter');
  });

  t.test('repeat runs the program many times and reports a duration', async (t) => {
    const obj = await loadTest(t, 'binding_test');
    const pkt = pingPacket({ srcMac: A, dstMac: B, src: '10.0.0.1', dst: '10.0.0.2' });
    const r = obj.program('bt_tc').testRun({ data: pkt, repeat: 1000 });
    t.ok(r.duration > 0, `duration ${r.duration} ns/packet`);
    const c = obj.map('bt_counters');
    t.equal(sumCounters(c.splitPerCpu(c.lookup(u32(0))!)).packets, 1000n, 'ran 1000 times');
  });

  t.test('__sk_buff context in and out', async (t) => {
    const obj = await loadTest(t, 'binding_test', { globals: { cfg_mark: u32(0x1234) } });
    const pkt = pingPacket({ srcMac: A, dstMac: B, src: '10.0.0.1', dst: '10.0.0.2' });
    const r = obj.program('bt_tc').testRun({ data: pkt, ctx: skbContext({ mark: 1 }) });
    t.ok(r.ctx, 'context comes back');
    t.equal(r.ctx!.readUInt32LE(8), 0x1234, 'the program set skb->mark');
  });

  t.test('XDP test run', async (t) => {
    const obj = await loadTest(t, 'binding_test');
    const pkt = pingPacket({ srcMac: A, dstMac: B, src: '10.0.0.1', dst: '10.0.0.2' });
    const r = obj.program('bt_xdp').testRun({ data: pkt });
    t.equal(r.retval, 2, 'XDP_PASS');
    const c = obj.map('bt_counters');
    t.equal(sumCounters(c.splitPerCpu(c.lookup(u32(1))!)).packets, 1n);
  });

  t.test('a too-short packet is refused by the kernel', async (t) => {
    const obj = await loadTest(t, 'binding_test');
    t.throws(() => obj.program('bt_tc').testRun({ data: Buffer.alloc(4) }), { code: 'EINVAL', call: 'bpf_prog_test_run_opts' });
  });
}
