/** Who a trace is from and to, and the MAC the source would send to: no kernel needed. */
import t from 'tap';
import { nextHopMac, resolveFrom, resolveTo, type Endpoints, type TracePort } from '../../../src/trace/endpoints.js';
import { parseTopology } from '../../../src/spec/index.js';
import type { Topology } from '../../../src/spec/model.js';
import { ip4 } from '../../helpers/packets.js';

const FILE = `
apiVersion: vnf/v1
name: tr
containers:
  web: { interfaces: { eth0: { network: front, ip: 10.1.0.10/24 } } }
  db: { interfaces: { eth0: { network: back, ip: 10.2.0.10/24 } } }
networks:
  front: { subnet: 10.1.0.0/24 }
  back: { subnet: 10.2.0.0/24 }
  lone: { subnet: 10.3.0.0/24 }
routers:
  r: { ports: { front: 10.1.0.1/24, back: 10.2.0.1/24 } }
`;

function topology(): Topology {
  const r = parseTopology(FILE, 'tr.yaml');
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  return r.topology;
}

const port = (p: Partial<TracePort> & Pick<TracePort, 'ifindex' | 'name' | 'network' | 'ip'>): TracePort =>
  ({ ifname: `vnf${p.ifindex}`, networkId: 1, prefix: 24, mac: '00:00:00:00:00:00', ...p });

const WEB = port({ ifindex: 11, name: 'web/eth0', network: 'front', ip: ip4('10.1.0.10'), mac: '02:00:00:00:00:0a' });
const DB = port({ ifindex: 12, name: 'db/eth0', network: 'back', ip: ip4('10.2.0.10'), mac: '02:00:00:00:00:0b' });
const LONE = port({ ifindex: 13, name: 'vethx', ifname: 'vethx', network: 'lone', ip: ip4('10.3.0.5') });
const WEB2 = port({ ifindex: 14, name: 'web2/eth0', network: 'front', ip: ip4('10.1.0.11') });

const e: Endpoints = {
  ports: [WEB, DB, LONE, WEB2],
  byIfindex: new Map([WEB, DB, LONE, WEB2].map((p) => [p.ifindex, p])),
  network: (i) => `#${i}`, router: (i) => `#${i}`, ifname: (i) => `#${i}`, label: (i) => `#${i}`,
};

t.test('--from: a file container interface or a host interface; else one message', async (t) => {
  t.equal(resolveFrom(e, 'web/eth0'), WEB);
  t.equal(resolveFrom(e, 'vnf12'), DB, 'by host interface');
  t.throws(() => resolveFrom(e, 'nope/eth0'), { name: 'InputError', message: /not a port of this topology \(ports: .*web\/eth0/ });
});

t.test('--to: an address or a port', async (t) => {
  t.same(resolveTo(e, 'db/eth0'), { ip: DB.ip, port: DB });
  t.same(resolveTo(e, '10.2.0.10'), { ip: DB.ip, port: DB }, 'an address a port holds');
  t.same(resolveTo(e, '192.0.2.1'), { ip: ip4('192.0.2.1'), port: undefined });
  t.throws(() => resolveTo(e, '10.2.0'), { name: 'InputError', message: /not an IPv4 address/ });
});

t.test('next hop: the gateway off-subnet, the destination on it, the router for its own address', async (t) => {
  const top = topology();
  const gw = top.routers[0]!.ports.find((p) => p.network === 'front')!;
  t.equal(nextHopMac(top, WEB, { ip: DB.ip, port: DB }).mac, gw.mac, 'off-subnet: the router port of the source network');
  t.equal(nextHopMac(top, WEB, { ip: ip4('10.1.0.1') }).mac, gw.mac, 'the gateway itself');
  t.throws(() => nextHopMac(top, WEB, { ip: WEB2.ip, port: WEB2 }), /does not resolve addresses by ARP/, 'on-subnet, MAC unknown');
  const known = { ...WEB2, mac: '02:00:00:00:00:0c' };
  t.equal(nextHopMac(top, WEB, { ip: known.ip, port: known }).mac, known.mac, 'on-subnet, MAC known');
  t.throws(() => nextHopMac(top, LONE, { ip: DB.ip, port: DB }), /network lone, which has no router/);
});
