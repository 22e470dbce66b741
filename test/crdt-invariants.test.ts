/**
 * Each CRDT type's `checkInvariants` fails on a state broken by hand, one invariant at a time (the property tests
 * in crdt-laws check that every state a history reaches passes). States are broken through their private parts,
 * which is the point: no public operation can break them.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { AssertionError } from '../src/core/assert.js';
import {
  AWORMap,
  AWORSet,
  CCounter,
  CausalContext,
  CausalRecord,
  DecodeError,
  DotFun,
  DotMap,
  DotSet,
  EWFlag,
  GCounter,
  GSet,
  LWWRegister,
  MVRegister,
  PNCounter,
  RWORSet,
  decode,
  encode,
} from '../src/crdt/index.js';
import { packr } from '../src/crdt/data.js';
import { MessageLog, messageLogLattice } from '../src/broadcast/message-log.js';

/** The private parts a test breaks. */
type ContextParts = { vv: Map<string, number>; cloud: Map<string, Set<number>> };
const partsOf = (ctx: CausalContext): ContextParts => ctx as unknown as ContextParts;

function fails(what: string, check: () => void, message: RegExp): void {
  assert.throws(check, (e: unknown) => e instanceof AssertionError && message.test(e.message), what);
}

describe('CRDT invariants', () => {
  test('a causal context: canonical vector and cloud', () => {
    const ok = new CausalContext();
    ok.insert('a', 1);
    ok.insert('a', 3);
    ok.checkInvariants();

    const zero = ok.clone();
    partsOf(zero).vv.set('b', 0);
    fails('a zero entry', () => zero.checkInvariants(), /version vector entry/);

    const covered = ok.clone();
    partsOf(covered).cloud.get('a')!.add(1);
    fails('a cloud dot the vector covers', () => covered.checkInvariants(), /cloud dot/);

    const unfolded = ok.clone();
    partsOf(unfolded).cloud.get('a')!.add(2);
    fails('a cloud dot contiguous to the vector', () => unfolded.checkInvariants(), /cloud dot/);

    const emptySet = ok.clone();
    partsOf(emptySet).cloud.set('c', new Set());
    fails('an empty cloud set', () => emptySet.checkInvariants(), /empty cloud set/);
  });

  test('a causal state: every stored dot in the context, held once', () => {
    const set = new AWORSet<string>();
    set.add('a', 'x');
    set.add('a', 'y');
    set.checkInvariants();

    const outside = set.clone();
    outside.store.get('x')!.add({ replica: 'b', counter: 1 });
    fails('a dot outside the context', () => outside.checkInvariants(), /outside its context/);

    const twice = set.clone();
    twice.store.get('y')!.add(twice.store.get('x')!.sorted()[0]!);
    fails('one dot under two elements', () => twice.checkInvariants(), /twice/);
  });

  test('a map: no empty value, a complete owner index', () => {
    const map = new AWORMap<string, CCounter>(() => new CCounter());
    map.update('k', (c) => c.increment('a', 2));
    map.update('j', (c) => c.increment('a', 1));
    map.checkInvariants();

    const empty = map.clone();
    (empty.store as unknown as { entries: Map<string, DotFun<number>> }).entries.set('e', new DotFun<number>());
    fails('an empty value', () => empty.checkInvariants(), /empty value/);

    const unindexed = map.clone();
    assert.equal(unindexed.store.ownerOf((unindexed.store.get('k') as DotFun<number>).sorted()[0]!), 'k'); // builds the index
    const dot = unindexed.context.next('a');
    (unindexed.store.get('k') as DotFun<number>).set(dot, 5); // behind the map's back: not indexed
    fails('a dot the index misses', () => unindexed.checkInvariants(), /owner index/);

    const bottom = new DotMap<string, DotSet>(() => new DotSet());
    assert.throws(() => bottom.set('k', new DotSet()), AssertionError, 'setting bottom under a key is a bug of the caller');
  });

  test('values: counters hold safe integers, tags booleans, sets and maps keys', () => {
    const counter = new CCounter();
    counter.increment('a', 3);
    counter.checkInvariants();
    const dot = counter.store.sorted()[0]!;
    counter.store.set(dot, 0.5);
    fails('a fractional contribution', () => counter.checkInvariants(), /ccounter/);

    const nested = new AWORMap<string, CCounter>(() => new CCounter());
    nested.update('k', (c) => c.increment('a', 3));
    const sub = nested.store.get('k') as DotFun<number>;
    sub.set(sub.sorted()[0]!, Number.NaN);
    fails('a map checks its values', () => nested.checkInvariants(), /ccounter/);

    const tags = new RWORSet<string>();
    tags.add('a', 'x');
    tags.checkInvariants();
    const tag = tags.store.get('x')!.sorted()[0]!;
    (tags.store.get('x') as unknown as DotFun<unknown>).set(tag, 'yes');
    fails('a tag that is not a boolean', () => tags.checkInvariants(), /rworset/);

    const record = new CausalRecord({ hits: () => new CCounter(), flag: () => new EWFlag() });
    record.update('hits', (c) => c.increment('a', 1));
    record.update('flag', (f) => f.enable('a'));
    record.checkInvariants();
    const hits = record.store.field('hits') as DotFun<number>;
    hits.set(hits.sorted()[0]!, Number.POSITIVE_INFINITY);
    fails('a record checks its fields', () => record.checkInvariants(), /ccounter/);

    const elements = new AWORSet<string>();
    elements.add('a', 'x');
    (elements.store as unknown as DotMap<unknown, DotSet>).set({} as unknown, new DotSet().add(elements.context.next('a')));
    fails('an element that is not a key', () => elements.checkInvariants(), /aworset/);
  });

  test('the plain lattices', () => {
    const g = new GCounter();
    g.increment('a', 2);
    g.checkInvariants();
    (g.entries() as Map<string, number>).set('b', 0);
    fails('a zero entry', () => g.checkInvariants(), /gcounter/);

    const pn = new PNCounter();
    pn.decrement('a', 1);
    pn.checkInvariants();
    (pn.negative.entries() as Map<string, number>).set('a', -1);
    fails('a negative side entry', () => pn.checkInvariants(), /gcounter/);

    const s = GSet.of(['x', 1]);
    s.checkInvariants();
    (s as unknown as { elements: Set<unknown> }).elements.add(null);
    fails('an element that is not a key', () => s.checkInvariants(), /gset/);

    const r = new LWWRegister<string>();
    r.write('a', 1, 'v');
    r.checkInvariants();
    (r as unknown as { current: unknown }).current = { timestamp: Number.NaN, replica: 'a', value: 'v' };
    fails('a winner without a finite timestamp', () => r.checkInvariants(), /lwwregister/);

    new MVRegister<string>().checkInvariants();
    new EWFlag().checkInvariants();
  });

  test("gossip's message log holds exactly what its context names", () => {
    const log = new MessageLog();
    log.append('a', 'hello');
    log.insert('b', 2, 'later'); // out of order: a cloud dot
    log.checkInvariants();
    messageLogLattice.invariants!(log);

    const unheld = messageLogLattice.clone(log);
    unheld.context.insert('b', 1); // named, never held
    fails('a dot without its message', () => unheld.checkInvariants(), /does not hold/);

    const outside = messageLogLattice.clone(log);
    (outside as unknown as { byOrigin: Map<string, Map<number, unknown>> }).byOrigin.get('a')!.set(7, 'x');
    fails('a message outside the context', () => outside.checkInvariants(), /outside its context/);
  });

  test('views of one map cannot be joined (each would read the other as removing everything)', () => {
    const map = new AWORMap<string, AWORSet<string>>(() => new AWORSet<string>());
    map.update('k', (s) => s.add('a', 'x'));
    map.update('j', (s) => s.add('a', 'y'));
    assert.throws(() => map.get('k')!.join(map.get('j')!), AssertionError);
  });

  test('decoding refuses a dot held under two keys, which the invariants rule out', () => {
    const set = new AWORSet<string>();
    set.add('a', 'x');
    set.add('a', 'y');
    // [format, kind, replicas, body]; the body's store is [key, dots, key, dots] with dots as [replica, counter] pairs.
    const raw = packr.unpack(encode(set)) as unknown[];
    const body = raw[raw.length - 1] as unknown[];
    const store = body[0] as unknown[];
    store[3] = store[1]; // y holds x's dot
    assert.throws(() => decode(packr.pack(raw)), (e: unknown) => e instanceof DecodeError && /twice/.test(e.message));
  });
});
