/**
 * The key space of range ownership: the integers [0, 2^32).
 *
 * - A **position** is an integer p with 0 ≤ p < 2^32.
 * - A **range** is half-open, [start, end): integers with 0 ≤ start < end ≤ 2^32. Half-open ranges tile
 *   without overlap ([0, 10) and [10, 20) share no position), the whole space is [0, 2^32), and the length
 *   is end - start. Empty ranges (start = end) are rejected: a node cannot serve nothing.
 * - A **key** is a string, hashed onto a position by `hashKey`: MurmurHash3 x86_32 of the key's UTF-8
 *   bytes with seed 0 (Appleby, SMHasher), as an unsigned 32-bit integer. It is stable across platforms,
 *   versions and languages, so any implementation with murmur3_32 routes a key the same way. Lone UTF-16
 *   surrogates, which have no UTF-8 form, encode as U+FFFD (as TextEncoder does). `toPosition` also accepts
 *   a number, taken as a raw position, not hashed.
 *
 * All positions fit in a double exactly, so plain numbers are used throughout (no bigint).
 */
import { hash32 } from '../core/prng.js';

/** Number of positions: 2^32. The largest valid range end. */
export const KEY_SPACE_SIZE = 0x1_0000_0000;

/** The largest position, 2^32 - 1. */
export const MAX_POSITION = KEY_SPACE_SIZE - 1;

/** A bad position or range: the message says which bound was broken and by what value. */
export class InvalidRangeError extends RangeError {
  override readonly name = 'InvalidRangeError';
}

/** A half-open range [start, end) of positions. */
export interface KeyRange {
  readonly start: number;
  readonly end: number;
}

function describe(value: unknown): string {
  return typeof value === 'number' ? String(value) : `${typeof value} ${String(value)}`;
}

/** Throws InvalidRangeError unless `position` is an integer in [0, 2^32). */
export function checkPosition(position: number, what = 'position'): void {
  if (typeof position !== 'number' || !Number.isInteger(position)) {
    throw new InvalidRangeError(`${what} must be an integer, got ${describe(position)}`);
  }
  if (position < 0 || position > MAX_POSITION) {
    throw new InvalidRangeError(`${what} ${position} is outside the key space [0, 2^32)`);
  }
}

/** Throws InvalidRangeError unless [start, end) is a non-empty range of the key space. */
export function checkRange(start: number, end: number): void {
  if (typeof start !== 'number' || !Number.isInteger(start)) {
    throw new InvalidRangeError(`range start must be an integer, got ${describe(start)}`);
  }
  if (typeof end !== 'number' || !Number.isInteger(end)) {
    throw new InvalidRangeError(`range end must be an integer, got ${describe(end)}`);
  }
  if (start < 0) throw new InvalidRangeError(`range start ${start} is below the key space [0, 2^32)`);
  if (end > KEY_SPACE_SIZE) {
    throw new InvalidRangeError(`range end ${end} is beyond the key space (ends are at most 2^32 = ${KEY_SPACE_SIZE})`);
  }
  if (start > end) throw new InvalidRangeError(`range start ${start} is after its end ${end}`);
  if (start === end) throw new InvalidRangeError(`range [${start}, ${end}) is empty (ranges are half-open)`);
}

/** Whether [start, end) is a valid range (no exception). */
export function isRange(start: unknown, end: unknown): boolean {
  return (
    typeof start === 'number' &&
    typeof end === 'number' &&
    Number.isInteger(start) &&
    Number.isInteger(end) &&
    start >= 0 &&
    start < end &&
    end <= KEY_SPACE_SIZE
  );
}

/**
 * MurmurHash3 x86_32 of `bytes` (Austin Appleby's reference `MurmurHash3_x86_32`): 4-byte little-endian
 * blocks, then the tail, then the length and the fmix32 finalizer. Returns an unsigned 32-bit integer.
 */
export function murmur3_32(bytes: Uint8Array, seed = 0): number {
  const c1 = 0xcc9e2d51;
  const c2 = 0x1b873593;
  const length = bytes.length;
  const blocks = length & ~3;
  let h = seed | 0;
  for (let i = 0; i < blocks; i += 4) {
    let k =
      (bytes[i] as number) |
      ((bytes[i + 1] as number) << 8) |
      ((bytes[i + 2] as number) << 16) |
      ((bytes[i + 3] as number) << 24);
    k = Math.imul(k, c1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, c2);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  const tail = length & 3;
  if (tail > 0) {
    let k = 0;
    if (tail === 3) k ^= (bytes[blocks + 2] as number) << 16;
    if (tail >= 2) k ^= (bytes[blocks + 1] as number) << 8;
    k ^= bytes[blocks] as number;
    k = Math.imul(k, c1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, c2);
    h ^= k;
  }
  // The reference mixes in the length as a 32-bit value, then finalizes with fmix32, which is `hash32`.
  return hash32(h ^ (length | 0));
}

const utf8 = new TextEncoder();

/** The position of a string key: murmur3_32 of its UTF-8 bytes, seed 0. */
export function hashKey(key: string): number {
  if (typeof key !== 'string') throw new TypeError(`a key must be a string, got ${typeof key}`);
  return murmur3_32(utf8.encode(key), 0);
}

/** A key's position: a string is hashed with `hashKey`; a number is a raw position, checked. */
export function toPosition(key: string | number): number {
  if (typeof key === 'number') {
    checkPosition(key);
    return key;
  }
  return hashKey(key);
}
