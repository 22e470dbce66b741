/**
 * Every replicated Maelstrom workload of `chatterbox maelstrom`, run by the bundled harness against real node
 * processes, with and without partitions, as Maelstrom's checkers judge them.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, describe, test } from 'node:test';
import { formatReport } from '../../src/harness/format.js';
import { runHarness } from '../../src/harness/runner.js';
import type { Report } from '../../src/harness/types.js';
import { PATIENT } from './helpers/harness.js';

const logDirs: string[] = [];
after(() => {
  for (const dir of logDirs) rmSync(dir, { recursive: true, force: true });
});

const WORKLOADS = ['broadcast', 'g-set', 'g-counter', 'pn-counter'] as const;

// One run at a time (node:test's default): each starts its own processes, and the file runs alone (tools/run-tests.mjs).
describe('chatterbox maelstrom under the harness', () => {
  WORKLOADS.forEach((workload, i) => {
    for (const partition of [false, true]) {
      // Alternate the presets so both are exercised on every kind of lattice.
      const preset = (i + (partition ? 1 : 0)) % 2 === 0 ? 'latency' : 'messages';
      test(`${workload}, ${preset} preset, ${partition ? 'with' : 'without'} partitions: valid`, async () => {
        const report: Report = await runHarness({
          ...PATIENT,
          workload,
          nodeCount: 3,
          latencyMs: 10,
          timeLimitMs: 1500,
          rate: 40,
          partition,
          nemesisIntervalMs: 300,
          seed: 11 + i,
          binArgs: ['--preset', preset],
        });
        logDirs.push(report.logDir);
        assert.equal(report.valid, true, formatReport(report));
        const writes = report.ops.byF[workload === 'broadcast' ? 'broadcast' : 'add'];
        assert.ok(writes !== undefined && writes.ok > 10, formatReport(report));
        if (partition) assert.ok(report.net.droppedByPartition > 0, 'the nemesis cut something');
        assert.equal(report.recovery?.endedBy, 'convergence', formatReport(report));
        assert.ok(report.nodes.every((n) => n.exit === 0), JSON.stringify(report.nodes));
      });
    }
  });
});
