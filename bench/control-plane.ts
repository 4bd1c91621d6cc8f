/**
 * The control plane as users run it: `vnf-ctl` end to end (the shipped bundle dist/vnf-ctl.js, a
 * new `node` process each time, as from a shell), timed with its peak RSS, on topologies the
 * bench sets up beforehand (setup not counted):
 * - a firewall of `n` rules on one lab container (`vnf-ctl lab up`): a one-rule change, then a
 *   no-op apply;
 * - `n` ports (veth pairs, peers in a few namespaces) attached programmatically in one apply
 *   (with --fast-attach's expedited grace periods: the attaches are setup here): `vnf-ctl plan`.
 * The scenario (scenarios/control-plane.ts) measures these in interleaved rounds next to
 * `node -e 0`, `vnf-ctl --help` and `vnf-ctl validate`.
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../src/native/binding.js';
import { formatAddr } from '../src/spec/ipv4.js';
import type { FirewallRule } from '../src/vnf/firewall/model.js';
import { loadTopology } from '../src/spec/index.js';
import { applyTopology, destroyTopology } from '../src/ops/topology.js';
import type { Cleanup } from './lib/cleanup.js';
import { ipBatch } from './lib/net.js';
import { run, sleep } from './lib/sys.js';
import { withExpeditedRcu } from '../src/apply/expedite.js';
import { randomRules } from './fw-gen.js';

const CLI = (): string => join(projectRoot(), 'dist', 'vnf-ctl.js');

export interface Timed {
  /** Wall time from spawn to exit, measured here (includes GNU time's own exec, ~1 ms, for every command alike). */
  ms: number;
  /** Peak RSS of the command (GNU time's %M). */
  rssMb: number;
  status: number;
  stdout: string;
  stderr: string;
}

/** Runs a command under GNU time: wall time (hrtime around it) and the command's peak RSS. */
export function timed(argv: string[]): Timed {
  const t0 = process.hrtime.bigint();
  const r = spawnSync('/usr/bin/time', ['-f', 'vnf-bench-rss %M', ...argv], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  const lines = (r.stderr ?? '').trimEnd().split('\n');
  const last = lines.pop() ?? '';
  const kb = /^vnf-bench-rss (\d+)$/.exec(last)?.[1];
  return { ms, rssMb: kb ? Number(kb) / 1024 : NaN, status: r.status ?? -1, stdout: r.stdout ?? '', stderr: lines.join('\n') };
}

export const vnfCtl = (...args: string[]): Timed => timed([process.execPath, CLI(), ...args]);

/** A vnf-ctl run that must succeed (a failed command would time an error path). */
export function vnfCtlOk(...args: string[]): Timed {
  const t = vnfCtl(...args);
  if (t.status !== 0) throw new Error(`vnf-ctl ${args.join(' ')} exited ${t.status}: ${(t.stderr || t.stdout).trim().slice(-400)}`);
  return t;
}

/** A rule in topology-file syntax. */
function yamlRule(r: FirewallRule): string {
  const parts = [`action: ${r.action}`, `proto: ${r.proto}`];
  if (r.src.prefix) parts.push(`from: ${formatAddr(r.src.addr)}/${r.src.prefix}`);
  if (r.dst.prefix) parts.push(`to: ${formatAddr(r.dst.addr)}/${r.dst.prefix}`);
  const ranges = (rs: Array<readonly [number, number]>): string => `[${rs.map(([a, b]) => (a === b ? `${a}` : `"${a}-${b}"`)).join(', ')}]`;
  const all = (rs: Array<readonly [number, number]>): boolean => rs.length === 1 && rs[0]![0] === 0 && rs[0]![1] === 65535;
  if ((r.proto === 'tcp' || r.proto === 'udp') && !all(r.dports)) parts.push(`ports: ${ranges(r.dports.map(([a, b]) => [Math.max(a, 1), b] as const))}`);
  if ((r.proto === 'tcp' || r.proto === 'udp') && !all(r.sports)) parts.push(`src-ports: ${ranges(r.sports.map(([a, b]) => [Math.max(a, 1), b] as const))}`);
  if (r.proto === 'icmp' && r.icmpType !== undefined) parts.push(`icmp-type: ${r.icmpType}`);
  return `        - { ${parts.join(', ')} }`;
}

function firewallTopology(name: string, rules: FirewallRule[]): string {
  return `apiVersion: vnf/v1
name: ${name}
containers:
  web: { interfaces: { eth0: { network: front, ip: 10.99.1.10/24 } } }
networks:
  front: { subnet: 10.99.1.0/24 }
firewalls:
  big:
    attach: [web/eth0]
    ingress:
      default: drop
      rules:
${rules.map(yamlRule).join('\n')}
`;
}

export interface FirewallSetup {
  rules: number;
  name: string;
  /** `vnf-ctl lab up` of the topology (setup, reported for reference). */
  up: Timed;
  /** A one-rule change (one more rule from n/2 on flips between allow and drop, so every call is a change). */
  change(): Timed;
  /** `apply` of the file as it is. */
  noop(): Timed;
  /** `plan` of the file: "no changes" when the last apply converged. */
  plan(): Timed;
}

/** A lab topology with an `n`-rule firewall (random rule set, fw-gen) on its one container. */
export function firewallSetup(n: number, name: string, dir: string, cleanup: Cleanup): FirewallSetup {
  const file = join(dir, `${name}.yaml`);
  const rules = randomRules(n, 7);
  const write = (): void => writeFileSync(file, firewallTopology(name, rules));
  write();
  const down = (): void => {
    run([process.execPath, CLI(), 'lab', 'down', '-f', file], { check: false, timeoutMs: 300_000 });
    run(['ip', 'netns', 'del', `vnf.${name}.web`], { check: false });
  };
  cleanup.defer(`lab down ${name}`, down, down);
  const up = vnfCtlOk('lab', 'up', '-f', file);
  const mid = Math.floor(rules.length / 2);
  let next = 0;
  /** Flips another rule each time (n/2, n/2+1, ...): flipping one back would give a set the standby holds. */
  const flip = (): void => {
    const i = (mid + next++) % rules.length;
    rules[i] = { ...rules[i]!, action: rules[i]!.action === 'allow' ? 'drop' : 'allow' };
    write();
  };
  // Rule sets are double-buffered: the first change after the first apply fills the empty standby
  // whole. That is setup; the one-rule changes measured are the ones after it, as they run from then on.
  flip();
  vnfCtlOk('apply', '-f', file, '-q');
  return {
    rules: n,
    name,
    up,
    change() {
      flip();
      return vnfCtlOk('apply', '-f', file, '-q');
    },
    noop: () => vnfCtlOk('apply', '-f', file, '-q'),
    plan: () => vnfCtlOk('plan', '-f', file),
  };
}

export interface PortsSetup {
  ports: number;
  name: string;
  /** The programmatic apply that attached them (setup: expedited grace periods, not counted). */
  applyMs: number;
  plan(): Timed;
}

/**
 * `n` ports: veth pairs `vb<tag><k><i>` (peers in namespaces of up to 1,000), networks of 60,
 * attached in one programmatic apply (--fast-attach). The topology file names only the networks;
 * the attachments live in the kernel, so `plan -f` of that file must show nothing.
 */
export async function portsSetup(n: number, tag: string, k: string, dir: string, cleanup: Cleanup): Promise<PortsSetup> {
  const name = `vb${tag}p${k}`;
  const file = join(dir, `${name}.yaml`);
  const nets = Math.ceil(n / 60);
  const ifname = (i: number): string => `vb${tag}${k}${i}`;
  const namespaces = Array.from({ length: Math.ceil(n / 1000) }, (_, i) => `vnfb${tag}p${k}${i}`);
  // Teardown: the namespaces go first (deleting them deletes the veths, and with them their
  // links, in a few batches; the kernel does it later, in a worker, so wait for the host ends to
  // go), then `destroy` unpins what is left — all with expedited RCU grace periods (what
  // --fast-attach does for attaches), else every link costs a grace period: minutes at 8,000 ports.
  let applied = false;
  const removeNs = (): void => {
    for (const ns of namespaces) run(['ip', 'netns', 'del', ns], { check: false });
  };
  cleanup.defer(`remove the ${n} ports of ${name}`, () => withExpeditedRcu(true, async () => {
    removeNs();
    const t0 = Date.now();
    while (Date.now() - t0 < 300_000 && run(['ip', '-o', 'link', 'show', ifname(n - 1)], { check: false }).status === 0) await sleep(200);
    if (applied) await destroyTopology(name);
  }), () => {
    removeNs();
    if (applied) run([process.execPath, CLI(), 'destroy', name], { check: false, timeoutMs: 300_000 });
  });
  for (const ns of namespaces) run(['ip', 'netns', 'add', ns]);
  const batch: string[] = [];
  for (let i = 0; i < n; i++) {
    batch.push(`link add ${ifname(i)} type veth peer name p${i} netns ${namespaces[Math.floor(i / 1000)]}`);
    batch.push(`link set ${ifname(i)} up`);
  }
  ipBatch(dir, batch);
  const networks = Array.from({ length: nets }, (_, j) => `  n${j}: { subnet: 10.${100 + (j >> 8)}.${j & 255}.0/24 }`).join('\n');
  writeFileSync(file, `apiVersion: vnf/v1\nname: ${name}\nnetworks:\n${networks}\n`);
  const t = loadTopology(file);
  const net = (i: number): number => Math.floor(i / 60);
  const attachments = Array.from({ length: n }, (_, i) => ({
    ifname: ifname(i), network: `n${net(i)}`, ip: ((10 << 24) | ((100 + (net(i) >> 8)) << 16) | ((net(i) & 255) << 8) | ((i % 60) + 2)) >>> 0, prefix: 24,
  }));
  applied = true;
  const t0 = process.hrtime.bigint();
  await applyTopology(t, { attachments, file, fastAttach: true });
  const applyMs = Number(process.hrtime.bigint() - t0) / 1e6;
  return {
    ports: n,
    name,
    applyMs,
    plan() {
      const p = vnfCtlOk('plan', '-f', file);
      if (!/no changes/i.test(p.stdout)) throw new Error(`plan with ${n} ports is not empty: ${p.stdout.slice(0, 300)}`);
      return p;
    },
  };
}
