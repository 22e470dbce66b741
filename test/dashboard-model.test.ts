/**
 * The dashboards' pure parts: the cluster model's rates, links, history bound and final snapshot, and the event
 * channel's bounds (browsers at once, a browser that stops reading, the final snapshot staying). The pages
 * themselves are tested in a browser (test/process/dashboard.test.ts).
 */
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type { ServerResponse } from 'node:http';
import { describe, test } from 'node:test';
import { parseClusterArgv } from '../src/cli/cluster-command.js';
import { parseServeArgv } from '../src/cli/ranges-command.js';
import { UsageError } from '../src/platform/user-errors.js';
import { ClusterDashboardModel, MAX_HISTORY_POINTS } from '../src/runtime/dashboard/cluster-model.js';
import { MAX_CLIENT_BACKLOG_BYTES, MAX_SSE_CLIENTS, SnapshotChannel } from '../src/runtime/dashboard/sse.js';
import { isLoopbackBind } from '../src/runtime/ranges-http.js';

const link = (framesOut: number, bytesOut: number) => ({ framesOut, bytesOut, framesIn: 0, bytesIn: 0 });

describe('cluster dashboard model', () => {
  test('rates are counter differences over the window; links only to known peers; confirmations parsed', () => {
    const model = new ClusterDashboardModel('stream', 5_000, 1_000);
    model.addNode('n1');
    model.addNode('n2');
    model.progress('n1', { msg: 'progress', phase: 'sending', sent: 0, committed: 0, links: { n2: link(0, 0) } });
    model.sample(1_000);
    model.progress('n1', { msg: 'progress', phase: 'sending', sent: 500, committed: 200, confirmed: 'n2,ghost', watermarkUs: 123, links: { n2: link(10, 4_000), ghost: link(1, 1), n1: link(1, 1) } });
    const snapshot = model.sample(1_500);
    const n1 = snapshot.nodes[0]!;
    assert.equal(n1.sentPerSec, 1_000);
    assert.equal(n1.committedPerSec, 400);
    assert.deepEqual(n1.confirmedBy, ['n2'], 'unknown ids are not shown');
    assert.equal(n1.watermarkUs, 123);
    assert.deepEqual(snapshot.links, [{ from: 'n1', to: 'n2', msgs: 10, bytes: 4_000, msgsPerSec: 20, bytesPerSec: 8_000 }]);
    assert.deepEqual(snapshot.history, { t: [0, 0.5], sentPerSec: [0, 1_000], committedPerSec: [0, 400] });
    assert.equal(snapshot.nodes[1]!.sent, null, 'a node that reported nothing shows nothing');
  });

  test('a link first seen after the window began counts from zero', () => {
    const model = new ClusterDashboardModel('stream', 5_000, 0);
    model.addNode('n1');
    model.addNode('n2');
    model.sample(0);
    model.progress('n1', { msg: 'progress', links: { n2: link(5, 500) } });
    assert.equal(model.sample(500).links[0]!.msgsPerSec, 10);
  });

  test('the chart keeps at most MAX_HISTORY_POINTS; the final snapshot carries the verdict and the last figures', () => {
    const model = new ClusterDashboardModel('stream', 5_000, 0);
    model.addNode('n1');
    for (let i = 0; i <= MAX_HISTORY_POINTS + 10; i++) model.sample(i * 250);
    model.progress('n1', { msg: 'progress', phase: 'halted', sent: 7, committed: 42 });
    model.setState('n1', 'exit 0');
    model.setLine('n1', '(42, 1.0000000000)\n');
    const final = model.finish(0, ['agreement: all 1 nodes printed (42, 1.0000000000)'], 10_000_000);
    assert.equal(final.history.t.length, MAX_HISTORY_POINTS);
    assert.deepEqual(final.finished, { exitCode: 0, verdict: ['agreement: all 1 nodes printed (42, 1.0000000000)'] });
    assert.deepEqual([final.nodes[0]!.committed, final.nodes[0]!.state, final.nodes[0]!.line], [42, 'exit 0', '(42, 1.0000000000)']);
    assert.equal(model.sample(10_000_250).history.t.length, MAX_HISTORY_POINTS, 'no points after the end');
  });
});

/** A stand-in for a browser's response: what was written, and whether it was cut off. */
class FakeResponse extends EventEmitter {
  status = 0;
  written: string[] = [];
  ended = false;
  destroyed = false;
  writableLength = 0;
  writeHead(status: number): this {
    this.status = status;
    return this;
  }
  write(text: string): boolean {
    this.written.push(text);
    return true;
  }
  end(): void {
    this.ended = true;
  }
  destroy(): void {
    this.destroyed = true;
    this.emit('close');
  }
}

const asResponse = (fake: FakeResponse): ServerResponse => fake as unknown as ServerResponse;

describe('snapshot channel', () => {
  test(`at most ${MAX_SSE_CLIENTS} browsers; a late one gets the last snapshot; a closed one is forgotten`, () => {
    const channel = new SnapshotChannel();
    const browsers = Array.from({ length: MAX_SSE_CLIENTS + 1 }, () => new FakeResponse());
    channel.publish({ n: 1 });
    browsers.forEach((b) => channel.accept(asResponse(b)));
    assert.deepEqual(browsers.map((b) => b.status), [...Array.from({ length: MAX_SSE_CLIENTS }, () => 200), 503]);
    assert.equal(browsers[0]!.written.at(-1), 'data: {"n":1}\n\n');
    browsers[0]!.emit('close');
    assert.equal(channel.clientCount, MAX_SSE_CLIENTS - 1);
  });

  test('a browser that stops reading is dropped past the backlog bound; the others still get snapshots', () => {
    const channel = new SnapshotChannel();
    const slow = new FakeResponse();
    const fast = new FakeResponse();
    channel.accept(asResponse(slow));
    channel.accept(asResponse(fast));
    slow.writableLength = MAX_CLIENT_BACKLOG_BYTES + 1;
    channel.publish({ n: 2 });
    assert.equal(slow.destroyed, true);
    assert.equal(fast.written.at(-1), 'data: {"n":2}\n\n');
    assert.equal(channel.clientCount, 1);
  });

  test('the final snapshot stays: later publishes are ignored, later browsers get it', () => {
    const channel = new SnapshotChannel();
    channel.finish({ finished: true });
    channel.publish({ finished: false });
    const late = new FakeResponse();
    channel.accept(asResponse(late));
    assert.equal(late.written.at(-1), 'data: {"finished":true}\n\n');
    assert.equal(channel.isFinished, true);
  });

  test('servers listen on loopback only', () => {
    assert.deepEqual(['127.0.0.1', '127.1.2.3', 'localhost', '::1', '[::1]'].map(isLoopbackBind), [true, true, true, true, true]);
    assert.deepEqual(['0.0.0.0', '::', '10.0.0.1', 'example.com'].map(isLoopbackBind), [false, false, false, false]);
  });
});

describe('dashboard flags', () => {
  test('cluster: --dashboard and the flags that imply it', () => {
    assert.equal(parseClusterArgv([]).dashboard, undefined);
    assert.deepEqual(parseClusterArgv(['--dashboard']).dashboard, { port: 0, lingerMs: undefined, waitForPage: false });
    assert.deepEqual(parseClusterArgv(['--dashboard-linger', '2.5', '--dashboard-port', '8080']).dashboard, { port: 8080, lingerMs: 2_500, waitForPage: false });
    assert.deepEqual(parseClusterArgv(['--dashboard-wait']).dashboard, { port: 0, lingerMs: undefined, waitForPage: true });
    assert.throws(() => parseClusterArgv(['--dashboard-port', '70000']), UsageError);
    assert.throws(() => parseClusterArgv(['--dashboard-linger', 'soon']), UsageError);
  });

  test('ranges serve: --ui only with a loopback API host', () => {
    assert.equal(parseServeArgv(['--data-dir', 'd', '--ui']).ui, true);
    assert.equal(parseServeArgv(['--data-dir', 'd', '--ui', '--api-host', '::1']).ui, true);
    assert.equal(parseServeArgv(['--data-dir', 'd']).ui, undefined);
    assert.throws(() => parseServeArgv(['--data-dir', 'd', '--ui', '--api-host', '0.0.0.0']), (e: unknown) => e instanceof UsageError && /--ui: the page is served on loopback only/.test(e.message));
  });
});
