/** What the numbers were measured on: written into every result file. */
import { existsSync, readFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { projectRoot } from '../../src/native/binding.js';
import { run } from './sys.js';

export interface Machine {
  cpuModel: string;
  cores: number;
  memGiB: number;
  kernel: string;
  node: string;
  vnfVersion: string;
  commit: string;
  /** Uncommitted changes in the checkout when the run started. */
  dirty: boolean;
  branch: string;
  loadAvgStart: number[];
  loadAvgEnd?: number[];
  tools: Record<string, string>;
  /** Loaded modules that change what the Linux baselines do. */
  brNetfilter: boolean;
}

function firstLine(argv: string[]): string {
  try {
    const r = run(argv, { check: false, timeoutMs: 5000 });
    return (r.stdout || r.stderr).trim().split('\n')[0] ?? '';
  } catch {
    return 'missing';
  }
}

export function machine(): Machine {
  const root = projectRoot();
  const cpuinfo = existsSync('/proc/cpuinfo') ? readFileSync('/proc/cpuinfo', 'utf8') : '';
  const model = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1] ?? cpus()[0]?.model ?? 'unknown';
  const git = (...a: string[]): string => run(['git', '-C', root, ...a], { check: false }).stdout.trim();
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
  return {
    cpuModel: model.trim(),
    cores: cpus().length,
    memGiB: Math.round(totalmem() / 2 ** 30),
    kernel: release(),
    node: process.version,
    vnfVersion: pkg.version,
    commit: git('rev-parse', 'HEAD') || 'unknown',
    dirty: git('status', '--porcelain', '--untracked-files=no') !== '',
    branch: git('rev-parse', '--abbrev-ref', 'HEAD'),
    loadAvgStart: loadavg().map((x) => Math.round(x * 100) / 100),
    tools: {
      iperf3: firstLine(['iperf3', '--version']),
      trafgen: firstLine(['trafgen', '-v']),
      nft: firstLine(['nft', '--version']),
      'iptables-legacy': firstLine(['iptables-legacy', '--version']),
      clang: firstLine(['clang', '--version']),
    },
    brNetfilter: existsSync('/sys/module/br_netfilter'),
  };
}
