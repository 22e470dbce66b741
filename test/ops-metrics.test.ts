/**
 * The operator's side of a node (src/runtime/metrics.ts, ops-http.ts): the registry's exposition parses as
 * Prometheus' text format, its counters follow what they count, its bounds hold against a hostile peer's tags,
 * and the endpoints answer /metrics, /healthz and /readyz (503 before start and while stopping). Then the same
 * through a key-range node in this process, over real TCP and SQLite: traffic and writes move the counters.
 *
 * Every wait is on an event (a scrape answer, a node's reply); the only bound turns a hang into a failure.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nodeId } from '../src/core/ids.js';
import { MAX_MESSAGE_KINDS, MAX_TRACKED_MEMBERS, NodeMetrics, OTHER_KIND, messageKind, metricNamePart, type MemberStateName, type ObservedMemberEvent } from '../src/runtime/metrics.js';
import { MAX_READY_CONDITIONS, Readiness, createNodeOps, opsEndpointOf, startOpsServer } from '../src/runtime/ops-http.js';
import { silentLogger } from '../src/platform/log.js';
import { freePorts } from '../src/supervisor/free-port.js';
import { startRangesNode, type RangesNode } from '../src/runtime/ranges-node.js';
import { hasSample, parsePrometheusText, sampleSum, type Exposition } from './prometheus-text.js';

const n1 = nodeId('n1');
const n2 = nodeId('n2');
const n3 = nodeId('n3');
/** Bounds a wait for convergence: far above what it takes, only so that a hang fails. */
const HUNG_AFTER_MS = 30_000;

const cleanup: Array<() => void | Promise<void>> = [];
after(async () => {
  for (const step of cleanup.reverse()) await step();
});

function member(id: string, state: MemberStateName, incarnation = 0): ObservedMemberEvent {
  return { kind: 'member', member: { id: nodeId(id), state, incarnation } };
}

async function scrape(metrics: NodeMetrics): Promise<Exposition> {
  return parsePrometheusText(await metrics.text());
}

describe('NodeMetrics', () => {
  test('the exposition is Prometheus text: every line a comment or a sample of a declared family', async () => {
    const metrics = new NodeMetrics({ protocol: 'ranges', self: n1, nodes: [n1, n2] });
    metrics.setSnapshotSource(() => ({ buffered: 3, 'kernel.guardFailures': 1, phase: 'sending', eager: true }));
    metrics.observeProbeRtt(1.5);
    metrics.timeStoreWrite(() => undefined);
    const text = await metrics.text();
    const exposition = parsePrometheusText(text);
    // prom-client's process metrics are there, ours too.
    assert.ok(hasSample(exposition, 'process_cpu_user_seconds_total'), 'default process metrics');
    assert.ok(hasSample(exposition, 'nodejs_eventloop_lag_seconds'), 'event loop lag');
    assert.equal(exposition.types.get('chatterbox_probe_rtt_seconds'), 'histogram');
    assert.equal(sampleSum(exposition, 'chatterbox_probe_rtt_seconds_count'), 1);
    assert.equal(sampleSum(exposition, 'chatterbox_probe_rtt_seconds_sum'), 0.0015);
    assert.equal(sampleSum(exposition, 'chatterbox_store_write_seconds_count'), 1);
    assert.equal(sampleSum(exposition, 'chatterbox_node_info', { node: 'n1', protocol: 'ranges' }), 1);
    // The snapshot: numbers and booleans as gauges, snake case, strings left out.
    assert.equal(sampleSum(exposition, 'chatterbox_ranges_buffered'), 3);
    assert.equal(sampleSum(exposition, 'chatterbox_ranges_kernel_guard_failures'), 1);
    assert.equal(sampleSum(exposition, 'chatterbox_ranges_eager'), 1);
    assert.ok(!text.includes('chatterbox_ranges_phase'));
    // The reader can fail: a sample of no declared family, a bad value.
    assert.throws(() => parsePrometheusText('undeclared 1\n'));
    assert.throws(() => parsePrometheusText('# TYPE x gauge\nx{a="1"} one\n'));
  });

  test('snapshot gauges follow the snapshot at each scrape', async () => {
    const metrics = new NodeMetrics({ protocol: 'causal-broadcast', self: n1, nodes: [n1], defaultMetrics: false });
    let buffered = 1;
    metrics.setSnapshotSource(() => ({ buffered }));
    assert.equal(sampleSum(await scrape(metrics), 'chatterbox_causal_broadcast_buffered'), 1);
    buffered = 7;
    assert.equal(sampleSum(await scrape(metrics), 'chatterbox_causal_broadcast_buffered'), 7);
  });

  test("probe round trips follow membership's snapshot counters: exact count and sum, one probe in its own bucket", async () => {
    const metrics = new NodeMetrics({ protocol: 'ranges+membership', self: n1, nodes: [n1], defaultMetrics: false });
    let probes = { 'swim.swim.probeRttCount': 0, 'swim.swim.probeRttSumMs': 0, 'swim.swim.probeRttLastMs': 0 };
    metrics.setSnapshotSource(() => probes);
    const histogram = async (): Promise<{ count: number; sum: number; le1ms: number }> => {
      const e = await scrape(metrics);
      return {
        count: sampleSum(e, 'chatterbox_probe_rtt_seconds_count'),
        sum: Math.round(sampleSum(e, 'chatterbox_probe_rtt_seconds_sum') * 1e6) / 1e6,
        le1ms: sampleSum(e, 'chatterbox_probe_rtt_seconds_bucket', { le: '0.001' }),
      };
    };
    assert.deepEqual(await histogram(), { count: 0, sum: 0, le1ms: 0 });
    probes = { 'swim.swim.probeRttCount': 1, 'swim.swim.probeRttSumMs': 0.8, 'swim.swim.probeRttLastMs': 0.8 };
    assert.deepEqual(await histogram(), { count: 1, sum: 0.0008, le1ms: 1 });
    probes = { 'swim.swim.probeRttCount': 4, 'swim.swim.probeRttSumMs': 30.8, 'swim.swim.probeRttLastMs': 20 };
    assert.deepEqual(await histogram(), { count: 4, sum: 0.0308, le1ms: 1 });
    assert.deepEqual(await histogram(), { count: 4, sum: 0.0308, le1ms: 1 }, 'a scrape without new probes adds none');
  });

  test('messages and bytes by kind, in and out', async () => {
    const metrics = new NodeMetrics({ protocol: 'ranges', self: n1, nodes: [n1], defaultMetrics: false });
    metrics.observeFrame('out', { t: 'd', i: 1 }, 100);
    metrics.observeFrame('out', { t: 'd', i: 2 }, 50);
    metrics.observeFrame('out', { p: 'm', m: { t: 'ping' } }, 20);
    metrics.observeFrame('in', { t: 'a' }, 10);
    metrics.observeFrame('in', 'not a record', 5);
    const e = await scrape(metrics);
    assert.equal(sampleSum(e, 'chatterbox_messages_sent_total', { kind: 'd' }), 2);
    assert.equal(sampleSum(e, 'chatterbox_message_bytes_sent_total', { kind: 'd' }), 150);
    assert.equal(sampleSum(e, 'chatterbox_messages_sent_total', { kind: 'm.ping' }), 1);
    assert.equal(sampleSum(e, 'chatterbox_messages_received_total', { kind: 'a' }), 1);
    assert.equal(sampleSum(e, 'chatterbox_message_bytes_received_total'), 15);
    assert.equal(sampleSum(e, 'chatterbox_messages_received_total', { kind: OTHER_KIND }), 1);
  });

  test("a peer's odd tags cannot grow the registry: kinds are bounded and checked", async () => {
    const metrics = new NodeMetrics({ protocol: 'ranges', self: n1, nodes: [n1], defaultMetrics: false });
    for (let i = 0; i < MAX_MESSAGE_KINDS * 2; i++) metrics.observeFrame('in', { t: `k${i}` }, 1);
    metrics.observeFrame('in', { t: 'x'.repeat(1000) }, 1);
    metrics.observeFrame('in', { t: 'a"b\nc' }, 1);
    const e = await scrape(metrics);
    const kinds = new Set(e.samples.filter((s) => s.name === 'chatterbox_messages_received_total').map((s) => s.labels['kind']));
    assert.equal(kinds.size, MAX_MESSAGE_KINDS + 1);
    assert.equal(sampleSum(e, 'chatterbox_messages_received_total', { kind: OTHER_KIND }), MAX_MESSAGE_KINDS + 2);
    assert.equal(sampleSum(e, 'chatterbox_messages_received_total'), MAX_MESSAGE_KINDS * 2 + 2);
  });

  test('members by state follow member events; suspicions and refutations are counted', async () => {
    const metrics = new NodeMetrics({ protocol: 'ranges', self: n1, nodes: [n1, n2, n3], defaultMetrics: false });
    const members = async (): Promise<Record<string, number>> => {
      const e = await scrape(metrics);
      return Object.fromEntries(['alive', 'suspect', 'dead', 'left'].map((state) => [state, sampleSum(e, 'chatterbox_members', { state })]));
    };
    assert.deepEqual(await members(), { alive: 3, suspect: 0, dead: 0, left: 0 });
    metrics.observeMemberEvent(member('n2', 'suspect'));
    metrics.observeMemberEvent(member('n2', 'suspect')); // the same suspicion heard again
    assert.deepEqual(await members(), { alive: 2, suspect: 1, dead: 0, left: 0 });
    metrics.observeMemberEvent(member('n2', 'alive', 1)); // refuted
    metrics.observeMemberEvent(member('n3', 'suspect'));
    metrics.observeMemberEvent(member('n3', 'dead'));
    metrics.observeMemberEvent(member('n4', 'alive')); // a join
    metrics.observeMemberEvent(member('n5', 'alive'));
    metrics.observeMemberEvent(member('n5', 'left'));
    assert.deepEqual(await members(), { alive: 3, suspect: 0, dead: 1, left: 1 });
    const e = await scrape(metrics);
    assert.equal(sampleSum(e, 'chatterbox_membership_suspicions_total'), 2);
    assert.equal(sampleSum(e, 'chatterbox_membership_refutations_total'), 1);
  });

  test('tracked members are bounded: the longest gone are forgotten first, live ones never', async () => {
    const metrics = new NodeMetrics({ protocol: 'ranges', self: n1, nodes: [n1], defaultMetrics: false });
    metrics.observeMemberEvent(member('gone', 'dead'));
    for (let i = 2; i < MAX_TRACKED_MEMBERS + 1; i++) metrics.observeMemberEvent(member(`m${i}`, 'alive'));
    let e = await scrape(metrics);
    assert.equal(sampleSum(e, 'chatterbox_members'), MAX_TRACKED_MEMBERS);
    assert.equal(sampleSum(e, 'chatterbox_members', { state: 'dead' }), 0, 'the dead member made room');
    metrics.observeMemberEvent(member('one-too-many', 'alive'));
    e = await scrape(metrics);
    assert.equal(sampleSum(e, 'chatterbox_members'), MAX_TRACKED_MEMBERS);
    assert.equal(sampleSum(e, 'chatterbox_membership_untracked_events_total'), 1);
  });

  test('a member SWIM forgot leaves the gauge: dead members do not pile up', async () => {
    const metrics = new NodeMetrics({ protocol: 'ranges', self: n1, nodes: [n1], defaultMetrics: false });
    for (let i = 2; i < 12; i++) metrics.observeMemberEvent(member(`d${i}`, 'dead'));
    metrics.observeMemberEvent(member('l1', 'left'));
    assert.equal(sampleSum(await scrape(metrics), 'chatterbox_members', { state: 'dead' }), 10);
    for (let i = 2; i < 12; i++) metrics.observeMemberEvent({ kind: 'forgotten', id: nodeId(`d${i}`) });
    metrics.observeMemberEvent({ kind: 'forgotten', id: nodeId('l1') });
    metrics.observeMemberEvent({ kind: 'forgotten', id: nodeId('never-heard-of') });
    const e = await scrape(metrics);
    assert.equal(sampleSum(e, 'chatterbox_members', { state: 'dead' }), 0);
    assert.equal(sampleSum(e, 'chatterbox_members', { state: 'left' }), 0);
    assert.equal(sampleSum(e, 'chatterbox_members'), 1, 'only self');
  });

  test('message kinds and metric names', () => {
    assert.equal(messageKind({ t: 'data', seq: 1 }), 'data');
    assert.equal(messageKind({ p: 'x', m: { t: 'd' } }), 'x.d');
    assert.equal(messageKind({ p: 'x', m: { p: 'y', m: { p: 'z', m: {} } } }), 'x.y.other');
    assert.equal(messageKind({ type: 'echo' }), 'echo');
    assert.equal(messageKind(null), OTHER_KIND);
    assert.equal(metricNamePart('kernel.guardFailures'), 'kernel_guard_failures');
    assert.equal(metricNamePart('swim.probeRttMs'), 'swim_probe_rtt_ms');
    assert.equal(metricNamePart('9lives'), '_9lives');
    assert.equal(metricNamePart('...'), 'unnamed');
  });
});

describe('Readiness and the endpoints', () => {
  test('ready once every condition is marked, never again once stopping', () => {
    const readiness = new Readiness(['store', 'transport']);
    assert.deepEqual(readiness.status(), { ready: false, stopping: false, waitingFor: ['store', 'transport'] });
    readiness.mark('transport');
    readiness.mark('store');
    assert.equal(readiness.ready, true);
    readiness.require('joined');
    assert.equal(readiness.ready, false);
    readiness.mark('joined');
    assert.equal(readiness.ready, true);
    readiness.stopping();
    assert.deepEqual(readiness.status(), { ready: false, stopping: true, waitingFor: [] });
    assert.throws(() => new Readiness(Array.from({ length: MAX_READY_CONDITIONS + 1 }, (_, i) => `c${i}`)), RangeError);
  });

  test('paths: the three endpoints, queries ignored, nothing else', () => {
    assert.equal(opsEndpointOf('/metrics'), 'metrics');
    assert.equal(opsEndpointOf('/metrics?name[]=x'), 'metrics');
    assert.equal(opsEndpointOf('/healthz'), 'healthz');
    assert.equal(opsEndpointOf('/readyz'), 'readyz');
    assert.equal(opsEndpointOf('/readyz/'), undefined);
    assert.equal(opsEndpointOf('/groups'), undefined);
    assert.equal(opsEndpointOf('/constructor'), undefined);
  });

  test('a server on port 0: /metrics parses, /healthz is 200, /readyz flips 503 → 200 → 503', async () => {
    const ops = createNodeOps({ protocol: 'stream', self: n1, nodes: [n1, n2], conditions: ['transport', 'protocol'] });
    const server = await startOpsServer({ host: '127.0.0.1', port: 0 }, ops, silentLogger());
    cleanup.push(() => server.close());
    assert.ok(server.port > 0);
    const get = (path: string, method = 'GET'): Promise<Response> => fetch(`${server.url}${path}`, { method });

    const metrics = await get('/metrics');
    assert.equal(metrics.status, 200);
    assert.match(metrics.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    const exposition = parsePrometheusText(await metrics.text());
    assert.equal(sampleSum(exposition, 'chatterbox_members', { state: 'alive' }), 2);

    assert.equal((await get('/healthz')).status, 200);
    const before = await get('/readyz');
    assert.equal(before.status, 503);
    assert.deepEqual(await before.json(), { ready: false, stopping: false, waitingFor: ['protocol', 'transport'] });
    ops.readiness.mark('transport');
    assert.equal((await get('/readyz')).status, 503);
    ops.readiness.mark('protocol');
    assert.equal((await get('/readyz')).status, 200);
    const head = await get('/readyz', 'HEAD');
    assert.equal(head.status, 200);
    assert.equal(await head.text(), '');
    ops.readiness.stopping();
    assert.equal((await get('/readyz')).status, 503);
    assert.equal((await get('/healthz')).status, 200, 'alive while stopping');

    const post = await get('/metrics', 'POST');
    assert.equal(post.status, 405);
    assert.equal(post.headers.get('allow'), 'GET, HEAD');
    assert.equal((await get('/nothing')).status, 404);
  });
});

describe('a key-range node in this process', () => {
  test('its API serves the endpoints; traffic and writes move the counters; readyz is 503 once it stops', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'chatterbox-ops-'));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const [p1, p2, a1, a2] = await freePorts(4);
    const peers = [
      { id: n1, host: '127.0.0.1', port: p1! },
      { id: n2, host: '127.0.0.1', port: p2! },
    ];
    const start = (i: 0 | 1, apiPort: number): Promise<RangesNode> =>
      startRangesNode(
        { self: peers[i]!, peers, clusterId: 'ops-test', dataDir: join(dir, `n${i + 1}`), apiHost: '127.0.0.1', apiPort, fanout: 3, intervalMs: 20 },
        silentLogger(),
      );
    const first = await start(0, a1!);
    cleanup.push(() => first.stop());
    const second = await start(1, a2!);
    cleanup.push(() => second.stop());
    const scrapeApi = async (node: RangesNode): Promise<Exposition> => {
      const response = await fetch(`${node.apiUrl}/metrics`);
      assert.equal(response.status, 200);
      return parsePrometheusText(await response.text());
    };

    assert.equal((await fetch(`${first.apiUrl}/healthz`)).status, 200);
    assert.equal((await fetch(`${first.apiUrl}/readyz`)).status, 200, 'store open, transport listening, protocol started');
    const writesBefore = sampleSum(await scrapeApi(first), 'chatterbox_store_write_seconds_count');

    const post = (path: string, body: unknown): Promise<Response> =>
      fetch(`${first.apiUrl}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    assert.equal((await post('/groups/users/join', {})).status, 200);
    assert.equal((await post('/groups/users/ranges', { start: 0, end: 100 })).status, 200);

    // The second node learns the registration over TCP: wait for that, then read both nodes' counters.
    const deadline = Date.now() + HUNG_AFTER_MS;
    for (;;) {
      const lookup = (await (await fetch(`${second.apiUrl}/groups/users/lookup?position=5`)).json()) as { result?: { nodes: unknown[] } };
      if ((lookup.result?.nodes.length ?? 0) > 0) break;
      assert.ok(Date.now() < deadline, 'the second node never learnt the registration');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const e1 = await scrapeApi(first);
    const e2 = await scrapeApi(second);
    assert.ok(sampleSum(e1, 'chatterbox_store_write_seconds_count') > writesBefore, 'writes are timed');
    assert.ok(sampleSum(e1, 'chatterbox_messages_sent_total', { kind: 'x.d' }) > 0, 'deltas sent');
    assert.ok(sampleSum(e1, 'chatterbox_message_bytes_sent_total') > 0);
    assert.ok(sampleSum(e2, 'chatterbox_messages_received_total', { kind: 'x.d' }) > 0, 'deltas received');
    assert.ok(sampleSum(e1, 'chatterbox_ranges_membership_kernel_steps') > 0, 'kernel counters');
    assert.ok(hasSample(e1, 'chatterbox_ranges_membership_ranges_buffered'), "delta-sync's buffer size");
    assert.equal(sampleSum(e1, 'chatterbox_members', { state: 'alive' }), 2);

    // Stopping: readiness drops at once, before the API closes.
    const stopping = first.stop();
    assert.equal(first.ops.readiness.status().stopping, true);
    assert.equal(first.ops.readiness.ready, false);
    await stopping;
  });

  test('with --join, /readyz is 503 waiting for "joined" while no seed answers', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'chatterbox-ops-'));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const [port, nobody] = await freePorts(2);
    const self = { id: nodeId('joiner'), host: '127.0.0.1', port: port! };
    // The seed's port has no listener: the join retries with backoff until the node stops.
    const node = await startRangesNode(
      {
        self,
        peers: [self],
        clusterId: 'ops-test',
        dataDir: dir,
        apiHost: '127.0.0.1',
        apiPort: 0,
        fanout: 3,
        intervalMs: 20,
        join: [{ kind: 'address', host: '127.0.0.1', port: nobody! }],
      },
      silentLogger(),
    );
    cleanup.push(() => node.stop());
    const ready = await fetch(`${node.apiUrl}/readyz`);
    assert.equal(ready.status, 503);
    assert.deepEqual(await ready.json(), { ready: false, stopping: false, waitingFor: ['joined'] });
    assert.equal((await fetch(`${node.apiUrl}/healthz`)).status, 200, 'alive all the same');
    await node.stop();
  });
});
