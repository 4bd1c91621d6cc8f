/** The probe packets of vnf-ctl trace, read back by an independent decoder (test/helpers/packets.ts checksums). */
import t from 'tap';
import { buildProbe, viewFrame } from '../../../src/trace/packet.js';
import { inetChecksum, ip4 } from '../../helpers/packets.js';

const base = { srcMac: '02:00:00:00:00:0a', dstMac: '02:00:00:00:00:fe', src: ip4('10.1.0.10'), dst: ip4('10.2.0.10'), sport: 40000, dport: 5432 };

/** The pseudo-header sum of an IPv4 packet's L4 checksum. */
function pseudo(f: Buffer, l4len: number): number {
  const p = Buffer.alloc(12);
  f.copy(p, 0, 26, 34);
  p[9] = f[23]!;
  p.writeUInt16BE(l4len, 10);
  let s = 0;
  for (let i = 0; i < 12; i += 2) s += p.readUInt16BE(i);
  return s;
}

for (const proto of ['tcp', 'udp', 'icmp'] as const) {
  t.test(`${proto}: valid headers and checksums`, async (t) => {
    const f = buildProbe({ ...base, proto });
    t.equal(f.readUInt16BE(12), 0x0800, 'IPv4');
    t.equal(inetChecksum(f.subarray(14, 34)), 0, 'IPv4 header checksum');
    t.equal(f.readUInt16BE(16), f.length - 14, 'total length');
    const l4 = f.subarray(34);
    if (proto === 'icmp') t.equal(inetChecksum(l4), 0, 'ICMP checksum');
    else t.equal(inetChecksum(l4, pseudo(f, l4.length)), 0, `${proto} checksum with the pseudo-header`);
    const v = viewFrame(f)!;
    t.same({ src: v.src, dst: v.dst, srcMac: v.srcMac, dstMac: v.dstMac, ttl: v.ttl }, { src: base.src, dst: base.dst, srcMac: base.srcMac, dstMac: base.dstMac, ttl: 64 });
    if (proto === 'icmp') {
      t.equal(l4[0], 8, 'echo request');
      t.equal(v.sport, 40000, 'the identifier');
    } else {
      t.same([v.sport, v.dport], [40000, 5432]);
    }
    if (proto === 'tcp') t.equal(l4[13], 0x02, 'a SYN');
  });
}

t.test('viewFrame: not IPv4, too short', async (t) => {
  t.equal(viewFrame(Buffer.alloc(10)), undefined);
  const arp = Buffer.alloc(42);
  arp.writeUInt16BE(0x0806, 12);
  t.equal(viewFrame(arp), undefined);
});
