/**
 * The live dashboards in a real browser (test/process/helpers/browser.ts): `chatterbox cluster --dashboard` and
 * `chatterbox ranges serve --ui`. Every wait is for an event: a line printed, an element or a value on the page.
 * The cluster's nodes start only once the page watches (--dashboard-wait), so the page sees the run from its start.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { closeBrowser, openPage, screenshot } from './helpers/browser.js';
import { HUNG_AFTER_MS, startChatterbox } from './helpers/processes.js';

const DASHBOARD_AT = /dashboard at (http:\/\/\S+)/;
const AGREEMENT = /^agreement: all 5 nodes printed (\((\d+), \d+\.\d{10}\))$/;

describe('live dashboards in a browser', { concurrency: 1, timeout: HUNG_AFTER_MS * 2 }, () => {
  // Launch the browser before any run, so a slow launch never eats into a run the page should watch.
  before(async () => {
    await (await openPage('about:blank')).close();
  });
  after(closeBrowser);

  test('cluster --dashboard: all 5 nodes, figures that change while it runs, and the final figures of the verdict', async (t) => {
    const run = startChatterbox(['cluster', '--nodes', '5', '--send-for', '3', '--wait-for', '2', '--dashboard-wait']);
    const url = DASHBOARD_AT.exec(await run.stderrMatching(DASHBOARD_AT))![1]!;
    t.after(() => run.proc.kill('SIGKILL')); // a failed test must not leave it serving forever
    const opened = await openPage(url);
    const { page } = opened;
    try {
      await page.locator('#nodes tr[data-node]').nth(4).waitFor({ timeout: HUNG_AFTER_MS });
      assert.equal(await page.locator('#nodes tr[data-node]').count(), 5);
      assert.equal(await page.locator('#graph circle[data-node]').count(), 5, 'every node drawn in the graph');

      // Two different snapshots while the run goes on: n1's committed count, read while the page says live.
      const committedOfN1 = page.locator('#nodes tr[data-node="n1"] td.committed');
      await committedOfN1.filter({ hasText: /^[1-9][\d,]*$/ }).waitFor({ timeout: HUNG_AFTER_MS });
      const first = await committedOfN1.textContent();
      // 'finished' is final, so a page still live after the read was live during it.
      assert.equal(await page.textContent('#status'), 'live', 'the first figure was read while the cluster ran');
      await committedOfN1.filter({ hasNotText: new RegExp(`^${first}$`) }).waitFor({ timeout: HUNG_AFTER_MS });
      assert.ok((await page.locator('#links tr[data-link]').count()) > 0, 'links with their rates are listed');

      // The end: the verdict on stdout, and the page's final picture says the same.
      const verdict = await run.stdoutMatching((line) => AGREEMENT.test(line));
      const [, resultLine, count] = AGREEMENT.exec(verdict)!;
      await page.locator('#status', { hasText: /^finished$/ }).waitFor({ timeout: HUNG_AFTER_MS });
      assert.equal(await page.textContent('#verdict-head'), 'agreement');
      assert.ok(((await page.textContent('#verdict-lines')) ?? '').includes(verdict), 'the verdict line is on the page');
      const column = (name: string): Promise<string[]> => page.locator(`#nodes tr[data-node] td.${name}`).allTextContents();
      const ids = ['n1', 'n2', 'n3', 'n4', 'n5'];
      assert.deepEqual(await column('id'), ids);
      assert.deepEqual(await column('committed'), ids.map(() => Number(count).toLocaleString('en-US')), 'each node committed what it printed');
      assert.deepEqual(await column('line'), ids.map(() => resultLine), 'each node printed the verdict\'s line');
      assert.deepEqual(await column('state'), ids.map(() => 'exit 0'));
      assert.deepEqual(opened.consoleErrors, []);
      await screenshot(page, 'cluster-dashboard');
    } finally {
      await opened.close();
    }
    // With the dashboard on, the command serves the final picture until Ctrl-C, then exits with the verdict's status.
    await run.stderrMatching(/the final picture stays at .* until Ctrl-C/);
    run.proc.kill('SIGINT');
    assert.equal(await run.exited, 0);
  });
});
