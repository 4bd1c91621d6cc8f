/**
 * The store with a real etcd: vnf-ctl apply/plan/get/destroy --store, host liveness through
 * leases, and vnf-agent in its own network + mount namespace converging, reporting, keeping the
 * dataplane through an etcd outage and catching up, and surviving its own SIGKILL. The hosts and
 * etcd are the simulation's (bench/lib/sim; etcd on 127.0.0.1 for the CLI-only test).
 */
import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { requirePrivileges } from '../helpers/privilege.js';
import { ping, randomName } from '../helpers/netns.js';
import { testCluster } from '../helpers/cluster.js';
import { parseTopology } from '../../src/spec/index.js';
import type { Cluster } from '../../bench/lib/sim/cluster.js';
import { createContainer } from '../../bench/lib/sim/containers.js';
import type { SimHost } from '../../bench/lib/sim/host.js';
import type { RunResult } from '../../bench/lib/sys.js';

const dir = mkdtempSync(join(tmpdir(), 'vnf-store-it-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

/** vnf-ctl … --store, where the cluster's etcd is reachable (the cluster adds --store). */
const ctl = (c: Cluster, args: string[]): RunResult => c.ctlRun(args, 30_000);
function json<T>(r: RunResult): T {
  if (r.status !== 0) throw new Error(`exit ${r.status}: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}
interface Status {
  topology: { name: string; revision: number } | null;
  hosts: Array<{ name: string; underlay: string | null; alive: boolean; appliedRevision: number | null; appliedAt: string | null; error: string | null }>;
  endpoints: Array<{ container: string; iface: string; network: string; ip: string; mac: string; host: string; hostAlive: boolean }>;
}
async function until<T>(what: string, f: () => T | undefined | false, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = f();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function file(name: string, text: string): string {
  const p = join(dir, `${name}-${Math.random().toString(36).slice(2, 8)}.yaml`);
  writeFileSync(p, text);
  return p;
}

const topo = (name: string, containers: string, extra = ''): string => `apiVersion: vnf/v1
name: ${name}
containers:
${containers}
networks:
  n1: { subnet: 10.77.0.0/24 }
${extra}`;

if (requirePrivileges(t)) {
  t.test('apply/plan/get/destroy --store against a real etcd', async (t) => {
    const c = await testCluster(t, { hosts: 0, etcd: 'loopback' });
    const name = randomName('st');
    const A = file('a', topo(name, '  a: { host: h1, interfaces: { eth0: { network: n1, ip: 10.77.0.10/24 } } }\n  b: { host: h2, interfaces: { eth0: { network: n1, ip: 10.77.0.11/24 } } }'));
    const first = json<{ revision: number; changed: boolean }>(ctl(c, ['apply', '-f', A, '-o', 'json']));
    t.equal(first.changed, true, 'the first apply writes');
    const again = json<{ revision: number; changed: boolean }>(ctl(c, ['apply', '-f', A, '-o', 'json']));
    t.same(again, { revision: first.revision, changed: false }, 'the same file again writes nothing');
    const text = ctl(c, ['apply', '-f', A]);
    t.match(text.stdout, /no changes \(the store already holds this file, revision \d+\)/);

    t.match(ctl(c, ['plan', '-f', A]).stdout, /no changes/, 'plan of the stored file: empty');
    t.same(json<{ changes: unknown[] }>(ctl(c, ['plan', '-f', A, '-o', 'json'])).changes, []);
    const B = file('b', topo(name, '  a: { host: h1, interfaces: { eth0: { network: n1, ip: 10.77.0.10/24 } } }\n  c: { host: h2, interfaces: { eth0: { network: n1, ip: 10.77.0.12/24 } } }'));
    const p = json<{ topology: string; revision: number; changes: Array<{ kind: string; name: string; change: string }> }>(ctl(c, ['plan', '-f', B, '-o', 'json']));
    t.equal(p.revision, first.revision);
    t.same(p.changes, [{ kind: 'container', name: 'b', change: 'removed' }, { kind: 'container', name: 'c', change: 'added' }].sort((x, y) => x.name.localeCompare(y.name)));
    t.match(ctl(c, ['plan', '-f', B]).stdout, /\+ container c \(added\)/);
    t.equal(ctl(c, ['plan', '-f', B, '--detailed-exitcode']).status, 2, '--detailed-exitcode: 2 when it differs');

    const bad = file('bad', topo(name, '  a: { host: h1, interfaces: { eth0: { network: nope, ip: 10.77.0.10/24 } } }'));
    const r = ctl(c, ['apply', '-f', bad]);
    t.equal(r.status, 2, 'an invalid file: exit 2');
    t.match(r.stderr, /nope/);
    t.equal(json<Status>(ctl(c, ['get', '-o', 'json'])).topology?.revision, first.revision, 'nothing was written');

    const st = json<Status>(ctl(c, ['get', '-o', 'json']));
    t.same(st.topology, { name, revision: first.revision });
    t.same(st.hosts.map((h) => [h.name, h.alive, h.appliedRevision]), [['h1', false, null], ['h2', false, null]]);
    t.same(st.endpoints.map((e) => [e.container, e.iface, e.network, e.ip, e.host, e.hostAlive]), [['a', 'eth0', 'n1', '10.77.0.10', 'h1', false], ['b', 'eth0', 'n1', '10.77.0.11', 'h2', false]]);

    t.equal(ctl(c, ['destroy', 'other']).status, 2, 'destroy of another name: exit 2');
    const d = ctl(c, ['destroy', name]);
    t.equal(d.status, 0, d.stderr);
    t.equal(json<Status>(ctl(c, ['get', '-o', 'json'])).topology, null, 'the stored topology is gone');
    t.equal(ctl(c, ['destroy', name]).status, 2, 'nothing stored: exit 2');
  });

  t.test('an agent in its own network + mount namespace: converges, reports, survives an etcd outage and its own SIGKILL', async (t) => {
    const c = await testCluster(t, { hosts: 1 });
    const host = c.host('h1');
    const etcd = c.etcd;
    const name = randomName('sa');
    const line = (n: string, ip: string, h = 'h1'): string => `  ${n}: { host: ${h}, interfaces: { eth0: { network: n1, ip: ${ip}/24 } } }`;
    const v1 = file('v1', topo(name, [line('a', '10.77.0.10'), line('b', '10.77.0.11'), line('r', '10.77.0.20', 'h2')].join('\n')));
    const rev1 = json<{ revision: number }>(ctl(c, ['apply', '-f', v1, '-o', 'json'])).revision;
    const v2text = topo(name, [line('a', '10.77.0.10'), line('b', '10.77.0.11'), line('e', '10.77.0.12'), line('r', '10.77.0.20', 'h2')].join('\n'));
    const parsed = parseTopology(v2text, 'v2.yaml');
    if (!parsed.ok) throw new Error(JSON.stringify(parsed.issues));
    const specs = new Map(parsed.topology.containers.map((x) => [x.name, x]));

    // The containers (as v2 has them): a namespace each, the host end of the veth in the host's namespace.
    const container = (x: string, ip: string): string => {
      const made = createContainer(name, specs.get(x)!, host, c.cleanup);
      t.equal(made.interfaces[0]!.addr, ip, `${x} is at ${ip}`);
      return made.ns;
    };
    const a = container('a', '10.77.0.10');

    const agent = host.startAgent({ ttl: 3 });
    await host.waitAgentOutput(new RegExp(`registered \\(underlay ${host.addr.replaceAll('.', '\\.')} on ul0`));
    await host.waitAgentOutput(/applied revision \d+ \(\d+ changes, \d+ ms; 1 local container, 1 waiting for their interfaces/);
    const b = container('b', '10.77.0.11');
    await host.waitAgentOutput(/2 local containers/, 10_000); // the periodic resync picks b up
    let st = await until('h1 applied', () => {
      const s = json<Status>(ctl(c, ['get', '-o', 'json']));
      return s.hosts.find((h) => h.name === 'h1' && h.appliedRevision === rev1) ? s : undefined;
    });
    const h1 = st.hosts.find((h) => h.name === 'h1')!;
    t.same([h1.alive, h1.underlay, h1.error], [true, host.addr, null], 'h1 is alive, on its underlay, applied without error');
    t.equal(st.hosts.find((h) => h.name === 'h2')!.alive, false, 'h2 never registered');
    t.equal(ping(a, '10.77.0.11', 3), 3, 'a pings b through this host\'s slice');
    const vx = host.run(['ip', '-j', '-d', 'link', 'show', 'dev', 'vnfvx0']);
    t.equal(vx.status, 0, 'the VXLAN device exists');
    const dev = (JSON.parse(vx.stdout) as Array<{ mtu: number; flags: string[]; linkinfo: { info_kind: string; info_data: { external?: boolean; port?: number } } }>)[0]!;
    t.same([dev.mtu, dev.flags.includes('UP'), dev.linkinfo.info_kind, dev.linkinfo.info_data.external, dev.linkinfo.info_data.port], [1450, true, 'vxlan', true, 4789]);
    t.equal(spawnSync('ls', ['/sys/fs/bpf/vnf/' + name]).status, 2, 'its pins are in the host\'s own bpffs, not the root one');

    // etcd stopped: the dataplane keeps forwarding; restarted with a change made at once: caught up.
    await etcd.stop();
    await host.waitAgentOutput(/store unreachable — retrying/, 15_000);
    t.equal(ping(a, '10.77.0.11', 3), 3, 'etcd down: still forwarding');
    const e = container('e', '10.77.0.12'); // its interface exists before the topology names it
    await etcd.start();
    const v2 = file('v2', v2text);
    const started = Date.now();
    const rev2 = json<{ revision: number; changed: boolean }>(ctl(c, ['apply', '-f', v2, '-o', 'json'])).revision;
    t.ok(rev2 > rev1);
    st = await until('h1 caught up', () => {
      const s = json<Status>(ctl(c, ['get', '-o', 'json']));
      return s.hosts.find((h) => h.name === 'h1' && h.appliedRevision === rev2) ? s : undefined;
    });
    t.comment(`the edit reached h1 ${Date.now() - started} ms after apply --store (etcd just restarted)`);
    await host.waitAgentOutput(/store reachable again/);
    await host.waitAgentOutput(/applied revision \d+ \(\d+ changes, \d+ ms; 3 local containers/);
    t.equal(ping(a, '10.77.0.12', 3), 3, 'the change is applied: a pings e');
    t.ok(e);

    // An edit in normal operation (watch → debounce → apply → report): timed, and e's port goes.
    t.comment(`agent memory: ${Math.round(host.agentRssKiB() / 1024)} MiB resident`);
    const v3 = file('v3', topo(name, [line('a', '10.77.0.10'), line('b', '10.77.0.11'), line('r', '10.77.0.20', 'h2')].join('\n')));
    const t3 = Date.now();
    const rev3 = json<{ revision: number }>(ctl(c, ['apply', '-f', v3, '-o', 'json'])).revision;
    const applyMs = Date.now() - t3;
    const written = Date.now();
    await host.waitAgentOutput(new RegExp(`applied revision ${rev3} `), 10_000);
    const at = Date.parse(new RegExp(`(\\S+) h1 applied revision ${rev3} `).exec(host.agentOutput())![1]!);
    t.comment(`an edit reached h1's kernel ${at - written}..${at - t3} ms after apply --store wrote it (the CLI took ${applyMs} ms, mostly node and ip netns exec)`);
    await until('h1 reported the edit', () => json<Status>(ctl(c, ['get', '-o', 'json'])).hosts.find((h) => h.name === 'h1' && h.appliedRevision === rev3), 10_000);
    t.equal(ping(a, '10.77.0.12', 2), 0, 'e left the topology: its port no longer forwards');

    // SIGKILL: the dataplane keeps forwarding; a new agent converges with no change to the kernel.
    process.kill(agent.pid, 'SIGKILL');
    await agent.exited;
    t.equal(agent.signal, 'SIGKILL');
    t.equal(ping(b, '10.77.0.10', 3), 3, 'agent dead: still forwarding');
    const again = host.startAgent({ ttl: 3 });
    await host.waitAgentOutput(/applied revision \d+ \(0 changes/, 20_000);
    t.pass('the restarted agent applied the unchanged slice with 0 changes');

    // SIGTERM: exits 0 and leaves the dataplane forwarding; its lease expires after its TTL.
    process.kill(again.pid, 'SIGTERM');
    t.equal(await again.exited, 0, 'SIGTERM: exit 0');
    t.equal(ping(a, '10.77.0.11', 3), 3, 'agent stopped: still forwarding');
    await until('h1\'s lease expired', () => json<Status>(ctl(c, ['get', '-o', 'json'])).hosts.find((h) => h.name === 'h1' && !h.alive), 15_000);
    t.pass('h1 shows dead after its lease expired');

    // The topology removed from the store: the agent removes it from its host.
    host.startAgent({ ttl: 3 });
    await host.waitAgentOutput(/applied revision/);
    t.equal(ctl(c, ['destroy', name]).status, 0);
    await host.waitAgentOutput(new RegExp(`topology ${name} is gone from the store: destroyed here`));
    t.equal(ping(a, '10.77.0.11', 2), 0, 'destroyed: no more forwarding');
  });

  t.test('two hosts: each sees the other\'s endpoints while its lease lives, and drops them when it expires', async (t) => {
    const c = await testCluster(t, { hosts: 2 });
    const [h1, h2] = [c.host('h1'), c.host('h2')];
    const name = randomName('s2');
    const f = file('two', topo(name, '  a: { host: h1, interfaces: { eth0: { network: n1, ip: 10.77.0.10/24 } } }\n  b: { host: h2, interfaces: { eth0: { network: n1, ip: 10.77.0.11/24 } } }'));
    const rev = json<{ revision: number }>(ctl(c, ['apply', '-f', f, '-o', 'json'])).revision;
    /** The overlay part of the slice a host applied, from its own record (in its own /run/vnf). */
    const overlay = (h: SimHost): { hosts: Array<{ name: string }>; remotes: Array<{ host: string; container: string }> } | undefined => {
      const r = h.run(['cat', `/run/vnf/${name}/topology.json`]);
      if (r.status !== 0) return undefined;
      const rec = JSON.parse(r.stdout) as { ext?: { overlay?: ReturnType<typeof overlay> }; topology?: { ext?: { overlay?: ReturnType<typeof overlay> } } };
      return rec.ext?.overlay ?? rec.topology?.ext?.overlay;
    };
    h1.startAgent({ ttl: 2 });
    const a2 = h2.startAgent({ ttl: 2 });
    await until('h1 sees h2 and b', () => {
      const o = overlay(h1);
      return o && o.hosts.map((x) => x.name).join() === 'h2' && o.remotes.map((x) => `${x.host}/${x.container}`).join() === 'h2/b';
    });
    await until('h2 sees h1 and a', () => {
      const o = overlay(h2);
      return o && o.hosts.map((x) => x.name).join() === 'h1' && o.remotes.map((x) => `${x.host}/${x.container}`).join() === 'h1/a';
    });
    const st = json<Status>(ctl(c, ['get', '-o', 'json']));
    t.same(st.hosts.map((h) => [h.name, h.underlay, h.alive, h.appliedRevision]), [['h1', h1.addr, true, rev], ['h2', h2.addr, true, rev]]);
    t.same(st.endpoints.map((e) => [e.container, e.host, e.hostAlive]), [['a', 'h1', true], ['b', 'h2', true]]);
    process.kill(a2.pid, 'SIGKILL');
    const killed = Date.now();
    await until('h1 dropped h2', () => {
      const o = overlay(h1);
      return o && o.hosts.length === 0 && o.remotes.length === 0;
    }, 15_000);
    t.comment(`h1 dropped h2's endpoints ${Date.now() - killed} ms after h2's agent was killed (ttl 2 s)`);
    const after = json<Status>(ctl(c, ['get', '-o', 'json']));
    t.same(after.hosts.map((h) => [h.name, h.alive]), [['h1', true], ['h2', false]], 'get: h2 is dead');
    t.same(after.endpoints.map((e) => [e.container, e.hostAlive]), [['a', true], ['b', false]]);
    t.match(h1.agentOutput(), /applied revision/);
  });
}
