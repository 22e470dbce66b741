/**
 * Deterministic randomness. Protocols and the simulator never call Math.random(): they draw from these.
 *
 * - `hash32`/`hashString32` mix integers into well-spread 32-bit words (murmur3 finalizer).
 * - `valueAt(seed, stream, index)` is counter-based: the index-th value of a stream is computable directly,
 *   so a sender can regenerate any message it ever sent instead of keeping it for retransmission.
 * - `Prng` is a small sequential generator (sfc32) for simulations and schedules.
 */

export function hash32(x: number): number {
  let h = x | 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** FNV-1a over UTF-16 code units, then finalized. Stable across platforms and versions. */
export function hashString32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return hash32(h);
}

/** Folds an arbitrary (possibly > 2^32) non-negative integer seed into a 32-bit word. */
export function seed32(seed: number | bigint): number {
  const big = BigInt(seed);
  const lo = Number(big & 0xffffffffn);
  const hi = Number((big >> 32n) & 0xffffffffn);
  return hash32(lo ^ hash32(hi + 0x9e3779b9));
}

const TWO_POW_32 = 4294967296;

/** Fixed-point scale of agreement values: 10 decimals, as in the original chatterbox. */
export const VALUE_SCALE = 10_000_000_000;

/**
 * The index-th value of a stream, an integer in [1, VALUE_SCALE] standing for a number in (0, 1].
 * 53 random bits reduced modulo 10^10: the bias is below 2^-19 relative and irrelevant here.
 */
export function valueAt(seed: number, stream: number, index: number): number {
  const a = hash32(seed ^ hash32(stream + Math.imul(index, 0x9e3779b1)));
  const b = hash32(a ^ hash32(index ^ 0x5bd1e995) ^ (stream >>> 1));
  const high21 = b >>> 11;
  return 1 + ((high21 * TWO_POW_32 + a) % VALUE_SCALE);
}

/** sfc32: a fast, well-tested 32-bit generator with a 128-bit state. */
export class Prng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number) {
    this.a = 0x9e3779b9;
    this.b = 0x243f6a88;
    this.c = 0xb7e15162;
    this.d = seed >>> 0;
    for (let i = 0; i < 15; i++) this.nextU32();
  }

  nextU32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform in [0, 1). */
  float(): number {
    return this.nextU32() / TWO_POW_32;
  }

  /** Uniform integer in [min, max], both inclusive. */
  int(min: number, max: number): number {
    return min + Math.floor(this.float() * (max - min + 1));
  }

  chance(probability: number): boolean {
    return this.float() < probability;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('pick from an empty list');
    return items[Math.floor(this.float() * items.length)] as T;
  }

  /** An independent generator derived from this one, so that adding draws in one place does not shift another. */
  fork(): Prng {
    return new Prng(this.nextU32());
  }
}
