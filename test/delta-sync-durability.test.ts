/** delta-sync's durability (src/replication/delta-sync/durability.ts) and the protocol's start-up around it. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PNCounter } from '../src/crdt/index.js';
import { deltaSync } from '../src/replication/delta-sync.js';
import { DURABLE_KEY, WRITER_KEY, persistWrite, restoreValue, restoreWriter } from '../src/replication/delta-sync/durability.js';
import { A, B, counterLattice, counterService, durableCounter, envOf, optionsOf, sentTo, stateOf, type Effects } from './delta-sync-fixture.js';

const text = (s: string) => new TextEncoder().encode(s);

describe('delta-sync durability', () => {
  it('persists the writer id once, before the value, and the value after every write', () => {
    const env = envOf(durableCounter);
    const state = stateOf(A, [A, B]);
    const effects: Effects = [];
    persistWrite(env, state, effects);
    persistWrite(env, state, effects);
    assert.deepEqual(
      effects.map((e) => (e.kind === 'persist' ? e.key : e.kind)),
      [WRITER_KEY, DURABLE_KEY, DURABLE_KEY],
    );
    const notDurable: Effects = [];
    persistWrite(envOf(counterService), stateOf(A, [A, B]), notDurable);
    assert.deepEqual(notDurable, []);
  });

  it("restores the value, and the writer only when it is one of this node's ids saved with a value", () => {
    const env = envOf(durableCounter);
    const value = counterLattice.encode(new PNCounter().increment('a', 4));
    assert.equal(restoreValue(env, new Map([[DURABLE_KEY, value]])).value(), 4);
    assert.equal(restoreValue(envOf(counterService), new Map([[DURABLE_KEY, value]])).value(), 0, 'a service that is not durable starts empty');
    assert.equal(restoreWriter(env, A, new Map([[DURABLE_KEY, value], [WRITER_KEY, text('a')]])), 'a');
    assert.equal(restoreWriter(env, A, new Map([[WRITER_KEY, text('a')]])), undefined, 'no value: a new id');
    assert.equal(restoreWriter(env, A, new Map([[DURABLE_KEY, value], [WRITER_KEY, text('b')]])), undefined, "another node's id");
  });

  it('offers a restored value to its neighbours at start; an empty start greets them instead', () => {
    const protocol = deltaSync(durableCounter);
    const options = optionsOf({ flushMs: 0 });
    const restored = new Map([[DURABLE_KEY, counterLattice.encode(new PNCounter().increment('a', 4))], [WRITER_KEY, text('a')]]);
    const { state, effects } = protocol.init({ self: A, nodes: [A, B], options, now: 10, startedAtMs: 10, restored });
    assert.equal(state.writer, 'a');
    const [offer] = sentTo(effects, B);
    assert.ok(offer?.t === 'd' && counterLattice.decode(offer.p).value() === 4);
    protocol.invariants!(state);
    const empty = protocol.init({ self: A, nodes: [A, B], options, now: 10, startedAtMs: 10, restored: new Map() });
    assert.deepEqual(sentTo(empty.effects, B), [{ t: 'a', i: 10, ri: 0, ack: 0, gap: false }]);
    assert.ok(empty.state.greeting);
  });
});
