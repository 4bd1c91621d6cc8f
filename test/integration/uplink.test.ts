/**
 * Uplinks: a network's host interface with the world behind it. Applying a topology whose uplink
 * is missing, the loopback interface, a non-veth or another topology's port fails with one
 * message and changes nothing; a working uplink carries traffic of many hosts (no identity
 * checks), and lab down removes what lab up made for it.
 */
import t, { type Test } from 'tap';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requirePrivileges } from '../helpers/privilege.js';
import { vnfctl } from '../helpers/cli.js';
import { labUp, TWO_NETS } from '../helpers/lab.js';
import { nsExec, ping, randomName } from '../helpers/netns.js';
import { run, sh } from '../helpers/sh.js';
import { getTopology } from '../helpers/vnf.js';
import { hostVethName, pinDir, stateDir } from '../../src/model/names.js';

const WITH_UPLINK = (ifname: string, lab = true) => `
apiVersion: vnf/v1
name: NAME
containers:
  a: { interfaces: { eth0: { network: lan, ip: 10.83.1.10/24 } } }
networks:
  lan: { subnet: 10.83.1.0/24 }
  wan:
    subnet: 198.18.0.0/24
    uplink: { interface: ${ifname}${lab ? ', lab: { namespace: world, ip: 198.18.0.1 }' : ''} }
routers:
  r: { ports: { lan: 10.83.1.1/24, wan: 198.18.0.2/24 }, routes: [ { to: 0.0.0.0/0, via: 198.18.0.1 } ] }
`;

function hostLink(t: Test, name: string, ...args: string[]): string {
  t.teardown(() => { run('ip', ['link', 'del', name]); });
  sh('ip', ['link', 'add', name, ...args]);
  sh('ip', ['link', 'set', name, 'up']);
  return name;
}

/** A topology file that is never brought up by the test's own means (apply only), removed at teardown. */
function plainFile(t: Test, yaml: string): { name: string; file: string } {
  const name = randomName('t').slice(0, 8);
  const dir = mkdtempSync(join(tmpdir(), 'vnf-up-'));
  const file = join(dir, 'topology.yaml');
  writeFileSync(file, yaml.replaceAll('NAME', name));
  t.teardown(() => {
    vnfctl(['destroy', name]);
    rmSync(pinDir(name), { recursive: true, force: true });
    rmSync(stateDir(name), { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
  });
  return { name, file };
}

if (requirePrivileges(t)) {
  t.test('a bad uplink is refused with one message and nothing is applied', async (t) => {
    const other = labUp(t, TWO_NETS, ['a', 'b', 'c']);
    const bridge = hostLink(t, randomName('vb'), 'type', 'bridge');
    const cases: Array<[string, string, RegExp]> = [
      ['a missing interface', randomName('nosuch'), /the uplink interface \S+ of network wan does not exist: create it/],
      ['the loopback interface', 'lo', /the uplink of network wan: lo is the loopback interface/],
      ['a bridge device', bridge, /is a bridge interface; vnf delivers into ports through veth pairs$/m],
      ['a port of another topology', hostVethName(other.name, 'a', 'eth0'), new RegExp(`is a port of topology ${other.name}`)],
    ];
    for (const [what, ifname, message] of cases) {
      // Containers without a lab: the file's container interface is made by hand.
      const f = plainFile(t, WITH_UPLINK(ifname, false).replace(/containers:\n.*\n/, ''));
      const r = vnfctl(['apply', '-f', f.file]);
      t.equal(r.status, 2, `${what}: exit 2 (${r.stderr.trim()})`);
      t.match(r.stderr, message, `${what}: says why`);
      t.equal(r.stderr.trim().split('\n').length, 1, `${what}: one message`);
      t.notOk(existsSync(pinDir(f.name)), `${what}: nothing pinned`);
    }
    t.match(vnfctl(['plan', '-f', other.file]).stdout, /no changes/, 'the other topology is untouched');
  });

  t.test('an uplink carries the world: many sources, no identity checks; lab down removes it', async (t) => {
    const up = `${randomName('u').slice(0, 8)}`;
    const lab = labUp(t, WITH_UPLINK(up), ['a', 'world']);
    const world = lab.ns('world');
    t.ok(existsSync(`/run/netns/${world}`), 'lab up made the namespace behind the uplink');
    t.same(getTopology(lab.name).interfaces.find((i) => i.ifname === up)?.owner, 'uplink', 'vnf-ctl get shows the uplink');
    // The world answers from many addresses; the containers know no route back, only the router does.
    nsExec(world, ['ip', 'route', 'add', '10.83.1.0/24', 'via', '198.18.0.2']);
    for (const extra of ['203.0.113.7', '192.0.2.99']) nsExec(world, ['ip', 'addr', 'add', `${extra}/32`, 'dev', 'lo']);
    ping(lab.ns('a'), '198.18.0.1', 1);
    for (const dst of ['198.18.0.1', '203.0.113.7', '192.0.2.99']) t.equal(ping(lab.ns('a'), dst, 2), 2, `a reaches ${dst} behind the uplink`);
    t.match(vnfctl(['plan', '-f', lab.file]).stdout, /no changes/, 'plan after traffic: no changes');
    t.equal(vnfctl(['lab', 'down', '-f', lab.file]).status, 0, 'lab down');
    t.notOk(existsSync(`/run/netns/${world}`), 'removed the namespace');
    t.equal(run('ip', ['link', 'show', up]).status, 1, 'and the uplink interface');
  });
}
