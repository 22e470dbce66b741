/**
 * delta-sync's digest anti-entropy (src/replication/delta-sync/digests.ts) and Plumtree mode
 * (src/replication/delta-sync/plumtree.ts), driven by hand.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PNCounter } from '../src/crdt/index.js';
import { antiEntropyRound, onAntiEntropyTimer, onDigest, onRepair } from '../src/replication/delta-sync/digests.js';
import { onInterval } from '../src/replication/delta-sync/intervals.js';
import { checkInvariants } from '../src/replication/delta-sync/invariants.js';
import { observeIncarnation } from '../src/replication/delta-sync/links.js';
import { REPAIRS_BEFORE_GRAFT, onGraft, onPrune } from '../src/replication/delta-sync/plumtree.js';
import { TIMER } from '../src/replication/delta-sync/state.js';
import { A, B, C, D, counterLattice, deltaBytes, envOf, optionsOf, sentTo, stateOf, timers, type Effects } from './delta-sync-fixture.js';

const env = envOf();
const plumtree = optionsOf({ topology: { kind: 'tree', fanout: 1 }, lazy: { kind: 'full' }, antiEntropyMs: 50 });

describe('delta-sync digests', () => {
  it('sends its digest to every other node in turn, neighbour or not, and re-arms', () => {
    const state = stateOf(A, [A, B, C, D], optionsOf({ topology: { kind: 'tree', fanout: 1 }, antiEntropyMs: 50 }));
    const effects: Effects = [];
    for (let k = 0; k < 3; k++) antiEntropyRound(env, state, effects);
    assert.deepEqual([B, C, D].map((n) => sentTo(effects, n).length), [1, 1, 1]);
    onAntiEntropyTimer(env, state, 100, effects);
    assert.equal(sentTo(effects, B).length, 2);
    assert.deepEqual(timers(effects), [{ name: TIMER.antiEntropy, at: 150 }]);
  });

  it('skips a round while every eager neighbour was heard from within the period, and only where that is safe', () => {
    const quiet = { antiEntropyMs: 50, quietWhileLinksLive: true } as const;
    const star = stateOf(A, [A, B, C], optionsOf({ topology: { kind: 'tree', fanout: 2 }, ...quiet }));
    const effects: Effects = [];
    for (const peer of [B, C]) star.links.get(peer)!.heardAt = 60;
    onAntiEntropyTimer(env, star, 100, effects);
    assert.equal(sentTo(effects, B).length + sentTo(effects, C).length, 0);
    assert.equal(star.stats.antiEntropySkipped, 1);
    assert.deepEqual(timers(effects), [{ name: TIMER.antiEntropy, at: 150 }], 'the next round is armed all the same');
    // c went silent (dead, or cut off): rounds run again.
    onAntiEntropyTimer(env, star, 150, effects);
    assert.equal(sentTo(effects, B).length + sentTo(effects, C).length, 1);
    // A full mesh does not relay, and lazy edges are repaired only by digests: neither skips.
    for (const overrides of [{ topology: { kind: 'full' } }, { topology: { kind: 'tree', fanout: 1 }, lazy: { kind: 'full' } }] as const) {
      const state = stateOf(A, [A, B, C], optionsOf({ ...overrides, ...quiet }));
      for (const link of state.links.values()) link.heardAt = 60;
      const out: Effects = [];
      onAntiEntropyTimer(env, state, 100, out);
      assert.equal(sentTo(out, B).length + sentTo(out, C).length, 1, overrides.topology.kind);
    }
  });

  it('repairs what a digest shows missing, and answers with its own when it lacks something', () => {
    const state = stateOf(A, [A, B]);
    state.value.join(new PNCounter().increment('a', 3));
    const theirs = new PNCounter().increment('b', 2);
    const effects: Effects = [];
    onDigest(env, state, state.links.get(B)!, counterLattice.encode(theirs), true, effects);
    const [repair, digest] = sentTo(effects, B);
    assert.ok(repair?.t === 'r' && counterLattice.decode(repair.p).value() === 3);
    assert.ok(digest?.t === 'g' && !digest.reply);
    assert.deepEqual([state.stats.repairsSent, state.stats.digestsSent], [1, 1]);
  });

  it('drops and counts a digest that does not decode', () => {
    const state = stateOf(A, [A, B]);
    const effects: Effects = [];
    onDigest(env, state, state.links.get(B)!, new Uint8Array([0xff]), true, effects);
    assert.equal(state.stats.malformed, 1);
    assert.equal(sentTo(effects, B).length, 0);
  });
});

describe('delta-sync Plumtree mode', () => {
  it(`grafts a lazy edge after ${REPAIRS_BEFORE_GRAFT} repairs in a row over it`, () => {
    const state = stateOf(A, [A, B, C], plumtree);
    const c = state.links.get(C)!;
    assert.equal(c.eager, false);
    observeIncarnation(state, c, 1, 0);
    const effects: Effects = [];
    onRepair(env, state, c, deltaBytes('c', 1), 1, effects);
    assert.equal(c.eager, false);
    onRepair(env, state, c, deltaBytes('c', 1), 2, effects);
    assert.equal(c.repairs, 0, 'a repair of nothing new breaks the run');
    onRepair(env, state, c, deltaBytes('c', 2), 3, effects);
    onRepair(env, state, c, deltaBytes('c', 3), 4, effects);
    assert.ok(c.eager && !c.overlay);
    assert.deepEqual(sentTo(effects, C), [{ t: 'graft', i: 0 }]);
    assert.equal(state.stats.grafts, 1);
    checkInvariants(state);
  });

  it('prunes a grafted edge whose first transmission brought nothing new, but never an overlay edge', () => {
    const state = stateOf(A, [A, B, C], plumtree);
    const c = state.links.get(C)!;
    observeIncarnation(state, c, 1, 0);
    onGraft(state, c, 0);
    assert.ok(c.eager);
    state.value.join(new PNCounter().increment('c', 1));
    const effects: Effects = [];
    const dup = { t: 'd', i: 1, ri: 9, from: 0, to: 1, ack: 0, p: deltaBytes('c', 1), full: false, rx: false } as const;
    onInterval(env, state, c, dup, 1, effects);
    assert.equal(c.eager, false);
    assert.deepEqual(sentTo(effects, C).filter((m) => m.t === 'prune'), [{ t: 'prune', i: 0 }]);
    const b = state.links.get(B)!;
    onPrune(state, b);
    assert.ok(b.eager, 'an edge of the tree stays eager');
    checkInvariants(state);
  });
});
