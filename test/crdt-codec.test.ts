/** The decoder against malformed and hostile input: DecodeError, never anything else, never a bad state. */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Packr } from 'msgpackr';
import {
  type AnyCrdt,
  AWORMap,
  AWORSet,
  CCounter,
  DecodeError,
  GCounter,
  LWWRegister,
  MVRegister,
  RWORSet,
  decode,
  encode,
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
  return [map, set, delta, rw, counter, g, lww].map(encode);
}

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
    const cases: [string, unknown][] = [
      ['not an array', { a: 1 }],
      ['wrong arity', [1, 6, []]],
      ['unknown format', [2, 6, [], [[], [], []]]],
      ['unknown kind', [1, 99, [], []]],
      ['map of a non-causal kind', [1, [10, 1], [], [[], [], []]]],
      ['bad replica index', [1, 5, ['r'], [[3, 1, 5], [0, 1], []]]],
      ['empty replica id', [1, 5, [''], [[], [], []]]],
      ['duplicate replica ids', [1, 5, ['r', 'r'], [[], [], []]]],
      ['zero counter', [1, 5, ['r'], [[0, 0, 5], [0, 1], []]]],
      ['fractional counter', [1, 9, ['r'], [[0, 1.5], [0, 2], []]]],
      ['dot outside the context', [1, 9, ['r'], [[0, 2], [0, 1], []]]],
      ['odd dot list', [1, 9, ['r'], [[0], [0, 1], []]]],
      ['duplicate dot', [1, 9, ['r'], [[0, 1, 0, 1], [0, 1], []]]],
      ['ccounter value not an integer', [1, 5, ['r'], [[0, 1, 'x'], [0, 1], []]]],
      ['rworset tag not a boolean', [1, 7, ['r'], [['e', [0, 1, 1]], [0, 1], []]]],
      ['empty value in a map', [1, 6, ['r'], [['e', []], [0, 1], []]]],
      ['duplicate key', [1, 6, ['r'], [['e', [0, 1], 'e', [0, 1]], [0, 1], []]]],
      ['object key', [1, 6, ['r'], [[{}, [0, 1]], [0, 1], []]]],
      ['duplicate vector entry', [1, 9, ['r'], [[], [0, 1, 0, 2], []]]],
      ['gcounter negative', [1, 1, ['r'], [0, -1]]],
      ['gcounter duplicate', [1, 1, ['r'], [0, 1, 0, 2]]],
      ['gset duplicate', [1, 3, [], ['a', 'a']]],
      ['gset bad element', [1, 3, [], [true]]],
      ['lww bad timestamp', [1, 4, ['r'], [Number.POSITIVE_INFINITY, 0, 1]]],
      ['lww non-plain value', [1, 4, ['r'], [1, 0, new Set([1])]]],
      ['mvregister non-plain value', [1, 8, ['r'], [[0, 1, new Date(0)], [0, 1], []]]],
    ];
    for (const [name, doc] of cases) {
      assert.throws(() => decode(raw(doc)), DecodeError, name);
    }
  });

  test('hostile msgpack: cycles, deep nesting, huge headers, oversize input', () => {
    const cyclic = new Packr({ moreTypes: true, useRecords: false, structuredClone: true });
    const loop: unknown[] = [1];
    loop.push(loop);
    assert.throws(() => decode(cyclic.pack([1, 8, ['r'], [[0, 1, loop], [0, 1], []]])), DecodeError);
    const shared = { x: 1 };
    const sharing = cyclic.pack([1, 8, ['r'], [[0, 1, [shared, shared]], [0, 1], []]]);
    assert.throws(() => decode(sharing), DecodeError, 'shared references');
    assert.throws(() => decode(new Uint8Array(100_000).fill(0x91)), DecodeError, 'nesting deeper than the stack');
    const huge = Uint8Array.from([0xdd, 0xff, 0xff, 0xff, 0xf0]);
    assert.throws(() => decode(huge), DecodeError, 'array header far beyond the input');
    let kind: unknown = 9;
    for (let i = 0; i < 40; i++) kind = [10, kind];
    assert.throws(() => decode(raw([1, kind, [], [[], [], []]])), /nested deeper/);
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
