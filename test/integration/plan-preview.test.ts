/**
 * `plan` before anything exists: a new topology is previewed before `lab up` — the interfaces the
 * lab creates (file containers, a lab uplink) are listed as pending and planned as if they
 * existed, in the file's names — and the plan creates nothing. `--detailed-exitcode` gives CI
 * 0 for no changes, 2 for changes and 1 for every error (invalid input too).
 */
import t from 'tap';
import { existsSync } from 'node:fs';
import { requirePrivileges } from '../helpers/privilege.js';
import { vnfctl } from '../helpers/cli.js';
import { labFile } from '../helpers/lab.js';
import { hostVethName, labNetns, pinDir, stateDir } from '../../src/model/names.js';
import { writeFileSync } from 'node:fs';
import { run } from '../helpers/sh.js';

const FILE = `
apiVersion: vnf/v1
name: NAME
containers:
  web: { interfaces: { eth0: { network: front, ip: 10.65.1.10/24 } } }
networks:
  front: { subnet: 10.65.1.0/24 }
  wan: { subnet: 192.0.2.0/24, uplink: { interface: UPLINK, lab: { namespace: internet, ip: 192.0.2.1 } } }
routers:
  r: { ports: { front: 10.65.1.1/24, wan: 192.0.2.2/24 }, nat: { outside: wan } }
`;

if (requirePrivileges(t)) {
  t.test('plan before lab up previews the topology in its own names and creates nothing', async (t) => {
    const uplink = `pu${Math.random().toString(16).slice(2, 8)}`;
    const lab = labFile(t, FILE.replace('UPLINK', uplink), ['web', 'internet']);
    t.teardown(() => { run('ip', ['link', 'del', uplink]); });
    const web = hostVethName(lab.name, 'web', 'eth0');

    const p = vnfctl(['plan', '-f', lab.file]);
    t.equal(p.status, 0, `plan of a topology whose interfaces do not exist yet: exit 0 ${p.stderr}`);
    t.match(p.stdout, new RegExp(`2 interfaces not there yet, planned as \`vnf-ctl lab up -f .*\` creates them: web/eth0 \\(${web}\\), the uplink of wan \\(${uplink}\\)`));
    t.match(p.stdout, new RegExp(`port ${web}: network front, 10\\.65\\.1\\.10/24`), 'ports in the file\'s names');
    t.match(p.stdout, /network wan \(id \d+\).*router r at 192\.0\.2\.2/, 'networks and routers by name');
    t.notMatch(p.stdout, /network #\d|router #\d/, 'no bare ids');

    const j = vnfctl(['plan', '-f', lab.file, '-o', 'json']);
    t.equal(j.status, 0);
    const plan = JSON.parse(j.stdout) as { pending: Array<{ ifname: string; for: string }>; ops: unknown[] };
    t.same(plan.pending, [{ ifname: web, for: 'web/eth0' }, { ifname: uplink, for: 'the uplink of wan' }], 'plan -o json carries the pending interfaces');
    t.ok(plan.ops.length > 0, 'and the operations');

    t.equal(vnfctl(['plan', '-f', lab.file, '--detailed-exitcode']).status, 2, '--detailed-exitcode: 2 while there are changes');
    t.notOk(existsSync(pinDir(lab.name)), 'plan pinned nothing');
    t.notOk(existsSync(stateDir(lab.name)), 'and recorded nothing');
    t.notOk(existsSync(`/sys/class/net/${web}`), 'and created no interface');
    t.equal(run('ip', ['netns', 'pids', labNetns(lab.name, 'web')]).status === 0, false, 'and no namespace');

    const apply = vnfctl(['apply', '-f', lab.file]);
    t.equal(apply.status, 2, 'apply still refuses missing interfaces');
    t.match(apply.stderr, /do not exist/);

    t.equal(vnfctl(['lab', 'up', '-f', lab.file]).status, 0, 'lab up');
    const after = vnfctl(['plan', '-f', lab.file, '--detailed-exitcode']);
    t.equal(after.status, 0, `--detailed-exitcode after lab up: 0, no changes (${after.stdout.split('\n')[0]})`);
    t.notMatch(after.stdout, /not there yet/);

    writeFileSync(lab.file, 'apiVersion: vnf/v1\nname: [broken\n');
    const bad = vnfctl(['plan', '-f', lab.file, '--detailed-exitcode']);
    t.equal(bad.status, 1, '--detailed-exitcode: invalid input is 1, never 2');
    t.equal(vnfctl(['plan', '-f', lab.file]).status, 2, 'without it, invalid input stays 2');
    t.equal(vnfctl(['plan', '--detailed-exitcode']).status, 1, '--detailed-exitcode: a bad invocation (no -f) is 1 too');
    t.equal(vnfctl(['plan', '--detailed-exitcode', '-f', lab.file, '--nope']).status, 1, 'and an unknown option');
  });
}
