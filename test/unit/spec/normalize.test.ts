import t from 'tap';
import { formatAddr, formatCidr, formatIssue, parseTopology, type Topology } from '../../../src/spec/index.js';
import { BASE, edit } from './fixture.js';

function topologyOf(text: string): Topology {
  const result = parseTopology(text);
  if (!result.ok) throw new Error(result.issues.map(formatIssue).join('\n'));
  return result.topology;
}

const FULL = edit(
  edit(BASE, 'name: t\n', 'name: t\nsettings: { fdbAgingSeconds: 120 }\n'),
  '  back: { subnet: 10.2.0.0/24 }\n',
  '  back: { subnet: 10.2.0.0/24, fdbAgingSeconds: 30 }\n  aaa: { subnet: 192.168.0.0/16 }\n',
);

t.test('networks: sorted by name, numeric subnets, aging defaults; no ids (those are the control plane\'s)', async (t) => {
  const topo = topologyOf(FULL);
  t.same(
    topo.networks.map((n) => [n.name, formatCidr(n.subnet), n.fdbAgingSeconds]),
    [
      ['aaa', '192.168.0.0/16', 120],
      ['back', '10.2.0.0/24', 30],
      ['front', '10.1.0.0/24', 120],
    ],
  );
  t.notOk(topo.networks.some((n) => 'id' in n), 'ids are not derived from the file');
  t.equal(topo.networks[0]?.subnet.addr, 0xc0a80000);
  t.equal(topo.settings.fdbAgingSeconds, 120);
  t.equal(topologyOf(BASE).settings.fdbAgingSeconds, 300, 'default 300');
  t.equal(topologyOf(BASE).networks[0]?.fdbAgingSeconds, 300);
  const front = topo.networks.find((n) => n.name === 'front');
  t.equal(front?.router, 'r1');
  t.equal(formatAddr(front?.gateway ?? 0), '10.1.0.1');
  t.equal(topo.networks.find((n) => n.name === 'aaa')?.gateway, undefined, 'no router, no gateway');
});

t.test('interfaces: address, prefix, network, gateway', async (t) => {
  const topo = topologyOf(edit(FULL, 'ip: 10.1.0.10/24', 'ip: 10.1.0.10'));
  t.same(topo.containers.map((c) => c.name), ['db', 'web'], 'sorted by name');
  const web = topo.containers.find((c) => c.name === 'web')?.interfaces[0];
  t.match(web, { container: 'web', name: 'eth0', network: 'front', prefix: 24 });
  t.equal(formatAddr(web?.ip ?? 0), '10.1.0.10', 'a bare address takes the network prefix');
  t.equal(formatAddr(web?.gateway ?? 0), '10.1.0.1');
  const db = topo.containers.find((c) => c.name === 'db')?.interfaces[0];
  t.equal(db?.mac, '02:00:00:00:02:0a');
});

t.test('routers: ports, connected and static routes', async (t) => {
  const topo = topologyOf(edit(BASE, '      - { to: 10.9.0.0/16, via: 10.2.0.254 }\n', '      - { to: 10.9.0.0/16, via: 10.2.0.254 }\n      - { to: 0.0.0.0/0, via: 10.1.0.254 }\n'));
  const r1 = topo.routers[0];
  t.same(
    r1?.ports.map((p) => [p.network, formatAddr(p.ip), p.prefix]),
    [
      ['back', '10.2.0.1', 24],
      ['front', '10.1.0.1', 24],
    ],
  );
  t.same(
    r1?.routes.map((r) => [r.kind, formatCidr(r.to), r.via === undefined ? undefined : formatAddr(r.via), r.network]),
    [
      ['connected', '10.2.0.0/24', undefined, 'back'],
      ['connected', '10.1.0.0/24', undefined, 'front'],
      ['static', '10.9.0.0/16', '10.2.0.254', 'back'],
      ['static', '0.0.0.0/0', '10.1.0.254', 'front'],
    ],
  );
  t.notOk(r1 && 'via' in (r1.routes[0] ?? {}), 'connected routes have no via key');
});

t.test('firewall rules: defaults and normalized ranges', async (t) => {
  const src = edit(
    BASE,
    "        - { action: allow, proto: icmp, icmp-type: echo-request }\n",
    `        - { action: allow, proto: icmp, icmp-type: echo-request }
        - { action: allow, proto: udp, ports: [53, "50-60", 70, "71-80", 443], src-ports: ["1024-65535"], name: dns }
        - { action: reject, to: 10.1.0.10, comment: "host" }
        - { action: drop, proto: icmp, icmp-type: 3 }
`,
  );
  const fw = topologyOf(src).ext.firewall?.firewalls[0];
  t.equal(fw?.name, 'web-in');
  t.same(fw?.attach, [{ container: 'web', interface: 'eth0' }]);
  t.equal(fw?.ingress.default, 'drop');
  t.same(fw?.egress, { default: 'allow', rules: [] }, 'an absent direction allows everything');
  const rules = fw?.ingress.rules ?? [];
  t.same(rules.map((r) => r.index), [0, 1, 2, 3, 4], 'file order');
  t.same(rules[0], {
    index: 0,
    action: 'allow',
    proto: 'tcp',
    src: { addr: 0x0a020000, prefix: 24 },
    dst: { addr: 0, prefix: 0 },
    dports: [
      [80, 80],
      [443, 443],
    ],
    sports: [[0, 65535]],
  });
  t.same(rules[1], {
    index: 1,
    action: 'allow',
    proto: 'icmp',
    src: { addr: 0, prefix: 0 },
    dst: { addr: 0, prefix: 0 },
    dports: [[0, 65535]],
    sports: [[0, 65535]],
    icmpType: 8,
  });
  t.same(rules[2]?.dports, [
    [50, 60],
    [70, 80],
    [443, 443],
  ], 'sorted and merged (overlapping and adjacent ranges)');
  t.same(rules[2]?.sports, [[1024, 65535]]);
  t.equal(rules[2]?.name, 'dns');
  t.match(rules[3], { action: 'reject', proto: 'any', dst: { addr: 0x0a01000a, prefix: 32 }, comment: 'host' });
  t.equal(rules[4]?.icmpType, 3);
});

t.test('the model does not depend on the order of the file', async (t) => {
  const reordered = `apiVersion: vnf/v1
name: t
firewalls:
  web-in:
    ingress:
      rules:
        - { action: allow, proto: tcp, from: 10.2.0.0/24, ports: [80, 443] }
        - { action: allow, proto: icmp, icmp-type: echo-request }
      default: drop
    attach: [web/eth0]
routers:
  r1:
    routes:
      - { via: 10.2.0.254, to: 10.9.0.0/16 }
    ports:
      back: 10.2.0.1/24
      front: 10.1.0.1/24
networks:
  back: { subnet: 10.2.0.0/24 }
  front: { subnet: 10.1.0.0/24 }
containers:
  db:
    interfaces:
      eth0: { mac: "02:00:00:00:02:0A", ip: 10.2.0.10/24, network: back }
  web:
    interfaces:
      eth0: { network: front, ip: 10.1.0.10/24 }
`;
  t.same(topologyOf(reordered), topologyOf(BASE));
  t.equal(JSON.stringify(topologyOf(reordered)), JSON.stringify(topologyOf(BASE)), 'byte-identical as JSON');
});
