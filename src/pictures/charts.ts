/**
 * Charts are drawn by uPlot (1.6.32, about 50 KB minified, canvas; the smallest and fastest of the well-kept
 * time-series libraries: Chart.js is about 200 KB and ECharts about 1 MB, both slower on tens of thousands of
 * points). Its files are inlined into each page (`ChartAssets`, read by `src/platform/chart-assets.ts`), never
 * fetched. A page describes each chart as a `ChartSpec` in its embedded data and puts
 * `<div class="chart" data-chart="ID"></div>` where it goes; `UPLOT_BOOT_SCRIPT` draws them all on load.
 */
import { escapeHtml, jsonForScript } from './html.js';

/** The chart library's files, inlined into a page. */
export interface ChartAssets {
  readonly js: string;
  readonly css: string;
}

export interface ChartSeries {
  readonly label: string;
  readonly colour: string;
  /** Dashes tell lines apart in greyscale; points are drawn alone when `points` is set. */
  readonly dash?: readonly number[];
}

export interface ChartSpec {
  readonly title: string;
  readonly xLabel: string;
  readonly yLabel: string;
  /** `points`: a scatter (latency of each operation), `line`, `step` (cumulative distributions), `bars`. */
  readonly kind: 'points' | 'line' | 'step' | 'bars';
  readonly series: readonly ChartSeries[];
  /** uPlot's columnar data: x values first, then one column per series (null: no value there). */
  readonly data: readonly (readonly (number | null)[])[];
  /** A log scale for y (latencies spanning decades). */
  readonly yLog?: boolean;
}

/** Markup for a chart: the container, and its spec embedded beside it. */
export function chartElement(id: string, spec: ChartSpec): string {
  return `<div class="chart" data-chart="${escapeHtml(id)}"></div><script type="application/json" id="${escapeHtml(id)}">${jsonForScript(spec)}</script>`;
}

export function chartsCss(assets: ChartAssets): string {
  return `${assets.css}\n.chart { margin: 8px 0 16px; min-height: 260px; } .chart .u-title { font-size: 14px; font-weight: 600; }`;
}

/** Draws every `.chart` of the page from its embedded spec with the global `uPlot`. */
export const UPLOT_BOOT_SCRIPT = `
(function () {
  function opts(spec, width) {
    var paths = spec.kind === 'bars' ? uPlot.paths.bars({ size: [0.8, 40] }) : spec.kind === 'step' ? uPlot.paths.stepped({ align: 1 }) : undefined;
    var series = [{ label: spec.xLabel }];
    spec.series.forEach(function (s) {
      var one = { label: s.label, stroke: s.colour, width: spec.kind === 'points' ? 0 : 1.6 };
      if (s.dash) one.dash = s.dash;
      if (paths) one.paths = paths;
      if (spec.kind === 'bars') one.fill = s.colour + '99';
      one.points = spec.kind === 'points' ? { show: true, size: 6, width: 0, fill: s.colour, stroke: s.colour, space: 0 } : { show: false };
      series.push(one);
    });
    return {
      title: spec.title,
      width: width,
      height: 260,
      scales: { x: { time: false }, y: spec.yLog ? { distr: 3 } : {} },
      series: series,
      axes: [{ label: spec.xLabel }, { label: spec.yLabel, size: 60 }],
      legend: { show: true },
      cursor: { drag: { x: true, y: false } },
    };
  }
  document.querySelectorAll('.chart[data-chart]').forEach(function (el) {
    var spec = JSON.parse(document.getElementById(el.getAttribute('data-chart')).textContent);
    var width = Math.max(320, Math.min(1150, el.clientWidth || 1100));
    new uPlot(opts(spec, width), spec.data, el);
  });
})();
`;
