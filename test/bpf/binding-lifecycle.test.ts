/** Object lifecycle: open, load (async), find, close cascade, use-after-close, verifier errors. */
import t from 'tap';
import { BpfObject, BpfError } from '../../src/bpf/index.js';
import { loadTest, tempPinDir } from '../helpers/objects.js';
import { requirePrivileges } from '../helpers/privilege.js';
import { testObject } from '../helpers/paths.js';

if (requirePrivileges(t)) {
  t.test('load resolves asynchronously and exposes programs and maps', async (t) => {
    const obj = BpfObject.open(testObject('binding_test'), { pinRoot: tempPinDir(t) });
    t.teardown(() => obj.close());
    const p = obj.loadNow();
    t.ok(p instanceof Promise, 'load() returns a promise');
    await p;
    t.same(obj.programs().map((x) => x.name).sort(), ['bt_tc', 'bt_xdp']);
    t.ok(obj.maps().some((m) => m.name === 'bt_hash'));
    t.equal(obj.program('bt_tc').info().typeName, 'sched_cls');
    t.equal(obj.program('bt_xdp').info().typeName, 'xdp');
    t.match(obj.program('bt_tc').info().tag, /^[0-9a-f]{16}$/);
    t.equal(obj.map('bt_hash').info.keySize, 8);
    t.equal(obj.map('bt_hash').info.valueSize, 24);
    t.throws(() => obj.program('nope'), { code: 'ENOENT', message: /no program named nope/ });
  });

  t.test('close() cascades to maps and programs, is idempotent, and later use throws', async (t) => {
    const obj = await loadTest(t, 'binding_test');
    const map = obj.map('bt_array');
    const prog = obj.program('bt_tc');
    map.update(Buffer.alloc(4), Buffer.alloc(8));
    obj.close();
    obj.close();
    t.equal(obj.closed, true);
    t.equal(map.closed, true, 'map handle closed with its object');
    t.equal(prog.closed, true, 'program handle closed with its object');
    t.throws(() => map.lookup(Buffer.alloc(4)), { code: 'EBADF', message: /BpfMap is closed/ });
    t.throws(() => prog.testRun({ data: Buffer.alloc(64) }), { code: 'EBADF', message: /BpfProgram is closed/ });
    t.throws(() => obj.map('bt_array'), { code: 'EBADF' });
  });

  t.test('a verifier rejection carries the verifier log', async (t) => {
    let err: unknown;
    try {
      await loadTest(t, 'binding_bad');
    } catch (e) {
      err = e;
    }
    t.ok(err instanceof BpfError, 'rejects with a BpfError');
    const e = err as BpfError;
    t.equal(e.call, 'bpf_object__load');
    t.equal(e.code, 'EACCES', 'the verifier says EACCES for an invalid access');
    t.match(e.log, /invalid access to packet|R\d+ invalid/, 'log has the verifier reason');
    t.match(e.log, /^0: /m, 'log has the instruction listing');
    t.match(e.message, /hint: the verifier rejected/);
  });

  t.test('globals are set before load and checked for size and name', async (t) => {
    const obj = BpfObject.open(testObject('binding_test'), { pinRoot: tempPinDir(t) });
    t.teardown(() => obj.close());
    t.throws(() => obj.setGlobal('cfg_verdict', Buffer.alloc(2)), /is 4 bytes, got 2/);
    t.throws(() => obj.setGlobal('no_such_global', Buffer.alloc(4)), { code: 'ENOENT' });
    obj.setGlobal('cfg_verdict', Buffer.from([2, 0, 0, 0]));
    await obj.loadNow();
    const r = obj.program('bt_tc').testRun({ data: Buffer.alloc(64) });
    t.equal(r.retval, 2, 'the program returns the value set at load time');
    t.throws(() => obj.setGlobal('cfg_verdict', Buffer.alloc(4)), /before load/);
  });

  t.test('maps can be resized before load', async (t) => {
    const obj = await loadTest(t, 'binding_test', { maxEntries: { bt_hash: 4096 } });
    t.teardown(() => obj.close());
    t.equal(obj.map('bt_hash').info.maxEntries, 4096);
  });

  t.test('a second load of the same object is refused', async (t) => {
    const obj = await loadTest(t, 'binding_test');
    t.teardown(() => obj.close());
    await t.rejects(obj.loadNow(), /already loaded/);
  });

  t.test('handles of another type are refused (type tags)', async (t) => {
    const obj = await loadTest(t, 'binding_test');
    t.teardown(() => obj.close());
    const link = { fd: 3 } as never;
    const { native } = await import('../../src/native/binding.js');
    t.throws(() => native.tcAttach('lo', 'ingress', { program: obj.map('bt_hash').handle as never }), /expected a BpfProgram handle/);
    t.throws(() => native.tcAttach('lo', 'ingress', { program: link }), /expected a BpfProgram handle/);
  });
}
