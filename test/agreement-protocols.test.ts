/**
 * The agreement protocols stepped by hand, one input at a time: what the simulator's sweeps rarely or never
 * draw, such as a buggy or hostile peer's messages, which must be dropped and logged, never thrown.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { nodeId, type NodeId } from '../src/core/ids.js';
import { lockstepProtocol, type LockstepMessage } from '../src/agreement/lockstep.js';
import { SIMULATION_TUNING, streamProtocol, type StatusMessage, type StreamMessage } from '../src/agreement/stream.js';
import type { Effect } from '../src/protocol/types.js';

const NODES = ['n1', 'n2', 'n3'].map(nodeId);
const n1 = NODES[0]!;
const n2 = NODES[1]!;
const n3 = NODES[2]!;

function texts(effects: readonly Effect<unknown, unknown>[], level?: string): string[] {
  return effects.flatMap((e) => (e.kind === 'log' && (level === undefined || e.level === level) ? [e.text] : []));
}

describe('stream, by hand', () => {
  const options = { seed: 1, sendForMs: 100, waitForMs: 1000, tickMs: 100, tuning: SIMULATION_TUNING };
  const start = () => streamProtocol.init({ self: n1, nodes: NODES, options, now: 0, startedAtMs: 0, restored: new Map() }).state;
  const v8 = new Float64Array(8).fill(5);
  const status = (held: number[], finals: number[]): StatusMessage => ({ t: 'status', ts: 5000, echo: 0, echoAgeMs: 0, end: 0, held, finals, have: [] });

  test("a stream's own final length replaces one a third node passed on, while the lane is open", () => {
    const state = start();
    const rx = (from: NodeId, msg: StreamMessage, now: number) => streamProtocol.step(state, { kind: 'receive', from, msg }, now);
    rx(n2, { t: 'data', seq: 0, ts: 1000, v: v8 }, 10);
    // n3 (wrongly) says n2's stream ends at 16; this node holds 8 of it, so the lane stays open.
    rx(n3, status([0, 8, 0], [-1, 16, -1]), 20);
    assert.equal(state.inbound[1]?.final, 16);
    const fx = rx(n2, status([0, 24, 0], [-1, 24, -1]), 30);
    assert.equal(state.inbound[1]?.final, 24, 'the sender knows best');
    assert.deepEqual(texts(fx, 'error'), []);
    // Nothing overrides the sender's own word.
    const later = rx(n3, status([0, 8, 0], [-1, 16, -1]), 40);
    assert.equal(state.inbound[1]?.final, 24);
    assert.match(texts(later, 'error').join(), /contradicts/);
  });

  test('a relayed run split differently from its sender: logged once as an error, never thrown', () => {
    const state = start();
    const rx = (from: NodeId, msg: StreamMessage, now: number) => {
      assert.ok(streamProtocol.isMessage(msg));
      return streamProtocol.step(state, { kind: 'receive', from, msg }, now);
    };
    rx(n3, { t: 'relay', origin: 1, runs: [[0, 1000, 4, 20, '50']] }, 10);
    const first = rx(n2, { t: 'data', seq: 0, ts: 1000, v: v8 }, 20);
    assert.match(texts(first, 'error').join(), /straddles/);
    const again = rx(n2, { t: 'data', seq: 0, ts: 1000, v: v8 }, 30);
    assert.deepEqual(texts(again, 'error'), [], 'once per lane');
  });

  test('the guard refuses relayed summaries no sender could have produced', () => {
    const relay = (run: unknown[]) => ({ t: 'relay', origin: 1, runs: [run] });
    assert.equal(streamProtocol.isMessage(relay([0, 1000, 8, 40, '180'])), true);
    assert.equal(streamProtocol.isMessage(relay([0, 1000, 8, 7, '180'])), false, 'sum below one per value');
    assert.equal(streamProtocol.isMessage(relay([0, 1000, 8, 40, '39'])), false, 'weighted sum below the sum');
    assert.equal(streamProtocol.isMessage(relay([0, 1000, 8, 40, '321'])), false, 'weighted sum above count × sum');
    assert.equal(streamProtocol.isMessage(relay([0, 1000, 0, 0, '1'])), false, 'empty run');
    assert.equal(streamProtocol.isMessage(relay([0, 1000, 8, 40, '1e3'])), false, 'not a decimal');
  });
});

describe('lockstep, by hand', () => {
  const options = { seed: 1, sendForMs: 1000, waitForMs: 1000, tickMs: 100 };
  const start = () => {
    const state = lockstepProtocol.init({ self: n1, nodes: NODES, options, now: 0, startedAtMs: 0, restored: new Map() }).state;
    const rx = (from: NodeId, msg: LockstepMessage, now: number) => {
      assert.ok(lockstepProtocol.isMessage(msg));
      return lockstepProtocol.step(state, { kind: 'receive', from, msg }, now);
    };
    rx(n2, { t: 'connect', answer: false, end: 1000 }, 10);
    rx(n3, { t: 'connect', answer: false, end: 1000 }, 10);
    return { state, rx };
  };

  test('a message older than the newest held, after a forced print: dropped and logged, never thrown', () => {
    const { state, rx } = start();
    rx(n2, { t: 'ping', serial: 0, ts: 100_000, v: 5, end: 900 }, 100);
    lockstepProtocol.step(state, { kind: 'timer', name: 'print' }, 1900);
    const fx = rx(n3, { t: 'relay', origin: 1, ping: { serial: 1, ts: 50_000, v: 5 } }, 1910);
    assert.match(texts(fx, 'warn').join(), /older timestamp/);
    assert.doesNotThrow(() => rx(n2, { t: 'stop', serial: 2 }, 1920));
  });

  test('after a forced print, once every peer holds the message in flight, the stop marker follows', () => {
    const { state, rx } = start();
    lockstepProtocol.step(state, { kind: 'timer', name: 'stop' }, 1000);
    const printed = lockstepProtocol.step(state, { kind: 'timer', name: 'print' }, 1900);
    assert.ok(printed.some((e) => e.kind === 'output'));
    rx(n2, { t: 'ack', serial: 0 }, 1910);
    const fx = rx(n3, { t: 'ack', serial: 0 }, 1920);
    const stops = fx.flatMap((e) => (e.kind === 'send' && e.msg.t === 'stop' ? [e] : []));
    assert.deepEqual(
      stops.map((e) => e.to),
      [n2, n3],
    );
  });
});

describe('stated invariants catch a broken state', () => {
  const options = { seed: 1, sendForMs: 100, waitForMs: 1000, tickMs: 100, tuning: SIMULATION_TUNING };

  test('stream: acknowledged beyond sent, an early run not beyond what is held', () => {
    const init = () => streamProtocol.init({ self: n1, nodes: NODES, options, now: 0, startedAtMs: 0, restored: new Map() }).state;
    const check = streamProtocol.invariants!;
    const state = init();
    check(state);
    const peer = state.peers[0]!;
    peer.acked = peer.sentUpTo + 8;
    assert.throws(() => check(state), /stream invariant: n2: acked 8 ≤ sent 0/);
    const other = init();
    other.inbound[1]!.early.set(0, { ts: 1, seq: 0, summary: { count: 8, sum: 40n, weighted: 180n } });
    assert.throws(() => check(other), /early run 0 not beyond held 0/);
  });

  test('lockstep: a message in flight that is not the last one sent', () => {
    const state = lockstepProtocol.init({ self: n1, nodes: NODES, options, now: 0, startedAtMs: 0, restored: new Map() }).state;
    const check = lockstepProtocol.invariants!;
    check(state);
    state.current = { t: 'stop', serial: state.sent + 1 };
    assert.throws(() => check(state), /lockstep invariant: the stop in flight is numbered/);
  });
});
