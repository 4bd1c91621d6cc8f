/**
 * Warnings of a valid file reach the user at every step that reads it: `plan` (stderr, and
 * `warnings` in -o json), `apply` and `lab up` (stderr), without failing; and `-f -` feeds a
 * topology from stdin to plan and apply alike.
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { requirePrivileges } from '../helpers/privilege.js';
import { vnfctl } from '../helpers/cli.js';
import { labFile } from '../helpers/lab.js';
import { ROOT } from '../helpers/paths.js';

const FILE = `
apiVersion: vnf/v1
name: NAME
containers:
  web: { interfaces: { eth0: { network: front, ip: 10.66.1.10/24 } } }
  db: { interfaces: { eth0: { network: front, ip: 10.66.1.20/24 } } }
networks:
  front: { subnet: 10.66.1.0/24 }
firewalls:
  guard:
    attach: [web/eth0]
    ingress:
      default: drop
      rules:
        - { action: allow, proto: tcp, ports: ["1-1024"] }
        - { action: drop, proto: tcp, from: 10.66.1.20, ports: [80], name: never }
`;
const WARNING = /rules\[1\]: warning: rule 1 \(never\) can never match: rule 0 before it matches every packet it would/;

if (requirePrivileges(t)) {
  t.test('plan, lab up and apply show the warning and succeed', async (t) => {
    const lab = labFile(t, FILE, ['web', 'db']);
    const plan = vnfctl(['plan', '-f', lab.file]);
    t.equal(plan.status, 0, plan.stderr);
    t.match(plan.stderr, WARNING, 'plan: on stderr');
    const json = vnfctl(['plan', '-f', lab.file, '-o', 'json']);
    const j = JSON.parse(json.stdout) as { warnings: Array<{ path: string; severity: string; line: number }> };
    t.match(j.warnings, [{ path: 'firewalls.guard.ingress.rules[1]', severity: 'warning', line: FILE.split('\n').findIndex((l) => l.includes('name: never')) + 1 }], 'plan -o json: warnings as objects');
    const up = vnfctl(['lab', 'up', '-f', lab.file]);
    t.equal(up.status, 0, up.stderr);
    t.match(up.stderr, WARNING, 'lab up: on stderr');
    const input = readFileSync(lab.file, 'utf8');
    const again = spawnSync(process.execPath, [join(ROOT, 'dist', 'vnf-ctl.js'), 'apply', '-f', '-'], { input, encoding: 'utf8' });
    t.equal(again.status, 0, again.stderr);
    t.match(again.stderr, WARNING, 'apply -f -: on stderr');
    t.match(again.stdout, /no changes \(the kernel already matches <stdin>\)/, 'apply from stdin: the same topology, nothing to change');
  });
}
