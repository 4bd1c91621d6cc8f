/**
 * The simulated hosts (bench/lib/sim): a cluster comes up — underlay bridge, a real etcd, hosts
 * with their own network and mount namespaces — and goes completely (no namespace, process or
 * temp folder left); etcd answers from every host and keeps its data across a restart; a host's
 * bpffs and /run/vnf are its own and outlive a SIGKILLed agent; the Linux baseline (VXLAN +
 * bridge per host) carries pings between containers on three hosts and floods broadcast to the
 * hosts with a port on the network, and only to them.
 */
import t, { type Test } from 'tap';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { requirePrivileges } from '../helpers/privilege.js';
import { Cleanup } from '../../bench/lib/cleanup.js';
import { counters } from '../../bench/lib/net.js';
import { run, sleep } from '../../bench/lib/sys.js';
import { Cluster } from '../../bench/lib/sim/cluster.js';
import { httpIn } from '../../bench/lib/sim/etcd.js';
import { inContainer, ping } from '../../bench/lib/sim/containers.js';
import { linuxOverlay } from '../../bench/lib/sim/linux-vxlan.js';
import { multiHostFile } from '../../bench/lib/sim/topology.js';
import { UNDERLAY_IF } from '../../bench/lib/sim/names.js';

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};
const netnsWith = (prefix: string): string[] => (existsSync('/run/netns') ? readdirSync('/run/netns').filter((n) => n.startsWith(prefix)) : []);

/** A cluster whose cleanup runs at the test's teardown, whatever happens in between. */
async function cluster(tt: Test, hosts: number): Promise<{ c: Cluster; dir: string; root: Cleanup }> {
  const root = new Cleanup('sim-test');
  const dir = mkdtempSync(join(tmpdir(), 'vnf-sim-test-'));
  tt.teardown(async () => {
    await root.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const c = await Cluster.up({ hosts, cleanup: root, dir });
  return { c, dir, root };
}

/** Stands in for the agent: reports what it finds on its host, then idles. */
const FAKE_AGENT = `
const fs = require('node:fs');
const out = { bpf: fs.statfsSync('/sys/fs/bpf').type, run: fs.statfsSync('/run/vnf').type, ul0: fs.existsSync('/sys/class/net/ul0'),
  marker: fs.existsSync('/sys/fs/bpf/' + process.argv[2]) };
try { fs.mkdirSync('/sys/fs/bpf/' + process.argv[2]); } catch {}
fetch(process.argv[1] + '/version').then((r) => r.json()).then((j) => { out.etcd = j.etcdserver; console.log('REPORT ' + JSON.stringify(out)); },
  (e) => { out.etcd = String(e); console.log('REPORT ' + JSON.stringify(out)); });
setInterval(() => {}, 1000);
`;
const BPF_FS_MAGIC = 0xcafe4a11;
const TMPFS_MAGIC = 0x01021994;

async function report(h: { agentOutput(): string }, n: number): Promise<Record<string, unknown>> {
  for (let i = 0; i < 100; i++) {
    const lines = h.agentOutput().split('\n').filter((l) => l.startsWith('REPORT '));
    if (lines.length >= n) return JSON.parse(lines[n - 1]!.slice(7)) as Record<string, unknown>;
    await sleep(50);
  }
  throw new Error(`no report from the stand-in agent: ${h.agentOutput().slice(-300)}`);
}

t.test('a cluster comes up, etcd answers every host, and everything goes at teardown', async (tt) => {
  if (!requirePrivileges(tt)) return;
  const root = new Cleanup('sim-test');
  const dir = mkdtempSync(join(tmpdir(), 'vnf-sim-test-'));
  tt.teardown(async () => {
    await root.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const c = await Cluster.up({ hosts: 3, cleanup: root, dir });
  const prefix = c.names.prefix;
  tt.same(netnsWith(prefix).sort(), [`${prefix}-h1`, `${prefix}-h2`, `${prefix}-h3`, `${prefix}-ul`], 'the underlay and three host namespaces exist');
  tt.ok(c.etcd.running, 'etcd runs');
  for (const h of c.hosts) {
    const r = httpIn(h.ns, `${c.store}/health`);
    tt.ok(r.ok && /"health":\s*"true"/.test(r.body), `etcd is healthy as seen from ${h.name} (${r.status} ${r.body})`);
    const mtu = JSON.parse(run(['ip', '-n', h.ns, '-j', 'link', 'show', UNDERLAY_IF]).stdout)[0].mtu as number;
    tt.equal(mtu, 1500, `${h.name}'s ul0 has MTU 1500`);
  }
  tt.notOk(httpIn(c.names.underlay, `http://127.0.0.1:1/health`, { timeoutMs: 500 }).ok, 'a closed port is reported as a failure (the probe can fail)');

  // The store keeps its data across a stop and a start on the same data directory.
  const key = `/sim-test/${randomBytes(3).toString('hex')}`;
  c.etcd.put(key, 'before', c.hosts[1]!.ns);
  await c.etcd.stop();
  tt.notOk(c.etcd.running, 'etcd stopped');
  tt.notOk(httpIn(c.hosts[0]!.ns, `${c.store}/health`, { timeoutMs: 500 }).ok, 'a stopped etcd does not answer');
  await c.etcd.start();
  tt.equal(c.etcd.get(key, c.hosts[2]!.ns), 'before', 'after a restart etcd still has what was written before');

  // Each host has its own bpffs and /run/vnf, which outlive its agent.
  const marker = `simtest-${randomBytes(3).toString('hex')}`;
  const h1 = c.hosts[0]!;
  h1.startAgent({ argv: [process.execPath, '-e', FAKE_AGENT, c.store, marker] });
  const r1 = await report(h1, 1);
  tt.equal(r1['bpf'], BPF_FS_MAGIC, 'the agent sees a bpffs on /sys/fs/bpf');
  tt.equal(r1['run'], TMPFS_MAGIC, 'and a tmpfs on /run/vnf');
  tt.equal(r1['ul0'], true, "and its host's interfaces in /sys/class/net");
  tt.equal(r1['marker'], false, 'its bpffs starts empty');
  tt.match(String(r1['etcd']), /^3\.4\./, 'the agent reaches etcd');
  const rss = h1.agentRssKiB();
  tt.ok(rss > 1000 && rss < 1_000_000, `the agent's RSS is read (${rss} KiB)`);
  const pid1 = h1.agentPid!;
  await h1.killAgent();
  tt.notOk(alive(pid1), 'SIGKILL ends the agent');
  h1.startAgent({ argv: [process.execPath, '-e', FAKE_AGENT, c.store, marker] });
  const r2 = await report(h1, 1); // the output of this run
  tt.equal(r2['marker'], true, "what the first agent made on the host's bpffs is still there for the second");
  tt.notOk(existsSync(`/sys/fs/bpf/${marker}`), "the machine's own bpffs never saw it");
  const h2 = c.hosts[1]!;
  h2.startAgent({ argv: [process.execPath, '-e', FAKE_AGENT, c.store, marker] });
  tt.equal((await report(h2, 1))['marker'], false, "another host's bpffs does not have it");

  const pids = [c.etcd.pid!, h1.agentPid!, h2.agentPid!, ...c.hosts.map((h) => h.holderPid!)];
  const dataDir = c.etcd.dataDir;
  const problems = await c.down();
  tt.same(problems, [], 'teardown met no problem');
  tt.same(netnsWith(prefix), [], 'no namespace of the cluster is left');
  tt.same(pids.filter(alive), [], 'no process of the cluster is left (etcd, agents, the hosts\' mount namespace holders)');
  tt.notOk(existsSync(dataDir), "etcd's data folder is gone");
  const leftLinks = run(['ip', '-o', 'link', 'show']).stdout.split('\n').filter((l) => /ul-h\d|ulbr/.test(l));
  tt.same(leftLinks, [], 'no underlay link is left in the root namespace');
});

t.test('Linux baseline: VXLAN + bridge between three hosts', async (tt) => {
  if (!requirePrivileges(tt)) return;
  const { c, dir } = await cluster(tt, 3);
  const name = `st${randomBytes(2).toString('hex')}`;
  // n1 spans all three hosts; n2 only h2 and h3.
  const mt = multiHostFile(join(dir, 'topo.yaml'), {
    apiVersion: 'vnf/v1',
    name,
    networks: { n1: { subnet: '10.201.1.0/24', vni: 1001 }, n2: { subnet: '10.201.2.0/24', vni: 1002 } },
    containers: {
      a1: { host: 'h1', interfaces: { eth0: { network: 'n1', ip: '10.201.1.11/24' } } },
      a2: { host: 'h2', interfaces: { eth0: { network: 'n1', ip: '10.201.1.12/24' } } },
      a3: { host: 'h3', interfaces: { eth0: { network: 'n1', ip: '10.201.1.13/24' } } },
      b2: { host: 'h2', interfaces: { eth0: { network: 'n2', ip: '10.201.2.12/24' } } },
      b3: { host: 'h3', interfaces: { eth0: { network: 'n2', ip: '10.201.2.13/24' } } },
    },
  });
  const cs = c.createContainers(mt);
  const lo = linuxOverlay(c, mt, cs);
  tt.equal(lo.devices.length, 5, 'a bridge and a VXLAN device per host and network with a port there');
  const get = (n: string) => cs.get(n)!;
  for (const [from, to] of [['a1', 'a2'], ['a1', 'a3'], ['a2', 'a3'], ['a3', 'a1'], ['b2', 'b3']] as const) {
    tt.equal(ping(get(from), get(to).interfaces[0]!.addr, 2), 2, `${from} pings ${to} across the VXLAN`);
  }
  tt.equal(ping(get('b2'), '10.201.1.11', 1, { waitS: 0.5 }), 0, 'n2 does not reach n1 (no router)');
  const mtu = JSON.parse(run(inContainer(get('a1'), ['ip', '-j', 'link', 'show', 'eth0'])).stdout)[0].mtu as number;
  tt.equal(mtu, 1450, 'container interfaces have the overlay MTU');
  tt.equal(ping(get('a1'), '10.201.1.13', 1, { extra: ['-s', '1422', '-M', 'do'] }), 1, 'a full-size (1450-byte) packet crosses unfragmented');

  // Broadcast from b2 (n2): h3 gets it, h1 (no port on n2) never sees a packet on its underlay.
  const ul = (h: string) => counters(c.host(h).ns, UNDERLAY_IF).rxPackets;
  const before = { h1: ul('h1'), h3: ul('h3'), b3: counters(get('b3').ns, 'eth0').rxPackets };
  run(inContainer(get('b2'), ['ping', '-b', '-c', '5', '-i', '0.1', '-W', '1', '-q', '10.201.2.255']), { check: false, timeoutMs: 20_000 });
  await sleep(200);
  tt.ok(ul('h3') - before.h3 >= 5, `h3's underlay received the 5 broadcasts (${ul('h3') - before.h3} packets)`);
  tt.ok(counters(get('b3').ns, 'eth0').rxPackets - before.b3 >= 5, 'and b3 got them');
  tt.equal(ul('h1') - before.h1, 0, "h1's underlay received nothing: head-end replication skips hosts without a port");

  // And from a1 (n1, on every host): every other host gets it.
  const b4 = { h2: ul('h2'), h3: ul('h3') };
  run(inContainer(get('a1'), ['ping', '-b', '-c', '3', '-i', '0.1', '-W', '1', '-q', '10.201.1.255']), { check: false, timeoutMs: 20_000 });
  await sleep(200);
  tt.ok(ul('h2') - b4.h2 >= 3 && ul('h3') - b4.h3 >= 3, `n1's broadcast reached h2 and h3 (${ul('h2') - b4.h2}, ${ul('h3') - b4.h3})`);
});
