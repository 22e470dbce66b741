/** delta-sync's links (src/replication/delta-sync/links.ts): overlays, the bound on links, incarnations, greeting. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { nodeId } from '../src/core/ids.js';
import { PNCounter } from '../src/crdt/index.js';
import { bufferDelta } from '../src/replication/delta-sync/buffer.js';
import { checkInvariants } from '../src/replication/delta-sync/invariants.js';
import { applyOverlay, awaitsGreeting, linkFor, observeIncarnation, startGreeting } from '../src/replication/delta-sync/links.js';
import { maxLinks } from '../src/replication/delta-sync/state.js';
import { A, B, C, D, optionsOf, sentTo, stateOf, type Effects } from './delta-sync-fixture.js';

describe('delta-sync links', () => {
  it('links eager neighbours from the eager overlay and lazy ones from the rest of the lazy overlay', () => {
    const state = stateOf(A, [A, B, C, D], optionsOf({ topology: { kind: 'tree', fanout: 1 }, lazy: { kind: 'full' } }));
    // A line a - b - c - d: a's eager neighbour is b; c and d are lazy.
    assert.deepEqual([...state.links.values()].map((l) => [l.peer, l.eager, l.overlay]).sort(), [[B, true, true], [C, false, false], [D, false, false]]);
    checkInvariants(state);
  });

  it('keeps the state of links that stay when the overlay changes, and drops the others', () => {
    const state = stateOf(A, [A, B, C], optionsOf({ topology: { kind: 'given', neighbours: { a: ['b'] } } }));
    state.links.get(B)!.received = 7;
    applyOverlay(state, { kind: 'given', neighbours: { a: ['b', 'c'] } }, 5);
    assert.equal(state.links.get(B)!.received, 7);
    assert.equal(state.links.get(C)!.eager, true);
    applyOverlay(state, { kind: 'given', neighbours: { a: ['c'] } }, 6);
    assert.deepEqual([...state.links.keys()], [C]);
  });

  it('adopts another member as a lazy link, and drops (counting, logging at powers of two) a stranger or itself', () => {
    const state = stateOf(A, [A, B, C], optionsOf({ topology: { kind: 'given', neighbours: {} } }));
    assert.equal(state.links.size, 0);
    const effects: Effects = [];
    const adopted = linkFor(state, B, 0, effects);
    assert.ok(adopted !== null && !adopted.eager && !adopted.overlay);
    assert.equal(linkFor(state, B, 0, effects), adopted);
    for (let k = 0; k < 9; k++) assert.equal(linkFor(state, nodeId(`x${k}`), 0, effects), null);
    assert.equal(linkFor(state, A, 0, effects), null);
    assert.equal(state.stats.strangersDropped, 10);
    assert.equal(effects.filter((e) => e.kind === 'log').length, 4, 'logged at the 1st, 2nd, 4th and 8th drop');
    assert.ok(state.links.size <= maxLinks(state));
    checkInvariants(state);
  });

  it('tells first contact, the same incarnation, a stale one and a restart apart; a restart starts the link afresh', () => {
    const state = stateOf(A, [A, B]);
    const link = state.links.get(B)!;
    assert.equal(observeIncarnation(state, link, 100, 0), 'first');
    assert.equal(observeIncarnation(state, link, 100, 0), 'known');
    bufferDelta(state, new PNCounter().increment('b', 1), B);
    link.sentUpTo = 1;
    link.acked = 1;
    link.received = 4;
    assert.equal(observeIncarnation(state, link, 50, 0), 'stale');
    assert.equal(link.received, 4, 'a stale message changes nothing');
    assert.equal(observeIncarnation(state, link, 200, 9), 'restarted');
    assert.equal(link.incarnation, 200);
    assert.deepEqual([link.sentUpTo, link.acked, link.received, link.progressAt], [0, 0, 0, 9]);
    assert.equal(state.buffer.get(0)!.from, null, 'what its old incarnation sent is no longer left out for it');
    checkInvariants(state);
  });

  it('greets every eager neighbour until each is heard from', () => {
    const state = stateOf(A, [A, B, C]);
    const effects: Effects = [];
    startGreeting(state, effects);
    assert.deepEqual(sentTo(effects, B), [{ t: 'a', i: 0, ri: 0, ack: 0, gap: false }]);
    assert.equal(sentTo(effects, C).length, 1);
    observeIncarnation(state, state.links.get(B)!, 3, 1);
    assert.equal(awaitsGreeting(state, state.links.get(B)!), false);
    assert.equal(awaitsGreeting(state, state.links.get(C)!), true);
  });
});
