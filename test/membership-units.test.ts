/** SWIM's pieces by hand: memberlist's formulas, the transmit-limited queue, the guard, and single steps of the protocol. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { nodeId, type NodeId } from '../src/core/ids.js';
import type { Effect } from '../src/protocol/types.js';
import { BroadcastQueue } from '../src/membership/broadcast-queue.js';
import {
  applyAwarenessDelta,
  pushPullScaleMs,
  remainingSuspicionTimeMs,
  retransmitLimit,
  scaleByAwareness,
  suspicionTimeoutMs,
  suspicionTimeoutWithConfirmationsMs,
} from '../src/membership/formulas.js';
import { isSwimMsg } from '../src/membership/guards.js';
import { membersOf, swimProtocol, type SwimState } from '../src/membership/swim.js';
import { MAX_BROADCASTS, MAX_PIGGYBACK_UPDATES, swimOptions, type MemberEvent, type SwimMsg, type SwimOptions, type SwimTimer, type SwimUpdate } from '../src/membership/types.js';

type Fx = Effect<SwimMsg, MemberEvent, SwimTimer>[];
const n = (i: number): NodeId => nodeId(`n${i}`);

function boot(count: number, overrides: Partial<SwimOptions> = {}, self = n(1)): { state: SwimState; fx: Fx } {
  const nodes = Array.from({ length: count }, (_, i) => n(i + 1));
  const { state, effects } = swimProtocol.init({
    self,
    nodes,
    options: swimOptions(`${self}:7946`, { seed: 7, ...overrides }),
    now: 0,
    startedAtMs: 0,
    restored: new Map(),
  });
  swimProtocol.invariants(state);
  return { state, fx: effects };
}

function step(state: SwimState, input: Parameters<typeof swimProtocol.step>[1], now: number): Fx {
  const fx = swimProtocol.step(state, input, now);
  swimProtocol.invariants(state);
  return fx;
}

const receive = (from: NodeId, msg: SwimMsg) => ({ kind: 'receive' as const, from, msg });
const timer = (name: SwimTimer) => ({ kind: 'timer' as const, name });
const sends = (fx: Fx) => fx.flatMap((e) => (e.kind === 'send' ? [e] : []));
const timerAt = (fx: Fx, name: SwimTimer) => fx.filter((e) => e.kind === 'timer' && e.name === name).map((e) => (e as { at: number | null }).at).at(-1);
const events = (fx: Fx) => fx.flatMap((e) => (e.kind === 'output' ? [e.value.member] : []));
const member = (state: SwimState, id: NodeId) => membersOf(state).find((m) => m.id === id);

describe("memberlist's formulas", () => {
  it('remainingSuspicionTime matches memberlist suspicion_test.go', () => {
    const cases: Array<[number, number, number, number, number, number]> = [
      [0, 3, 0, 2000, 30_000, 30_000],
      [1, 3, 2000, 2000, 30_000, 14_000],
      [2, 3, 3000, 2000, 30_000, 4810],
      [3, 3, 4000, 2000, 30_000, -2000],
      [4, 3, 5000, 2000, 30_000, -3000],
      [5, 3, 10_000, 2000, 30_000, -8000],
    ];
    for (const [c, k, elapsed, min, max, expected] of cases) assert.equal(remainingSuspicionTimeMs(c, k, elapsed, min, max), expected, `C=${c}`);
    // The whole timeout shrinks from max to min as confirmations come; with none expected it is min at once.
    assert.deepEqual([0, 1, 2, 3].map((c) => suspicionTimeoutWithConfirmationsMs(c, 3, 500, 2000)), [2000, 1250, 811, 500]);
    assert.equal(suspicionTimeoutWithConfirmationsMs(0, 0, 500, 2000), 500);
  });

  it('suspicionTimeout = SuspicionMult · max(1, log10(max(1, n))) · ProbeInterval', () => {
    assert.equal(suspicionTimeoutMs(4, 1, 1000), 4000);
    assert.equal(suspicionTimeoutMs(4, 10, 1000), 4000);
    assert.equal(suspicionTimeoutMs(3, 50, 1000), 3 * 1698);
    assert.equal(suspicionTimeoutMs(4, 100, 200), 1600);
    assert.equal(suspicionTimeoutMs(4, 1000, 200), 2400);
  });

  it('retransmitLimit = RetransmitMult · ceil(log10(n + 1))', () => {
    assert.equal(retransmitLimit(3, 0), 0);
    assert.equal(retransmitLimit(3, 1), 3);
    assert.equal(retransmitLimit(3, 99), 6);
    assert.equal(retransmitLimit(4, 100), 12);
    assert.equal(retransmitLimit(4, 1000), 16);
  });

  it('pushPullScale grows past 32 members; awareness stays in [0, max − 1] and scales by score + 1', () => {
    assert.deepEqual([32, 33, 64, 65, 1000].map((c) => pushPullScaleMs(1000, c)), [1000, 2000, 2000, 3000, 6000]);
    assert.equal(applyAwarenessDelta(0, -1, 8), 0);
    assert.equal(applyAwarenessDelta(6, 5, 8), 7);
    assert.equal(scaleByAwareness(1000, 3), 4000);
  });
});

describe('the transmit-limited broadcast queue', () => {
  const alive = (i: number, inc = 0): SwimUpdate => ({ k: 'alive', node: n(i), inc, addr: '' });

  it('hands out the least-sent first, newest first among equals, and drops an update after `limit` sends', () => {
    const q = new BroadcastQueue();
    q.queue(alive(1));
    q.queue(alive(2));
    assert.deepEqual(q.take(1, 2), [alive(2)]);
    assert.deepEqual(q.take(1, 2), [alive(1)]);
    assert.deepEqual(q.take(5, 2), [alive(2), alive(1)]);
    assert.equal(q.size, 0);
  });

  it('a newer fact about a node replaces the queued one; the bound evicts the most-sent', () => {
    const q = new BroadcastQueue();
    q.queue(alive(1, 0));
    q.queue({ k: 'dead', node: n(1), inc: 0, from: n(2) });
    assert.equal(q.size, 1);
    assert.equal(q.peek(n(1))?.k, 'dead');
    const big = new BroadcastQueue();
    for (let i = 0; i < MAX_BROADCASTS; i++) big.queue(alive(i));
    big.take(1, 100);
    big.queue(alive(MAX_BROADCASTS));
    assert.equal(big.size, MAX_BROADCASTS);
    assert.equal(big.has(n(MAX_BROADCASTS - 1)), false, 'the one sent already was evicted');
    big.check();
  });
});

describe('the message guard', () => {
  it('takes well-formed messages and refuses malformed or oversized ones', () => {
    const g: SwimUpdate[] = [{ k: 'suspect', node: n(2), inc: 3, from: n(1) }];
    assert.ok(isSwimMsg({ t: 'ping', seq: 1, node: n(2), g }));
    assert.ok(isSwimMsg({ t: 'ping-req', seq: 1, node: n(2), nack: true, g: [] }));
    assert.ok(isSwimMsg({ t: 'push-pull', join: true, reply: false, states: [{ node: n(1), addr: 'a:1', inc: 0, state: 'left' }] }));
    assert.ok(!isSwimMsg({ t: 'ping', seq: -1, node: n(2), g }));
    assert.ok(!isSwimMsg({ t: 'ping', seq: 1, node: '', g }));
    assert.ok(!isSwimMsg({ t: 'ack', seq: 1, g: [{ k: 'alive', node: n(2), inc: 1.5, addr: '' }] }));
    assert.ok(!isSwimMsg({ t: 'gossip', g: Array.from({ length: MAX_PIGGYBACK_UPDATES + 1 }, () => g[0]) }));
    assert.ok(!isSwimMsg({ t: 'push-pull', join: true, reply: false, states: [{ node: n(1), addr: '', inc: 0, state: 'gone' }] }));
    assert.ok(!isSwimMsg({ t: 'bogus' }));
    assert.ok(!isSwimMsg(null));
  });
});

describe('SWIM steps', () => {
  it('announces itself and its static peers at init, and bootstraps with a push/pull to one of them', () => {
    const { state, fx } = boot(4);
    assert.deepEqual(events(fx).map((m) => [m.id, m.state]), [[n(1), 'alive'], [n(2), 'alive'], [n(3), 'alive'], [n(4), 'alive']]);
    assert.equal(member(state, n(1))?.address, 'n1:7946');
    assert.equal(member(state, n(2))?.address, '');
    const push = sends(fx);
    assert.equal(push.length, 1);
    assert.equal(push[0]!.msg.t, 'push-pull');
  });

  it('refutes a suspicion or a death of itself by raising its incarnation past the accusation', () => {
    const { state } = boot(3);
    let fx = step(state, receive(n(2), { t: 'gossip', g: [{ k: 'suspect', node: n(1), inc: 0, from: n(2) }] }), 10);
    assert.equal(member(state, n(1))?.incarnation, 1);
    assert.equal(member(state, n(1))?.state, 'alive');
    assert.deepEqual(state.broadcasts.peek(n(1)), { k: 'alive', node: n(1), inc: 1, addr: 'n1:7946' });
    assert.equal(state.awareness, 1, 'being accused costs local health');
    fx = step(state, receive(n(3), { t: 'gossip', g: [{ k: 'dead', node: n(1), inc: 5, from: n(3) }] }), 20);
    assert.equal(member(state, n(1))?.incarnation, 6);
    // An older accusation changes nothing.
    step(state, receive(n(3), { t: 'gossip', g: [{ k: 'suspect', node: n(1), inc: 2, from: n(3) }] }), 30);
    assert.equal(member(state, n(1))?.incarnation, 6);
    // The refutation rides on the next message.
    fx = step(state, receive(n(2), { t: 'ping', seq: 9, node: n(1), g: [] }), 40);
    const ack = sends(fx)[0]!.msg;
    assert.equal(ack.t, 'ack');
    assert.deepEqual((ack as { g: readonly SwimUpdate[] }).g, [{ k: 'alive', node: n(1), inc: 6, addr: 'n1:7946' }]);
  });

  it('a suspicion starts at max and shrinks to min with independent confirmations (Lifeguard), then declares the member dead', () => {
    const { state } = boot(10);
    // n = 10: min = 4 · 1 · 1000 = 4000, max = 6 · min, k = SuspicionMult − 2 = 2.
    let fx = step(state, receive(n(3), { t: 'gossip', g: [{ k: 'suspect', node: n(2), inc: 0, from: n(3) }] }), 1000);
    assert.equal(member(state, n(2))?.state, 'suspect');
    assert.equal(timerAt(fx, 'suspicion'), 1000 + 24_000);
    fx = step(state, receive(n(3), { t: 'gossip', g: [{ k: 'suspect', node: n(2), inc: 0, from: n(3) }] }), 1100);
    assert.equal(timerAt(fx, 'suspicion'), undefined, 'the accuser again is no confirmation');
    fx = step(state, receive(n(4), { t: 'gossip', g: [{ k: 'suspect', node: n(2), inc: 0, from: n(4) }] }), 1200);
    assert.equal(timerAt(fx, 'suspicion'), 1000 + suspicionTimeoutWithConfirmationsMs(1, 2, 4000, 24_000));
    fx = step(state, receive(n(5), { t: 'gossip', g: [{ k: 'suspect', node: n(2), inc: 0, from: n(5) }] }), 1300);
    assert.equal(timerAt(fx, 'suspicion'), 5000);
    fx = step(state, timer('suspicion'), 5000);
    assert.equal(member(state, n(2))?.state, 'dead');
    assert.deepEqual(events(fx).map((m) => [m.id, m.state]), [[n(2), 'dead']]);
    assert.deepEqual(state.broadcasts.peek(n(2)), { k: 'dead', node: n(2), inc: 0, from: n(1) });
  });

  it('plain SWIM (lifeguard off): a fixed suspicion timeout, confirmations change nothing', () => {
    const { state } = boot(10, { lifeguard: false });
    let fx = step(state, receive(n(3), { t: 'gossip', g: [{ k: 'suspect', node: n(2), inc: 0, from: n(3) }] }), 1000);
    assert.equal(timerAt(fx, 'suspicion'), 5000);
    fx = step(state, receive(n(4), { t: 'gossip', g: [{ k: 'suspect', node: n(2), inc: 0, from: n(4) }] }), 1200);
    assert.equal(timerAt(fx, 'suspicion'), undefined);
  });

  it('an alive with a newer incarnation clears a suspicion; an older one does not', () => {
    const { state } = boot(5);
    step(state, receive(n(3), { t: 'gossip', g: [{ k: 'suspect', node: n(2), inc: 1, from: n(3) }] }), 100);
    step(state, receive(n(3), { t: 'gossip', g: [{ k: 'alive', node: n(2), inc: 1, addr: 'x' }] }), 200);
    assert.equal(member(state, n(2))?.state, 'suspect');
    const fx = step(state, receive(n(3), { t: 'gossip', g: [{ k: 'alive', node: n(2), inc: 2, addr: 'n2:7946' }] }), 300);
    assert.deepEqual(events(fx), [{ id: n(2), address: 'n2:7946', incarnation: 2, state: 'alive' }]);
    assert.equal(state.suspicions.size, 0);
  });

  it('a failed probe asks k members, and missing nacks cost local health, which stretches the probe period', () => {
    const { state } = boot(6);
    let fx = step(state, timer('probe'), 1000);
    const ping = sends(fx)[0]!;
    assert.equal(ping.msg.t, 'ping');
    const target = ping.to;
    assert.equal(timerAt(fx, 'probe'), 2000);
    assert.equal(timerAt(fx, 'probe-timeout'), 1500);
    fx = step(state, timer('probe-timeout'), 1500);
    const reqs = sends(fx);
    assert.equal(reqs.length, 3);
    for (const r of reqs) assert.deepEqual([r.msg.t, (r.msg as { node: NodeId }).node, (r.msg as { nack: boolean }).nack], ['ping-req', target, true]);
    const seq = (reqs[0]!.msg as { seq: number }).seq;
    // One helper answers with a nack: it is up, so two missing nacks are our problem.
    step(state, receive(reqs[0]!.to, { t: 'nack', seq, g: [] }), 1800);
    fx = step(state, timer('probe'), 2000);
    assert.equal(state.awareness, 2);
    assert.equal(member(state, target)?.state, 'suspect');
    assert.equal(timerAt(fx, 'probe'), 2000 + 3 * 1000, 'the next probe period is scaled by score + 1');
    // A probe answered in time heals by one.
    const next = sends(fx).find((s) => s.msg.t === 'ping')!;
    step(state, receive(next.to, { t: 'ack', seq: (next.msg as { seq: number }).seq, g: [] }), 2010);
    assert.equal(state.awareness, 1);
  });

  it('answers a stale accusation with the newer fact, and gossips refutations twice as long', () => {
    const { state } = boot(5);
    step(state, receive(n(3), { t: 'gossip', g: [{ k: 'alive', node: n(2), inc: 4, addr: 'n2:7946' }] }), 10);
    const fx = step(state, receive(n(4), { t: 'gossip', g: [{ k: 'suspect', node: n(2), inc: 3, from: n(4) }, { k: 'suspect', node: n(3), inc: 0, from: n(4) }] }), 20);
    const answers = sends(fx).filter((e) => e.to === n(4));
    assert.deepEqual(answers.map((e) => e.msg), [{ t: 'gossip', g: [{ k: 'alive', node: n(2), inc: 4, addr: 'n2:7946' }] }]);
    // n = 5: RetransmitMult · ceil(log10(6)) = 4 sends for news, 8 for the refutation queued above.
    let sent = 0;
    while (state.broadcasts.has(n(2))) sent += state.broadcasts.take(MAX_PIGGYBACK_UPDATES, 4).filter((u) => u.node === n(2)).length;
    assert.equal(sent, 8);
    const plain = boot(5, { answerStaleAccusations: false, refutationRetransmitMult: 1 }).state;
    step(plain, receive(n(3), { t: 'gossip', g: [{ k: 'alive', node: n(2), inc: 4, addr: 'n2:7946' }] }), 10);
    const quiet = step(plain, receive(n(4), { t: 'gossip', g: [{ k: 'suspect', node: n(2), inc: 3, from: n(4) }] }), 20);
    assert.equal(sends(quiet).filter((e) => e.to === n(4)).length, 0);
  });

  it('pings to a suspect carry its suspicion (so it can refute at once)', () => {
    const { state } = boot(2);
    step(state, receive(n(2), { t: 'gossip', g: [{ k: 'suspect', node: n(2), inc: 0, from: nodeId('x') }] }), 10);
    const fx = step(state, timer('probe'), 1000);
    const ping = sends(fx).find((s) => s.msg.t === 'ping')!;
    assert.deepEqual((ping.msg as { g: readonly SwimUpdate[] }).g[0], { k: 'suspect', node: n(2), inc: 0, from: n(1) });
  });

  it('relays an indirect probe: forwards the ack, or sends a nack after ProbeTimeout', () => {
    const { state } = boot(4);
    let fx = step(state, receive(n(2), { t: 'ping-req', seq: 77, node: n(3), nack: true, g: [] }), 100);
    const ping = sends(fx)[0]!;
    assert.equal(ping.to, n(3));
    fx = step(state, receive(n(3), { t: 'ack', seq: (ping.msg as { seq: number }).seq, g: [] }), 110);
    assert.deepEqual(sends(fx).map((s) => [s.to, s.msg.t, (s.msg as { seq: number }).seq]), [[n(2), 'ack', 77]]);
    fx = step(state, receive(n(2), { t: 'ping-req', seq: 78, node: n(4), nack: true, g: [] }), 200);
    assert.equal(timerAt(fx, 'relay'), 700);
    fx = step(state, timer('relay'), 700);
    assert.deepEqual(sends(fx).map((s) => [s.to, s.msg.t, (s.msg as { seq: number }).seq]), [[n(2), 'nack', 78]]);
    assert.equal(state.relays.size, 0);
  });

  it('a push/pull is answered with the state after merging, and the join ends on the answer', () => {
    const { state } = boot(1);
    let fx = step(state, { kind: 'request', body: { op: 'join', seeds: [n(2)] } }, 0);
    assert.deepEqual(sends(fx).map((s) => [s.to, s.msg.t]), [[n(2), 'push-pull']]);
    assert.equal(timerAt(fx, 'join'), 1000);
    fx = step(state, receive(n(2), { t: 'push-pull', join: true, reply: true, states: [{ node: n(2), addr: 'n2:7946', inc: 3, state: 'alive' }, { node: n(1), addr: 'n1:7946', inc: 2, state: 'dead' }] }), 50);
    assert.equal(state.join, null);
    assert.equal(member(state, n(2))?.incarnation, 3);
    assert.equal(member(state, n(1))?.incarnation, 3, 'a remote dead about us is refuted');
    fx = step(state, receive(nodeId('n9'), { t: 'push-pull', join: true, reply: false, states: [{ node: nodeId('n9'), addr: 'n9:1', inc: 0, state: 'alive' }] }), 60);
    const reply = sends(fx)[0]!.msg as Extract<SwimMsg, { t: 'push-pull' }>;
    assert.ok(reply.reply && reply.states.some((s) => s.node === nodeId('n9')));
  });

  it('a leave gossips left, stops probing, and is final: accusations are no longer refuted', () => {
    const { state } = boot(3);
    const fx = step(state, { kind: 'request', body: { op: 'leave' } }, 100);
    assert.equal(member(state, n(1))?.state, 'left');
    assert.deepEqual(state.broadcasts.peek(n(1)), { k: 'dead', node: n(1), inc: 0, from: n(1) });
    assert.equal(timerAt(fx, 'probe-timeout'), null);
    assert.equal(sends(step(state, timer('probe'), 1000)).length, 0);
    step(state, receive(n(2), { t: 'gossip', g: [{ k: 'suspect', node: n(1), inc: 0, from: n(2) }] }), 1100);
    assert.equal(member(state, n(1))?.incarnation, 0);
    // Others read a dead from the node itself as left, never dead.
    const other = boot(3, {}, n(2)).state;
    step(other, receive(n(1), { t: 'gossip', g: [{ k: 'dead', node: n(1), inc: 0, from: n(1) }] }), 100);
    assert.equal(member(other, n(1))?.state, 'left');
  });

  it('forgets dead members GossipToTheDeadTime after they died', () => {
    const { state } = boot(4, { gossipToTheDeadTimeMs: 5000 });
    step(state, receive(n(3), { t: 'gossip', g: [{ k: 'dead', node: n(2), inc: 0, from: n(3) }] }), 1000);
    assert.equal(member(state, n(2))?.state, 'dead');
    step(state, receive(n(3), { t: 'gossip', g: [] }), 6000);
    assert.equal(member(state, n(2))?.state, 'dead');
    step(state, receive(n(3), { t: 'gossip', g: [] }), 6001);
    assert.equal(member(state, n(2)), undefined);
    assert.equal(state.probeOrder.length, 2);
  });

  it('the invariants catch a corrupted state', () => {
    const { state } = boot(3);
    state.members.get(n(2))!.state = 'suspect';
    assert.throws(() => swimProtocol.invariants(state), /suspicion timer is missing/);
    const other = boot(3).state;
    other.probeOrder.push(n(2));
    assert.throws(() => swimProtocol.invariants(other), /probe order/);
  });

  it('refuses options memberlist would not run with', () => {
    assert.throws(() => boot(2, { probeTimeoutMs: 1000 }), /probeTimeoutMs/);
    assert.throws(() => boot(2, { indirectChecks: -1 }), /indirectChecks/);
  });
});
