/**
 * No fd outlives a failed call: when the kernel handed out an fd (a link from
 * bpf_link_create, a map/program/link from bpf_obj_get) and making its JS
 * wrapper then fails, the fd is closed — a leaked link fd would keep the
 * program attached until the process exits. Wrapper failures are provoked with
 * the binding's test-only fault injection (VNF_NATIVE_FAULTS, read when the
 * addon loads on first use, so it is set before anything touches `native`).
 */
import t, { type Test } from 'tap';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { native } from '../../src/native/binding.js';
import { loadTest, tempPinDir } from '../helpers/objects.js';
import { createNetns, netnsPath, nsExec } from '../helpers/netns.js';
import { requirePrivileges } from '../helpers/privilege.js';
import { sh } from '../helpers/sh.js';

process.env.VNF_NATIVE_FAULTS = '1';

type FaultHook = { __armFault?: (site?: string) => void };

function armFault(t: Test, site: string): void {
  const arm = (native as unknown as FaultHook).__armFault;
  if (typeof arm !== 'function') throw new Error('the fault hook is missing: VNF_NATIVE_FAULTS was not set when the addon loaded');
  t.teardown(() => arm()); // disarm, even if the point was never reached
  arm(site);
}

/**
 * fds of this process whose fdinfo has every `field: value` of `match`, and
 * a `with` field (present) or lacks a `without` field.
 */
function countFds(match: Record<string, number>, opts: { with?: string; without?: string } = {}): number {
  let n = 0;
  for (const fd of readdirSync('/proc/self/fdinfo')) {
    let info: string;
    try {
      info = readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8');
    } catch {
      continue; // the fd of the directory listing itself, already closed
    }
    const field = (k: string): RegExp => new RegExp(`^${k}:`, 'm');
    if (!Object.entries(match).every(([k, v]) => new RegExp(`^${k}:\\s+${v}$`, 'm').test(info))) continue;
    if (opts.with && !field(opts.with).test(info)) continue;
    if (opts.without && field(opts.without).test(info)) continue;
    n++;
  }
  return n;
}
const linkFdsOf = (progId: number): number => countFds({ prog_id: progId }, { with: 'link_id' });
const progFdsOf = (progId: number): number => countFds({ prog_id: progId }, { without: 'link_id' });

/** Links that run `progId`, system-wide, by the kernel's own account. */
function kernelLinksOf(progId: number): number {
  const links = JSON.parse(sh('bpftool', ['-j', 'link', 'show'])) as Array<{ prog_id?: number }>;
  return links.filter((l) => l.prog_id === progId).length;
}

const injected = { code: 'ECANCELED', call: 'injected fault (wrap)' };

/** A namespace holding a veth pair d0/d1 (no dummy driver here), removed at teardown. */
function vethNetns(t: Test): string {
  const ns = createNetns(t, 'vfd');
  nsExec(ns, ['ip', 'link', 'add', 'd0', 'type', 'veth', 'peer', 'name', 'd1']);
  nsExec(ns, ['ip', 'link', 'set', 'd0', 'up']);
  nsExec(ns, ['ip', 'link', 'set', 'd1', 'up']);
  return netnsPath(ns);
}

if (requirePrivileges(t)) {
  for (const kind of ['tcx', 'xdp'] as const) {
    t.test(`${kind}: a link whose wrapper fails is closed, so nothing stays attached`, async (t) => {
      const netns = vethNetns(t);
      const obj = await loadTest(t, 'binding_test');
      const prog = obj.program(kind === 'tcx' ? 'bt_tc' : 'bt_xdp');
      const progId = prog.info().id;
      const attach = () => (kind === 'tcx' ? prog.attachTcx('d0', 'ingress', { netns }) : prog.attachXdp('d0', { mode: 'generic', netns }));
      armFault(t, 'wrap');
      t.throws(attach, injected, 'the call fails when its wrapper cannot be made');
      t.equal(linkFdsOf(progId), 0, 'no link fd on the program is left open');
      t.equal(kernelLinksOf(progId), 0, 'the kernel has no link running the program');
      const link = attach(); // XDP allows one link per interface: this fails if one leaked
      t.teardown(() => link.close());
      t.equal(linkFdsOf(progId), 1, 'the count sees a real link fd');
      t.equal(kernelLinksOf(progId), 1, 'a later attach works and is the only link');
      link.close();
      t.equal(kernelLinksOf(progId), 0, 'closing it detaches');
    });
  }

  t.test('openPinnedMap: the fd is closed when the wrapper fails', async (t) => {
    const pinRoot = tempPinDir(t);
    const obj = await loadTest(t, 'binding_test', { pinRoot });
    const mapId = obj.map('bt_pinned').info.id;
    const before = countFds({ map_id: mapId });
    t.equal(before, 1, 'the object holds one fd of the map');
    armFault(t, 'wrap');
    t.throws(() => native.openPinnedMap(join(pinRoot, 'bt_pinned')), injected);
    t.equal(countFds({ map_id: mapId }), before, 'no extra fd of the map is left open');
    const m = native.openPinnedMap(join(pinRoot, 'bt_pinned'));
    t.equal(countFds({ map_id: mapId }), before + 1, 'the count sees a real open');
    m.close();
    t.equal(countFds({ map_id: mapId }), before, 'and its close');
  });

  t.test('openPinnedProgram: the fd is closed when the wrapper fails', async (t) => {
    const pinRoot = tempPinDir(t);
    const obj = await loadTest(t, 'binding_test', { pinRoot });
    const prog = obj.program('bt_tc');
    const progId = prog.info().id;
    const pin = join(pinRoot, 'prog_bt_tc');
    prog.pin(pin);
    t.teardown(() => rmSync(pin, { force: true }));
    const before = progFdsOf(progId);
    t.equal(before, 1, 'the object holds one fd of the program');
    armFault(t, 'wrap');
    t.throws(() => native.openPinnedProgram(pin), injected);
    t.equal(progFdsOf(progId), before, 'no extra fd of the program is left open');
    const p = native.openPinnedProgram(pin);
    t.equal(progFdsOf(progId), before + 1, 'the count sees a real open');
    p.close();
  });

  t.test('openPinnedLink: the fd is closed when the wrapper fails', async (t) => {
    const netns = vethNetns(t);
    const pinRoot = tempPinDir(t);
    const obj = await loadTest(t, 'binding_test', { pinRoot });
    const prog = obj.program('bt_tc');
    const progId = prog.info().id;
    const pin = join(pinRoot, 'link_d0');
    const link = prog.attachTcx('d0', 'ingress', { netns });
    t.teardown(() => rmSync(pin, { force: true })); // unpinning detaches the link
    link.pin(pin);
    const linkId = link.info().id;
    link.close();
    t.equal(countFds({ link_id: linkId }), 0, 'only the pin holds the link');
    armFault(t, 'wrap');
    t.throws(() => native.openPinnedLink(pin), injected);
    t.equal(countFds({ link_id: linkId }), 0, 'no fd of the link is left open');
    const l = native.openPinnedLink(pin);
    t.equal(countFds({ link_id: linkId }), 1, 'the count sees a real open');
    l.close();
    rmSync(pin);
    t.equal(kernelLinksOf(progId), 0, 'removing the pin detached it');
  });
}
