/**
 * Every struct codec must match the compiler's layout. This is the pattern
 * each VNF's codecs follow: codec vs BTF of the object that uses the struct.
 * Reading BTF from a file needs no privileges.
 */
import t from 'tap';
import { defineStruct } from '../../src/codec/struct.js';
import { counterCodec } from '../../src/vnf/common/codec.js';
import { skbCodec } from '../../src/bpf/skb.js';
import { native } from '../../src/native/binding.js';
import { assertLayoutMatchesBtf } from '../helpers/btf.js';
import { testObject } from '../helpers/paths.js';

const obj = testObject('binding_test');

t.test('vnf_counter codec matches BTF', async (t) => {
  assertLayoutMatchesBtf(t, counterCodec, obj, 'vnf_counter');
});

t.test('test-object structs match BTF', async (t) => {
  const key = defineStruct('bt_key', [['addr', 'ipv4'], ['port', 'u16'], ['proto', 'u8'], ['_pad', { pad: 1 }]]);
  const value = defineStruct('bt_value', [['hits', 'u64'], ['flags', 'u32'], ['mac', 'mac'], ['_pad', { pad: 6 }]]);
  assertLayoutMatchesBtf(t, key, obj);
  assertLayoutMatchesBtf(t, value, obj);
});

t.test('a drifted codec is caught', async (t) => {
  const drifted = defineStruct('bt_key', [['addr', 'ipv4'], ['proto', 'u8'], ['_pad', { pad: 1 }], ['port', 'u16']]);
  const btf = native.btfStructLayout(obj, 'bt_key');
  const offsets = Object.fromEntries(btf.members.map((m) => [m.name, m.offset]));
  const mismatch = drifted.fields.filter((f) => f.name in offsets && offsets[f.name] !== f.offset);
  t.ok(mismatch.length > 0, 'field offsets differ from BTF, so assertLayoutMatchesBtf would fail');
});

t.test('__sk_buff test-run context matches the running kernel', async (t) => {
  const btf = native.btfStructLayout('/sys/kernel/btf/vmlinux', '__sk_buff');
  t.equal(skbCodec.size, btf.size, 'size');
  // flow_keys and sk are anonymous unions in UAPI (__bpf_md_ptr); compare by offset.
  const named = new Map(btf.members.filter((m) => m.name !== '').map((m) => [m.name, m.offset]));
  for (const f of skbCodec.fields) {
    if (named.has(f.name)) t.equal(f.offset, named.get(f.name), `__sk_buff.${f.name} offset`);
  }
  t.ok(named.size >= 30, 'most members compared');
});

t.test('unknown struct and missing file give ENOENT errors', async (t) => {
  t.throws(() => native.btfStructLayout(obj, 'no_such_struct'), { code: 'ENOENT', name: 'BpfError' });
  t.throws(() => native.btfStructLayout('/nonexistent.o', 'x'), { code: 'ENOENT' });
});
