/**
 * `vnf-ctl graph`: the DOT of the examples, read back with an independent DOT parser; escaping
 * of names that DOT or Graphviz's labels would otherwise read as syntax; deterministic text.
 */
import t from 'tap';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { LISTED, topologyDot, interfaceKey } from '../../../src/graph/dot.js';
import { loadTopology, parseTopology, formatIssue } from '../../../src/spec/index.js';
import type { Topology } from '../../../src/spec/model.js';
import { parseDot, type DotGraph } from '../../helpers/dot.js';
import { vnfctl } from '../../helpers/cli.js';

const examples = fileURLToPath(new URL('../../../examples/', import.meta.url));
const example = (f: string): Topology => loadTopology(join(examples, f));

function topology(text: string, file = 'inline.json'): Topology {
  const r = parseTopology(text, file);
  if (!r.ok) throw new Error(r.issues.map((i) => formatIssue(i)).join('\n'));
  return r.topology;
}

const edgeSet = (g: DotGraph): string[] => g.edges.map((e) => `${e.from} -- ${e.to}: ${e.attrs['label']}`).sort();
const labelOf = (g: DotGraph, node: string): string | undefined => g.nodes.get(node)?.['label'];

t.test('examples/demo.yaml: every network, router and container, and the right edges', async (t) => {
  const g = parseDot(topologyDot(example('demo.yaml'), { source: 'examples/demo.yaml' }));
  t.equal(g.name, 'demo');
  t.equal(g.directed, false, 'an undirected graph');
  t.equal(g.attrs['label'], 'topology demo\nexamples/demo.yaml');
  t.same([...g.nodes.keys()].sort(), ['container:db', 'container:ops', 'container:web', 'network:back', 'network:front', 'network:mgmt', 'router:r1']);
  for (const n of ['back', 'front', 'mgmt']) t.equal(g.nodes.get(`network:${n}`)?.['shape'], 'ellipse', `${n} is a network`);
  for (const c of ['db', 'ops', 'web']) t.equal(g.nodes.get(`container:${c}`)?.['shape'], 'box', `${c} is a container`);
  t.equal(labelOf(g, 'network:back'), 'back\n10.2.0.0/24', 'a network shows its subnet');
  t.equal(labelOf(g, 'router:r1'), 'r1\nroute 10.3.0.0/24 via 10.2.0.254', 'a router shows its static routes');
  t.same(edgeSet(g), [
    'container:db -- network:back: eth0 10.2.0.10',
    'container:ops -- network:back: eth1 10.2.0.254\nsends for 10.3.0.0/24',
    'container:ops -- network:mgmt: eth0 10.3.0.10',
    'container:web -- network:front: eth0 10.1.0.10',
    'router:r1 -- network:back: 10.2.0.1/24',
    'router:r1 -- network:front: 10.1.0.1/24',
  ]);
  for (const e of g.edges) t.ok(g.nodes.has(e.from) && g.nodes.has(e.to), `${e.from} -- ${e.to} joins declared nodes`);
});

t.test('examples/nat.yaml: the uplink as the world, the NAT outside marked, NAT summarised', async (t) => {
  const g = parseDot(topologyDot(example('nat.yaml')));
  t.equal(g.name, 'demo-nat');
  t.same([...g.nodes.keys()].sort(), ['container:db', 'container:web', 'network:back', 'network:front', 'network:wan', 'router:r1', 'uplink:wan']);
  t.equal(labelOf(g, 'uplink:wan'), 'world\ninternet 192.0.2.1 (lab)');
  t.equal(labelOf(g, 'router:r1'), [
    'r1', 'route 0.0.0.0/0 via 192.0.2.1', 'NAT outside wan (192.0.2.2)', 'masquerade 10.1.0.0/24', 'masquerade 10.2.0.0/24',
    'masquerade ports 20000-29999', 'floating 10.2.0.10 = 192.0.2.10', 'forward tcp 8080 → 10.1.0.10:80', 'forward udp 5353 → 10.2.0.10:53',
  ].join('\n'));
  t.same(edgeSet(g), [
    'container:db -- network:back: eth0 10.2.0.10',
    'container:web -- network:front: eth0 10.1.0.10',
    'router:r1 -- network:back: 10.2.0.1/24',
    'router:r1 -- network:front: 10.1.0.1/24',
    'router:r1 -- network:wan: 192.0.2.2/24\nNAT outside',
    'uplink:wan -- network:wan: uplink demo-up',
  ]);
  t.equal(g.edges.find((e) => e.to === 'network:wan' && e.from === 'router:r1')?.attrs['style'], 'bold', 'the outside port is bold');
  t.equal(g.edges.find((e) => e.from === 'router:r1' && e.to === 'network:front')?.attrs['style'], undefined, 'inside ports are not');
});

t.test('examples/firewall.yaml: the firewall on the container edge', async (t) => {
  const g = parseDot(topologyDot(example('firewall.yaml')));
  t.equal(g.edges.find((e) => e.from === 'container:web')?.attrs['label'], 'eth0 10.1.0.10 [fw web-in]');
  t.equal(g.edges.find((e) => e.from === 'container:db')?.attrs['label'], 'eth0 10.2.0.10', 'no firewall, no mark');
});

/** Interface names may hold anything but '/', ':' and whitespace; resource names may be DOT keywords. */
const HOSTILE_IFNAMES = ['e"\\N', 'q\\', 'a&lt;b&', 'x\u0001\u202e', 'é--[];{}', '\\"];x'];

const HOSTILE = JSON.stringify({
  apiVersion: 'vnf/v1',
  name: 'graph',
  containers: {
    node: { interfaces: Object.fromEntries(HOSTILE_IFNAMES.map((n, i) => [n, { network: 'edge', ip: `10.1.0.${10 + i}` }])) },
    subgraph: { interfaces: { eth0: { network: 'strict', ip: '10.2.0.10' } } },
  },
  networks: {
    edge: { subnet: '10.1.0.0/24' },
    strict: { subnet: '10.2.0.0/24', uplink: { interface: 'x-y_z' } },
  },
  routers: { digraph: { ports: { edge: '10.1.0.1/24', strict: '10.2.0.1/24' } } },
  firewalls: { 'fw-1': { attach: [`node/${HOSTILE_IFNAMES[0]}`], networks: ['edge'], ingress: { default: 'drop' } } },
});

t.test('hostile names: DOT keywords, quotes, backslashes, entities, controls and unicode come out as written', async (t) => {
  const dot = topologyDot(topology(HOSTILE));
  const g = parseDot(dot); // throws on a syntax error, and on a label escape Graphviz would expand
  t.equal(g.name, 'graph');
  t.same([...g.nodes.keys()].sort(), ['container:node', 'container:subgraph', 'network:edge', 'network:strict', 'router:digraph', 'uplink:strict']);
  const labels = g.edges.filter((e) => e.from === 'container:node').map((e) => e.attrs['label']!.split('\n')[0]);
  const shown = (n: string): string => n.replace('\u0001', '<U+0001>').replace('\u202e', '<U+202E>');
  t.same(labels.sort(), HOSTILE_IFNAMES.map((n, i) => `${shown(n)} 10.1.0.${10 + i}${i === 0 ? ' [fw fw-1]' : ''}`).sort(), 'every interface name round-trips');
  t.notMatch(dot, /[\u0001\u202e]/, 'no control or bidi character reaches the output');
  t.equal(labelOf(g, 'network:edge'), 'edge\n10.1.0.0/24\nattached: [fw fw-1]', "a network shows the firewall its attachments get by default");
  t.equal(g.edges.find((e) => e.from === 'uplink:strict')?.attrs['label'], 'uplink x-y_z');
});

t.test('deterministic: the same text for the same topology, whatever the order of the file or the model', async (t) => {
  const demo = example('demo.yaml');
  const dot = topologyDot(demo);
  t.equal(topologyDot(example('demo.yaml')), dot, 'twice the same');
  const shuffled: Topology = {
    ...demo,
    networks: [...demo.networks].reverse(),
    containers: [...demo.containers].reverse().map((c) => ({ ...c, interfaces: [...c.interfaces].reverse() })),
    routers: demo.routers.map((r) => ({ ...r, ports: [...r.ports].reverse() })),
  };
  t.equal(topologyDot(shuffled), dot, 'lists in another order');
  const reordered = JSON.stringify({
    routers: { r1: { routes: [{ to: '10.3.0.0/24', via: '10.2.0.254' }], ports: { front: '10.1.0.1/24', back: '10.2.0.1/24' } } },
    networks: { mgmt: { subnet: '10.3.0.0/24' }, front: { subnet: '10.1.0.0/24' }, back: { fdbAgingSeconds: 600, subnet: '10.2.0.0/24' } },
    containers: {
      ops: { interfaces: { eth1: { network: 'back', ip: '10.2.0.254/24', allowedSources: ['10.3.0.0/24'] }, eth0: { network: 'mgmt', ip: '10.3.0.10/24' } } },
      web: { interfaces: { eth0: { network: 'front', ip: '10.1.0.10/24' } } },
      db: { interfaces: { eth0: { network: 'back', ip: '10.2.0.10/24', mac: '02:00:00:00:02:0a' } } },
    },
    name: 'demo',
    apiVersion: 'vnf/v1',
  });
  t.equal(topologyDot(topology(reordered)), dot, 'the file with its sections and keys in another order');
  t.equal(topologyDot(topology(HOSTILE)), topologyDot(topology(HOSTILE)), 'hostile names too');
});

t.test('long lists of a router are summarised', async (t) => {
  const routes = Array.from({ length: LISTED + 2 }, (_, i) => ({ to: `10.${100 + i}.0.0/16`, via: '10.1.0.254' }));
  const g = parseDot(topologyDot(topology(JSON.stringify({
    apiVersion: 'vnf/v1', name: 'many',
    networks: { a: { subnet: '10.1.0.0/24' } },
    routers: { r: { ports: { a: '10.1.0.1/24' }, routes } },
  }))));
  const lines = labelOf(g, 'router:r')!.split('\n');
  t.equal(lines.length, 1 + LISTED + 1);
  t.equal(lines.at(-1), '… 2 more routes');
});

t.test('counters: per-port packets on the edges, drops per VNF in the title', async (t) => {
  const nat = example('nat.yaml');
  const g = parseDot(topologyDot(nat, {
    counters: {
      interfaces: new Map([[interfaceKey('web', 'eth0'), { rx: 12n, tx: 10n }]]),
      uplinks: new Map([['wan', { rx: 3n, tx: 4n }]]),
      drops: [{ vnf: 'router', packets: 2n }, { vnf: 'firewall', packets: 0n }, { vnf: 'nat', packets: 18446744073709551615n }],
    },
  }));
  t.equal(g.attrs['label'], 'topology demo-nat\ndrops: nat 18446744073709551615, router 2', 'sorted, without zeros, exact');
  t.equal(g.edges.find((e) => e.from === 'container:web')?.attrs['label'], 'eth0 10.1.0.10\nrx 12 / tx 10');
  t.equal(g.edges.find((e) => e.from === 'container:db')?.attrs['label'], 'eth0 10.2.0.10\nno port in the kernel');
  t.equal(g.edges.find((e) => e.from === 'uplink:wan')?.attrs['label'], 'uplink demo-up\nrx 3 / tx 4');
  const none = parseDot(topologyDot(nat, { counters: { interfaces: new Map(), uplinks: new Map(), drops: [] } }));
  t.equal(none.attrs['label'], 'topology demo-nat\nno drops');
});

t.test('run-time attachments: dashed boxes named by interface and alias, their firewall and counters', async (t) => {
  const demo = example('demo.yaml');
  const ip = (s: string): number => s.split('.').reduce((a, x) => ((a << 8) | Number(x)) >>> 0, 0);
  const attachments = [
    { ifname: 'vnf0123456789a', network: 'front', ip: ip('10.1.0.50'), options: { firewall: 'web-in' }, alias: 'vnf-cni:front:c0ffee:eth0' },
    { ifname: 'h"1', network: 'back', ip: ip('10.2.0.51') },
  ];
  const g = parseDot(topologyDot(demo, { attachments, counters: { interfaces: new Map(), uplinks: new Map(), drops: [], attached: new Map([['vnf0123456789a', { rx: 5n, tx: 6n }]]) } }));
  t.equal(labelOf(g, 'attached:vnf0123456789a'), 'vnf0123456789a\nvnf-cni:front:c0ffee:eth0', 'named by interface and alias');
  t.equal(labelOf(g, 'attached:h"1'), 'h"1', 'a hostile interface name comes out as written');
  t.equal(g.edges.find((e) => e.from === 'attached:vnf0123456789a')?.to, 'network:front');
  t.equal(g.edges.find((e) => e.from === 'attached:vnf0123456789a')?.attrs['label'], '10.1.0.50 [fw web-in]\nrx 5 / tx 6');
  t.equal(g.edges.find((e) => e.from === 'attached:h"1')?.attrs['label'], '10.2.0.51\nno port in the kernel');
  const without = parseDot(topologyDot(demo));
  t.notOk([...without.nodes.keys()].some((k) => k.startsWith('attached:')), 'none without attachments');
});

t.test('vnf-ctl graph -f: the file as DOT on stdout, its problems as validate prints them', async (t) => {
  const file = join(examples, 'demo.yaml');
  const r = vnfctl(['graph', '-f', file]);
  t.equal(r.status, 0, r.stderr);
  t.equal(r.stdout, topologyDot(loadTopology(file), { source: file }));
  const dir = mkdtempSync(join(tmpdir(), 'vnf-graph-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const invalid = join(dir, 'bad.yaml');
  writeFileSync(invalid, 'apiVersion: vnf/v1\nname: bad\nnetworks:\n  a: { subnet: 10.1.0.0/24 }\ncontainers:\n  c: { interfaces: { eth0: { network: nowhere, ip: 10.1.0.10 } } }\n');
  for (const bad of [invalid, join(dir, 'missing.yaml')]) {
    const g = vnfctl(['graph', '-f', bad]);
    const v = vnfctl(['validate', '-f', bad]);
    t.equal(g.status, 2, 'invalid input');
    t.equal(g.stdout, '', 'nothing on stdout');
    t.equal(g.stderr, v.stderr, 'the same message as validate');
  }
  t.match(vnfctl(['graph', '-f', invalid]).stderr, /bad\.yaml:6:.*nowhere/, 'with file:line');
  t.equal(vnfctl(['graph']).status, 2, 'neither NAME nor -f');
  t.equal(vnfctl(['graph', 'demo', '-f', file]).status, 2, 'both NAME and -f');
  const c = vnfctl(['graph', '-f', file, '--counters']);
  t.equal(c.status, 2);
  t.match(c.stderr, /--counters needs an applied topology/);
});
