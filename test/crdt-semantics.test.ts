/** What wins under concurrency, type by type, on small hand-written scenarios. */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import {
  type Dot,
  type PlainData,
  AWORMap,
  AWORSet,
  CausalRecord,
  CCounter,
  DotRecord,
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
  kindName,
} from '../src/crdt/index.js';
import { nodeId } from '../src/core/ids.js';

/** Ships a delta as bytes, the way replication will. */
function wire<T extends Parameters<typeof encode>[0]>(delta: T, like: () => T): T {
  return decode(encode(delta), like);
}

describe('counters', () => {
  test('GCounter and PNCounter sum concurrent contributions', () => {
    const a = new GCounter();
    const b = new GCounter();
    const da = a.increment('a', 2);
    const db = b.increment('b', 5);
    a.join(db);
    b.join(da);
    assert.equal(a.value(), 7);
    assert.ok(a.equals(b));
    const p = new PNCounter();
    p.increment('a', 10);
    p.decrement('b', 3);
    p.increment('a', -2);
    assert.equal(p.value(), 5);
    assert.throws(() => a.increment('a', -1), RangeError);
    assert.throws(() => a.increment('a', 0.5), RangeError);
    assert.throws(() => a.increment('a', Number.MAX_SAFE_INTEGER), RangeError);
  });

  test('a GCounter delta carries the whole entry, so lost deltas are repaired by later ones', () => {
    const a = new GCounter();
    a.increment('a', 1); // lost
    const d2 = a.increment('a', 1);
    assert.equal(new GCounter().join(d2).value(), 2);
  });

  test('CCounter: increments sum, reset forgets what it observed', () => {
    const a = new CCounter();
    const b = new CCounter();
    b.join(a.increment('a', 3));
    a.join(b.increment('b', 4));
    assert.equal(a.value(), 7);
    const reset = a.reset();
    assert.equal(a.value(), 0);
    b.join(reset);
    assert.equal(b.value(), 0);
    assert.ok(b.store.isEmpty(), 'reset leaves no entries behind');
  });

  test('CCounter: a concurrent increment survives a reset with its replica total (documented limit)', () => {
    const a = new CCounter();
    const b = new CCounter();
    b.join(a.increment('a', 3));
    a.join(b.increment('b', 4));
    b.join(a.increment('a', 0)); // no-op
    const reset = a.reset();
    const inc = b.increment('b', 1);
    a.join(inc);
    b.join(reset);
    // a's 3 is reset; b's running total (4 + 1) survives because its new dot was not observed.
    assert.equal(a.value(), 5);
    assert.ok(a.equals(b));
  });
});

describe('sets', () => {
  test('GSet is a union', () => {
    const a = new GSet<string>();
    const b = new GSet<string>();
    a.add('x');
    b.join(b.add('y')).join(a);
    assert.deepEqual([...b.value()].sort(), ['x', 'y']);
  });

  test('AWORSet: a concurrent add wins over a remove', () => {
    const a = new AWORSet<string>();
    const b = new AWORSet<string>();
    b.join(a.add('a', 'x'));
    const rm = b.remove('x');
    const add = a.add('a', 'x');
    a.join(rm);
    b.join(add);
    assert.ok(a.has('x') && b.has('x'));
    assert.ok(a.equals(b));
  });

  test('AWORSet: a remove wins over the adds it observed, and leaves no tombstone', () => {
    const a = new AWORSet<string>();
    const b = new AWORSet<string>();
    b.join(a.add('a', 'x'));
    b.join(a.add('a', 'y'));
    a.join(b.remove('x'));
    assert.deepEqual([...a.value()], ['y']);
    assert.equal(a.store.size, 1, 'x is gone from the store');
    assert.equal(a.context.toString(), '{vv a:2}', 'its dot stays only in the compact context');
  });

  test('AWORSet: an add re-adds after an observed remove; clear removes what was observed', () => {
    const s = new AWORSet<number>();
    s.add('r', 1);
    s.remove(1);
    s.add('r', 1);
    s.add('r', 2);
    assert.deepEqual([...s], [1, 2]);
    const other = s.clone();
    const late = other.add('q', 3); // concurrent with the clear
    s.join(s.clear()).join(late);
    assert.deepEqual([...s.value()], [3]);
  });

  test('RWORSet: a concurrent remove wins over an add; a later add wins over an observed remove', () => {
    const a = new RWORSet<string>();
    const b = new RWORSet<string>();
    b.join(a.add('a', 'x'));
    const rm = b.remove('b', 'x');
    const add = a.add('a', 'x');
    a.join(rm);
    b.join(add);
    assert.ok(!a.has('x') && !b.has('x'));
    assert.ok(a.equals(b));
    b.join(a.add('a', 'x')); // a has seen the remove now
    assert.ok(b.has('x'));
  });

  test('RWORSet: removing an element never seen still beats a concurrent add', () => {
    const a = new RWORSet<string>();
    const b = new RWORSet<string>();
    const rm = a.remove('a', 'x');
    b.join(b.add('b', 'x')).join(rm);
    assert.ok(!b.has('x'));
  });
});

describe('registers and flags', () => {
  test('MVRegister keeps concurrent writes and a later write resolves them', () => {
    const a = new MVRegister<string>();
    const b = new MVRegister<string>();
    const wa = a.write('a', 'left');
    const wb = b.write('b', 'right');
    a.join(wb);
    b.join(wa);
    assert.deepEqual(a.value(), ['left', 'right']);
    assert.deepEqual(b.value(), ['left', 'right']);
    b.join(a.write('a', 'both'));
    assert.deepEqual(b.value(), ['both']);
    assert.equal(b.store.size, 1);
  });

  test('LWWRegister: the greater (timestamp, replica) wins in any delivery order', () => {
    const writes = [
      new LWWRegister<string>().write('b', 10, 'b@10'),
      new LWWRegister<string>().write('a', 12, 'a@12'),
      new LWWRegister<string>().write('c', 12, 'c@12'),
      new LWWRegister<string>().write('c', 3, 'c@3'),
    ];
    for (const order of [[0, 1, 2, 3], [3, 2, 1, 0], [2, 0, 3, 1]]) {
      const r = new LWWRegister<string>();
      for (const i of order) r.join(writes[i] as LWWRegister<string>);
      assert.equal(r.value(), 'c@12');
      assert.deepEqual(r.winner, { timestamp: 12, replica: 'c', value: 'c@12' });
    }
    const r = new LWWRegister<string>();
    r.write('a', 5, 'new');
    r.write('a', 4, 'stale'); // an older timestamp loses even locally
    assert.equal(r.value(), 'new');
    assert.throws(() => r.write('a', Number.NaN, 'x'), RangeError);
  });

  test('EWFlag: a concurrent enable wins over a disable', () => {
    const a = new EWFlag();
    const b = new EWFlag();
    b.join(a.enable('a'));
    const off = b.disable();
    const on = a.enable('a');
    a.join(off);
    b.join(on);
    assert.equal(a.value(), true);
    assert.equal(b.value(), true);
    a.join(a.disable());
    assert.equal(a.value(), false);
  });
});

describe('AWORMap', () => {
  test('update embeds the value delta under the key', () => {
    const a = new AWORMap<string, CCounter>(() => new CCounter());
    const b = new AWORMap<string, CCounter>(() => new CCounter());
    const d = a.update('k', (counter) => counter.increment('a', 3));
    b.join(wire(d, () => new AWORMap<string, CCounter>(() => new CCounter())));
    b.join(b.update('k', (counter) => counter.decrement('b', 1)));
    assert.deepEqual([...b.value()], [['k', 2]]);
    assert.equal(b.get('k')?.value(), 2);
    assert.ok(b.has('k') && !b.has('j'));
    assert.equal(b.size, 1);
  });

  test('removing a key resets it: a concurrent update keeps the key with only its own effect', () => {
    const a = new AWORMap<string, AWORSet<string>>(() => new AWORSet<string>());
    const b = a.clone();
    b.join(a.update('k', (s) => s.add('a', 'x')));
    const rm = a.remove('k');
    const add = b.update('k', (s) => s.add('b', 'y'));
    a.join(add);
    b.join(rm);
    assert.deepEqual([...(a.value().get('k') ?? [])], ['y']);
    assert.ok(a.equals(b));
  });

  test('a removed key leaves no tombstone', () => {
    const m = new AWORMap<string, MVRegister<number>>(() => new MVRegister<number>());
    for (let i = 0; i < 100; i++) m.update(`k${i % 10}`, (r) => r.write('r', i));
    for (let i = 0; i < 10; i++) m.remove(`k${i}`);
    assert.equal(m.size, 0);
    assert.ok(m.store.isEmpty());
    assert.equal(m.context.toString(), '{vv r:100}');
  });

  test('nested maps: inner updates, inner removes and outer resets compose', () => {
    type Inner = AWORMap<string, EWFlag>;
    const make = (): AWORMap<string, Inner> =>
      new AWORMap<string, Inner>(() => new AWORMap<string, EWFlag>(() => new EWFlag()));
    const a = make();
    const b = make();
    b.join(wire(a.update('doc', (inner) => inner.update('bold', (flag) => flag.enable('a'))), make));
    b.join(b.update('doc', (inner) => inner.update('italic', (flag) => flag.enable('b'))));
    a.join(wire(b.update('doc', (inner) => inner.remove('bold')), make));
    assert.deepEqual([...(a.value().get('doc')?.keys() ?? [])], []);
    // a has not seen b's 'italic' yet, so once 'bold' is removed its 'doc' is empty, until it joins b.
    a.join(b);
    assert.deepEqual([...(a.value().get('doc') ?? new Map())], [['italic', true]]);
    const reset = a.remove('doc');
    const concurrent = b.update('doc', (inner) => inner.update('underline', (flag) => flag.enable('b')));
    a.join(concurrent);
    b.join(reset);
    assert.deepEqual([...(a.value().get('doc') ?? new Map())], [['underline', true]]);
    assert.ok(a.equals(b));
  });

  test('a map of RWORSets and one of MVRegisters behave like their values', () => {
    const sets = new AWORMap<number, RWORSet<string>>(() => new RWORSet<string>());
    sets.update(1, (s) => s.add('r', 'x'));
    sets.update(1, (s) => s.remove('r', 'x'));
    assert.deepEqual([...(sets.value().get(1) ?? [])], []);
    assert.ok(sets.has(1), 'the remove tag keeps the key: the set holds a removal that must keep winning');
    const regs = new AWORMap<string, MVRegister<{ n: number }>>(() => new MVRegister<{ n: number }>());
    regs.update('a', (r) => r.write('r', { n: 1 }));
    assert.deepEqual(regs.value().get('a'), [{ n: 1 }]);
  });

  test('update refuses a function that returns the value instead of its delta', () => {
    const m = new AWORMap<string, CCounter>(() => new CCounter());
    assert.throws(() =>
      m.update('k', (c) => {
        c.increment('r', 1);
        return c;
      }),
    TypeError);
  });

  test('several mutations in one update: join their deltas', () => {
    const m = new AWORMap<string, AWORSet<string>>(() => new AWORSet<string>());
    const other = m.clone();
    const d = m.update('k', (s) => s.add('r', 'x').join(s.add('r', 'y')));
    other.join(d);
    assert.deepEqual([...(other.value().get('k') ?? [])], ['x', 'y']);
    assert.ok(other.equals(m));
  });

  test('NodeId replica ids are accepted', () => {
    const s = new AWORSet<string>();
    s.add(nodeId('n1'), 'x');
    assert.ok(s.has('x'));
  });
});

describe('CausalRecord', () => {
  const makeGroup = () =>
    new CausalRecord({
      members: () => new AWORSet<string>(),
      registrations: () => new AWORSet<string>(),
      priorities: () => new AWORMap<string, CCounter>(() => new CCounter()),
      meta: () => new AWORMap<string, MVRegister<PlainData>>(() => new MVRegister<PlainData>()),
    });
  type Group = ReturnType<typeof makeGroup>;
  const makeState = (): AWORMap<string, Group> => new AWORMap<string, Group>(makeGroup);

  test('a record as a map value: fields update through the record, the key is removed as a whole', () => {
    const state = makeState();
    const other = makeState();
    const d1 = state.update('g', (r) => r.update('registrations', (s) => s.add('n1', 'k')));
    const d2 = state.update('g', (r) => r.update('priorities', (m) => m.update('k', (c) => c.increment('n1', 2))));
    assert.equal(state.get('g')!.get('priorities').get('k')!.value(), 2);
    assert.deepEqual([...state.get('g')!.get('registrations').value()], ['k']);
    const value = state.value().get('g');
    assert.deepEqual(Object.keys(value ?? {}), ['members', 'meta', 'priorities', 'registrations']);
    assert.deepEqual([...(value?.priorities ?? [])], [['k', 2]]);
    other.join(wire(d2, makeState)).join(wire(d1, makeState));
    assert.ok(other.equals(state), 'deltas in any order, through the codec');
    const removed = state.remove('g');
    assert.ok(!state.has('g') && state.store.isEmpty());
    other.join(wire(removed, makeState));
    assert.ok(!other.has('g'), 'the observed remove takes every field');
    assert.equal(other.context.toString(), '{vv n1:2}', 'and leaves only dots in the context');
    assert.equal(
      kindName(makeGroup().kind()),
      'record{members:aworset,meta:awormap<mvregister>,priorities:awormap<ccounter>,registrations:aworset}',
    );
  });

  test('fields share one context: a dot generated in one field is never reused in another', () => {
    const r = makeGroup();
    const deltas = [
      r.update('members', (s) => s.add('a', 'x')),
      r.update('registrations', (s) => s.add('a', 'x')),
      r.update('priorities', (m) => m.update('p', (c) => c.increment('a', 1))),
      r.update('meta', (m) => m.update('owner', (reg) => reg.write('a', 'me'))),
    ];
    const dots: Dot[] = [];
    r.store.forEachDot((dot) => dots.push(dot));
    assert.deepEqual(dots.map((d) => `${d.replica}:${d.counter}`).sort(), ['a:1', 'a:2', 'a:3', 'a:4']);
    assert.equal(r.context.toString(), '{vv a:4}');
    // Separate states would each have numbered their first dot a:1.
    assert.equal(new AWORSet<string>().add('a', 'x').context.toString(), '{vv a:1}');
    // A field's delta names only that field's dots: joined where other fields hold other dots, it removes
    // none of them, even though its context is the record's.
    const b = makeGroup();
    b.join(deltas[0] as Group);
    const own = b.update('registrations', (s) => s.add('b', 'y'));
    b.join(deltas[3] as Group).join(r.update('members', (s) => s.remove('x')));
    assert.deepEqual([...b.get('registrations').value()], ['y']);
    assert.deepEqual([...b.get('members').value()], []);
    assert.deepEqual([...b.get('meta').value()], [['owner', ['me']]]);
    r.join(own);
    for (const d of deltas) b.join(d);
    assert.ok(b.equals(r));
  });

  test('add wins across fields: removing a record key concurrently with a field update keeps the update alone', () => {
    const a = makeState();
    const b = makeState();
    b.join(a.update('g', (r) => r.update('members', (s) => s.add('a', 'x'))));
    b.join(a.update('g', (r) => r.update('priorities', (m) => m.update('p', (c) => c.increment('a', 3)))));
    b.join(a.update('g', (r) => r.update('meta', (m) => m.update('owner', (reg) => reg.write('a', 'a')))));
    const rm = a.remove('g');
    const concurrent = b.update('g', (r) => r.update('registrations', (s) => s.add('b', 'n2')));
    a.join(concurrent);
    b.join(rm);
    assert.ok(a.equals(b));
    const g = a.get('g');
    assert.ok(g !== undefined, 'the key stays: the update has a dot the remove never saw');
    assert.deepEqual([...g.get('registrations').value()], ['n2']);
    assert.deepEqual([...g.get('members').value()], [], 'the other fields are reset');
    assert.equal(g.get('priorities').size, 0);
    assert.equal(g.get('meta').size, 0);
    // Concurrent with a clear of the record, an update of a field survives the same way.
    const c = makeGroup();
    const d = makeGroup();
    d.join(c.update('members', (s) => s.add('c', 'x')));
    const cleared = c.clear();
    assert.ok(c.store.isEmpty());
    const kept = d.update('members', (s) => s.add('d', 'y'));
    c.join(kept);
    d.join(cleared);
    assert.deepEqual([...c.get('members').value()], ['y']);
    assert.ok(c.equals(d));
  });

  test('update rejects returning the view, a view of the record, or a non-delta', () => {
    const r = makeGroup();
    assert.throws(() => r.update('members', (s) => {
      s.add('a', 'x');
      return s;
    }), TypeError);
    assert.throws(() => r.update('members', () => r.get('members')), TypeError);
    assert.throws(() => r.update('members', () => undefined as unknown as AWORSet<string>), TypeError);
    // Two mutations in one update: join their deltas.
    const other = makeGroup();
    other.join(r.update('members', (s) => s.add('a', 'y').join(s.add('a', 'z'))));
    assert.deepEqual([...other.get('members').value()].sort(), ['y', 'z']);
  });

  test('a record can hold a record; both round-trip through the codec untyped', () => {
    const outer = new CausalRecord({
      inner: () => new CausalRecord({ flag: () => new EWFlag(), note: () => new MVRegister<string>() }),
      tags: () => new AWORSet<string>(),
    });
    const copy = outer.clone();
    copy.join(outer.update('inner', (r) => r.update('note', (n) => n.write('a', 'hi'))));
    copy.join(outer.update('tags', (t) => t.add('a', 't')));
    assert.deepEqual(copy.value(), { inner: { flag: false, note: ['hi'] }, tags: new Set(['t']) });
    assert.equal(kindName(outer.kind()), 'record{inner:record{flag:ewflag,note:mvregister},tags:aworset}');
    const back = decode(encode(copy));
    assert.ok(back instanceof CausalRecord);
    assert.ok((back as typeof copy).equals(copy));
    copy.join(outer.update('inner', (r) => r.clear()));
    assert.deepEqual(copy.value().inner, { flag: false, note: [] });
    assert.ok(copy.equals(outer));
  });

  test('factories are checked and called once per record', () => {
    assert.throws(() => new CausalRecord({}), TypeError, 'no field');
    assert.throws(() => new CausalRecord({ '': () => new EWFlag() }), TypeError, 'empty name');
    assert.throws(() => new CausalRecord({ a: 1 as unknown as () => EWFlag }), TypeError, 'not a factory');
    const notCausal = (() => new GCounter()) as unknown as () => EWFlag;
    assert.throws(() => new CausalRecord({ a: notCausal }), TypeError, 'not causal');
    assert.throws(() => new CausalRecord(null as unknown as { a: () => EWFlag }), TypeError);
    assert.throws(() => makeGroup().get('nope' as 'members'), TypeError, 'unknown field');
    assert.throws(() => new DotRecord(['b', 'a'], [new DotSet(), new DotSet()]), TypeError, 'unsorted');
    assert.throws(() => new DotRecord(['a'], []), TypeError, 'one store per field');
    let calls = 0;
    const counted = (): EWFlag => {
      calls++;
      return new EWFlag();
    };
    const flags = new CausalRecord({ on: counted, off: counted });
    assert.equal(calls, 2);
    const delta = flags.update('on', (f) => f.enable('a'));
    flags.clone().join(delta).join(flags.clear());
    flags.get('off').value();
    flags.value();
    decode(encode(flags), () => flags.make(flags.store.empty(), flags.context.clone()));
    assert.equal(calls, 2, 'deltas, views, clones and make reuse the templates');
    // A field named like an Object.prototype property is a field like any other.
    const odd = new CausalRecord({ ['__proto__']: () => new EWFlag(), constructor: () => new EWFlag() });
    odd.update('__proto__', (f) => f.enable('a'));
    assert.deepEqual(Object.entries(odd.value()), [['__proto__', true], ['constructor', false]]);
    assert.ok((decode(encode(odd)) as typeof odd).equals(odd), 'and round-trips');
  });
});

describe('delta-only replication', () => {
  test('replicas that only exchange encoded deltas converge, whatever the order', () => {
    const like = (): AWORMap<string, AWORSet<string>> =>
      new AWORMap<string, AWORSet<string>>(() => new AWORSet<string>());
    const replicas = ['a', 'b', 'c'].map(() => like());
    const deltas: Uint8Array[] = [];
    const ids = ['a', 'b', 'c'];
    for (let i = 0; i < 60; i++) {
      const at = (i * 7) % 3;
      const key = `k${i % 4}`;
      const replica = replicas[at] as AWORMap<string, AWORSet<string>>;
      const id = ids[at] as string;
      const delta =
        i % 5 === 4
          ? replica.remove(key)
          : replica.update(key, (s) => (i % 3 === 0 ? s.remove(`e${i % 3}`) : s.add(id, `e${i % 6}`)));
      deltas.push(encode(delta));
    }
    for (const [i, replica] of replicas.entries()) {
      const order = deltas.map((_, j) => j).sort((x, y) => ((x * (i + 3)) % 17) - ((y * (i + 3)) % 17));
      for (const j of order) replica.join(decode(deltas[j] as Uint8Array, like));
    }
    assert.ok(replicas[0]?.equals(replicas[1] as AWORMap<string, AWORSet<string>>));
    assert.ok(replicas[1]?.equals(replicas[2] as AWORMap<string, AWORSet<string>>));
    assert.equal(replicas[0]?.context.cloudSize(), 0);
  });
});
