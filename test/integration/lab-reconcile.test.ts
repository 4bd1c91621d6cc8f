/**
 * `lab up` on a lab that is up brings it to the edited file: a removed container's namespace and
 * veths go, a changed address or MAC is set inside the namespace (and the port's identity follows),
 * a new container reusing a removed one's address works, and plan afterwards shows nothing.
 */
import t from 'tap';
import { readFileSync, writeFileSync } from 'node:fs';
import { requirePrivileges } from '../helpers/privilege.js';
import { vnfctl } from '../helpers/cli.js';
import { labUp, TWO_NETS } from '../helpers/lab.js';
import { ping } from '../helpers/netns.js';
import { run } from '../helpers/sh.js';
import { hostVethName } from '../../src/model/names.js';

const linkExists = (name: string): boolean => run('ip', ['link', 'show', 'dev', name]).status === 0;
const nsExists = (ns: string): boolean => run('ip', ['netns', 'pids', ns]).status === 0;

if (requirePrivileges(t)) {
  t.test('lab up reconciles a changed lab', async (t) => {
    const lab = labUp(t, TWO_NETS, ['a', 'b', 'c', 'd']);
    t.equal(ping(lab.ns('a'), '10.61.2.10', 2), 2, 'before: a reaches c');
    const cHost = hostVethName(lab.name, 'c', 'eth0');
    t.ok(linkExists(cHost), 'c has its host veth');

    // c goes; d comes with c's old address; b moves to .12 with a new MAC.
    const edited = readFileSync(lab.file, 'utf8')
      .replace(/ {2}c: \{ interfaces: \{ eth0: \{ network: right, ip: 10\.61\.2\.10\/24 \} \} \}\n/, '  d: { interfaces: { eth0: { network: right, ip: 10.61.2.10/24 } } }\n')
      .replace('b: { interfaces: { eth0: { network: left, ip: 10.61.1.11/24 } } }', 'b: { interfaces: { eth0: { network: left, ip: 10.61.1.12/24, mac: "02:00:00:61:01:12" } } }');
    t.not(edited, readFileSync(lab.file, 'utf8'), 'the file was edited');
    writeFileSync(lab.file, edited);

    const up = vnfctl(['lab', 'up', '-f', lab.file]);
    t.equal(up.status, 0, `lab up again: exit 0 ${up.stderr}`);
    t.match(up.stdout, /1 namespaces created, 1 removed/, 'says what it made and removed');
    t.match(up.stdout, /b\/eth0: address 10\.61\.1\.11\/24 -> 10\.61\.1\.12\/24, mac .* -> 02:00:00:61:01:12/, 'and what it changed');

    t.notOk(nsExists(lab.ns('c')), 'c: namespace removed');
    t.notOk(linkExists(cHost), 'c: host veth removed');
    t.ok(nsExists(lab.ns('d')), 'd: namespace made');
    const addr = run('ip', ['-n', lab.ns('b'), '-j', 'addr', 'show', 'dev', 'eth0']);
    const info = JSON.parse(addr.stdout)[0] as { address: string; addr_info: { family: string; local: string }[] };
    t.same(info.addr_info.filter((a) => a.family === 'inet').map((a) => a.local), ['10.61.1.12'], 'b has only its new address');
    t.equal(info.address, '02:00:00:61:01:12', 'and its new MAC');

    t.equal(ping(lab.ns('a'), '10.61.1.12', 2), 2, 'a reaches b at its new address');
    t.equal(ping(lab.ns('b'), '10.61.2.10', 2), 2, 'b, as its new identity, reaches d through the router');
    t.equal(ping(lab.ns('a'), '10.61.1.11', 1), 0, 'nobody answers at b\'s old address');

    // b's port checks the new identity: sending as its old address is a spoof now.
    run('ip', ['-n', lab.ns('b'), 'addr', 'add', '10.61.1.11/32', 'dev', 'eth0']);
    t.equal(ping(lab.ns('b'), '10.61.1.10', 1, ['-I', '10.61.1.11']), 0, 'b sending as its old address is dropped');
    run('ip', ['-n', lab.ns('b'), 'addr', 'del', '10.61.1.11/32', 'dev', 'eth0']);

    const plan = vnfctl(['plan', '-f', lab.file, '--detailed-exitcode']);
    t.equal(plan.status, 0, `plan after: no changes ${plan.stdout}${plan.stderr}`);
    const again = vnfctl(['lab', 'up', '-f', lab.file]);
    t.equal(again.status, 0, 'lab up a third time: exit 0');
    t.match(again.stdout, /0 namespaces created, 0 interfaces changed, 0 operations applied/, 'and it changes nothing');
  });
}
