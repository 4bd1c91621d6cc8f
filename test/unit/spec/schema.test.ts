// Schema-level checks: shapes, types, enums, value syntax and names. Each case breaks BASE in one
// place and asserts the message, the path and the line of the issue.
import t from 'tap';
import { formatIssue, formatPath } from '../../../src/spec/index.js';
import { BASE, colOf, edit, issueAt, issuesOf, lineOf } from './fixture.js';

interface Case {
  name: string;
  /** [from, to] replacements applied to BASE */
  edits: [string, string][];
  path: string;
  message: string | RegExp;
  /** text on the line the issue must point at */
  line: string;
  /** text the issue's column must point at, when checked */
  col?: string;
}

const cases: Case[] = [
  {
    name: 'apiVersion must be vnf/v1',
    edits: [['apiVersion: vnf/v1', 'apiVersion: vnf/v2']],
    path: 'apiVersion',
    message: 'unsupported apiVersion "vnf/v2"; this version of vnf reads "vnf/v1"',
    line: 'apiVersion: vnf/v2',
    col: 'vnf/v2',
  },
  {
    name: 'apiVersion is required',
    edits: [['apiVersion: vnf/v1\n', '']],
    path: 'apiVersion',
    message: 'missing apiVersion; start the file with "apiVersion: vnf/v1"',
    line: 'name: t',
  },
  {
    name: 'topology name: lowercase, digits, dashes',
    edits: [['name: t\n', 'name: My_Lab\n']],
    path: 'name',
    message: /^invalid topology name "My_Lab": use lowercase letters, digits and '-'/,
    line: 'name: My_Lab',
    col: 'My_Lab',
  },
  {
    name: 'topology name: at most 15 characters',
    edits: [['name: t\n', 'name: a-very-long-name-1\n']],
    path: 'name',
    message: 'topology name "a-very-long-name-1" is 18 characters long; at most 15 are allowed',
    line: 'name: a-very-long-name-1',
  },
  {
    name: 'topology name: no leading dash',
    edits: [['name: t\n', 'name: -x\n']],
    path: 'name',
    message: /invalid topology name "-x"/,
    line: 'name: -x',
  },
  {
    name: 'container name is checked at its key',
    edits: [['  web:\n', '  Web:\n']],
    path: 'containers.Web',
    message: /^invalid container name "Web"/,
    line: '  Web:',
    col: 'Web:',
  },
  {
    name: 'network name length',
    edits: [['  back: { subnet', '  back-network-0123: { subnet']],
    path: 'networks.back-network-0123',
    message: 'network name "back-network-0123" is 17 characters long; at most 15 are allowed',
    line: 'back-network-0123: {',
  },
  {
    name: 'router name',
    edits: [['  r1:\n', '  r_1:\n']],
    path: 'routers.r_1',
    message: /^invalid router name "r_1"/,
    line: '  r_1:',
  },
  {
    name: 'firewall name',
    edits: [['  web-in:\n', '  web-in-:\n']],
    path: 'firewalls.web-in-',
    message: /^invalid firewall name "web-in-"/,
    line: '  web-in-:',
  },
  {
    name: 'interface name: no slash',
    edits: [['      eth0: { network: front', '      "eth/0": { network: front']],
    path: 'containers.web.interfaces["eth/0"]',
    message: `invalid interface name "eth/0": '/', ':' and whitespace are not allowed`,
    line: '"eth/0": { network: front',
  },
  {
    name: 'interface name: at most 15 bytes',
    edits: [['      eth0: { network: front', '      eth0123456789abc: { network: front']],
    path: 'containers.web.interfaces.eth0123456789abc',
    message: 'interface name "eth0123456789abc" is 16 bytes long; Linux allows at most 15',
    line: 'eth0123456789abc: {',
  },
  {
    name: 'interface name: not ..',
    edits: [['      eth0: { network: front', '      "..": { network: front']],
    path: 'containers.web.interfaces[".."]',
    message: '".." is not a valid interface name',
    line: '"..": { network: front',
  },
  {
    name: 'unknown top-level key, with a suggestion',
    edits: [['networks:\n', 'netwroks:\n']],
    path: 'netwroks',
    message: 'unknown key "netwroks"; did you mean "networks"?',
    line: 'netwroks:',
  },
  {
    name: 'unknown router key (vrrp is not in vnf/v1)',
    edits: [['    routes:\n', '    vrrp: { from: 10.1.0.0/24 }\n    routes:\n']],
    path: 'routers.r1.vrrp',
    message: 'unknown key "vrrp"; allowed here: ports, routes, nat',
    line: '    vrrp: {',
    col: 'vrrp: {',
  },
  {
    name: 'unknown key inside a rule',
    edits: [['icmp-type: echo-request }', 'icmp-type: echo-request, dport: 1 }']],
    path: 'firewalls.web-in.ingress.rules[1].dport',
    message: /^unknown key "dport"/,
    line: 'dport: 1',
    col: 'dport: 1',
  },
  {
    name: 'unknown settings key',
    edits: [['name: t\n', 'name: t\nsettings:\n  conntrak: { tcpTimeout: 10 }\n']],
    path: 'settings.conntrak',
    message: 'unknown key "conntrak"; did you mean "conntrack"?',
    line: '  conntrak:',
  },
  {
    name: 'settings.fdbAgingSeconds must be positive',
    edits: [['name: t\n', 'name: t\nsettings: { fdbAgingSeconds: 0 }\n']],
    path: 'settings.fdbAgingSeconds',
    message: 'must be at least 1 second',
    line: 'settings: {',
  },
  {
    name: 'network fdbAgingSeconds must be a whole number',
    edits: [['front: { subnet: 10.1.0.0/24 }', 'front: { subnet: 10.1.0.0/24, fdbAgingSeconds: 1.5 }']],
    path: 'networks.front.fdbAgingSeconds',
    message: 'expected a whole number of seconds',
    line: 'fdbAgingSeconds: 1.5',
  },
  {
    name: 'required field missing',
    edits: [['front: { subnet: 10.1.0.0/24 }', 'front: { }']],
    path: 'networks.front.subnet',
    message: 'is required',
    line: 'front: { }',
  },
  {
    name: 'wrong type',
    edits: [['  front: { subnet: 10.1.0.0/24 }\n  back: { subnet: 10.2.0.0/24 }\n', '  - front\n']],
    path: 'networks',
    message: 'expected a mapping, got a list',
    line: 'networks:',
  },
  {
    name: 'wrong scalar type',
    edits: [['ip: 10.1.0.10/24', 'ip: 10']],
    path: 'containers.web.interfaces.eth0.ip',
    message: 'expected a string, got 10',
    line: 'ip: 10 }',
  },
  {
    name: 'subnet with host bits set: hint',
    edits: [['subnet: 10.1.0.0/24', 'subnet: 10.1.0.5/24']],
    path: 'networks.front.subnet',
    message: 'not a network address (host bits set); did you mean 10.1.0.0/24?',
    line: 'subnet: 10.1.0.5/24',
    col: '10.1.0.5/24',
  },
  {
    name: 'subnet needs a prefix length',
    edits: [['subnet: 10.2.0.0/24', 'subnet: 10.2.0.0']],
    path: 'networks.back.subnet',
    message: '"10.2.0.0" is missing a prefix length, e.g. "10.2.0.0/24"',
    line: 'subnet: 10.2.0.0 ',
  },
  {
    name: 'IPv4 syntax: octet out of range',
    edits: [['ip: 10.1.0.10/24', 'ip: 10.1.0.300/24']],
    path: 'containers.web.interfaces.eth0.ip',
    message: '"10.1.0.300" is not an IPv4 address: 300 is out of range 0-255',
    line: 'ip: 10.1.0.300/24',
  },
  {
    name: 'IPv4 syntax: prefix out of range',
    edits: [['to: 10.9.0.0/16', 'to: 10.9.0.0/33']],
    path: 'routers.r1.routes[0].to',
    message: '"10.9.0.0/33": prefix length 33 is out of range 0-32',
    line: 'to: 10.9.0.0/33',
  },
  {
    name: 'next hop is an address, not a prefix',
    edits: [['via: 10.2.0.254', 'via: 10.2.0.254/24']],
    path: 'routers.r1.routes[0].via',
    message: /^"10.2.0.254\/24" is not an IPv4 address/,
    line: 'via: 10.2.0.254/24',
  },
  {
    name: 'route destination with host bits set',
    edits: [['to: 10.9.0.0/16', 'to: 10.9.1.0/16']],
    path: 'routers.r1.routes[0].to',
    message: 'not a network address (host bits set); did you mean 10.9.0.0/16?',
    line: 'to: 10.9.1.0/16',
  },
  {
    name: 'firewall CIDR with host bits set',
    edits: [['from: 10.2.0.0/24', 'from: 10.2.0.1/24']],
    path: 'firewalls.web-in.ingress.rules[0].from',
    message: 'not a network address (host bits set); did you mean 10.2.0.0/24?',
    line: 'from: 10.2.0.1/24',
  },
  {
    name: 'MAC syntax',
    edits: [['mac: "02:00:00:00:02:0a"', 'mac: "02:00:00:00:02"']],
    path: 'containers.db.interfaces.eth0.mac',
    message: '"02:00:00:00:02" is not a MAC address: expected six hex octets like 02:00:00:00:00:01',
    line: 'mac: "02:00:00:00:02"',
  },
  {
    name: 'MAC must be unicast',
    edits: [['mac: "02:00:00:00:02:0a"', 'mac: "03:00:00:00:02:0a"']],
    path: 'containers.db.interfaces.eth0.mac',
    message: /03:00:00:00:02:0a is a multicast address/,
    line: 'mac: "03:00:00:00:02:0a"',
  },
  {
    name: 'port out of range',
    edits: [['ports: [80, 443]', 'ports: [80, 70000]']],
    path: 'firewalls.web-in.ingress.rules[0].ports[1]',
    message: 'port 70000 is out of range 1-65535',
    line: 'ports: [80, 70000]',
    col: '70000',
  },
  {
    name: 'port 0',
    edits: [['ports: [80, 443]', 'ports: [0]']],
    path: 'firewalls.web-in.ingress.rules[0].ports[0]',
    message: 'port 0 is out of range 1-65535',
    line: 'ports: [0]',
  },
  {
    name: 'port range reversed',
    edits: [['ports: [80, 443]', 'ports: ["443-80"]']],
    path: 'firewalls.web-in.ingress.rules[0].ports[0]',
    message: 'port range "443-80" is reversed; write "80-443"',
    line: 'ports: ["443-80"]',
  },
  {
    name: 'port range out of range',
    edits: [['ports: [80, 443]', 'ports: ["1000-65536"]']],
    path: 'firewalls.web-in.ingress.rules[0].ports[0]',
    message: 'port 65536 is out of range 1-65535',
    line: 'ports: ["1000-65536"]',
  },
  {
    name: 'port syntax',
    edits: [['ports: [80, 443]', 'ports: [http]']],
    path: 'firewalls.web-in.ingress.rules[0].ports[0]',
    message: '"http" is not a port or port range; write 80 or "5000-5100"',
    line: 'ports: [http]',
  },
  {
    name: 'port of the wrong type',
    edits: [['ports: [80, 443]', 'ports: [true]']],
    path: 'firewalls.web-in.ingress.rules[0].ports[0]',
    message: /^expected .* or a string, got true$/,
    line: 'ports: [true]',
  },
  {
    name: 'empty port list',
    edits: [['ports: [80, 443]', 'ports: []']],
    path: 'firewalls.web-in.ingress.rules[0].ports',
    message: 'ports must list at least one port; omit it to match every port',
    line: 'ports: []',
  },
  {
    name: 'ports only with tcp/udp',
    edits: [['icmp-type: echo-request }', 'icmp-type: echo-request, ports: [80] }']],
    path: 'firewalls.web-in.ingress.rules[1].ports',
    message: "only tcp and udp rules can match ports (this rule's proto is icmp)",
    line: 'ports: [80] }',
    col: 'ports: [80] }',
  },
  {
    name: 'src-ports only with tcp/udp (proto defaults to any)',
    edits: [['proto: icmp, icmp-type: echo-request }', 'src-ports: ["1024-65535"] }']],
    path: 'firewalls.web-in.ingress.rules[1].src-ports',
    message: "only tcp and udp rules can match src-ports (this rule's proto is any)",
    line: 'src-ports:',
  },
  {
    name: 'icmp-type only with icmp',
    edits: [['proto: icmp, icmp-type', 'proto: udp, icmp-type']],
    path: 'firewalls.web-in.ingress.rules[1].icmp-type',
    message: "only icmp rules can match icmp-type (this rule's proto is udp)",
    line: 'icmp-type: echo-request',
  },
  {
    name: 'unknown icmp-type name',
    edits: [['icmp-type: echo-request', 'icmp-type: echo-requst']],
    path: 'firewalls.web-in.ingress.rules[1].icmp-type',
    message: /^unknown ICMP type "echo-requst"; use a number 0-255 or one of: echo-reply, /,
    line: 'icmp-type: echo-requst',
  },
  {
    name: 'icmp-type number out of range',
    edits: [['icmp-type: echo-request', 'icmp-type: 256']],
    path: 'firewalls.web-in.ingress.rules[1].icmp-type',
    message: 'ICMP type 256 is out of range 0-255',
    line: 'icmp-type: 256',
  },
  {
    name: 'action enum, with a suggestion',
    edits: [['{ action: allow, proto: tcp', '{ action: alow, proto: tcp']],
    path: 'firewalls.web-in.ingress.rules[0].action',
    message: 'expected one of allow, drop, reject, got "alow"; did you mean "allow"?',
    line: 'action: alow',
  },
  {
    name: 'action is required',
    edits: [['{ action: allow, proto: icmp', '{ proto: icmp']],
    path: 'firewalls.web-in.ingress.rules[1].action',
    message: 'is required',
    line: '{ proto: icmp',
  },
  {
    name: 'proto enum',
    edits: [['proto: tcp', 'proto: sctp']],
    path: 'firewalls.web-in.ingress.rules[0].proto',
    message: 'expected one of tcp, udp, icmp, any, got "sctp"',
    line: 'proto: sctp',
  },
  {
    name: 'default is allow or drop',
    edits: [['default: drop', 'default: reject']],
    path: 'firewalls.web-in.ingress.default',
    message: 'expected one of allow, drop, got "reject"',
    line: 'default: reject',
  },
  {
    name: 'attach is container/interface',
    edits: [['attach: [web/eth0]', 'attach: [web]']],
    path: 'firewalls.web-in.attach[0]',
    message: 'expected "container/interface", e.g. "web/eth0", got "web"',
    line: 'attach: [web]',
  },
  {
    name: 'a router needs a port',
    edits: [['    ports:\n      front: 10.1.0.1/24\n      back: 10.2.0.1/24\n', '    ports: {}\n']],
    path: 'routers.r1.ports',
    message: 'a router needs at least one port',
    line: 'ports: {}',
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
    t.equal(issue.file, 'topology.yaml', 'file');
  });
}

t.test('all schema issues are reported in one pass, in file order', async (t) => {
  let src = BASE;
  for (const [from, to] of [
    ['apiVersion: vnf/v1', 'apiVersion: v1'],
    ['  web:\n', '  WEB:\n'],
    ['subnet: 10.1.0.0/24', 'subnet: 10.1.0.5/24'],
    ['    routes:\n', '    uplink: eth0\n    routes:\n'],
    ['ports: [80, 443]', 'ports: [80, 0, "9-8"]'],
    ['default: drop', 'default: deny'],
  ] as const) {
    src = edit(src, from, to);
  }
  const issues = issuesOf(src);
  t.same(
    issues.map((i) => formatPath(i.path)),
    [
      'apiVersion',
      'containers.WEB',
      'networks.front.subnet',
      'routers.r1.uplink',
      'firewalls.web-in.ingress.default',
      'firewalls.web-in.ingress.rules[0].ports[1]',
      'firewalls.web-in.ingress.rules[0].ports[2]',
    ],
    issues.map(formatIssue).join('\n'),
  );
  const lines = issues.map((i) => i.line ?? 0);
  t.same(lines, [...lines].sort((a, b) => a - b), 'sorted by line');
});

t.test('schema checks never throw on garbage', async (t) => {
  for (const text of ['42', '"x"', 'null', '[]', 'apiVersion: vnf/v1\nnetworks: 5\n', 'networks: { a: 5 }', 'containers: { a: { interfaces: [1] } }']) {
    t.doesNotThrow(() => issuesOf(text), text);
  }
});
