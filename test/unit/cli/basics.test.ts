import t from 'tap';
import { vnfctl } from '../../helpers/cli.js';

t.test('--help lists commands and exits 0', async (t) => {
  const r = vnfctl(['--help']);
  t.equal(r.status, 0);
  t.match(r.stdout, /doctor/);
});

t.test('unknown command exits 2 with a message', async (t) => {
  const r = vnfctl(['frobnicate']);
  t.equal(r.status, 2);
  t.match(r.stderr, /unknown command/);
});

t.test('doctor -o json reports the environment (more in doctor.test.ts)', async (t) => {
  const r = vnfctl(['doctor', '-o', 'json']);
  const env = JSON.parse(r.stdout) as { kernel: string; libbpf: string; problems: string[] };
  t.match(env.libbpf, /^\d+\.\d+$/);
  t.equal(r.status, env.problems.length ? 1 : 0, 'exit code reflects problems');
});

t.test('bad output format is invalid input (exit 2)', async (t) => {
  const r = vnfctl(['doctor', '-o', 'xml']);
  t.equal(r.status, 2);
  t.match(r.stderr, /unknown output format/);
});
