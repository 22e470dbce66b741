/** `withMembership` (src/membership/compose.ts): SWIM and another protocol in one, driven by hand. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { nodeId } from '../src/core/ids.js';
import { DEFAULT_SWIM_OPTIONS } from '../src/membership/index.js';
import { LEAVE_DRAIN_MAX_MS, LEAVE_TIMER, withMembership, type MembershipAware } from '../src/membership/compose.js';
import type { Effect, Protocol } from '../src/protocol/types.js';

const [A, B, C] = [nodeId('a'), nodeId('b'), nodeId('c')];

/** A toy inner protocol: it records what it is told, echoes a timer and a write, and can be held from leaving. */
interface Toy {
  calls: string[];
  ready: boolean;
}
type ToyMsg = { readonly n: number };
type ToyEffect = Effect<ToyMsg, string, 'tick'>;
const toy: Protocol<Toy, ToyMsg, string, null, { readonly say: string }, 'tick'> & MembershipAware<Toy, ToyMsg, string, 'tick'> = {
  name: 'toy',
  init: (ctx) => ({
    state: { calls: [`init ${[...ctx.restored.keys()].join(',')}`], ready: false },
    effects: [{ kind: 'timer', name: 'tick', at: ctx.now + 10 }, { kind: 'persist', key: 'k', value: new Uint8Array([1]) }],
  }),
  step(state, input): ToyEffect[] {
    if (input.kind === 'request') return [{ kind: 'output', value: input.body.say }, { kind: 'send', to: B, msg: { n: 1 } }];
    state.calls.push(input.kind === 'timer' ? `timer ${input.name}` : `receive ${input.msg.n}`);
    return [];
  },
  isMessage: (v: unknown): v is ToyMsg => typeof v === 'object' && v !== null && typeof (v as { n?: unknown }).n === 'number',
  metrics: (state) => ({ calls: state.calls.length }),
  invariants: () => {},
  onMembers(state, members) {
    state.calls.push(`members ${members.join(',')}`);
    return [];
  },
  onLeave(state) {
    state.calls.push('leave');
    return [{ kind: 'output', value: 'released' }];
  },
  leaveReady: (state) => state.ready,
};

const composed = withMembership(toy);
const options = { swim: { ...DEFAULT_SWIM_OPTIONS, address: 'a:1' }, inner: null };

function start(restored = new Map<string, Uint8Array>()) {
  return composed.init({ self: A, nodes: [A, B, C], options, now: 0, startedAtMs: 0, restored });
}

describe('withMembership', () => {
  it("tags messages, prefixes SWIM's timers and keys, and splits restored keys between the halves", () => {
    const { state, effects } = start(new Map([['k', new Uint8Array([1])], ['swim:x', new Uint8Array([2])]]));
    assert.deepEqual(state.inner.calls, ['init k'], "the inner protocol gets its own keys, unprefixed, and not SWIM's");
    assert.ok(effects.some((e) => e.kind === 'timer' && e.name === 'tick'), "the inner protocol's timer keeps its name");
    assert.ok(effects.some((e) => e.kind === 'persist' && e.key === 'k'));
    const timers = effects.filter((e) => e.kind === 'timer' && e.name !== 'tick');
    assert.ok(timers.length > 0 && timers.every((e) => e.kind === 'timer' && e.name.startsWith('swim:')), "SWIM's timers are prefixed");
    const out = composed.step(state, { kind: 'request', body: { say: 'hi' } }, 1);
    assert.deepEqual(out, [{ kind: 'output', value: 'hi' }, { kind: 'send', to: B, msg: { p: 'x', m: { n: 1 } } }]);
    composed.step(state, { kind: 'receive', from: B, msg: { p: 'x', m: { n: 7 } } }, 2);
    assert.deepEqual(state.inner.calls.at(-1), 'receive 7');
  });

  it('guards both halves of a message', () => {
    assert.equal(composed.isMessage({ p: 'x', m: { n: 1 } }), true);
    assert.equal(composed.isMessage({ p: 'x', m: { n: 'one' } }), false);
    assert.equal(composed.isMessage({ p: 'm', m: { n: 1 } }), false, 'a toy message is not a SWIM one');
    assert.equal(composed.isMessage({ p: 'q', m: { n: 1 } }), false);
    assert.equal(composed.isMessage(null), false);
  });

  it('tells the inner protocol when the live set changes, and waits for its hand-off before announcing a leave', () => {
    const { state } = start();
    // Nothing new at start: the inner protocol began with these nodes.
    assert.equal(state.inner.calls.filter((c) => c.startsWith('members')).length, 0);
    const leave = composed.step(state, { kind: 'request', body: { membership: { op: 'leave' } } }, 5);
    assert.deepEqual(state.inner.calls.at(-1), 'leave');
    assert.ok(leave.some((e) => e.kind === 'output' && e.value === 'released'));
    assert.ok(leave.some((e) => e.kind === 'timer' && e.name === LEAVE_TIMER && e.at === 5 + LEAVE_DRAIN_MAX_MS));
    assert.ok(!leave.some((e) => e.kind === 'output' && typeof e.value === 'object'), 'no member event before the hand-off is out');
    state.inner.ready = true;
    const after = composed.step(state, { kind: 'receive', from: B, msg: { p: 'x', m: { n: 2 } } }, 6);
    const self = after.find((e) => e.kind === 'output' && typeof e.value === 'object' && e.value.member.id === A);
    assert.ok(self?.kind === 'output' && typeof self.value === 'object' && self.value.member.state === 'left', 'the leave is announced once ready');
    assert.deepEqual(state.inner.calls.at(-1), `members ${[B, C].join(',')}`, 'this node is no longer a live member');
    composed.invariants(state);
  });

  it('announces a leave at its deadline when the hand-off never completes', () => {
    const { state } = start();
    composed.step(state, { kind: 'request', body: { membership: { op: 'leave' } } }, 0);
    const out = composed.step(state, { kind: 'timer', name: LEAVE_TIMER }, LEAVE_DRAIN_MAX_MS);
    assert.ok(out.some((e) => e.kind === 'output' && typeof e.value === 'object' && e.value.member.id === A && e.value.member.state === 'left'));
  });

  it('prefixes metrics by half', () => {
    const { state } = start();
    const m = composed.metrics(state);
    assert.equal(m['toy.calls'], 1);
    assert.ok(Object.keys(m).some((k) => k.startsWith('swim.')));
    assert.equal(m['members.live'], 3);
  });
});
