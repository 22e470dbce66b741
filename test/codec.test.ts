import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { CodecError, decodeMessage, encodeMessage } from '../src/transport/codec.js';

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');
const fromHex = (text: string): Buffer => Buffer.from(text, 'hex');
const roundTrip = (value: unknown): unknown => decodeMessage(encodeMessage(value));

describe('codec: golden bytes', () => {
  // If these change, nodes of different builds stop understanding each other: bump PROTOCOL_VERSION.
  test('a small message', () => {
    assert.equal(hex(encodeMessage({ kind: 'ping', n: 1 })), 'de0002a46b696e64a470696e67a16e01');
    assert.deepEqual(decodeMessage(fromHex('de0002a46b696e64a470696e67a16e01')), { kind: 'ping', n: 1 });
  });

  test('a Float64Array is extension 0x74, element type 8, little-endian doubles', () => {
    assert.equal(hex(encodeMessage(new Float64Array([1.5]))), 'c7097408000000000000f83f');
  });
});

describe('codec: round trips', () => {
  test('Float64Array values survive exactly, NaN, infinities and -0 included', () => {
    const values = new Float64Array([0.1, -2.25, Math.PI, Number.MAX_VALUE, Number.MIN_VALUE, NaN, Infinity, -Infinity, -0]);
    const back = roundTrip({ values });
    assert.ok(typeof back === 'object' && back !== null && 'values' in back);
    assert.ok(back.values instanceof Float64Array);
    assert.deepEqual(back.values, values);
    assert.ok(Object.is(back.values[8], -0));
  });

  test('a Float64Array view at an odd offset into a larger buffer', () => {
    const backing = new ArrayBuffer(64);
    const view = new Float64Array(backing, 8, 3);
    view.set([1, 2, 3]);
    assert.deepEqual(roundTrip(view), new Float64Array([1, 2, 3]));
  });

  test('decoding from an unaligned position still yields a Float64Array', () => {
    const bytes = encodeMessage(new Float64Array([4, 5]));
    const shifted = Buffer.concat([Buffer.from([0, 0, 0]), bytes]).subarray(3);
    assert.deepEqual(decodeMessage(shifted), new Float64Array([4, 5]));
  });

  test('other typed arrays and Buffer keep their types', () => {
    assert.deepEqual(roundTrip(new Uint8Array([1, 2, 3])), new Uint8Array([1, 2, 3]));
    assert.deepEqual(roundTrip(new Int32Array([-1, 7])), new Int32Array([-1, 7]));
    const buffer = roundTrip(Buffer.from([9, 8]));
    assert.ok(Buffer.isBuffer(buffer));
    assert.deepEqual([...buffer], [9, 8]);
  });

  test('numbers come back as equal numbers, large integers included', () => {
    for (const n of [0, 1, -1, 127, 255, 2 ** 31, 2 ** 32, 2 ** 32 + 1, 1e10, -1e10, Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER, 0.5, 1e300]) {
      const back = roundTrip(n);
      assert.equal(typeof back, 'number', `${n}`);
      assert.equal(back, n);
    }
  });

  test('-0 as a plain number comes back as 0 (documented; use a Float64Array to keep the sign)', () => {
    assert.ok(Object.is(roundTrip(-0), 0));
  });

  test('bigint round-trips, and a 64-bit integer on the wire decodes as bigint', () => {
    for (const n of [0n, 5n, -5n, 2n ** 63n - 1n, -(2n ** 63n), 2n ** 64n - 1n, 2n ** 70n, -(2n ** 90n)]) assert.equal(roundTrip(n), n);
    assert.equal(decodeMessage(fromHex('cf0000000000000001')), 1n);
  });

  test('strings, nested structures, null and booleans', () => {
    const value = { s: 'héllo ✓', list: [1, 'two', null, true, false, { deep: [[]] }], empty: {} };
    assert.deepEqual(roundTrip(value), value);
  });

  test('a __proto__ key cannot pollute prototypes', () => {
    const map = Buffer.concat([Buffer.from([0x81, 0xa9]), Buffer.from('__proto__'), Buffer.from([0x81, 0xa1, 0x70, 0x01])]);
    const decoded = decodeMessage(map);
    assert.equal(Object.getPrototypeOf(decoded), Object.prototype);
    assert.equal((decoded as Record<string, unknown>)['p'], undefined);
    assert.equal(({} as Record<string, unknown>)['p'], undefined);
  });

  test('encoded bytes stay valid after many later encodings', () => {
    const first = encodeMessage({ a: 'first', f: new Float64Array([1, 2]) });
    const copy = Buffer.from(first);
    for (let i = 0; i < 5_000; i++) encodeMessage({ i, filler: 'x'.repeat(i % 500) });
    assert.deepEqual(Buffer.from(first), copy);
  });

  test('property: JSON-like values round-trip', () => {
    fc.assert(
      fc.property(fc.jsonValue().filter((v) => !JSON.stringify(v).includes('"__proto__"')), (value) => {
        assert.deepEqual(roundTrip(value), withoutNegativeZero(value));
      }),
      { numRuns: 300 },
    );
  });
});

describe('codec: bad input', () => {
  const bad: Array<[string, Buffer]> = [
    ['empty input', Buffer.alloc(0)],
    ['truncated array', fromHex('92a3616263')],
    ['trailing bytes', fromHex('0102')],
    ['reserved byte 0xc1', fromHex('c1')],
    ['huge array header, no data', fromHex('ddffffffff')],
    ['huge string header, no data', fromHex('dbffffffff')],
    ['unknown extension', fromHex('d40100')],
    ['structured-clone pointer extension', fromHex('d47000')],
    ['Float64Array of 3 bytes', fromHex('c70474080102')],
    ['deep nesting', Buffer.concat([Buffer.alloc(200_000, 0x91), Buffer.from([0x01])])],
  ];
  for (const [name, bytes] of bad) {
    test(`${name} throws CodecError`, () => {
      assert.throws(() => decodeMessage(bytes), CodecError);
    });
  }

  test('decoding still works after a failure', () => {
    assert.throws(() => decodeMessage(fromHex('92a3616263')), CodecError);
    assert.deepEqual(decodeMessage(fromHex('92a3616263a178')), ['abc', 'x']);
  });

  test('property: random bytes decode or throw CodecError, nothing else', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        try {
          decodeMessage(bytes);
        } catch (err) {
          assert.ok(err instanceof CodecError, `unexpected ${String(err)}`);
        }
      }),
      { numRuns: 2_000 },
    );
  });
});

function withoutNegativeZero(value: unknown): unknown {
  if (typeof value === 'number') return Object.is(value, -0) ? 0 : value;
  if (Array.isArray(value)) return value.map(withoutNegativeZero);
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, withoutNegativeZero(v)]));
  }
  return value;
}
