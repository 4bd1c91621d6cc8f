/**
 * The vnf CNI plugin against the reference `bridge` plugin (with `host-local` IPAM), both as
 * installed in /usr/lib/cni and both run the way a runtime runs them:
 *
 * 1. Directly: the plugin executable spawned with CNI_* in its environment and the network
 *    configuration on stdin, one call at a time, into fresh network namespaces made beforehand
 *    (not counted). Per round and plugin, K containers are ADDed one after another, then DELeted;
 *    the round's figure is the median over the K calls. vnf is measured twice: on a topology with
 *    nothing attached yet, and on one with 200 attachments already (does ADD grow with the
 *    topology?). VERSION of each plugin, in the same rounds, is its start-up floor.
 * 2. Through podman 4.3 (CNI backend): N `podman run -d` started at once (all N processes
 *    concurrently) on a vnf network and on a bridge network, timed until every one has exited
 *    (`podman run -d` exits once its container runs; that all N run is checked after the clock
 *    stops), then one `podman rm -f -t 0` of all N. Podman serialises its CNI calls (one plugin
 *    call at a time on the host, under its network lock), so the plugin's latency adds up over
 *    the N containers however many start at once.
 *
 * Setup, not counted: the topologies (`vnf-ctl lab up`), the 200 attachments (veth pairs attached
 * in one programmatic apply, as `vnf-ctl attach` would one by one), the namespaces, a warm-up ADD
 * and DEL of every plugin and a warm-up container on every podman network (the bridge plugin makes
 * its Linux bridge on its first ADD), the CNI network files (each in /etc/cni/net.d only during its
 * own turn: podman asks every plugin of every network file for its VERSION at each command, so a
 * vnf file present during the bridge turn would bill vnf's start-up to the baseline).
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../../src/native/binding.js';
import { loadTopology } from '../../src/spec/index.js';
import { applyTopology, destroyTopology, topologyExists } from '../../src/ops/topology.js';
import { kernelAttachments } from '../../src/ops/attachments.js';
import { observe } from '../../src/observe/kernel.js';
import { withExpeditedRcu } from '../../src/apply/expedite.js';
import { lockPath } from '../../src/model/names.js';
import type { Cleanup } from '../lib/cleanup.js';
import { barChart, type Bar } from '../lib/charts.js';
import { emptyResult, fmtNum, fmtRatio, fmtSummary, interleave, Samples, type Context, type Scenario, type ScenarioResult } from '../lib/harness.js';
import { ipBatch } from '../lib/net.js';
import { run, sleep } from '../lib/sys.js';

const CNI_DIR = '/usr/lib/cni';
const VNF_BIN = join(CNI_DIR, 'vnf');
const BRIDGE_BIN = join(CNI_DIR, 'bridge');
const NET_D = '/etc/cni/net.d';
const IMAGE = 'localhost/vnf-busybox:latest';
const CLI = (): string => join(projectRoot(), 'dist', 'vnf-ctl.js');
/** What a runtime's environment has at least; the bench's own (NODE_EXTRA_CA_CERTS, long PATH) stays out. */
const BASE_ENV = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', CNI_PATH: CNI_DIR };
/** Attachments already on the "grown" topology. */
const ATTACHED = 200;

interface Call {
  ms: number;
  status: number;
  stdout: string;
  stderr: string;
}

/** One plugin call as a runtime makes it: wall time from spawn to exit. */
function cniCall(bin: string, env: Record<string, string>, conf: unknown): Call {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(bin, [], { input: JSON.stringify(conf), encoding: 'utf8', env: { ...BASE_ENV, ...env }, timeout: 60_000, killSignal: 'SIGKILL' });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.error) throw new Error(`${bin} ${env['CNI_COMMAND']}: ${r.error.message}`);
  return { ms, status: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

function cniOk(bin: string, env: Record<string, string>, conf: unknown): Call {
  const c = cniCall(bin, env, conf);
  if (c.status !== 0) throw new Error(`${bin} ${env['CNI_COMMAND']} ${env['CNI_CONTAINERID'] ?? ''} exited ${c.status}: ${(c.stdout + c.stderr).trim().slice(0, 400)}`);
  if (env['CNI_COMMAND'] === 'ADD') {
    const addr = (JSON.parse(c.stdout) as { ips?: Array<{ address?: string }> }).ips?.[0]?.address;
    if (!addr) throw new Error(`${bin} ADD gave no address: ${c.stdout.slice(0, 300)}`);
  }
  return c;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/** Fails with the way out unless podman, this checkout's plugin, the reference plugins and the image are there. */
function requireSetup(): void {
  const why = 'run `make test-setup` (installs podman with the CNI backend, the plugin and the image)';
  if (run(['podman', '--version'], { check: false }).status !== 0) throw new Error(`podman is not installed: ${why}`);
  let wrapper = '';
  try {
    wrapper = readFileSync(VNF_BIN, 'utf8');
  } catch {
    /* reported below */
  }
  if (!wrapper.includes(join(projectRoot(), 'dist', 'vnf-cni.js'))) throw new Error(`${VNF_BIN} does not run this checkout's plugin: ${why}`);
  for (const p of [BRIDGE_BIN, join(CNI_DIR, 'host-local')]) if (!existsSync(p)) throw new Error(`no ${p} (containernetworking-plugins): ${why}`);
  if (run(['podman', 'image', 'exists', IMAGE], { check: false }).status !== 0) throw new Error(`no image ${IMAGE}: ${why}`);
  const backend = run(['podman', 'info', '--format', '{{.Host.NetworkBackend}}'], { check: false }).stdout.trim();
  if (backend !== 'cni') throw new Error(`podman's network backend is ${backend || 'unknown'}, not cni: ${why}`);
}

const attachedCount = (topology: string, network?: string): number =>
  kernelAttachments(observe(topology)).filter((a) => network === undefined || a.network === network).length;

/** `vnf-ctl lab up` of a file; `lab down` (and, failing that, destroy; then its lock file) registered first. */
function labUp(name: string, yaml: string, dir: string, cl: Cleanup): string {
  const file = join(dir, `${name}.yaml`);
  writeFileSync(file, yaml);
  const down = (): void => {
    run([process.execPath, CLI(), 'lab', 'down', '-f', file], { check: false, timeoutMs: 120_000 });
    if (topologyExists(name)) run([process.execPath, CLI(), 'destroy', name], { check: false, timeoutMs: 120_000 });
    if (!topologyExists(name)) rmSync(lockPath(name), { force: true });
  };
  cl.defer(`lab down ${name}`, down, down);
  run([process.execPath, CLI(), 'lab', 'up', '-f', file], { timeoutMs: 120_000 });
  return file;
}

/**
 * `n` veth pairs (host ends `<prefix><i>`, peers in one namespace) attached to network `network`
 * of `topology` in one programmatic apply with expedited grace periods (setup). Undone the way
 * bench/control-plane.ts undoes its ports: the namespace goes (and with it the veths and their
 * links), then the topology, all with expedited grace periods.
 */
async function attachMany(o: { topology: string; file: string; network: string; base: number; prefix: number; n: number; ifPrefix: string; ns: string; dir: string }, cl: Cleanup): Promise<number> {
  const last = `${o.ifPrefix}${o.n - 1}`;
  let applied = false;
  cl.defer(`remove the ${o.n} attached ports of ${o.topology}`, () => withExpeditedRcu(true, async () => {
    run(['ip', 'netns', 'del', o.ns], { check: false });
    const t0 = Date.now();
    while (Date.now() - t0 < 120_000 && existsSync(`/sys/class/net/${last}`)) await sleep(100);
    if (applied && topologyExists(o.topology)) await destroyTopology(o.topology);
  }), () => {
    run(['ip', 'netns', 'del', o.ns], { check: false });
    if (applied) run([process.execPath, CLI(), 'destroy', o.topology], { check: false, timeoutMs: 120_000 });
  });
  run(['ip', 'netns', 'add', o.ns]);
  const lines: string[] = [];
  for (let i = 0; i < o.n; i++) lines.push(`link add ${o.ifPrefix}${i} type veth peer name p${i} netns ${o.ns}`, `link set ${o.ifPrefix}${i} up`);
  ipBatch(o.dir, lines);
  const attachments = Array.from({ length: o.n }, (_, i) => ({ ifname: `${o.ifPrefix}${i}`, network: o.network, ip: (o.base + 1 + i) >>> 0, prefix: o.prefix }));
  applied = true;
  const t0 = process.hrtime.bigint();
  await applyTopology(loadTopology(o.file), { attachments, fastAttach: true });
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

interface PluginVariant {
  id: 'bridge' | 'vnf' | 'vnf-200';
  label: string;
  short: string;
  bin: string;
  conf: Record<string, unknown>;
  /** The attachments of its vnf network before the round's ADDs (vnf only). */
  topology?: { name: string; network: string; before: number };
}

interface PodVariant {
  id: 'bridge' | 'vnf';
  label: string;
  network: string;
  file: string;
  conflist: Record<string, unknown>;
  /** Containers on the network as the host sees them (attachments, bridge ports). */
  count(): number;
}

interface PodResult {
  startS: number;
  rmS: number;
}

/** Runs `argv`, resolving with its exit status and output (stdout+stderr, capped). */
function spawnP(argv: string[], timeoutMs: number): Promise<{ status: number; out: string }> {
  return new Promise((resolve) => {
    const p = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const add = (d: Buffer): void => {
      if (out.length < 4000) out += d.toString();
    };
    p.stdout.on('data', add);
    p.stderr.on('data', add);
    const timer = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.on('error', (e) => {
      clearTimeout(timer);
      resolve({ status: -1, out: e.message });
    });
    p.on('close', (code, sig) => {
      clearTimeout(timer);
      resolve({ status: code ?? (sig ? 128 : -1), out });
    });
  });
}

export const cniScenario: Scenario = {
  id: 'cni',
  title: 'CNI plugin: vnf vs the reference bridge plugin',
  about: 'ADD/DEL latency of /usr/lib/cni/vnf vs bridge+host-local called directly (also with 200 containers attached), and starting/removing N podman containers on a vnf vs a bridge network',
  minutes: { quick: 1.2, full: 3.5 },
  rounds: { quick: 2, full: 3 },
  async run(ctx: Context): Promise<ScenarioResult> {
    const res = emptyResult();
    const cl = ctx.cleanup;
    const tag = ctx.tag;
    const K = ctx.quick ? 5 : 10;
    const N = ctx.quick ? 15 : 50;
    // A podman round costs over a minute at 50 containers: one round fewer than the plugin's
    // rounds when there are three or more.
    const podRounds = ctx.rounds >= 3 ? ctx.rounds - 1 : ctx.rounds;
    requireSetup();

    const topoA = `vb${tag}c`;
    const topoB = `vb${tag}g`;
    const brDirect = `vbd${tag}`;
    const brPod = `vbp${tag}`;
    const podNetVnf = `vb${tag}n`;
    const podNetBridge = `vb${tag}b`;
    const label = `vnf-bench=${tag}`;
    const nsPrefix = `vnfb${tag}`;
    const growPrefix = `vb${tag}g`;
    const conflist = (net: string): string => join(NET_D, `${net}.conflist`);
    const podNames = (v: string, r: number): string[] => Array.from({ length: N }, (_, i) => `vb${tag}-${v}${r}-${i}`);
    const ipamDir = (what: string): string => {
      const d = join(ctx.tmp, `cni-${tag}-ipam-${what}`);
      mkdirSync(d, { recursive: true });
      return d;
    };

    // Runs last: everything the scenario made is gone (else the run reports a cleanup problem).
    cl.defer('check that nothing of the cni scenario is left', () => {
      const left: string[] = [];
      const pods = run(['podman', 'ps', '-a', '--filter', `label=${label}`, '--format', '{{.Names}}'], { check: false }).stdout.trim();
      if (pods) left.push(`podman containers ${pods.split('\n').join(' ')}`);
      const ns = existsSync('/run/netns') ? readdirSync('/run/netns').filter((n) => n.startsWith(nsPrefix)) : [];
      if (ns.length) left.push(`namespaces ${ns.join(' ')}`);
      const links = readdirSync('/sys/class/net').filter((n) => n === brDirect || n === brPod || n.startsWith(growPrefix));
      if (links.length) left.push(`interfaces ${links.slice(0, 10).join(' ')}${links.length > 10 ? ' …' : ''}`);
      const aliases = readdirSync('/sys/class/net').filter((n) => /^vnf[0-9a-f]{11}$/.test(n)).filter((n) => {
        try {
          return readFileSync(`/sys/class/net/${n}/ifalias`, 'utf8').includes(`vb${tag}`);
        } catch {
          return false;
        }
      });
      if (aliases.length) left.push(`CNI host interfaces ${aliases.join(' ')}`);
      const files = [podNetVnf, podNetBridge].map(conflist).filter((f) => existsSync(f));
      if (files.length) left.push(`network files ${files.join(' ')}`);
      const topos = [topoA, topoB].filter((t) => topologyExists(t));
      if (topos.length) left.push(`topologies ${topos.join(' ')}`);
      const locks = [topoA, topoB].map(lockPath).filter((l) => existsSync(l));
      if (locks.length) left.push(`lock files ${locks.join(' ')}`);
      if (left.length) throw new Error(`left behind: ${left.join('; ')}`);
    });

    // --- setup (not counted) ---
    ctx.log(`set up topologies ${topoA} (empty) and ${topoB} (${ATTACHED} attached)`);
    const fileA = labUp(topoA, `apiVersion: vnf/v1\nname: ${topoA}\nnetworks:\n  d: { subnet: 10.66.0.0/22 }\n  p: { subnet: 10.66.4.0/22 }\n`, ctx.tmp, cl);
    const fileB = labUp(topoB, `apiVersion: vnf/v1\nname: ${topoB}\nnetworks:\n  d: { subnet: 10.66.8.0/22 }\n`, ctx.tmp, cl);
    const growMs = await attachMany({
      topology: topoB, file: fileB, network: 'd', base: ((10 << 24) | (66 << 16) | (8 << 8)) >>> 0, prefix: 22,
      n: ATTACHED, ifPrefix: growPrefix, ns: `${nsPrefix}g`, dir: ctx.tmp,
    }, cl);
    if (attachedCount(topoB) !== ATTACHED) throw new Error(`${topoB} has ${attachedCount(topoB)} attachments, not ${ATTACHED}`);
    ctx.log(`  ${ATTACHED} attached in ${fmtNum(growMs / 1000, 1)} s`);
    const delLink = (name: string): void => {
      run(['ip', 'link', 'del', name], { check: false });
    };
    cl.defer(`delete bridge ${brDirect}`, () => delLink(brDirect));
    cl.defer(`delete bridge ${brPod}`, () => delLink(brPod));
    cl.defer('remove the CNI network files', () => {
      for (const n of [podNetVnf, podNetBridge]) rmSync(conflist(n), { force: true });
    });
    const rmPods = (): void => {
      const ids = run(['podman', 'ps', '-a', '--filter', `label=${label}`, '-q'], { check: false }).stdout.split('\n').filter(Boolean);
      if (ids.length) run(['podman', 'rm', '-f', '-t', '0', ...ids], { check: false, timeoutMs: 300_000 });
    };
    cl.defer('remove the podman containers', rmPods, rmPods);

    const pv: PluginVariant[] = [
      {
        id: 'bridge', label: 'bridge + host-local (baseline)', short: 'b', bin: BRIDGE_BIN,
        conf: {
          cniVersion: '1.0.0', name: `vb${tag}bd`, type: 'bridge', bridge: brDirect, isGateway: false, ipMasq: false,
          ipam: { type: 'host-local', dataDir: ipamDir('direct'), ranges: [[{ subnet: '10.66.32.0/22' }]] },
        },
      },
      {
        id: 'vnf', label: 'vnf, empty topology', short: 'v', bin: VNF_BIN,
        conf: { cniVersion: '1.0.0', name: `vb${tag}vd`, type: 'vnf', topology: topoA, network: 'd' },
        topology: { name: topoA, network: 'd', before: 0 },
      },
      {
        id: 'vnf-200', label: `vnf, ${ATTACHED} attached`, short: 'g', bin: VNF_BIN,
        conf: { cniVersion: '1.0.0', name: `vb${tag}gd`, type: 'vnf', topology: topoB, network: 'd' },
        topology: { name: topoB, network: 'd', before: ATTACHED },
      },
    ];

    /** K fresh namespaces (their deletion registered first); returns them and their undo. */
    const namespaces = (names: string[]): { names: string[]; remove: () => Promise<void> } => {
      const undo = cl.defer(`delete namespaces ${names[0]}…`, () => {
        for (const n of names) run(['ip', 'netns', 'del', n], { check: false });
      });
      ipBatch(ctx.tmp, names.map((n) => `netns add ${n}`));
      return { names, remove: undo };
    };
    const envFor = (cmd: string, cid: string, ns: string): Record<string, string> => ({ CNI_COMMAND: cmd, CNI_CONTAINERID: cid, CNI_NETNS: `/run/netns/${ns}`, CNI_IFNAME: 'eth0' });

    // Warm-up: one ADD and DEL each (the bridge plugin makes its bridge on its first ADD; page cache).
    ctx.log('warm-up ADD/DEL of every plugin');
    {
      const w = namespaces(pv.map((v) => `${nsPrefix}w${v.short}`));
      for (const [i, v] of pv.entries()) {
        cniOk(v.bin, envFor('ADD', `vb${tag}w${v.short}`, w.names[i]!), v.conf);
        cniOk(v.bin, envFor('DEL', `vb${tag}w${v.short}`, w.names[i]!), v.conf);
      }
      await w.remove();
    }

    // --- 1. the plugins called directly ---
    const s = new Samples();
    s.metric('add-ms', 'ms', 'lower');
    s.metric('del-ms', 'ms', 'lower');
    s.metric('version-ms', 'ms', 'lower');
    const calls: Record<string, { add: number[][]; del: number[][] }> = {};
    type Step = { kind: 'version'; id: 'bridge' | 'vnf'; bin: string } | { kind: 'plugin'; v: PluginVariant };
    const steps: Step[] = [
      { kind: 'version', id: 'bridge', bin: BRIDGE_BIN },
      { kind: 'version', id: 'vnf', bin: VNF_BIN },
      ...pv.map((v): Step => ({ kind: 'plugin', v })),
    ];
    ctx.log(`plugins called directly: ${K} containers per plugin and round`);
    await interleave(steps, ctx.rounds, async (st, r) => {
      if (st.kind === 'version') {
        const ms = Array.from({ length: K }, () => cniOk(st.bin, { CNI_COMMAND: 'VERSION' }, { cniVersion: '1.0.0' }).ms);
        s.add('version-ms', st.id, r, median(ms));
        return;
      }
      const v = st.v;
      const ns = namespaces(Array.from({ length: K }, (_, i) => `${nsPrefix}${v.short}${r}-${i}`));
      const cids = ns.names.map((_, i) => `vb${tag}-${v.short}${r}-${i}`);
      const add = cids.map((cid, i) => cniOk(v.bin, envFor('ADD', cid, ns.names[i]!), v.conf).ms);
      if (v.topology && attachedCount(v.topology.name, v.topology.network) !== v.topology.before + K) {
        throw new Error(`after ${K} ADDs ${v.topology.name} has ${attachedCount(v.topology.name, v.topology.network)} attachments on ${v.topology.network}, not ${v.topology.before + K}`);
      }
      if (v.id === 'bridge' && readdirSync(`/sys/class/net/${brDirect}/brif`).length !== K) throw new Error(`after ${K} ADDs ${brDirect} does not have ${K} ports`);
      const del = cids.map((cid, i) => cniOk(v.bin, envFor('DEL', cid, ns.names[i]!), v.conf).ms);
      if (v.topology && attachedCount(v.topology.name, v.topology.network) !== v.topology.before) throw new Error(`DEL left attachments on ${v.topology.name}`);
      if (v.id === 'bridge' && readdirSync(`/sys/class/net/${brDirect}/brif`).length !== 0) throw new Error(`DEL left ports on ${brDirect}`);
      await ns.remove();
      s.add('add-ms', v.id, r, median(add));
      s.add('del-ms', v.id, r, median(del));
      (calls[v.id] ??= { add: [], del: [] }).add[r] = add.map((x) => Math.round(x * 10) / 10);
      calls[v.id]!.del[r] = del.map((x) => Math.round(x * 10) / 10);
    }, (m) => ctx.log(`plugins: ${m}`));
    const R = ctx.rounds;
    s.derive('add-ms/empty', '×', 'vnf-200', (r) => s.get('add-ms', 'vnf-200')[r]! / s.get('add-ms', 'vnf')[r]!, R, 'lower');
    s.derive('del-ms/empty', '×', 'vnf-200', (r) => s.get('del-ms', 'vnf-200')[r]! / s.get('del-ms', 'vnf')[r]!, R, 'lower');
    for (const id of ['vnf', 'vnf-200']) {
      s.derive('add-over-version-ms', 'ms', id, (r) => s.get('add-ms', id)[r]! - s.get('version-ms', 'vnf')[r]!, R, 'lower');
    }

    // --- 2. podman ---
    const podVariants: PodVariant[] = [
      {
        id: 'bridge', label: 'bridge + host-local (baseline)', network: podNetBridge, file: conflist(podNetBridge),
        conflist: {
          cniVersion: '1.0.0', name: podNetBridge,
          plugins: [{ type: 'bridge', bridge: brPod, isGateway: false, ipMasq: false, ipam: { type: 'host-local', dataDir: ipamDir('podman'), ranges: [[{ subnet: '10.66.36.0/22' }]] } }],
        },
        count: () => (existsSync(`/sys/class/net/${brPod}/brif`) ? readdirSync(`/sys/class/net/${brPod}/brif`).length : 0),
      },
      {
        id: 'vnf', label: 'vnf', network: podNetVnf, file: conflist(podNetVnf),
        conflist: { cniVersion: '1.0.0', name: podNetVnf, plugins: [{ type: 'vnf', topology: topoA, network: 'p' }] },
        count: () => attachedCount(topoA, 'p'),
      },
    ];
    const running = (): string[] => run(['podman', 'ps', '--filter', `label=${label}`, '--filter', 'status=running', '--format', '{{.Names}}'], { check: false }).stdout.split('\n').filter(Boolean);
    const allPods = (): string[] => run(['podman', 'ps', '-a', '--filter', `label=${label}`, '--format', '{{.Names}}'], { check: false }).stdout.split('\n').filter(Boolean);
    const runArgs = (name: string, network: string): string[] => ['podman', 'run', '-d', '--name', name, '--label', label, '--network', network, IMAGE, 'sleep', '1000'];
    /** Starts `names` at once on `v`'s network, then removes them: both timed; the network file is there only meanwhile. */
    const podRound = async (v: PodVariant, names: string[]): Promise<PodResult> => {
      writeFileSync(v.file, JSON.stringify(v.conflist, null, 2));
      try {
        const t0 = process.hrtime.bigint();
        const results = await Promise.all(names.map((n) => spawnP(runArgs(n, v.network), 300_000)));
        const startS = Number(process.hrtime.bigint() - t0) / 1e9;
        const failed = results.map((x, i) => ({ ...x, name: names[i]! })).filter((x) => x.status !== 0);
        if (failed.length) throw new Error(`${failed.length} of ${names.length} podman run on ${v.network} failed, e.g. ${failed[0]!.name}: ${failed[0]!.out.trim().slice(-300)}`);
        const up = running().filter((n) => names.includes(n)).length;
        if (up !== names.length) throw new Error(`${up} of ${names.length} containers running on ${v.network}`);
        if (v.count() !== names.length) throw new Error(`${v.count()} containers on ${v.network} as the host sees it, not ${names.length}`);
        const t1 = process.hrtime.bigint();
        const rm = run(['podman', 'rm', '-f', '-t', '0', ...names], { check: false, timeoutMs: 300_000 });
        const rmS = Number(process.hrtime.bigint() - t1) / 1e9;
        if (rm.status !== 0) throw new Error(`podman rm on ${v.network} exited ${rm.status}: ${rm.stderr.trim().slice(-300)}`);
        const left = allPods();
        if (left.length) throw new Error(`after podman rm: ${left.length} containers left (${left.slice(0, 3).join(' ')})`);
        if (v.count() !== 0) throw new Error(`after podman rm: ${v.count()} containers still on ${v.network} as the host sees it`);
        return { startS, rmS };
      } finally {
        // Removed only once its containers are (their DEL needs it); the cleanup removes them otherwise.
        if (!allPods().length) rmSync(v.file, { force: true });
      }
    };
    ctx.log('warm-up container on each podman network');
    for (const v of podVariants) await podRound(v, [`vb${tag}-w${v.id}`]);

    const p = new Samples();
    p.metric('start-s', 's', 'lower');
    p.metric('rm-s', 's', 'lower');
    ctx.log(`podman: ${N} containers started at once per network and round, ${podRounds} rounds`);
    await interleave(podVariants, podRounds, async (v, r) => {
      const x = await podRound(v, podNames(v.id, r));
      p.add('start-s', v.id, r, x.startS);
      p.add('rm-s', v.id, r, x.rmS);
      ctx.log(`  ${v.id}: started ${N} in ${fmtNum(x.startS, 1)} s, removed in ${fmtNum(x.rmS, 1)} s`);
    }, (m) => ctx.log(`podman: ${m}`));
    for (const id of ['bridge', 'vnf']) {
      p.derive('start-per-s', 'containers/s', id, (r) => N / p.get('start-s', id)[r]!, podRounds, 'higher');
      p.derive('rm-per-s', 'containers/s', id, (r) => N / p.get('rm-s', id)[r]!, podRounds, 'higher');
    }
    p.derive('start-extra-ms', 'ms per container', 'vnf', (r) => ((p.get('start-s', 'vnf')[r]! - p.get('start-s', 'bridge')[r]!) * 1000) / N, podRounds, 'lower');
    p.derive('rm-extra-ms', 'ms per container', 'vnf', (r) => ((p.get('rm-s', 'vnf')[r]! - p.get('rm-s', 'bridge')[r]!) * 1000) / N, podRounds, 'lower');

    // --- report ---
    res.figures = {
      'add-ms': s.figures('add-ms', 'bridge'), 'del-ms': s.figures('del-ms', 'bridge'), 'version-ms': s.figures('version-ms', 'bridge'),
      'add-ms/empty': s.figures('add-ms/empty'), 'del-ms/empty': s.figures('del-ms/empty'), 'add-over-version-ms': s.figures('add-over-version-ms'),
      'podman-start-s': p.figures('start-s', 'bridge'), 'podman-rm-s': p.figures('rm-s', 'bridge'),
      'podman-start-per-s': p.figures('start-per-s', 'bridge'), 'podman-rm-per-s': p.figures('rm-per-s', 'bridge'),
      'podman-start-extra-ms': p.figures('start-extra-ms'), 'podman-rm-extra-ms': p.figures('rm-extra-ms'),
    };
    const f = (m: string, id: string) => res.figures[m]!.find((x) => x.variant === id)!;
    const vs = (m: string, id: string): string => (id === 'bridge' ? '(baseline)' : fmtRatio(f(m, id).ratio));
    res.tables.push({
      title: 'CNI plugins called directly: wall time per call (ms), bridge + host-local as the baseline in the same rounds',
      columns: ['plugin', 'ADD, ms', 'ADD × bridge', 'DEL, ms', 'DEL × bridge', `× vnf on the empty topology (ADD / DEL)`],
      rows: [
        ...pv.map((v) => [
          v.label, fmtSummary(f('add-ms', v.id).summary), vs('add-ms', v.id), fmtSummary(f('del-ms', v.id).summary), vs('del-ms', v.id),
          v.id === 'vnf-200' ? `${fmtRatio(f('add-ms/empty', v.id).summary)} / ${fmtRatio(f('del-ms/empty', v.id).summary)}` : '',
        ]),
        ['VERSION, bridge (start-up floor)', fmtSummary(f('version-ms', 'bridge').summary), '(baseline)', '', '', ''],
        ['VERSION, vnf (start-up floor)', fmtSummary(f('version-ms', 'vnf').summary), fmtRatio(f('version-ms', 'vnf').ratio), '', '', ''],
      ],
      notes: [
        `Each call is the installed executable (${VNF_BIN}: a shell wrapper exec'ing \`node dist/vnf-cni.js\`; ${BRIDGE_BIN}: a Go binary that runs ${CNI_DIR}/host-local for the address) spawned with CNI_COMMAND, CNI_CONTAINERID, CNI_NETNS, CNI_IFNAME, CNI_PATH and a plain PATH, the configuration on stdin; wall time from spawn to exit. Per round and plugin: ${K} containers (fresh namespaces, made before and deleted after, not counted) ADDed one after another, then DELeted; the round's figure is the median of the ${K} calls. Median (min–max) over ${R} interleaved rounds; ratios per round.`,
        `bridge: a Linux bridge ${brDirect}, isGateway false, ipMasq false, host-local on 10.66.32.0/22 (its state in the run's scratch folder). vnf: network d (10.66.0.0/22) of topology ${topoA}, nothing else attached (so ${K} ADDs meet 0 to ${K - 1} attachments), no router, no firewall, vnf's own IPAM; "${ATTACHED} attached": network d (10.66.8.0/22) of topology ${topoB}, which holds ${ATTACHED} attachments made in setup (${fmtNum(growMs / 1000, 1)} s, one programmatic apply with expedited grace periods). A warm-up ADD and DEL of each (the bridge plugin creates its bridge on its first ADD) came before the rounds.`,
        `VERSION is each plugin's start-up floor (for vnf: the installed wrapper answers it in the shell, without node, since podman asks it before every command; node alone starts in about 50 ms). vnf's ADD above its own VERSION: ${fmtSummary(f('add-over-version-ms', 'vnf').summary)} ms on the empty topology, ${fmtSummary(f('add-over-version-ms', 'vnf-200').summary)} ms with ${ATTACHED} attached.`,
      ],
    });
    const pf = (m: string, id: string) => f(m, id);
    res.tables.push({
      title: `podman: starting ${N} containers at once and removing them, on a vnf network vs a bridge network`,
      columns: ['network', `start ${N}, s`, 'containers/s', '× bridge (time)', `rm -f ${N}, s`, 'containers/s', '× bridge (time)', 'vnf extra per container, ms (start / rm)'],
      rows: podVariants.map((v) => [
        v.label, fmtSummary(pf('podman-start-s', v.id).summary), fmtSummary(pf('podman-start-per-s', v.id).summary), vs('podman-start-s', v.id),
        fmtSummary(pf('podman-rm-s', v.id).summary), fmtSummary(pf('podman-rm-per-s', v.id).summary), vs('podman-rm-s', v.id),
        v.id === 'vnf' ? `${fmtSummary(pf('podman-start-extra-ms', 'vnf').summary, 0)} / ${fmtSummary(pf('podman-rm-extra-ms', 'vnf').summary, 0)}` : '',
      ]),
      notes: [
        `Podman ${run(['podman', '--version'], { check: false }).stdout.trim().replace(/^podman version /, '')}, CNI backend, runc, rootful. Per round and network: ${N} \`podman run -d --network NET ${IMAGE} sleep 1000\` started all at once (${N} concurrent podman processes), timed until the last exits (\`run -d\` exits once its container runs; that all ${N} run, and that the host sees ${N} containers on the network, is checked after the clock stops); then one \`podman rm -f -t 0\` of all ${N}, timed, and checked to leave nothing. Median (min–max) over ${podRounds} interleaved rounds; ratios per round. "vnf extra per container": (vnf time − bridge time) / ${N}, per round.`,
        `Podman serialises CNI calls (one plugin call at a time, under its network lock), so however many containers start at once their ADDs (and DELs at rm) run one after another: a plugin's latency adds up over the ${N} containers, and the rest of podman's work (storage, runc, conmon) overlaps with it on the machine's cores. Each podman process also asks every plugin of every network file in ${NET_D} for its VERSION when it starts; each network file is therefore there only during its own turn (files of other users of the machine, e.g. the default podman network, are there for both).`,
        `Networks: the bridge network ${podNetBridge} (bridge ${brPod}, isGateway false, ipMasq false, host-local on 10.66.36.0/22); the vnf network ${podNetVnf} (network p, 10.66.4.0/22, of topology ${topoA}, empty at the start of each round). One warm-up container on each came before the rounds. Containers are removed between rounds by the measured rm itself.`,
      ],
    });
    // Every facet (ADD, DEL) has the same bars: the start-up floors appear in both.
    const bars: Bar[] = (['ADD', 'DEL'] as const).flatMap((cmd): Bar[] => [
      ...(['bridge', 'vnf'] as const).map((id): Bar => ({ label: `VERSION, ${id} (start-up floor)`, family: 'limit', series: cmd, s: f('version-ms', id).summary })),
      ...pv.map((v): Bar => ({ label: v.label, family: v.id === 'bridge' ? 'linux' : 'vnf', series: cmd, s: f(cmd === 'ADD' ? 'add-ms' : 'del-ms', v.id).summary })),
    ]);
    res.charts.push({ id: 'cni-plugin', title: 'CNI plugin latency', spec: barChart('CNI plugin called directly: wall time per call (ms)', 'ms', bars) });
    const podBars: Bar[] = podVariants.flatMap((v): Bar[] => [
      { label: v.label, family: v.id === 'bridge' ? 'linux' : 'vnf', series: `start ${N} at once`, s: pf('podman-start-s', v.id).summary },
      { label: v.label, family: v.id === 'bridge' ? 'linux' : 'vnf', series: `rm -f ${N}`, s: pf('podman-rm-s', v.id).summary },
    ]);
    res.charts.push({ id: 'cni-podman', title: `podman, ${N} containers`, spec: barChart(`podman: ${N} containers started at once, then removed (s)`, 's', podBars) });
    res.notes.push(
      `cni: vnf ADD ${fmtSummary(f('add-ms', 'vnf').summary, 0)} ms vs bridge ${fmtSummary(f('add-ms', 'bridge').summary, 0)} ms (${fmtRatio(f('add-ms', 'vnf').ratio)}); DEL ${fmtSummary(f('del-ms', 'vnf').summary, 0)} vs ${fmtSummary(f('del-ms', 'bridge').summary, 0)} ms; ` +
      `podman, ${N} at once: ${fmtSummary(pf('podman-start-s', 'vnf').summary, 1)} s vs ${fmtSummary(pf('podman-start-s', 'bridge').summary, 1)} s to start, ${fmtSummary(pf('podman-rm-s', 'vnf').summary, 1)} s vs ${fmtSummary(pf('podman-rm-s', 'bridge').summary, 1)} s to remove.`,
    );
    res.data = { containersPerRound: K, podmanContainers: N, podmanRounds: podRounds, attached: ATTACHED, attachSetupMs: growMs, callsMs: calls, fileA, fileB };
    return res;
  },
};
