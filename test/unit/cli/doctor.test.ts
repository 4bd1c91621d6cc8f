/**
 * vnf-ctl doctor: one row per check (ok, or a problem with a hint), the kernel features vnf
 * needs probed through the addon, the built objects and their layout, exit 1 on a problem.
 */
import t from 'tap';
import { kernelAtLeast } from '../../../src/ops/doctor.js';
import { native } from '../../../src/native/binding.js';
import { vnfctl } from '../../helpers/cli.js';

interface Check { check: string; ok: boolean; value: string; hint: string | null }

t.test('kernel version comparison', async (t) => {
  t.ok(kernelAtLeast('6.18.44-fc'));
  t.ok(kernelAtLeast('6.6.0'));
  t.notOk(kernelAtLeast('6.5.9'));
  t.notOk(kernelAtLeast('5.15.0-generic'));
  t.notOk(kernelAtLeast('garbage'));
});

t.test('the generic probes of the addon', async (t) => {
  t.throws(() => native.probeMapType('x' as unknown as number), TypeError, 'a non-number is a usage error (TypeError)');
  const r = native.probeMapType(11); // BPF_MAP_TYPE_LPM_TRIE
  t.ok([0, 1].includes(r) || r < 0, `a libbpf answer (${r})`);
  if (process.getuid?.() === 0) {
    t.equal(native.probeMapType(27), 1, 'root on this kernel: ring buffers');
    t.equal(native.probeHelper(3, 181), 1, 'root on this kernel: bpf_loop from tc programs');
    t.equal(native.probeMapType(100_000), -95, 'a map type libbpf does not know: -EOPNOTSUPP');
  }
});

t.test('doctor -o json: every check, and the exit code follows them', async (t) => {
  const r = vnfctl(['doctor', '-o', 'json']);
  const j = JSON.parse(r.stdout) as { ok: boolean; checks: Check[]; problems: string[] };
  const names = j.checks.map((c) => c.check);
  for (const want of ['privileges', 'bpffs', 'kernel BTF', 'kernel', 'addon', 'libbpf', 'tcx links', 'BPF ring buffer map', 'LPM trie map', 'bpf_loop helper', 'object entry.bpf.o', 'object firewall.bpf.o']) {
    t.ok(names.some((n) => n.startsWith(want)), `a row for ${want}`);
  }
  t.equal(j.ok, j.checks.every((c) => c.ok));
  t.equal(j.problems.length, j.checks.filter((c) => !c.ok).length);
  t.equal(r.status, j.ok ? 0 : 1, 'exit 1 exactly when a problem was found');
  if (process.getuid?.() === 0) t.ok(j.ok, `root on this machine: all ok (${j.problems.join('; ')})`);
});

t.test('unprivileged: problems with hints, exit 1, probes say they need root', { skip: process.getuid?.() !== 0 && 'needs root to drop privileges' }, async (t) => {
  // A world-readable copy of the build: the checkout may live in a 0700 folder (a CI clone).
  const { readableCopy, runCopyAsNobody } = await import('../../helpers/readable-copy.js');
  const r = runCopyAsNobody(readableCopy(t), ['doctor', '-o', 'json']);
  if (r.status !== 0 && r.status !== 1) return t.fail(`cannot run as nobody here: ${r.stderr}`);
  if (!r.stdout.trim()) return t.fail(`doctor as nobody printed nothing (exit ${r.status}): ${r.stderr}`);
  const j = JSON.parse(r.stdout) as { checks: Check[] };
  t.equal(r.status, 1);
  const priv = j.checks.find((c) => c.check.startsWith('privileges'))!;
  t.match(priv, { ok: false, value: 'no', hint: /root/ });
  const ring = j.checks.find((c) => c.check === 'BPF ring buffer map')!;
  t.ok(ring.ok || /root/.test(ring.hint ?? ''), 'a probe that could not run says so, not "unsupported"');
});

t.test('the table: a row per check with ok or problem, then the count', async (t) => {
  const r = vnfctl(['doctor']);
  const lines = r.stdout.trim().split('\n');
  t.match(lines[0], /^CHECK\s+STATUS\s+VALUE\s+HINT$/);
  t.ok(lines.slice(1, -1).every((l) => /\s(ok|problem)\s/.test(l)), 'each row says ok or problem');
  t.match(lines[lines.length - 1], /^(all checks passed|\d+ problems?)$/);
});
