/**
 * No C++ exception escapes into node: an allocation that fails inside the
 * binding (std::bad_alloc) becomes a BpfError with code ENOMEM on that call,
 * and the process carries on. Without the boundary, node aborts ("terminate
 * called after throwing an instance of 'std::bad_alloc'").
 *
 * The allocation failure is real: a child node runs with its address space
 * limited (ulimit -v) and asks testRun() for a 4 GiB output buffer.
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { native, projectRoot, type NativeMap } from '../../src/native/binding.js';
import { loadTest, tempPinDir } from '../helpers/objects.js';
import { testObject } from '../helpers/paths.js';
import { requirePrivileges } from '../helpers/privilege.js';

const ADDON = join(projectRoot(), 'build', 'Release', 'vnf_native.node');
// node itself maps ~0.75 GB here; 2 GB leaves room to load, not for 4 GiB.
const ADDRESS_SPACE_KB = 2_000_000;

if (requirePrivileges(t)) {
  t.test('std::bad_alloc in a call becomes a BpfError ENOMEM, and the process goes on', async (t) => {
    const script = `
      import { createRequire } from 'node:module';
      const b = createRequire(import.meta.url)(${JSON.stringify(ADDON)});
      class BpfError extends Error {
        constructor(message, props) { super(message); this.name = 'BpfError'; Object.assign(this, props); }
      }
      b.setErrorClass(BpfError);
      const o = new b.BpfObject(${JSON.stringify(testObject('binding_test'))}, { pinRoot: ${JSON.stringify(tempPinDir(t))} });
      await o.load();
      const p = o.programs().find((x) => x.name === 'bt_tc');
      const out = {};
      try {
        p.testRun({ data: Buffer.alloc(64), dataOutSize: 0xffffffff });
        out.huge = 'returned';
      } catch (e) {
        out.huge = { isBpfError: e instanceof BpfError, code: e.code, errno: e.errno, call: e.call, message: e.message };
      }
      out.after = p.testRun({ data: Buffer.alloc(64) }).retval;
      o.close();
      console.log(JSON.stringify(out));
    `;
    const r = spawnSync('sh', ['-c', `ulimit -v ${ADDRESS_SPACE_KB} && exec "$0" "$@"`, process.execPath, '--input-type=module', '-e', script], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    t.equal(r.signal, null, `the child was not killed (stderr: ${r.stderr.trim()})`);
    t.equal(r.status, 0, 'and exited cleanly');
    const out = JSON.parse(r.stdout.trim().split('\n').pop() || '{}') as { huge?: unknown; after?: number };
    t.match(out.huge, { isBpfError: true, code: 'ENOMEM', errno: 12, call: 'BpfProgram.testRun', message: /out of memory/ }, 'the failed allocation is a BpfError ENOMEM naming the call');
    t.equal(out.after, 0, 'the next call works');
  });

  t.test('a method taken off one class and called on another handle is refused', async (t) => {
    const pinRoot = tempPinDir(t);
    const obj = await loadTest(t, 'binding_test', { pinRoot });
    const map = native.openPinnedMap(`${pinRoot}/bt_pinned`);
    t.teardown(() => map.close());
    const prog = obj.program('bt_tc');
    const lookup = (Object.getPrototypeOf(map) as NativeMap).lookup;
    // V8 checks the receiver of class methods itself ("Illegal invocation")...
    t.throws(() => lookup.call(prog as unknown as NativeMap, Buffer.alloc(4)), { name: 'TypeError' }, 'methods');
    // ...but not of accessors: the binding's type tag check does.
    const fd = Object.getOwnPropertyDescriptor(Object.getPrototypeOf(prog), 'fd')?.get;
    t.ok(fd, 'BpfProgram has an fd accessor');
    t.throws(() => fd?.call(map), { name: 'TypeError', message: /BpfProgram method called on an object that is not a BpfProgram/ }, 'accessors');
    t.equal(map.lookup(Buffer.alloc(4)), null, 'the handles still work');
  });
}
