/**
 * Charts as Vega-Lite specifications (data inline), rendered to SVG by Vega in Node — no canvas,
 * no browser. Each bar is a median; its whisker spans min–max over the rounds.
 */
import * as vega from 'vega';
import * as vl from 'vega-lite';
import type { Summary } from './harness.js';

export interface Bar {
  label: string;
  /** Colour (and legend) of the bar, e.g. limit / linux / vnf. */
  family: string;
  /** Optional sub-series within a label (e.g. "1 stream" / "4 streams"). */
  series?: string;
  s: Summary;
}

const FAMILY_COLOURS: Record<string, string> = { limit: '#7f7f7f', linux: '#1f77b4', vnf: '#d62728' };

/** Horizontal bars with min–max whiskers. */
export function barChart(title: string, unit: string, bars: Bar[], opts: { log?: boolean; width?: number } = {}): Record<string, unknown> {
  const values = bars
    .filter((b) => b.s.n && Number.isFinite(b.s.median))
    .map((b) => ({ label: b.label, family: b.family, series: b.series ?? '', median: b.s.median, min: b.s.min, max: b.s.max }));
  const families = [...new Set(values.map((v) => v.family))];
  const colour = {
    field: 'family', type: 'nominal', title: null,
    scale: { domain: families, range: families.map((f) => FAMILY_COLOURS[f] ?? '#9467bd') },
  };
  const hasSeries = values.some((v) => v.series);
  const y = { field: 'label', type: 'nominal', title: null, sort: null, axis: { labelLimit: 420 } };
  const x = { field: 'median', type: 'quantitative', title: unit, ...(opts.log ? { scale: { type: 'log' } } : {}) };
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: title, anchor: 'start' },
    width: opts.width ?? 480,
    background: 'white',
    data: { values },
    ...(hasSeries ? { facet: { row: { field: 'series', type: 'nominal', title: null, header: { labelAngle: 0, labelAlign: 'left' } } }, spec: layers() } : layers()),
    config: { font: 'sans-serif', view: { stroke: null } },
  };
  function layers(): Record<string, unknown> {
    return {
      ...(hasSeries ? { width: opts.width ?? 480 } : {}),
      encoding: { y },
      layer: [
        { mark: { type: 'bar', height: { band: 0.7 } }, encoding: { x, color: colour, tooltip: [{ field: 'label' }, { field: 'median', format: ',.4~r' }, { field: 'min', format: ',.4~r' }, { field: 'max', format: ',.4~r' }] } },
        { mark: { type: 'rule', color: 'black' }, encoding: { x: { field: 'min', type: 'quantitative' }, x2: { field: 'max' } } },
        { mark: { type: 'text', align: 'left', dx: 4, fontSize: 10 }, encoding: { x: { field: 'max', type: 'quantitative' }, text: { field: 'median', type: 'quantitative', format: ',.4~r' } } },
      ],
    };
  }
}

/** Lines of a metric against a numeric x (e.g. rules), one per series, log-log when asked. */
export function lineChart(title: string, xTitle: string, yTitle: string, points: Array<{ series: string; x: number; s: Summary }>, opts: { logX?: boolean; logY?: boolean } = {}): Record<string, unknown> {
  const values = points.filter((p) => p.s.n && Number.isFinite(p.s.median) && p.s.median > 0).map((p) => ({ series: p.series, x: p.x, median: p.s.median, min: p.s.min, max: p.s.max }));
  const x = { field: 'x', type: 'quantitative', title: xTitle, ...(opts.logX ? { scale: { type: 'log' } } : {}) };
  const yScale = opts.logY ? { scale: { type: 'log' } } : {};
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: title, anchor: 'start' },
    width: 480,
    height: 280,
    background: 'white',
    data: { values },
    encoding: { x, color: { field: 'series', type: 'nominal', title: null } },
    layer: [
      { mark: { type: 'line', point: true }, encoding: { y: { field: 'median', type: 'quantitative', title: yTitle, ...yScale } } },
      { mark: { type: 'rule' }, encoding: { y: { field: 'min', type: 'quantitative', ...yScale }, y2: { field: 'max' } } },
    ],
    config: { font: 'sans-serif' },
  };
}

/** Renders a Vega-Lite specification to an SVG document. */
export async function renderSvg(spec: Record<string, unknown>): Promise<string> {
  const compiled = vl.compile(spec as unknown as vl.TopLevelSpec).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
