/**
 * The example counter (examples/counter/, written only against the public exports) under the simulator: valid
 * over many seeds by Maelstrom's g-counter checker, and two deliberate bugs that the same sweep must catch
 * in-process, naming a seed: one that never merges what peers send, and one that a crash and restart expose.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Workload } from '../src/maelstrom/service.js';
import { nodeId } from '../src/core/ids.js';
import { counter, counterWorkload, type CounterState } from '../examples/counter/counter.js';
import { sweepCounter } from '../examples/counter/sim.js';

const SEEDS = 200;

function variant(protocol: Partial<typeof counter>): Workload {
  return { ...counterWorkload, protocol: { ...counter, ...protocol } };
}

test(`the example counter passes the g-counter checker under drawn faults, ${SEEDS} seeds`, () => {
  const sweep = sweepCounter(1, SEEDS);
  assert.equal(sweep.runs, SEEDS);
  assert.deepEqual(sweep.failures, []);
});

test('a counter that ignores its peers fails in-process, with the seed that shows it', () => {
  const deaf = variant({ step: (state, input, now) => (input.kind === 'receive' ? [] : counter.step(state, input, now)) });
  const sweep = sweepCounter(1, SEEDS, deaf);
  const first = sweep.failures[0];
  assert.ok(first !== undefined, 'the sweep missed a counter that never merges');
  assert.match(first.problems.join('\n'), /final read/);
});

test('a counter that reuses its entry after a restart fails once a seed crashes a node', () => {
  // The bug the module comment of counter.ts explains: a restarted node counting from 0 under its old entry.
  const forgetful = variant({
    init(ctx) {
      const { effects } = counter.init(ctx);
      const state: CounterState = { peers: ctx.nodes.filter((n) => n !== ctx.self), entry: ctx.self, counts: new Map([[ctx.self, 0]]), gossipMs: ctx.options.gossipMs };
      return { state, effects };
    },
  });
  const sweep = sweepCounter(1, SEEDS, forgetful);
  assert.ok(sweep.failures.length > 0, `no seed of ${SEEDS} exposed the reused entry`);
});

test("the counter's invariants name a broken state", () => {
  const { state } = counter.init({ self: nodeId('n1'), nodes: [nodeId('n1')], options: { gossipMs: 10 }, now: 0, startedAtMs: 0, restored: new Map() });
  counter.invariants(state);
  state.counts.delete(state.entry);
  assert.throws(() => counter.invariants(state), /own entry is missing/);
});

test('the counter guard refuses malformed and oversized messages', () => {
  assert.ok(counter.isMessage({ t: 'counts', counts: [['n1@0', 3]] }));
  for (const bad of [null, {}, { t: 'counts', counts: [['n1@0', -1]] }, { t: 'counts', counts: [['n1@0', 1.5]] }, { t: 'counts', counts: [[1, 1]] }, { t: 'counts', counts: [['x'.repeat(10_000), 1]] }]) {
    assert.equal(counter.isMessage(bad), false, JSON.stringify(bad).slice(0, 80));
  }
});
