/** delta-sync put together (src/replication/delta-sync/protocol.ts): dispatch, the wire guard, strangers, invariants. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AssertionError } from '../src/core/assert.js';
import { nodeId } from '../src/core/ids.js';
import { deltaSync } from '../src/replication/delta-sync.js';
import { A, B, C, counterService, deltaBytes, optionsOf, sentTo } from './delta-sync-fixture.js';

const protocol = deltaSync(counterService);
const start = (now = 0) => protocol.init({ self: A, nodes: [A, B, C], options: optionsOf({ flushMs: 0, antiEntropyMs: 50 }), now, startedAtMs: now, restored: new Map() });

describe('delta-sync protocol', () => {
  it('accepts well-formed messages only', () => {
    const p = new Uint8Array([1]);
    for (const good of [
      { t: 'd', i: 1, ri: 0, from: 0, to: 2, ack: 0, p, full: false, rx: false },
      { t: 'a', i: 1, ri: 0, ack: 3, gap: true },
      { t: 'g', i: 1, digest: p, reply: true },
      { t: 'r', i: 1, p },
      { t: 'graft', i: 1 },
      { t: 'prune', i: 1 },
    ]) {
      assert.ok(protocol.isMessage(good), JSON.stringify(good));
    }
    for (const bad of [
      null,
      [],
      { t: 'd', i: 1, ri: 0, from: 3, to: 2, ack: 0, p, full: false, rx: false },
      { t: 'd', i: 1, ri: 0, from: -1, to: 2, ack: 0, p, full: false, rx: false },
      { t: 'a', i: Infinity, ri: 0, ack: 3, gap: true },
      { t: 'a', i: 1, ri: 0, ack: 0.5, gap: true },
      { t: 'g', i: 1, digest: [1], reply: true },
      { t: 'x', i: 1 },
    ]) {
      assert.ok(!protocol.isMessage(bad), JSON.stringify(bad));
    }
  });

  it('drops a message from outside the cluster without a link', () => {
    const { state } = start();
    const effects = protocol.step(state, { kind: 'receive', from: nodeId('z'), msg: { t: 'r', i: 1, p: deltaBytes('z', 1) } }, 1);
    assert.equal(state.value.value(), 0);
    assert.equal(state.links.has(nodeId('z')), false);
    assert.equal(protocol.metrics(state).strangersDropped, 1);
    assert.ok(effects.some((e) => e.kind === 'log' && e.level === 'warn'));
    protocol.invariants!(state);
  });

  it('ignores a message of a dead incarnation, and resends everything to a restarted neighbour', () => {
    const { state } = start();
    protocol.step(state, { kind: 'request', body: 2 }, 1);
    protocol.step(state, { kind: 'receive', from: B, msg: { t: 'a', i: 100, ri: 0, ack: 1, gap: false } }, 2);
    assert.equal(state.links.get(B)!.acked, 1);
    assert.deepEqual(protocol.step(state, { kind: 'receive', from: B, msg: { t: 'a', i: 50, ri: 0, ack: 0, gap: true } }, 3), []);
    const effects = protocol.step(state, { kind: 'receive', from: B, msg: { t: 'a', i: 200, ri: 0, ack: 0, gap: false } }, 4);
    const [resend] = sentTo(effects, B);
    assert.ok(resend?.t === 'd' && resend.ri === 200 && resend.from === 0);
    protocol.invariants!(state);
  });

  it('knows its timers by type: an unknown name does not compile, and asserts if it is forced past the type', () => {
    const { state } = start();
    // @ts-expect-error 'nonsense' is not a SyncTimer.
    assert.throws(() => protocol.step(state, { kind: 'timer', name: 'nonsense' }, 1), AssertionError);
  });

  it('invariants catch a broken state', () => {
    const broken = [
      (s: ReturnType<typeof start>['state']) => void (s.links.get(B)!.acked = 5),
      (s: ReturnType<typeof start>['state']) => void s.links.set(nodeId('z'), { ...s.links.get(B)!, peer: nodeId('z') }),
      (s: ReturnType<typeof start>['state']) => void (s.links.get(B)!.ackOwed = true),
      (s: ReturnType<typeof start>['state']) => void (s.links.get(C)!.overlay = true, s.links.get(C)!.eager = false),
      (s: ReturnType<typeof start>['state']) => void (s.links.get(B)!.rtoMs = 1),
    ];
    for (const breakIt of broken) {
      const { state } = start();
      protocol.invariants!(state);
      breakIt(state);
      assert.throws(() => protocol.invariants!(state), AssertionError, breakIt.toString());
    }
    // A broken link is named, with where its sequence numbers stood (built only on failure).
    const { state } = start();
    state.links.get(B)!.acked = 5;
    assert.throws(() => protocol.invariants!(state), /^AssertionError: link to b \(acked 5, sent 0, next 0\): not 0 <= acked <= sent <= next$/);
  });
});
