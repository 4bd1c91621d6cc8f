/**
 * Defect 1: names given on the command line end up in paths vnf removes (`destroy` is an
 * `rm -r` of /sys/fs/bpf/vnf/<name> and /run/vnf/<name>). A name that is empty, "." or "..",
 * or holds a '/', must be refused as invalid input before any path is made from it: exit 2,
 * one readable message, and nothing removed — not the applied topology, not its record, not
 * vnf's roots, not the rest of bpffs.
 */
import t from 'tap';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { requirePrivileges } from '../helpers/privilege.js';
import { vnfctl } from '../helpers/cli.js';
import { labUp, TWO_NETS } from '../helpers/lab.js';
import { ping } from '../helpers/netns.js';
import { tree } from '../helpers/vnf.js';
import { pinDir, stateDir, VNF_PIN_ROOT, VNF_RUN_ROOT } from '../../src/model/names.js';

const HOSTILE: string[][] = [
  ['destroy', ''],
  ['destroy', '.'],
  ['destroy', '..'],
  ['destroy', '../vnf'],
  ['destroy', 'a/b'],
  ['destroy', '../../run'],
  ['detach', 'X', '--topology', '..'],
  ['attach', 'lo', '--topology', '..', '--network', 'left', '--ip', '10.61.1.99/24'],
  ['get', '..'],
  ['stats', '../x'],
  ['conntrack', '..'],
  ['conntrack', '..', '--flush'],
  ['lab', 'exec', '-t', '..', 'c', '--', 'true'],
];

if (requirePrivileges(t)) {
  t.test('hostile topology names: exit 2, one message, nothing removed, traffic still flows', async (t) => {
    // A folder beside vnf's root in bpffs: `destroy ..` would reach it through /sys/fs/bpf/vnf/..
    const sentinel = `/sys/fs/bpf/vnft-${randomBytes(3).toString('hex')}`;
    t.teardown(() => rmSync(sentinel, { recursive: true, force: true }));
    mkdirSync(`${sentinel}/keep`, { recursive: true });
    const lab = labUp(t, TWO_NETS, ['a', 'b', 'c']);
    const record = `${stateDir(lab.name)}/state.json`;
    const pins = tree(pinDir(lab.name));
    t.ok(pins.length > 10, `the topology has its pins (${pins.length})`);
    t.ok(existsSync(record), 'and its record');
    t.equal(ping(lab.ns('a'), '10.61.2.10', 2), 2, 'traffic flows before');

    for (const argv of HOSTILE) {
      const r = vnfctl(argv);
      const shown = argv.map((a) => (a === '' ? "''" : a)).join(' ');
      t.equal(r.status, 2, `vnf-ctl ${shown}: exit 2`);
      const lines = r.stderr.trim().split('\n');
      t.equal(lines.length, 1, `vnf-ctl ${shown}: one line on stderr (${r.stderr.trim()})`);
      t.match(lines[0], /^vnf-ctl: (topology name must not be empty|invalid topology name ".*": use lowercase letters)/, `vnf-ctl ${shown}: says what is wrong with the name`);
      t.equal(r.stdout, '', `vnf-ctl ${shown}: prints nothing else`);
    }

    t.same(tree(pinDir(lab.name)), pins, 'every pin of the topology is still there');
    t.ok(existsSync(record), 'its record is still there');
    t.ok(existsSync(VNF_PIN_ROOT) && existsSync(VNF_RUN_ROOT), "vnf's roots are still there");
    t.ok(existsSync(`${sentinel}/keep`), 'the rest of /sys/fs/bpf is untouched');
    t.equal(ping(lab.ns('a'), '10.61.2.10', 2), 2, 'traffic still flows across the router');
    t.equal(ping(lab.ns('a'), '10.61.1.11', 2), 2, 'and across the bridge');
  });

  t.test('destroy of a valid name that is neither applied nor recorded: exit 2, nothing removed', async (t) => {
    const lab = labUp(t, TWO_NETS, ['a', 'b', 'c']);
    const pins = tree(pinDir(lab.name));
    const other = `t${randomBytes(3).toString('hex')}`;
    t.teardown(() => {
      rmSync(pinDir(other), { recursive: true, force: true });
      rmSync(stateDir(other), { recursive: true, force: true });
    });
    const r = vnfctl(['destroy', other]);
    t.equal(r.status, 2, 'exit 2');
    t.match(r.stderr, new RegExp(`^vnf-ctl: no topology named ${other} \\(applied: .*${lab.name}.*\\)\\n$`), 'one message naming the applied topologies');
    t.equal(existsSync(pinDir(other)) || existsSync(stateDir(other)), false, 'nothing was created for the unknown name');
    t.same(tree(pinDir(lab.name)), pins, 'the applied topology is untouched');
    t.ok(existsSync(`${stateDir(lab.name)}/state.json`), 'and so is its record');
    t.equal(ping(lab.ns('a'), '10.61.1.11', 2), 2, 'traffic still flows');
  });
}
