/**
 * The operator's endpoints on real processes: a `chatterbox ranges serve` answers /metrics (Prometheus text that
 * parses, counters that move with its API's writes), /healthz and /readyz on its API port; `chatterbox chat
 * --metrics-port` serves the same on its own port. The finer points (readyz before start and while stopping, the
 * bounds) are tested in this process (test/ops-metrics.test.ts).
 *
 * Waiting is on output ("ranges node started", "chat node started") and on answers; no sleeps.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HUNG_AFTER_MS, localCluster, startChatterbox, type Running } from './helpers/processes.js';
import { freePorts } from '../../src/supervisor/free-port.js';
import { parsePrometheusText, sampleSum } from '../prometheus-text.js';

const cleanup: Array<() => void | Promise<void>> = [];
after(async () => {
  for (const step of cleanup.reverse()) await step();
});

function killAtEnd(run: Running): Running {
  cleanup.push(() => {
    if (run.proc.exitCode === null && run.proc.signalCode === null) run.proc.kill('SIGKILL');
  });
  return run;
}

async function scrape(url: string): Promise<ReturnType<typeof parsePrometheusText>> {
  const response = await fetch(`${url}/metrics`);
  assert.equal(response.status, 200);
  assert.match(response.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  return parsePrometheusText(await response.text());
}

describe('operator endpoints on real processes', () => {
  test('ranges serve: /metrics parses and moves with writes, /healthz and /readyz are 200, SIGTERM exits 0', { timeout: HUNG_AFTER_MS }, async () => {
    const cluster = await localCluster(1);
    cleanup.push(() => rmSync(cluster.dir, { recursive: true, force: true }));
    const [apiPort] = await freePorts(1);
    const node = killAtEnd(
      startChatterbox(['ranges', 'serve', '-p', String(cluster.ports[0]), '--peer-config-file', cluster.peersFile, '--data-dir', join(cluster.dir, 'data'), '--api-port', String(apiPort)]),
    );
    await node.stderrMatching(/ranges node started/);
    const api = `http://127.0.0.1:${apiPort}`;
    assert.equal((await fetch(`${api}/healthz`)).status, 200);
    const ready = await fetch(`${api}/readyz`);
    assert.equal(ready.status, 200);
    assert.deepEqual(await ready.json(), { ready: true, stopping: false, waitingFor: [] });

    const before = await scrape(api);
    assert.equal(sampleSum(before, 'chatterbox_node_info', { node: 'n1', protocol: 'ranges+membership' }), 1);
    assert.ok(sampleSum(before, 'process_resident_memory_bytes') > 0, "prom-client's process metrics");
    const joined = await fetch(`${api}/groups/users/join`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    assert.equal(joined.status, 200);
    const after = await scrape(api);
    assert.ok(sampleSum(after, 'chatterbox_store_write_seconds_count') > sampleSum(before, 'chatterbox_store_write_seconds_count'), 'the write was timed');
    assert.ok(sampleSum(after, 'chatterbox_ranges_membership_kernel_persists') > sampleSum(before, 'chatterbox_ranges_membership_kernel_persists'), 'kernel counters follow');

    node.proc.kill('SIGTERM');
    assert.equal(await node.exited, 0);
  });

  test('ranges serve --join: /readyz waits for the join; members by state follow membership', { timeout: 2 * HUNG_AFTER_MS }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'chatterbox-ops-'));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const [p1, p2, a1, a2] = await freePorts(4);
    const serve = (id: string, port: number, apiPort: number, seed: number): Running =>
      killAtEnd(
        startChatterbox([
          'ranges', 'serve', '-p', String(port), '--node-id', id, '--join', `127.0.0.1:${seed}`, '--cluster-id', 'ops',
          '--data-dir', join(dir, id), '--api-port', String(apiPort),
        ]),
      );
    const first = serve('a', p1!, a1!, p1!);
    await first.stderrMatching(/ranges node started/);
    const second = serve('b', p2!, a2!, p1!);
    await second.stderrMatching(/ranges node started/);
    // Polled: the join completes in the background, after the API is up (a 503 meanwhile is the point).
    const until = async (what: string, check: () => Promise<boolean>): Promise<void> => {
      const deadline = Date.now() + HUNG_AFTER_MS;
      while (!(await check())) {
        assert.ok(Date.now() < deadline, `not reached: ${what}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    };
    await until('b ready', async () => (await fetch(`http://127.0.0.1:${a2}/readyz`)).status === 200);
    const alive = async (api: number): Promise<number> => sampleSum(await scrape(`http://127.0.0.1:${api}`), 'chatterbox_members', { state: 'alive' });
    await until('b sees both nodes alive', async () => (await alive(a2!)) === 2);
    await until('a sees both nodes alive', async () => (await alive(a1!)) === 2);
    assert.ok(sampleSum(await scrape(`http://127.0.0.1:${a1}`), 'chatterbox_messages_received_total', { kind: 'm.push-pull' }) > 0, 'the join was a push/pull');
    for (const node of [second, first]) {
      node.proc.kill('SIGTERM');
      assert.equal(await node.exited, 0);
    }
  });

  test('chat --metrics-port: the three endpoints on their own port', { timeout: HUNG_AFTER_MS }, async () => {
    const cluster = await localCluster(1);
    cleanup.push(() => rmSync(cluster.dir, { recursive: true, force: true }));
    const [metricsPort] = await freePorts(1);
    const chat = killAtEnd(startChatterbox(['chat', '-p', String(cluster.ports[0]), '--peer-config-file', cluster.peersFile, '--metrics-port', String(metricsPort)], {}, 'pipe'));
    await chat.stderrMatching(/chat node started/);
    const url = `http://127.0.0.1:${metricsPort}`;
    assert.equal((await fetch(`${url}/healthz`)).status, 200);
    assert.equal((await fetch(`${url}/readyz`)).status, 200);
    const exposition = await scrape(url);
    assert.equal(sampleSum(exposition, 'chatterbox_node_info', { node: 'n1', protocol: 'causal-broadcast' }), 1);
    assert.equal(sampleSum(exposition, 'chatterbox_members', { state: 'alive' }), 1);
    chat.proc.stdin!.end();
    assert.equal(await chat.exited, 0);
  });

  test('chat --join --metrics-port: /readyz once it has found its seeds (here only itself: a new room)', { timeout: HUNG_AFTER_MS }, async () => {
    const [port, metricsPort] = await freePorts(2);
    const chat = killAtEnd(startChatterbox(['chat', '-p', String(port), '--join', `127.0.0.1:${port}`, '--metrics-port', String(metricsPort)], {}, 'pipe'));
    await chat.stderrMatching(/chat node started/);
    const url = `http://127.0.0.1:${metricsPort}`;
    const deadline = Date.now() + HUNG_AFTER_MS;
    while ((await fetch(`${url}/readyz`)).status !== 200) {
      assert.ok(Date.now() < deadline, 'never ready');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const exposition = await scrape(url);
    assert.equal(sampleSum(exposition, 'chatterbox_node_info', { protocol: 'chat+membership' }), 1);
    assert.equal(sampleSum(exposition, 'chatterbox_members', { state: 'alive' }), 1);
    chat.proc.stdin!.end();
    assert.equal(await chat.exited, 0);
  });

  test('a bad --metrics-port is a usage error, one line, exit 2', { timeout: HUNG_AFTER_MS }, async () => {
    const run = startChatterbox(['node', '-p', '3000', '--metrics-port', '3000']);
    assert.equal(await run.exited, 2);
    assert.deepEqual(run.stderrLines.filter((l) => l.trim() !== ''), [
      "chatterbox: --metrics-port: 3000 is also the node's -p/--port; give the metrics endpoints a port of their own",
    ]);
  });
});
