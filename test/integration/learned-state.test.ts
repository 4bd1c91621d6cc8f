/**
 * Defect 3: learned state belongs to the dataplane. A neighbour the router learned from ARP is
 * kept by every command that does not remove what it refers to (its network): `plan` of the
 * unchanged file shows nothing, and `apply`, `attach` of another interface and `detach` leave
 * it in place.
 */
import t from 'tap';
import { requirePrivileges } from '../helpers/privilege.js';
import { vnfctl } from '../helpers/cli.js';
import { labUp } from '../helpers/lab.js';
import { ping } from '../helpers/netns.js';
import { getTopology, handContainer } from '../helpers/vnf.js';

const YAML = `
apiVersion: vnf/v1
name: NAME
containers:
  a: { interfaces: { eth0: { network: left, ip: 10.64.1.10/24 } } }
  c: { interfaces: { eth0: { network: right, ip: 10.64.2.10/24 } } }
networks:
  left: { subnet: 10.64.1.0/24 }
  right: { subnet: 10.64.2.0/24 }
routers:
  r: { ports: { left: 10.64.1.1/24, right: 10.64.2.1/24 } }
`;

if (requirePrivileges(t)) {
  t.test('a neighbour the router learned survives plan, apply, attach and detach', async (t) => {
    const lab = labUp(t, YAML, ['a', 'c']);
    // Attached without its namespace: vnf does not know x's MAC; the router must learn it by ARP.
    const x = handContainer(t, '10.64.2.50/24', '10.64.2.1');
    const att = vnfctl(['attach', x.host, '--topology', lab.name, '--network', 'right', '--ip', '10.64.2.50/24']);
    t.equal(att.status, 0, att.stderr);
    t.match(att.stdout, /mac will be learned/);
    ping(lab.ns('a'), '10.64.2.50', 1); // the first packet may go while the router resolves x
    t.equal(ping(lab.ns('a'), '10.64.2.50', 2), 2, 'a reaches x across the router');
    const neighbour = (): Array<{ network: string; ip: string; mac: string | null; kind: string }> =>
      getTopology(lab.name).neighbours.filter((n) => n.ip === '10.64.2.50');
    t.same(neighbour().map((n) => [n.network, n.mac, n.kind]), [['right', x.mac, 'learned']], 'the router learned x from ARP');

    const p = vnfctl(['plan', '-f', lab.file]);
    t.equal(p.status, 0, 'plan exits 0');
    t.match(p.stdout, /no changes/, 'plan of the unchanged file shows no changes');
    const pj = JSON.parse(vnfctl(['plan', '-f', lab.file, '-o', 'json']).stdout) as { ops: unknown[] };
    t.same(pj.ops, [], 'and no operations (no sweep of learned entries)');

    const a = vnfctl(['apply', '-f', lab.file]);
    t.equal(a.status, 0, a.stderr);
    t.match(a.stdout, /no changes/, 'apply of the unchanged file changes nothing');
    t.same(neighbour().map((n) => n.kind), ['learned'], 'the learned neighbour survives apply');

    const y = handContainer(t, '10.64.1.60/24', '10.64.1.1');
    const ay = vnfctl(['attach', y.host, '--topology', lab.name, '--network', 'left', '--ip', '10.64.1.60/24', '--netns', y.netnsPath]);
    t.equal(ay.status, 0, ay.stderr);
    t.same(neighbour().map((n) => n.kind), ['learned'], 'the learned neighbour survives attach of another interface');
    t.equal(ping(y.ns, '10.64.2.50', 2), 2, 'y reaches x through the router (the neighbour resolves)');

    const d = vnfctl(['detach', y.host]);
    t.equal(d.status, 0, d.stderr);
    t.same(neighbour().map((n) => [n.mac, n.kind]), [[x.mac, 'learned']], 'the learned neighbour survives detach of another interface');
    t.equal(ping(lab.ns('a'), '10.64.2.50', 2), 2, 'a still reaches x');
    t.match(vnfctl(['plan', '-f', lab.file]).stdout, /no changes/, 'and plan is still empty');
  });
}
