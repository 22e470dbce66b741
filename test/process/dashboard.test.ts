/**
 * The live dashboards in a real browser (test/process/helpers/browser.ts): `chatterbox cluster --dashboard` and
 * `chatterbox ranges serve --ui`. Every wait is for an event: a line printed, an element or a value on the page.
 * The cluster's nodes start only once the page watches (--dashboard-wait), so the page sees the run from its start.
 */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { freePorts } from '../../src/supervisor/free-port.js';
import { closeBrowser, openPage, screenshot } from './helpers/browser.js';
import { HUNG_AFTER_MS, localCluster, startChatterbox, type Running } from './helpers/processes.js';

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

  test('ranges serve --ui: the registrations made through the API, by owner and priority, and the members', async (t) => {
    const cluster = await localCluster(2);
    const apiPorts = await freePorts(2);
    const nodes: Running[] = [0, 1].map((i) =>
      startChatterbox([
        'ranges', 'serve', '-p', String(cluster.ports[i]), '--peer-config-file', cluster.peersFile,
        '--data-dir', mkdtempSync(join(tmpdir(), 'chatterbox-ui-')), '--api-port', String(apiPorts[i]), '--interval-ms', '50', '--ui',
      ]),
    );
    t.after(() => nodes.forEach((n) => n.proc.kill('SIGKILL')));
    const started = await Promise.all(nodes.map((n) => n.stderrMatching(/ranges node started/)));
    const uiUrl = (JSON.parse(started[0]!) as { ui: string }).ui;
    assert.equal(uiUrl, `http://127.0.0.1:${apiPorts[0]}/ui`);

    const post = async (i: number, path: string, body?: unknown): Promise<void> => {
      const response = await fetch(`http://127.0.0.1:${apiPorts[i]}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: body === undefined ? '' : JSON.stringify(body) });
      assert.equal(response.status, 200, `${path}: ${await response.text()}`);
    };
    // n1 owns the lower half; n2 the upper half, and the lower half after n1 (a lower priority).
    await post(0, '/groups/users/join');
    await post(1, '/groups/users/join');
    await post(0, '/groups/users/ranges', { start: 0, end: 2 ** 31 });
    await post(1, '/groups/users/ranges', { start: 0, end: 2 ** 32 });

    const opened = await openPage(uiUrl);
    const { page } = opened;
    try {
      const group = page.locator('section[data-group="users"]');
      // n1's page shows n2's registration once it has arrived by gossip: wait for the replicated picture.
      await group.locator('tr[data-start="0"] td.owners', { hasText: /^n1 \(\d+\) > n2 \(\d+\)$/ }).waitFor({ timeout: HUNG_AFTER_MS });
      await group.locator(`tr[data-start="${2 ** 31}"] td.owners`, { hasText: /^n2 \(\d+\)$/ }).waitFor({ timeout: HUNG_AFTER_MS });
      assert.equal(await group.locator('tbody tr').count(), 2, 'two subranges: [0, 2^31) and [2^31, 2^32)');
      assert.equal(await group.locator('svg.bar rect').count(), 1 + 3, 'the frame, two owners of the lower half, one of the upper');
      assert.deepEqual(await page.locator('#members tr td.id').allTextContents(), ['n1', 'n2']);
      assert.deepEqual(await page.locator('#members tr td.state').allTextContents(), ['alive', 'alive'], 'as membership sees them');
      assert.deepEqual(await page.locator('#members tr td.groups').allTextContents(), ['users', 'users']);
      assert.equal(await page.textContent('#status'), 'live');
      assert.deepEqual(opened.consoleErrors, []);
      await screenshot(page, 'ranges-ui');

      // The node stops: the page keeps its last picture, marked finished.
      nodes[0]!.proc.kill('SIGINT');
      assert.equal(await nodes[0]!.exited, 0);
      await page.locator('#status', { hasText: /^finished$/ }).waitFor({ timeout: HUNG_AFTER_MS });
      assert.equal(await group.locator('tbody tr').count(), 2, 'the last picture stays');
    } finally {
      await opened.close();
    }
    // The page is the API's: a non-loopback Host is refused, as the API refuses it (asked of n2, still up).
    const status = await new Promise<number | undefined>((resolve, reject) => {
      // node:http, since fetch may not set Host.
      get(`http://127.0.0.1:${apiPorts[1]}/ui`, { headers: { host: 'example.com' } }, (res) => {
        res.resume();
        resolve(res.statusCode);
      }).on('error', reject);
    });
    assert.equal(status, 403);
  });
});
