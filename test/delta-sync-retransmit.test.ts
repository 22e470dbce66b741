/** delta-sync's retransmission (src/replication/delta-sync/retransmit.ts), driven by hand. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PNCounter } from '../src/crdt/index.js';
import { bufferDelta } from '../src/replication/delta-sync/buffer.js';
import { flush } from '../src/replication/delta-sync/intervals.js';
import { checkInvariants } from '../src/replication/delta-sync/invariants.js';
import { observeIncarnation, startGreeting } from '../src/replication/delta-sync/links.js';
import { armRetransmit, resumeIfBackedOff, retransmitStalled } from '../src/replication/delta-sync/retransmit.js';
import { TIMER } from '../src/replication/delta-sync/state.js';
import { A, B, C, envOf, sentTo, stateOf, timers, type Effects } from './delta-sync-fixture.js';

const env = envOf();

describe('delta-sync retransmission', () => {
  it('arms one timer for the earliest stalled link, and not again for a later one', () => {
    const state = stateOf(A, [A, B, C]);
    const b = state.links.get(B)!;
    const c = state.links.get(C)!;
    b.sentUpTo = c.sentUpTo = 0;
    bufferDelta(state, new PNCounter().increment('a', 1), null);
    b.sentUpTo = c.sentUpTo = 1;
    b.progressAt = 50;
    c.progressAt = 20;
    const effects: Effects = [];
    armRetransmit(state, 30, effects);
    assert.deepEqual(timers(effects), [{ name: TIMER.retransmit, at: 120 }]);
    armRetransmit(state, 31, effects);
    assert.equal(timers(effects).length, 1, 'already armed as early');
  });

  it('rewinds a link whose timeout passed to its acknowledgement and doubles the timeout, up to the cap', () => {
    const state = stateOf(A, [A, B]);
    const link = state.links.get(B)!;
    bufferDelta(state, new PNCounter().increment('a', 1), null);
    const effects: Effects = [];
    flush(env, state, 0, effects);
    assert.equal(retransmitStalled(state, 99, effects), false, 'not due yet: re-armed instead');
    assert.equal(state.retransmitAt, 100);
    const rtos: number[] = [];
    for (let round = 0; round < 4; round++) {
      const now = link.progressAt + link.rtoMs;
      assert.equal(retransmitStalled(state, now, effects), true);
      assert.ok(link.retransmitting && link.sentUpTo === 0);
      rtos.push(link.rtoMs);
      flush(env, state, now, effects);
      const last = sentTo(effects, B).at(-1);
      assert.ok(last?.t === 'd' && last.rx, 'marked as a retransmission');
    }
    assert.deepEqual(rtos, [200, 400, 400, 400]);
    assert.equal(state.stats.retransmissions, 4);
    checkInvariants(state);
  });

  it('resends at once, at the base timeout, to a backed-off neighbour heard from again', () => {
    const state = stateOf(A, [A, B]);
    const link = state.links.get(B)!;
    bufferDelta(state, new PNCounter().increment('a', 1), null);
    flush(env, state, 0, []);
    assert.equal(resumeIfBackedOff(state, link, 10), false, 'not backed off');
    retransmitStalled(state, 100, []);
    flush(env, state, 100, []);
    assert.equal(link.rtoMs, 200);
    assert.equal(resumeIfBackedOff(state, link, 150), true);
    assert.deepEqual([link.sentUpTo, link.rtoMs, link.retransmitting], [0, 100, true]);
  });

  it('greets a silent neighbour again on the retransmission schedule until it is heard from', () => {
    const state = stateOf(A, [A, B, C]);
    const effects: Effects = [];
    startGreeting(state, effects);
    armRetransmit(state, 0, effects);
    assert.equal(state.retransmitAt, 100);
    observeIncarnation(state, state.links.get(B)!, 5, 50);
    const again: Effects = [];
    assert.equal(retransmitStalled(state, 100, again), false);
    assert.equal(sentTo(again, B).length, 0, 'b was heard from');
    assert.deepEqual(sentTo(again, C), [{ t: 'a', i: 0, ri: 0, ack: 0, gap: false }]);
    assert.equal(state.links.get(C)!.rtoMs, 200);
    assert.deepEqual(timers(again), [{ name: TIMER.retransmit, at: 300 }]);
  });
});
