/**
 * txn-rw-register against real `chatterbox maelstrom` processes: through the `chatterbox harness` command under
 * partitions, and through the harness library on a whole network. Every wait is for an event (a reply, an exit),
 * bounded only by HUNG_AFTER_MS; correctness itself is proved in the simulator (test/txn.test.ts).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { harnessArgsFromOptions } from '../../src/cli/harness-command.js';
import { formatReport } from '../../src/harness/format.js';
import { resolveHarnessOptions, runHarness } from '../../src/harness/runner.js';
import type { Report } from '../../src/harness/types.js';
import { PATIENT } from './helpers/harness.js';
import { HUNG_AFTER_MS, MAIN } from './helpers/processes.js';

const logDirs: string[] = [];
after(() => {
  for (const dir of logDirs) rmSync(dir, { recursive: true, force: true });
});

test('--consistency-models: a comma-separated list of known models; Maelstrom\'s strict-serializable by default', () => {
  const args = harnessArgsFromOptions({ workload: 'txn-rw-register', consistencyModels: 'read-uncommitted , read-committed' }, []);
  assert.deepEqual(args.input.consistencyModels, ['read-uncommitted', 'read-committed']);
  assert.deepEqual(resolveHarnessOptions({ workload: 'txn-rw-register' }).consistencyModels, ['strict-serializable']);
  assert.throws(() => harnessArgsFromOptions({ workload: 'txn-rw-register', consistencyModels: 'causal' }, []), /--consistency-models: expected one of read-uncommitted, read-committed, serializable, strict-serializable, got "causal"/);
});

test("--availability: total or a fraction, as Maelstrom's availability checker", () => {
  assert.equal(harnessArgsFromOptions({ workload: 'unique-ids', availability: 'total' }, []).input.availability, 'total');
  assert.equal(harnessArgsFromOptions({ workload: 'unique-ids', availability: '0.99' }, []).input.availability, 0.99);
  assert.equal(resolveHarnessOptions({ workload: 'unique-ids' }).availability, null);
  for (const bad of ['all', '1.5', '-0.1', '']) assert.throws(() => harnessArgsFromOptions({ workload: 'unique-ids', availability: bad }, []), /--availability: expected total or a fraction/);
});

// One run at a time (node:test's default): each starts its own processes, and the file runs alone (tools/run-tests.mjs).
describe('txn-rw-register: chatterbox maelstrom under the harness', () => {
  test('chatterbox harness, read committed, under partitions (Gossip Glomers 6c at small scale): exit 0, valid', async () => {
    const logDir = mkdtempSync(join(tmpdir(), 'chatterbox-txn-'));
    logDirs.push(logDir);
    const { code, stdout, stderr } = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile(
        process.execPath,
        [
          MAIN, 'harness', '-w', 'txn-rw-register', '--node-count', '2', '--concurrency', '4', '--time-limit', '2', '--rate', '200',
          '--latency', '10', '--nemesis', 'partition', '--availability', 'total', '--nemesis-interval', '0.4', '--consistency-models', 'read-committed',
          '--seed', '6', '--json', '--log-dir', logDir,
          '--init-timeout', String(HUNG_AFTER_MS / 1000), '--timeout', String(HUNG_AFTER_MS),
        ],
        { timeout: 3 * HUNG_AFTER_MS },
        (error, stdout, stderr) => resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : -1, stdout, stderr }),
      );
    });
    assert.equal(code, 0, stderr + stdout);
    const r = JSON.parse(stdout) as Report;
    assert.equal(r.valid, true, formatReport(r));
    assert.deepEqual(r.config.consistencyModels, ['read-committed']);
    assert.equal(r.config.availability, 'total');
    assert.ok(r.check?.kind === 'txn' && r.check.verdict === 'valid', formatReport(r));
    assert.ok(r.check.txns.ok > 100 && r.check.edges.wr > 0, formatReport(r));
    assert.ok((r.nemesis?.partitions.length ?? 0) > 0, 'the nemesis partitioned the network');
    // Totally available: nothing failed, nothing timed out, partitions or not.
    assert.equal(r.ops.ok, r.ops.total, formatReport(r));
    assert.equal(r.recovery, null, 'no final reads in this workload, as in Maelstrom');
  });

  test('the harness library, read uncommitted and read committed, whole network, 3 nodes: valid, transactions replicated', async () => {
    const r: Report = await runHarness({
      ...PATIENT,
      workload: 'txn-rw-register',
      nodeCount: 3,
      concurrency: 6,
      latencyMs: 5,
      timeLimitMs: 1500,
      rate: 200,
      seed: 12,
      consistencyModels: ['read-uncommitted', 'read-committed'],
    });
    logDirs.push(r.logDir);
    assert.equal(r.valid, true, formatReport(r));
    assert.ok(r.check?.kind === 'txn' && r.check.edges.wr > 0 && r.net.serverMessages > 0, formatReport(r));
    assert.ok(r.nodes.every((n) => n.exit === 0), JSON.stringify(r.nodes));
  });
});
