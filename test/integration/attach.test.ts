/**
 * Attaching through the binding to real veth interfaces inside network
 * namespaces the test creates, with real ping traffic: tcx links (pinned,
 * reopened, atomically updated, detached), clsact + cls_bpf, and XDP.
 */
import t, { type Test } from 'tap';
import { join } from 'node:path';
import { attachTc, detachTc, native, tcxSupported } from '../../src/bpf/index.js';
import { u32 } from '../../src/codec/struct.js';
import { sumCounters } from '../../src/vnf/common/codec.js';
import type { BpfMap } from '../../src/bpf/map.js';
import { loadTest, tempPinDir } from '../helpers/objects.js';
import { requirePrivileges } from '../helpers/privilege.js';
import { createNetns, createVeth, netnsPath, ping, randomName } from '../helpers/netns.js';
import { run } from '../helpers/sh.js';

type T = Test;

/** Two namespaces joined by one veth pair: a (10.77.0.1) <-> b (10.77.0.2). */
function pair(t: T): { a: string; b: string } {
  const a = createNetns(t, 'vta');
  const b = createNetns(t, 'vtb');
  createVeth(t, { name: 'eth0', ns: a, ip: '10.77.0.1/24' }, { name: 'eth0', ns: b, ip: '10.77.0.2/24' });
  return { a, b };
}

function packets(m: BpfMap, idx: number): bigint {
  const v = m.lookup(u32(idx));
  return v ? sumCounters(m.splitPerCpu(v)).packets : 0n;
}

if (requirePrivileges(t)) {
  t.test('tcx ingress link in another namespace counts real ping packets; detach stops it', async (t) => {
    const { a, b } = pair(t);
    const obj = await loadTest(t, 'binding_test');
    const prog = obj.program('bt_tc');
    t.equal(tcxSupported(prog), true, 'this kernel has tcx');
    const att = attachTc(prog, 'eth0', 'ingress', { netns: netnsPath(b), mode: 'tcx' });
    t.teardown(() => detachTc(att));
    t.equal(att.kind, 'tcx');
    const info = att.kind === 'tcx' ? att.link.info() : undefined;
    t.match(info, { kind: 'tcx', direction: 'ingress', ifindex: native.ifindex('eth0', netnsPath(b)), progId: prog.info().id });

    t.equal(ping(a, '10.77.0.2', 3), 3, 'ping passes (verdict OK)');
    const counters = obj.map('bt_counters');
    t.ok(packets(counters, 2) >= 3n, `counted ${packets(counters, 2)} IPv4 packets on b's ingress`);

    detachTc(att);
    const before = packets(counters, 0);
    t.equal(ping(a, '10.77.0.2', 2), 2);
    t.equal(packets(counters, 0), before, 'nothing counted after detach');
  });

  t.test('a dropping program blocks real traffic; an atomic link update restores it without detaching', async (t) => {
    const { a, b } = pair(t);
    const drop = await loadTest(t, 'binding_test', { globals: { cfg_verdict: u32(2) /* TC_ACT_SHOT */ } });
    const pass = await loadTest(t, 'binding_test');
    t.teardown(() => { drop.close(); pass.close(); });
    const att = attachTc(drop.program('bt_tc'), 'eth0', 'ingress', { netns: netnsPath(b), mode: 'tcx' });
    t.teardown(() => detachTc(att));
    if (att.kind !== 'tcx') throw new Error('expected tcx');
    t.equal(ping(a, '10.77.0.2', 2), 0, 'dropped');
    att.link.update(pass.program('bt_tc'), { expected: drop.program('bt_tc') });
    t.equal(att.link.info().progId, pass.program('bt_tc').info().id, 'the link now runs the new program');
    t.equal(ping(a, '10.77.0.2', 2), 2, 'passes after the swap');
    t.throws(() => att.link.update(drop.program('bt_tc'), { expected: drop.program('bt_tc') }), { code: 'EPERM' },
      'update with a stale expected program is refused');
  });

  t.test('a pinned tcx link outlives its handle and object; reopened from the pin and detached', async (t) => {
    const { a, b } = pair(t);
    const dir = tempPinDir(t);
    const pin = join(dir, 'link');
    {
      const obj = await loadTest(t, 'binding_test', { globals: { cfg_verdict: u32(2) } });
      const att = attachTc(obj.program('bt_tc'), 'eth0', 'ingress', { netns: netnsPath(b), mode: 'tcx' });
      if (att.kind !== 'tcx') throw new Error('expected tcx');
      att.link.pin(pin);
      att.link.close();
      obj.close();
    }
    t.equal(ping(a, '10.77.0.2', 2), 0, 'still attached (dropping) with no process holding it');
    const link = native.openPinnedLink(pin);
    t.match(link.info(), { kind: 'tcx', direction: 'ingress' });
    link.detach();
    t.equal(ping(a, '10.77.0.2', 2), 2, 'traffic flows after explicit detach');
    t.throws(() => link.info(), { code: 'EBADF' }, 'detached handle is closed');
  });

  t.test('an unpinned link closed by its handle detaches (kernel semantics)', async (t) => {
    const { a, b } = pair(t);
    const obj = await loadTest(t, 'binding_test', { globals: { cfg_verdict: u32(2) } });
    const att = attachTc(obj.program('bt_tc'), 'eth0', 'ingress', { netns: netnsPath(b), mode: 'tcx' });
    if (att.kind !== 'tcx') throw new Error('expected tcx');
    t.equal(ping(a, '10.77.0.2', 1), 0);
    att.link.close();
    t.equal(ping(a, '10.77.0.2', 2), 2);
  });

  t.test('clsact + cls_bpf egress attach, query and detach', async (t) => {
    const { a } = pair(t);
    const obj = await loadTest(t, 'binding_test');
    const ns = netnsPath(a);
    const att = attachTc(obj.program('bt_tc'), 'eth0', 'egress', { netns: ns, mode: 'clsact' });
    t.teardown(() => { detachTc(att); native.tcDestroyHook('eth0', { netns: ns }); });
    t.equal(att.kind, 'clsact');
    t.equal(native.tcQuery('eth0', 'egress', { netns: ns }), obj.program('bt_tc').info().id, 'the filter runs our program');
    const tcShow = run('ip', ['netns', 'exec', a.toString(), 'tc', 'filter', 'show', 'dev', 'eth0', 'egress']).stdout;
    t.match(tcShow, /bt_tc.*direct-action/, 'tc sees a direct-action bpf filter');
    t.equal(ping(a, '10.77.0.2', 3), 3);
    t.ok(packets(obj.map('bt_counters'), 2) >= 3n, 'egress IPv4 packets counted');
    detachTc(att);
    t.equal(native.tcQuery('eth0', 'egress', { netns: ns }), null, 'gone after detach');
    detachTc(att);
    t.pass('detaching twice is not an error');
  });

  t.test('XDP generic attach counts received packets', async (t) => {
    const { a, b } = pair(t);
    const obj = await loadTest(t, 'binding_test');
    const link = obj.program('bt_xdp').attachXdp('eth0', { mode: 'generic', netns: netnsPath(b) });
    t.teardown(() => { if (!link.closed) link.detach(); });
    t.match(link.info(), { kind: 'xdp' });
    t.equal(ping(a, '10.77.0.2', 3), 3);
    t.ok(packets(obj.map('bt_counters'), 1) >= 3n);
  });

  t.test('unknown interface and unknown namespace give clear errors', async (t) => {
    const obj = await loadTest(t, 'binding_test');
    t.throws(() => attachTc(obj.program('bt_tc'), randomName('nosuch'), 'ingress'), { code: 'ENODEV', message: /no such interface/ });
    t.throws(() => attachTc(obj.program('bt_tc'), 'eth0', 'ingress', { netns: '/run/netns/vnf-missing' }), { code: 'ENOENT', path: '/run/netns/vnf-missing' });
  });
}
