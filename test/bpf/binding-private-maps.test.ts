/**
 * Choosing maps before load (generic addon options): declaredMaps() tells what an object
 * declares and which maps it pins by name; privateMap() keeps a pinned-by-name map out of the
 * pin root (neither reused nor pinned); reuseMap() gives an object another object's map.
 */
import t from 'tap';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { BpfObject } from '../../src/bpf/object.js';
import { u32, u64 } from '../../src/codec/struct.js';
import { loadTest, tempPinDir } from '../helpers/objects.js';
import { testObject } from '../helpers/paths.js';
import { requirePrivileges } from '../helpers/privilege.js';

if (requirePrivileges(t)) {
  t.test('declaredMaps names the maps and which are pinned by name, before load', async (t) => {
    const o = BpfObject.open(testObject('binding_test'), { pinRoot: tempPinDir(t) });
    t.teardown(() => o.close());
    const d = o.declaredMaps();
    t.same(d.find((m) => m.name === 'bt_pinned'), { name: 'bt_pinned', pinned: true });
    t.same(d.find((m) => m.name === 'bt_hash'), { name: 'bt_hash', pinned: false });
    t.notOk(d.some((m) => m.name.includes('.')), 'no .rodata/.bss');
  });

  t.test('a private map is neither the pinned one nor pinned', async (t) => {
    const root = tempPinDir(t);
    const live = await loadTest(t, 'binding_test', { pinRoot: root });
    t.ok(existsSync(join(root, 'bt_pinned')), 'the first load pins it');
    live.map('bt_pinned').update(u32(0), u32(7));
    const priv = await loadTest(t, 'binding_test', { pinRoot: root, privateMaps: ['bt_pinned'] });
    t.not(priv.map('bt_pinned').info.id, live.map('bt_pinned').info.id, 'a map of its own');
    t.equal(priv.map('bt_pinned').lookup(u32(0))?.readUInt32LE(0) ?? 0, 0, 'empty: not the pinned content');
    priv.map('bt_pinned').update(u32(0), u32(9));
    t.equal(live.map('bt_pinned').lookup(u32(0))!.readUInt32LE(0), 7, 'the pinned map is untouched');
    const again = await loadTest(t, 'binding_test', { pinRoot: root });
    t.equal(again.map('bt_pinned').info.id, live.map('bt_pinned').info.id, 'the pin still holds the first map');
  });

  t.test('reuseMap shares one object\'s map with another', async (t) => {
    const a = await loadTest(t, 'binding_test', { privateMaps: ['bt_pinned'] });
    const b = await loadTest(t, 'binding_test', { reuseMaps: { bt_array: a.map('bt_array'), bt_pinned: a.map('bt_pinned') } });
    t.equal(b.map('bt_array').info.id, a.map('bt_array').info.id);
    t.equal(b.map('bt_pinned').info.id, a.map('bt_pinned').info.id, 'instead of the pin');
    a.map('bt_array').update(u32(1), u64(42n));
    t.equal(b.map('bt_array').lookup(u32(1))!.readBigUInt64LE(0), 42n);
  });

  t.test('bad use: unknown names, after load, not a map', async (t) => {
    const o = BpfObject.open(testObject('binding_test'), { pinRoot: tempPinDir(t) });
    t.teardown(() => o.close());
    t.throws(() => o.handle.privateMap('nope'), { code: 'ENOENT' });
    t.throws(() => o.handle.reuseMap('bt_array', {} as never), /expected a BpfMap handle/);
    t.throws(() => BpfObject.open(testObject('binding_test'), { privateMaps: ['.rodata'] }), { code: 'ENOENT' });
    const loaded = await loadTest(t, 'binding_test');
    t.throws(() => loaded.handle.privateMap('bt_hash'), /before load/);
    t.throws(() => loaded.handle.reuseMap('bt_hash', loaded.map('bt_hash').handle), /before load/);
  });
}
