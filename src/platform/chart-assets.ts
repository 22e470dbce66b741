/**
 * The chart library's files (uPlot's minified script and style), read from the installed package when a report
 * is written, so that the page inlines them and opens with no network. Resolved through Node's module
 * resolution, so it works from the repository and from an installed tarball alike (uplot is a dependency).
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { ChartAssets } from '../pictures/charts.js';

let cached: ChartAssets | undefined;

export function readChartAssets(): ChartAssets {
  if (cached === undefined) {
    const require = createRequire(import.meta.url);
    cached = {
      js: readFileSync(require.resolve('uplot/dist/uPlot.iife.min.js'), 'utf8'),
      css: readFileSync(require.resolve('uplot/dist/uPlot.min.css'), 'utf8'),
    };
  }
  return cached;
}
