/**
 * The bench's data model and measuring discipline.
 *
 * Every figure is measured in interleaved rounds (A B C A B C …) so that drift on this shared
 * machine hits all variants alike; each variant keeps one sample per round. A figure reports the
 * median and spread (min–max and quartiles) of its samples, and — where it has a baseline in the
 * same group — the ratio to that baseline computed per round (value_r / baseline_r), summarised
 * the same way: a ratio of two numbers measured seconds apart, never across runs.
 */
import type { Cleanup } from './cleanup.js';

export interface Summary {
  n: number;
  median: number;
  min: number;
  max: number;
  q1: number;
  q3: number;
}

/** Quantile by linear interpolation (type 7, as R and numpy default). */
function quantile(sorted: number[], p: number): number {
  if (!sorted.length) return NaN;
  const h = (sorted.length - 1) * p;
  const lo = Math.floor(h);
  const hi = Math.ceil(h);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (h - lo);
}

export function summarize(xs: number[]): Summary {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  return { n: s.length, median: quantile(s, 0.5), min: s[0] ?? NaN, max: s[s.length - 1] ?? NaN, q1: quantile(s, 0.25), q3: quantile(s, 0.75) };
}

export function median(xs: number[]): number {
  return summarize(xs).median;
}

export type Better = 'higher' | 'lower';

/** One measured quantity of one variant: its per-round samples and their summary. */
export interface Figure {
  /** e.g. "tcp-1", "udp-pps", "added-ns". */
  metric: string;
  unit: string;
  variant: string;
  samples: number[];
  summary: Summary;
  better?: Better;
  /** The variant this one is divided by, round by round. */
  baseline?: string;
  ratio?: Summary;
  note?: string;
}

/** Collects per-round samples per (metric, variant) and turns them into figures. */
export class Samples {
  private data = new Map<string, Map<string, number[]>>();
  private meta = new Map<string, { unit: string; better?: Better }>();

  metric(metric: string, unit: string, better?: Better): void {
    this.meta.set(metric, { unit, ...(better ? { better } : {}) });
  }

  add(metric: string, variant: string, round: number, value: number): void {
    if (!this.data.has(metric)) this.data.set(metric, new Map());
    const m = this.data.get(metric)!;
    if (!m.has(variant)) m.set(variant, []);
    const arr = m.get(variant)!;
    arr[round] = value;
  }

  get(metric: string, variant: string): number[] {
    return this.data.get(metric)?.get(variant) ?? [];
  }

  variants(metric: string): string[] {
    return [...(this.data.get(metric)?.keys() ?? [])];
  }

  /** Figures of one metric; ratios to `baseline` (per round) when given. */
  figures(metric: string, baseline?: string | ((variant: string) => string | undefined)): Figure[] {
    const meta = this.meta.get(metric) ?? { unit: '' };
    const m = this.data.get(metric) ?? new Map<string, number[]>();
    const out: Figure[] = [];
    for (const [variant, xs] of m) {
      const samples = [...xs].map((x) => (x === undefined ? NaN : x));
      const f: Figure = { metric, unit: meta.unit, variant, samples, summary: summarize(samples), ...(meta.better ? { better: meta.better } : {}) };
      const b = typeof baseline === 'function' ? baseline(variant) : baseline;
      if (b !== undefined && m.has(b)) {
        const bs = m.get(b)!;
        f.baseline = b;
        f.ratio = summarize(samples.map((x, i) => x / (bs[i] ?? NaN)));
      }
      out.push(f);
    }
    return out;
  }

  /** A derived metric, computed round by round from others (e.g. added ns per packet). */
  derive(metric: string, unit: string, variant: string, f: (round: number) => number, rounds: number, better?: Better): void {
    this.metric(metric, unit, better);
    for (let r = 0; r < rounds; r++) this.add(metric, variant, r, f(r));
  }
}

/**
 * Runs `measure` for every variant in every round, in the same order each round (A B C A B C).
 * A measurement that throws fails the scenario (after the caller's cleanup).
 */
export async function interleave<V>(variants: readonly V[], rounds: number, measure: (v: V, round: number) => Promise<void> | void, log?: (s: string) => void): Promise<void> {
  for (let r = 0; r < rounds; r++) {
    if (log) log(`round ${r + 1}/${rounds}`);
    for (const v of variants) await measure(v, r);
  }
}

export interface Table {
  title: string;
  columns: string[];
  rows: string[][];
  notes?: string[];
}

export interface Chart {
  id: string;
  title: string;
  /** A Vega-Lite specification (data inline). */
  spec: Record<string, unknown>;
}

export interface TargetResult {
  target: string;
  /** What was measured, in words and numbers. */
  measured: string;
  /** true met, false missed, null not measurable in this run (and why in `bound`). */
  met: boolean | null;
  /** For a miss: by how much (e.g. "2.4× the target"). */
  by?: string;
  /** What bounds the figure, or why it is not measured. */
  bound?: string;
}

export interface ScenarioResult {
  figures: Record<string, Figure[]>;
  tables: Table[];
  charts: Chart[];
  notes: string[];
  targets: TargetResult[];
  /** Anything else worth keeping in the JSON. */
  data?: unknown;
}

export interface Context {
  quick: boolean;
  /** Rounds for interleaved measurements (--rounds overrides the mode's default). */
  rounds: number;
  /** Short random tag of this run: every name the bench creates carries it. */
  tag: string;
  /** A private scratch folder of this run (config files, logs). */
  tmp: string;
  cleanup: Cleanup;
  log(s: string): void;
}

export interface Scenario {
  id: string;
  title: string;
  /** One line for --list and the report. */
  about: string;
  /** Rough duration, for --list. */
  minutes: { quick: number; full: number };
  /** Interleaved rounds by default (the run's default when absent; --rounds overrides both). */
  rounds?: { quick: number; full: number };
  /** Not part of a plain `make bench`: runs only when named (too long for the full run's budget). */
  optIn?: string;
  run(ctx: Context): Promise<ScenarioResult>;
}

export function emptyResult(): ScenarioResult {
  return { figures: {}, tables: [], charts: [], notes: [], targets: [] };
}

// --- formatting ---

export function fmtNum(x: number, digits?: number): string {
  if (!Number.isFinite(x)) return 'n/a';
  const a = Math.abs(x);
  const d = digits ?? (a >= 100 ? 0 : a >= 10 ? 1 : 2);
  return x.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d });
}

/** "median (min–max)" */
export function fmtSummary(s: Summary, digits?: number): string {
  if (!s.n) return 'n/a';
  if (s.n === 1) return fmtNum(s.median, digits);
  return `${fmtNum(s.median, digits)} (${fmtNum(s.min, digits)}–${fmtNum(s.max, digits)})`;
}

export function fmtRatio(s: Summary | undefined): string {
  if (!s || !s.n) return '';
  if (s.n === 1) return `${fmtNum(s.median, 2)}×`;
  return `${fmtNum(s.median, 2)}× (${fmtNum(s.min, 2)}–${fmtNum(s.max, 2)})`;
}
