/** Names from users become paths only through src/model/names.ts: nothing reaches outside vnf's roots. */
import t from 'tap';
import { labNetns, linkPin, NameError, pinDir, stateDir, lockPath, VNF_PIN_ROOT, VNF_RUN_ROOT } from '../../../src/model/names.js';

t.test('hostile topology names never become paths', async (t) => {
  for (const bad of ['', '.', '..', '../vnf', 'a/b', '/etc', 'a\u0000b', 'A', '-x', 'x-', 'sixteen-chars-xx', '__proto__']) {
    t.throws(() => pinDir(bad), NameError, `pinDir(${JSON.stringify(bad)})`);
    t.throws(() => stateDir(bad), NameError, `stateDir(${JSON.stringify(bad)})`);
    t.throws(() => lockPath(bad), NameError, `lockPath(${JSON.stringify(bad)})`);
  }
  t.equal(pinDir('demo'), `${VNF_PIN_ROOT}/demo`);
  t.equal(stateDir('demo'), `${VNF_RUN_ROOT}/demo`);
});

t.test('a NameError is invalid input (exit 2)', async (t) => {
  const e = (() => { try { pinDir('..'); } catch (x) { return x as Error; } return undefined; })();
  t.equal(e?.name, 'NameError');
  t.match(e?.message, /invalid topology name/);
});

t.test('link pins: interface names bpffs cannot hold are refused, not mangled', async (t) => {
  t.throws(() => linkPin('demo', 'eth0.100', 'ingress'), NameError, 'a dot');
  t.throws(() => linkPin('demo', '../../x', 'ingress'), NameError, 'a path');
  t.equal(linkPin('demo', 'veth_a-1', 'egress'), `${VNF_PIN_ROOT}/demo/links/veth_a-1@out`);
});

t.test('lab namespace names do not collide across topologies', async (t) => {
  t.not(labNetns('a-b', 'c'), labNetns('a', 'b-c'), '"a-b"/"c" and "a"/"b-c"');
  t.equal(labNetns('demo', 'web'), 'vnf.demo.web');
});
