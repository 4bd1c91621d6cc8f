/**
 * make bench: every scenario of the registry (scenarios/index.ts), each figure measured in
 * interleaved rounds against baselines from the same run. Writes bench/results/<stamp>.json,
 * <stamp>.md and SVG charts, and (after a complete, successful run) the README's summary.
 *
 *   node dist/bench/run.js [--quick] [--rounds N] [--no-readme] [--list] [SCENARIO ...]
 *
 * Needs root. Exits 1 with a message naming the scenario when one cannot run (after cleaning up
 * what it created), 2 on bad arguments.
 */
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, writeFileSync, ftruncateSync, readFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { prepareEnvironment } from '../src/bpf/environment.js';
import { native, projectRoot } from '../src/native/binding.js';
import { installSignalHandlers, root } from './lib/cleanup.js';
import type { Context } from './lib/harness.js';
import { machine } from './lib/machine.js';
import { writeOutputs, type RunRecord, type ScenarioRecord } from './lib/report.js';
import { summaryBlock, updateReadme } from './lib/readme.js';
import { sweep } from './lib/sweep.js';
import { run } from './lib/sys.js';
import { SCENARIOS } from './scenarios/index.js';

class UsageError extends Error {}

interface Args {
  quick: boolean;
  rounds?: number;
  readme: boolean;
  list: boolean;
  only: string[];
}

function parseArgs(argv: string[]): Args {
  const a: Args = { quick: false, readme: true, list: false, only: [] };
  for (let i = 0; i < argv.length; i++) {
    const x = argv[i]!;
    if (x === '--quick') a.quick = true;
    else if (x === '--no-readme') a.readme = false;
    else if (x === '--list') a.list = true;
    else if (x === '--rounds') {
      const n = Number(argv[++i]);
      if (!Number.isInteger(n) || n < 1 || n > 50) throw new UsageError('--rounds takes a whole number from 1 to 50');
      a.rounds = n;
    } else if (x === '--help' || x === '-h') {
      a.list = true;
    } else if (x.startsWith('-')) throw new UsageError(`unknown option ${x}`);
    else {
      if (!SCENARIOS.some((s) => s.id === x)) throw new UsageError(`no scenario ${x} (have: ${SCENARIOS.map((s) => s.id).join(', ')})`);
      a.only.push(x);
    }
  }
  return a;
}

const log = (s: string): void => {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${s}\n`);
};

function stampOf(d: Date): string {
  return d.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
}

/** One bench at a time on a machine: flock on /run/vnf-bench.lock (released when we exit). */
function takeLock(): void {
  const path = '/run/vnf-bench.lock';
  const fd = openSync(path, 'a+', 0o600);
  if (!native.flock(fd, true)) {
    let who = '';
    try {
      who = readFileSync(path, 'utf8').trim();
    } catch {
      /* unknown */
    }
    closeSync(fd);
    throw new Error(`another bench is running (${who || 'holder unknown'}); wait for it — two would measure each other`);
  }
  ftruncateSync(fd, 0);
  writeFileSync(fd, `pid ${process.pid}, started ${new Date().toISOString()}\n`);
  // The descriptor stays open for the life of the process: the kernel drops the lock at exit.
}

function requireTools(): void {
  const missing = ['ip', 'iperf3', 'trafgen', 'nft', 'iptables-legacy', 'iptables-legacy-restore', 'ss', 'ping', '/usr/bin/time']
    .filter((t) => run(['sh', '-c', `command -v ${t}`], { check: false }).status !== 0);
  if (missing.length) throw new Error(`missing tools: ${missing.join(', ')} (make deps installs them: scripts/deps.sh)`);
}

async function main(): Promise<number> {
  let args: Args;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(`bench: ${e.message}\nusage: node dist/bench/run.js [--quick] [--rounds N] [--no-readme] [--list] [SCENARIO ...]`);
      return 2;
    }
    throw e;
  }
  if (args.list) {
    console.log('usage: node dist/bench/run.js [--quick] [--rounds N] [--no-readme] [--list] [SCENARIO ...]\n\nscenarios:');
    for (const s of SCENARIOS) console.log(`  ${s.id.padEnd(18)} ~${s.minutes.quick} min quick, ~${s.minutes.full} min full: ${s.about}${s.optIn ? ` [only when named: ${s.optIn}]` : ''}`);
    return 0;
  }
  if (process.getuid?.() !== 0) throw new Error('the bench needs root (namespaces, veths, BPF programs, netfilter)');
  const problems = prepareEnvironment();
  if (problems.length) throw new Error(`this machine cannot run vnf: ${problems.join('; ')}`);
  requireTools();
  takeLock();
  installSignalHandlers(log);
  const stale = await sweep(log);
  if (stale.length) log(`removed what an earlier, killed bench left behind: ${stale.join(', ')}`);

  const started = new Date();
  const t0 = Date.now();
  const selected = args.only.length ? SCENARIOS.filter((s) => args.only.includes(s.id)) : SCENARIOS.filter((s) => !s.optIn);
  const roundsOf = (s: (typeof SCENARIOS)[number]): number => args.rounds ?? s.rounds?.[args.quick ? 'quick' : 'full'] ?? (args.quick ? 2 : 5);
  const rounds = args.rounds ?? (args.quick ? 2 : 5);
  const tmp = mkdtempSync(join(tmpdir(), 'vnf-bench-'));
  root.defer(`remove ${tmp}`, () => rmSync(tmp, { recursive: true, force: true }));
  const rec: RunRecord = {
    stamp: stampOf(started),
    mode: args.quick ? 'quick' : 'full',
    rounds,
    argv: process.argv.slice(2),
    startedAt: started.toISOString().replace(/\.\d+Z$/, 'Z'),
    seconds: 0,
    machine: machine(),
    scenarios: [],
    skipped: SCENARIOS.filter((s) => !selected.includes(s)).map((s) => `${s.id}${s.optIn ? ` (${s.optIn})` : ''}`),
    charts: {},
  };
  for (const s of selected) {
    const cleanup = root.child(s.id);
    const ctx: Context = {
      quick: args.quick,
      rounds: roundsOf(s),
      tag: randomBytes(2).toString('hex'),
      tmp,
      cleanup,
      log: (m) => log(`${s.id}: ${m}`),
    };
    const st = Date.now();
    const sr: ScenarioRecord = { id: s.id, title: s.title, status: 'ok', seconds: 0, rounds: ctx.rounds };
    log(`${s.id}: start (${s.title})`);
    try {
      sr.result = await s.run(ctx);
    } catch (e) {
      sr.status = 'failed';
      sr.error = (e as Error).message;
      log(`${s.id}: FAILED: ${sr.error}`);
      if (process.env.VNF_BENCH_DEBUG) console.error(e);
    }
    const errs = await cleanup.close();
    if (errs.length) {
      sr.cleanupErrors = errs;
      sr.status = 'failed';
      sr.error = (sr.error ? sr.error + '; ' : '') + `cleanup left problems: ${errs.join('; ')}`;
      log(`${s.id}: cleanup problems: ${errs.join('; ')}`);
    }
    sr.seconds = (Date.now() - st) / 1000;
    log(`${s.id}: ${sr.status} in ${Math.round(sr.seconds)} s`);
    rec.scenarios.push(sr);
  }
  rec.seconds = (Date.now() - t0) / 1000;
  rec.machine.loadAvgEnd = loadavg().map((x) => Math.round(x * 100) / 100);

  const dir = join(projectRoot(), 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const out = await writeOutputs(dir, rec);
  console.log(`bench: ${out.json}\nbench: ${out.md}\n${out.svgs.map((f) => `bench: ${f}`).join('\n')}`);
  const failed = rec.scenarios.filter((s) => s.status === 'failed');
  if (!failed.length && args.readme && !args.only.length) {
    const readme = join(projectRoot(), 'README.md');
    updateReadme(readme, summaryBlock(rec, dir, projectRoot()));
    console.log(`bench: README.md summary updated`);
  } else if (args.readme && args.only.length) {
    log('README not updated: not every scenario ran (run without scenario names, or run lib/readme via --readme-only later)');
  }
  if (failed.length) {
    console.error(`bench failed: ${failed.map((s) => `${s.id}: ${s.error}`).join('\n  ')}`);
    return 1;
  }
  return 0;
}

main().then(
  async (code) => {
    await root.close();
    process.exitCode = code;
  },
  async (e: unknown) => {
    const errs = await root.close();
    console.error(`bench failed: ${(e as Error).message}${errs.length ? `\ncleanup problems: ${errs.join('; ')}` : ''}`);
    process.exitCode = 1;
  },
);
