/**
 * The run's outputs: bench/results/<stamp>.json (everything, with raw per-round samples),
 * <stamp>.md (tables, targets, notes, charts) and <stamp>-<chart>.svg.
 */
import { writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { renderSvg } from './charts.js';
import type { ScenarioResult, Table, TargetResult } from './harness.js';
import type { Machine } from './machine.js';

export interface ScenarioRecord {
  id: string;
  title: string;
  status: 'ok' | 'failed';
  seconds: number;
  rounds: number;
  error?: string;
  cleanupErrors?: string[];
  result?: ScenarioResult;
}

export interface RunRecord {
  stamp: string;
  mode: 'quick' | 'full';
  rounds: number;
  argv: string[];
  startedAt: string;
  seconds: number;
  machine: Machine;
  scenarios: ScenarioRecord[];
  /** Scenario ids not run (filtered out with arguments). */
  skipped: string[];
  charts: Record<string, string>;
}

const esc = (s: string): string => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

export function mdTable(t: Table, level = '###'): string {
  const lines = [`${level} ${t.title}`, '', `| ${t.columns.map(esc).join(' | ')} |`, `|${t.columns.map(() => '---').join('|')}|`];
  for (const r of t.rows) lines.push(`| ${r.map(esc).join(' | ')} |`);
  for (const n of t.notes ?? []) lines.push('', n);
  return lines.join('\n');
}

export function targetMark(t: TargetResult): string {
  return t.met === true ? 'met' : t.met === false ? `**missed**${t.by ? ` (${t.by})` : ''}` : 'not judged';
}

export function targetsTable(ts: TargetResult[]): Table {
  return {
    title: 'Targets (reported, never asserted)',
    columns: ['target', 'measured', 'verdict', 'what bounds it / why'],
    rows: ts.map((t) => [t.target, t.measured, targetMark(t), t.bound ?? '']),
  };
}

export async function writeOutputs(dir: string, rec: RunRecord): Promise<{ json: string; md: string; svgs: string[] }> {
  const svgs: string[] = [];
  for (const s of rec.scenarios) {
    for (const c of s.result?.charts ?? []) {
      const file = join(dir, `${rec.stamp}-${c.id}.svg`);
      writeFileSync(file, await renderSvg(c.spec));
      rec.charts[c.id] = basename(file);
      svgs.push(file);
    }
  }
  const json = join(dir, `${rec.stamp}.json`);
  writeFileSync(json, JSON.stringify(rec, null, 1) + '\n');
  const md = join(dir, `${rec.stamp}.md`);
  writeFileSync(md, markdown(rec));
  return { json, md, svgs };
}

export function machineLine(rec: RunRecord): string {
  const m = rec.machine;
  return `${m.cpuModel}, ${m.cores} cores, ${m.memGiB} GiB, Linux ${m.kernel}, Node ${m.node}; vnf ${m.vnfVersion} at ${m.commit.slice(0, 12)}${m.dirty ? ' (uncommitted changes)' : ''} (${m.branch})`;
}

export function markdown(rec: RunRecord): string {
  const out: string[] = [];
  const m = rec.machine;
  out.push(`# vnf bench, ${rec.startedAt} (${rec.mode}${rec.mode === 'quick' ? ': short windows, few rounds — for development, not for quoting' : ''})`, '');
  out.push(`- machine: ${machineLine(rec)}`);
  out.push(`- load average at start ${m.loadAvgStart.join(' / ')}${m.loadAvgEnd ? `, at end ${m.loadAvgEnd.join(' / ')}` : ''} (other work on the machine shows up as spread)`);
  out.push(`- tools: ${Object.entries(m.tools).map(([k, v]) => `${k}: ${v}`).join('; ')}${m.brNetfilter ? '; br_netfilter loaded (disabled in the bench bridge namespace)' : ''}`);
  out.push(`- interleaved rounds per figure (${rec.scenarios.map((s) => `${s.id}: ${s.rounds}`).join(', ')}); each cell is median (min–max) over the rounds; ratios are computed per round against a baseline measured in the same round`);
  out.push(`- run time ${Math.round(rec.seconds)} s; command: \`node dist/bench/run.js ${rec.argv.join(' ')}\``);
  if (rec.skipped.length) out.push(`- not run (not selected): ${rec.skipped.join(', ')}`);
  out.push('');
  const targets = rec.scenarios.flatMap((s) => s.result?.targets ?? []);
  if (targets.length) out.push(mdTable(targetsTable(targets), '##'), '');
  for (const s of rec.scenarios) {
    out.push(`## ${s.title} (\`${s.id}\`, ${Math.round(s.seconds)} s, ${s.rounds} rounds)`, '');
    if (s.status === 'failed') {
      out.push(`**FAILED**: ${s.error ?? 'unknown error'}`, '');
    }
    if (s.cleanupErrors?.length) out.push(`Cleanup problems: ${s.cleanupErrors.join('; ')}`, '');
    const r = s.result;
    if (!r) continue;
    for (const t of r.tables) out.push(mdTable(t), '');
    for (const c of r.charts) if (rec.charts[c.id]) out.push(`![${c.title}](${rec.charts[c.id]})`, '');
    if (r.notes.length) out.push(...r.notes.map((n) => `- ${n}`), '');
  }
  return out.join('\n');
}
