/**
 * Calls with { netns } enter the namespace on the calling thread and must
 * come back. If coming back fails, the thread would silently stay in the
 * other namespace and every later call would run there; instead the call
 * reports it, later calls refuse, and an exception that skipped the explicit
 * return aborts the process with a clear message. setns(2) back into the
 * namespace we came from does not fail on its own, so the failure is injected
 * (test-only fault hook) — in a child process, since the point is that the
 * process is then unusable.
 */
import t, { type Test } from 'tap';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { native, projectRoot } from '../../src/native/binding.js';
import { createNetns, netnsPath, nsExec, randomName } from '../helpers/netns.js';
import { requirePrivileges } from '../helpers/privilege.js';

const ADDON = join(projectRoot(), 'build', 'Release', 'vnf_native.node');

/** A namespace with a veth pair whose first end's name exists nowhere else. */
function nsWithIface(t: Test): { ns: string; iface: string } {
  const name = createNetns(t, 'vns');
  const iface = randomName('vn');
  nsExec(name, ['ip', 'link', 'add', iface, 'type', 'veth', 'peer', 'name', `${iface}p`]);
  return { ns: netnsPath(name), iface };
}

interface Attempt {
  value?: unknown;
  error?: { message: string; code?: string; call?: string };
}

/**
 * Runs `body` (JS, with the addon as `b`, `attempt(fn)` and `out`) in a child
 * node with fault injection on; returns its exit, signal, stderr and `out`.
 */
function child(body: string): { status: number | null; signal: string | null; stderr: string; out: Record<string, Attempt> } {
  const script = `
    import { createRequire } from 'node:module';
    const b = createRequire(import.meta.url)(${JSON.stringify(ADDON)});
    const attempt = (f) => { try { return { value: f() }; } catch (e) { return { error: { message: e.message, code: e.code, call: e.call } }; } };
    const out = {};
    ${body}
    console.log(JSON.stringify(out));
  `;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    encoding: 'utf8',
    timeout: 30_000,
    env: { ...process.env, VNF_NATIVE_FAULTS: '1' },
  });
  const last = r.stdout.trim().split('\n').pop() ?? '';
  let out: Record<string, Attempt> = {};
  try {
    out = JSON.parse(last) as Record<string, Attempt>;
  } catch {
    /* no output: the child died before printing */
  }
  return { status: r.status, signal: r.signal, stderr: r.stderr, out };
}

if (requirePrivileges(t)) {
  t.test('a call in a namespace comes back to the original one', async (t) => {
    const { ns, iface } = nsWithIface(t);
    t.type(native.ifindex(iface, ns), 'number', 'the interface resolves inside its namespace');
    t.throws(() => native.ifindex(iface), { code: 'ENODEV' }, 'and not outside: the thread came back');
  });

  t.test('a failed return is reported on that call, and later calls refuse', async (t) => {
    const { ns, iface } = nsWithIface(t);
    const r = child(`
      b.__armFault('netns-restore');
      out.first = attempt(() => b.ifindex(${JSON.stringify(iface)}, ${JSON.stringify(ns)}));
      out.later = attempt(() => b.ifindex(${JSON.stringify(iface)}));
      out.laterLo = attempt(() => b.tcQuery('lo', 'ingress'));
    `);
    t.equal(r.status, 0, `the child ran to the end (stderr: ${r.stderr.trim()})`);
    t.match(r.out.first?.error, { call: 'setns(restore)', code: 'EPERM', message: new RegExp(`could not return from ${ns}`) }, 'the call that failed to come back throws');
    t.equal(r.out.later?.value, undefined, `a later call does not run in ${ns} (it would find ${iface} there)`);
    t.match(r.out.later?.error, { call: 'setns(restore)', message: /still in network namespace .*restart the process/ }, 'a later call refuses, saying why');
    t.match(r.out.laterLo?.error, { call: 'setns(restore)' }, 'so does any other call that depends on the namespace');
  });

  t.test('an exception that skips the explicit return, then a failed return, aborts the process', async (t) => {
    const { ns, iface } = nsWithIface(t);
    const r = child(`
      b.__armFault('netns-unwind');
      b.__armFault('netns-restore');
      out.first = attempt(() => b.ifindex(${JSON.stringify(iface)}, ${JSON.stringify(ns)}));
      out.later = attempt(() => b.ifindex(${JSON.stringify(iface)}));
    `);
    t.equal(r.signal, 'SIGABRT', `the process aborts instead of running on in ${ns} (out: ${JSON.stringify(r.out)})`);
    t.match(r.stderr, /FATAL ERROR: vnf native binding: could not return from network namespace/, 'with a clear message on stderr');
  });
}
