import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { CausalContext, DotFun, DotMap, DotSet, type Dot } from '../src/crdt/index.js';

const REPLICAS = ['a', 'b', 'c'] as const;
const dotArb: fc.Arbitrary<Dot> = fc.record({
  replica: fc.constantFrom(...REPLICAS),
  counter: fc.integer({ min: 1, max: 12 }),
});

/** The naive model: a context is a set of dots. */
function model(dots: readonly Dot[]): Set<string> {
  return new Set(dots.map((d) => `${d.replica}:${d.counter}`));
}

function build(dots: readonly Dot[]): CausalContext {
  const ctx = new CausalContext();
  for (const dot of dots) ctx.add(dot);
  return ctx;
}

/** Compact means: no cloud dot is covered by, or contiguous to, its replica's version vector entry. */
function assertCompact(ctx: CausalContext): void {
  const vv = ctx.versionVector();
  for (const top of vv.values()) assert.ok(top > 0);
  for (const dot of ctx.cloudDots()) {
    const folded = dot.counter <= (vv.get(dot.replica) ?? 0) + 1;
    assert.ok(!folded, `cloud dot ${dot.replica}:${dot.counter} should have been folded in ${ctx}`);
  }
}

function assertMatchesModel(ctx: CausalContext, expected: Set<string>): void {
  for (const replica of REPLICAS) {
    for (let counter = 1; counter <= 14; counter++) {
      const name = `${replica}:${counter}`;
      assert.equal(ctx.contains(replica, counter), expected.has(name), `${name} in ${ctx}`);
    }
  }
}

describe('CausalContext', () => {
  test('dots added in order fold into the version vector; gaps stay in the cloud until filled', () => {
    const ctx = new CausalContext();
    ctx.add({ replica: 'a', counter: 1 }).add({ replica: 'a', counter: 3 }).add({ replica: 'a', counter: 4 });
    assert.equal(ctx.versionVector().get('a'), 1);
    assert.deepEqual(ctx.cloudDots(), [{ replica: 'a', counter: 3 }, { replica: 'a', counter: 4 }]);
    ctx.add({ replica: 'a', counter: 2 });
    assert.equal(ctx.versionVector().get('a'), 4);
    assert.equal(ctx.cloudSize(), 0);
  });

  test('next generates dots above everything seen of the replica', () => {
    const ctx = new CausalContext();
    assert.deepEqual(ctx.next('a'), { replica: 'a', counter: 1 });
    ctx.add({ replica: 'a', counter: 5 });
    assert.deepEqual(ctx.next('a'), { replica: 'a', counter: 6 });
    assert.ok(ctx.contains('a', 6));
    assert.throws(() => ctx.next(''), TypeError);
  });

  test('fromParts compacts raw input', () => {
    const cloud = [
      { replica: 'a', counter: 1 },
      { replica: 'a', counter: 3 },
      { replica: 'b', counter: 2 },
    ];
    const ctx = CausalContext.fromParts([['a', 2]], cloud);
    assert.equal(ctx.versionVector().get('a'), 3);
    assert.deepEqual(ctx.cloudDots(), [{ replica: 'b', counter: 2 }]);
    assert.throws(() => CausalContext.fromParts([['a', 0]], []), RangeError);
    assert.throws(() => CausalContext.fromParts([], [{ replica: 'a', counter: 1.5 }]), RangeError);
  });

  test('agrees with the set-of-dots model, stays compact and canonical (property)', () => {
    fc.assert(
      fc.property(fc.array(dotArb, { maxLength: 40 }), fc.array(dotArb, { maxLength: 40 }), (xs, ys) => {
        const a = build(xs);
        const b = build(ys);
        assertCompact(a);
        assertMatchesModel(a, model(xs));
        const joined = a.clone().join(b);
        assertCompact(joined);
        assertMatchesModel(joined, model([...xs, ...ys]));
        // Canonical: the same set built in another order is equal, and equality is set equality.
        assert.ok(build([...ys, ...xs].reverse()).equals(joined));
        const sameSet = [...model(xs)].every((d) => model(ys).has(d)) && model(xs).size === model(ys).size;
        assert.equal(a.equals(b), sameSet);
        // next is fresh.
        const fresh = a.clone().next('b');
        assert.ok(!a.contains(fresh.replica, fresh.counter));
      }),
      { numRuns: 300 },
    );
  });

  test('join is associative, commutative and idempotent (property)', () => {
    const ctxArb = fc.array(dotArb, { maxLength: 30 }).map(build);
    fc.assert(
      fc.property(ctxArb, ctxArb, ctxArb, (a, b, c) => {
        assert.ok(a.clone().join(b).equals(b.clone().join(a)));
        assert.ok(a.clone().join(b).join(c).equals(a.clone().join(b.clone().join(c))));
        assert.ok(a.clone().join(a).equals(a));
        assert.ok(a.clone().join(a.clone()).equals(a));
      }),
      { numRuns: 200 },
    );
  });
});

describe('dot stores', () => {
  const ctxOf = (...dots: [string, number][]): CausalContext =>
    build(dots.map(([replica, counter]) => ({ replica, counter })));
  const d = (replica: string, counter: number): Dot => ({ replica, counter });

  test('DotSet join keeps common dots and dots the other side has not seen', () => {
    // a saw a:1, a:2 and kept a:2; b saw a:1, b:1 and kept both.
    const a = new DotSet().add(d('a', 2));
    const b = new DotSet().add(d('a', 1)).add(d('b', 1));
    a.join(b, ctxOf(['a', 1], ['a', 2]), ctxOf(['a', 1], ['b', 1]));
    assert.deepEqual(a.sorted(), [d('a', 2), d('b', 1)]);
  });

  test('DotFun join drops entries the other context removed', () => {
    const a = new DotFun<string>().set(d('a', 1), 'x');
    const b = new DotFun<string>().set(d('b', 1), 'y');
    a.join(b, ctxOf(['a', 1]), ctxOf(['a', 1], ['b', 1]));
    assert.deepEqual(a.sorted().map((e) => e.value), ['y']);
  });

  test('DotMap join drops keys whose store empties and imports unseen keys as copies', () => {
    const a = new DotMap<string, DotSet>(() => new DotSet()).set('k', new DotSet().add(d('a', 1)));
    const bk = new DotSet().add(d('b', 1));
    const b = new DotMap<string, DotSet>(() => new DotSet()).set('j', bk);
    a.join(b, ctxOf(['a', 1]), ctxOf(['a', 1], ['b', 1]));
    assert.deepEqual([...a.keys()], ['j']);
    assert.notEqual(a.get('j'), bk, 'imported stores are copies');
  });
});
