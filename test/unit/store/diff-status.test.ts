import t from 'tap';
import { parseTopology } from '../../../src/spec/index.js';
import type { Topology } from '../../../src/spec/model.js';
import { diffTopologies } from '../../../src/store/diff.js';
import { lagOf, storeStatus } from '../../../src/store/status.js';
import type { Snapshot } from '../../../src/store/snapshot.js';

const TEXT = `apiVersion: vnf/v1
name: dt
containers:
  a: { host: h1, interfaces: { eth0: { network: front, ip: 10.1.0.10/24 } } }
  b: { host: h2, interfaces: { eth0: { network: back, ip: 10.2.0.10/24 } } }
networks:
  front: { subnet: 10.1.0.0/24 }
  back: { subnet: 10.2.0.0/24 }
routers:
  r1: { ports: { front: 10.1.0.1/24, back: 10.2.0.1/24 } }
`;
function topo(text: string): Topology {
  const r = parseTopology(text, 't.yaml');
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  return r.topology;
}

t.test('equal topologies: no changes', async (t) => {
  t.same(diffTopologies(topo(TEXT), topo(TEXT)), []);
});

t.test('nothing stored: everything is added', async (t) => {
  const d = diffTopologies(undefined, topo(TEXT));
  t.same(d.map((x) => `${x.change} ${x.kind} ${x.name}`), ['added network back', 'added network front', 'added container a', 'added container b', 'added router r1']);
});

t.test('per container, network and router: added, removed, changed', async (t) => {
  const after = TEXT.replace('10.2.0.10/24', '10.2.0.11/24').replace('  a: { host: h1', '  c: { host: h1')
    .replace('  back: { subnet: 10.2.0.0/24 }', '  back: { subnet: 10.2.0.0/24, vni: 42 }');
  const d = diffTopologies(topo(TEXT), topo(after));
  t.same(d.map((x) => `${x.change} ${x.kind} ${x.name}`).sort(), ['added container c', 'changed container b', 'changed network back', 'removed container a'].sort());
  const moved = diffTopologies(topo(TEXT), topo(TEXT.replace('host: h2', 'host: h3')));
  t.same(moved, [{ kind: 'container', name: 'b', change: 'changed' }], 'a container that moves host changed');
});

t.test('module sections are diffed per item', async (t) => {
  const fw = `${TEXT}firewalls:\n  web: { attach: [a/eth0], ingress: { default: drop, rules: [] } }\n`;
  const r = parseTopology(fw, 't.yaml');
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  const d = diffTopologies(topo(TEXT), r.topology);
  t.ok(d.some((x) => x.kind === 'firewall' && x.name === 'web' && x.change === 'added'), JSON.stringify(d));
});

t.test('status: hosts named or registered, liveness, applied revision, endpoints', async (t) => {
  const tp = topo(TEXT);
  const snap: Snapshot = {
    revision: 12,
    topology: { source: TEXT, file: 't.yaml', revision: 10 },
    hosts: new Map([['h1', { underlay: '192.0.2.1', version: '0.1.0', startedAt: '2026-11-30T08:00:00.000Z' }], ['h9', { underlay: '192.0.2.9', version: '0.1.0', startedAt: '2026-11-30T08:00:00.000Z' }]]),
    applied: new Map([['h1', { revision: 8, generation: 'ab', at: '2026-11-30T08:00:01.000Z', error: null }]]),
    shadowed: new Map(),
    problems: [],
  };
  const s = storeStatus(snap, tp);
  t.same(s.topology, { name: 'dt', revision: 10 });
  t.same(s.hosts, [
    { name: 'h1', underlay: '192.0.2.1', alive: true, appliedRevision: 8, appliedAt: '2026-11-30T08:00:01.000Z', error: null },
    { name: 'h2', underlay: null, alive: false, appliedRevision: null, appliedAt: null, error: null },
    { name: 'h9', underlay: '192.0.2.9', alive: true, appliedRevision: null, appliedAt: null, error: null },
  ]);
  t.same(s.endpoints.map((e) => [e.container, e.iface, e.network, e.ip, e.host, e.hostAlive]), [['a', 'eth0', 'front', '10.1.0.10', 'h1', true], ['b', 'eth0', 'back', '10.2.0.10', 'h2', false]]);
  t.match(s.endpoints[0]!.mac, /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);
  t.equal(lagOf(s.hosts[0]!, 10), '2 revisions behind');
  t.equal(lagOf({ ...s.hosts[0]!, appliedRevision: 10 }, 10), 'in sync');
  t.equal(lagOf(s.hosts[1]!, 10), '-');
  t.same(storeStatus({ ...snap, topology: undefined }, undefined).topology, null);
});
