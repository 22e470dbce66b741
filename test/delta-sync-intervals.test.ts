/** delta-sync's intervals and acknowledgements (src/replication/delta-sync/intervals.ts), driven by hand. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PNCounter } from '../src/crdt/index.js';
import { bufferDelta } from '../src/replication/delta-sync/buffer.js';
import { flush, onAck, onAckTimer, onInterval, scheduleFlush } from '../src/replication/delta-sync/intervals.js';
import { checkInvariants } from '../src/replication/delta-sync/invariants.js';
import { observeIncarnation } from '../src/replication/delta-sync/links.js';
import { TIMER } from '../src/replication/delta-sync/state.js';
import type { IntervalMsg } from '../src/replication/delta-sync/types.js';
import { A, B, C, counterLattice, deltaBytes, envOf, optionsOf, sentTo, stateOf, timers, type Effects } from './delta-sync-fixture.js';

const env = envOf();
const interval = (fields: Partial<IntervalMsg>): IntervalMsg => ({ t: 'd', i: 7, ri: 0, from: 0, to: 1, ack: 0, p: deltaBytes('b', 1), full: false, rx: false, ...fields });

describe('delta-sync intervals', () => {
  it('batches: the first new delta arms the flush timer once; a flush sends each eager neighbour its interval', () => {
    const state = stateOf(A, [A, B, C]);
    const effects: Effects = [];
    bufferDelta(state, new PNCounter().increment('a', 2), null);
    scheduleFlush(env, state, 0, effects);
    bufferDelta(state, new PNCounter().increment('x', 3), null);
    scheduleFlush(env, state, 1, effects);
    assert.deepEqual(timers(effects), [{ name: TIMER.flush, at: 10 }]);
    state.flushArmed = false;
    flush(env, state, 10, effects);
    for (const peer of [B, C]) {
      const [msg] = sentTo(effects, peer);
      assert.ok(msg?.t === 'd' && msg.from === 0 && msg.to === 2 && !msg.full && !msg.rx);
      assert.equal(counterLattice.decode(msg.p).value(), 5);
      assert.equal(state.links.get(peer)!.sentUpTo, 2);
    }
    assert.deepEqual(timers(effects).at(-1), { name: TIMER.retransmit, at: 110 }, 'outstanding intervals arm retransmission');
    checkInvariants(state);
  });

  it("leaves a neighbour's own deltas out of its interval, and skips an interval of nothing else", () => {
    // A star around a, which relays between b and c (a full mesh would not).
    const state = stateOf(A, [A, B, C], optionsOf({ topology: { kind: 'tree', fanout: 2 } }));
    const effects: Effects = [];
    bufferDelta(state, new PNCounter().increment('b', 4), B);
    flush(env, state, 0, effects);
    assert.equal(sentTo(effects, B).length, 0, 'b gets nothing back');
    assert.equal(state.links.get(B)!.skippedFrom, 0);
    assert.equal(state.links.get(B)!.acked, 1, "b's own delta counts as acknowledged");
    const [toC] = sentTo(effects, C);
    assert.ok(toC?.t === 'd' && counterLattice.decode(toC.p).value() === 4);
    // The next interval to b claims the skipped stretch, so b sees no gap.
    bufferDelta(state, new PNCounter().increment('a', 1), null);
    flush(env, state, 1, effects);
    const [toB] = sentTo(effects, B);
    assert.ok(toB?.t === 'd' && toB.from === 0 && toB.to === 2);
    checkInvariants(state);
  });

  it('sends the whole state to a neighbour whose interval left the bounded buffer', () => {
    const state = stateOf(A, [A, B], optionsOf({ maxBufferedDeltas: 2 }));
    for (let k = 0; k < 3; k++) state.value.join(new PNCounter().increment('a', 1));
    for (let k = 0; k < 3; k++) bufferDelta(state, new PNCounter().increment('a', 1), null);
    const effects: Effects = [];
    flush(env, state, 0, effects);
    const [msg] = sentTo(effects, B);
    assert.ok(msg?.t === 'd' && msg.full && msg.from === 0 && msg.to === 3);
    assert.equal(state.stats.fullStatesSent, 1);
  });

  it('acknowledges a contiguous interval after ackDelayMs, and reports a gap at once', () => {
    const state = stateOf(A, [A, B]);
    const link = state.links.get(B)!;
    observeIncarnation(state, link, 7, 0);
    const effects: Effects = [];
    onInterval(env, state, link, interval({ from: 0, to: 1 }), 0, effects);
    assert.equal(link.received, 1);
    assert.ok(link.ackOwed);
    assert.deepEqual(timers(effects).filter((t) => t.name === TIMER.ack), [{ name: TIMER.ack, at: 5 }]);
    assert.ok(effects.some((e) => e.kind === 'output' && e.value === 1), 'the service saw the new delta');
    checkInvariants(state);
    onAckTimer(state, 5, effects);
    assert.deepEqual(sentTo(effects, B).at(-1), { t: 'a', i: 0, ri: 7, ack: 1, gap: false });
    // Interval [2, 3) while we hold up to 1: [1, 2) was lost.
    onInterval(env, state, link, interval({ from: 2, to: 3, p: deltaBytes('b', 5) }), 6, effects);
    assert.deepEqual(sentTo(effects, B).at(-1), { t: 'a', i: 0, ri: 7, ack: 1, gap: true });
    assert.equal(link.received, 1);
    checkInvariants(state);
  });

  it('does not acknowledge an undecodable interval, and counts it', () => {
    const state = stateOf(A, [A, B]);
    const link = state.links.get(B)!;
    observeIncarnation(state, link, 7, 0);
    const effects: Effects = [];
    onInterval(env, state, link, interval({ p: new Uint8Array([0xff, 1, 2]) }), 0, effects);
    assert.equal(link.received, 0);
    assert.equal(state.stats.malformed, 1);
    assert.ok(effects.some((e) => e.kind === 'log'));
  });

  it('takes an acknowledgement as progress, ignores one beyond what was sent, and answers a gap with one resend', () => {
    const state = stateOf(A, [A, B], optionsOf({ flushMs: 0 }));
    const link = state.links.get(B)!;
    const effects: Effects = [];
    for (let k = 0; k < 3; k++) bufferDelta(state, new PNCounter().increment('a', 1), null);
    flush(env, state, 0, effects);
    onAck(env, state, link, 9, false, 1, effects);
    assert.equal(link.acked, 0, 'beyond what we ever sent: ignored');
    onAck(env, state, link, 1, false, 2, effects);
    assert.equal(link.acked, 1);
    assert.equal(state.bufferStart, 1, 'acknowledged deltas are collected');
    const before = sentTo(effects, B).length;
    onAck(env, state, link, 1, true, 3, effects);
    const resent = sentTo(effects, B).slice(before);
    assert.equal(resent.length, 1);
    assert.ok(resent[0]?.t === 'd' && resent[0].from === 1 && resent[0].rx);
    onAck(env, state, link, 1, true, 4, effects);
    assert.equal(sentTo(effects, B).length, before + 1, 'the same gap within a timeout is not answered again');
    checkInvariants(state);
  });

  it('never claims over an interval in flight: after a repeated gap report the claim waits for a resend', () => {
    // a is the hub of a star; b is the neighbour under test. Every interval to b is lost until the last resend.
    const state = stateOf(A, [A, B, C], optionsOf({ topology: { kind: 'tree', fanout: 2 }, flushMs: 0 }));
    const link = state.links.get(B)!;
    const effects: Effects = [];
    const toB = (): IntervalMsg => {
      const msg = sentTo(effects, B).at(-1);
      assert.ok(msg?.t === 'd');
      return msg;
    };
    const own = (now: number): void => {
      bufferDelta(state, new PNCounter().increment('a', 1), null);
      flush(env, state, now, effects);
    };
    // Delta 0 is b's own: skipped, and counted as acknowledged.
    bufferDelta(state, new PNCounter().increment('b', 1), B);
    flush(env, state, 0, effects);
    assert.equal(link.acked, 1);
    own(1); // delta 1: claims from 0, lost
    assert.deepEqual([toB().from, toB().to], [0, 2]);
    own(2); // delta 2, lost
    onAck(env, state, link, 0, true, 3, effects); // b reports the gap: one resend of [1, 3), claiming from 0, lost
    assert.deepEqual([toB().from, toB().to, toB().rx], [0, 3, true]);
    own(4); // delta 3, lost
    onAck(env, state, link, 0, true, 5, effects); // the same gap again, within a timeout: no second resend
    own(6); // delta 4: [1, 4) is in flight and unacknowledged, so it must not be claimed
    assert.deepEqual([toB().from, toB().to], [4, 5]);
    checkInvariants(state);
    // The resend, once the report is news again, claims the whole stretch.
    onAck(env, state, link, 0, true, 5 + state.options.retransmitMs, effects);
    assert.deepEqual([toB().from, toB().to, toB().rx], [0, 5, true]);
    assert.equal(link.skippedFrom, null);
    checkInvariants(state);
  });

  it('waits ackDelayMs per neighbour from its oldest unacknowledged interval: acks that rode on data reset the wait', () => {
    const state = stateOf(A, [A, B, C]);
    observeIncarnation(state, state.links.get(B)!, 7, 0);
    observeIncarnation(state, state.links.get(C)!, 8, 0);
    const effects: Effects = [];
    onInterval(env, state, state.links.get(B)!, interval({ from: 0, to: 1 }), 0, effects);
    onInterval(env, state, state.links.get(C)!, interval({ i: 8, from: 0, to: 1, p: deltaBytes('c', 1) }), 1, effects);
    assert.deepEqual(timers(effects).filter((t) => t.name === TIMER.ack), [{ name: TIMER.ack, at: 5 }]);
    // Our own delta goes to both with their acknowledgements; then b sends again.
    bufferDelta(state, new PNCounter().increment('a', 1), null);
    flush(env, state, 2, effects);
    onInterval(env, state, state.links.get(C)!, interval({ i: 8, from: 1, to: 2, p: deltaBytes('c', 2) }), 2, effects);
    onInterval(env, state, state.links.get(B)!, interval({ from: 1, to: 2, p: deltaBytes('b', 2) }), 4, effects);
    const before = effects.length;
    onAckTimer(state, 5, effects);
    assert.equal(sentTo(effects.slice(before), B).length + sentTo(effects.slice(before), C).length, 0, 'both owed for less than 5 ms');
    assert.deepEqual(timers(effects.slice(before)), [{ name: TIMER.ack, at: 7 }], "c's wait ends first");
    onAckTimer(state, 7, effects);
    assert.deepEqual(sentTo(effects.slice(before), C), [{ t: 'a', i: 0, ri: 8, ack: 2, gap: false }]);
    assert.equal(sentTo(effects.slice(before), B).length, 0);
    checkInvariants(state);
    onAckTimer(state, 9, effects);
    assert.deepEqual(sentTo(effects.slice(before), B), [{ t: 'a', i: 0, ri: 7, ack: 2, gap: false }]);
    checkInvariants(state);
  });

  it('a leaf sends at once with leafFlushMs 0, while the hub batches for flushMs', () => {
    const options = optionsOf({ topology: { kind: 'tree', fanout: 2 }, flushMs: 10, leafFlushMs: 0 });
    const leaf = stateOf(B, [A, B, C], options);
    const hub = stateOf(A, [A, B, C], options);
    for (const state of [leaf, hub]) {
      bufferDelta(state, new PNCounter().increment(state.self, 1), null);
      const effects: Effects = [];
      scheduleFlush(env, state, 0, effects);
      if (state === leaf) assert.equal(sentTo(effects, A).length, 1, 'the leaf sent to its hub at once');
      else assert.deepEqual(timers(effects), [{ name: TIMER.flush, at: 10 }], 'the hub waits');
      checkInvariants(state);
    }
  });
});
