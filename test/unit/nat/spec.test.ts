// NAT in the topology file: every rule with a failing input (message, path, line), and the model.
import t from 'tap';
import { formatIssue, formatPath, parseTopology } from '../../../src/spec/index.js';
import { parseAddr } from '../../../src/spec/ipv4.js';
import { VNFS } from '../../../src/vnf/registry.js';
import { VNF_NAT_DEFAULT_PORT_MAX, VNF_NAT_DEFAULT_PORT_MIN, VNF_NAT_FWD_MAX } from '../../../src/vnf/nat/codec.js';
import { edit, issueAt, issuesOf, lineOf } from '../spec/fixture.js';
import { NAT, topologyOf } from './fixture.js';

const ip = (s: string): number => {
  const a = parseAddr(s);
  if (!a.ok) throw new Error(s);
  return a.value;
};

interface Case {
  name: string;
  edits: [string, string][];
  path: string;
  message: string | RegExp;
  /** The text on the reported line. */
  line: string;
}

const F0 = '        - { inside: 10.1.0.10, outside: 192.0.2.10 }\n';
const secondFloating = (text: string): [string, string] => [F0, `${F0}        - ${text}\n`];

const cases: Case[] = [
  {
    name: 'outside is a port network of the router (did you mean)',
    edits: [['outside: wan', 'outside: wam']],
    path: 'routers.r1.nat.outside',
    message: 'network "wam" is not a port network of router "r1"; did you mean "wan"?',
    line: 'outside: wam',
  },
  {
    name: 'outside is a port network of the router (listing its ports)',
    edits: [['outside: wan', 'outside: uplink']],
    path: 'routers.r1.nat.outside',
    message: 'network "uplink" is not a port network of router "r1" (its ports: front, back, wan)',
    line: 'outside: uplink',
  },
  {
    name: 'a router with nat needs an inside network',
    edits: [['    ports: { lan: 10.9.0.1/24 }\n', '    ports: { lan: 10.9.0.1/24 }\n    nat: { outside: lan, masquerade: [10.0.0.0/8] }\n']],
    path: 'routers.r2.nat',
    message: `router "r2" has no port besides the outside network "lan": NAT translates between it and the router's other port networks`,
    line: 'nat: { outside: lan',
  },
  {
    name: 'masquerade does not overlap the outside network',
    edits: [['masquerade: [10.1.0.0/24, 10.2.0.0/24]', 'masquerade: [10.1.0.0/24, 192.0.2.0/25]']],
    path: 'routers.r1.nat.masquerade[1]',
    message: '192.0.2.0/25 overlaps the outside network "wan" (192.0.2.0/24): masquerade translates sources from the inside',
    line: 'masquerade: [',
  },
  {
    name: 'masquerade: a wider prefix holding the outside network overlaps it too',
    edits: [['masquerade: [10.1.0.0/24, 10.2.0.0/24]', 'masquerade: [0.0.0.0/0]']],
    path: 'routers.r1.nat.masquerade[0]',
    message: /^0\.0\.0\.0\/0 overlaps the outside network "wan"/,
    line: 'masquerade: [',
  },
  {
    name: 'masquerade prefix listed twice',
    edits: [['masquerade: [10.1.0.0/24, 10.2.0.0/24]', 'masquerade: [10.1.0.0/24, 10.1.0.0/24]']],
    path: 'routers.r1.nat.masquerade[1]',
    message: '10.1.0.0/24 is listed twice (first at routers.r1.nat.masquerade[0])',
    line: 'masquerade: [',
  },
  {
    name: 'masquerade prefix is a network address (schema)',
    edits: [['masquerade: [10.1.0.0/24, 10.2.0.0/24]', 'masquerade: [10.1.0.5/24]']],
    path: 'routers.r1.nat.masquerade[0]',
    message: 'not a network address (host bits set); did you mean 10.1.0.0/24?',
    line: 'masquerade: [',
  },
  {
    name: 'ports: a reversed range',
    edits: [['ports: "20000-29999"', 'ports: "29999-20000"']],
    path: 'routers.r1.nat.ports',
    message: 'port range "29999-20000" is reversed; write "20000-29999"',
    line: 'ports: "29999-20000"',
  },
  {
    name: 'ports: out of range',
    edits: [['ports: "20000-29999"', 'ports: "20000-70000"']],
    path: 'routers.r1.nat.ports',
    message: 'port 70000 is out of range 1-65535',
    line: 'ports: "20000-70000"',
  },
  {
    name: 'ports: 0 is not a port',
    edits: [['ports: "20000-29999"', 'ports: 0']],
    path: 'routers.r1.nat.ports',
    message: /port 0 is out of range 1-65535/,
    line: 'ports: 0',
  },
  {
    name: 'floating outside lies in the outside network',
    edits: [['outside: 192.0.2.10 }', 'outside: 198.51.100.10 }']],
    path: 'routers.r1.nat.floating[0].outside',
    message: '198.51.100.10 is not in the outside network "wan" (192.0.2.0/24)',
    line: 'outside: 198.51.100.10',
  },
  {
    name: "floating outside is not the router's own address",
    edits: [['outside: 192.0.2.10 }', 'outside: 192.0.2.2 }']],
    path: 'routers.r1.nat.floating[0].outside',
    message: `192.0.2.2 is router "r1"'s own address on network "wan"; a floating address needs an address of its own`,
    line: 'outside: 192.0.2.2 }',
  },
  {
    name: 'floating outside is not the broadcast address',
    edits: [['outside: 192.0.2.10 }', 'outside: 192.0.2.255 }']],
    path: 'routers.r1.nat.floating[0].outside',
    message: '192.0.2.255 is the broadcast address of network "wan" (192.0.2.0/24), not a host address',
    line: 'outside: 192.0.2.255',
  },
  {
    name: 'floating outside is not the network address',
    edits: [['outside: 192.0.2.10 }', 'outside: 192.0.2.0 }']],
    path: 'routers.r1.nat.floating[0].outside',
    message: '192.0.2.0 is the network address of network "wan" (192.0.2.0/24), not a host address',
    line: 'outside: 192.0.2.0 }',
  },
  {
    name: "floating outside is not a declared container's address",
    edits: [['outside: 192.0.2.10 }', 'outside: 192.0.2.1 }']],
    path: 'routers.r1.nat.floating[0].outside',
    message: '192.0.2.1 is already used on network "wan" by containers.isp.interfaces.eth0',
    line: 'outside: 192.0.2.1 }',
  },
  {
    name: "floating outside is not the router's next hop",
    edits: [['via: 192.0.2.1 }', 'via: 192.0.2.254 }'], ['outside: 192.0.2.10 }', 'outside: 192.0.2.254 }']],
    path: 'routers.r1.nat.floating[0].outside',
    message: '192.0.2.254 is the next hop of routers.r1.routes[0]; a floating address needs an address of its own',
    line: 'outside: 192.0.2.254 }',
  },
  {
    name: 'floating outside is unique',
    edits: [secondFloating('{ inside: 10.1.0.11, outside: 192.0.2.10 }')],
    path: 'routers.r1.nat.floating[1].outside',
    message: '192.0.2.10 is already a floating address (routers.r1.nat.floating[0].outside)',
    line: 'inside: 10.1.0.11',
  },
  {
    name: 'floating inside lies in an inside network',
    edits: [['inside: 10.1.0.10, outside', 'inside: 10.9.0.10, outside']],
    path: 'routers.r1.nat.floating[0].inside',
    message: `inside address 10.9.0.10 lies in none of router "r1"'s inside networks (front 10.1.0.0/24, back 10.2.0.0/24)`,
    line: 'inside: 10.9.0.10',
  },
  {
    name: 'floating inside is not on the outside network',
    edits: [['inside: 10.1.0.10, outside', 'inside: 192.0.2.50, outside']],
    path: 'routers.r1.nat.floating[0].inside',
    message: /^inside address 192\.0\.2\.50 lies in none of router "r1"'s inside networks/,
    line: 'inside: 192.0.2.50',
  },
  {
    name: "floating inside is not the router's own address",
    edits: [['inside: 10.1.0.10, outside', 'inside: 10.1.0.1, outside']],
    path: 'routers.r1.nat.floating[0].inside',
    message: `10.1.0.1 is router "r1"'s own address on network "front"`,
    line: 'inside: 10.1.0.1,',
  },
  {
    name: 'floating inside is unique',
    edits: [secondFloating('{ inside: 10.1.0.10, outside: 192.0.2.11 }')],
    path: 'routers.r1.nat.floating[1].inside',
    message: '10.1.0.10 already has a floating address (routers.r1.nat.floating[0].inside)',
    line: 'outside: 192.0.2.11',
  },
  {
    name: 'floating: addresses are addresses (schema)',
    edits: [['inside: 10.1.0.10, outside', 'inside: 10.1.0.300, outside']],
    path: 'routers.r1.nat.floating[0].inside',
    message: '"10.1.0.300" is not an IPv4 address: 300 is out of range 0-255',
    line: 'inside: 10.1.0.300',
  },
  {
    name: 'forward target lies in an inside network',
    edits: [['to: 10.1.0.10:80', 'to: 192.0.2.1:80']],
    path: 'routers.r1.nat.forward[0].to',
    message: `forward target 192.0.2.1 lies in none of router "r1"'s inside networks (front 10.1.0.0/24, back 10.2.0.0/24)`,
    line: 'to: 192.0.2.1:80',
  },
  {
    name: 'forward target is a host address',
    edits: [['to: 10.1.0.10:80', 'to: 10.1.0.255:80']],
    path: 'routers.r1.nat.forward[0].to',
    message: '10.1.0.255 is the broadcast address of network "front" (10.1.0.0/24), not a host address',
    line: 'to: 10.1.0.255:80',
  },
  {
    name: 'forward (proto, port) is unique',
    edits: [['{ proto: udp, port: 5353, to: 10.2.0.10 }', '{ proto: tcp, port: 8080, to: 10.2.0.10 }']],
    path: 'routers.r1.nat.forward[1].port',
    message: 'tcp port 8080 is already forwarded (routers.r1.nat.forward[0])',
    line: 'to: 10.2.0.10 }',
  },
  {
    name: 'forward port outside the masquerade range',
    edits: [['port: 8080', 'port: 25000']],
    path: 'routers.r1.nat.forward[0].port',
    message: 'port 25000 is in the masquerade port range 20000-29999: a masqueraded connection could take it; publish a port outside the range, or set "ports" to a range without it',
    line: 'port: 25000',
  },
  {
    name: 'forward proto is tcp or udp',
    edits: [['proto: tcp, port: 8080', 'proto: icmp, port: 8080']],
    path: 'routers.r1.nat.forward[0].proto',
    message: 'unknown protocol "icmp"; a forward is tcp or udp',
    line: 'proto: icmp',
  },
  {
    name: 'forward port is a port',
    edits: [['port: 8080', 'port: 0']],
    path: 'routers.r1.nat.forward[0].port',
    message: 'port 0 is out of range 1-65535',
    line: 'port: 0,',
  },
  {
    name: "forward target's port is a port",
    edits: [['to: 10.1.0.10:80', 'to: 10.1.0.10:99999']],
    path: 'routers.r1.nat.forward[0].to',
    message: '"10.1.0.10:99999": port 99999 is out of range 1-65535',
    line: 'to: 10.1.0.10:99999',
  },
];

for (const c of cases) {
  t.test(c.name, async (t) => {
    let src = NAT;
    for (const [from, to] of c.edits) src = edit(src, from, to);
    const issue = issueAt(src, c.path, 'nat.yaml');
    if (typeof c.message === 'string') t.equal(issue.message, c.message, 'message');
    else t.match(issue.message, c.message, 'message');
    t.equal(issue.file, 'nat.yaml', 'file');
    t.equal(issue.line, lineOf(src, c.line), 'line');
    t.match(formatIssue(issue), new RegExp(`^nat\\.yaml:${issue.line}:\\d+: `), 'file:line:col');
  });
}

t.test('an unknown key in nat is reported with a suggestion', async (t) => {
  const src = edit(NAT, 'ports: "20000-29999"', 'prots: "20000-29999"');
  const issues = issuesOf(src, 'nat.yaml');
  const i = issues.find((x) => formatPath(x.path).startsWith('routers.r1.nat'));
  t.ok(i, issues.map(formatIssue).join('\n'));
  t.match(i!.message, /prots/);
  t.match(i!.message, /ports/);
});

t.test('every NAT issue is reported in one pass', async (t) => {
  let src = NAT;
  for (const [from, to] of [
    ['masquerade: [10.1.0.0/24, 10.2.0.0/24]', 'masquerade: [10.1.0.0/24, 192.0.2.0/24]'],
    ['outside: 192.0.2.10 }', 'outside: 192.0.2.2 }'],
    ['to: 10.1.0.10:80', 'to: 10.9.0.10:80'],
    ['port: 5353', 'port: 20001'],
  ] as const) {
    src = edit(src, from, to);
  }
  const issues = issuesOf(src, 'nat.yaml');
  t.same(issues.map((i) => formatPath(i.path)), [
    'routers.r1.nat.masquerade[1]',
    'routers.r1.nat.floating[0].outside',
    'routers.r1.nat.forward[0].to',
    'routers.r1.nat.forward[1].port',
  ], issues.map(formatIssue).join('\n'));
});

t.test('capacity: forwarded ports beyond vnf_nat_fwd', async (t) => {
  const n = VNF_NAT_FWD_MAX + 1;
  const lines = Array.from({ length: n }, (_, i) => `        - { proto: tcp, port: ${i + 1}, to: 10.1.0.10 }`).join('\n');
  const src = edit(NAT, '      forward:\n        - { proto: tcp, port: 8080, to: 10.1.0.10:80 }\n        - { proto: udp, port: 5353, to: 10.2.0.10 }\n',
    `      forward:\n${lines}\n`).replace('      masquerade: [10.1.0.0/24, 10.2.0.0/24]\n', '');
  const issue = issueAt(src, 'routers.r1.nat', 'nat.yaml');
  t.equal(issue.message, `the NATs forward ${n} ports; the dataplane holds at most ${VNF_NAT_FWD_MAX} (vnf_nat_fwd)`);
});

t.test('a forwarded port may lie in the default range when nothing is masqueraded', async (t) => {
  const src = edit(NAT, '      masquerade: [10.1.0.0/24, 10.2.0.0/24]\n      ports: "20000-29999"\n', '').replace('port: 8080', 'port: 25000');
  t.ok(parseTopology(src).ok);
});

t.test('a nat with only floating addresses is valid', async (t) => {
  const src = `apiVersion: vnf/v1
name: fl
networks:
  lan: { subnet: 10.1.0.0/24 }
  wan: { subnet: 192.0.2.0/24 }
routers:
  gw:
    ports: { lan: 10.1.0.1/24, wan: 192.0.2.2/24 }
    nat:
      outside: wan
      floating: [ { inside: 10.1.0.10, outside: 192.0.2.10 } ]
`;
  const topo = topologyOf(src);
  t.same(topo.ext.nat?.routers[0], {
    router: 'gw', outside: 'wan', outsideIp: ip('192.0.2.2'), inside: ['lan'], masquerade: [],
    ports: [VNF_NAT_DEFAULT_PORT_MIN, VNF_NAT_DEFAULT_PORT_MAX], maxPerSource: 4096, maxInbound: 16384,
    floating: [{ inside: ip('10.1.0.10'), outside: ip('192.0.2.10') }], forward: [],
  });
});

t.test('fairness quotas: whole numbers, below the NAT\'s conntrack quota of new connections', async (t) => {
  const withQuota = (q: string, settings = ''): string => `${edit(NAT, '    nat:\n', `    nat:\n${q}`)}${settings}`;
  const ok = topologyOf(withQuota('      maxPerSource: 64\n      maxInbound: 128\n'));
  t.match(ok.ext.nat!.routers[0], { maxPerSource: 64, maxInbound: 128 }, 'taken into the model');
  const low = '\nsettings:\n  conntrack: { maxNewPerPort: 1000 }\n';
  let src = withQuota('      maxInbound: 1000\n', low);
  let issue = issueAt(src, 'routers.r1.nat.maxInbound', 'nat.yaml');
  t.match(issue.message, /maxInbound 1000 is not below settings\.conntrack\.maxNewPerPort \(1000\).*a flood from the world could fill it for everyone/);
  t.equal(issue.line, lineOf(src, 'maxInbound: 1000'), 'at its line');
  // A default that does not fit the file's lower conntrack quota is reported too, on nat.
  src = withQuota('', low);
  issue = issueAt(src, 'routers.r1.nat', 'nat.yaml');
  t.match(issue.message, /maxPerSource 4096 is not below settings\.conntrack\.maxNewPerPort \(1000\).*one container could fill it/);
  issue = issueAt(withQuota('      maxPerSource: 0\n'), 'routers.r1.nat.maxPerSource', 'nat.yaml');
  t.match(issue.message, /must be at least 1/);
});

t.test('the normalized model', async (t) => {
  const topo = topologyOf(NAT);
  t.same(topo.ext.nat, {
    routers: [{
      router: 'r1',
      outside: 'wan',
      outsideIp: ip('192.0.2.2'),
      inside: ['back', 'front'],
      masquerade: [{ addr: ip('10.1.0.0'), prefix: 24 }, { addr: ip('10.2.0.0'), prefix: 24 }],
      ports: [20000, 29999],
      maxPerSource: 4096,
      maxInbound: 16384,
      floating: [{ inside: ip('10.1.0.10'), outside: ip('192.0.2.10') }],
      forward: [
        { proto: 'tcp', port: 8080, to: ip('10.1.0.10'), toPort: 80 },
        { proto: 'udp', port: 5353, to: ip('10.2.0.10'), toPort: 5353 },
      ],
    }],
  });
  const nat = VNFS.find((v) => v.name === 'nat')!;
  t.equal(nat.spec!.summary!(topo), '1 NAT');
});

t.test('a topology without nat has no nat key (its model and generation are unchanged)', async (t) => {
  const topo = topologyOf(NAT.replace(/    nat:\n(      .*\n|        .*\n)*/, ''));
  t.notOk('nat' in topo.ext);
  const nat = VNFS.find((v) => v.name === 'nat')!;
  t.equal(nat.spec!.summary!(topo), undefined);
});
