/**
 * The job's result, `(|m|, Σ i·m_i)`, as a monoid over ordered runs of messages.
 *
 * A run r has a summary (count c, sum of values s, weighted sum w = Σ_{j=1..c} j·v_j). Two runs a then b
 * combine as (a.c + b.c, a.s + b.s, a.w + b.w + a.c·b.s): every message of b moves a.c places to the right.
 * So a node can summarize each batch once, on arrival, and fold summaries in the agreed order later without
 * keeping any values: memory does not grow with the length of the run.
 *
 * Values are integers in [1, 10^10] (fixed point, 10 decimals); `w` is therefore in units of 10^-10.
 */
import { VALUE_SCALE } from '../core/prng.js';

export interface Summary {
  count: number;
  sum: bigint;
  weighted: bigint;
}

export function emptySummary(): Summary {
  return { count: 0, sum: 0n, weighted: 0n };
}

/** Folds `next` onto the end of `into`, in place. */
export function appendSummary(into: Summary, next: Summary): void {
  into.weighted += next.weighted + BigInt(into.count) * next.sum;
  into.sum += next.sum;
  into.count += next.count;
}

const SPLIT = 100_000; // v = hi·10^5 + lo with hi, lo ≤ 10^5

/** Largest run summarized with float arithmetic that stays exact (Σ j·hi ≤ n²/2 · 10^5 < 2^53). */
export const MAX_SUMMARY_RUN = 1 << 18;

/**
 * Summarizes values[from, to) in order. Floats are exact here: every partial sum stays below 2^53
 * because each value is split into two halves of at most 10^5 (see MAX_SUMMARY_RUN).
 */
export function summarize(values: ArrayLike<number>, from = 0, to = values.length): Summary {
  if (to - from > MAX_SUMMARY_RUN) throw new RangeError(`a run of ${to - from} values is too long to summarize at once`);
  let sumHi = 0;
  let sumLo = 0;
  let wHi = 0;
  let wLo = 0;
  for (let i = from, j = 1; i < to; i++, j++) {
    const v = values[i] as number;
    const hi = Math.floor(v / SPLIT);
    const lo = v - hi * SPLIT;
    sumHi += hi;
    sumLo += lo;
    wHi += j * hi;
    wLo += j * lo;
  }
  const split = BigInt(SPLIT);
  return {
    count: to - from,
    sum: BigInt(sumHi) * split + BigInt(sumLo),
    weighted: BigInt(wHi) * split + BigInt(wLo),
  };
}

const SCALE = BigInt(VALUE_SCALE);

/** `(count, sum)` with the sum in exact fixed point, 10 decimals: `(1000, 250000.0000000000)`. */
export function formatResultLine(summary: Pick<Summary, 'count' | 'weighted'>): string {
  return `(${summary.count}, ${formatFixed10(summary.weighted)})`;
}

export function formatFixed10(units: bigint): string {
  if (units < 0n) throw new RangeError('a checksum is never negative');
  const whole = units / SCALE;
  const frac = (units % SCALE).toString().padStart(10, '0');
  return `${whole}.${frac}`;
}
