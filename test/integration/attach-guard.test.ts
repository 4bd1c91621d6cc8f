/**
 * Defect 11: attach refuses what would break the host or another topology — the loopback
 * interface, a port of another applied topology, a name bpffs cannot pin, and (unless --force)
 * anything but a veth. Each refusal is exit 2 with one message, and nothing gets attached.
 * (The default-route interface cannot be attached safely on a test host: its detection is unit-
 * tested in test/unit/observe/default-route.test.ts.) Lab namespaces of two topologies do not
 * collide even when their names could be joined the same way.
 */
import t, { type Test } from 'tap';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requirePrivileges } from '../helpers/privilege.js';
import { vnfctl } from '../helpers/cli.js';
import { labUp, TWO_NETS } from '../helpers/lab.js';
import { nsExec, randomName } from '../helpers/netns.js';
import { run, sh } from '../helpers/sh.js';
import { getTopology, handContainer } from '../helpers/vnf.js';
import { hostVethName, labNetns, linksDir, pinDir, stateDir } from '../../src/model/names.js';

const BARE = `
apiVersion: vnf/v1
name: NAME
networks:
  lan: { subnet: 10.68.1.0/24 }
`;

const attached = (name: string): string[] => getTopology(name).interfaces.filter((i) => i.owner === 'attached').map((i) => i.ifname).sort();
const linkPins = (name: string): string[] => (existsSync(linksDir(name)) ? readdirSync(linksDir(name)).sort() : []);

/** A host interface created with `ip link add NAME ...`, removed at teardown. */
function hostLink(t: Test, name: string, ...args: string[]): string {
  t.teardown(() => { run('ip', ['link', 'del', name]); });
  sh('ip', ['link', 'add', name, ...args]);
  sh('ip', ['link', 'set', name, 'up']);
  return name;
}

if (requirePrivileges(t)) {
  t.test('attach refuses lo, a port of another topology, an unpinnable name and a non-veth; --force takes the non-veth', async (t) => {
    const lab = labUp(t, TWO_NETS, ['a', 'b', 'c']);
    const other = labUp(t, BARE, []);
    const x = handContainer(t, '10.68.1.50/24');
    t.equal(vnfctl(['attach', x.host, '--topology', other.name, '--network', 'lan', '--ip', '10.68.1.50/24', '--netns', x.netnsPath]).status, 0, 'x is attached to the other topology');

    const dotted = `v.${randomName('').slice(0, 6)}`;
    hostLink(t, dotted, 'type', 'veth', 'peer', 'name', randomName('vp'));
    const bridge = hostLink(t, randomName('vb'), 'type', 'bridge');
    const before = attached(lab.name);
    const pinsBefore = linkPins(lab.name);

    const cases: Array<[string, string, RegExp]> = [
      ['the loopback interface', 'lo', /cannot attach lo is the loopback interface/],
      ['a port (from the file) of another topology', hostVethName(lab.name, 'a', 'eth0'), new RegExp(`is a port of topology ${lab.name}; detach it there first`)],
      ['an attached port of another topology', x.host, new RegExp(`is a port of topology ${other.name}; detach it there first`)],
      ['a name bpffs cannot pin', dotted, /bpffs cannot hold this one/],
      ['a bridge device without --force', bridge, /is a bridge interface.*--force/],
      ['an interface that does not exist', randomName('nosuch'), /no interface named/],
    ];
    for (const [what, ifname, message] of cases) {
      const target = ifname === hostVethName(lab.name, 'a', 'eth0') ? other.name : lab.name;
      const net = target === lab.name ? ['--network', 'right', '--ip', '10.61.2.60/24'] : ['--network', 'lan', '--ip', '10.68.1.60/24'];
      const r = vnfctl(['attach', ifname, '--topology', target, ...net]);
      t.equal(r.status, 2, `${what}: exit 2`);
      t.match(r.stderr, message, `${what}: says why (${r.stderr.trim()})`);
      t.equal(r.stderr.trim().split('\n').length, 1, `${what}: one message`);
    }
    t.same(attached(lab.name), before, 'nothing was attached to the topology');
    t.same(linkPins(lab.name), pinsBefore, 'no link was pinned');
    t.same(attached(other.name), [x.host], 'the other topology keeps its own port and gets no other');
    t.match(vnfctl(['plan', '-f', lab.file]).stdout, /no changes/, 'and the topology is as applied');

    const forced = vnfctl(['attach', bridge, '--topology', lab.name, '--network', 'right', '--ip', '10.61.2.60/24', '--force']);
    t.equal(forced.status, 0, `with --force the bridge device is attached: ${forced.stderr}`);
    t.same(attached(lab.name), [bridge], 'it is a port now');
    t.same(getTopology(lab.name).interfaces.find((i) => i.ifname === bridge)?.links.sort(), ['egress', 'ingress'], 'with both links');
    const d = vnfctl(['detach', bridge]);
    t.equal(d.status, 0, d.stderr);
    t.same(attached(lab.name), [], 'and detached again');
    const lo = vnfctl(['attach', 'lo', '--topology', lab.name, '--network', 'right', '--ip', '10.61.2.61/24', '--force']);
    t.equal(lo.status, 2, '--force never takes the loopback interface');
  });

  t.test('lab namespaces: topology X-b container c and topology X container b-c do not collide', async (t) => {
    const prefix = randomName('t');
    const labs = [
      { name: `${prefix}-b`, container: 'c' },
      { name: prefix, container: 'b-c' },
    ];
    const dir = mkdtempSync(join(tmpdir(), 'vnf-lab-'));
    const files = labs.map((l) => join(dir, `${l.name}.yaml`));
    t.teardown(() => {
      for (const [i, l] of labs.entries()) {
        vnfctl(['lab', 'down', '-f', files[i]!]);
        run('ip', ['netns', 'del', labNetns(l.name, l.container)]);
        rmSync(pinDir(l.name), { recursive: true, force: true });
        rmSync(stateDir(l.name), { recursive: true, force: true });
      }
      rmSync(dir, { recursive: true, force: true });
    });
    for (const [i, l] of labs.entries()) {
      writeFileSync(files[i]!, `
apiVersion: vnf/v1
name: ${l.name}
containers:
  ${l.container}: { interfaces: { eth0: { network: lan, ip: 10.68.2.${10 + i}/24 } } }
networks:
  lan: { subnet: 10.68.2.0/24 }
`);
      const r = vnfctl(['lab', 'up', '-f', files[i]!]);
      t.equal(r.status, 0, `lab up ${l.name}: ${r.stderr}`);
    }
    const [n0, n1] = labs.map((l) => labNetns(l.name, l.container));
    t.not(n0, n1, `two namespaces: ${n0}, ${n1}`);
    t.ok(existsSync(`/run/netns/${n0}`) && existsSync(`/run/netns/${n1}`), 'both exist');
    t.match(nsExec(n1!, ['ip', '-4', 'addr', 'show', 'eth0']), /10\.68\.2\.11\//, `${n1} holds the second lab's container`);
    t.equal(vnfctl(['lab', 'down', '-f', files[0]!]).status, 0, 'lab down of the first');
    t.equal(existsSync(`/run/netns/${n0}`), false, 'removes its namespace');
    t.ok(existsSync(`/run/netns/${n1}`), 'and not the other');
    const ex = vnfctl(['lab', 'exec', '-t', labs[1]!.name, 'b-c', '--', 'ip', '-4', 'addr', 'show', 'eth0']);
    t.equal(ex.status, 0, 'the second lab still runs');
    t.match(ex.stdout, /10\.68\.2\.11\//);
  });
}
