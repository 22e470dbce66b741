/** `setMembers` (delta-sync/members.ts): a member set that changes under a running replica. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bufferDelta } from '../src/replication/delta-sync/buffer.js';
import { checkInvariants } from '../src/replication/delta-sync/invariants.js';
import { setMembers } from '../src/replication/delta-sync/members.js';
import { A, B, C, D, counterLattice, envOf, optionsOf, sentTo, stateOf, type Effects } from './delta-sync-fixture.js';
import { PNCounter } from '../src/crdt/index.js';

describe('delta-sync over a changing member set', () => {
  it('a gone member loses its link and names no buffered delta; the invariants hold', () => {
    const state = stateOf(A, [A, B, C], optionsOf({ topology: { kind: 'regular', degree: 2 } }));
    bufferDelta(state, new PNCounter().increment('c', 1), C);
    assert.ok(state.links.has(C));
    const effects: Effects = [];
    setMembers(envOf(), state, [A, B], 10, effects);
    assert.deepEqual([...state.links.keys()], [B]);
    assert.deepEqual([...state.members].sort(), [A, B]);
    assert.equal(state.buffer.get(0)!.from, null, "C's relayed delta is now ours to deliver");
    checkInvariants(state, counterLattice);
  });

  it('a new member gets a fresh link and is sent what the buffer holds (the whole state when the buffer no longer reaches back)', () => {
    const state = stateOf(A, [A, B], optionsOf({ flushMs: 0, maxBufferedDeltas: 2 }));
    for (let k = 1; k <= 3; k++) bufferDelta(state, state.value.increment('a', k), null);
    const effects: Effects = [];
    setMembers(envOf(), state, [B, A, D], 10, effects);
    const toD = sentTo(effects, D);
    assert.equal(toD.length, 1);
    const msg = toD[0]!;
    assert.ok(msg.t === 'd' && msg.full, 'the evicted front makes it the full state');
    assert.equal(counterLattice.decode(msg.p).value(), 6);
    checkInvariants(state, counterLattice);
  });

  it('the same set in another order changes nothing', () => {
    const state = stateOf(A, [A, B, C]);
    const effects: Effects = [];
    setMembers(envOf(), state, [C, B, A], 10, effects);
    assert.deepEqual(effects, []);
  });
});
