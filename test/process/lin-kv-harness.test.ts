/**
 * `chatterbox harness -w lin-kv --bin` against the fixture nodes as real processes (test/fixtures/lin-kv-node.ts):
 * the single-leader node is linearizable (exit 0), the follower-read node is not (exit 1, the witness in the
 * report). Smoke runs of what only processes show (the JSON lines, the CLI, exit statuses); the simulator
 * (test/lin-kv-sim.test.ts) proves the verdicts over many schedules. Every wait is for an event: each request
 * waits for its answer (bounded only by HUNG_AFTER_MS), the test for the harness's exit.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { after, describe, test } from 'node:test';
import type { Report } from '../../src/harness/types.js';
import { HUNG_AFTER_MS, startChatterbox } from './helpers/processes.js';

const NODE = fileURLToPath(new URL('../fixtures/lin-kv-node.js', import.meta.url));

const cleanups: Array<() => void> = [];
after(() => {
  for (const cleanup of cleanups) cleanup();
});

async function harness(nodeArgs: readonly string[]): Promise<{ code: number | string; report: Report; stderr: string }> {
  const run = startChatterbox([
    'harness', '-w', 'lin-kv', '--node-count', '3', '--time-limit', '3', '--rate', '50', '--latency', '5', '--seed', '4', '--json',
    '--init-timeout', String(HUNG_AFTER_MS / 1000), '--timeout', String(HUNG_AFTER_MS),
    '--bin', process.execPath, '--', NODE, ...nodeArgs,
  ]);
  const code = await run.exited;
  const report = JSON.parse(run.stdoutLines.join('\n')) as Report;
  cleanups.push(() => rmSync(report.logDir, { recursive: true, force: true }));
  return { code, report, stderr: run.stderrLines.join('\n') };
}

describe('chatterbox harness -w lin-kv with fixture nodes', () => {
  test('a single-leader node is linearizable: exit 0', { timeout: 3 * HUNG_AFTER_MS }, async () => {
    const { code, report, stderr } = await harness([]);
    assert.equal(code, 0, `${stderr}\n${report.problems.join('\n')}`);
    assert.equal(report.valid, true);
    assert.equal(report.unknown, false);
    assert.ok(report.check?.kind === 'lin-kv' && report.check.valid === true && report.check.ops > 0, JSON.stringify(report.check));
    assert.equal(report.config.concurrency, 6, 'lin-kv clients default to 2n');
    assert.equal(report.recovery, null, 'no recovery wait and no final reads');
    assert.ok((report.ops.byF['write']?.ok ?? 0) > 0 && (report.ops.byF['read']?.ok ?? 0) > 0, JSON.stringify(report.ops));
  });

  test('a node that serves follower reads is not: exit 1, with the stale read named', { timeout: 3 * HUNG_AFTER_MS }, async () => {
    const { code, report, stderr } = await harness(['--follower-reads']);
    assert.equal(code, 1, stderr);
    assert.equal(report.valid, false);
    assert.ok(report.check?.kind === 'lin-kv' && report.check.valid === false, JSON.stringify(report.check));
    assert.ok(report.problems.some((p) => /^key \d+ is not linearizable: after \d+ of its \d+ operations, #\d+ .* cannot take effect/.test(p)), report.problems.join('\n'));
  });
});
