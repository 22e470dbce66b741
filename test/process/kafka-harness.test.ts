/**
 * The kafka workload through the harness's process backend (`chatterbox harness -w kafka --bin …`): the sequencer
 * fixture node (test/fixtures/kafka-sequencer.ts) as three real processes, judged valid by the kafka checker after
 * the final polls; and the node with a lost-send bug judged invalid. Every wait is for an event (a reply, the final
 * polls catching up), bounded only by HUNG_AFTER_MS.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { after, describe, test } from 'node:test';
import { formatReport } from '../../src/harness/format.js';
import { runHarness } from '../../src/harness/runner.js';
import type { HarnessInput } from '../../src/harness/runner.js';
import { PATIENT } from './helpers/harness.js';
import { HUNG_AFTER_MS } from './helpers/processes.js';

const NODE = fileURLToPath(new URL('../fixtures/kafka-sequencer-node.js', import.meta.url));

const cleanups: Array<() => void> = [];
after(() => {
  for (const cleanup of cleanups) cleanup();
});

function run(binArgs: readonly string[]): ReturnType<typeof runHarness> {
  const input: HarnessInput = {
    ...PATIENT,
    // No nemesis, and this node replicates nothing: nothing to recover from before the final polls.
    recoveryMs: 0,
    workload: 'kafka',
    bin: process.execPath,
    binArgs: [NODE, ...binArgs],
    nodeCount: 3,
    latencyMs: 5,
    timeLimitMs: 1500,
    rate: 60,
    seed: 12,
  };
  return runHarness(input);
}

describe('kafka through the harness, as processes', () => {
  test('the sequencer node is valid, with every acknowledged send polled by the final polls', { timeout: 2 * HUNG_AFTER_MS }, async () => {
    const report = await run([]);
    cleanups.push(() => rmSync(report.logDir, { recursive: true, force: true }));
    assert.equal(report.valid, true, formatReport(report));
    assert.ok(report.check?.kind === 'kafka' && report.check.sends.acknowledged > 0, formatReport(report));
    assert.ok((report.ops.byF['poll']?.ok ?? 0) > 0, formatReport(report));
    assert.ok(report.nodes.every((n) => n.exit === 0), JSON.stringify(report.nodes));
  });

  test('the node that loses acknowledged sends is invalid', { timeout: 2 * HUNG_AFTER_MS }, async () => {
    const report = await run(['--bug', 'lose-send']);
    cleanups.push(() => rmSync(report.logDir, { recursive: true, force: true }));
    assert.equal(report.valid, false, formatReport(report));
    assert.ok(report.problems.some((p) => p.startsWith('unseen:')), formatReport(report));
  });
});
