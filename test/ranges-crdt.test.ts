/**
 * The group state as a delta-state CRDT, over random histories of several nodes (two of them also running a
 * second incarnation) that mutate, ship deltas through the codec (reordered, duplicated, some late) and ship
 * whole states: lattice laws, delta = mutation, convergence of every group's topology, bounded state.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Prng } from '../src/core/prng.js';
import { type PlainData, encode } from '../src/crdt/index.js';
import {
  type ActorLike,
  GroupState,
  KEY_SPACE_SIZE,
  NotMemberError,
  type RangesCrdt,
  UnknownGroupError,
  actor,
  decodeRanges,
  isEmptyDelta,
} from '../src/ranges/index.js';

const GROUPS = ['g1', 'g2'] as const;
const RANGES: readonly (readonly [number, number])[] = [
  [0, 10],
  [5, 15],
  [10, 20],
  [0, KEY_SPACE_SIZE],
  [15, 16],
  [2 ** 31, KEY_SPACE_SIZE],
];
const METAS: readonly PlainData[] = [null, 'addr:1', { port: 7 }, 3];

interface Replica {
  readonly by: ActorLike;
  readonly state: GroupState;
}

/** n replicas: nodes a, b, c, … plus, from four replicas on, second incarnations of a and b. */
function replicas(n: number): Replica[] {
  const actors: ActorLike[] = ['a', 'b', 'c', actor('a', 2), actor('b', 2)];
  return actors.slice(0, n).map((by) => ({ by, state: new GroupState() }));
}

/** One random operation; undefined if the replica's state makes it illegal (unknown group, not a member). */
function randomOp(prng: Prng, replica: Replica): RangesCrdt | undefined {
  const { by, state } = replica;
  const group = prng.pick(GROUPS);
  const [start, end] = prng.pick(RANGES);
  const amount = prng.int(1, 3);
  const roll = prng.float();
  try {
    if (roll < 0.15) return state.join(by, group);
    if (roll < 0.2) return state.leave(by, group);
    if (roll < 0.45) return state.register(by, group, start, end, prng.pick(METAS));
    if (roll < 0.55) return state.release(by, group, start, end);
    if (roll < 0.8) return state.increase(by, group, start, end, amount);
    return state.decrease(by, group, start, end, amount);
  } catch (error) {
    if (error instanceof UnknownGroupError || error instanceof NotMemberError) return undefined;
    throw error;
  }
}

/** Through the codec, checking that it round-trips. */
function wire(delta: RangesCrdt): RangesCrdt {
  const copy = decodeRanges(encode(delta));
  assert.ok(copy.equals(delta), 'the codec round-trips');
  return copy;
}

interface History {
  readonly replicas: Replica[];
  /** Every delta produced, in production order. */
  readonly deltas: RangesCrdt[];
  /** Snapshots of replica states along the way. */
  readonly snapshots: GroupState[];
}

/**
 * A random history: operations, each checked against delta = mutation; deliveries of random deltas (any
 * order, duplicates, some never until the end); now and then a whole state shipped.
 */
function runHistory(seed: number, count: number, steps: number): History {
  const prng = new Prng(seed);
  const rs = replicas(count);
  const deltas: RangesCrdt[] = [];
  const snapshots: GroupState[] = [];
  for (let step = 0; step < steps; step++) {
    const roll = prng.float();
    if (roll < 0.55) {
      const replica = prng.pick(rs);
      const before = replica.state.clone();
      const delta = randomOp(prng, replica);
      if (delta === undefined) {
        assert.ok(replica.state.equals(before), 'a refused operation changes nothing');
        continue;
      }
      // Delta = mutation: the new state is the old one joined with the delta.
      assert.ok(before.merge(delta).equals(replica.state), 'mutation = state ⊔ delta');
      deltas.push(wire(delta));
    } else if (roll < 0.93) {
      if (deltas.length === 0) continue;
      prng.pick(rs).state.merge(prng.pick(deltas).clone());
    } else {
      const from = prng.pick(rs);
      prng.pick(rs).state.merge(wire(from.state.crdt));
    }
    if (prng.chance(0.15)) snapshots.push(prng.pick(rs).state.clone());
  }
  return { replicas: rs, deltas, snapshots };
}

/** Delivers every delta to every replica, each in its own random order, some twice. */
function deliverAll(prng: Prng, history: History): void {
  for (const { state } of history.replicas) {
    const order = [...history.deltas, ...history.deltas.filter(() => prng.chance(0.2))];
    for (let i = order.length - 1; i > 0; i--) {
      const j = prng.int(0, i);
      [order[i], order[j]] = [order[j] as RangesCrdt, order[i] as RangesCrdt];
    }
    for (const delta of order) state.merge(delta.clone());
  }
}

/** The reads of every group, for comparing replicas. */
function reads(state: GroupState): unknown {
  return state.groups().map((g) => ({
    group: g,
    members: state.members(g),
    registrations: state.registrations(g),
    subranges: state.topology(g).subranges,
  }));
}

const seedArb = fc.integer({ min: 0, max: 0x7fffffff });

describe('lattice laws on states reached by random histories', () => {
  test('join is commutative, associative and idempotent', () => {
    fc.assert(
      fc.property(seedArb, fc.integer({ min: 3, max: 5 }), (seed, count) => {
        const { snapshots, replicas: rs } = runHistory(seed, count, 60);
        const pool = [...snapshots, ...rs.map((r) => r.state), new GroupState()];
        const prng = new Prng(seed ^ 0x5bd1e995);
        for (let i = 0; i < 6; i++) {
          const x = prng.pick(pool);
          const y = prng.pick(pool);
          const z = prng.pick(pool);
          assert.ok(x.clone().merge(y).equals(y.clone().merge(x)), 'commutative');
          assert.ok(x.clone().merge(y).merge(z).equals(x.clone().merge(y.clone().merge(z))), 'associative');
          assert.ok(x.clone().merge(x).equals(x), 'idempotent');
          assert.ok(x.clone().merge(new GroupState()).equals(x), 'bottom is the identity');
          // The join reads the same whichever side it was computed on.
          assert.deepStrictEqual(reads(x.clone().merge(y)), reads(y.clone().merge(x)));
        }
      }),
      { numRuns: 60 },
    );
  });

  test('every mutation equals the join of the old state with its delta (checked at each step)', () => {
    fc.assert(
      fc.property(seedArb, (seed) => {
        const { deltas } = runHistory(seed, 5, 120);
        assert.ok(deltas.length > 0);
      }),
      { numRuns: 40 },
    );
  });

  test('a delta joined anywhere moves that replica up by exactly the delta', () => {
    fc.assert(
      fc.property(seedArb, (seed) => {
        const { replicas: rs } = runHistory(seed, 4, 60);
        const prng = new Prng(seed + 1);
        const [x, y] = [prng.pick(rs), prng.pick(rs)];
        const delta = randomOp(prng, x);
        if (delta === undefined) return;
        // y ⊔ (x ⊔ δ) = (y ⊔ x) ⊔ δ, and joining δ again changes nothing.
        const left = y.state.clone().merge(x.state);
        const right = y.state.clone().merge(x.state.clone()).merge(delta);
        assert.ok(left.equals(right));
        assert.ok(right.clone().merge(delta).equals(right));
      }),
      { numRuns: 60 },
    );
  });
});

describe('convergence', () => {
  test('3–5 replicas exchanging deltas in random order, with duplicates, end with identical topologies', () => {
    fc.assert(
      fc.property(seedArb, fc.integer({ min: 3, max: 5 }), (seed, count) => {
        const history = runHistory(seed, count, 150);
        deliverAll(new Prng(seed ^ 0x1234567), history);
        const [first, ...rest] = history.replicas.map((r) => r.state);
        const expected = reads(first as GroupState);
        for (const state of rest) {
          assert.ok(state.equals(first as GroupState), 'equal states');
          assert.deepStrictEqual(reads(state), expected, 'equal groups, members, registrations, topologies');
        }
        for (const state of history.replicas.map((r) => r.state)) {
          assert.equal(state.crdt.context.cloudSize(), 0, 'the causal context is compact once every delta arrived');
        }
      }),
      { numRuns: 60 },
    );
  });

  test('after every node leaves every group, nothing but version vectors remains', () => {
    fc.assert(
      fc.property(seedArb, (seed) => {
        const history = runHistory(seed, 5, 150);
        const prng = new Prng(seed);
        deliverAll(prng, history);
        const leaves: RangesCrdt[] = [];
        for (const { by, state } of history.replicas) {
          for (const group of state.groups()) leaves.push(state.leave(by, group));
        }
        for (const { state } of history.replicas) for (const d of leaves) state.merge(wire(d));
        for (const { state } of history.replicas) {
          assert.deepStrictEqual(state.groups(), []);
          assert.equal(state.crdt.size, 0);
          let dots = 0;
          state.crdt.store.forEachDot(() => dots++);
          assert.equal(dots, 0);
          // A version vector entry per replica id (5 here), nothing else.
          assert.ok(state.encode().length <= 16 + 5 * 12, `${state.encode().length} bytes`);
        }
      }),
      { numRuns: 30 },
    );
  });
});

describe('bounded state', () => {
  /** Bytes of the encoded state. */
  const size = (state: GroupState): number => state.encode().length;

  test('register/increase/release cycles do not grow the state', () => {
    const prng = new Prng(42);
    const s = new GroupState();
    s.join('a', 'g');
    s.register('a', 'g', 0, 1000, 'keep');
    const baseline = size(s);
    for (let i = 0; i < 3000; i++) {
      const start = prng.int(0, 1_000_000);
      const end = start + prng.int(1, 1000);
      s.register('a', 'g', start, end, { host: 'a', i });
      s.increase('a', 'g', start, end, prng.int(1, 5));
      if (prng.chance(0.5)) s.release('a', 'g', start, end);
      else s.decrease('a', 'g', start, end, 100);
    }
    assert.equal(s.registrations('g').length, 1);
    // Only the version vector's counter grew (a few bytes in msgpack).
    assert.ok(size(s) <= baseline + 4, `${size(s)} bytes after the cycles, ${baseline} before`);
  });

  test('with several replicas and reordered delivery, released state leaves no trace once delivered', () => {
    const prng = new Prng(9);
    const nodes = ['a', 'b', 'c'];
    const states = nodes.map(() => new GroupState());
    const inFlight: RangesCrdt[] = [];
    const send = (from: number, delta: RangesCrdt): void => {
      states[from]?.merge(delta);
      if (!isEmptyDelta(delta)) inFlight.push(wire(delta));
    };
    nodes.forEach((n, i) => send(i, (states[i] as GroupState).join(n, 'g')));
    const baselines: number[] = [];
    for (let round = 0; round < 400; round++) {
      const i = prng.int(0, 2);
      const node = nodes[i] as string;
      const s = states[i] as GroupState;
      const start = prng.int(0, 100) * 10;
      send(i, s.register(node, 'g', start, start + 10, node));
      send(i, s.increase(node, 'g', start, start + 10, 2));
      send(i, s.release(node, 'g', start, start + 10));
      // Deliver a random part of what is in flight, in random order.
      while (inFlight.length > 0 && prng.chance(0.7)) {
        const k = prng.int(0, inFlight.length - 1);
        (states[prng.int(0, 2)] as GroupState).merge((inFlight[k] as RangesCrdt).clone());
        if (prng.chance(0.8)) inFlight.splice(k, 1);
      }
      if (round === 10) baselines.push(...states.map(size));
    }
    for (const d of inFlight) for (const s of states) s.merge(d.clone());
    // Everyone has everything: re-deliver the whole states to be sure, then compare.
    for (const s of states) for (const t of states) s.merge(t.crdt);
    for (const s of states) {
      assert.ok(s.equals(states[0] as GroupState));
      assert.deepStrictEqual(s.registrations('g'), []);
      assert.deepStrictEqual(s.members('g'), nodes);
      assert.equal(s.crdt.context.cloudSize(), 0);
      let dots = 0;
      s.crdt.store.forEachDot(() => dots++);
      assert.equal(dots, 3, 'one membership dot per node');
      assert.ok(size(s) < 120, `${size(s)} bytes`);
    }
  });

  test('departed members leave only their version-vector entry behind', () => {
    const s = new GroupState();
    s.join('stay', 'g');
    const before = size(s);
    for (let i = 0; i < 200; i++) {
      const node = `n${i}`;
      s.join(node, 'g');
      s.register(node, 'g', i, i + 100, { port: 9000 + i });
      s.increase(node, 'g', i, i + 50, 3);
      s.leave(node, 'g');
    }
    assert.deepStrictEqual(s.members('g'), ['stay']);
    const perDeparted = (size(s) - before) / 200;
    assert.ok(perDeparted <= 8, `${perDeparted} bytes per departed member`); // ~ id + counter in msgpack
  });
});
