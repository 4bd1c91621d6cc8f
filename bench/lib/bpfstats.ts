/**
 * Where a vnf path's time goes: the kernel's own run-time counters of BPF programs
 * (`kernel.bpf_stats_enabled`: run_time_ns and run_cnt per program, kept only while enabled; they
 * cost two clock reads per run, so the bench turns them on only for a separate measurement).
 * A tail call does not pass through the counting wrapper: the time of a whole chain lands on the
 * program attached to the hook (vnf_entry_in / vnf_entry_out), so the sum over a topology's
 * attached programs is everything vnf's programs did.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { run } from './sys.js';

const SYSCTL = '/proc/sys/kernel/bpf_stats_enabled';

export interface ProgStats {
  name: string;
  runTimeNs: number;
  runCnt: number;
}

/** Runs `fn` with the counters on (restores the previous setting). */
export async function withBpfStats<T>(fn: () => Promise<T>): Promise<T> {
  const was = readFileSync(SYSCTL, 'utf8').trim();
  writeFileSync(SYSCTL, '1');
  try {
    return await fn();
  } finally {
    writeFileSync(SYSCTL, was);
  }
}

/** The counters of every program pinned under `dir` (a topology's progs/), by id. */
export function progStats(dir: string): Map<number, ProgStats> {
  const out = new Map<number, ProgStats>();
  const list = JSON.parse(run(['bpftool', '-f', 'prog', 'show', '-j']).stdout) as Array<{ id: number; name: string; run_time_ns?: number; run_cnt?: number; pinned?: string[] }>;
  for (const p of list) {
    if (!(p.pinned ?? []).some((x) => x.startsWith(dir + '/'))) continue;
    out.set(p.id, { name: p.name, runTimeNs: p.run_time_ns ?? 0, runCnt: p.run_cnt ?? 0 });
  }
  return out;
}

/** Nanoseconds the programs ran per packet that entered (runs of vnf_entry_in) between two snapshots. */
export function nsPerPacket(before: Map<number, ProgStats>, after: Map<number, ProgStats>): { ns: number; packets: number } {
  let ns = 0;
  let packets = 0;
  for (const [id, a] of after) {
    const b = before.get(id) ?? { name: a.name, runTimeNs: 0, runCnt: 0 };
    ns += a.runTimeNs - b.runTimeNs;
    if (a.name === 'vnf_entry_in') packets += a.runCnt - b.runCnt;
  }
  return { ns: packets > 0 ? ns / packets : NaN, packets };
}
