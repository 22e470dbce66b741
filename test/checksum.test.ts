import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { appendSummary, emptySummary, formatFixed10, formatResultLine, summarize, type Summary } from '../src/agreement/checksum.js';
import { Ledger } from '../src/agreement/ledger.js';
import { HybridClock } from '../src/core/hybrid-clock.js';
import { valueAt, VALUE_SCALE } from '../src/core/prng.js';

/** The definition, by brute force: Σ i·m_i with i from 1. */
function naive(values: readonly number[]): Summary {
  let sum = 0n;
  let weighted = 0n;
  values.forEach((v, i) => {
    sum += BigInt(v);
    weighted += BigInt(i + 1) * BigInt(v);
  });
  return { count: values.length, sum, weighted };
}

const value = fc.integer({ min: 1, max: VALUE_SCALE });

describe('checksum', () => {
  test("the original chatterbox's vector: ordered values 1, 6, 8, 5 give 57", () => {
    assert.equal(summarize([1, 6, 8, 5]).weighted, 57n);
  });

  test('formats the sum in exact fixed point with 10 decimals', () => {
    assert.equal(formatResultLine({ count: 0, weighted: 0n }), '(0, 0.0000000000)');
    assert.equal(formatResultLine({ count: 1000, weighted: 250000n * 10_000_000_000n }), '(1000, 250000.0000000000)');
    assert.equal(formatFixed10(12_345_678_901_234_567_890_123n), '1234567890123.4567890123');
    assert.equal(formatFixed10(7n), '0.0000000007');
  });

  test('summarize equals the definition, also for long runs of maximal values', () => {
    fc.assert(fc.property(fc.array(value, { maxLength: 300 }), (values) => assert.deepEqual(summarize(values), naive(values))));
    const longest = new Array<number>(20_000).fill(VALUE_SCALE);
    assert.deepEqual(summarize(longest), naive(longest));
  });

  test('appending summaries is the summary of the concatenation (a monoid)', () => {
    fc.assert(
      fc.property(fc.array(fc.array(value, { maxLength: 40 }), { maxLength: 8 }), (runs) => {
        const folded = emptySummary();
        for (const run of runs) appendSummary(folded, summarize(run));
        assert.deepEqual(folded, naive(runs.flat()));
      }),
    );
  });
});

describe('ledger', () => {
  test("the original's compaction vector: prefix (5, 72), entries (6,5) (8,25) (10,8), latest {9, 10}", () => {
    const ledger = new Ledger(2);
    ledger.append(0, { ts: 0, seq: 0, summary: { count: 5, sum: 0n, weighted: 72n } });
    ledger.append(1, { ts: 6, seq: 0, summary: summarize([5]) });
    ledger.append(0, { ts: 8, seq: 1, summary: summarize([25]) });
    ledger.append(1, { ts: 10, seq: 1, summary: summarize([8]) });
    ledger.raiseBound(0, 9);
    ledger.commit();
    assert.equal(ledger.committed.count, 7);
    assert.equal(ledger.committed.weighted, 277n);
    assert.equal(ledger.pendingCount, 1);
  });

  test('folds in (timestamp, rank) order whatever the arrival interleaving, and only behind the watermark', () => {
    const lanes = fc.array(fc.array(fc.tuple(fc.integer({ min: 1, max: 5 }), fc.array(value, { minLength: 1, maxLength: 4 })), { maxLength: 12 }), { minLength: 1, maxLength: 4 });
    fc.assert(
      fc.property(lanes, fc.infiniteStream(fc.nat()), (gapsPerLane, choices) => {
        // Build each sender's runs with strictly increasing timestamps (gaps ≥ 1, ties across senders likely).
        const runs = gapsPerLane.map((gaps) => {
          let ts = 0;
          return gaps.map(([gap, values], seq) => ({ ts: (ts += gap), seq, values }));
        });
        const ledger = new Ledger(runs.length);
        const next = runs.map(() => 0);
        const it = choices[Symbol.iterator]();
        let remaining = runs.reduce((n, r) => n + r.length, 0);
        while (remaining > 0) {
          const rank = (it.next().value as number) % runs.length;
          const run = runs[rank]?.[next[rank] as number];
          if (run === undefined) continue;
          ledger.append(rank, { ts: run.ts, seq: run.seq, summary: summarize(run.values) });
          next[rank]! += 1;
          remaining--;
          const before = ledger.committed.count;
          ledger.commit();
          // Nothing is folded past the slowest unfinished sender's latest run.
          const watermark = Math.min(...runs.map((r, i) => (next[i] === 0 ? -Infinity : (r[(next[i] as number) - 1]?.ts as number))));
          const settled = runs.flatMap((r, i) => r.slice(0, next[i]).filter((x) => x.ts <= watermark).map((x) => x.values.length)).reduce((a, b) => a + b, 0);
          assert.ok(ledger.committed.count >= before);
          assert.equal(ledger.committed.count, settled);
        }
        runs.forEach((_, rank) => ledger.finish(rank));
        ledger.commit();
        const order = runs.flatMap((r, rank) => r.map((x) => ({ ...x, rank }))).sort((a, b) => a.ts - b.ts || a.rank - b.rank);
        assert.deepEqual(ledger.committed, naive(order.flatMap((x) => x.values)));
        assert.equal(ledger.pendingCount, 0);
      }),
      { numRuns: 200 },
    );
  });

  test('refuses a run below its sender bound (a bug, never input)', () => {
    const ledger = new Ledger(1);
    ledger.raiseBound(0, 10);
    assert.throws(() => ledger.append(0, { ts: 10, seq: 0, summary: summarize([1]) }), /bound/);
  });
});

describe('values and clock', () => {
  test('values are integers in [1, 10^10], a pure function of (seed, stream, index)', () => {
    fc.assert(
      fc.property(fc.nat(), fc.nat(), fc.nat({ max: 1e9 }), (seed, stream, index) => {
        const v = valueAt(seed, stream, index);
        assert.ok(Number.isInteger(v) && v >= 1 && v <= VALUE_SCALE);
        assert.equal(valueAt(seed, stream, index), v);
      }),
    );
    const seen = new Set<number>();
    for (let i = 0; i < 1000; i++) seen.add(valueAt(1, 2, i));
    assert.ok(seen.size > 990, 'values look random');
    assert.notEqual(valueAt(1, 2, 3), valueAt(2, 2, 3));
  });

  test('the hybrid clock strictly increases and never falls behind what it observed', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.record({ now: fc.double({ min: 0, max: 1e6, noNaN: true }) }), fc.record({ seen: fc.nat() })), { maxLength: 60 }), (events) => {
        const clock = new HybridClock();
        let last = -1;
        for (const e of events) {
          if ('seen' in e) {
            clock.observe(e.seen);
            last = Math.max(last, e.seen);
          } else {
            const ts = clock.issue(e.now);
            assert.ok(ts > last && ts >= Math.floor(e.now * 1000));
            last = ts;
          }
        }
      }),
    );
  });
});
