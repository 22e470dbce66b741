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

  test('hasFewerDotsThan agrees with dotCount (property)', () => {
    fc.assert(
      fc.property(fc.array(dotArb, { maxLength: 40 }), fc.integer({ min: 0, max: 45 }), (dots, n) => {
        const ctx = build(dots);
        assert.equal(ctx.hasFewerDotsThan(n), ctx.dotCount() < n);
      }),
      { numRuns: 300 },
    );
    // It stops counting early: a context naming many replicas answers for a small bound at once.
    const wide = new CausalContext();
    for (let i = 0; i < 10_000; i++) wide.insert(`r${i}`, 1);
    assert.equal(wide.hasFewerDotsThan(1), false);
    assert.equal(wide.hasFewerDotsThan(10_001), true);
  });

  test('a context without a cloud clones, joins and compares like one whose cloud emptied', () => {
    const gappy = build([{ replica: 'a', counter: 2 }]); // a:2 waits in the cloud
    gappy.add({ replica: 'a', counter: 1 }); // and folds: the cloud is empty again
    const plain = build([{ replica: 'a', counter: 1 }, { replica: 'a', counter: 2 }]);
    assert.ok(gappy.equals(plain) && plain.equals(gappy));
    assert.ok(plain.clone().equals(gappy.clone()));
    const withCloud = build([{ replica: 'b', counter: 3 }]);
    assert.equal(plain.clone().join(withCloud).toString(), '{vv a:2 | cloud b:3}');
    assert.equal(plain.toString(), '{vv a:2}', 'joining into a clone leaves the original alone');
    assert.equal(new CausalContext().join(plain).cloudSize(), 0);
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

  /**
   * The join rule read literally, (s ∩ s') ∪ (s \ c') ∪ (s' \ c), against DotSet and DotFun, which take
   * one of two paths: scanning their own entries, or (when the other context is the smaller) enumerating
   * the other context's dots. Stores are drawn within their contexts, as in any causal state.
   */
  test('DotSet and DotFun joins follow the literal rule on both paths (property)', () => {
    const side = fc
      .tuple(fc.array(dotArb, { maxLength: 24 }), fc.array(fc.boolean(), { minLength: 24, maxLength: 24 }))
      .map(([seen, keep]) => ({ ctx: build(seen), dots: seen.filter((_, i) => keep[i] === true) }));
    const name = (x: Dot): string => `${x.replica}:${x.counter}`;
    fc.assert(
      fc.property(side, side, (mine, theirs) => {
        const expected = new Set<string>();
        const theirNames = new Set(theirs.dots.map(name));
        for (const x of mine.dots) if (theirNames.has(name(x)) || !theirs.ctx.has(x)) expected.add(name(x));
        for (const x of theirs.dots) if (!mine.ctx.has(x)) expected.add(name(x));
        const set = new DotSet();
        for (const x of mine.dots) set.add(x);
        const other = new DotSet();
        for (const x of theirs.dots) other.add(x);
        set.join(other, mine.ctx, theirs.ctx);
        assert.deepEqual(new Set([...set.values()].map(name)), expected);
        const fun = new DotFun<string>();
        for (const x of mine.dots) fun.set(x, name(x));
        const otherFun = new DotFun<string>();
        for (const x of theirs.dots) otherFun.set(x, name(x));
        fun.join(otherFun, mine.ctx, theirs.ctx);
        assert.deepEqual(new Set([...fun.values()].map((e) => e.value)), expected);
      }),
      { numRuns: 500 },
    );
  });

  test('a delta joins into a large store by its own dots: removals and additions both land', () => {
    const store = new DotSet();
    const ctx = new CausalContext();
    for (let i = 1; i <= 100; i++) store.add(ctx.next('a'));
    // A delta that removes a:7 and a:9 (its context holds them, its store does not) and adds b:1.
    const delta = new DotSet().add(d('b', 1));
    const deltaCtx = ctxOf(['a', 7], ['a', 9], ['b', 1]);
    assert.ok(deltaCtx.hasFewerDotsThan(store.size), 'the small-context path is the one taken');
    store.join(delta, ctx, deltaCtx);
    assert.equal(store.size, 99);
    assert.ok(!store.has(d('a', 7)) && !store.has(d('a', 9)) && store.has(d('b', 1)) && store.has(d('a', 8)));
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
