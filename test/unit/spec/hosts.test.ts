/** Topologies that span hosts: `host` on containers, `vni` on networks (schema, rules, model). */
import t from 'tap';
import { parseTopology } from '../../../src/spec/index.js';
import { deriveVni, spansHosts } from '../../../src/spec/hosts.js';
import { VNI_MAX } from '../../../src/spec/schema.js';
import { edit, issuesOf } from './fixture.js';

const HOSTS = `apiVersion: vnf/v1
name: t
containers:
  web: { host: h1, interfaces: { eth0: { network: front, ip: 10.1.0.10/24 } } }
  db: { host: h2, interfaces: { eth0: { network: back, ip: 10.2.0.10/24 } } }
networks:
  front: { subnet: 10.1.0.0/24 }
  back: { subnet: 10.2.0.0/24, vni: 4242 }
routers:
  r1: { ports: { front: 10.1.0.1/24, back: 10.2.0.1/24 } }
`;

t.test('containers name their host; every network gets a VNI (the file\'s, or derived from its name)', async (t) => {
  const r = parseTopology(HOSTS, 'h.yaml');
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  t.ok(spansHosts(r.topology));
  t.same(r.topology.containers.map((c) => [c.name, c.host]), [['db', 'h2'], ['web', 'h1']]);
  t.same(r.topology.networks.map((n) => [n.name, n.vni]), [['back', 4242], ['front', deriveVni('front')]]);
  t.ok(deriveVni('front') >= 1 && deriveVni('front') <= VNI_MAX);
  t.equal(deriveVni('front'), deriveVni('front'), 'derived the same on every host');
  t.not(deriveVni('front'), deriveVni('back'));
});

t.test('a one-host topology has no VNIs and no hosts: its model (and generation) is unchanged', async (t) => {
  const r = parseTopology(HOSTS.replace(/host: h\d, /g, '').replace(', vni: 4242', ''), 'h.yaml');
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  t.notOk(spansHosts(r.topology));
  t.ok(r.topology.networks.every((n) => !('vni' in n)));
  t.ok(r.topology.containers.every((c) => !('host' in c)));
});

t.test('a VNI in a one-host topology is a warning, not an error', async (t) => {
  const r = parseTopology(HOSTS.replace(/host: h\d, /g, ''), 'h.yaml');
  t.ok(r.ok);
  const warnings = r.ok ? r.warnings ?? [] : [];
  t.match(JSON.stringify(warnings), /only matters in a topology that spans hosts/);
});

t.test('what a multi-host file may not do', async (t) => {
  t.match(issuesOf(edit(HOSTS, 'db: { host: h2, ', 'db: { ')).map((i) => `${i.path.join(".")} ${i.message}`), [/containers\.db.*name the host it runs on.*web/]);
  t.match(issuesOf(edit(HOSTS, 'vni: 4242', `vni: ${deriveVni('front')}`)).map((i) => `${i.path.join(".")} ${i.message}`), [new RegExp(`networks\\.back\\.vni.*VNI ${deriveVni('front')} is already the VNI of networks\\.front`)]);
  t.match(issuesOf(edit(HOSTS, 'vni: 4242', 'vni: 16777216')).map((i) => `${i.path.join(".")} ${i.message}`), [/vni.*at most 16777215/]);
  t.match(issuesOf(edit(HOSTS, 'vni: 4242', 'vni: 0')).map((i) => `${i.path.join(".")} ${i.message}`), [/vni.*at least 1/]);
  t.match(issuesOf(edit(HOSTS, 'host: h1', 'host: "h 1"')).map((i) => `${i.path.join(".")} ${i.message}`), [/containers\.web\.host/]);
  t.match(issuesOf(edit(HOSTS, '  back: { subnet: 10.2.0.0/24, vni: 4242 }', '  back: { subnet: 10.2.0.0/24, vni: 4242, uplink: { interface: ext0 } }')).map((i) => `${i.path.join(".")} ${i.message}`),
    [/networks\.back\.uplink.*not supported in a topology that spans hosts/]);
});
