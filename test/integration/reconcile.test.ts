/**
 * Defect 10: the kernel is the truth. State changed behind vnf's back — an emptied program
 * slot, a lost map pin, a lost link pin — is seen by `plan` (exit 0, the repair listed, never
 * "no changes") and repaired by `apply`, after which traffic flows and `plan` is empty.
 */
import t, { type Test } from 'tap';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { requirePrivileges } from '../helpers/privilege.js';
import { vnfctl } from '../helpers/cli.js';
import { labUp, TWO_NETS } from '../helpers/lab.js';
import { ping } from '../helpers/netns.js';
import { sh } from '../helpers/sh.js';
import { counted, getStats, getTopology } from '../helpers/vnf.js';
import { hostVethName, pinDir } from '../../src/model/names.js';
import { VNF_ID_BRIDGE, VNF_MAP_FDB_STATIC } from '../../src/abi/bridge.js';
import { VNF_MAP_PROGS } from '../../src/abi/vnf_common.js';

function planShows(t: Test, file: string, what: RegExp): void {
  const p = vnfctl(['plan', '-f', file]);
  t.equal(p.status, 0, 'plan exits 0');
  t.notMatch(p.stdout, /no changes/, 'plan does not say "no changes"');
  t.match(p.stdout, what, `plan shows the repair:\n${p.stdout}`);
}

function converges(t: Test, file: string): void {
  const a = vnfctl(['apply', '-f', file]);
  t.equal(a.status, 0, `apply: ${a.stderr}`);
  t.match(vnfctl(['plan', '-f', file]).stdout, /no changes/, 'plan after apply is empty');
}

if (requirePrivileges(t)) {
  t.test('an emptied program slot: traffic stops (a counted drop), plan shows the slot, apply restores it', async (t) => {
    const lab = labUp(t, TWO_NETS, ['a', 'b', 'c']);
    t.equal(ping(lab.ns('a'), '10.61.1.11', 2), 2, 'a reaches b');
    const key = Buffer.alloc(4);
    key.writeUInt32LE(VNF_ID_BRIDGE);
    sh('bpftool', ['map', 'delete', 'pinned', join(pinDir(lab.name), VNF_MAP_PROGS), 'key', ...[...key].map(String)]);
    const s0 = getStats(lab.name);
    t.equal(ping(lab.ns('a'), '10.61.1.11', 2), 0, 'without the bridge in its slot, traffic stops');
    t.ok(counted(getStats(lab.name), 'core', 'drop:tail-call') > counted(s0, 'core', 'drop:tail-call'), 'as a counted drop (fail closed)');
    planShows(t, lab.file, /slot\s+bridge -> vnf_bridge \(empty\)/);
    converges(t, lab.file);
    t.equal(ping(lab.ns('a'), '10.61.1.11', 2), 2, 'traffic flows again');
  });

  t.test('a lost map pin: plan shows reloads, apply converges', async (t) => {
    const lab = labUp(t, TWO_NETS, ['a', 'b', 'c']);
    rmSync(join(pinDir(lab.name), VNF_MAP_FDB_STATIC));
    planShows(t, lab.file, /load\s+bridge \(pinned map vnf_fdb_static missing\)/);
    converges(t, lab.file);
    t.ok(existsSync(join(pinDir(lab.name), VNF_MAP_FDB_STATIC)), 'the map is pinned again');
    t.equal(getTopology(lab.name).fdb.filter((f) => f.kind === 'static').length, 3, 'and holds the static entries of the three ports');
    t.equal(ping(lab.ns('a'), '10.61.1.11', 2), 2, 'traffic flows across the bridge');
    t.equal(ping(lab.ns('a'), '10.61.2.10', 2), 2, 'and the router');
  });

  t.test('a lost link pin: the port is unattached, plan shows the attach, apply restores it', async (t) => {
    const lab = labUp(t, TWO_NETS, ['a', 'b', 'c']);
    const host = hostVethName(lab.name, 'b', 'eth0');
    rmSync(join(pinDir(lab.name), 'links', `${host}@in`)); // the last reference: the link goes with it
    t.same(getTopology(lab.name).interfaces.find((i) => i.ifname === host)?.links, ['egress'], 'b has lost its ingress link');
    t.equal(ping(lab.ns('b'), '10.61.1.10', 2), 0, "b's traffic no longer reaches a");
    planShows(t, lab.file, new RegExp(`attach\\s+vnf_entry_in to ${host} \\(ingress`));
    converges(t, lab.file);
    t.same(getTopology(lab.name).interfaces.find((i) => i.ifname === host)?.links.sort(), ['egress', 'ingress'], 'both links again');
    t.equal(ping(lab.ns('b'), '10.61.1.10', 2), 2, 'b reaches a');
  });
}
