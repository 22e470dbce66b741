/**
 * The shipped consensus and transaction workloads (`chatterbox maelstrom` for lin-kv, kafka, txn-rw-register) as
 * real processes through the harness's process backend: for each, one run without a nemesis and one with partition,
 * kill and pause together, the nodes on their own data dirs (so that a killed Raft node keeps its term, vote and
 * log, and a killed txn node its acknowledged writes). Each run must be valid: invalid is a bug, and unknown is not
 * accepted either — the runs are long enough and the nemesis sparse enough that every kind of operation succeeds.
 * The simulator proves the same properties over many schedules (raft-sim, lin-kv-sim, kafka-harness, txn, maelstrom-sim);
 * these smoke runs show what only processes show: JSON lines, kills of a process on its SQLite store, SIGSTOP.
 *
 * One harness run at a time. Every wait is for an event: each request waits for its answer (bounded only by
 * HUNG_AFTER_MS), the recovery for convergence; a client whose request is lost to a kill is told so by the harness.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { formatReport } from '../../src/harness/format.js';
import { runHarness, type HarnessInput } from '../../src/harness/runner.js';
import type { Report } from '../../src/harness/types.js';
import { PATIENT } from './helpers/harness.js';
import { HUNG_AFTER_MS } from './helpers/processes.js';

const scratch: string[] = [];
after(() => {
  for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'chatterbox-matrix-test-'));
  scratch.push(dir);
  return dir;
}

const WORKLOADS = ['lin-kv', 'kafka', 'txn-rw-register'] as const;

/**
 * Three nodes, modest rate. The nemesis interval leaves a Raft cluster time to elect a leader between faults (its
 * election timeout is 600-1200 ms) while still landing several faults in each run.
 */
const SMALL = { ...PATIENT, nodeCount: 3, rate: 30, latencyMs: 5, seed: 12 } as const;
const CLEAN = { ...SMALL, timeLimitMs: 3000 } as const;
const FAULTY = { ...SMALL, timeLimitMs: 6000, nemesisIntervalMs: 1500, partition: true, kill: true, pause: true } as const;

/**
 * Per workload. kafka makes no probe reads, so a recovery wait could only end by the clock; its final polls are
 * the wait instead (every node polls until each key's highest acknowledged offset shows, Maelstrom's 10 s clip as
 * the hang bound; polls read the local replica, which catches up within heartbeats of the final heal). Jepsen's
 * kafka clients list committed offsets on 1 operation in 64 (`sub-p`), and a run in which none of those succeeded
 * is undecided (Jepsen's stats checker): kafka runs twice the rate, and the faulty one longer, so that several are
 * drawn and a kill cannot fail them all. The txn node promises read committed (Gossip Glomers 6b/6c), not the
 * harness's default strict serializability.
 */
function forWorkload(workload: (typeof WORKLOADS)[number], faulty: boolean): HarnessInput {
  if (workload === 'kafka') return { workload, recoveryMs: 0, rate: 60, ...(faulty ? { timeLimitMs: 8000 } : {}) };
  if (workload === 'txn-rw-register') return { workload, consistencyModels: ['read-committed'] };
  return { workload };
}

async function run(input: HarnessInput): Promise<Report> {
  const r = await runHarness(input);
  scratch.push(r.logDir);
  return r;
}

/** Valid, decided, and every kind of operation the workload makes succeeded at least once. */
function assertValid(r: Report): void {
  assert.equal(r.valid, true, formatReport(r));
  assert.equal(r.unknown, false, formatReport(r));
  assert.ok(r.ops.ok > 0, formatReport(r));
  assert.ok(r.nodes.every((n) => n.exit === 0), JSON.stringify(r.nodes));
}

describe('the shipped lin-kv, kafka and txn-rw-register nodes as processes under the harness', { timeout: 10 * HUNG_AFTER_MS }, () => {
  for (const workload of WORKLOADS) {
    test(`${workload}: valid without a nemesis`, async () => {
      const r = await run({ ...CLEAN, ...forWorkload(workload, false) });
      assertValid(r);
      assert.equal(r.nemesis, null, formatReport(r));
    });

    test(`${workload}: valid under partition, kill and pause together, each node on its data dir`, async () => {
      const r = await run({ ...FAULTY, ...forWorkload(workload, true), nodeDataDir: tempDir() });
      assertValid(r);
      assert.deepEqual(r.config.nemesis, ['partition', 'kill', 'pause']);
      // The seed's schedule kills a node mid-run: it restarts on its store and must keep its promises.
      const kills = (r.nemesis?.processes ?? []).filter((e) => e.kind === 'kill');
      assert.ok(kills.length > 0 && kills.every((k) => k.initOkMs !== null && k.initOkMs !== undefined), formatReport(r));
      assert.ok((r.nemesis?.partitions.length ?? 0) > 0, formatReport(r));
      // Every shipped workload persists what it acknowledges (Raft its log, txn its registers) on the data dir, so
      // the killed node's earlier answers stay definite.
      const forgotten = readFileSync(join(r.logDir, 'history.jsonl'), 'utf8')
        .trim()
        .split('\n')
        .filter((line) => /crashed later/.test(line));
      assert.deepEqual(forgotten, [], formatReport(r));
    });
  }
});
