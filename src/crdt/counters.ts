/**
 * Counters.
 *
 * - GCounter: grow-only; each replica counts its own increments, the value is the sum, join is the
 *   entry-wise max (a replica's entry only grows, so the larger one has seen more).
 * - PNCounter: two GCounters, increments minus decrements.
 * - CCounter: a causal counter (as `ccounter` in Baquero's delta-enabled-crdts) that can be reset and
 *   embedded in an AWORMap. Each replica's contribution sits under one dot, replaced on every change.
 *
 * Amounts are safe integers and every per-replica total stays a safe integer, so sums are exact and
 * independent of the order replicas are visited in.
 */
import { assert } from '../core/assert.js';
import { CausalContext, checkReplica } from './causal-context.js';
import { Causal, type Crdt, type Kind } from './causal.js';
import { DotFun } from './dot-store.js';

function checkAmount(amount: number, allowNegative: boolean): void {
  if (!Number.isSafeInteger(amount) || (!allowNegative && amount < 0)) {
    throw new RangeError(`an amount must be a ${allowNegative ? '' : 'non-negative '}safe integer, got ${amount}`);
  }
}

function checkedSum(a: number, b: number): number {
  const sum = a + b;
  if (!Number.isSafeInteger(sum)) throw new RangeError('a counter total would leave the safe integer range');
  return sum;
}

export class GCounter implements Crdt<GCounter> {
  private readonly counts = new Map<string, number>();

  kind(): Kind {
    return 'gcounter';
  }

  /** Adds `amount` (≥ 0) to `replica`'s entry; the delta is that entry alone. */
  increment(replica: string, amount = 1): GCounter {
    checkReplica(replica);
    checkAmount(amount, false);
    const total = checkedSum(this.counts.get(replica) ?? 0, amount);
    if (total > 0) this.counts.set(replica, total);
    const delta = new GCounter();
    if (total > 0) delta.counts.set(replica, total);
    return delta;
  }

  value(): number {
    let sum = 0;
    for (const count of this.counts.values()) sum += count;
    return sum;
  }

  /** `replica`'s own contribution. */
  get(replica: string): number {
    return this.counts.get(replica) ?? 0;
  }

  /** Replica → count (zero entries absent). */
  entries(): ReadonlyMap<string, number> {
    return this.counts;
  }

  join(other: GCounter): this {
    for (const [replica, count] of other.counts) {
      if (count > (this.counts.get(replica) ?? 0)) this.counts.set(replica, count);
    }
    return this;
  }

  clone(): GCounter {
    return GCounter.fromEntries(this.counts);
  }

  equals(other: GCounter): boolean {
    if (this.counts.size !== other.counts.size) return false;
    for (const [replica, count] of this.counts) if (other.counts.get(replica) !== count) return false;
    return true;
  }

  /** Every entry is a replica's positive safe-integer count (zero entries are absent, so equal states are equal maps). */
  checkInvariants(): void {
    for (const [replica, count] of this.counts) {
      assert(typeof replica === 'string' && replica.length > 0, 'gcounter: a replica id that is not a non-empty string');
      assert(Number.isSafeInteger(count) && count > 0, 'gcounter: an entry that is not a positive safe integer');
    }
  }

  /** A counter with the given entries (codec input): positive safe integers; zero entries are skipped. */
  static fromEntries(entries: Iterable<readonly [string, number]>): GCounter {
    const counter = new GCounter();
    for (const [replica, count] of entries) {
      checkReplica(replica);
      checkAmount(count, false);
      if (count > 0) counter.counts.set(replica, Math.max(count, counter.counts.get(replica) ?? 0));
    }
    return counter;
  }
}

export class PNCounter implements Crdt<PNCounter> {
  constructor(
    readonly positive: GCounter = new GCounter(),
    readonly negative: GCounter = new GCounter(),
  ) {}

  kind(): Kind {
    return 'pncounter';
  }

  /** Adds `amount` for `replica`; a negative amount decrements. */
  increment(replica: string, amount = 1): PNCounter {
    checkAmount(amount, true);
    if (amount < 0) return this.decrement(replica, -amount);
    return new PNCounter(this.positive.increment(replica, amount), new GCounter());
  }

  decrement(replica: string, amount = 1): PNCounter {
    checkAmount(amount, true);
    if (amount < 0) return this.increment(replica, -amount);
    return new PNCounter(new GCounter(), this.negative.increment(replica, amount));
  }

  value(): number {
    return this.positive.value() - this.negative.value();
  }

  join(other: PNCounter): this {
    this.positive.join(other.positive);
    this.negative.join(other.negative);
    return this;
  }

  clone(): PNCounter {
    return new PNCounter(this.positive.clone(), this.negative.clone());
  }

  equals(other: PNCounter): boolean {
    return this.positive.equals(other.positive) && this.negative.equals(other.negative);
  }

  checkInvariants(): void {
    assert(this.positive !== this.negative, 'pncounter: one grow-only counter on both sides');
    this.positive.checkInvariants();
    this.negative.checkInvariants();
  }
}

/**
 * A resettable counter. Each replica's running total sits under a single dot; a change replaces the dot
 * (the delta holds the new dot and, in its context, the old one). `reset` removes every observed dot.
 *
 * Concurrent reset and change: the change's new dot was not observed by the reset, so it survives, with the
 * changing replica's whole running total, including what it had before the reset. Other replicas'
 * contributions are reset. This is the known limit of a state-based embeddable counter with bounded state
 * (see Baquero, Almeida, Lerche, "The problem with embedded CRDT counters and a solution", PaPoC 2016).
 */
export class CCounter extends Causal<DotFun<number>, CCounter> {
  constructor(store: DotFun<number> = new DotFun<number>(), context: CausalContext = new CausalContext()) {
    super(store, context);
  }

  make(store: DotFun<number>, context: CausalContext): CCounter {
    return new CCounter(store, context);
  }

  kind(): 'ccounter' {
    return 'ccounter';
  }

  /** Adds `amount` (any safe integer) to `replica`'s contribution. */
  increment(replica: string, amount = 1): CCounter {
    checkReplica(replica);
    checkAmount(amount, true);
    const delta = this.newDelta();
    if (amount === 0) return delta;
    let base = 0;
    // A replica has at most one dot in reachable states; summing keeps this right even if it had more.
    // (Deleting the current entry while iterating a Map is well defined.)
    for (const entry of this.store.values()) {
      if (entry.replica !== replica) continue;
      base = checkedSum(base, entry.value);
      this.store.delete(entry);
      delta.context.add(entry);
    }
    const total = checkedSum(base, amount);
    const dot = this.context.next(replica);
    this.store.set(dot, total);
    delta.store.set(dot, total);
    delta.context.add(dot);
    return delta;
  }

  decrement(replica: string, amount = 1): CCounter {
    checkAmount(amount, true);
    return this.increment(replica, -amount);
  }

  /** Forgets every contribution observed so far. */
  reset(): CCounter {
    return this.removeAll();
  }

  value(): number {
    let sum = 0;
    for (const entry of this.store.values()) sum += entry.value;
    return sum;
  }

  /**
   * Every contribution is a safe integer (0 included: a change can bring a replica's total back to it). Not
   * claimed: one dot per replica, which our own writes keep but decoding does not check (`increment` sums).
   */
  override checkValues(): void {
    for (const entry of this.store.values()) assert(Number.isSafeInteger(entry.value), 'ccounter: a contribution that is not a safe integer');
  }
}
