import t from 'tap';
import { parseTopology } from '../../../src/spec/index.js';
import type { Topology } from '../../../src/spec/model.js';
import { parseAddr } from '../../../src/spec/ipv4.js';
import { sliceFor, hostsOf, VXLAN_OVERHEAD } from '../../../src/hosts/slice.js';

const TEXT = `apiVersion: vnf/v1
name: three
containers:
  a: { host: h1, interfaces: { eth0: { network: front, ip: 10.1.0.10/24 } } }
  b: { host: h2, interfaces: { eth0: { network: front, ip: 10.1.0.11/24 } } }
  c: { host: h2, interfaces: { eth0: { network: back, ip: 10.2.0.10/24, allowedSources: [10.3.0.0/24] } } }
  d: { host: h3, interfaces: { eth0: { network: back, ip: 10.2.0.11/24 } } }
networks:
  front: { subnet: 10.1.0.0/24, vni: 100 }
  back: { subnet: 10.2.0.0/24 }
  idle: { subnet: 10.4.0.0/24 }
routers:
  r1: { ports: { front: 10.1.0.1/24, back: 10.2.0.1/24 } }
`;

function topo(text = TEXT): Topology {
  const r = parseTopology(text, 'three.yaml');
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  return r.topology;
}
const ip = (s: string): number => {
  const p = parseAddr(s);
  if (!p.ok) throw new Error(p.error);
  return p.value;
};
const live = (...names: string[]): Map<string, number> => new Map(names.map((n, i) => [n, ip(`192.0.2.${i + 1}`)]));
const base = { device: 'vnfvx0', local: ip('192.0.2.1'), underlayMtu: 1500 };

t.test('a host keeps its own containers, every network and router, and sees the live hosts\' endpoints', async (t) => {
  const tp = topo();
  const s = sliceFor({ ...base, topology: tp, host: 'h1', hosts: live('h1', 'h2', 'h3') });
  t.same(s.containers.map((c) => c.name), ['a']);
  t.same(s.networks.map((n) => n.name), ['back', 'front', 'idle']);
  t.same(s.routers.map((r) => r.name), ['r1']);
  const o = s.ext.overlay!;
  t.equal(o.host, 'h1');
  t.equal(o.device, 'vnfvx0');
  t.equal(o.mtu, 1500 - VXLAN_OVERHEAD);
  t.equal(o.local, ip('192.0.2.1'));
  t.same(o.hosts, [{ name: 'h2', vtep: ip('192.0.2.2') }, { name: 'h3', vtep: ip('192.0.2.3') }], 'the other live hosts, sorted, not itself');
  t.same(o.remotes.map((r) => `${r.host}/${r.container}/${r.iface}`), ['h2/b/eth0', 'h2/c/eth0', 'h3/d/eth0'], 'sorted by host, container, iface');
  const c = o.remotes.find((r) => r.container === 'c')!;
  t.equal(c.network, 'back');
  t.equal(c.ip, ip('10.2.0.10'));
  t.equal(c.prefix, 24);
  t.equal(c.forwards, true, 'allowedSources: it forwards');
  t.equal(o.remotes.find((r) => r.container === 'b')!.forwards, false);
  t.equal(c.mac, tp.containers.find((x) => x.name === 'c')!.interfaces[0]!.mac);
  t.match(c.mac, /^[0-9a-f:]+$/, 'lowercase');
  t.equal(s.name, tp.name);
  t.equal(tp.ext.overlay, undefined, 'the input is not modified');
});

t.test('VNIs: the file\'s, or derived from the name; every network has one', async (t) => {
  const o = sliceFor({ ...base, topology: topo(), host: 'h1', hosts: live('h1') }).ext.overlay!;
  t.same(Object.keys(o.vnis), ['back', 'front', 'idle']);
  t.equal(o.vnis.front, 100);
  t.ok(o.vnis.back! > 0 && o.vnis.back !== o.vnis.idle, 'derived, distinct');
  const again = sliceFor({ ...base, topology: topo(), host: 'h2', hosts: live('h2') }).ext.overlay!;
  t.same(again.vnis, o.vnis, 'every host computes the same VNIs');
});

t.test('endpoints only from live hosts: a dead host\'s containers and VTEP are left out', async (t) => {
  const o = sliceFor({ ...base, topology: topo(), host: 'h1', hosts: live('h1', 'h3') }).ext.overlay!;
  t.same(o.hosts.map((h) => h.name), ['h3']);
  t.same(o.remotes.map((r) => r.container), ['d'], 'b and c (on h2, dead) are gone');
  const alone = sliceFor({ ...base, topology: topo(), host: 'h1', hosts: new Map() }).ext.overlay!;
  t.same(alone.hosts, [], 'itself not registered yet: no other host');
  t.same(alone.remotes, []);
});

t.test('a host with no local container gets the networks and routers and the remotes', async (t) => {
  const s = sliceFor({ ...base, topology: topo(), host: 'h9', hosts: live('h9', 'h1', 'h2', 'h3') });
  t.same(s.containers, []);
  t.equal(s.networks.length, 3);
  t.equal(s.ext.overlay!.remotes.length, 4);
});

t.test('local containers whose interfaces do not exist yet are left out', async (t) => {
  const s = sliceFor({ ...base, topology: topo(), host: 'h2', hosts: live('h2'), ready: (c) => c !== 'c' });
  t.same(s.containers.map((c) => c.name), ['b']);
});

t.test('pure and deterministic: the same input gives the same slice, whatever the map order', async (t) => {
  const a = sliceFor({ ...base, topology: topo(), host: 'h1', hosts: live('h1', 'h2', 'h3') });
  const hosts = new Map([...live('h1', 'h2', 'h3')].reverse());
  const b = sliceFor({ ...base, topology: topo(), host: 'h1', hosts });
  t.equal(JSON.stringify(a), JSON.stringify(b));
  t.same(hostsOf(topo()), ['h1', 'h2', 'h3']);
});
