/** Split derivation and lookup, against a brute-force model: for every position, the covering registrations. */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Prng } from '../src/core/prng.js';
import {
  InvalidRangeError,
  KEY_SPACE_SIZE,
  MAX_POSITION,
  type Registration,
  Topology,
  compareServing,
} from '../src/ranges/index.js';

/** The nodes serving `position`, by definition: covering registrations, best first, one per node. */
function modelLookup(regs: readonly Registration[], position: number): Registration[] {
  const covering = regs.filter((r) => r.start <= position && position < r.end);
  covering.sort(compareServing); // stable: exact ties keep input order
  const seen = new Set<string>();
  return covering.filter((r) => !seen.has(r.node) && seen.add(r.node) !== undefined);
}

/** The subranges by definition: every pair of consecutive bounds whose left end is covered. */
function modelSubranges(regs: readonly Registration[]): { start: number; end: number; nodes: Registration[] }[] {
  const points = [...new Set(regs.flatMap((r) => [r.start, r.end]))].sort((a, b) => a - b);
  const result = [];
  for (let i = 0; i + 1 < points.length; i++) {
    const start = points[i] as number;
    const nodes = modelLookup(regs, start);
    if (nodes.length > 0) result.push({ start, end: points[i + 1] as number, nodes });
  }
  return result;
}

/** Bounds crowd a few small values (so ranges overlap and share ends) plus the edges of the key space. */
const boundArb = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 0, max: 24 }) },
  { weight: 1, arbitrary: fc.constantFrom(MAX_POSITION - 1, MAX_POSITION, KEY_SPACE_SIZE) },
);
const registrationArb: fc.Arbitrary<Registration> = fc
  .record({
    node: fc.constantFrom('a', 'b', 'c', 'd', 'B'),
    x: boundArb,
    y: boundArb,
    priority: fc.integer({ min: -2, max: 4 }),
    meta: fc.constantFrom(null, 'addr', 7),
  })
  .filter(({ x, y }) => x !== y)
  .map(({ node, x, y, priority, meta }) => ({ node, start: Math.min(x, y), end: Math.max(x, y), priority, meta }));

/** Positions worth probing: every bound, its neighbours, the edges. */
function probes(regs: readonly Registration[]): number[] {
  const points = new Set<number>([0, MAX_POSITION, 13]);
  for (const r of regs) {
    for (const p of [r.start - 1, r.start, r.start + 1, r.end - 1, r.end, r.end + 1]) {
      if (p >= 0 && p <= MAX_POSITION) points.add(p);
    }
  }
  return [...points];
}

describe('split derivation', () => {
  test('subranges equal the brute-force model', () => {
    fc.assert(
      fc.property(fc.array(registrationArb, { maxLength: 14 }), (regs) => {
        const topology = Topology.derive(regs);
        assert.deepStrictEqual(topology.subranges, modelSubranges(regs));
      }),
      { numRuns: 500 },
    );
  });

  test('lookup equals the brute-force model at every bound, its neighbours and the edges', () => {
    fc.assert(
      fc.property(fc.array(registrationArb, { maxLength: 14 }), (regs) => {
        const topology = Topology.derive(regs);
        for (const p of probes(regs)) {
          const got = topology.lookup(p);
          const want = modelLookup(regs, p);
          assert.equal(got.length, want.length, `at ${p}`);
          got.forEach((r, i) => assert.equal(r, want[i], `at ${p}`)); // the same registration objects
        }
      }),
      { numRuns: 500 },
    );
  });

  test('subranges are ordered, disjoint, non-empty, cut only at bounds, and never repeat a node', () => {
    fc.assert(
      fc.property(fc.array(registrationArb, { maxLength: 14 }), (regs) => {
        const { subranges } = Topology.derive(regs);
        const bounds = new Set(regs.flatMap((r) => [r.start, r.end]));
        let previousEnd = -1;
        for (const s of subranges) {
          assert.ok(s.start < s.end && s.start >= previousEnd);
          assert.ok(bounds.has(s.start) && bounds.has(s.end));
          assert.ok(s.nodes.length > 0);
          assert.equal(new Set(s.nodes.map((r) => r.node)).size, s.nodes.length);
          for (let i = 1; i < s.nodes.length; i++) {
            assert.ok(compareServing(s.nodes[i - 1] as Registration, s.nodes[i] as Registration) < 0);
          }
          previousEnd = s.end;
        }
      }),
      { numRuns: 300 },
    );
  });

  test('does not depend on the order of the registrations', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(registrationArb, { maxLength: 12, selector: (r) => `${r.node} ${r.start} ${r.end}` }),
        fc.integer(),
        (regs, seed) => {
          const prng = new Prng(seed);
          const shuffled = [...regs];
          for (let i = shuffled.length - 1; i > 0; i--) {
            const j = prng.int(0, i);
            [shuffled[i], shuffled[j]] = [shuffled[j] as Registration, shuffled[i] as Registration];
          }
          assert.deepStrictEqual(Topology.derive(shuffled).subranges, Topology.derive(regs).subranges);
        },
      ),
    );
  });
});

describe('topology examples', () => {
  const reg = (node: string, start: number, end: number, priority = 1, meta: Registration['meta'] = null): Registration => ({
    node,
    start,
    end,
    priority,
    meta,
  });

  test('cuts at every start and end, orders by priority then node id, leaves gaps out', () => {
    const a = reg('a', 0, 100, 1);
    const b = reg('b', 50, 150, 3);
    const c = reg('c', 200, 300, 1);
    const a2 = reg('a', 50, 60, 1);
    const t = Topology.derive([a, b, c, a2]);
    assert.deepStrictEqual(
      t.subranges.map((s) => [s.start, s.end, s.nodes.map((r) => r.node)]),
      [
        [0, 50, ['a']],
        [50, 60, ['b', 'a']],
        [60, 100, ['b', 'a']],
        [100, 150, ['b']],
        [200, 300, ['c']],
      ],
    );
    assert.deepStrictEqual(t.splitPoints(), [0, 50, 60, 100, 150, 200, 300]);
    assert.deepStrictEqual(t.lookup(170), []);
    assert.deepStrictEqual(t.lookup(150), []);
    assert.equal(t.lookup(149)[0], b);
    assert.equal(t.subrangeAt(55)?.start, 50);
    // a covers [50, 60) twice at equal priority: the registration with the smaller start represents it.
    assert.equal(t.lookup(55)[1], a);
  });

  test('equal priorities are ordered by node id in code-unit order', () => {
    const t = Topology.derive([reg('b', 0, 10), reg('a', 0, 10), reg('B', 0, 10), reg('c', 0, 10, 2)]);
    assert.deepStrictEqual(
      t.lookup(5).map((r) => r.node),
      ['c', 'B', 'a', 'b'],
    );
  });

  test('the whole key space and its last position', () => {
    const whole = reg('a', 0, KEY_SPACE_SIZE);
    const t = Topology.derive([whole]);
    assert.equal(t.lookup(MAX_POSITION)[0], whole);
    assert.equal(t.lookup(0)[0], whole);
    assert.throws(() => t.lookup(KEY_SPACE_SIZE), InvalidRangeError);
    assert.deepStrictEqual(Topology.derive([]).subranges, []);
  });

  test('rejects invalid registrations', () => {
    assert.throws(() => Topology.derive([reg('a', 5, 5)]), InvalidRangeError);
    assert.throws(() => Topology.derive([reg('', 0, 5)]), TypeError);
    assert.throws(() => Topology.derive([reg('a', 0, 5, Number.NaN)]), RangeError);
  });

  test('thousands of registrations derive to what the model looks up', () => {
    const prng = new Prng(7);
    const regs: Registration[] = [];
    for (let i = 0; i < 5000; i++) {
      const start = prng.int(0, MAX_POSITION - 1);
      const length = prng.int(1, 2 ** 24);
      regs.push(reg(`n${prng.int(0, 199)}`, start, Math.min(KEY_SPACE_SIZE, start + length), prng.int(1, 9)));
    }
    // How fast this is belongs in a benchmark; a timed assertion here would fail on a busy machine.
    const t = Topology.derive(regs);
    assert.ok(t.subranges.length > 5000);
    for (let i = 0; i < 200; i++) {
      const p = prng.int(0, MAX_POSITION);
      assert.deepStrictEqual(t.lookup(p), modelLookup(regs, p));
    }
  });
});
