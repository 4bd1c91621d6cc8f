/**
 * make demo's "many hosts" section: two simulated hosts (bench/lib/sim) running a topology file
 * through a real etcd.
 *
 *   node dist/bench/sim-demo.js [FILE]     (default examples/hosts.yaml; needs root)
 *
 * Starts the underlay, etcd and an agent per host, creates the file's containers on their hosts
 * (the runtime's part), `vnf-ctl apply --store`s the file, pings across hosts and networks,
 * shows `vnf-ctl get --store`, a connection the firewall allows and one it drops, and removes
 * everything — also when a step fails or on Ctrl-C. Exits 1 when a step fails.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { projectRoot } from '../src/native/binding.js';
import { installSignalHandlers, root } from './lib/cleanup.js';
import { counters } from './lib/net.js';
import { background, run, sleep } from './lib/sys.js';
import { Cluster } from './lib/sim/cluster.js';
import { inContainer, tcpConnects, type SimContainer } from './lib/sim/containers.js';
import { OVERLAY_DEVICE } from './lib/sim/names.js';
import { readMultiHost } from './lib/sim/topology.js';

const step = (s: string): void => {
  process.stdout.write(`\n\x1b[1m== ${s}\x1b[0m\n`);
};
const say = (s: string): void => {
  process.stdout.write(`${s}\n`);
};

function show(c: Cluster, args: string[]): void {
  say(`$ vnf-ctl ${args.join(' ')} --store ${c.store}`);
  const r = c.ctlRun(args);
  process.stdout.write(r.stdout);
  if (r.status !== 0) throw new Error(`vnf-ctl ${args.join(' ')} exited ${r.status}: ${r.stderr.trim()}`);
}

function pingShow(from: SimContainer, to: SimContainer, what: string): void {
  step(`${from.name} (${from.host.name}) -> ${to.name} (${to.host.name}): ${what}`);
  const dst = to.interfaces[0]!.addr;
  const r = run(inContainer(from, ['ping', '-c', '3', '-i', '0.2', '-W', '1', dst]), { check: false, timeoutMs: 20_000 });
  process.stdout.write(r.stdout);
  if (r.status !== 0) throw new Error(`${from.name} cannot ping ${to.name} (${dst})`);
}

async function main(): Promise<void> {
  const file = resolve(process.argv[2] ?? join(projectRoot(), 'examples', 'hosts.yaml'));
  if (process.getuid?.() !== 0) throw new Error('the demo needs root (namespaces, BPF programs)');
  if (!existsSync(join(projectRoot(), 'dist', 'vnf-agent.js'))) throw new Error('dist/vnf-agent.js is missing: run make build');
  if (run(['sh', '-c', 'command -v etcd'], { check: false }).status !== 0) throw new Error('etcd is not installed (make deps installs etcd-server)');
  const mt = readMultiHost(readFileSync(file, 'utf8'), file);
  const hostNames = [...new Set(mt.hostOf.values())].sort();
  const dir = mkdtempSync(join(tmpdir(), 'vnf-sim-demo-'));
  root.defer(`remove ${dir}`, () => rmSync(dir, { recursive: true, force: true }));

  step(`two hosts on one machine: an underlay (a Linux bridge), etcd on it, an agent per host`);
  const c = await Cluster.up({ hosts: hostNames.length, cleanup: root, dir, agents: true });
  say(`underlay: namespace ${c.names.underlay}, etcd at ${c.store}`);
  for (const h of c.hosts) say(`${h.name}: namespace ${h.ns}, ul0 ${h.addr}, own bpffs and /run/vnf; agent pid ${h.agentPid}`);

  step('the runtime plugs in the containers on their hosts (a namespace and a veth each, MTU 1450)');
  const cs = c.createContainers(mt);
  for (const x of cs.values()) say(`${x.name} on ${x.host.name}: ${x.interfaces.map((i) => `${i.name} ${i.addr} (${i.network})`).join(', ')}`);

  step('apply the file to the store: every agent applies its host\'s part');
  show(c, ['apply', '-f', file]);
  const rev = c.view().topology?.revision;
  if (rev === undefined) throw new Error('the store holds no topology after apply');
  const conv = await c.waitConverged(rev, 60_000);
  say(`every host applied revision ${rev} (seen ${Math.round(conv.ms)} ms after asking)`);

  const byName = (n: string): SimContainer => {
    const x = cs.get(n);
    if (!x) throw new Error(`the demo expects a container ${n} in ${file}`);
    return x;
  };
  const [web, api, db] = ['web', 'api', 'db'].map(byName) as [SimContainer, SimContainer, SimContainer];
  pingShow(web, api, 'the same network, across hosts (VXLAN)');
  pingShow(web, db, 'across networks and hosts: r1 routes on h1, then the overlay');
  // The agents talk to etcd over the underlay too: count what h2 sends into the overlay.
  const vx = (): number => counters(db.host.ns, OVERLAY_DEVICE).txPackets;
  const before = vx();
  pingShow(api, db, 'across networks on one host: r1 routes on h2');
  say(`packets h2 sent into the overlay (${OVERLAY_DEVICE}) meanwhile: ${vx() - before} (local routing never crosses it)`);

  step('where everything lives');
  show(c, ['get']);

  step(`the firewall on db: web -> db:5432 allowed, web -> db:22 dropped`);
  background(inContainer(db, ['nc', '-lk', '5432']), root, dir, 'db-listener');
  await sleep(300);
  const ok = tcpConnects(web, db.interfaces[0]!.addr, 5432);
  say(`web -> ${db.interfaces[0]!.addr}:5432 ${ok ? 'connected' : 'FAILED'}`);
  const blocked = !tcpConnects(web, db.interfaces[0]!.addr, 22, 1);
  say(`web -> ${db.interfaces[0]!.addr}:22 ${blocked ? 'no answer (dropped by db-in\'s default)' : 'CONNECTED (should be dropped)'}`);
  if (!ok || !blocked) throw new Error('the firewall did not do what the file says');

  step('teardown: agents, hosts, etcd, underlay');
}

installSignalHandlers((s) => process.stderr.write(`sim-demo: ${s}\n`));
main().then(
  async () => {
    const errs = await root.close();
    if (errs.length) {
      console.error(`sim-demo: cleanup problems: ${errs.join('; ')}`);
      process.exitCode = 1;
    } else console.log('done: nothing of the demo is left');
  },
  async (e: unknown) => {
    console.error(`sim-demo failed: ${(e as Error).message}`);
    const errs = await root.close();
    if (errs.length) console.error(`cleanup problems: ${errs.join('; ')}`);
    process.exitCode = 1;
  },
);
