/** delta-sync's delta buffer (src/replication/delta-sync/buffer.ts), driven by hand. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PNCounter } from '../src/crdt/index.js';
import { bufferDelta, collectGarbage, forgetSource, ownDeltasAcknowledged, skipOwnEntries } from '../src/replication/delta-sync/buffer.js';
import { checkInvariants } from '../src/replication/delta-sync/invariants.js';
import { nextSeq } from '../src/replication/delta-sync/state.js';
import { A, B, C, optionsOf, stateOf } from './delta-sync-fixture.js';

const d = (n: number) => new PNCounter().increment('x', n);

describe('delta-sync buffer', () => {
  it('keeps at most maxBufferedDeltas, dropping the oldest and counting it', () => {
    const state = stateOf(A, [A, B], optionsOf({ maxBufferedDeltas: 3 }));
    for (let k = 1; k <= 5; k++) bufferDelta(state, d(k), null);
    assert.equal(state.buffer.length, 3);
    assert.equal(state.bufferStart, 2);
    assert.equal(nextSeq(state), 5);
    assert.equal(state.stats.droppedForBound, 2);
    assert.deepEqual([...state.buffer].map((e) => e.delta.value()), [3, 4, 5]);
    checkInvariants(state);
  });

  it('collects what every eager neighbour acknowledged; lazy neighbours hold nothing back', () => {
    const state = stateOf(A, [A, B, C], optionsOf({ topology: { kind: 'tree', fanout: 1 } }));
    // A line a - b - c: a's only neighbour is b. Make c a lazy link that acknowledged nothing.
    state.links.set(C, { ...state.links.get(B)!, peer: C, eager: false, overlay: false });
    for (let k = 1; k <= 4; k++) bufferDelta(state, d(k), null);
    const b = state.links.get(B)!;
    b.sentUpTo = 4;
    b.acked = 3;
    collectGarbage(state);
    assert.equal(state.bufferStart, 3);
    assert.equal(state.buffer.length, 1);
    checkInvariants(state);
  });

  it("counts a neighbour's own deltas as acknowledged by it, up to what was sent", () => {
    const state = stateOf(A, [A, B, C]);
    bufferDelta(state, d(1), B);
    bufferDelta(state, d(2), B);
    bufferDelta(state, d(3), C);
    bufferDelta(state, d(4), B);
    const b = state.links.get(B)!;
    b.sentUpTo = 4;
    skipOwnEntries(state, b);
    assert.equal(b.acked, 2, 'stops at the first delta from elsewhere');
  });

  it("waits for every eager neighbour to acknowledge this replica's own deltas, not the ones it relays", () => {
    // A relaying overlay (every node linked in a triangle): received deltas are buffered too.
    const state = stateOf(A, [A, B, C], optionsOf({ topology: { kind: 'regular', degree: 2 } }));
    assert.equal(state.links.size, 2);
    assert.equal(ownDeltasAcknowledged(state), true, 'nothing of its own pending');
    bufferDelta(state, d(1), null);
    bufferDelta(state, d(2), B); // relayed: not ours to wait for
    const [b, c] = [state.links.get(B)!, state.links.get(C)!];
    b.sentUpTo = c.sentUpTo = 2;
    b.acked = 1;
    assert.equal(ownDeltasAcknowledged(state), false, 'c has not acknowledged our delta');
    c.acked = 1;
    assert.equal(ownDeltasAcknowledged(state), true, 'both hold our delta; the relayed one does not count');
    c.eager = false;
    c.overlay = false;
    c.acked = 0;
    assert.equal(ownDeltasAcknowledged(state), true, 'a lazy neighbour is repaired by digests, not waited for');
    checkInvariants(state);
  });

  it('still waits for its own deltas after the bound evicted them, until the neighbour catches up', () => {
    // A relaying overlay, so received deltas are buffered too.
    const state = stateOf(A, [A, B, C], optionsOf({ maxBufferedDeltas: 2, topology: { kind: 'regular', degree: 2 } }));
    const [b, c] = [state.links.get(B)!, state.links.get(C)!];
    bufferDelta(state, d(1), null);
    bufferDelta(state, d(2), B);
    bufferDelta(state, d(3), B); // evicts our own delta 0: only the full state carries it now
    assert.deepEqual([state.bufferStart, state.ownEvictedBelow], [1, 1]);
    b.sentUpTo = c.sentUpTo = 3;
    c.acked = 3;
    b.acked = 0;
    assert.equal(ownDeltasAcknowledged(state), false, 'b lacks our evicted delta');
    b.acked = 1;
    assert.equal(ownDeltasAcknowledged(state), true, 'b holds it (by the full state)');
    bufferDelta(state, d(4), B); // evicts a relayed delta: nothing of ours
    assert.deepEqual([state.bufferStart, state.ownEvictedBelow], [2, 1]);
    checkInvariants(state);
  });

  it("forgets where a restarted neighbour's deltas came from, so they are sent back to it", () => {
    const state = stateOf(A, [A, B, C]);
    bufferDelta(state, d(1), B);
    bufferDelta(state, d(2), C);
    forgetSource(state, B);
    assert.deepEqual([...state.buffer].map((e) => e.from), [null, C]);
  });
});
