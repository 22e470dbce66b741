/**
 * The reports in a real browser (issue 14): `chatterbox harness --report` of a 5-node run and of a known-invalid
 * run (a naive broadcast node that loses messages under partitions), and `chatterbox sim --report` of a 5-node
 * seed and of a failing one. Each page must load with no console error and show what it is for. With
 * CHATTERBOX_SCREENSHOTS=1 each test saves its page to docs/pictures/ (the README shows them).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { AssertionError } from '../../src/core/assert.js';
import { nodeId } from '../../src/core/ids.js';
import { reportDirectory, writeHarnessReport } from '../../src/cli/harness-report.js';
import { MessageRecorder } from '../../src/harness/message-record.js';
import { runHarness } from '../../src/harness/runner.js';
import type { Report } from '../../src/harness/types.js';
import { simReportHtml } from '../../src/sim/report.js';
import { drawAgreementScenario, runAgreementScenario } from '../../src/sim/scenarios/agreement.js';
import { SimulationError, pictureCommand, withSeed } from '../../src/sim/simulation.js';
import { recordTrace, type RecordedTrace } from '../../src/sim/trace.js';
import { closeBrowser, openPage, screenshot } from './helpers/browser.js';
import { NAIVE_BROADCAST, PATIENT, naiveBroadcastUnderPartitions } from './helpers/harness.js';
import { HUNG_AFTER_MS, MAIN } from './helpers/processes.js';

const run = promisify(execFile);
const NODES = ['n1', 'n2', 'n3', 'n4', 'n5'];
let dir = '';

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'chatterbox-report-pages-'));
});
after(closeBrowser);

function explain(r: Report): string {
  return `${r.problems.join('; ')} (logs in ${r.logDir})`;
}

/** A harness run with its messages recorded, written as a report; the page's path. */
async function harnessPage(name: string, input: Parameters<typeof runHarness>[0]): Promise<{ page: string; report: Report }> {
  const recorder = new MessageRecorder();
  const report = await runHarness({ ...input, logDir: join(dir, `${name}-logs`), onMessage: recorder.record });
  const out = join(dir, name);
  return { page: writeHarnessReport(reportDirectory(out), report, recorder), report };
}

describe('reports in a browser', { concurrency: 1 }, () => {
  test('the harness report of a 5-node run under partitions loads cleanly and shows every node, its charts and its operations', async () => {
    const { page: file, report } = await harnessPage('harness-valid', {
      ...PATIENT,
      workload: 'broadcast',
      nodeCount: 5,
      timeLimitMs: 1500,
      rate: 30,
      latencyMs: 5,
      partition: true,
      nemesisIntervalMs: 400,
      seed: 2,
    });
    assert.equal(report.valid, true, explain(report));
    const opened = await openPage(file);
    try {
      const { page } = opened;
      assert.match((await page.textContent('.verdict')) ?? '', /valid/);
      assert.deepEqual(await page.$$eval('.node-chip', (els) => els.map((e) => e.getAttribute('data-node'))), NODES);
      // Every node has a lane in the Lamport diagram, and the diagram has arrows with hover text.
      const lanes = await page.$$eval('svg.lamport g.lane', (els) => els.map((e) => e.getAttribute('data-lane')));
      for (const n of NODES) assert.ok(lanes.includes(n), `lane ${n} in ${lanes.join(' ')}`);
      assert.ok(await page.locator('svg.lamport g.msg title').count() > 0);
      // uPlot drew each chart (a canvas per chart), and every operation is on the timeline.
      assert.ok(await page.locator('.chart .uplot canvas').count() >= 4, 'latency, its distribution, throughput, stable latency');
      assert.equal(await page.locator('svg.timeline g.op').count(), report.ops.total);
      assert.ok(await page.locator('svg.timeline .band.partition').count() > 0, 'the partitions are shaded');
      assert.deepEqual(opened.consoleErrors, []);
      await screenshot(page, 'harness-report');
    } finally {
      await opened.close();
    }
  });

  test('the harness report of a known-invalid run shows the lost elements, each linked to the operation that wrote it', async () => {
    const fixture = join(dir, 'naive-broadcast.mjs');
    writeFileSync(fixture, NAIVE_BROADCAST);
    const { page: file, report } = await harnessPage('harness-invalid', naiveBroadcastUnderPartitions(fixture));
    assert.ok(report.check?.kind === 'set' && report.check.lostCount > 0, explain(report));
    const lost = report.check.lost;
    const opened = await openPage(file);
    try {
      const { page } = opened;
      assert.match((await page.textContent('.verdict')) ?? '', /INVALID/);
      const listed = await page.$$eval('li.anomaly.lost', (els) => els.map((e) => e.getAttribute('data-element')));
      assert.deepEqual(listed, lost.slice(0, 50).map((e) => JSON.stringify(e)));
      // Each lost element links to its broadcast: the link's target is on the timeline, and is that broadcast.
      const first = lost[0];
      const href = await page.$eval('li.anomaly.lost a.op-link', (a) => a.getAttribute('href'));
      assert.ok(href !== null && href.startsWith('#op-'));
      const target = await page.$eval(href, (g) => ({ cls: g.getAttribute('class'), title: g.querySelector('title')?.textContent ?? '' }));
      assert.match(target.cls ?? '', /\bop\b/);
      assert.match(target.title, new RegExp(`broadcast ${JSON.stringify(first)}:`));
      await page.click('li.anomaly.lost a.op-link');
      assert.equal(await page.evaluate(() => (globalThis as unknown as { location: { hash: string } }).location.hash), href);
      assert.ok(await page.locator('svg.timeline g.op rect[stroke="#000"]').count() > 0, 'the operations involved are outlined');
      assert.deepEqual(opened.consoleErrors, []);
      await screenshot(page, 'harness-report-invalid');
    } finally {
      await opened.close();
    }
  });

  test('chatterbox sim --report draws a 5-node seed: every node, its events and its messages', async () => {
    const file = join(dir, 'sim-3.html');
    const { stdout } = await run(process.execPath, [MAIN, 'sim', '--seed', '3', '--nodes', '5', '--report', file], { timeout: HUNG_AFTER_MS });
    assert.match(stdout, /report: .*sim-3\.html/);
    const opened = await openPage(file);
    try {
      const { page } = opened;
      assert.deepEqual(await page.$$eval('svg.timeline .row-label', (els) => els.map((e) => e.textContent)), NODES);
      assert.deepEqual(await page.$$eval('svg.lamport g.lane', (els) => els.map((e) => e.getAttribute('data-lane'))), NODES);
      assert.deepEqual(await page.$$eval('table.counts tr.node-row', (els) => els.map((e) => e.getAttribute('data-node'))), NODES);
      assert.ok(await page.locator('svg.timeline g.mark').count() > 100);
      assert.equal(await page.locator('#failure').count(), 0, 'a passing seed has no failure panel');
      assert.deepEqual(opened.consoleErrors, []);
    } finally {
      await opened.close();
    }
  });

  test('a failing seed: the page shows the assertion, its node and its time, highlighted on the timeline', async () => {
    const seed = 3;
    const scenario = drawAgreementScenario(seed, 'stream', { nodeCount: 5 });
    let trace: RecordedTrace = { events: [], total: 0 };
    let failure: SimulationError | undefined;
    try {
      runAgreementScenario(scenario, (sim) => {
        trace = recordTrace(sim);
        // A deliberately broken invariant, as a test's own check would fail.
        sim.onStep((node, atMs) => {
          if (node === 'n2' && atMs > 1500) throw new AssertionError('n2: committed more than it holds (demonstration)');
        });
      });
    } catch (error) {
      assert.ok(error instanceof SimulationError);
      failure = error;
    }
    assert.ok(failure !== undefined && failure.node === nodeId('n2'));
    const file = join(dir, 'sim-failing.html');
    writeFileSync(
      file,
      simReportHtml({
        title: 'agreement job, protocol stream (a broken invariant)',
        seed,
        nodes: scenario.nodes,
        faults: scenario.faults,
        endedAtMs: failure.atMs ?? 0,
        trace,
        settings: [['protocol', 'stream']],
        problems: [],
        failure: { text: failure.message, node: failure.node ?? null, atMs: failure.atMs ?? null },
        replay: `chatterbox sim --protocol stream --seed ${seed} --nodes 5`,
        logs: failure.recentLogs,
      }),
    );
    const opened = await openPage(file);
    try {
      const { page } = opened;
      assert.match((await page.textContent('.verdict')) ?? '', /FAILED/);
      const panel = (await page.textContent('#failure')) ?? '';
      assert.match(panel, /committed more than it holds/);
      assert.match(panel, new RegExp(`on n2`));
      assert.match(panel, /at 1\.5\d* s/);
      const mark = await page.$eval('#failure-mark', (g) => g.querySelector('title')?.textContent ?? '');
      assert.match(mark, /FAILED at n2/);
      assert.deepEqual(await page.$$eval('svg.timeline .row-label', (els) => els.map((e) => e.textContent)), NODES);
      assert.deepEqual(opened.consoleErrors, []);
      await screenshot(page, 'sim-report');
    } finally {
      await opened.close();
    }
  });

  test("a failing test's picture hint is a command that works", async () => {
    const replay = 'chatterbox sim --protocol lockstep --seed 4 --nodes 3';
    let message = '';
    try {
      withSeed(4, 'demo', () => {
        throw new Error('boom');
      }, replay);
    } catch (error) {
      message = error instanceof Error ? error.message : String(error);
    }
    const hint = /picture: npx chatterbox (.*?)\)/.exec(message)?.[1];
    assert.equal(`npx chatterbox ${hint}`, pictureCommand(replay, 4));
    const { stdout } = await run(process.execPath, [MAIN, ...hint!.split(' ')], { cwd: dir, timeout: HUNG_AFTER_MS });
    assert.match(stdout, /report: seed-4\.html/);
    assert.match(readFileSync(join(dir, 'seed-4.html'), 'utf8'), /Simulated seed 4: agreement job, protocol lockstep/);
  });
});
