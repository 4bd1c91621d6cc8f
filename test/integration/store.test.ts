/**
 * The store with a real etcd: vnf-ctl apply/plan/get/destroy --store, host liveness through
 * leases, and vnf-agent in its own network + mount namespace converging, reporting, keeping the
 * dataplane through an etcd outage and catching up, and surviving its own SIGKILL.
 */
import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { requirePrivileges } from '../helpers/privilege.js';
import { startEtcd } from '../helpers/etcd.js';
import { createNetns, createVeth, nsRun, ping, randomName } from '../helpers/netns.js';
import { createSimHost, createStoreNetns, STORE_IP } from '../helpers/sim-host.js';
import { ROOT } from '../helpers/paths.js';
import { hostVethName } from '../../src/model/names.js';
import { parseTopology } from '../../src/spec/index.js';

const dir = mkdtempSync(join(tmpdir(), 'vnf-store-it-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

interface Cli { status: number; stdout: string; stderr: string }
/** vnf-ctl in a namespace (the store's: etcd listens there). */
function ctl(ns: string | undefined, args: string[]): Cli {
  const argv = [process.execPath, join(ROOT, 'dist', 'vnf-ctl.js'), ...args];
  const r = ns ? spawnSync('ip', ['netns', 'exec', ns, ...argv], { encoding: 'utf8', timeout: 30_000 }) : spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', timeout: 30_000 });
  return { status: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}
function json<T>(r: Cli): T {
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
    const etcd = await startEtcd(t);
    const S = etcd.url;
    const name = randomName('st');
    const A = file('a', topo(name, '  a: { host: h1, interfaces: { eth0: { network: n1, ip: 10.77.0.10/24 } } }\n  b: { host: h2, interfaces: { eth0: { network: n1, ip: 10.77.0.11/24 } } }'));
    const first = json<{ revision: number; changed: boolean }>(ctl(undefined, ['apply', '-f', A, '--store', S, '-o', 'json']));
    t.equal(first.changed, true, 'the first apply writes');
    const again = json<{ revision: number; changed: boolean }>(ctl(undefined, ['apply', '-f', A, '--store', S, '-o', 'json']));
    t.same(again, { revision: first.revision, changed: false }, 'the same file again writes nothing');
    const text = ctl(undefined, ['apply', '-f', A, '--store', S]);
    t.match(text.stdout, /no changes \(the store already holds this file, revision \d+\)/);

    t.match(ctl(undefined, ['plan', '-f', A, '--store', S]).stdout, /no changes/, 'plan of the stored file: empty');
    t.same(json<{ changes: unknown[] }>(ctl(undefined, ['plan', '-f', A, '--store', S, '-o', 'json'])).changes, []);
    const B = file('b', topo(name, '  a: { host: h1, interfaces: { eth0: { network: n1, ip: 10.77.0.10/24 } } }\n  c: { host: h2, interfaces: { eth0: { network: n1, ip: 10.77.0.12/24 } } }'));
    const p = json<{ topology: string; revision: number; changes: Array<{ kind: string; name: string; change: string }> }>(ctl(undefined, ['plan', '-f', B, '--store', S, '-o', 'json']));
    t.equal(p.revision, first.revision);
    t.same(p.changes, [{ kind: 'container', name: 'b', change: 'removed' }, { kind: 'container', name: 'c', change: 'added' }].sort((x, y) => x.name.localeCompare(y.name)));
    t.match(ctl(undefined, ['plan', '-f', B, '--store', S]).stdout, /\+ container c \(added\)/);
    t.equal(ctl(undefined, ['plan', '-f', B, '--store', S, '--detailed-exitcode']).status, 2, '--detailed-exitcode: 2 when it differs');

    const bad = file('bad', topo(name, '  a: { host: h1, interfaces: { eth0: { network: nope, ip: 10.77.0.10/24 } } }'));
    const r = ctl(undefined, ['apply', '-f', bad, '--store', S]);
    t.equal(r.status, 2, 'an invalid file: exit 2');
    t.match(r.stderr, /nope/);
    t.equal(json<Status>(ctl(undefined, ['get', '--store', S, '-o', 'json'])).topology?.revision, first.revision, 'nothing was written');

    const st = json<Status>(ctl(undefined, ['get', '--store', S, '-o', 'json']));
    t.same(st.topology, { name, revision: first.revision });
    t.same(st.hosts.map((h) => [h.name, h.alive, h.appliedRevision]), [['h1', false, null], ['h2', false, null]]);
    t.same(st.endpoints.map((e) => [e.container, e.iface, e.network, e.ip, e.host, e.hostAlive]), [['a', 'eth0', 'n1', '10.77.0.10', 'h1', false], ['b', 'eth0', 'n1', '10.77.0.11', 'h2', false]]);

    t.equal(ctl(undefined, ['destroy', 'other', '--store', S]).status, 2, 'destroy of another name: exit 2');
    const d = ctl(undefined, ['destroy', name, '--store', S]);
    t.equal(d.status, 0, d.stderr);
    t.equal(json<Status>(ctl(undefined, ['get', '--store', S, '-o', 'json'])).topology, null, 'the stored topology is gone');
    t.equal(ctl(undefined, ['destroy', name, '--store', S]).status, 2, 'nothing stored: exit 2');
  });

  t.test('an agent in its own network + mount namespace: converges, reports, survives an etcd outage and its own SIGKILL', async (t) => {
    const storeNs = createStoreNetns(t);
    const host = await createSimHost(t, storeNs, 1);
    const etcd = await startEtcd(t, { netns: storeNs, host: STORE_IP });
    const S = etcd.url;
    const name = randomName('sa');
    const line = (c: string, ip: string, h = 'h1'): string => `  ${c}: { host: ${h}, interfaces: { eth0: { network: n1, ip: ${ip}/24 } } }`;
    const v1 = file('v1', topo(name, [line('a', '10.77.0.10'), line('b', '10.77.0.11'), line('r', '10.77.0.20', 'h2')].join('\n')));
    const rev1 = json<{ revision: number }>(ctl(storeNs, ['apply', '-f', v1, '--store', S, '-o', 'json'])).revision;
    const v2text = topo(name, [line('a', '10.77.0.10'), line('b', '10.77.0.11'), line('e', '10.77.0.12'), line('r', '10.77.0.20', 'h2')].join('\n'));
    const parsed = parseTopology(v2text, 'v2.yaml');
    if (!parsed.ok) throw new Error(JSON.stringify(parsed.issues));
    const macs = new Map(parsed.topology.containers.map((c) => [c.name, c.interfaces[0]!.mac]));

    // The containers: a namespace each, the host end of the veth in the host's namespace.
    const container = (c: string, ip: string): string => {
      const ns = createNetns(t, 'vc');
      createVeth(t, { name: hostVethName(name, c, 'eth0'), ns: host.netns }, { name: 'eth0', ns, ip: `${ip}/24`, mac: macs.get(c)! });
      return ns;
    };
    const a = container('a', '10.77.0.10');

    const agent = host.agent(['--host', 'h1', '--store', S, '--underlay', 'ul0', '--ttl', '3']);
    await agent.waitLog(/registered \(underlay 192\.0\.2\.1 on ul0/);
    await agent.waitLog(/applied revision \d+ \(\d+ changes, \d+ ms; 1 local container, 1 waiting for their interfaces/);
    const b = container('b', '10.77.0.11');
    await agent.waitLog(/2 local containers/, 10_000); // the periodic resync picks b up
    let st = await until('h1 applied', () => {
      const s = json<Status>(ctl(storeNs, ['get', '--store', S, '-o', 'json']));
      return s.hosts.find((h) => h.name === 'h1' && h.appliedRevision === rev1) ? s : undefined;
    });
    const h1 = st.hosts.find((h) => h.name === 'h1')!;
    t.same([h1.alive, h1.underlay, h1.error], [true, '192.0.2.1', null], 'h1 is alive, on its underlay, applied without error');
    t.equal(st.hosts.find((h) => h.name === 'h2')!.alive, false, 'h2 never registered');
    t.equal(ping(a, '10.77.0.11', 3), 3, 'a pings b through this host\'s slice');
    const vx = nsRun(host.netns, ['ip', '-j', '-d', 'link', 'show', 'dev', 'vnfvx0']);
    t.equal(vx.status, 0, 'the VXLAN device exists');
    const dev = (JSON.parse(vx.stdout) as Array<{ mtu: number; flags: string[]; linkinfo: { info_kind: string; info_data: { external?: boolean; port?: number } } }>)[0]!;
    t.same([dev.mtu, dev.flags.includes('UP'), dev.linkinfo.info_kind, dev.linkinfo.info_data.external, dev.linkinfo.info_data.port], [1450, true, 'vxlan', true, 4789]);
    t.equal(spawnSync('ls', ['/sys/fs/bpf/vnf/' + name]).status, 2, 'its pins are in the host\'s own bpffs, not the root one');

    // etcd stopped: the dataplane keeps forwarding; restarted with a change made at once: caught up.
    await etcd.stop();
    await agent.waitLog(/store unreachable — retrying/, 15_000);
    t.equal(ping(a, '10.77.0.11', 3), 3, 'etcd down: still forwarding');
    const e = container('e', '10.77.0.12'); // its interface exists before the topology names it
    await etcd.start();
    const v2 = file('v2', v2text);
    const started = Date.now();
    const rev2 = json<{ revision: number; changed: boolean }>(ctl(storeNs, ['apply', '-f', v2, '--store', S, '-o', 'json'])).revision;
    t.ok(rev2 > rev1);
    st = await until('h1 caught up', () => {
      const s = json<Status>(ctl(storeNs, ['get', '--store', S, '-o', 'json']));
      return s.hosts.find((h) => h.name === 'h1' && h.appliedRevision === rev2) ? s : undefined;
    });
    t.comment(`the edit reached h1 ${Date.now() - started} ms after apply --store (etcd just restarted)`);
    await agent.waitLog(/store reachable again/);
    await agent.waitLog(/applied revision \d+ \(\d+ changes, \d+ ms; 3 local containers/);
    t.equal(ping(a, '10.77.0.12', 3), 3, 'the change is applied: a pings e');
    t.ok(e);

    // An edit in normal operation (watch → debounce → apply → report): timed, and e's port goes.
    const rss = Number(/VmRSS:\s+(\d+)/.exec(spawnSync('cat', [`/proc/${agent.proc.pid}/status`], { encoding: 'utf8' }).stdout)?.[1]);
    t.comment(`agent memory: ${Math.round(rss / 1024)} MiB resident`);
    const v3 = file('v3', topo(name, [line('a', '10.77.0.10'), line('b', '10.77.0.11'), line('r', '10.77.0.20', 'h2')].join('\n')));
    const t3 = Date.now();
    const rev3 = json<{ revision: number }>(ctl(storeNs, ['apply', '-f', v3, '--store', S, '-o', 'json'])).revision;
    const applyMs = Date.now() - t3;
    const written = Date.now();
    await agent.waitLog(new RegExp(`applied revision ${rev3} `), 10_000);
    const at = Date.parse(new RegExp(`(\\S+) h1 applied revision ${rev3} `).exec(agent.log())![1]!);
    t.comment(`an edit reached h1's kernel ${at - written}..${at - t3} ms after apply --store wrote it (the CLI took ${applyMs} ms, mostly node and ip netns exec)`);
    await until('h1 reported the edit', () => json<Status>(ctl(storeNs, ['get', '--store', S, '-o', 'json'])).hosts.find((h) => h.name === 'h1' && h.appliedRevision === rev3), 10_000);
    t.equal(ping(a, '10.77.0.12', 2), 0, 'e left the topology: its port no longer forwards');

    // SIGKILL: the dataplane keeps forwarding; a new agent converges with no change to the kernel.
    agent.proc.kill('SIGKILL');
    t.equal(await agent.exited, 'SIGKILL');
    t.equal(ping(b, '10.77.0.10', 3), 3, 'agent dead: still forwarding');
    const again = host.agent(['--host', 'h1', '--store', S, '--underlay', 'ul0', '--ttl', '3']);
    await again.waitLog(/applied revision \d+ \(0 changes/, 20_000);
    t.pass('the restarted agent applied the unchanged slice with 0 changes');

    // SIGTERM: exits 0 and leaves the dataplane forwarding; its lease expires after its TTL.
    again.proc.kill('SIGTERM');
    t.equal(await again.exited, 0, 'SIGTERM: exit 0');
    t.equal(ping(a, '10.77.0.11', 3), 3, 'agent stopped: still forwarding');
    await until('h1\'s lease expired', () => json<Status>(ctl(storeNs, ['get', '--store', S, '-o', 'json'])).hosts.find((h) => h.name === 'h1' && !h.alive), 15_000);
    t.pass('h1 shows dead after its lease expired');

    // The topology removed from the store: the agent removes it from its host.
    const last = host.agent(['--host', 'h1', '--store', S, '--underlay', 'ul0', '--ttl', '3']);
    await last.waitLog(/applied revision/);
    t.equal(ctl(storeNs, ['destroy', name, '--store', S]).status, 0);
    await last.waitLog(new RegExp(`topology ${name} is gone from the store: destroyed here`));
    t.equal(ping(a, '10.77.0.11', 2), 0, 'destroyed: no more forwarding');
  });

  t.test('two hosts: each sees the other\'s endpoints while its lease lives, and drops them when it expires', async (t) => {
    const storeNs = createStoreNetns(t);
    const h1 = await createSimHost(t, storeNs, 1);
    const h2 = await createSimHost(t, storeNs, 2);
    const etcd = await startEtcd(t, { netns: storeNs, host: STORE_IP });
    const S = etcd.url;
    const name = randomName('s2');
    const f = file('two', topo(name, '  a: { host: h1, interfaces: { eth0: { network: n1, ip: 10.77.0.10/24 } } }\n  b: { host: h2, interfaces: { eth0: { network: n1, ip: 10.77.0.11/24 } } }'));
    const rev = json<{ revision: number }>(ctl(storeNs, ['apply', '-f', f, '--store', S, '-o', 'json'])).revision;
    /** The overlay part of the slice a host applied, from its own record (in its own /run/vnf). */
    const overlay = (h: typeof h1): { hosts: Array<{ name: string }>; remotes: Array<{ host: string; container: string }> } | undefined => {
      const [cmd, ...args] = h.argv(['cat', `/run/vnf/${name}/topology.json`]);
      const r = spawnSync(cmd!, args, { encoding: 'utf8' });
      if (r.status !== 0) return undefined;
      const rec = JSON.parse(r.stdout) as { ext?: { overlay?: ReturnType<typeof overlay> }; topology?: { ext?: { overlay?: ReturnType<typeof overlay> } } };
      return rec.ext?.overlay ?? rec.topology?.ext?.overlay;
    };
    const a1 = h1.agent(['--host', 'h1', '--store', S, '--underlay', 'ul0', '--ttl', '2']);
    const a2 = h2.agent(['--host', 'h2', '--store', S, '--underlay', 'ul0', '--ttl', '2']);
    await until('h1 sees h2 and b', () => {
      const o = overlay(h1);
      return o && o.hosts.map((x) => x.name).join() === 'h2' && o.remotes.map((x) => `${x.host}/${x.container}`).join() === 'h2/b';
    });
    await until('h2 sees h1 and a', () => {
      const o = overlay(h2);
      return o && o.hosts.map((x) => x.name).join() === 'h1' && o.remotes.map((x) => `${x.host}/${x.container}`).join() === 'h1/a';
    });
    const st = json<Status>(ctl(storeNs, ['get', '--store', S, '-o', 'json']));
    t.same(st.hosts.map((h) => [h.name, h.underlay, h.alive, h.appliedRevision]), [['h1', '192.0.2.1', true, rev], ['h2', '192.0.2.2', true, rev]]);
    t.same(st.endpoints.map((e) => [e.container, e.host, e.hostAlive]), [['a', 'h1', true], ['b', 'h2', true]]);
    a2.proc.kill('SIGKILL');
    const killed = Date.now();
    await until('h1 dropped h2', () => {
      const o = overlay(h1);
      return o && o.hosts.length === 0 && o.remotes.length === 0;
    }, 15_000);
    t.comment(`h1 dropped h2's endpoints ${Date.now() - killed} ms after h2's agent was killed (ttl 2 s)`);
    const after = json<Status>(ctl(storeNs, ['get', '--store', S, '-o', 'json']));
    t.same(after.hosts.map((h) => [h.name, h.alive]), [['h1', true], ['h2', false]], 'get: h2 is dead');
    t.same(after.endpoints.map((e) => [e.container, e.hostAlive]), [['a', true], ['b', false]]);
    t.match(a1.log(), /applied revision/);
  });
}
