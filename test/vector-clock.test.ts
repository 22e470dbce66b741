/** Vector clocks: examples, the partial-order and join laws as properties, and the untrusted-input guard. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { nodeId, type NodeId } from '../src/core/ids.js';
import { packr } from '../src/crdt/data.js';
import { MAX_CLOCK_ENTRIES, VectorClock, compareClocks, isVectorClockEntries, mergeClocks } from '../src/causal/vector-clock.js';

const [a, b, c] = ['a', 'b', 'c'].map(nodeId) as [NodeId, NodeId, NodeId];
const vc = (object: Record<string, number>): VectorClock => VectorClock.fromObject(object);

describe('vector clock examples', () => {
  test('zero entries are omitted and absent nodes read as 0', () => {
    const clock = vc({ a: 2, b: 0 });
    assert.equal(clock.size, 1);
    assert.equal(clock.get(a), 2);
    assert.equal(clock.get(b), 0);
    assert.deepEqual(clock.toEntries(), [['a', 2]]);
    assert.ok(vc({ a: 0 }).equals(VectorClock.ZERO));
    assert.equal(vc({}), VectorClock.ZERO);
  });

  test('compare: before, after, equal, concurrent', () => {
    assert.equal(vc({ a: 1 }).compare(vc({ a: 2 })), 'before');
    assert.equal(vc({ a: 2, b: 1 }).compare(vc({ a: 1, b: 1 })), 'after');
    assert.equal(vc({ a: 1, b: 3 }).compare(vc({ b: 3, a: 1 })), 'equal');
    assert.equal(vc({ a: 1 }).compare(vc({ b: 1 })), 'concurrent');
    assert.equal(vc({ a: 2, b: 1 }).compare(vc({ a: 1, b: 2 })), 'concurrent');
    assert.equal(VectorClock.ZERO.compare(vc({ c: 1 })), 'before');
    // Same nodes, one entry higher: before, and not equal (a regression: equals once compared sizes and ≤ only).
    assert.equal(vc({ a: 1, b: 1, d: 1 }).compare(vc({ a: 1, b: 1, d: 2 })), 'before');
    assert.equal(vc({ a: 1, b: 1, d: 1 }).equals(vc({ a: 1, b: 1, d: 2 })), false);
    assert.equal(compareClocks(vc({ a: 1, c: 1 }), vc({ a: 1 })), 'after');
  });

  test('increment, with, merge never change their operands', () => {
    const base = vc({ a: 1, b: 2 });
    const incremented = base.increment(c).increment(a);
    assert.deepEqual(incremented.toObject(), Object.assign(Object.create(null), { a: 2, b: 2, c: 1 }));
    assert.deepEqual(base.toEntries(), [['a', 1], ['b', 2]]);
    assert.deepEqual(base.with(b, 0).toEntries(), [['a', 1]]);
    const merged = mergeClocks(base, vc({ b: 1, c: 5 }));
    assert.deepEqual(merged.toEntries(), [['a', 1], ['b', 2], ['c', 5]]);
    assert.deepEqual(base.toEntries(), [['a', 1], ['b', 2]]);
    // An operand that already is the maximum is returned as is.
    assert.equal(base.merge(vc({ a: 1 })), base);
    assert.equal(VectorClock.ZERO.merge(base), base);
  });

  test('bad counters and ids are refused', () => {
    assert.throws(() => vc({ a: -1 }), RangeError);
    assert.throws(() => vc({ a: 1.5 }), RangeError);
    assert.throws(() => vc({ '': 1 }), RangeError);
    assert.throws(() => VectorClock.of([['a', 1], ['a', 2]]), RangeError);
    assert.throws(() => vc({ a: Number.MAX_SAFE_INTEGER }).increment(a), RangeError);
  });

  test('ids that are object-prototype names stay data', () => {
    const clock = VectorClock.of([['__proto__', 3], ['constructor', 1]]);
    assert.equal(clock.get(nodeId('__proto__')), 3);
    assert.equal(VectorClock.ZERO.get(nodeId('constructor')), 0);
    const decoded = VectorClock.decode(packr.unpack(packr.pack(clock.toEntries())));
    assert.ok(decoded?.equals(clock));
    assert.equal(Object.keys(clock.toObject()).length, 2);
  });

  test('toString is readable and sorted', () => {
    assert.equal(vc({ b: 2, a: 1 }).toString(), '{a:1, b:2}');
  });
});

describe('the wire-form guard', () => {
  test('accepts what toEntries produces, after a msgpack round trip', () => {
    const clock = vc({ n3: 7, n1: 1, n2: 40 });
    const wire: unknown = packr.unpack(packr.pack(clock.toEntries()));
    assert.ok(isVectorClockEntries(wire));
    assert.ok(VectorClock.decode(wire)?.equals(clock));
  });

  test('refuses everything else', () => {
    const bad: unknown[] = [
      null,
      {},
      { a: 1 },
      [['a']],
      [['a', 0]],
      [['a', -1]],
      [['a', 1.5]],
      [['a', Number.MAX_SAFE_INTEGER + 1]],
      [['a', '1']],
      [['', 1]],
      [[1, 1]],
      [['b', 1], ['a', 1]], // not sorted
      [['a', 1], ['a', 2]], // twice
      [['a', 1, 2]],
      [['x'.repeat(1025), 1]],
      Array.from({ length: MAX_CLOCK_ENTRIES + 1 }, (_, i) => [`n${String(i).padStart(5, '0')}`, 1]),
    ];
    for (const value of bad) {
      assert.equal(isVectorClockEntries(value), false, JSON.stringify(value)?.slice(0, 80));
      assert.equal(VectorClock.decode(value), undefined);
    }
  });

  test('any value: the guard never throws, and what it accepts decodes to a clock that encodes back the same', () => {
    fc.assert(
      fc.property(fc.oneof(fc.anything(), fc.array(fc.tuple(fc.string(), fc.integer()))), (value) => {
        const ok = isVectorClockEntries(value);
        if (ok) assert.deepEqual(VectorClock.decode(value)?.toEntries(), value);
      }),
      { numRuns: 2000 },
    );
  });
});

// ---- properties ------------------------------------------------------------------------------------------

/** Clocks over a small set of nodes with small counters, so that every relation turns up often. */
const clockArb: fc.Arbitrary<VectorClock> = fc
  .dictionary(fc.constantFrom('a', 'b', 'c', 'd'), fc.integer({ min: 0, max: 3 }), { maxKeys: 4 })
  .map((object) => VectorClock.fromObject(object));
const nodeArb = fc.constantFrom(a, b, c, nodeId('d'), nodeId('e'));

const converse = { before: 'after', after: 'before', equal: 'equal', concurrent: 'concurrent' } as const;

describe('vector clock laws', () => {
  test('compare is antisymmetric: compare(x, y) is the converse of compare(y, x); equal means equal entries', () => {
    fc.assert(
      fc.property(clockArb, clockArb, (x, y) => {
        assert.equal(y.compare(x), converse[x.compare(y)]);
        assert.equal(x.compare(y) === 'equal', x.equals(y));
        assert.equal(x.compare(y) === 'equal', JSON.stringify(x.toEntries()) === JSON.stringify(y.toEntries()));
      }),
      { numRuns: 2000 },
    );
  });

  test('compare is a partial order: reflexive and transitive', () => {
    fc.assert(
      fc.property(clockArb, clockArb, clockArb, (x, y, z) => {
        assert.equal(x.compare(x), 'equal');
        if (x.leq(y) && y.leq(z)) assert.ok(x.leq(z));
        // Strict order is transitive too.
        if (x.compare(y) === 'before' && y.compare(z) === 'before') assert.equal(x.compare(z), 'before');
      }),
    );
  });

  test('merge is a join: an upper bound of both, the least one, commutative, associative, idempotent', () => {
    fc.assert(
      fc.property(clockArb, clockArb, clockArb, (x, y, z) => {
        const m = x.merge(y);
        assert.ok(x.leq(m) && y.leq(m));
        // Least: any upper bound of both is above the merge.
        const upper = z.merge(x).merge(y);
        assert.ok(m.leq(upper));
        if (x.leq(z) && y.leq(z)) assert.ok(m.leq(z));
        assert.ok(m.equals(y.merge(x)));
        assert.ok(x.merge(y).merge(z).equals(x.merge(y.merge(z))));
        assert.ok(x.merge(x).equals(x));
        // The order and the join agree: x ≤ y exactly when merging x into y changes nothing.
        assert.equal(x.leq(y), x.merge(y).equals(y));
      }),
    );
  });

  test('increment moves strictly after, and only in its own entry', () => {
    fc.assert(
      fc.property(clockArb, clockArb, nodeArb, (x, y, node) => {
        const next = x.increment(node);
        assert.equal(x.compare(next), 'before');
        assert.equal(next.get(node), x.get(node) + 1);
        for (const other of [a, b, c]) if (other !== node) assert.equal(next.get(other), x.get(other));
        // An event after a receive is after both the sender's and the receiver's clocks.
        const received = x.merge(y).increment(node);
        assert.equal(x.compare(received), 'before');
        assert.equal(y.compare(received), 'before');
        // Two nodes that increment the same clock independently are concurrent.
        const other = node === a ? b : a;
        assert.equal(x.increment(node).compare(x.increment(other)), 'concurrent');
      }),
    );
  });

  test('the wire form round-trips and is canonical', () => {
    fc.assert(
      fc.property(clockArb, (x) => {
        const wire: unknown = packr.unpack(packr.pack(x.toEntries()));
        assert.ok(isVectorClockEntries(wire));
        const back = VectorClock.decode(wire);
        assert.ok(back !== undefined && back.equals(x));
        assert.deepEqual(VectorClock.fromObject(x.toObject()).toEntries(), x.toEntries());
      }),
    );
  });
});
