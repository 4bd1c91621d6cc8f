/**
 * Small things a user of the lab expects: the host side of every lab veth says whose it is
 * (`ip link` shows "alias vnf <topology> <container>/<interface>"), `lab down NAME` works from the
 * record without the file, and `-o` takes any case.
 */
import t from 'tap';
import { existsSync, readFileSync } from 'node:fs';
import { requirePrivileges } from '../helpers/privilege.js';
import { vnfctl } from '../helpers/cli.js';
import { labFile, labUp, TWO_NETS } from '../helpers/lab.js';
import { run } from '../helpers/sh.js';
import { hostVethName, pinDir } from '../../src/model/names.js';

if (requirePrivileges(t)) {
  t.test('lab veths carry an alias; lab down NAME; -o in any case', async (t) => {
    const lab = labUp(t, TWO_NETS, ['a', 'b', 'c']);
    for (const c of ['a', 'b', 'c']) {
      const host = hostVethName(lab.name, c, 'eth0');
      t.equal(readFileSync(`/sys/class/net/${host}/ifalias`, 'utf8').trim(), `vnf ${lab.name} ${c}/eth0`, `${host} says it is ${c}/eth0`);
    }
    const g = vnfctl(['get', lab.name, '-o', 'JSON']);
    t.equal(g.status, 0, '-o JSON is -o json');
    t.doesNotThrow(() => JSON.parse(g.stdout));

    const neither = vnfctl(['lab', 'down']);
    t.equal(neither.status, 2, 'lab down without a name or file: exit 2');
    t.match(neither.stderr, /a topology NAME or -f FILE/);
    const down = vnfctl(['lab', 'down', lab.name]);
    t.equal(down.status, 0, `lab down NAME: exit 0 ${down.stderr}`);
    t.match(down.stdout, /3 namespaces removed/);
    for (const c of ['a', 'b', 'c']) t.not(run('ip', ['netns', 'pids', lab.ns(c)]).status, 0, `namespace of ${c} is gone`);
    t.notOk(existsSync(pinDir(lab.name)), 'pins are gone');
    const bare = labFile(t, 'apiVersion: vnf/v1\nname: NAME\nnetworks:\n  lan: { subnet: 10.66.9.0/24 }\n', []);
    t.equal(vnfctl(['apply', '-f', bare.file]).status, 0, 'a topology applied without a lab');
    const notLab = vnfctl(['lab', 'down', bare.name]);
    t.equal(notLab.status, 2, 'lab down NAME of a topology that is not a lab: exit 2');
    t.match(notLab.stderr, /is not a lab .*vnf-ctl destroy/);
    t.ok(existsSync(pinDir(bare.name)), 'and it is still applied');
    const again = vnfctl(['lab', 'down', lab.name]);
    t.equal(again.status, 2, 'again: exit 2');
    t.match(again.stderr, /no record of a topology named/);
  });
}
