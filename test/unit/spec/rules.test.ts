// Cross-reference and addressing rules. Each case breaks BASE in one place and asserts the
// message, the path and the line of the issue.
import t from 'tap';
import { formatIssue, formatPath, parseTopology } from '../../../src/spec/index.js';
import { BASE, colOf, edit, issueAt, issuesOf, lineOf } from './fixture.js';

interface Case {
  name: string;
  edits: [string, string][];
  path: string;
  message: string | RegExp;
  line: string;
  col?: string;
}

const APP = '  db:\n';
const addContainer = (text: string): [string, string] => [APP, `  app:\n    interfaces:\n      eth0: { ${text} }\n${APP}`];

const cases: Case[] = [
  {
    name: 'interface network must exist (with a suggestion)',
    edits: [['network: front, ip: 10.1.0.10/24', 'network: frnt, ip: 10.1.0.10/24']],
    path: 'containers.web.interfaces.eth0.network',
    message: 'unknown network "frnt"; did you mean "front"?',
    line: 'network: frnt',
    col: 'frnt',
  },
  {
    name: 'interface network must exist (listing the networks)',
    edits: [['network: front, ip: 10.1.0.10/24', 'network: storage, ip: 10.1.0.10/24']],
    path: 'containers.web.interfaces.eth0.network',
    message: 'unknown network "storage" (defined networks: front, back)',
    line: 'network: storage',
  },
  {
    name: 'router port network must exist',
    edits: [['      back: 10.2.0.1/24\n', '      back: 10.2.0.1/24\n      dmz: 10.5.0.1/24\n']],
    path: 'routers.r1.ports.dmz',
    message: 'unknown network "dmz" (defined networks: front, back)',
    line: 'dmz: 10.5.0.1/24',
    col: 'dmz:',
  },
  {
    name: 'firewall attach: container must exist',
    edits: [['attach: [web/eth0]', 'attach: [web/eth0, app/eth0]']],
    path: 'firewalls.web-in.attach[1]',
    message: 'unknown container "app"',
    line: 'attach: [web/eth0, app/eth0]',
    col: 'app/eth0',
  },
  {
    name: 'firewall attach: interface must exist',
    edits: [['attach: [web/eth0]', 'attach: [web/eth1]']],
    path: 'firewalls.web-in.attach[0]',
    message: 'container "web" has no interface "eth1"; did you mean "eth0"?',
    line: 'attach: [web/eth1]',
  },
  {
    name: 'firewall attach: listed twice',
    edits: [['attach: [web/eth0]', 'attach: [web/eth0, web/eth0]']],
    path: 'firewalls.web-in.attach[1]',
    message: 'web/eth0 is listed twice',
    line: 'attach: [web/eth0, web/eth0]',
  },
  {
    name: 'firewall attach: one firewall per interface',
    edits: [['firewalls:\n', 'firewalls:\n  other:\n    attach: [web/eth0]\n']],
    path: 'firewalls.web-in.attach[0]',
    message: 'web/eth0 is already attached to firewall "other"; an interface takes at most one firewall',
    line: 'attach: [web/eth0]\n    ingress',
  },
  {
    name: 'firewall networks: the network must exist',
    edits: [['attach: [web/eth0]', 'attach: [web/eth0]\n    networks: [frnt]']],
    path: 'firewalls.web-in.networks[0]',
    message: 'unknown network "frnt"; did you mean "front"?',
    line: 'networks: [frnt]',
    col: 'frnt',
  },
  {
    name: 'firewall networks: one default firewall per network',
    edits: [['firewalls:\n', 'firewalls:\n  other:\n    networks: [front]\n'], ['attach: [web/eth0]', 'attach: [web/eth0]\n    networks: [front]']],
    path: 'firewalls.web-in.networks[0]',
    message: 'network "front" already has firewall "other" for its attached interfaces; a network takes at most one',
    line: 'networks: [front]\n    ingress',
  },
  {
    name: 'route next hop must be directly reachable',
    edits: [['via: 10.2.0.254', 'via: 10.3.0.254']],
    path: 'routers.r1.routes[0].via',
    message: `next hop 10.3.0.254 is not directly reachable: it lies in none of router "r1"'s port subnets (10.1.0.0/24, 10.2.0.0/24)`,
    line: 'via: 10.3.0.254',
    col: '10.3.0.254',
  },
  {
    name: "route next hop is not the router's own address",
    edits: [['via: 10.2.0.254', 'via: 10.2.0.1']],
    path: 'routers.r1.routes[0].via',
    message: `next hop 10.2.0.1 is router "r1"'s own address`,
    line: 'via: 10.2.0.1 }',
  },
  {
    name: 'route next hop is a host address',
    edits: [['via: 10.2.0.254', 'via: 10.2.0.255']],
    path: 'routers.r1.routes[0].via',
    message: 'next hop 10.2.0.255 is not a host address of network "back"',
    line: 'via: 10.2.0.255',
  },
  {
    name: 'duplicate route',
    edits: [['      - { to: 10.9.0.0/16, via: 10.2.0.254 }\n', '      - { to: 10.9.0.0/16, via: 10.2.0.254 }\n      - { to: 10.9.0.0/16, via: 10.1.0.254 }\n']],
    path: 'routers.r1.routes[1].to',
    message: 'duplicate route to 10.9.0.0/16 (first in routers.r1.routes[0])',
    line: 'via: 10.1.0.254',
  },
  {
    name: 'static route to a connected subnet',
    edits: [['to: 10.9.0.0/16', 'to: 10.1.0.0/24']],
    path: 'routers.r1.routes[0].to',
    message: '10.1.0.0/24 is the connected subnet of port "front"; it needs no static route',
    line: 'to: 10.1.0.0/24',
  },
  {
    name: 'subnets must not overlap',
    edits: [['  back: { subnet: 10.2.0.0/24 }\n', '  back: { subnet: 10.2.0.0/24 }\n  extra: { subnet: 10.1.0.128/25 }\n']],
    path: 'networks.extra.subnet',
    message: 'subnet 10.1.0.128/25 overlaps networks.front.subnet (10.1.0.0/24)',
    line: 'extra: {',
    col: '10.1.0.128/25',
  },
  {
    name: 'interface address inside its subnet',
    edits: [['ip: 10.1.0.10/24', 'ip: 10.3.0.10/24']],
    path: 'containers.web.interfaces.eth0.ip',
    message: '10.3.0.10 is outside network "front" (10.1.0.0/24)',
    line: 'ip: 10.3.0.10/24',
    col: '10.3.0.10/24',
  },
  {
    name: "interface prefix length is the subnet's",
    edits: [['ip: 10.1.0.10/24', 'ip: 10.1.0.10/16']],
    path: 'containers.web.interfaces.eth0.ip',
    message: 'prefix length /16 does not match network "front" (10.1.0.0/24); write 10.1.0.10/24',
    line: 'ip: 10.1.0.10/16',
  },
  {
    name: 'interface address is not the network address',
    edits: [['ip: 10.1.0.10/24', 'ip: 10.1.0.0/24']],
    path: 'containers.web.interfaces.eth0.ip',
    message: '10.1.0.0 is the network address of network "front" (10.1.0.0/24), not a host address',
    line: 'ip: 10.1.0.0/24',
  },
  {
    name: 'interface address is not the broadcast address',
    edits: [['ip: 10.1.0.10/24', 'ip: 10.1.0.255']],
    path: 'containers.web.interfaces.eth0.ip',
    message: '10.1.0.255 is the broadcast address of network "front" (10.1.0.0/24), not a host address',
    line: 'ip: 10.1.0.255',
  },
  {
    name: 'router port address inside its subnet',
    edits: [['      back: 10.2.0.1/24', '      back: 10.2.1.1/24']],
    path: 'routers.r1.ports.back',
    message: '10.2.1.1 is outside network "back" (10.2.0.0/24)',
    line: 'back: 10.2.1.1/24',
    col: '10.2.1.1/24',
  },
  {
    name: 'addresses are unique within a network (containers)',
    edits: [addContainer('network: front, ip: 10.1.0.10/24')],
    path: 'containers.app.interfaces.eth0.ip',
    message: '10.1.0.10 is already used on network "front" by containers.web.interfaces.eth0',
    line: '{ network: front, ip: 10.1.0.10/24 }\n  db',
  },
  {
    name: 'addresses are unique within a network (container and router port)',
    edits: [['ip: 10.1.0.10/24', 'ip: 10.1.0.1/24']],
    path: 'routers.r1.ports.front',
    message: '10.1.0.1 is already used on network "front" by containers.web.interfaces.eth0',
    line: 'front: 10.1.0.1/24',
  },
  {
    name: 'MACs are unique across the topology',
    edits: [['network: front, ip: 10.1.0.10/24', 'network: front, ip: 10.1.0.10/24, mac: "02:00:00:00:02:0A"']],
    path: 'containers.db.interfaces.eth0.mac',
    message: 'MAC 02:00:00:00:02:0a is already used by containers.web.interfaces.eth0',
    line: 'mac: "02:00:00:00:02:0a"',
  },
  {
    name: 'a network has at most one router port',
    edits: [['    routes:\n', '    routes:\n      - { to: 10.8.0.0/16, via: 10.1.0.254 }\n  r2:\n    ports:\n      front: 10.1.0.2/24\n    routes:\n']],
    path: 'routers.r2.ports.front',
    message: 'network "front" already has a router port (routers.r1.ports.front); a network has one gateway',
    line: 'front: 10.1.0.2/24',
    col: 'front: 10.1.0.2/24',
  },
];

for (const c of cases) {
  t.test(c.name, async (t) => {
    const src = c.edits.reduce((text, [from, to]) => edit(text, from, to), BASE);
    const issue = issueAt(src, c.path);
    if (typeof c.message === 'string') t.equal(issue.message, c.message, 'message');
    else t.match(issue.message, c.message, 'message');
    t.equal(formatPath(issue.path), c.path, 'path');
    t.equal(issue.line, lineOf(src, c.line), 'line');
    if (c.col !== undefined) t.equal(issue.col, colOf(src, c.col), 'col');
  });
}

t.test('every rule issue is reported in one pass', async (t) => {
  let src = BASE;
  for (const [from, to] of [
    ['network: front, ip: 10.1.0.10/24', 'network: frnt, ip: 10.1.0.10/24'],
    ['ip: 10.2.0.10/24', 'ip: 10.2.0.0/24'],
    ['  back: { subnet: 10.2.0.0/24 }\n', '  back: { subnet: 10.2.0.0/24 }\n  all: { subnet: 10.0.0.0/8 }\n'],
    ['via: 10.2.0.254', 'via: 192.168.1.1'],
    ['attach: [web/eth0]', 'attach: [web/eth0, nope/eth0]'],
  ] as const) {
    src = edit(src, from, to);
  }
  const issues = issuesOf(src);
  t.same(
    issues.map((i) => formatPath(i.path)),
    [
      'containers.web.interfaces.eth0.network',
      'containers.db.interfaces.eth0.ip',
      'networks.all.subnet',
      'routers.r1.routes[0].via',
      'firewalls.web-in.attach[1]',
    ],
    issues.map(formatIssue).join('\n'),
  );
  t.ok(issues.every((i) => i.line !== undefined && i.col !== undefined && i.file === 'topology.yaml'));
});

t.test('/31 networks have no network or broadcast address (RFC 3021)', async (t) => {
  const src = `apiVersion: vnf/v1
name: p2p
containers:
  a: { interfaces: { eth0: { network: link, ip: 10.0.0.0/31 } } }
  b: { interfaces: { eth0: { network: link, ip: 10.0.0.1/31 } } }
networks:
  link: { subnet: 10.0.0.0/31 }
`;
  const result = parseTopology(src);
  t.ok(result.ok, result.ok ? '' : result.issues.map(formatIssue).join('\n'));
});

t.test('rules never throw, and one unknown name does not cascade', async (t) => {
  const src = `apiVersion: vnf/v1
name: x
networks: {}
routers:
  r: { ports: { a: 10.0.0.1/24 }, routes: [{ to: 0.0.0.0/0, via: 10.0.0.2 }] }
firewalls:
  f: { attach: [a/b] }
`;
  const issues = issuesOf(src);
  t.same(
    issues.map((i) => formatPath(i.path)),
    ['routers.r.ports.a', 'firewalls.f.attach[0]'],
    issues.map(formatIssue).join('\n'),
  );
  t.match(issues[0]?.message, /unknown network "a" \(no networks are defined\)/);
});
