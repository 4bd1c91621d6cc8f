/** Map operations against the kernel: CRUD, flags, iteration, batch, per-CPU, pinning. */
import t from 'tap';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { BpfMap, BPF_NOEXIST, BPF_EXIST } from '../../src/bpf/index.js';
import { defineStruct, u32, u64 } from '../../src/codec/struct.js';
import { counterCodec, sumCounters } from '../../src/vnf/common/codec.js';
import { native } from '../../src/native/binding.js';
import { loadTest, tempPinDir } from '../helpers/objects.js';
import { requirePrivileges } from '../helpers/privilege.js';

const keyC = defineStruct<{ addr: number; port: number; proto: number }>('bt_key', [
  ['addr', 'ipv4'], ['port', 'u16'], ['proto', 'u8'], ['_pad', { pad: 1 }],
]);
const valC = defineStruct<{ hits: bigint; flags: number; mac: string }>('bt_value', [
  ['hits', 'u64'], ['flags', 'u32'], ['mac', 'mac'], ['_pad', { pad: 6 }],
]);

if (requirePrivileges(t)) {
  t.test('lookup / update / delete with flags', async (t) => {
    const obj = await loadTest(t, 'binding_test');
    const m = obj.map('bt_hash');
    const k = keyC.encode({ addr: 0x0a000001, port: 80, proto: 6 });
    t.equal(m.lookup(k), null, 'absent key reads as null');
    m.update(k, valC.encode({ hits: 5n, flags: 1, mac: '02:00:00:00:00:01' }), BPF_NOEXIST);
    t.same(valC.decode(m.lookup(k)!), { hits: 5n, flags: 1, mac: '02:00:00:00:00:01' });
    t.throws(() => m.update(k, valC.encode({ hits: 0n, flags: 0, mac: '02:00:00:00:00:02' }), BPF_NOEXIST), { code: 'EEXIST' });
    t.throws(() => m.update(keyC.encode({ addr: 9, port: 0, proto: 0 }), Buffer.alloc(24), BPF_EXIST), { code: 'ENOENT' });
    t.equal(m.delete(k), true);
    t.equal(m.delete(k), false, 'deleting what is gone is not an error');
    t.throws(() => m.lookup(Buffer.alloc(3)), /key must be 8 bytes/);
    t.throws(() => m.update(k, Buffer.alloc(3)), /value must be 24 bytes/);
  });

  t.test('a full map reports E2BIG with a hint', async (t) => {
    const obj = await loadTest(t, 'binding_test', { maxEntries: { bt_hash: 2 } });
    const m = obj.map('bt_hash');
    m.update(keyC.encode({ addr: 1, port: 0, proto: 0 }), Buffer.alloc(24));
    m.update(keyC.encode({ addr: 2, port: 0, proto: 0 }), Buffer.alloc(24));
    t.throws(() => m.update(keyC.encode({ addr: 3, port: 0, proto: 0 }), Buffer.alloc(24)), { code: 'E2BIG', message: /map is full/ });
  });

  t.test('iteration by next-key and by batch agree', async (t) => {
    const obj = await loadTest(t, 'binding_test');
    const m = obj.map('bt_hash');
    const entries = Array.from({ length: 300 }, (_, i) => [
      keyC.encode({ addr: 0x0a000000 + i, port: i, proto: 17 }),
      valC.encode({ hits: BigInt(i), flags: i, mac: '02:00:00:00:00:03' }),
    ] as const);
    m.updateMany(entries);
    const keys = m.keys();
    t.equal(keys.length, 300, 'keys() walks all entries');
    const all = m.entries();
    t.equal(all.length, 300, 'entries() returns all entries');
    const byAddr = new Map(all.map(([k, v]) => [keyC.decode(k).addr, valC.decode(v)]));
    for (let i = 0; i < 300; i += 37) t.equal(byAddr.get(0x0a000000 + i)?.flags, i, `entry ${i} intact`);
    t.equal(m.deleteMany(keys.slice(0, 100)), 100);
    t.equal(m.deleteMany(keys.slice(0, 100)), 0, 'second delete finds nothing');
    t.equal(m.keys().length, 200);
  });

  t.test('entries() of an LPM trie (generic batch path, key-sized cursor)', async (t) => {
    const obj = await loadTest(t, 'binding_test');
    const m = obj.map('bt_lpm');
    const key = (prefix: number, addr: number): Buffer => {
      const b = Buffer.alloc(12);
      b.writeUInt32LE(32 + prefix, 0);
      b.writeUInt32BE(1, 4);
      b.writeUInt32BE(addr, 8);
      return b;
    };
    for (let i = 0; i < 40; i++) m.update(key(24, 0x0a000000 + (i << 8)), u32(i));
    const all = m.entries();
    t.equal(all.length, 40, 'every prefix read back');
    t.same(all.map(([, v]) => v.readUInt32LE(0)).sort((a, b) => a - b), Array.from({ length: 40 }, (_, i) => i));
  });

  t.test('native batch update and delete', async (t) => {
    const obj = await loadTest(t, 'binding_test');
    const h = obj.map('bt_hash').handle;
    const keys = Buffer.concat([1, 2, 3].map((a) => keyC.encode({ addr: a, port: 0, proto: 0 })));
    const vals = Buffer.alloc(3 * 24);
    t.equal(h.updateBatch(keys, vals, 3), 3);
    t.equal(h.keys().length, 3);
    t.equal(h.deleteBatch(keys, 3), 3);
    t.equal(h.keys().length, 0);
    t.throws(() => h.deleteBatch(keys, 3), { code: 'ENOENT' }, 'the kernel reports a missing key in a batch delete');
  });

  t.test('per-CPU values split into one slot per possible CPU', async (t) => {
    const obj = await loadTest(t, 'binding_test');
    const m = obj.map('bt_counters');
    t.equal(m.info.perCpu, true);
    t.equal(m.info.valueBufferSize, 16 * native.numPossibleCpus);
    m.update(u32(3), m.perCpuValue(counterCodec.encode({ packets: 2n, bytes: 100n })));
    const slots = m.splitPerCpu(m.lookup(u32(3))!);
    t.equal(slots.length, native.numPossibleCpus);
    t.same(sumCounters(slots), { packets: 2n * BigInt(slots.length), bytes: 100n * BigInt(slots.length) });
  });

  t.test('pin, reopen from the pin, and unpin', async (t) => {
    const dir = tempPinDir(t);
    const obj = await loadTest(t, 'binding_test');
    const path = join(dir, 'arr');
    obj.map('bt_array').pin(path);
    obj.map('bt_array').update(u32(1), u64(42));
    const again = BpfMap.openPinned(path);
    t.teardown(() => again.close());
    t.equal(again.lookup(u32(1))!.readBigUInt64LE(), 42n, 'same map through the pin');
    t.equal(again.info.id, obj.map('bt_array').info.id);
    obj.close();
    t.equal(again.lookup(u32(1))!.readBigUInt64LE(), 42n, 'the pin keeps the map alive after its object closes');
    again.close();
    t.throws(() => again.lookup(u32(1)), { code: 'EBADF' });
  });

  t.test('opening a pin that does not exist gives ENOENT with a hint', async (t) => {
    t.throws(() => BpfMap.openPinned('/sys/fs/bpf/vnf-no-such-pin'), {
      code: 'ENOENT', call: 'bpf_obj_get', path: '/sys/fs/bpf/vnf-no-such-pin', message: /bpffs mounted/,
    });
  });

  t.test('maps pinned by name under a pin root are shared by later objects', async (t) => {
    const dir = tempPinDir(t);
    const a = await loadTest(t, 'binding_test', { pinRoot: dir });
    t.teardown(() => a.close());
    t.ok(existsSync(join(dir, 'bt_pinned')), 'pinned by name under the root');
    a.map('bt_pinned').update(u32(7), u32(77));
    a.close();
    const b = await loadTest(t, 'binding_test', { pinRoot: dir });
    t.teardown(() => b.close());
    t.equal(b.map('bt_pinned').lookup(u32(7))!.readUInt32LE(), 77, 'state survives the object that made it');
    t.equal(b.map('bt_hash').lookup(keyC.encode({ addr: 0, port: 0, proto: 0 })), null, 'unpinned maps are fresh');
  });
}
