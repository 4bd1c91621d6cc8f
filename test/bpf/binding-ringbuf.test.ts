/**
 * The ring buffer consumer of the binding: records written by a program (run through
 * BPF_PROG_TEST_RUN) arrive in JS in order, close() stops delivery at once and is idempotent,
 * the event loop never waits for the kernel, a closed consumer does not keep the process alive,
 * and failures are BpfErrors with a code.
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { native, type NativeRingBuffer } from '../../src/native/binding.js';
import { loadTest, tempPinDir } from '../helpers/objects.js';
import { requirePrivileges } from '../helpers/privilege.js';
import { pingPacket } from '../helpers/packets.js';
import { ROOT } from '../helpers/paths.js';

const pkt = pingPacket({ srcMac: '02:00:00:00:00:0a', dstMac: '02:00:00:00:00:0b', src: '10.0.0.1', dst: '10.0.0.2' });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Rec { seq: bigint; len: number }
const decode = (b: Buffer): Rec => ({ seq: b.readBigUInt64LE(0), len: b.readUInt32LE(8) });

async function until(cond: () => boolean, ms = 3000): Promise<boolean> {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await sleep(5);
  return cond();
}

if (requirePrivileges(t)) {
  t.test('records written by a program arrive in order, in batches, as Buffers', async (t) => {
    const obj = await loadTest(t, 'ringbuf_test');
    const got: Rec[] = [];
    let batches = 0;
    const errors: Error[] = [];
    const rb = native.openRingBuffer(obj.map('rb_events').handle, (err, recs) => {
      if (err) errors.push(err);
      else {
        batches++;
        for (const r of recs!) got.push(decode(r));
      }
    });
    t.teardown(() => rb.close());
    t.equal(rb.closed, false, 'open');
    obj.program('rb_tc').testRun({ data: pkt, repeat: 200 });
    t.ok(await until(() => got.length >= 200), `200 records arrived (${got.length})`);
    t.same(got.map((r) => r.seq), Array.from({ length: 200 }, (_, i) => BigInt(i)), 'in order, none twice');
    t.ok(got.every((r) => r.len === pkt.length), 'the record as written');
    t.ok(batches >= 1 && batches <= 200, `${batches} batches`);
    t.same(errors, [], 'no error');
  });

  t.test('close() stops delivery at once, is idempotent, and the map handle may go first', async (t) => {
    const obj = await loadTest(t, 'ringbuf_test');
    const map = obj.map('rb_events');
    let n = 0;
    const rb = native.openRingBuffer(map.handle, (_e, recs) => (n += recs?.length ?? 0));
    map.handle.close(); // the consumer holds its own fd
    obj.program('rb_tc').testRun({ data: pkt, repeat: 10 });
    t.ok(await until(() => n === 10), 'delivered while open, after the map handle closed');
    const t0 = process.hrtime.bigint();
    rb.close();
    const closeMs = Number(process.hrtime.bigint() - t0) / 1e6;
    t.ok(closeMs < 100, `close() took ${closeMs.toFixed(1)} ms (the worker is woken, not polled)`);
    t.equal(rb.closed, true, 'closed');
    t.doesNotThrow(() => rb.close(), 'a second close() is a no-op');
    obj.program('rb_tc').testRun({ data: pkt, repeat: 10 });
    await sleep(200);
    t.equal(n, 10, 'nothing delivered after close()');
  });

  t.test('the event loop never waits: timers run on time while the consumer is open and records flow', async (t) => {
    const obj = await loadTest(t, 'ringbuf_test');
    let n = 0;
    const rb: NativeRingBuffer = native.openRingBuffer(obj.map('rb_events').handle, (_e, recs) => (n += recs?.length ?? 0));
    t.teardown(() => rb.close());
    let worst = 0;
    let last = Date.now();
    const timer = setInterval(() => {
      const now = Date.now();
      worst = Math.max(worst, now - last - 10);
      last = now;
    }, 10);
    for (let i = 0; i < 20; i++) {
      obj.program('rb_tc').testRun({ data: pkt, repeat: 50 });
      await sleep(15);
    }
    await sleep(100);
    clearInterval(timer);
    t.equal(n, 1000, 'every record delivered');
    t.ok(worst < 150, `worst timer lateness ${worst} ms`);
  });

  t.test('a consumer opened from a pin and closed lets the process exit; one left open is closed at exit', async (t) => {
    const obj = await loadTest(t, 'ringbuf_test');
    const pin = join(tempPinDir(t), 'rb_events');
    obj.map('rb_events').handle.pin(pin);
    const addon = join(ROOT, 'build', 'Release', 'vnf_native.node');
    const run = (code: string, timeout = 5000) => spawnSync(process.execPath, ['-e', code], { timeout, encoding: 'utf8' });
    const closed = run(`const b = require(${JSON.stringify(addon)}); const r = b.openRingBuffer(${JSON.stringify(pin)}, () => {}); setTimeout(() => { r.close(); console.log('closed'); }, 50);`);
    t.equal(closed.status, 0, `exits by itself after close() (${closed.stderr})`);
    t.match(closed.stdout, /closed/);
    const atExit = run(`const b = require(${JSON.stringify(addon)}); b.openRingBuffer(${JSON.stringify(pin)}, () => {}); setTimeout(() => process.exit(0), 50);`);
    t.equal(atExit.status, 0, `process.exit with a consumer open ends cleanly: the cleanup hook stops the thread (${atExit.stderr})`);
    const alive = run(`const b = require(${JSON.stringify(addon)}); globalThis.keep = b.openRingBuffer(${JSON.stringify(pin)}, () => {});`, 1500);
    t.equal(alive.signal, 'SIGTERM', `an open consumer (still referenced) keeps the process alive: killed by the timeout (${alive.stderr})`);
  });

  t.test('errors: BpfError with a code', async (t) => {
    const obj = await loadTest(t, 'ringbuf_test');
    t.throws(() => native.openRingBuffer(obj.map('rb_state').handle, () => {}), { name: 'BpfError', code: 'EINVAL' }, 'not a ring buffer');
    t.throws(() => native.openRingBuffer('/sys/fs/bpf/vnf-no-such-pin', () => {}), { name: 'BpfError', code: 'ENOENT' }, 'no pin');
    const m = obj.map('rb_events');
    m.handle.close();
    t.throws(() => native.openRingBuffer(m.handle, () => {}), { code: 'EBADF' }, 'a closed map handle');
    t.throws(() => native.openRingBuffer(42 as never, () => {}), TypeError, 'not a map');
    t.throws(() => native.openRingBuffer('/x', undefined as never), TypeError, 'no callback');
  });
}
