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
import { rmSync } from 'node:fs';
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
    assert.equal(sampleSum(before, 'chatterbox_node_info', { node: 'n1', protocol: 'ranges' }), 1);
    assert.ok(sampleSum(before, 'process_resident_memory_bytes') > 0, "prom-client's process metrics");
    const joined = await fetch(`${api}/groups/users/join`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    assert.equal(joined.status, 200);
    const after = await scrape(api);
    assert.ok(sampleSum(after, 'chatterbox_store_write_seconds_count') > sampleSum(before, 'chatterbox_store_write_seconds_count'), 'the write was timed');
    assert.ok(sampleSum(after, 'chatterbox_ranges_kernel_persists') > sampleSum(before, 'chatterbox_ranges_kernel_persists'), 'kernel counters follow');

    node.proc.kill('SIGTERM');
    assert.equal(await node.exited, 0);
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

  test('a bad --metrics-port is a usage error, one line, exit 2', { timeout: HUNG_AFTER_MS }, async () => {
    const run = startChatterbox(['node', '-p', '3000', '--metrics-port', '3000']);
    assert.equal(await run.exited, 2);
    assert.deepEqual(run.stderrLines.filter((l) => l.trim() !== ''), [
      "chatterbox: --metrics-port: 3000 is also the node's -p/--port; give the metrics endpoints a port of their own",
    ]);
  });
});
