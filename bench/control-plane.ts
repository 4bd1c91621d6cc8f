/**
 * The control plane as users run it: `vnf-ctl` end to end (a new process each time, as from a
 * shell), timed with its peak RSS (GNU time), against baselines measured in the same run:
 * - startup: `node -e 0` vs `vnf-ctl --help` and `vnf-ctl validate -f examples/demo.yaml`;
 * - firewall size: a no-op apply and a one-rule change at 10 and at 100,000 rules;
 * - port count: `vnf-ctl plan` with 1,000 and 8,000 ports applied (attached veths).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { projectRoot } from '../src/native/binding.js';
import { formatAddr } from '../src/spec/ipv4.js';
import type { FirewallRule } from '../src/vnf/firewall/model.js';
import { loadTopology } from '../src/spec/index.js';
import { applyTopology, destroyTopology } from '../src/ops/topology.js';
import { randomRules } from './fw-gen.js';
import { median } from './util.js';

const CLI = (): string => join(projectRoot(), 'dist', 'vnf-ctl.js');

export interface Timed {
  ms: number;
  rssMb: number;
  status: number;
  stdout: string;
}

/** Runs a command under GNU time: wall time and peak RSS of the command itself. */
export function timed(argv: string[]): Timed {
  const r = spawnSync('/usr/bin/time', ['-f', '%e %M', ...argv], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  const last = (r.stderr ?? '').trim().split('\n').pop() ?? '';
  const [sec, kb] = last.split(' ').map(Number);
  return { ms: (sec ?? NaN) * 1000, rssMb: (kb ?? NaN) / 1024, status: r.status ?? -1, stdout: r.stdout ?? '' };
}

const vnf = (...args: string[]): Timed => timed([process.execPath, CLI(), ...args]);

export interface StartupResult {
  nodeMs: number;
  helpMs: number;
  validateMs: number;
  helpRssMb: number;
  validateRssMb: number;
}

export function startup(rounds = 7): StartupResult {
  const demo = join(projectRoot(), 'examples', 'demo.yaml');
  // Interleaved rounds: drift hits all three alike.
  const node: Timed[] = [];
  const help: Timed[] = [];
  const validate: Timed[] = [];
  for (let i = 0; i < rounds; i++) {
    node.push(timed([process.execPath, '-e', '0']));
    help.push(vnf('--help'));
    validate.push(vnf('validate', '-f', demo));
  }
  return {
    nodeMs: median(node.map((r) => r.ms)),
    helpMs: median(help.map((r) => r.ms)),
    validateMs: median(validate.map((r) => r.ms)),
    helpRssMb: Math.max(...help.map((r) => r.rssMb)),
    validateRssMb: Math.max(...validate.map((r) => r.rssMb)),
  };
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

export interface FirewallApplyRow {
  rules: number;
  firstApply: Timed;
  noop: Timed;
  change: Timed;
  changeOps: string;
}

/** First apply, no-op apply and a one-rule change through the CLI, for each firewall size. */
export function firewallApplies(sizes: number[]): FirewallApplyRow[] {
  const rows: FirewallApplyRow[] = [];
  for (const n of sizes) {
    const name = `vb${randomBytes(3).toString('hex')}`;
    const dir = mkdtempSync(join(tmpdir(), 'vnf-bench-'));
    const file = join(dir, 'topology.yaml');
    const rules = randomRules(n, 7);
    try {
      writeFileSync(file, firewallTopology(name, rules));
      const firstApply = vnf('lab', 'up', '-f', file);
      if (firstApply.status !== 0) throw new Error(`lab up of a ${n}-rule firewall failed`);
      const noop = vnf('apply', '-f', file, '-q');
      const mid = Math.floor(rules.length / 2);
      const toggle = (i: number): void => {
        rules[i] = { ...rules[i]!, action: rules[i]!.action === 'allow' ? 'drop' : 'allow' };
        writeFileSync(file, firewallTopology(name, rules));
      };
      // Rule sets are double-buffered: the first change after the first apply fills the empty
      // standby whole. A one-rule change is measured after it, as it runs from then on.
      toggle(mid);
      if (vnf('apply', '-f', file, '-q').status !== 0) throw new Error(`a change of a ${n}-rule firewall failed`);
      toggle(mid + 1);
      const change = vnf('apply', '-f', file, '-q');
      rows.push({ rules: n, firstApply, noop, change, changeOps: change.stdout.split('\n')[0] ?? '' });
    } finally {
      spawnSync(process.execPath, [CLI(), 'lab', 'down', '-f', file], { stdio: 'ignore' });
      rmSync(dir, { recursive: true, force: true });
    }
  }
  return rows;
}

export interface PortsRow {
  ports: number;
  applyMs: number;
  plan: Timed;
  noop: Timed;
}

/**
 * `plan` and a no-op `apply` with `n` ports: veth pairs (peers in a few namespaces), attached
 * programmatically in one apply (attaching costs the kernel an RCU grace period per link: that
 * first apply is reported too).
 */
export async function portCounts(sizes: number[]): Promise<PortsRow[]> {
  const rows: PortsRow[] = [];
  for (const n of sizes) {
    const tag = randomBytes(2).toString('hex');
    const name = `vp${tag}`;
    const dir = mkdtempSync(join(tmpdir(), 'vnf-bench-'));
    const file = join(dir, 'topology.yaml');
    const nets = Math.ceil(n / 60);
    const namespaces = Array.from({ length: Math.ceil(n / 1000) }, (_, i) => `vnfbp${tag}${i}`);
    try {
      for (const ns of namespaces) spawnSync('ip', ['netns', 'add', ns]);
      const batch: string[] = [];
      for (let i = 0; i < n; i++) {
        batch.push(`link add vp${tag}${i} type veth peer name p${i} netns ${namespaces[Math.floor(i / 1000)]}`);
        batch.push(`link set vp${tag}${i} up`);
      }
      writeFileSync(join(dir, 'batch'), batch.join('\n') + '\n');
      if (spawnSync('ip', ['-batch', join(dir, 'batch')]).status !== 0) throw new Error('creating veths failed');
      const networks = Array.from({ length: nets }, (_, j) => `  n${j}: { subnet: 10.${100 + (j >> 8)}.${j & 255}.0/24 }`).join('\n');
      writeFileSync(file, `apiVersion: vnf/v1\nname: ${name}\nnetworks:\n${networks}\n`);
      const t = loadTopology(file);
      const attachments = Array.from({ length: n }, (_, i) => ({
        ifname: `vp${tag}${i}`, network: `n${Math.floor(i / 60)}`, ip: ((10 << 24) | ((100 + (Math.floor(i / 60) >> 8)) << 16) | ((Math.floor(i / 60) & 255) << 8) | ((i % 60) + 2)) >>> 0, prefix: 24,
      }));
      const t0 = process.hrtime.bigint();
      await applyTopology(t, { attachments, file });
      const applyMs = Number(process.hrtime.bigint() - t0) / 1e6;
      const plan = vnf('plan', '-f', file);
      const noop = vnf('apply', '-f', file, '-q');
      if (!/no changes/.test(plan.stdout)) throw new Error(`plan with ${n} ports is not empty: ${plan.stdout.slice(0, 200)}`);
      rows.push({ ports: n, applyMs, plan, noop });
    } finally {
      await destroyTopology(name).catch(() => undefined);
      for (const ns of namespaces) spawnSync('ip', ['netns', 'del', ns]); // takes the veths with it, in one batch
      rmSync(dir, { recursive: true, force: true });
    }
  }
  return rows;
}

export function formatControlPlane(s: StartupResult, fw: FirewallApplyRow[], ports: PortsRow[]): string {
  const r = (x: number): string => x.toFixed(0);
  const lines = [
    'Control plane, vnf-ctl end to end (wall time, peak RSS; baselines from the same run)',
    '',
    '| command | ms | × node -e 0 | peak RSS |',
    '|---|---|---|---|',
    `| node -e 0 (baseline) | ${r(s.nodeMs)} | 1.0 | |`,
    `| vnf-ctl --help | ${r(s.helpMs)} | ${(s.helpMs / s.nodeMs).toFixed(1)} | ${r(s.helpRssMb)} MB |`,
    `| vnf-ctl validate -f examples/demo.yaml | ${r(s.validateMs)} | ${(s.validateMs / s.nodeMs).toFixed(1)} | ${r(s.validateRssMb)} MB |`,
    '',
    '| firewall rules | first apply (lab up) | no-op apply | one-rule change | peak RSS (change) | change |',
    '|---|---|---|---|---|---|',
    ...fw.map((x) => `| ${x.rules} | ${r(x.firstApply.ms)} ms | ${r(x.noop.ms)} ms | ${r(x.change.ms)} ms | ${r(x.change.rssMb)} MB | ${x.changeOps} |`),
    '',
    '| ports | first apply (programmatic) | vnf-ctl plan | no-op apply | peak RSS (plan) |',
    '|---|---|---|---|---|',
    ...ports.map((x) => `| ${x.ports} | ${r(x.applyMs)} ms (${(x.applyMs / x.ports).toFixed(1)} ms/port) | ${r(x.plan.ms)} ms | ${r(x.noop.ms)} ms | ${r(x.plan.rssMb)} MB |`),
  ];
  return lines.join('\n');
}
