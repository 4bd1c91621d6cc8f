/**
 * Conntrack zones of NAT (VNF_NAT_ZONE(router id) = VNF_CT_ZONE_NAT | router id): the sweep keeps
 * them while their router exists, whatever the ports, and port zones keep following their port.
 */
import t from 'tap';
import { ctEntryCodec, ctKeyCodec } from '../../../src/vnf/conntrack/codec.js';
import { conntrackModule, keepZone } from '../../../src/vnf/conntrack/module.js';
import { natZone, VNF_CT_ZONE_NAT } from '../../../src/vnf/nat/codec.js';
import type { Live } from '../../../src/vnf/types.js';

const live = (ports: number[], routers: number[]): Live =>
  ({ ports: new Map(ports.map((p) => [p, 1])), networks: new Set([1]), routers: new Set(routers), config: {}, groups: [] });
const ctKey = (zone: number): Buffer => ctKeyCodec.encode({ zone, saddr: 0x0a01000a, daddr: 0xc0000201, sport: 40000, dport: 80, proto: 6 });
const zoneKey = (zone: number): Buffer => { const b = Buffer.alloc(4); b.writeUInt32LE(zone >>> 0); return b; };
const value = Buffer.alloc(ctEntryCodec.size);

t.test('natZone is VNF_CT_ZONE_NAT | router id, never an ifindex', async (t) => {
  t.equal(VNF_CT_ZONE_NAT, 0x80000000);
  t.equal(natZone(3), 0x80000003);
});

t.test('a NAT zone is kept while its router is live', async (t) => {
  const l = live([7], [3]);
  t.ok(keepZone(ctKey(natZone(3)), value, l), 'router 3 is live: its NAT connections stay');
  t.notOk(keepZone(ctKey(natZone(4)), value, l), 'router 4 is gone: its NAT connections go');
  t.notOk(keepZone(ctKey(natZone(7)), value, l), 'a NAT zone is not a port zone, even when the number matches a live port');
  t.notOk(keepZone(ctKey(3), value, l), 'a port zone is not a NAT zone, even when the number matches a live router');
  t.ok(keepZone(ctKey(7), value, l), 'port zones follow their port');
  t.ok(keepZone(zoneKey(natZone(3)), Buffer.alloc(24), l), 'the per-zone counters (vnf_ct_zone) too');
  t.notOk(keepZone(zoneKey(natZone(4)), Buffer.alloc(24), l));
});

t.test('the sweep runs when routers go', async (t) => {
  for (const name of ['vnf_ct', 'vnf_ct_zone']) {
    const m = conntrackModule.maps.find((x) => x.name === name)!;
    t.ok(m.dependsOn?.includes('routers'), `${name} depends on routers`);
    t.equal(m.keep, keepZone);
  }
});
