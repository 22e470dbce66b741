/** The key space: murmur3_32 against published reference vectors, key hashing, range validation. */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  InvalidRangeError,
  KEY_SPACE_SIZE,
  MAX_POSITION,
  checkPosition,
  checkRange,
  hashKey,
  isRange,
  murmur3_32,
  toPosition,
} from '../src/ranges/index.js';

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

describe('murmur3_32', () => {
  // Reference values of Appleby's MurmurHash3_x86_32, as published with SMHasher and reproduced by the
  // test suites of independent implementations (Python mmh3, Go murmur3, Boost.Hash2).
  const vectors: readonly [Uint8Array, number, number][] = [
    [utf8(''), 0, 0],
    [utf8(''), 1, 0x514e28b7],
    [utf8(''), 0xffffffff, 0x81f16f39],
    [Uint8Array.of(0xff, 0xff, 0xff, 0xff), 0, 0x76293b50],
    [Uint8Array.of(0x21, 0x43, 0x65, 0x87), 0, 0xf55b516b],
    [Uint8Array.of(0x21, 0x43, 0x65, 0x87), 0x5082edee, 0x2362f9de],
    [Uint8Array.of(0x21, 0x43, 0x65), 0, 0x7e4a8634],
    [Uint8Array.of(0x21, 0x43), 0, 0xa0f7b07a],
    [Uint8Array.of(0x21), 0, 0x72661cf4],
    [Uint8Array.of(0, 0, 0, 0), 0, 0x2362f9de],
    [Uint8Array.of(0, 0, 0), 0, 0x85f0b427],
    [Uint8Array.of(0, 0), 0, 0x30f4c306],
    [utf8('a'), 0x9747b28c, 0x7fa09ea6],
    [utf8('abcd'), 0x9747b28c, 0xf0478627],
    [utf8('Hello, world!'), 0x9747b28c, 0x24884cba],
    [utf8('ππππππππ'), 0x9747b28c, 0xd58063c1],
    [utf8('a'.repeat(256)), 0x9747b28c, 0x37405bdc],
    [utf8('abc'), 0, 0xb3dd93fa],
    [utf8('abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq'), 0, 0xee925b90],
    [utf8('The quick brown fox jumps over the lazy dog'), 0x9747b28c, 0x2fa826cd],
  ];
  for (const [bytes, seed, expected] of vectors) {
    test(`${Buffer.from(bytes).toString('hex') || '(empty)'} seed ${seed.toString(16)}`, () => {
      assert.equal(murmur3_32(bytes, seed), expected);
    });
  }

  test('passes the SMHasher verification value 0xB0F57EE3', () => {
    // SMHasher's VerificationTest: hash the keys {}, {0}, {0,1}, … {0..254} with seed 256 - length, write the
    // 256 results little-endian one after the other, and hash that with seed 0.
    const key = new Uint8Array(256);
    const hashes = new Uint8Array(256 * 4);
    const view = new DataView(hashes.buffer);
    for (let i = 0; i < 256; i++) {
      key[i] = i;
      view.setUint32(i * 4, murmur3_32(key.subarray(0, i), 256 - i), true);
    }
    assert.equal(murmur3_32(hashes, 0), 0xb0f57ee3);
  });
});

describe('hashKey', () => {
  test('is murmur3_32 of the UTF-8 bytes with seed 0 (golden vectors)', () => {
    assert.equal(hashKey(''), 0);
    assert.equal(hashKey('hello'), 0x248bfa47);
    assert.equal(hashKey('hello, world'), 0x149bbb7f);
    assert.equal(hashKey('abc'), 0xb3dd93fa);
    assert.equal(hashKey('The quick brown fox jumps over the lazy dog'), 0x2e4ff723);
  });

  test('hashes non-ASCII text as UTF-8, and lone surrogates as U+FFFD', () => {
    assert.equal(hashKey('ππππππππ'), murmur3_32(Uint8Array.from(Buffer.from('ππππππππ', 'utf8')), 0));
    assert.equal(hashKey('\ud800'), hashKey('\ufffd'));
  });

  test('lands in the key space', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (s) => {
        const h = hashKey(s);
        assert.ok(Number.isInteger(h) && h >= 0 && h <= MAX_POSITION);
      }),
    );
  });

  test('toPosition hashes strings and takes numbers as raw positions', () => {
    assert.equal(toPosition('hello'), 0x248bfa47);
    assert.equal(toPosition(0), 0);
    assert.equal(toPosition(MAX_POSITION), MAX_POSITION);
    assert.equal(toPosition('42'), hashKey('42'));
    assert.throws(() => toPosition(KEY_SPACE_SIZE), InvalidRangeError);
    assert.throws(() => toPosition(-1), InvalidRangeError);
    assert.throws(() => toPosition(1.5), InvalidRangeError);
    assert.throws(() => hashKey(7 as unknown as string), TypeError);
  });
});

describe('ranges', () => {
  test('are half-open [start, end) with 0 ≤ start < end ≤ 2^32', () => {
    checkRange(0, KEY_SPACE_SIZE);
    checkRange(0, 1);
    checkRange(MAX_POSITION, KEY_SPACE_SIZE);
    assert.ok(isRange(5, 6));
    assert.ok(!isRange(6, 6));
    assert.ok(!isRange(0, KEY_SPACE_SIZE + 1));
    assert.ok(!isRange('0', 5));
  });

  test('invalid ranges are rejected with a message naming the problem', () => {
    const cases: [number, number, RegExp][] = [
      [10, 5, /start 10 is after its end 5/],
      [7, 7, /\[7, 7\) is empty/],
      [-1, 5, /start -1 is below the key space/],
      [0, KEY_SPACE_SIZE + 1, /end 4294967297 is beyond the key space/],
      [0.5, 5, /start must be an integer, got 0\.5/],
      [0, Number.NaN, /end must be an integer, got NaN/],
      [0, Infinity, /end must be an integer, got Infinity/],
      ['3' as unknown as number, 5, /start must be an integer, got string 3/],
    ];
    for (const [start, end, message] of cases) {
      assert.throws(() => checkRange(start, end), (error: unknown) => {
        assert.ok(error instanceof InvalidRangeError && error instanceof RangeError);
        assert.match(error.message, message);
        return true;
      });
    }
  });

  test('invalid positions are rejected', () => {
    checkPosition(0);
    checkPosition(MAX_POSITION);
    assert.throws(() => checkPosition(KEY_SPACE_SIZE), /outside the key space/);
    assert.throws(() => checkPosition(-3), /outside the key space/);
    assert.throws(() => checkPosition(2.25), /must be an integer/);
  });

  test('validation agrees with isRange on arbitrary input', () => {
    const bound = fc.oneof(
      fc.integer({ min: -3, max: 3 }),
      fc.integer({ min: KEY_SPACE_SIZE - 2, max: KEY_SPACE_SIZE + 2 }),
      fc.double(),
    );
    fc.assert(
      fc.property(bound, bound, (start, end) => {
        let valid = true;
        try {
          checkRange(start, end);
        } catch (error) {
          assert.ok(error instanceof InvalidRangeError);
          valid = false;
        }
        assert.equal(valid, isRange(start, end));
      }),
    );
  });
});
