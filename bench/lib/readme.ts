/**
 * Copies the latest run's summary (the paths table, the targets and one chart) into README.md
 * between `<!-- bench:start -->` and `<!-- bench:end -->`.
 */
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fmtRatio, fmtSummary, type Figure } from './harness.js';
import { labelOf } from './paths.js';
import { machineLine, mdTable, targetsTable, type RunRecord } from './report.js';

export const START = '<!-- bench:start -->';
export const END = '<!-- bench:end -->';

/** The README's block for a run. `resultsDir` is where the run's files are; `root` the checkout. */
export function summaryBlock(rec: RunRecord, resultsDir: string, root: string): string {
  const lines: string[] = [];
  const rel = (f: string): string => relative(root, join(resultsDir, f));
  lines.push(`Latest \`make bench\` (${rec.mode}${rec.mode === 'quick' ? ' run: short windows, few rounds — indicative only' : ''}), ${rec.startedAt}: ${machineLine(rec)}; ` +
    `load average ${rec.machine.loadAvgStart.join('/')} at the start (other work on the machine shows up as spread); run time ${Math.round(rec.seconds / 60)} min. ` +
    `Median (min–max) over interleaved rounds (${rec.scenarios.map((s) => `${s.id} ${s.rounds}`).join(', ')}). Full report: [${rec.stamp}.md](${rel(`${rec.stamp}.md`)}).`);
  lines.push('');
  const paths = rec.scenarios.find((s) => s.id === 'paths')?.result;
  if (paths) {
    const f = (m: string, v: string): Figure | undefined => paths.figures[m]?.find((x) => x.variant === v);
    const kinds = (paths.figures['udp-rx'] ?? []).map((x) => x.variant);
    lines.push(mdTable({
      title: 'Paths between two namespaces',
      columns: ['path', 'TCP 1 stream, Gbit/s', 'RTT p50, µs', '64 B UDP, kpps', '× veth', 'added ns/packet'],
      rows: kinds.map((k) => [
        labelOf(k), fmtSummary(f('tcp-1', k)!.summary), fmtSummary(f('rtt-p50', k)!.summary), fmtSummary(f('udp-rx', k)!.summary),
        fmtRatio(f('udp-rx', k)!.ratio), k === 'veth' ? '—' : f('added-ns', k) && Number.isFinite(f('added-ns', k)!.summary.median) ? fmtSummary(f('added-ns', k)!.summary) : 'n/a',
      ]),
    }, '####'));
    lines.push('');
  }
  // The routed small-packet rate and the control plane, as the scenarios tabled them.
  const table = (scenario: string, prefix: string): void => {
    const t = rec.scenarios.find((s) => s.id === scenario)?.result?.tables.find((x) => x.title.startsWith(prefix));
    if (t) lines.push(mdTable({ ...t, notes: (t.notes ?? []).slice(0, 1) }, '####'), '');
  };
  table('paths', 'Routed 64-byte UDP');
  table('paths', "Where vnf's added cost goes");
  table('control-plane', 'vnf-ctl end to end');
  table('changes', 'Apply from nothing');
  table('changes', 'Loss during changes');
  const targets = rec.scenarios.flatMap((s) => s.result?.targets ?? []);
  if (targets.length) lines.push(mdTable(targetsTable(targets), '####'), '');
  const chart = rec.charts['paths-added-ns'] ?? rec.charts['paths-udp'] ?? Object.values(rec.charts)[0];
  if (chart) {
    // A stable name, so the README does not point into a run that may be deleted.
    copyFileSync(join(resultsDir, chart), join(resultsDir, 'latest.svg'));
    lines.push(`![latest bench chart](${rel('latest.svg')})`, '');
  }
  return lines.join('\n');
}

export function updateReadme(readmePath: string, block: string): void {
  const text = readFileSync(readmePath, 'utf8');
  const a = text.indexOf(START);
  const b = text.indexOf(END);
  if (a < 0 || b < a) throw new Error(`${readmePath} has no ${START} … ${END} markers (put them in its Performance section)`);
  writeFileSync(readmePath, text.slice(0, a + START.length) + '\n' + block.trimEnd() + '\n' + text.slice(b));
}
