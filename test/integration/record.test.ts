/**
 * Defect 6: the record under /run/vnf/<name> is a cache. The kernel holds the truth
 * (attachments are port entries, the applied generation is pinned in vnf_meta): a lost record
 * is rebuilt by the next apply without losing an attachment; a stale record (older than the
 * kernel) is never used to re-apply, which would silently roll the last apply back; a corrupt
 * one does not break the read-only views, and the commands that need it name the way out.
 */
import t from 'tap';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { requirePrivileges } from '../helpers/privilege.js';
import { vnfctl } from '../helpers/cli.js';
import { labUp, TWO_NETS } from '../helpers/lab.js';
import { ping } from '../helpers/netns.js';
import { getTopology, handContainer } from '../helpers/vnf.js';
import { pinDir, stateDir } from '../../src/model/names.js';

const WITH_EXTRA = TWO_NETS.replace('right: { subnet: 10.61.2.0/24 }', 'right: { subnet: 10.61.2.0/24 }\n  extra: { subnet: 10.61.9.0/24 }');
const attachedNames = (name: string): string[] => getTopology(name).interfaces.filter((i) => i.owner === 'attached').map((i) => i.ifname).sort();
const oneLine = (s: string): boolean => s.trim().split('\n').length === 1;

if (requirePrivileges(t)) {
  t.test('a lost record: attachments stay, apply rebuilds it', async (t) => {
    const lab = labUp(t, TWO_NETS, ['a', 'b', 'c']);
    const x = handContainer(t, '10.61.2.50/24', '10.61.2.1');
    t.equal(vnfctl(['attach', x.host, '--topology', lab.name, '--network', 'right', '--ip', '10.61.2.50/24', '--netns', x.netnsPath]).status, 0);
    t.equal(ping(x.ns, '10.61.1.10', 2), 2, 'x carries traffic');

    rmSync(stateDir(lab.name), { recursive: true, force: true });
    const y = handContainer(t, '10.61.2.51/24', '10.61.2.1');
    const refused = vnfctl(['attach', y.host, '--topology', lab.name, '--network', 'right', '--ip', '10.61.2.51/24']);
    t.equal(refused.status, 2, 'attach without a record: exit 2');
    t.match(refused.stderr, /record is missing.*vnf-ctl apply -f FILE/, 'and says how to rebuild it');
    t.ok(oneLine(refused.stderr), 'in one line');
    t.same(attachedNames(lab.name), [x.host], 'get still works from the kernel: x is attached');
    t.equal(ping(x.ns, '10.61.1.10', 2), 2, 'and carries traffic');

    const r = vnfctl(['apply', '-f', lab.file]);
    t.equal(r.status, 0, r.stderr);
    t.notMatch(r.stdout, /detach|dropped/, 'the apply detaches nothing');
    t.ok(existsSync(`${stateDir(lab.name)}/state.json`), 'the record is rebuilt');
    t.same(attachedNames(lab.name), [x.host], 'x is still attached');
    t.same(getTopology(lab.name).interfaces.find((i) => i.ifname === x.host)?.links.sort(), ['egress', 'ingress'], 'with both links');
    t.equal(ping(x.ns, '10.61.1.10', 2), 2, 'x still carries traffic');
    t.equal(vnfctl(['attach', y.host, '--topology', lab.name, '--network', 'right', '--ip', '10.61.2.51/24']).status, 0, 'attach works again');
    t.same(attachedNames(lab.name), [x.host, y.host].sort(), 'and keeps x');
  });

  t.test('a stale record: attach and detach refuse instead of rolling the last apply back; apply fixes it', async (t) => {
    const lab = labUp(t, TWO_NETS, ['a', 'b', 'c']);
    const x = handContainer(t, '10.61.2.50/24', '10.61.2.1');
    t.equal(vnfctl(['attach', x.host, '--topology', lab.name, '--network', 'right', '--ip', '10.61.2.50/24', '--netns', x.netnsPath]).status, 0);
    // The record is two files, the topology and the metadata naming its generation.
    const files = ['state.json', 'topology.json'].map((f) => `${stateDir(lab.name)}/${f}`);
    const old = files.map((f) => readFileSync(f));

    writeFileSync(lab.file, WITH_EXTRA.replaceAll('NAME', lab.name));
    t.equal(vnfctl(['apply', '-f', lab.file]).status, 0, 'a changed file is applied');
    files.forEach((f, i) => writeFileSync(f, old[i])); // the whole record of the apply before
    const networks = (): string[] => getTopology(lab.name).networks.map((n) => n.network).sort();
    t.same(networks(), ['extra', 'left', 'right']);

    const y = handContainer(t, '10.61.2.51/24', '10.61.2.1');
    for (const argv of [
      ['attach', y.host, '--topology', lab.name, '--network', 'right', '--ip', '10.61.2.51/24'],
      ['detach', x.host],
      ['detach', x.host, '--topology', lab.name],
    ]) {
      const r = vnfctl(argv);
      t.equal(r.status, 2, `${argv[0]} with a stale record: exit 2`);
      t.match(r.stderr, /does not describe what the kernel runs.*vnf-ctl apply -f/, 'tells to apply the file');
      t.ok(oneLine(r.stderr), 'in one line');
    }
    t.same(networks(), ['extra', 'left', 'right'], 'the last apply was not rolled back');
    t.same(attachedNames(lab.name), [x.host], 'nothing attached or detached');

    t.equal(vnfctl(['apply', '-f', lab.file]).status, 0, 'apply -f FILE');
    t.equal(vnfctl(['attach', y.host, '--topology', lab.name, '--network', 'right', '--ip', '10.61.2.51/24']).status, 0, 'attach works after it');
    t.equal(vnfctl(['detach', x.host]).status, 0, 'and detach');
    t.same(networks(), ['extra', 'left', 'right'], 'still the last applied file');
    t.same(attachedNames(lab.name), [y.host]);
  });

  t.test('a corrupt record: get, stats and destroy work; attach names the way out', async (t) => {
    const lab = labUp(t, TWO_NETS, ['a', 'b', 'c']);
    const meta = `${stateDir(lab.name)}/state.json`;
    const topo = `${stateDir(lab.name)}/topology.json`;
    const goodMeta = readFileSync(meta, 'utf8');
    const goodTopo = readFileSync(topo, 'utf8');
    t.match(goodTopo, /"containers":\[/, 'the topology file holds the containers');
    const damaged: Array<[string, string]> = [
      [meta, 'garbage{'],
      [meta, '[]'],
      [meta, '{"topology":null,"generation":"1"}'],
      [meta, '{"appliedAt":"x","generation":"1"}'], // well formed, names another generation
      [topo, 'garbage{'],
      [topo, goodTopo.replace('"containers":[', '"containers":5,"x":[')], // valid JSON, damaged inside
    ];
    const y = handContainer(t, '10.61.2.51/24', '10.61.2.1');
    for (const [record, bad] of damaged) {
      writeFileSync(meta, goodMeta);
      writeFileSync(topo, goodTopo);
      writeFileSync(record, bad);
      const what = `${record === meta ? 'state.json' : 'topology.json'} ${bad.length > 40 ? `${bad.slice(0, 40)}…` : bad}`;
      const g = vnfctl(['get', lab.name]);
      t.equal(g.status, 0, `${what}: get works (${g.stderr.trim()})`);
      t.match(g.stdout, /INTERFACES/);
      t.equal(vnfctl(['get']).status, 0, `${what}: get (all) works`);
      t.equal(vnfctl(['stats', lab.name]).status, 0, `${what}: stats works`);
      t.equal(vnfctl(['lab', 'exec', 'a', '--', 'true']).status, 0, `${what}: lab exec works`);
      const a = vnfctl(['attach', y.host, '--topology', lab.name, '--network', 'right', '--ip', '10.61.2.51/24']);
      t.equal(a.status, 2, `${what}: attach refuses (exit 2, as without a record)`);
      t.match(a.stderr, new RegExp(`record of topology ${lab.name} .*(corrupt|not one this vnf wrote).*vnf-ctl apply -f FILE.*vnf-ctl destroy ${lab.name}`), `${what}: attach names the way out`);
      t.ok(oneLine(a.stderr), `${what}: in one line`);
    }
    t.equal(ping(lab.ns('a'), '10.61.2.10', 2), 2, 'the dataplane does not care');
    const d = vnfctl(['destroy', lab.name]);
    t.equal(d.status, 0, `destroy works: ${d.stderr}`);
    t.equal(existsSync(pinDir(lab.name)), false, 'pins gone');
    t.equal(existsSync(stateDir(lab.name)), false, 'record gone');
  });
}
