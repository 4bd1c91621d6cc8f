import t from 'tap';
import { defineStruct, formatMac, parseMac } from '../../src/codec/struct.js';

t.test('offsets follow C natural alignment', async (t) => {
  const c = defineStruct<{ a: number; b: number; c: bigint }>('s', [
    ['a', 'u16'],
    ['_pad0', { pad: 2 }],
    ['b', 'u32'],
    ['c', 'u64'],
  ]);
  t.equal(c.size, 16);
  t.same(c.fields.map((f) => f.offset), [0, 2, 4, 8]);
});

t.test('implicit padding is refused, explicit padding is required', async (t) => {
  t.throws(() => defineStruct('bad', [['a', 'u8'], ['b', 'u32']]), /needs implicit padding/);
  t.throws(() => defineStruct('tail', [['a', 'u64'], ['b', 'u8']]), /implicit tail padding/);
});

t.test('encode/decode round trip with network-order and MAC fields', async (t) => {
  type S = { ip: number; port: number; mac: string; n: bigint; arr: number[] };
  const c = defineStruct<S>('rt', [
    ['n', 'u64'],
    ['ip', 'ipv4'],
    ['port', 'be16'],
    ['mac', 'mac'],
    ['arr', { array: 'u32', length: 2 }],
    ['_pad', { pad: 4 }],
  ]);
  const v: S = { ip: 0x0a010203, port: 443, mac: '02:00:00:aa:bb:cc', n: 1n << 40n, arr: [1, 0xffffffff] };
  const b = c.encode(v);
  t.equal(b.length, c.size);
  t.equal(c.size, 32);
  t.same([...b.subarray(8, 12)], [10, 1, 2, 3], 'ipv4 stored in network order');
  t.equal(b.readUInt16BE(12), 443, 'be16 stored big-endian');
  t.same(c.decode(b), v);
});

t.test('decode refuses short buffers', async (t) => {
  const c = defineStruct<{ a: number }>('short', [['a', 'u32']]);
  t.throws(() => c.decode(Buffer.alloc(2)));
});

t.test('MAC parse/format', async (t) => {
  t.equal(formatMac(parseMac('AA:bb:0c:00:01:ff')), 'aa:bb:0c:00:01:ff');
  t.throws(() => parseMac('aa:bb:cc'), /not a MAC/);
  t.throws(() => parseMac('zz:bb:cc:dd:ee:ff'), /not a MAC/);
});
