/**
 * Lattice laws and delta laws for every type, over states reached by random histories of three replicas
 * that mutate, ship deltas (out of order, duplicated, or never) and ship whole states.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Packr } from 'msgpackr';
import { Prng } from '../src/core/prng.js';
import {
  type AnyCausal,
  type AnyCrdt,
  type Crdt,
  type PlainData,
  AWORMap,
  AWORSet,
  CCounter,
  EWFlag,
  GCounter,
  GSet,
  LWWRegister,
  MVRegister,
  PNCounter,
  RWORSet,
  Causal,
  CausalRecord,
  DotFun,
  DotMap,
  DotRecord,
  DotSet,
  type DotStore,
  type Dot,
  decode,
  encode,
} from '../src/crdt/index.js';
import { absorbCausal, inflates } from '../src/replication/lattice.js';

const REPLICAS = ['a', 'b', 'c'] as const;

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');
/** A label for any value, null-prototype objects included (fast-check generates them). */
const label = (value: unknown): string => {
  try {
    return JSON.stringify(value) ?? 'undefined';
  } catch {
    return typeof value;
  }
};


interface Op<T> {
  readonly label: string;
  /** Mutates `state` as `replica` and returns the delta. */
  readonly run: (state: T, replica: string) => T;
}

interface Harness<T extends AnyCrdt & Crdt<T>> {
  readonly name: string;
  readonly create: () => T;
  readonly op: fc.Arbitrary<Op<T>>;
  /** Draws an operation from a Prng, for long histories without fast-check's generation overhead. */
  readonly draw: (prng: Prng) => Op<T>;
  readonly causal: boolean;
  /** Causal types: how many places can hold dots (elements × keys); each holds at most one per replica. */
  readonly slots?: number;
  /** Longest generated history (wide key spaces need longer ones to fill up). */
  readonly steps?: number;
  /** Whether format 1 of the codec can hold the type (records are new in format 2). */
  readonly format1?: boolean;
}

function op<T>(label: string, run: (state: T, replica: string) => T): Op<T> {
  return { label, run };
}

const ELEMENTS = ['w', 'x', 'y', 'z'] as const;
/** Enough elements that states outgrow delta contexts, so joins take the owner-index path. */
const WIDE = Array.from({ length: 24 }, (_, i) => `e${i}`);
const KEYS = ['k1', 'k2', 'k3'] as const;
const elementArb = fc.constantFrom(...ELEMENTS);
const amountArb = fc.integer({ min: -4, max: 6 });
const valueArb: fc.Arbitrary<PlainData> = fc.oneof(
  fc.integer({ min: -3, max: 3 }),
  fc.constantFrom('p', 'q', null, true),
  fc.double({ noDefaultInfinity: true }),
  fc.record({ n: fc.integer({ min: 0, max: 2 }), s: fc.constantFrom('u', 'v') }),
  fc.uint8Array({ maxLength: 3 }),
  fc.array(fc.integer({ min: 0, max: 2 }), { maxLength: 2 }),
);
const drawValue = (prng: Prng): PlainData =>
  prng.pick<PlainData>([1, 2, 'p', 'q', null, { n: 1 }, new Uint8Array([prng.int(0, 3)])]);

// ------------------------------------------------------------------------------------------- harnesses

const gcounter: Harness<GCounter> = {
  name: 'GCounter',
  create: () => new GCounter(),
  op: fc.integer({ min: 0, max: 5 }).map((n) => op(`inc ${n}`, (s, r) => s.increment(r, n))),
  draw: (p) => {
    const n = p.int(0, 5);
    return op(`inc ${n}`, (s, r) => s.increment(r, n));
  },
  causal: false,
};

const pncounter: Harness<PNCounter> = {
  name: 'PNCounter',
  create: () => new PNCounter(),
  op: fc
    .tuple(fc.boolean(), amountArb)
    .map(([inc, n]) => op(`${inc ? 'inc' : 'dec'} ${n}`, (s, r) => (inc ? s.increment(r, n) : s.decrement(r, n)))),
  draw: (p) => {
    const n = p.int(-4, 6);
    return p.chance(0.5) ? op(`inc ${n}`, (s, r) => s.increment(r, n)) : op(`dec ${n}`, (s, r) => s.decrement(r, n));
  },
  causal: false,
};

const ccounterOps = (n: number, kind: number): Op<CCounter> =>
  kind === 0
    ? op('reset', (s) => s.reset())
    : kind === 1
      ? op(`dec ${n}`, (s, r) => s.decrement(r, n))
      : op(`inc ${n}`, (s, r) => s.increment(r, n));
const ccounter: Harness<CCounter> = {
  name: 'CCounter',
  create: () => new CCounter(),
  op: fc.tuple(amountArb, fc.integer({ min: 0, max: 5 })).map(([n, k]) => ccounterOps(n, k)),
  draw: (p) => ccounterOps(p.int(-4, 6), p.int(0, 5)),
  causal: true,
  slots: 1,
};

const gset: Harness<GSet<string>> = {
  name: 'GSet',
  create: () => new GSet<string>(),
  op: elementArb.map((e) => op(`add ${e}`, (s) => s.add(e))),
  draw: (p) => {
    const e = p.pick(ELEMENTS);
    return op(`add ${e}`, (s) => s.add(e));
  },
  causal: false,
};

const aworsetOps = (e: string, kind: number): Op<AWORSet<string>> =>
  kind === 0
    ? op('clear', (s) => s.clear())
    : kind <= 2
      ? op(`remove ${e}`, (s) => s.remove(e))
      : op(`add ${e}`, (s, r) => s.add(r, e));
const aworset: Harness<AWORSet<string>> = {
  name: 'AWORSet',
  create: () => new AWORSet<string>(),
  op: fc.tuple(elementArb, fc.integer({ min: 0, max: 6 })).map(([e, k]) => aworsetOps(e, k)),
  draw: (p) => aworsetOps(p.pick(ELEMENTS), p.int(0, 6)),
  causal: true,
  slots: ELEMENTS.length,
};

const wideAworset: Harness<AWORSet<string>> = {
  name: 'AWORSet (wide)',
  create: () => new AWORSet<string>(),
  op: fc.tuple(fc.constantFrom(...WIDE), fc.integer({ min: 0, max: 12 })).map(([e, k]) => aworsetOps(e, k)),
  draw: (p) => aworsetOps(p.pick(WIDE), p.int(0, 12)),
  causal: true,
  slots: WIDE.length,
  steps: 80,
};

const rworsetOps = (e: string, add: boolean): Op<RWORSet<string>> =>
  add ? op(`add ${e}`, (s, r) => s.add(r, e)) : op(`remove ${e}`, (s, r) => s.remove(r, e));
const rworset: Harness<RWORSet<string>> = {
  name: 'RWORSet',
  create: () => new RWORSet<string>(),
  op: fc.tuple(elementArb, fc.boolean()).map(([e, add]) => rworsetOps(e, add)),
  draw: (p) => rworsetOps(p.pick(ELEMENTS), p.chance(0.6)),
  causal: true,
  slots: ELEMENTS.length,
};

const mvregisterOps = (v: PlainData, clear: boolean): Op<MVRegister<PlainData>> =>
  clear ? op('clear', (s) => s.clear()) : op(`write ${label(v)}`, (s, r) => s.write(r, v));
const mvregister: Harness<MVRegister<PlainData>> = {
  name: 'MVRegister',
  create: () => new MVRegister<PlainData>(),
  op: fc.tuple(valueArb, fc.integer({ min: 0, max: 4 })).map(([v, k]) => mvregisterOps(v, k === 0)),
  draw: (p) => mvregisterOps(drawValue(p), p.chance(0.2)),
  causal: true,
  slots: 1,
};

const lwwregister: Harness<LWWRegister<PlainData>> = {
  name: 'LWWRegister',
  create: () => new LWWRegister<PlainData>(),
  op: fc.tuple(fc.integer({ min: 0, max: 8 }), valueArb).map(([t, v]) => op(`write@${t}`, (s, r) => s.write(r, t, v))),
  draw: (p) => {
    const t = p.int(0, 8);
    const v = drawValue(p);
    return op(`write@${t}`, (s, r) => s.write(r, t, v));
  },
  causal: false,
};

const ewflagOps = (enable: boolean): Op<EWFlag> =>
  enable ? op('enable', (s, r) => s.enable(r)) : op('disable', (s) => s.disable());
const ewflag: Harness<EWFlag> = {
  name: 'EWFlag',
  create: () => new EWFlag(),
  op: fc.boolean().map(ewflagOps),
  draw: (p) => ewflagOps(p.chance(0.5)),
  causal: true,
  slots: 1,
};

/** A map harness built from its value's harness: updates apply value ops under a key. */
function mapOf<K extends string | number, V extends AnyCausal & Crdt<V>>(
  name: string,
  keys: readonly K[],
  value: Harness<V>,
  steps?: number,
): Harness<AWORMap<K, V>> {
  // Wide maps never clear, or they would not grow; narrow ones cover clear.
  const mapOps = (key: K, kind: number, inner: Op<V>): Op<AWORMap<K, V>> =>
    kind === 0 && keys.length <= 4
      ? op('clear', (s) => s.clear())
      : kind <= 1
        ? op(`remove ${key}`, (s) => s.remove(key))
        : op(`update ${key} ${inner.label}`, (s, r) => s.update(key, (v) => inner.run(v, r)));
  return {
    name,
    create: () => new AWORMap<K, V>(value.create),
    op: fc
      .tuple(fc.constantFrom(...keys), fc.integer({ min: 0, max: 7 }), value.op)
      .map(([k, kind, inner]) => mapOps(k, kind, inner)),
    draw: (p) => mapOps(p.pick(keys), p.int(0, 7), value.draw(p)),
    causal: true,
    slots: keys.length * (value.slots ?? 1),
    ...(steps === undefined ? {} : { steps }),
  };
}

const mapOfCounters = mapOf('AWORMap<string, CCounter>', KEYS, ccounter);
const mapOfSets = mapOf('AWORMap<number, AWORSet>', [1, 2, 3], aworset);
const mapOfRwSets = mapOf('AWORMap<string, RWORSet>', KEYS, rworset);
const mapOfFlags = mapOf('AWORMap<string, EWFlag>', KEYS, ewflag);
const nestedMap = mapOf('AWORMap<string, AWORMap<string, MVRegister>>', KEYS, mapOf('inner', ['i', 'j'], mvregister));
const WIDE_KEYS = Array.from({ length: 16 }, (_, i) => `key${i}`);
const wideMapOfSets = mapOf('AWORMap<string, AWORSet> (wide)', WIDE_KEYS, wideAworset, 80);
const wideMapOfRegisters = mapOf('AWORMap<string, MVRegister> (wide)', WIDE_KEYS, mvregister, 80);
const deepMap = mapOf(
  'AWORMap<string, AWORMap<string, AWORMap<string, CCounter>>>',
  ['k'],
  mapOf('m', ['i', 'j'], mapOf('n', ['x', 'y'], ccounter)),
);

/** A record of three fields, each field's ops drawn from its own harness. */
type Group = CausalRecord<{
  members: AWORSet<string>;
  counts: AWORMap<string, CCounter>;
  note: MVRegister<PlainData>;
}>;
const makeGroup = (): Group =>
  new CausalRecord({
    members: () => new AWORSet<string>(),
    counts: () => new AWORMap<string, CCounter>(() => new CCounter()),
    note: () => new MVRegister<PlainData>(),
  });
const countsField = mapOf<string, CCounter>('counts', KEYS, ccounter);
const recordOps = (
  kind: number,
  members: Op<AWORSet<string>>,
  counts: Op<AWORMap<string, CCounter>>,
  note: Op<MVRegister<PlainData>>,
): Op<Group> =>
  kind === 0
    ? op('clear', (s) => s.clear())
    : kind <= 2
      ? op(`members ${members.label}`, (s, r) => s.update('members', (v) => members.run(v, r)))
      : kind <= 4
        ? op(`counts ${counts.label}`, (s, r) => s.update('counts', (v) => counts.run(v, r)))
        : op(`note ${note.label}`, (s, r) => s.update('note', (v) => note.run(v, r)));
const record: Harness<Group> = {
  name: 'CausalRecord{counts: AWORMap<string, CCounter>, members: AWORSet, note: MVRegister}',
  create: makeGroup,
  op: fc
    .tuple(fc.integer({ min: 0, max: 6 }), aworset.op, countsField.op, mvregister.op)
    .map(([k, m, c, n]) => recordOps(k, m, c, n)),
  draw: (p) => recordOps(p.int(0, 6), aworset.draw(p), countsField.draw(p), mvregister.draw(p)),
  causal: true,
  slots: (aworset.slots ?? 1) + (countsField.slots ?? 1) + (mvregister.slots ?? 1),
  format1: false,
};
const mapOfRecords: Harness<AWORMap<string, Group>> = {
  ...mapOf<string, Group>('AWORMap<string, CausalRecord>', KEYS, record),
  format1: false,
};

// Any is fine here: the harness list is heterogeneous and each entry is used only with its own states.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const HARNESSES: Harness<any>[] = [
  gcounter,
  pncounter,
  ccounter,
  gset,
  aworset,
  wideAworset,
  rworset,
  mvregister,
  lwwregister,
  ewflag,
  mapOfCounters,
  mapOfSets,
  mapOfRwSets,
  mapOfFlags,
  nestedMap,
  deepMap,
  wideMapOfSets,
  wideMapOfRegisters,
  record,
  mapOfRecords,
];

// ------------------------------------------------------------------------------------------- histories

/** `index` builds every owner index of a replica's state now (they are built lazily, on first need). */
type Step<T> =
  | { readonly kind: 'op'; readonly at: number; readonly op: Op<T> }
  | { readonly kind: 'delta'; readonly pick: number; readonly to: number }
  | { readonly kind: 'state'; readonly from: number; readonly to: number }
  | { readonly kind: 'index'; readonly at: number };

function stepArb<T extends AnyCrdt & Crdt<T>>(h: Harness<T>): fc.Arbitrary<Step<T>> {
  const at = fc.integer({ min: 0, max: REPLICAS.length - 1 });
  return fc.oneof(
    { weight: 5, arbitrary: fc.record({ kind: fc.constant('op' as const), at, op: h.op }) },
    { weight: 3, arbitrary: fc.record({ kind: fc.constant('delta' as const), pick: fc.nat(), to: at }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('state' as const), from: at, to: at }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('index' as const), at }) },
  );
}

/** Builds the owner index of every DotMap in the store, nested ones (in maps and records) included. */
function buildIndexes(store: DotStore<unknown>): void {
  if (store instanceof DotRecord) {
    for (const name of store.names()) buildIndexes(store.field(name));
    return;
  }
  if (!(store instanceof DotMap)) return;
  const map = store as unknown as DotMap<unknown, DotSet>; // walked through the DotStore interface only
  map.indexSize();
  for (const [, sub] of map.entriesIterator()) buildIndexes(sub);
}

interface World<T> {
  readonly states: T[];
  /** Every delta produced, with its author. */
  readonly deltas: { readonly from: number; readonly delta: T }[];
  /** Snapshots taken along the way, for variety in the law checks. */
  readonly snapshots: T[];
}

function play<T extends AnyCrdt & Crdt<T>>(h: Harness<T>, steps: readonly Step<T>[]): World<T> {
  const states = REPLICAS.map(() => h.create());
  const deltas: { from: number; delta: T }[] = [];
  const snapshots: T[] = [];
  for (const step of steps) {
    if (step.kind === 'op') {
      const delta = step.op.run(states[step.at] as T, REPLICAS[step.at] as string);
      deltas.push({ from: step.at, delta });
      // Every state and delta a history reaches keeps the type's stated invariants.
      delta.checkInvariants();
      (states[step.at] as T).checkInvariants();
    } else if (step.kind === 'index') {
      const state = states[step.at] as T;
      if (state instanceof Causal) buildIndexes(state.store);
      continue;
    } else if (step.kind === 'delta') {
      if (deltas.length === 0) continue;
      const { delta } = deltas[step.pick % deltas.length] as { delta: T };
      (states[step.to] as T).join(delta);
    } else {
      (states[step.to] as T).join(states[step.from] as T);
    }
    if (step.kind !== 'op') (states[step.to] as T).checkInvariants();
    if (snapshots.length < 6 && step.kind !== 'op') snapshots.push((states[step.to] as T).clone());
  }
  return { states, deltas, snapshots };
}

function worldArb<T extends AnyCrdt & Crdt<T>>(h: Harness<T>): fc.Arbitrary<World<T>> {
  const maxLength = h.steps ?? 24;
  return fc.array(stepArb(h), { maxLength, size: maxLength > 24 ? 'large' : 'small' }).map((steps) => play(h, steps));
}

/**
 * Checks every DotMap's owner index against its store, nested maps included: each dot is indexed under the
 * key holding it, and nothing else is indexed (no stale entries accumulate).
 */
function assertIndexExact(store: DotStore<unknown>): void {
  if (store instanceof DotRecord) {
    for (const name of store.names()) assertIndexExact(store.field(name));
    return;
  }
  if (!(store instanceof DotMap)) return;
  // The value store type is irrelevant here: sub-stores are only walked through the DotStore interface.
  const map = store as unknown as DotMap<unknown, DotSet>;
  let dots = 0;
  for (const [key, sub] of map.entriesIterator()) {
    sub.forEachDot((dot) => {
      dots++;
      assert.equal(map.ownerOf(dot), key, `dot ${dot.replica}:${dot.counter} should be indexed under ${String(key)}`);
    });
    assertIndexExact(sub);
  }
  assert.equal(map.indexSize(), dots, 'the owner index holds only dots present in the store');
}

/**
 * Format 1 of the codec, as it was written before format 2 (states that nodes persisted then): replicas by
 * index in order of first use, the version vector as sorted `[r, n]` pairs. Causal states only.
 */
const packr = new Packr({ moreTypes: true, useRecords: false });
function encodeFormat1(state: AnyCausal): Uint8Array {
  const ids: string[] = [];
  const of = (replica: string): number => (ids.includes(replica) ? ids.indexOf(replica) : ids.push(replica) - 1);
  const dots = (list: readonly Dot[]): number[] => list.flatMap((d) => [of(d.replica), d.counter]);
  const store = (s: unknown): unknown[] => {
    if (s instanceof DotSet) return dots(s.sorted());
    if (s instanceof DotFun) return (s as DotFun<unknown>).sorted().flatMap((e) => [of(e.replica), e.counter, e.value]);
    const map = s as DotMap<string | number, DotSet>;
    const keys = [...map.keys()].sort((a, b) => (typeof a === typeof b ? (a < b ? -1 : a > b ? 1 : 0) : typeof a === 'number' ? -1 : 1));
    return keys.flatMap((k) => [k, store(map.get(k))]);
  };
  const body = store(state.store);
  const vector = state.context.versionVector();
  const vv = [...vector.keys()].sort().flatMap((r) => [of(r), vector.get(r) as number]);
  const cloud = dots(state.context.cloudDots());
  const kind = (packr.unpack(encode(state)) as unknown[])[1]; // kind codes did not change
  return packr.pack([1, kind, ids, [body, vv, cloud]]);
}

/** Three states drawn from a world: replica states, snapshots and deltas. */
function pick3<T>(world: World<T>, i: number, j: number, k: number): [T, T, T] {
  const pool: T[] = [...world.states, ...world.snapshots, ...world.deltas.map((d) => d.delta)];
  return [pool[i % pool.length] as T, pool[j % pool.length] as T, pool[k % pool.length] as T];
}

function show(x: AnyCrdt): string {
  const value = x.value();
  const text = JSON.stringify(value, (_, v: unknown) =>
    v instanceof Map || v instanceof Set ? [...v] : typeof v === 'bigint' ? String(v) : v,
  );
  return x instanceof Causal ? `${text} ${x.context.toString()}` : text;
}

function assertSame(actual: AnyCrdt, expected: AnyCrdt, what: string): void {
  // Crdt<T>.equals takes the same type; both sides come from the same harness.
  if (!(actual as Crdt<AnyCrdt>).equals(expected)) {
    assert.fail(`${what}:\n  got      ${show(actual)}\n  expected ${show(expected)}`);
  }
}

const RUNS = 200;

for (const h of HARNESSES) {
  describe(h.name, () => {
    const world = worldArb(h);
    const idx = fc.nat();

    test('join is commutative', () => {
      fc.assert(
        fc.property(world, idx, idx, (w, i, j) => {
          const [a, b] = pick3(w, i, j, 0);
          assertSame(a.clone().join(b), b.clone().join(a), 'a ⊔ b = b ⊔ a');
        }),
        { numRuns: RUNS },
      );
    });

    test('join is associative', () => {
      fc.assert(
        fc.property(world, idx, idx, idx, (w, i, j, k) => {
          const [a, b, c] = pick3(w, i, j, k);
          assertSame(a.clone().join(b).join(c), a.clone().join(b.clone().join(c)), '(a ⊔ b) ⊔ c = a ⊔ (b ⊔ c)');
        }),
        { numRuns: RUNS },
      );
    });

    test('join is idempotent and does not alias its argument', () => {
      fc.assert(
        fc.property(world, idx, idx, (w, i, j) => {
          const [a, b] = pick3(w, i, j, 0);
          assertSame(a.clone().join(a), a, 'a ⊔ a = a');
          assertSame(a.clone().join(a.clone()), a, 'a ⊔ copy(a) = a');
          const before = b.clone();
          const joined = a.clone().join(b);
          const snapshot = joined.clone();
          assertSame(b, before, 'join leaves its argument alone');
          // Mutating the argument afterwards must not leak into the joined state.
          h.draw(new Prng(i)).run(b, REPLICAS[j % REPLICAS.length] as string);
          assertSame(joined, snapshot, 'joined state is independent of its argument');
        }),
        { numRuns: RUNS },
      );
    });

    test('a mutation equals the join of the state and its delta', () => {
      fc.assert(
        fc.property(world, fc.integer({ min: 0, max: REPLICAS.length - 1 }), h.op, (w, at, o) => {
          const state = w.states[at];
          const mutated = state.clone();
          const delta = o.run(mutated, REPLICAS[at] as string);
          assertSame(state.clone().join(delta), mutated, `${o.label}: state ⊔ delta = mutated`);
          assertSame(mutated.clone().join(delta), mutated, `${o.label}: the delta is below the mutated state`);
          // Any other replica that has seen the state reaches the same result from the delta alone.
          const other = w.states[(at + 1) % REPLICAS.length].clone().join(state);
          const expected = w.states[(at + 1) % REPLICAS.length].clone().join(mutated);
          assertSame(other.join(delta), expected, `${o.label}: remote application`);
        }),
        { numRuns: RUNS },
      );
    });

    if (h.causal) {
      test('absorbing a delta keeps exactly its new part (what a replica buffers and relays)', () => {
        fc.assert(
          fc.property(world, idx, idx, idx, (w, i, j, k) => {
            const [a, d, b] = pick3(w, i, j, k);
            const state = a.clone() as AnyCausal;
            const novel = absorbCausal(state, d.clone() as AnyCausal) as typeof a | null;
            const expected = a.clone().join(d);
            assertSame(state, expected, 'a after absorbing d = a ⊔ d');
            assert.equal(novel !== null, inflates(a, d), 'a new part exactly when d inflates a');
            if (novel === null) return;
            assertSame(a.clone().join(novel), expected, 'a ⊔ new part = a ⊔ d');
            assertSame(d.clone().join(novel), d, 'the new part is below d');
            assertSame(novel.clone().join(novel), novel, 'the new part is a well-formed state');
            // A replica that has seen a (a neighbour it relays to) ends where d itself would take it.
            const neighbour = b.clone().join(a);
            assertSame(neighbour.clone().join(novel), neighbour.join(d), 'relaying the new part is enough');
            assertSame(decode(encode(novel), h.create), novel, 'the new part encodes');
          }),
          { numRuns: RUNS },
        );
      });
    }

    test('the encoding round-trips and is canonical', () => {
      fc.assert(
        fc.property(world, idx, idx, (w, i, j) => {
          const [a, b] = pick3(w, i, j, 0);
          const bytes = encode(a);
          assertSame(decode(bytes), a, 'decode(encode(a)) = a');
          assertSame(decode(bytes, h.create), a, 'typed decode');
          assert.equal(hex(encode(decode(bytes))), hex(bytes), 'decode then encode gives the same bytes');
          assert.equal(hex(encode(a.clone().join(b))), hex(encode(b.clone().join(a))), 'equal states encode equally');
        }),
        { numRuns: RUNS },
      );
    });

    if (h.causal && h.format1 !== false) {
      test('format 1 encodings (what nodes persisted before format 2) decode to the same state', () => {
        fc.assert(
          fc.property(world, idx, (w, i) => {
            const [a] = pick3(w, i, 0, 0);
            const old = encodeFormat1(a as AnyCausal);
            assertSame(decode(old), a, 'untyped');
            assertSame(decode(old, h.create), a, 'typed');
          }),
          { numRuns: RUNS },
        );
      });

    }

    if (h.causal) {
      test('the owner index matches the store after joins, mutations and decoding', () => {
        fc.assert(
          fc.property(world, idx, idx, (w, i, j) => {
            const [a, b] = pick3(w, i, j, 0);
            for (const s of [a, b, a.clone().join(b), decode(encode(a))]) assertIndexExact((s as AnyCausal).store);
            // Indexes built before a join are maintained by it (the first check above built them).
            const joined = a.clone().join(b);
            assertIndexExact((joined as AnyCausal).store);
            joined.join(b.clone().join(a));
            assertIndexExact((joined as AnyCausal).store);
          }),
          { numRuns: RUNS },
        );
      });
    }

    test('replicas converge once every state is shared', () => {
      fc.assert(
        fc.property(world, (w) => {
          const all = h.create();
          for (const s of w.states) all.join(s);
          for (const s of w.states) assertSame(s.clone().join(all), all, 'each replica reaches the join of all');
          // Delta-only delivery of everything reaches the same state as full-state sharing.
          if (w.deltas.length > 0) {
            const fromDeltas = h.create();
            for (const { delta } of [...w.deltas].reverse()) fromDeltas.join(delta);
            assertSame(fromDeltas.clone().join(all), all, 'deltas are below the join of all states');
          }
        }),
        { numRuns: RUNS },
      );
    });
  });
}

// ------------------------------------------------------------------------------------------- compaction

/**
 * Long random histories with lossy, reordering, duplicating delta delivery, then anti-entropy (every delta
 * redelivered in random order). The context must then have no cloud, its vector must count exactly the dots
 * each replica generated, and the store must hold no trace of removed entries.
 */
function longHistory<T extends AnyCrdt & Crdt<T>>(
  h: Harness<T>,
  seed: number,
  length: number,
): { states: T[]; maxCloud: number } {
  const prng = new Prng(seed);
  const states = REPLICAS.map(() => h.create());
  const inFlight: { delta: T; to: number }[] = [];
  const produced: T[] = [];
  let maxCloud = 0;
  for (let step = 0; step < length; step++) {
    const at = prng.int(0, REPLICAS.length - 1);
    const delta = h.draw(prng).run(states[at] as T, REPLICAS[at] as string);
    produced.push(delta);
    for (let to = 0; to < REPLICAS.length; to++) {
      if (to !== at && prng.chance(0.7)) inFlight.push({ delta, to }); // 30% of deltas are lost
    }
    // Now and then build a replica's owner indexes, which joins then maintain (see the end).
    if (prng.chance(0.02)) {
      const state = states[prng.int(0, REPLICAS.length - 1)] as T;
      if (state instanceof Causal) buildIndexes(state.store);
    }
    // Deliver a random batch in random order; some twice.
    while (inFlight.length > 0 && prng.chance(0.6)) {
      const i = prng.int(0, inFlight.length - 1);
      const { delta: d, to } = inFlight[i] as { delta: T; to: number };
      if (!prng.chance(0.1)) inFlight.splice(i, 1);
      (states[to] as T).join(d);
    }
    for (const s of states) if (s instanceof Causal) maxCloud = Math.max(maxCloud, s.context.cloudSize());
  }
  // Anti-entropy: every replica receives every delta, in a random order.
  for (let to = 0; to < REPLICAS.length; to++) {
    const order = produced.map((_, i) => i);
    for (let i = order.length - 1; i > 0; i--) {
      const j = prng.int(0, i);
      [order[i], order[j]] = [order[j] as number, order[i] as number];
    }
    for (const i of order) (states[to] as T).join(produced[i] as T);
  }
  return { states, maxCloud };
}

/** How many dots a store holds, nested ones included. */
function storeDots(state: AnyCausal): number {
  let n = 0;
  state.store.forEachDot(() => n++);
  return n;
}

describe('causal context compaction under long histories', () => {
  const causal = HARNESSES.filter((h) => h.causal);
  for (const h of causal) {
    test(`${h.name}: contexts fold back to version vectors; removals leave no tombstones`, () => {
      fc.assert(
        fc.property(fc.integer({ min: 0, max: 0x7fffffff }), (seed) => {
          const { states } = longHistory(h, seed, 400);
          const [first] = states;
          for (const s of states) {
            const state = s as AnyCausal;
            assertSame(state, first, 'replicas converged');
            state.checkInvariants();
            assert.equal(state.context.cloudSize(), 0, `cloud left in ${state.context}`);
            assertIndexExact(state.store);
            for (const replica of REPLICAS) {
              assert.ok(state.context.max(replica) <= 400, 'vector entries count generated dots');
            }
            // No tombstones: each element or key holds at most one dot per replica, however long the history.
            const bound = REPLICAS.length * (h.slots ?? 1);
            assert.ok(storeDots(state) <= bound, `store holds ${storeDots(state)} dots, more than ${bound}`);
          }
          // Clearing everything at one replica and sharing it leaves an empty store and a pure vector.
          const emptied = (first as AnyCausal).clone();
          const clearable =
            emptied instanceof AWORMap ||
            emptied instanceof AWORSet ||
            emptied instanceof MVRegister ||
            emptied instanceof CausalRecord
              ? emptied
              : undefined;
          if (clearable !== undefined || emptied instanceof CCounter) {
            const delta = emptied instanceof CCounter ? emptied.reset() : (clearable as AWORSet<string>).clear();
            const other = (states[1] as AnyCausal).clone().join(delta);
            assert.ok(other.store.isEmpty(), 'nothing is left of the removed entries');
            assert.equal(other.context.cloudSize(), 0);
          }
        }),
        { numRuns: 20 },
      );
    });
  }

  test('the cloud only holds dots of undelivered deltas, and empties on anti-entropy', () => {
    const { maxCloud } = longHistory(aworset, 42, 400);
    assert.ok(maxCloud > 0, 'lossy delivery does leave gaps along the way');
  });

  test('vector entries equal the number of dots each replica generated', () => {
    const prng = new Prng(7);
    const states = REPLICAS.map(() => new AWORSet<string>());
    const generated = [0, 0, 0];
    const deltas: AWORSet<string>[] = [];
    for (let i = 0; i < 500; i++) {
      const at = prng.int(0, 2);
      const e = prng.pick(ELEMENTS);
      if (prng.chance(0.7)) {
        deltas.push((states[at] as AWORSet<string>).add(REPLICAS[at] as string, e));
        generated[at] = (generated[at] as number) + 1;
      } else deltas.push((states[at] as AWORSet<string>).remove(e));
    }
    const merged = new AWORSet<string>();
    for (const d of deltas.reverse()) merged.join(d); // newest first: worst order for the cloud
    REPLICAS.forEach((r, i) => assert.equal(merged.context.versionVector().get(r) ?? 0, generated[i]));
    assert.equal(merged.context.cloudSize(), 0);
    assert.equal(storeDots(merged), [...merged.store.keys()].reduce((n, k) => n + (merged.store.get(k)?.size ?? 0), 0));
  });
});
