/**
 * The example counter (examples/counter/) as real processes: three TCP nodes that converge on the same total, and
 * the Maelstrom node binary under the harness with partitions, judged by Maelstrom's g-counter checker. Every wait
 * is for an event (a reply, convergence, an exit), bounded only by HUNG_AFTER_MS.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { after, describe, test } from 'node:test';
import { formatReport } from '../../src/harness/format.js';
import { runHarness } from '../../src/harness/runner.js';
import { PATIENT } from './helpers/harness.js';
import { HUNG_AFTER_MS, localCluster, startNodeScript, type Running } from './helpers/processes.js';

const EXAMPLE = (file: string): string => fileURLToPath(new URL(`../../examples/counter/${file}`, import.meta.url));
/** Between two reads of a node that has not converged yet: pacing only, so a waiting test leaves the cores to the nodes. */
const READ_PACING_MS = 20;

const cleanups: Array<() => void> = [];
after(() => {
  for (const cleanup of cleanups) cleanup();
});

/** One `tcp.js` node: commands go in on stdin, each reply comes back as one JSON line on stdout. */
class CounterProcess {
  private readonly replies: unknown[] = [];
  private readonly waiting: Array<(reply: unknown) => void> = [];
  private readonly stderr: string[];
  readonly proc: ChildProcess;
  readonly exited: Promise<number | string>;

  constructor(private readonly running: Running) {
    this.proc = running.proc;
    this.stderr = running.stderrLines;
    this.exited = running.exited;
    running.child.onLine('stdout', (line) => {
      const reply: unknown = JSON.parse(line);
      const waiter = this.waiting.shift();
      if (waiter === undefined) this.replies.push(reply);
      else waiter(reply);
    });
  }

  /** Sends one command and resolves with its reply; rejects if the process exits first. */
  async ask(command: string): Promise<Record<string, unknown>> {
    this.running.child.write(`${command}\n`);
    const queued = this.replies.shift();
    const reply =
      queued ??
      (await Promise.race([
        new Promise<unknown>((resolve) => this.waiting.push(resolve)),
        this.exited.then((code) => {
          throw new Error(`the node exited (${code}) before answering ${command}; stderr:\n${this.stderr.slice(-10).join('\n')}`);
        }),
      ]));
    return reply as Record<string, unknown>;
  }

  /** Reads until the node's total is `value`. */
  async readUntil(value: number): Promise<void> {
    for (;;) {
      const reply = await this.ask('read');
      assert.equal(reply['type'], 'read_ok', JSON.stringify(reply));
      if (reply['value'] === value) return;
      assert.ok((reply['value'] as number) < value, `read ${JSON.stringify(reply['value'])}, above every add (${value})`);
      await delay(READ_PACING_MS);
    }
  }
}

describe('the example counter as processes', () => {
  test('three TCP nodes take adds at every node and all come to read the same total', { timeout: HUNG_AFTER_MS }, async () => {
    const cluster = await localCluster(3);
    cleanups.push(() => rmSync(cluster.dir, { recursive: true, force: true }));
    const nodes = cluster.ports.map(
      (_, i) => new CounterProcess(startNodeScript(EXAMPLE('tcp.js'), ['--peers', cluster.peersFile, '--id', `n${i + 1}`, '--gossip-ms', '20'], {}, 'pipe')),
    );
    cleanups.push(() => nodes.forEach((n) => n.proc.kill()));
    const adds = [1, 2, 3];
    const answers = await Promise.all(nodes.map((node, i) => node.ask(`add ${adds[i]}`)));
    assert.deepEqual(answers, [{ type: 'add_ok' }, { type: 'add_ok' }, { type: 'add_ok' }]);
    assert.deepEqual(await nodes[0]!.ask('sub 1'), { type: 'error', text: 'expected "add <n>" or "read", got "sub 1"' });
    await Promise.all(nodes.map((node) => node.readUntil(6)));
    for (const node of nodes) node.proc.stdin!.end();
    assert.deepEqual(await Promise.all(nodes.map((node) => node.exited)), [0, 0, 0]);
  });

  test('a bad peers file is one line and exit 2', { timeout: HUNG_AFTER_MS }, async () => {
    const bad = startNodeScript(EXAMPLE('tcp.js'), ['--peers', '/nonexistent/peers.json', '--id', 'n1']);
    const stderr = bad.stderrLines;
    assert.equal(await bad.exited, 2);
    assert.match(stderr[0] ?? '', /^tcp\.js: peers file \/nonexistent\/peers\.json: /);
    assert.ok(!stderr.some((line) => /^\s+at /.test(line)), stderr.join('\n'));
  });

  test('the Maelstrom node passes the harness g-counter checker with partitions', { timeout: 2 * HUNG_AFTER_MS }, async () => {
    const report = await runHarness({
      ...PATIENT,
      workload: 'g-counter',
      bin: process.execPath,
      binArgs: [EXAMPLE('maelstrom.js')],
      nodeCount: 3,
      latencyMs: 10,
      timeLimitMs: 1500,
      rate: 40,
      partition: true,
      nemesisIntervalMs: 300,
      seed: 7,
    });
    cleanups.push(() => rmSync(report.logDir, { recursive: true, force: true }));
    assert.equal(report.valid, true, formatReport(report));
    // Some adds were acknowledged (how many depends on the machine's speed, so only that there were any).
    assert.ok((report.ops.byF['add']?.ok ?? 0) > 0, formatReport(report));
    assert.equal(report.recovery?.endedBy, 'convergence', formatReport(report));
    assert.ok(report.nodes.every((n) => n.exit === 0), JSON.stringify(report.nodes));
  });
});
