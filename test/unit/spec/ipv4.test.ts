import t from 'tap';
import {
  broadcastOf,
  contains,
  containsCidr,
  formatAddr,
  formatCidr,
  isNetworkAddress,
  mask,
  networkOf,
  overlaps,
  parseAddr,
  parseCidr,
  type Cidr,
} from '../../../src/spec/ipv4.js';

const cidr = (text: string): Cidr => {
  const r = parseCidr(text);
  if (!r.ok) throw new Error(r.error);
  return r.value;
};
const addr = (text: string): number => {
  const r = parseAddr(text);
  if (!r.ok) throw new Error(r.error);
  return r.value;
};

t.test('parseAddr accepts dotted quads as unsigned 32-bit numbers', async (t) => {
  t.equal(addr('0.0.0.0'), 0);
  t.equal(addr('255.255.255.255'), 0xffffffff);
  t.equal(addr('10.1.0.1'), 0x0a010001);
  t.equal(addr('192.168.0.1'), 0xc0a80001, 'above 2^31 stays positive');
});

t.test('parseAddr rejects malformed addresses with a reason', async (t) => {
  const cases: [string, RegExp][] = [
    ['10.1.0', /4 dot-separated numbers/],
    ['1.2.3.4.5', /4 dot-separated numbers/],
    ['', /4 dot-separated numbers/],
    ['10.1.0.256', /256 is out of range 0-255/],
    ['010.1.0.1', /leading zeros/],
    ['1.2.3.-1', /not a decimal number/],
    [' 1.2.3.4', /not a decimal number/],
    ['1.2.3.4 ', /not a decimal number/],
    ['1.2..4', /not a decimal number/],
    ['a.b.c.d', /not a decimal number/],
  ];
  for (const [text, reason] of cases) {
    const r = parseAddr(text);
    t.notOk(r.ok, JSON.stringify(text));
    if (!r.ok) t.match(r.error, reason, JSON.stringify(text));
  }
});

t.test('parseCidr', async (t) => {
  t.same(cidr('10.0.0.0/8'), { addr: 0x0a000000, prefix: 8 });
  t.same(cidr('0.0.0.0/0'), { addr: 0, prefix: 0 });
  t.same(cidr('10.1.2.3/32'), { addr: 0x0a010203, prefix: 32 });
  t.same(cidr('10.1.0.5/24'), { addr: 0x0a010005, prefix: 24 }, 'host bits are kept');
  for (const bad of ['10.0.0.0/33', '10.0.0.0/', '10.0.0.0/08', '10.0.0.0/-1', '10.0.0.0/8/8', '10.0.0/8']) {
    t.notOk(parseCidr(bad).ok, bad);
  }
  const bare = parseCidr('10.0.0.1');
  t.notOk(bare.ok, 'a prefix length is required by default');
  if (!bare.ok) t.match(bare.error, /missing a prefix length/);
  t.same(parseCidr('10.0.0.1', { defaultPrefix: 32 }), { ok: true, value: { addr: 0x0a000001, prefix: 32 } });
});

t.test('format round-trips', async (t) => {
  for (const text of ['0.0.0.0', '255.255.255.255', '10.1.0.1', '192.168.100.200']) {
    t.equal(formatAddr(addr(text)), text);
  }
  t.equal(formatCidr(cidr('10.1.0.0/24')), '10.1.0.0/24');
});

t.test('mask, network and broadcast at the edges', async (t) => {
  t.equal(mask(0), 0, '/0 is not 32-bit shift wrap-around');
  t.equal(mask(1), 0x80000000);
  t.equal(mask(24), 0xffffff00);
  t.equal(mask(32), 0xffffffff);

  t.equal(formatAddr(networkOf(cidr('10.1.0.5/24'))), '10.1.0.0');
  t.equal(formatAddr(broadcastOf(cidr('10.1.0.5/24'))), '10.1.0.255');
  t.equal(networkOf(cidr('10.1.2.3/0')), 0);
  t.equal(broadcastOf(cidr('10.1.2.3/0')), 0xffffffff);
  t.equal(formatAddr(networkOf(cidr('10.1.2.3/32'))), '10.1.2.3');
  t.equal(formatAddr(broadcastOf(cidr('10.1.2.3/32'))), '10.1.2.3');
  t.equal(formatAddr(broadcastOf(cidr('10.1.2.2/31'))), '10.1.2.3');
  t.equal(formatAddr(broadcastOf(cidr('192.168.0.0/16'))), '192.168.255.255');

  t.ok(isNetworkAddress(cidr('10.1.0.0/24')));
  t.notOk(isNetworkAddress(cidr('10.1.0.5/24')));
  t.ok(isNetworkAddress(cidr('10.1.0.5/32')), 'every /32 is a network address');
  t.ok(isNetworkAddress(cidr('0.0.0.0/0')));
  t.notOk(isNetworkAddress(cidr('10.0.0.0/0')));
});

t.test('contains', async (t) => {
  t.ok(contains(cidr('0.0.0.0/0'), addr('255.255.255.255')), '/0 contains everything');
  t.ok(contains(cidr('0.0.0.0/0'), 0));
  t.ok(contains(cidr('10.1.0.0/24'), addr('10.1.0.255')));
  t.notOk(contains(cidr('10.1.0.0/24'), addr('10.1.1.0')));
  t.ok(contains(cidr('10.1.0.7/32'), addr('10.1.0.7')), '/32 contains itself');
  t.notOk(contains(cidr('10.1.0.7/32'), addr('10.1.0.8')));
  t.ok(contains(cidr('128.0.0.0/1'), addr('200.0.0.1')), 'high half, unsigned');
  t.notOk(contains(cidr('128.0.0.0/1'), addr('100.0.0.1')));
  t.ok(containsCidr(cidr('10.0.0.0/8'), cidr('10.1.0.0/24')));
  t.notOk(containsCidr(cidr('10.1.0.0/24'), cidr('10.0.0.0/8')));
});

t.test('overlaps', async (t) => {
  t.ok(overlaps(cidr('10.0.0.0/8'), cidr('10.1.0.0/24')), 'supernet');
  t.ok(overlaps(cidr('10.1.0.0/24'), cidr('10.0.0.0/8')), 'subnet, symmetric');
  t.ok(overlaps(cidr('10.1.0.0/24'), cidr('10.1.0.0/24')), 'equal');
  t.notOk(overlaps(cidr('10.1.0.0/24'), cidr('10.2.0.0/24')), 'disjoint');
  t.notOk(overlaps(cidr('10.1.0.0/25'), cidr('10.1.0.128/25')), 'adjacent halves');
  t.ok(overlaps(cidr('0.0.0.0/0'), cidr('192.168.1.1/32')), '/0 overlaps everything');
  t.ok(overlaps(cidr('192.168.1.1/32'), cidr('192.168.1.1/32')), 'same /32');
  t.notOk(overlaps(cidr('192.168.1.1/32'), cidr('192.168.1.2/32')), 'different /32');
});
