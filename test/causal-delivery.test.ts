/**
 * The causal hold-back buffer: examples, then the property that for any causal history delivered in any order
 * with duplicates, every message is released exactly once and never before a message that happened before it.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { nodeId, type NodeId } from '../src/core/ids.js';
import { CausalDelivery, type CausalMessage } from '../src/causal/causal-delivery.js';
import { VectorClock } from '../src/causal/vector-clock.js';

const NODES = ['a', 'b', 'c', 'd'].map(nodeId);
const [a, b, c] = NODES as [NodeId, NodeId, NodeId];
const msg = (origin: NodeId, clock: Record<string, number>, payload = `${origin}${clock[origin]}`): CausalMessage<string> => ({
  origin,
  clock: VectorClock.fromObject(clock),
  payload,
});
const payloads = (messages: readonly CausalMessage<string>[]): string[] => messages.map((m) => m.payload);

describe('causal delivery examples', () => {
  test('a message that depends on nothing undelivered is released at once', () => {
    const buffer = new CausalDelivery<string>();
    const result = buffer.receive(msg(a, { a: 1 }));
    assert.equal(result.outcome, 'delivered');
    assert.deepEqual(payloads(result.delivered), ['a1']);
    assert.deepEqual(buffer.deliveredClock().toEntries(), [['a', 1]]);
  });

  test('a reply is held until its question, then both are released, question first', () => {
    const buffer = new CausalDelivery<string>();
    const reply = buffer.receive(msg(b, { a: 1, b: 1 }, 'reply'));
    assert.equal(reply.outcome, 'held');
    assert.equal(buffer.heldCount, 1);
    const question = buffer.receive(msg(a, { a: 1 }, 'question'));
    assert.equal(question.outcome, 'delivered');
    assert.deepEqual(payloads(question.delivered), ['question', 'reply']);
    assert.equal(buffer.heldCount, 0);
  });

  test("one origin's messages are released in its order, whatever the arrival order", () => {
    const buffer = new CausalDelivery<string>();
    assert.equal(buffer.receive(msg(a, { a: 3 })).outcome, 'held');
    assert.equal(buffer.receive(msg(a, { a: 2 })).outcome, 'held');
    assert.deepEqual(payloads(buffer.receive(msg(a, { a: 1 })).delivered), ['a1', 'a2', 'a3']);
  });

  test('concurrent messages are released as they come', () => {
    const buffer = new CausalDelivery<string>();
    assert.deepEqual(payloads(buffer.receive(msg(b, { b: 1 })).delivered), ['b1']);
    assert.deepEqual(payloads(buffer.receive(msg(a, { a: 1 })).delivered), ['a1']);
  });

  test('duplicates, delivered or held, are ignored', () => {
    const buffer = new CausalDelivery<string>();
    buffer.receive(msg(a, { a: 1 }));
    assert.equal(buffer.receive(msg(a, { a: 1 })).outcome, 'duplicate');
    buffer.receive(msg(a, { a: 3 }));
    assert.equal(buffer.receive(msg(a, { a: 3 })).outcome, 'duplicate');
    assert.deepEqual(payloads(buffer.receive(msg(a, { a: 2 })).delivered), ['a2', 'a3']);
    assert.deepEqual(buffer.stats(), { delivered: 3, held: 0, duplicates: 2, evicted: 0 });
  });

  test('a chain across three nodes unwinds in one arrival', () => {
    const buffer = new CausalDelivery<string>();
    buffer.receive(msg(c, { a: 1, b: 1, c: 1 }));
    buffer.receive(msg(b, { a: 1, b: 1 }));
    buffer.receive(msg(a, { a: 2 }));
    const released = payloads(buffer.receive(msg(a, { a: 1 })).delivered);
    assert.deepEqual([...released].sort(), ['a1', 'a2', 'b1', 'c1']);
    assert.equal(released[0], 'a1');
    assert.ok(released.indexOf('b1') < released.indexOf('c1'));
  });

  test('a clock that does not count its own message is refused', () => {
    assert.throws(() => new CausalDelivery<string>().receive(msg(a, { b: 1 })), RangeError);
  });

  test('full: the message held longest is evicted and reported', () => {
    const buffer = new CausalDelivery<string>({ maxHeld: 2 });
    buffer.receive(msg(a, { a: 1, c: 9 }, 'stuck')); // c's ninth message was never sent
    buffer.receive(msg(b, { b: 2 }));
    const third = buffer.receive(msg(b, { b: 3 }));
    assert.equal(third.outcome, 'held');
    assert.equal(third.evicted?.payload, 'stuck');
    assert.equal(buffer.heldCount, 2);
    assert.deepEqual(payloads(buffer.receive(msg(b, { b: 1 })).delivered), ['b1', 'b2', 'b3']);
    assert.deepEqual(buffer.stats(), { delivered: 3, held: 0, duplicates: 0, evicted: 1 });
    assert.throws(() => new CausalDelivery({ maxHeld: 0 }), RangeError);
  });

  test('a long run from one origin in reverse is released in one linear pass', () => {
    const buffer = new CausalDelivery<number>({ maxHeld: 200_000 });
    const n = 100_000;
    for (let seq = n; seq >= 2; seq--) buffer.receive({ origin: a, clock: VectorClock.ZERO.with(a, seq), payload: seq });
    const released = buffer.receive({ origin: a, clock: VectorClock.ZERO.with(a, 1), payload: 1 }).delivered;
    assert.equal(released.length, n);
    assert.ok(released.every((m, i) => m.payload === i + 1));
  });
});

// ---- property ----------------------------------------------------------------------------------------------

type Step = { readonly kind: 'broadcast'; readonly node: number } | { readonly kind: 'learn'; readonly node: number; readonly pick: number };

/**
 * A causal history: nodes broadcast, and learn (deliver) messages broadcast so far; each broadcast's clock is
 * what its node has learned, plus itself. Learning a message means having learned its whole causal past
 * (its clock), as causal delivery guarantees, so clocks stay consistent.
 */
function history(steps: readonly Step[], nodeCount: number): CausalMessage<string>[] {
  const seen = Array.from({ length: nodeCount }, () => VectorClock.ZERO);
  const messages: CausalMessage<string>[] = [];
  for (const step of steps) {
    const node = NODES[step.node % nodeCount] as NodeId;
    const i = step.node % nodeCount;
    if (step.kind === 'broadcast') {
      const clock = (seen[i] as VectorClock).increment(node);
      seen[i] = clock;
      messages.push({ origin: node, clock, payload: `${node}${clock.get(node)}` });
    } else if (messages.length > 0) {
      seen[i] = (seen[i] as VectorClock).merge((messages[step.pick % messages.length] as CausalMessage<string>).clock);
    }
  }
  return messages;
}

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ kind: fc.constant('broadcast' as const), node: fc.nat(3) }),
  fc.record({ kind: fc.constant('learn' as const), node: fc.nat(3), pick: fc.nat() }),
);

/** An arrival order: every message at least once, some twice or more, shuffled by the given keys. */
function arrivals<T>(messages: readonly T[], extra: readonly number[], keys: readonly number[]): T[] {
  const copies = [...messages, ...extra.filter(() => messages.length > 0).map((k) => messages[k % messages.length] as T)];
  return copies
    .map((m, i) => ({ m, key: keys[i % Math.max(1, keys.length)]! ^ (i * 2654435761) }))
    .sort((x, y) => x.key - y.key)
    .map((x) => x.m);
}

function checkCausalOrder(all: readonly CausalMessage<string>[], delivered: readonly CausalMessage<string>[]): void {
  const position = new Map<string, number>();
  delivered.forEach((m, i) => {
    assert.ok(!position.has(m.payload), `${m.payload} delivered twice`);
    position.set(m.payload, i);
  });
  for (const m of all) assert.ok(position.has(m.payload), `${m.payload} never delivered`);
  for (const x of all) {
    for (const y of all) {
      if (x.clock.compare(y.clock) === 'before') {
        assert.ok(position.get(x.payload)! < position.get(y.payload)!, `${x.payload} ${x.clock} happened before ${y.payload} ${y.clock} but was delivered after`);
      }
    }
  }
}

describe('causal delivery property', () => {
  test('random histories, random arrival order with duplicates: each released exactly once, in happens-before order', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 4 }),
        fc.array(stepArb, { maxLength: 60 }),
        fc.array(fc.nat(), { maxLength: 20 }),
        fc.array(fc.integer(), { minLength: 1, maxLength: 100 }),
        (nodeCount, steps, extra, keys) => {
          const messages = history(steps, nodeCount);
          const buffer = new CausalDelivery<string>();
          const delivered: CausalMessage<string>[] = [];
          for (const m of arrivals(messages, extra, keys)) {
            const before = buffer.deliveredClock();
            const result = buffer.receive(m);
            // Each release satisfies the delivery rule against what was released before it.
            let at = before;
            for (const d of result.delivered) {
              assert.equal(d.clock.get(d.origin), at.get(d.origin) + 1);
              assert.ok(d.clock.with(d.origin, 0).leq(at));
              at = at.with(d.origin, d.clock.get(d.origin));
            }
            assert.ok(at.equals(buffer.deliveredClock()));
            delivered.push(...result.delivered);
          }
          checkCausalOrder(messages, delivered);
          assert.equal(buffer.heldCount, 0);
          assert.equal(buffer.stats().duplicates, extra.length === 0 || messages.length === 0 ? 0 : extra.length);
        },
      ),
      { numRuns: 500 },
    );
  });

  test('with a small cap, whatever is released is still exactly once and in happens-before order', () => {
    fc.assert(
      fc.property(fc.array(stepArb, { maxLength: 60 }), fc.array(fc.integer(), { minLength: 1, maxLength: 100 }), fc.integer({ min: 1, max: 5 }), (steps, keys, maxHeld) => {
        const messages = history(steps, 4);
        const buffer = new CausalDelivery<string>({ maxHeld });
        const delivered: CausalMessage<string>[] = [];
        let evicted = 0;
        for (const m of arrivals(messages, [], keys)) {
          const result = buffer.receive(m);
          delivered.push(...result.delivered);
          if (result.evicted !== undefined) evicted++;
          assert.ok(buffer.heldCount <= maxHeld);
        }
        const seen = new Set(delivered.map((m) => m.payload));
        assert.equal(seen.size, delivered.length, 'no message twice');
        // A released message's whole causal past was released before it.
        delivered.forEach((m, i) => {
          for (const x of messages) if (x.clock.compare(m.clock) === 'before') assert.ok(delivered.slice(0, i).includes(x), `${x.payload} before ${m.payload}`);
        });
        assert.equal(delivered.length + buffer.heldCount + evicted, messages.length);
      }),
      { numRuns: 300 },
    );
  });
});
