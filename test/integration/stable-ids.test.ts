/**
 * Defect 2: the dataplane keys learned state by network id (FDB, neighbours), so an id must keep
 * its meaning across edits of the file. Adding a network whose name sorts first must not
 * renumber the others (which would hand one network's learned MACs to another), and a port that
 * moves to another network must never again receive unicast sent to its MAC on the old one.
 */
import t, { type Test } from 'tap';
import { writeFileSync } from 'node:fs';
import { requirePrivileges } from '../helpers/privilege.js';
import { vnfctl } from '../helpers/cli.js';
import { labUp } from '../helpers/lab.js';
import { nsExec, ping } from '../helpers/netns.js';
import { capture, counted, getStats, getTopology, handContainer, macIn } from '../helpers/vnf.js';

const NETS = `
networks:
  left: { subnet: 10.63.1.0/24 }
  right: { subnet: 10.63.2.0/24 }`;
const topology = (b: string, extraNets = ''): string => `
apiVersion: vnf/v1
name: NAME
containers:
  a: { interfaces: { eth0: { network: left, ip: 10.63.1.10/24 } } }
  b: { interfaces: { eth0: ${b} } }
  c: { interfaces: { eth0: { network: right, ip: 10.63.2.10/24 } } }
${NETS}${extraNets}
routers:
  r: { ports: { left: 10.63.1.1/24, right: 10.63.2.1/24 } }
`;
const B_LEFT = '{ network: left, ip: 10.63.1.11/24 }';
const B_RIGHT = '{ network: right, ip: 10.63.2.11/24 }';
const CONTAINERS = ['a', 'b', 'c'];

function apply(t: Test, file: string): void {
  const r = vnfctl(['apply', '-f', file]);
  t.equal(r.status, 0, `apply: ${r.stderr}`);
}

const ids = (name: string): Record<string, number> => Object.fromEntries(getTopology(name).networks.map((n) => [n.network, n.id]));
const learned = (name: string, mac: string): Array<{ network: string; ifname: string }> =>
  getTopology(name).fdb.filter((f) => f.mac === mac && f.kind === 'learned');

if (requirePrivileges(t)) {
  t.test('a network added with a name that sorts first: every id and every learned MAC stays', async (t) => {
    const lab = labUp(t, topology(B_LEFT), CONTAINERS);
    // Learned state: an interface attached without its namespace (MAC unknown until it speaks).
    const x = handContainer(t, '10.63.1.50/24', '10.63.1.1');
    const att = vnfctl(['attach', x.host, '--topology', lab.name, '--network', 'left', '--ip', '10.63.1.50/24']);
    t.equal(att.status, 0, att.stderr);
    t.equal(ping(x.ns, '10.63.1.10', 2), 2, 'x reaches a');
    const before = ids(lab.name);
    t.same(Object.keys(before).sort(), ['left', 'right']);
    const first = learned(lab.name, x.mac);
    t.same(first.map((f) => [f.network, f.ifname]), [['left', x.host]], 'the bridge learned x on left');

    writeFileSync(lab.file, topology(B_LEFT, '\n  aaa: { subnet: 10.63.0.0/24 }').replaceAll('NAME', lab.name));
    apply(t, lab.file);
    const after = ids(lab.name);
    t.equal(after['left'], before['left'], 'left keeps its id');
    t.equal(after['right'], before['right'], 'right keeps its id');
    t.ok(after['aaa'] !== undefined && after['aaa'] !== before['left'] && after['aaa'] !== before['right'], `aaa got a new id (${after['aaa']})`);
    const still = learned(lab.name, x.mac);
    t.equal(still.length, 1, 'the learned MAC of x is still there');
    t.equal(still[0]?.network, 'left', 'on left');
    t.equal(still[0]?.ifname, x.host, 'pointing at x');
    t.equal(ping(lab.ns('a'), '10.63.1.50', 2), 2, 'a still reaches x');
    t.match(vnfctl(['plan', '-f', lab.file]).stdout, /no changes/, 'plan after apply is empty');
  });

  t.test('a file container moved to another network never receives unicast sent to it on the old one', async (t) => {
    const lab = labUp(t, topology(B_LEFT), CONTAINERS);
    const bMac = macIn(lab.ns('b'));
    t.equal(ping(lab.ns('a'), '10.63.1.11', 2), 2, 'a reaches b on left');
    // lab up does not readdress an interface that exists: move b's address by hand, then apply
    // the edited file through lab up (the same veth, so the same port, changes network).
    writeFileSync(lab.file, topology(B_RIGHT).replaceAll('NAME', lab.name));
    nsExec(lab.ns('b'), ['ip', 'addr', 'flush', 'dev', 'eth0']);
    nsExec(lab.ns('b'), ['ip', 'addr', 'add', '10.63.2.11/24', 'dev', 'eth0']);
    const up = vnfctl(['lab', 'up', '-f', lab.file]);
    t.equal(up.status, 0, up.stderr);
    t.equal(getTopology(lab.name).interfaces.find((i) => i.mac === bMac)?.network, 'right', 'b is a port of right now');
    t.equal(ping(lab.ns('c'), '10.63.2.11', 2), 2, 'c reaches b on right');

    // a still believes b is on left, at its MAC.
    nsExec(lab.ns('a'), ['ip', 'neigh', 'replace', '10.63.1.11', 'lladdr', bMac, 'dev', 'eth0', 'nud', 'permanent']);
    const s0 = getStats(lab.name);
    let replies = -1;
    const seen = await capture(lab.ns('b'), 'eth0', 'icmp and src host 10.63.1.10', () => { replies = ping(lab.ns('a'), '10.63.1.11', 5); });
    t.equal(seen, 0, 'no frame from a reaches b');
    t.equal(replies, 0, 'no reply');
    const s1 = getStats(lab.name);
    const stopped = counted(s1, 'bridge', 'drop:cross-network') - counted(s0, 'bridge', 'drop:cross-network') + counted(s1, 'bridge', 'flood') - counted(s0, 'bridge', 'flood');
    t.ok(stopped >= 5, `the bridge dropped them as cross-network or flooded them on left only (${stopped})`);
    t.notOk(getTopology(lab.name).fdb.some((f) => f.mac === bMac && f.network === 'left'), 'no FDB entry of left points at b any more');
  });

  t.test('an attached interface moved to another network loses what left learned about it', async (t) => {
    const lab = labUp(t, topology(B_LEFT), CONTAINERS);
    const x = handContainer(t, '10.63.1.50/24');
    t.equal(vnfctl(['attach', x.host, '--topology', lab.name, '--network', 'left', '--ip', '10.63.1.50/24']).status, 0);
    t.equal(ping(x.ns, '10.63.1.10', 2), 2, 'x reaches a on left');
    t.same(learned(lab.name, x.mac).map((f) => f.network), ['left'], 'left learned x');

    // Attaching again to another network moves the port (same interface, same ifindex).
    nsExec(x.ns, ['ip', 'addr', 'flush', 'dev', 'eth0']);
    nsExec(x.ns, ['ip', 'addr', 'add', '10.63.2.50/24', 'dev', 'eth0']);
    const mv = vnfctl(['attach', x.host, '--topology', lab.name, '--network', 'right', '--ip', '10.63.2.50/24']);
    t.equal(mv.status, 0, mv.stderr);
    t.equal(getTopology(lab.name).interfaces.find((i) => i.ifname === x.host)?.network, 'right', 'x is a port of right now');
    t.same(learned(lab.name, x.mac).filter((f) => f.network === 'left'), [], "left's learned entry for x was removed with the move");
    t.equal(ping(x.ns, '10.63.2.10', 2), 2, 'x reaches c on right');

    nsExec(lab.ns('a'), ['ip', 'neigh', 'replace', '10.63.1.50', 'lladdr', x.mac, 'dev', 'eth0', 'nud', 'permanent']);
    const s0 = getStats(lab.name);
    let replies = -1;
    const seen = await capture(x.ns, 'eth0', 'icmp and src host 10.63.1.10', () => { replies = ping(lab.ns('a'), '10.63.1.50', 5); });
    t.equal(seen, 0, 'unicast from a to the old MAC on left never reaches x');
    t.equal(replies, 0);
    const s1 = getStats(lab.name);
    const stopped = counted(s1, 'bridge', 'drop:cross-network') - counted(s0, 'bridge', 'drop:cross-network') + counted(s1, 'bridge', 'flood') - counted(s0, 'bridge', 'flood');
    t.ok(stopped >= 5, `the bridge dropped them as cross-network or flooded them on left only (${stopped})`);
  });
}
