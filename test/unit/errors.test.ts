import t from 'tap';
import { BpfError, hintFor } from '../../src/native/errors.js';
import { BpfObject } from '../../src/bpf/object.js';

t.test('hints name the fix for common failures', async (t) => {
  t.match(hintFor({ code: 'EPERM', call: 'bpf_object__load' }), /root|CAP_BPF/);
  t.match(hintFor({ code: 'ENOENT', call: 'bpf_obj_get', path: '/sys/fs/bpf/x' }), /bpffs/);
  t.match(hintFor({ code: 'E2BIG', call: 'bpf_map_update_elem' }), /full/);
  t.equal(hintFor({ code: 'EAGAIN', call: 'x' }), undefined);
});

t.test('BpfError carries errno, code, call and hint', async (t) => {
  const e = new BpfError('x failed', { errno: 1, code: 'EPERM', call: 'bpf_prog_load' });
  t.ok(e instanceof Error);
  t.equal(e.name, 'BpfError');
  t.equal(e.errno, 1);
  t.equal(e.code, 'EPERM');
  t.match(e.message, /hint: needs root/);
});

t.test('opening a missing object file throws ENOENT from the binding', async (t) => {
  let caught: unknown;
  try {
    BpfObject.open('/nonexistent/x.bpf.o');
  } catch (e) {
    caught = e;
  }
  t.ok(caught instanceof BpfError, 'a BpfError');
  t.match(caught, { code: 'ENOENT', errno: 2, call: 'bpf_object__open_file', path: '/nonexistent/x.bpf.o' });
  t.match((caught as BpfError).details, /failed to open/, "libbpf's own message is kept on the error, not printed");
});
