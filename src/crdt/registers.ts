/**
 * Registers.
 *
 * - MVRegister: a multi-value register. A write replaces the values it has observed; concurrent writes are
 *   all kept (none is observed by the other), so a read returns every concurrent value, in dot order, and
 *   the next write resolves them. Causal: it can be a value of an AWORMap.
 * - LWWRegister: a last-writer-wins register over a total order of (timestamp, replica): the write with the
 *   greater timestamp wins, replica id (code-unit order) breaks ties. Timestamps are given by the caller;
 *   this code never reads a clock.
 */
import { assert } from '../core/assert.js';
import { CausalContext, checkReplica } from './causal-context.js';
import { Causal, type Crdt, type Kind } from './causal.js';
import { DotFun } from './dot-store.js';
import { compareData, dataEquals } from './data.js';

export class MVRegister<V = unknown> extends Causal<DotFun<V>, MVRegister<V>> {
  constructor(store: DotFun<V> = new DotFun<V>(), context: CausalContext = new CausalContext()) {
    super(store, context);
  }

  make(store: DotFun<V>, context: CausalContext): MVRegister<V> {
    return new MVRegister<V>(store, context);
  }

  kind(): 'mvregister' {
    return 'mvregister';
  }

  /** Writes `value` (plain data, not mutated afterwards) under a fresh dot, replacing observed values. */
  write(replica: string, value: V): MVRegister<V> {
    checkReplica(replica);
    const delta = this.newDelta();
    this.store.forEachDot((dot) => delta.context.add(dot));
    this.store.clear();
    const dot = this.context.next(replica);
    this.store.set(dot, value);
    delta.store.set(dot, value);
    delta.context.add(dot);
    return delta;
  }

  /** Removes every observed value; a concurrent write survives. */
  clear(): MVRegister<V> {
    return this.removeAll();
  }

  /** The concurrent values, in (replica, counter) order of their dots; empty if never written or cleared. */
  value(): V[] {
    return this.store.sorted().map((entry) => entry.value);
  }
}

/** A winning write: its stamp and value. */
export interface LWWWrite<V> {
  readonly timestamp: number;
  readonly replica: string;
  readonly value: V;
}

/** Orders writes by (timestamp, replica); identical stamps (a replica reusing a timestamp) by value bytes. */
export function compareWrites<V>(a: LWWWrite<V>, b: LWWWrite<V>): number {
  if (a.timestamp !== b.timestamp) return a.timestamp < b.timestamp ? -1 : 1;
  if (a.replica !== b.replica) return a.replica < b.replica ? -1 : 1;
  return compareData(a.value, b.value);
}

export class LWWRegister<V = unknown> implements Crdt<LWWRegister<V>> {
  private current: LWWWrite<V> | undefined;

  constructor(write?: LWWWrite<V>) {
    if (write !== undefined) {
      checkWrite(write);
      this.current = write;
    }
  }

  kind(): Kind {
    return 'lwwregister';
  }

  /**
   * Writes `value` stamped (timestamp, replica). The delta is that write whether it wins here or not, so
   * the mutation is always the join of the state with its delta.
   */
  write(replica: string, timestamp: number, value: V): LWWRegister<V> {
    const write: LWWWrite<V> = { timestamp, replica, value };
    checkWrite(write);
    if (this.current === undefined || compareWrites(write, this.current) > 0) this.current = write;
    return new LWWRegister<V>(write);
  }

  value(): V | undefined {
    return this.current?.value;
  }

  /** The winning write, with its stamp. */
  get winner(): LWWWrite<V> | undefined {
    return this.current;
  }

  join(other: LWWRegister<V>): this {
    const theirs = other.current;
    if (theirs !== undefined && (this.current === undefined || compareWrites(theirs, this.current) > 0)) {
      this.current = theirs;
    }
    return this;
  }

  clone(): LWWRegister<V> {
    return new LWWRegister<V>(this.current);
  }

  equals(other: LWWRegister<V>): boolean {
    const a = this.current;
    const b = other.current;
    if (a === undefined || b === undefined) return a === b;
    return a.timestamp === b.timestamp && a.replica === b.replica && dataEquals(a.value, b.value);
  }

  /** No write, or one with a finite timestamp and a replica id (what `write`, the constructor and the codec check). */
  checkInvariants(): void {
    const w = this.current;
    if (w === undefined) return;
    assert(Number.isFinite(w.timestamp), 'lwwregister: a winning write without a finite timestamp');
    assert(typeof w.replica === 'string' && w.replica.length > 0, 'lwwregister: a winning write without a replica id');
  }
}

function checkWrite<V>(write: LWWWrite<V>): void {
  checkReplica(write.replica);
  if (!Number.isFinite(write.timestamp)) {
    throw new RangeError(`a timestamp must be a finite number, got ${write.timestamp}`);
  }
}
