/**
 * `chatterbox harness --report DIR`: the run's picture, DIR/index.html (self-contained: uPlot inlined), with the
 * run's report.json beside it. The history comes from the run's log dir (history.jsonl, which the runner writes).
 */
import { copyFileSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MessageRecorder } from '../harness/message-record.js';
import { harnessReportHtml } from '../harness/report-page.js';
import type { Op, Report } from '../harness/types.js';
import { readChartAssets } from '../platform/chart-assets.js';
import { makeDirectory } from '../runtime/make-directory.js';
import { UsageError, fileErrorText } from '../platform/user-errors.js';

/** The history the runner wrote, one operation per line. */
export function readHistory(logDir: string): Op[] {
  const file = join(logDir, 'history.jsonl');
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line.length > 0)
    .map((line) => JSON.parse(line) as Op);
}

/** Checks DIR can be made and written before the run, so a bad --report fails in a second, not after the run. */
export function reportDirectory(dir: string): string {
  try {
    makeDirectory(dir);
    const probe = join(dir, '.chatterbox-report-check');
    writeFileSync(probe, '');
    rmSync(probe);
  } catch (error) {
    throw new UsageError(`--report ${dir}: cannot be created or written (${fileErrorText(error)})`);
  }
  return dir;
}

/** Writes DIR/index.html and DIR/report.json; returns the page's path. */
export function writeHarnessReport(dir: string, report: Report, recorder: MessageRecorder): string {
  const html = harnessReportHtml({ report, ops: readHistory(report.logDir), messages: recorder.result, assets: readChartAssets() });
  const page = join(dir, 'index.html');
  writeFileSync(page, html);
  const json = join(report.logDir, 'report.json');
  if (existsSync(json)) copyFileSync(json, join(dir, 'report.json'));
  else writeFileSync(join(dir, 'report.json'), `${JSON.stringify(report, null, 2)}\n`);
  return page;
}
