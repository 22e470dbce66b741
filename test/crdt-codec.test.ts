/** The decoder against malformed and hostile input: DecodeError, never anything else, never a bad state. */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Packr } from 'msgpackr';
import {
  type AnyCrdt,
  AWORMap,
  AWORSet,
  CausalRecord,
  CCounter,
  DecodeError,
  EWFlag,
  FORMAT,
  GCounter,
  LWWRegister,
  MVRegister,
  RWORSet,
  decode,
  encode,
  type RecordFields,
} from '../src/crdt/index.js';

const packr = new Packr({ moreTypes: true, useRecords: false });
const raw = (value: unknown): Uint8Array => packr.pack(value);

/** Decodes, and if that succeeds checks the result is a sound state: it re-encodes and round-trips. */
function decodeOrReject(bytes: Uint8Array): void {
  let state: AnyCrdt;
  try {
    state = decode(bytes);
  } catch (error) {
    assert.ok(error instanceof DecodeError, `expected a DecodeError, got ${String(error)}`);
    return;
  }
  const again = decode(encode(state));
  assert.ok((again as { equals(o: unknown): boolean }).equals(state), 'a decoded state round-trips');
}

type Profile = CausalRecord<{ active: EWFlag; scores: AWORMap<string, CCounter>; tags: AWORSet<string> }>;
const profile = (): Profile =>
  new CausalRecord({
    tags: () => new AWORSet<string>(),
    active: () => new EWFlag(),
    scores: () => new AWORMap<string, CCounter>(() => new CCounter()),
  });

function samples(): Uint8Array[] {
  type Inner = AWORMap<string, MVRegister<unknown>>;
  const map = new AWORMap<string, Inner>(() => new AWORMap(() => new MVRegister<unknown>()));
  map.update('a', (inner) => inner.update('x', (r) => r.write('r1', { n: [1, 2], b: new Uint8Array([9]) })));
  map.update('b', (inner) => inner.update('y', (r) => r.write('r2', 'text')));
  const set = new AWORSet<string>();
  set.add('r1', 'p');
  set.add('r2', 'q');
  const delta = set.remove('p');
  const rw = new RWORSet<number>();
  rw.add('r', 1);
  rw.remove('r', 2);
  const counter = new CCounter();
  counter.increment('r', 5);
  const g = new GCounter();
  g.increment('x', 3);
  const lww = new LWWRegister<string>();
  lww.write('r', 7, 'v');
  const records = new AWORMap<string, Profile>(profile);
  records.update('p', (rec) => rec.update('tags', (t) => t.add('r1', 'x')));
  records.update('p', (rec) => rec.update('scores', (m) => m.update('s', (c) => c.increment('r2', 4))));
  records.update('q', (rec) => rec.update('active', (f) => f.enable('r2')));
  return [map, set, delta, rw, counter, g, lww, records].map(encode);
}

describe('the layout of causal bodies', () => {
  test('dot replicas are relative to the previous dot, vector entries are aligned with the table', () => {
    // Store dots a:1 (reference 0: index 0) and b:1 (reference 2: +1, index 1); cloud dot a:3 (reference
    // 1: -1, index 0); vector a:1 b:1.
    const flag = decode(raw([FORMAT, 9, ['a', 'b'], [[0, 1, 2, 1], [1, 1], [1, 3]]]), () => new EWFlag());
    assert.deepEqual(flag.store.sorted(), [{ replica: 'a', counter: 1 }, { replica: 'b', counter: 1 }]);
    assert.equal(flag.context.toString(), '{vv a:1 b:1 | cloud a:3}');
    assert.deepEqual(decode(encode(flag)), flag);
    // A zero is no entry: only b has one. A replica in the cloud alone has no vector entry at all.
    const other = decode(raw([FORMAT, 9, ['a', 'b', 'c'], [[2, 3], [0, 3], [2, 2]]]), () => new EWFlag());
    assert.equal(other.context.toString(), '{vv b:3 | cloud c:2}');
    const again = raw([FORMAT, 9, ['b', 'c'], [[0, 3], [3], [2, 2]]]);
    const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');
    assert.equal(hex(encode(other)), hex(again), 'the canonical form numbers replicas by first reference');
  });

  test('format 1, what nodes persisted before format 2, still decodes', () => {
    // Replicas by index: store dots b:1 (index 1) and a:1 (index 0); vector pairs a:1 b:1; cloud a:3.
    const flag = decode(raw([1, 9, ['a', 'b'], [[1, 1, 0, 1], [0, 1, 1, 1], [0, 3]]]), () => new EWFlag());
    assert.deepEqual(flag.store.sorted(), [{ replica: 'a', counter: 1 }, { replica: 'b', counter: 1 }]);
    assert.equal(flag.context.toString(), '{vv a:1 b:1 | cloud a:3}');
    const again = decode(encode(flag), () => new EWFlag());
    assert.ok(again.equals(flag), 'and encodes again as format 2');
    assert.equal((packr.unpack(encode(flag)) as unknown[])[0], FORMAT, 'encode writes the current format');
    const set = decode(raw([1, 6, ['r', 's'], [['x', [1, 2], 'y', [0, 1]], [0, 1, 1, 2], []]]), () => new AWORSet<string>());
    assert.deepEqual([...set.value()].sort(), ['x', 'y']);
  });

  test('states of many replicas, with gaps, round-trip and encode canonically (property)', () => {
    type Registers = AWORMap<string, MVRegister<number>>;
    const registers = (): Registers => new AWORMap<string, MVRegister<number>>(() => new MVRegister<number>());
    const opArb = fc.record({
      replica: fc.integer({ min: 0, max: 299 }),
      key: fc.integer({ min: 0, max: 20 }),
      remove: fc.boolean(),
      lost: fc.boolean(),
    });
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 60 }), (ops) => {
        // Each replica writes on its own state; the sink receives the deltas not lost (so its cloud has gaps).
        const states = new Map<number, Registers>();
        const sink = registers();
        const set = new AWORSet<string>();
        for (const op of ops) {
          const state = states.get(op.replica) ?? registers();
          states.set(op.replica, state);
          const key = `k${op.key}`;
          const delta = op.remove ? state.remove(key) : state.update(key, (r) => r.write(`r${op.replica}`, op.key));
          if (!op.lost) sink.join(delta);
          if (op.remove) set.remove(key);
          else set.join(new AWORSet<string>().add(`r${op.replica}`, key));
        }
        for (const state of [sink, ...states.values()]) {
          const bytes = encode(state);
          const back = decode(bytes, registers);
          assert.ok(back.equals(state));
          assert.equal(Buffer.from(encode(back)).toString('hex'), Buffer.from(bytes).toString('hex'));
        }
        assert.ok(decode(encode(set), () => new AWORSet<string>()).equals(set));
      }),
      { numRuns: 200 },
    );
  });

  test('with hundreds of replicas a dot still costs two bytes and a vector entry one', () => {
    // 20√N replicas of crdt-benchmarks' B3.1 at a smaller N: each sets its own key once.
    const replicas = 400;
    const all = new AWORMap<string, MVRegister<number>>(() => new MVRegister<number>());
    for (let i = 0; i < replicas; i++) {
      all.join(new AWORMap<string, MVRegister<number>>(() => new MVRegister<number>()).update(`k${i}`, (r) => r.write(`r${i}`, 1)));
    }
    // Per replica: id and key (5 bytes each), the key's entry header, reference, counter, value, vector entry.
    assert.ok(encode(all).length <= replicas * (5 + 5 + 1 + 1 + 1 + 1 + 1) + 16, `${encode(all).length} bytes`);
  });
});

describe('decode rejects malformed input', () => {
  test('random bytes', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => decodeOrReject(bytes)), { numRuns: 300 });
  });

  test('valid encodings with bytes flipped, truncated or extended', () => {
    const valid = samples();
    fc.assert(
      fc.property(
        fc.constantFrom(...valid),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }),
        fc.integer({ min: -3, max: 2 }),
        (bytes, flips, resize) => {
          const copy = Uint8Array.from(bytes);
          for (const [at, value] of flips) copy[at % copy.length] = value;
          let cut = copy;
          if (resize < 0) cut = copy.subarray(0, Math.max(0, copy.length + resize));
          if (resize > 0) cut = Uint8Array.from([...copy, 0xc0]);
          decodeOrReject(cut);
        },
      ),
      { numRuns: 300 },
    );
  });

  test('structurally wrong documents', () => {
    const F = FORMAT;
    const cases: [string, unknown][] = [
      ['not an array', { a: 1 }],
      ['wrong arity', [F, 6, []]],
      ['format 0', [0, 6, [], [[], [], []]]],
      ['format 3', [3, 6, [], [[], [], []]]],
      ['unknown format', [99, 6, [], [[], [], []]]],
      ['unknown kind', [F, 99, [], []]],
      ['map of a non-causal kind', [F, [10, 1], [], [[], [], []]]],
      ['replica reference below the table', [F, 5, ['r'], [[1, 1, 5], [1], []]]],
      ['replica reference beyond the table', [F, 5, ['r'], [[2, 1, 5], [1], []]]],
      ['later reference beyond the table', [F, 9, ['r', 's'], [[2, 1, 2, 1], [1, 1], []]]],
      ['negative replica reference', [F, 9, ['r'], [[-1, 1], [1], []]]],
      ['fractional replica reference', [F, 9, ['r'], [[0.5, 1], [1], []]]],
      ['bad cloud reference', [F, 9, ['r'], [[], [], [2, 3]]]],
      ['empty replica id', [F, 5, [''], [[], [], []]]],
      ['duplicate replica ids', [F, 5, ['r', 'r'], [[], [], []]]],
      ['zero counter', [F, 5, ['r'], [[0, 0, 5], [1], []]]],
      ['fractional counter', [F, 9, ['r'], [[0, 1.5], [2], []]]],
      ['dot outside the context', [F, 9, ['r'], [[0, 2], [1], []]]],
      ['dot of a replica the vector skips', [F, 9, ['r', 's'], [[2, 1], [1], []]]],
      ['odd dot list', [F, 9, ['r'], [[0], [1], []]]],
      ['duplicate dot', [F, 9, ['r'], [[0, 1, 0, 1], [1], []]]],
      ['ccounter value not an integer', [F, 5, ['r'], [[0, 1, 'x'], [1], []]]],
      ['rworset tag not a boolean', [F, 7, ['r'], [['e', [0, 1, 1]], [1], []]]],
      ['empty value in a map', [F, 6, ['r'], [['e', []], [1], []]]],
      ['duplicate key', [F, 6, ['r'], [['e', [0, 1], 'e', [0, 1]], [1], []]]],
      ['object key', [F, 6, ['r'], [[{}, [0, 1]], [1], []]]],
      ['version vector longer than the replica table', [F, 9, ['r'], [[], [1, 1], []]]],
      ['version vector not an array', [F, 9, ['r'], [[], 1, []]]],
      ['negative vector counter', [F, 9, ['r'], [[], [-1], []]]],
      ['fractional vector counter', [F, 9, ['r'], [[], [1.5], []]]],
      ['gcounter negative', [F, 1, ['r'], [0, -1]]],
      ['gcounter duplicate', [F, 1, ['r'], [0, 1, 0, 2]]],
      ['gset duplicate', [F, 3, [], ['a', 'a']]],
      ['gset bad element', [F, 3, [], [true]]],
      ['lww bad timestamp', [F, 4, ['r'], [Number.POSITIVE_INFINITY, 0, 1]]],
      ['lww non-plain value', [F, 4, ['r'], [1, 0, new Set([1])]]],
      ['mvregister non-plain value', [F, 8, ['r'], [[0, 1, new Date(0)], [1], []]]],
    ];
    for (const [name, doc] of cases) {
      assert.throws(() => decode(raw(doc)), DecodeError, name);
    }
    // Format 1 (replicas by index, vector as pairs) is still read, and as strictly.
    const format1: [string, unknown][] = [
      ['bad replica index', [1, 5, ['r'], [[3, 1, 5], [0, 1], []]]],
      ['zero counter', [1, 5, ['r'], [[0, 0, 5], [0, 1], []]]],
      ['dot outside the context', [1, 9, ['r'], [[0, 2], [0, 1], []]]],
      ['odd dot list', [1, 9, ['r'], [[0], [0, 1], []]]],
      ['duplicate dot', [1, 9, ['r'], [[0, 1, 0, 1], [0, 1], []]]],
      ['duplicate vector entry', [1, 9, ['r'], [[], [0, 1, 0, 2], []]]],
      ['odd vector', [1, 9, ['r'], [[], [0], []]]],
      ['bad vector replica', [1, 9, ['r'], [[], [1, 1], []]]],
      ['bad cloud replica', [1, 9, ['r'], [[], [], [1, 3]]]],
      ['empty value in a map', [1, 6, ['r'], [['e', []], [0, 1], []]]],
    ];
    for (const [name, doc] of format1) {
      assert.throws(() => decode(raw(doc)), DecodeError, `format 1: ${name}`);
    }
  });

  test('hostile msgpack: cycles, deep nesting, huge headers, oversize input', () => {
    const cyclic = new Packr({ moreTypes: true, useRecords: false, structuredClone: true });
    const loop: unknown[] = [1];
    loop.push(loop);
    assert.throws(() => decode(cyclic.pack([FORMAT, 8, ['r'], [[0, 1, loop], [1], []]])), DecodeError);
    const shared = { x: 1 };
    const sharing = cyclic.pack([FORMAT, 8, ['r'], [[0, 1, [shared, shared]], [1], []]]);
    assert.throws(() => decode(sharing), DecodeError, 'shared references');
    assert.throws(() => decode(new Uint8Array(100_000).fill(0x91)), DecodeError, 'nesting deeper than the stack');
    const huge = Uint8Array.from([0xdd, 0xff, 0xff, 0xff, 0xf0]);
    assert.throws(() => decode(huge), DecodeError, 'array header far beyond the input');
    let kind: unknown = 9;
    for (let i = 0; i < 40; i++) kind = [10, kind];
    assert.throws(() => decode(raw([FORMAT, kind, [], [[], [], []]])), /nested deeper/);
    assert.throws(() => decode(new Uint8Array(1000), { maxBytes: 100 }), DecodeError);
    // The decoder stays usable after failures.
    const ok = new AWORSet<string>();
    ok.add('r', 'x');
    assert.ok((decode(encode(ok)) as AWORSet<string>).has('x'));
  });

  test('typed decode checks the kind, nested maps included', () => {
    const m = new AWORMap<string, CCounter>(() => new CCounter());
    m.update('k', (c) => c.increment('r', 1));
    const bytes = encode(m);
    assert.equal(decode(bytes, () => new AWORMap<string, CCounter>(() => new CCounter())).value().get('k'), 1);
    const ofSets = (): AWORMap<string, AWORSet<string>> => new AWORMap(() => new AWORSet<string>());
    assert.throws(() => decode(bytes, ofSets), DecodeError);
    assert.throws(() => decode(bytes, () => new CCounter()), DecodeError);
  });

  test('records: malformed kinds and bodies are rejected', () => {
    const F = FORMAT;
    const AB = [11, 'a', 6, 'b', 9]; // { a: aworset, b: ewflag }
    const cases: [string, unknown][] = [
      ['no fields', [F, [11], [], [[], [], []]]],
      ['a name without a kind', [F, [11, 'a'], [], [[[]], [], []]]],
      ['an empty name', [F, [11, '', 9], [], [[[]], [], []]]],
      ['a name that is not a string', [F, [11, 1, 9], [], [[[]], [], []]]],
      ['duplicate names', [F, [11, 'a', 6, 'a', 9], [], [[[], []], [], []]]],
      ['unsorted names', [F, [11, 'b', 6, 'a', 9], [], [[[], []], [], []]]],
      ['a non-causal field', [F, [11, 'a', 1], [], [[[]], [], []]]],
      ['an unknown field kind', [F, [11, 'a', 99], [], [[[]], [], []]]],
      ['a malformed field kind', [F, [11, 'a', [10]], [], [[[]], [], []]]],
      ['a record kind inside a map kind, malformed', [F, [10, [11]], [], [[], [], []]]],
      ['a body with too few fields', [F, AB, [], [[[]], [], []]]],
      ['a body with too many fields', [F, AB, [], [[[], [], []], [], []]]],
      ['a body that is not an array', [F, AB, [], [{}, [], []]]],
      ['a dot outside the context in a field', [F, AB, ['r'], [[[], [0, 2]], [1], []]]],
      ['a dot of one field outside the context', [F, AB, ['r'], [[['x', [0, 1]], [0, 2]], [1], []]]],
      ['a duplicate dot in a field', [F, AB, ['r'], [[[], [0, 1, 0, 1]], [1], []]]],
      ['an empty value in a field map', [F, AB, ['r'], [[['x', []], []], [1], []]]],
      ['a bad counter value in a field', [F, [11, 'c', 5], ['r'], [[[0, 1, 'x']], [1], []]]],
      ['an empty record as a map value', [F, [10, AB], ['r'], [['k', [[], []]], [1], []]]],
      ['a record in format 1', [1, [11, 'b', 9], ['r'], [[[0, 1]], [0, 1], []]]],
      ['a record in a map in format 1', [1, [10, [11, 'b', 9]], ['r'], [['k', [[0, 1]]], [0, 1], []]]],
    ];
    for (const [name, doc] of cases) {
      assert.throws(() => decode(raw(doc)), DecodeError, name);
    }
    // The same body, well formed, decodes: fields in name order, one dot in each.
    const ok = decode(raw([F, AB, ['r'], [[['x', [0, 1]], [0, 2]], [2], []]]));
    assert.ok(ok instanceof CausalRecord);
    assert.deepEqual(ok.value(), { a: new Set(['x']), b: true });
    // Records count toward the nesting bound like maps.
    let deep: unknown = 9;
    for (let i = 0; i < 40; i++) deep = i % 2 === 0 ? [11, 'f', deep] : [10, deep];
    assert.throws(() => decode(raw([F, deep, [], [[], [], []]])), /nested deeper/);
    const twoDeep = raw([F, [11, 'f', [11, 'g', 9]], [], [[[[]]], [], []]]);
    assert.ok(decode(twoDeep, { maxMapDepth: 2 }) instanceof CausalRecord);
    assert.throws(() => decode(twoDeep, { maxMapDepth: 1 }), /nested deeper/);
  });

  test('records: typed decode checks every field kind and returns the typed record', () => {
    const rec = profile();
    rec.update('tags', (t) => t.add('r', 'x'));
    rec.update('scores', (m) => m.update('s', (c) => c.increment('r', 2)));
    const bytes = encode(rec);
    const back = decode(bytes, profile);
    assert.ok(back.equals(rec));
    assert.equal(back.get('scores').get('s')?.value(), 2, 'typed: fields keep their types');
    assert.deepEqual([...back.get('tags')], ['x']);
    const tags = (): AWORSet<string> => new AWORSet<string>();
    const flag = (): EWFlag => new EWFlag();
    const counts = (): AWORMap<string, CCounter> => new AWORMap<string, CCounter>(() => new CCounter());
    const registers = (): AWORMap<string, MVRegister> => new AWORMap<string, MVRegister>(() => new MVRegister());
    const mismatches: [string, () => CausalRecord<RecordFields>][] = [
      ['a field of another kind', () => new CausalRecord({ tags, active: flag, scores: registers })],
      ['a field of another name', () => new CausalRecord({ tags, enabled: flag, scores: counts })],
      ['a field missing', () => new CausalRecord({ tags, active: flag })],
      ['a field more', () => new CausalRecord({ tags, active: flag, scores: counts, more: flag })],
    ];
    const same = (): CausalRecord<RecordFields> => new CausalRecord({ tags, active: flag, scores: counts });
    assert.ok(decode(bytes, same).equals(rec), 'other factories of the same fields');
    for (const [name, like] of mismatches) assert.throws(() => decode(bytes, like), DecodeError, name);
    assert.throws(() => decode(bytes, () => new AWORMap<string, EWFlag>(() => new EWFlag())), DecodeError, 'a map');
    // In a map, the record kind is checked as the value kind.
    const map = new AWORMap<string, Profile>(profile);
    map.update('k', (r) => r.update('active', (f) => f.enable('r')));
    const mapBytes = encode(map);
    assert.ok(decode(mapBytes, () => new AWORMap<string, Profile>(profile)).equals(map));
    assert.equal(decode(mapBytes, () => new AWORMap<string, Profile>(profile)).get('k')?.get('active').value(), true);
    assert.throws(() => decode(mapBytes, () => new AWORMap<string, AWORSet<string>>(tags)), DecodeError);
    assert.throws(() => decode(mapBytes, profile), DecodeError);
  });

  test('encode refuses register values the codec cannot round-trip', () => {
    const r = new MVRegister<unknown>();
    r.write('r', new Map([[1, 2]]));
    assert.throws(() => encode(r), TypeError);
    const l = new LWWRegister<unknown>();
    l.write('r', 1, () => 1);
    assert.throws(() => encode(l), TypeError);
    const polluted = new LWWRegister<unknown>();
    polluted.write('r', 1, JSON.parse('{"__proto__": {"x": 1}}'));
    assert.throws(() => encode(polluted), TypeError, 'msgpackr would rename the field');
    const deep = new MVRegister<unknown>();
    let value: unknown = 1;
    for (let i = 0; i < 100; i++) value = [value];
    deep.write('r', value);
    assert.throws(() => encode(deep), TypeError, 'deeper than the decoder accepts');
  });
});
