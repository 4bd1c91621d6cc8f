/** Uplinks: a network's host interface with the world behind it (schema, rules, model, compile). */
import t from 'tap';
import { parseTopology } from '../../../src/spec/index.js';
import { compile } from '../../../src/model/compile.js';
import { assignIds, emptyIds } from '../../../src/model/ids.js';
import { hostVethName } from '../../../src/model/names.js';
import { portCodec, VNF_PORT_F_SPOOFCHK } from '../../../src/vnf/common/codec.js';
import { VNF_MAP_PORTS } from '../../../src/abi/vnf_common.js';
import { hex } from '../../../src/model/desired.js';
import { formatIssue } from '../../../src/spec/index.js';
import { edit, issuesOf, lineOf } from './fixture.js';

const UPLINK = `apiVersion: vnf/v1
name: t
containers:
  web:
    interfaces:
      eth0: { network: front, ip: 10.1.0.10/24 }
networks:
  front: { subnet: 10.1.0.0/24 }
  wan:
    subnet: 192.0.2.0/24
    uplink: { interface: ext0, lab: { namespace: internet, ip: 192.0.2.1 } }
routers:
  r1:
    ports: { front: 10.1.0.1/24, wan: 192.0.2.2/24 }
    routes: [ { to: 0.0.0.0/0, via: 192.0.2.1 } ]
`;

t.test('an uplink is part of the model', async (t) => {
  const r = parseTopology(UPLINK);
  t.ok(r.ok);
  if (!r.ok) return;
  const wan = r.topology.networks.find((n) => n.name === 'wan');
  t.same(wan?.uplink, { interface: 'ext0', lab: { namespace: 'internet', ip: 0xc0000201 } });
  t.equal(r.topology.networks.find((n) => n.name === 'front')?.uplink, undefined);
});

t.test('bad uplinks are refused with their position', async (t) => {
  const bad = (from: string, to: string, needle: string, message: RegExp) => {
    const text = edit(UPLINK, from, to);
    const issues = issuesOf(text);
    const hit = issues.find((i) => message.test(i.message));
    t.ok(hit, `${message}: ${issues.map((i) => formatIssue(i)).join(' | ')}`);
    if (hit) t.equal(hit.line, lineOf(text, needle), `line of ${message}`);
  };
  bad('interface: ext0', 'interface: "ext 0"', 'interface: "ext 0"', /whitespace are not allowed/);
  bad('interface: ext0', 'interface: ext.0', 'interface: ext.0', /cannot be a pin name/);
  bad('namespace: internet', 'namespace: web', 'namespace: web', /already the name of containers\.web/);
  bad('ip: 192.0.2.1 }', 'ip: 192.0.2.2 }', 'ip: 192.0.2.2 }', /192\.0\.2\.2 is already used on network "wan" by routers\.r1\.ports\.wan/);
  bad('ip: 192.0.2.1 }', 'ip: 10.1.0.7 }', 'ip: 10.1.0.7 }', /outside network "wan"/);
  bad('uplink: { interface: ext0,', 'uplink: { interface: ext0, mtu: 9000,', 'mtu: 9000', /unrecognized key|mtu/i);
  // One interface is the uplink of one network only.
  const two = edit(UPLINK, '  front: { subnet: 10.1.0.0/24 }', '  front: { subnet: 10.1.0.0/24, uplink: { interface: ext0 } }');
  const issues = issuesOf(two);
  t.ok(issues.some((i) => /interface ext0 is already the uplink of networks\.front\.uplink/.test(i.message)), issues.map((i) => i.message).join(' | '));
});

t.test('an uplink port carries the world: no identity checks, no address, no MAC', async (t) => {
  const r = parseTopology(UPLINK);
  if (!r.ok) throw new Error('valid');
  const topo = r.topology;
  const ids = assignIds(emptyIds(), topo);
  const d = compile({
    topology: topo, ids, attachments: [],
    fileInterfaces: new Map([['web/eth0', { ifname: hostVethName('t', 'web', 'eth0'), ifindex: 100 }]]),
    uplinks: new Map([['wan', { ifname: 'ext0', ifindex: 7 }]]),
  });
  const ports = d.maps[VNF_MAP_PORTS]!;
  const up = portCodec.decode(ports.get(hex(Buffer.from(Uint32Array.of(7).buffer)))!);
  const web = portCodec.decode(ports.get(hex(Buffer.from(Uint32Array.of(100).buffer)))!);
  t.equal(up.network, ids.networks.get('wan'));
  t.equal(up.flags & VNF_PORT_F_SPOOFCHK, 0, 'the uplink is not identity-checked');
  t.equal(up.ip, 0);
  t.equal(up.mac, '00:00:00:00:00:00');
  t.equal(web.flags & VNF_PORT_F_SPOOFCHK, VNF_PORT_F_SPOOFCHK, 'a container port still is');
  t.same(d.interfaces.find((i) => i.ifindex === 7), { ifname: 'ext0', ifindex: 7, source: 'uplink', network: 'wan' });
  t.throws(() => compile({ topology: topo, ids, attachments: [], fileInterfaces: new Map([['web/eth0', { ifname: 'x', ifindex: 100 }]]) }), /no host interface resolved for the uplink/);
});
