/**
 * Run summaries of other senders' streams, kept so that a node can pass them on to a peer that lacks them.
 *
 * Why relaying: a sender that crashes (or stays cut off) leaves its peers holding different prefixes of its
 * stream: whatever each happened to receive before it died. Printing those would give different lines. The
 * checksum is a monoid over ordered runs, so a node needs only a run's summary (first sequence number,
 * timestamp, count, Σv, Σj·v), never its values, to fold it; summaries are a few dozen bytes per run of
 * thousands of values. Live nodes therefore pass each other the summaries of any stream one of them lacks, and
 * all of them end up holding the longest prefix that any of them holds: one cut of each dead stream, the same on
 * every live node.
 *
 * A store keeps one stream's runs in sequence order, contiguous from the oldest it still keeps. It forgets runs
 * that every peer is known to hold (`prune`), and at most `maxRuns` (dropping the oldest beyond that: a peer
 * silent for that long is repaired by the stream's own sender, if that one lives).
 */
import { assert, AssertionError } from '../core/assert.js';
import type { Run } from './ledger.js';

export class RelayStore {
  private runs: Run[] = [];
  private head = 0;
  /** Runs forgotten because the store was full, not because every peer held them. */
  overflowed = 0;

  constructor(private readonly maxRuns: number) {
    assert(Number.isSafeInteger(maxRuns) && maxRuns >= 1, 'a relay store holds at least one run');
  }

  get size(): number {
    return this.runs.length - this.head;
  }

  /** Appends the run that follows the last one added (the caller's lane accepts runs only in order). */
  add(run: Run): void {
    const last = this.runs[this.runs.length - 1];
    assert(last === undefined || run.seq === last.seq + last.summary.count, 'relay store runs must be contiguous');
    this.runs.push(run);
    if (this.size > this.maxRuns) {
      this.head++;
      this.overflowed++;
    }
    this.compact();
  }

  /** For the protocol's invariants: within its bound. */
  checkInvariants(): void {
    if (this.head > this.runs.length || this.size > this.maxRuns) throw new AssertionError(`relay store holds ${this.size} runs, bound ${this.maxRuns}`);
  }

  /** Forgets every run that ends at or below `heldByAll`: every peer holds it. */
  prune(heldByAll: number): void {
    while (this.head < this.runs.length) {
      const run = this.runs[this.head] as Run;
      if (run.seq + run.summary.count > heldByAll) break;
      this.head++;
    }
    this.compact();
  }

  /** Up to `max` runs starting exactly at `seq`; empty when the store does not hold a run starting there. */
  from(seq: number, max: number): Run[] {
    let lo = this.head;
    let hi = this.runs.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const at = (this.runs[mid] as Run).seq;
      if (at === seq) return this.runs.slice(mid, Math.min(this.runs.length, mid + max));
      if (at < seq) lo = mid + 1;
      else hi = mid - 1;
    }
    return [];
  }

  private compact(): void {
    if (this.head > 64 && this.head * 2 > this.runs.length) {
      this.runs = this.runs.slice(this.head);
      this.head = 0;
    }
  }
}
