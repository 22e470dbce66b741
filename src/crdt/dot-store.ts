/**
 * Dot stores: the payload half of a causal CRDT, always interpreted together with a causal context.
 *
 * A causal CRDT state is a pair (store, context). A dot in the context but not in the store was removed (or
 * superseded), so removals need no tombstones: dropping the dot from the store while keeping it in the
 * context is enough. The join of (s, c) and (s', c') keeps what both stores hold, plus what one store holds
 * that the other's context has not seen (Almeida, Shoker, Baquero, "Delta State Replicated Data Types", 5.1):
 *
 *   DotSet:     (s ∩ s') ∪ (s \ c') ∪ (s' \ c)
 *   DotFun<V>:  the same on the domains, values of dots in both joined
 *   DotMap<K,S>: key-wise join of the sub-stores (under the same two contexts), empty results dropped
 *
 * Stores join in place (`this` receives the result) given both contexts as they were before the join; the
 * owner then joins the contexts. Nested maps share the contexts of the outermost state.
 *
 * Cost. Read literally, the rule makes every join visit every entry of `this` (an entry the other side
 * lacks may have been removed there), so shipping n single-element deltas to a replica would cost O(n²).
 * A DotMap therefore keeps an owner index (dot → the key holding it): when the other context is smaller
 * than the map (a delta), the join enumerates that context's dots and visits only the keys that hold one of
 * them. Joining a delta then costs O(size of the delta), not O(size of the state).
 */
import { assert } from '../core/assert.js';
import { type CausalContext, type Dot, dotKey, compareDots } from './causal-context.js';
import { dataEquals } from './data.js';

/** Told about each dot a join adds to or removes from a store (how DotMaps keep their owner index). */
export interface DotObserver {
  added(dot: Dot, key: string): void;
  removed(dot: Dot, key: string): void;
}

export interface DotStore<Self> {
  isEmpty(): boolean;
  /** Empties the store in place (its dots stay in whatever context holds them). */
  clear(): void;
  /**
   * In-place join with `other`; `context` is this store's context, `otherContext` other's, both pre-join.
   * `observer` hears of every dot added or removed (its key is `dotKey(dot.replica, dot.counter)`).
   */
  join(other: Self, context: CausalContext, otherContext: CausalContext, observer?: DotObserver): void;
  clone(): Self;
  /** A new empty store of the same shape (a DotMap keeps its value factory). */
  empty(): Self;
  /** Calls `fn` on every dot of the store, nested ones included. */
  forEachDot(fn: (dot: Dot) => void): void;
  /** Structural equality (same dots, equal values). */
  equals(other: Self): boolean;
  /**
   * Asserts the store's invariants under its `context`: every dot it holds is in the context and held once
   * (`held` collects the dot keys seen so far across the whole state, so a dot under two keys or fields fails),
   * and a map holds no empty value and indexes every dot. O(size of the store): for invariant checks, not hot paths.
   */
  checkInvariants(context: CausalContext, held: Set<string>): void;
}

/** Adds every dot of `store` to `context`: the context of a delta that removes the whole store. */
export function collectDots(store: DotStore<unknown>, context: CausalContext): CausalContext {
  store.forEachDot((dot) => context.add(dot));
  return context;
}

/** A set of dots. */
export class DotSet implements DotStore<DotSet> {
  private readonly dots = new Map<string, Dot>();

  get size(): number {
    return this.dots.size;
  }

  has(dot: Dot): boolean {
    return this.dots.has(dotKey(dot.replica, dot.counter));
  }

  add(dot: Dot): this {
    this.dots.set(dotKey(dot.replica, dot.counter), dot);
    return this;
  }

  delete(dot: Dot): boolean {
    return this.dots.delete(dotKey(dot.replica, dot.counter));
  }

  clear(): void {
    this.dots.clear();
  }

  values(): IterableIterator<Dot> {
    return this.dots.values();
  }

  /** The dots in (replica, counter) order, for deterministic output. */
  sorted(): Dot[] {
    return [...this.dots.values()].sort(compareDots);
  }

  isEmpty(): boolean {
    return this.dots.size === 0;
  }

  join(other: DotSet, context: CausalContext, otherContext: CausalContext, observer?: DotObserver): void {
    if (other === this) return;
    // Dots removed on the other side. Deleting during Map iteration is well defined in JS; the deleted
    // dots are not in `other`, so the second loop's membership test is unaffected.
    if (otherContext.hasFewerDotsThan(this.dots.size)) {
      // A small other context (a delta): only its own dots can have been removed there.
      otherContext.forEachDot((replica, counter) => {
        const key = dotKey(replica, counter);
        const dot = this.dots.get(key);
        if (dot !== undefined && !other.dots.has(key)) {
          this.dots.delete(key);
          observer?.removed(dot, key);
        }
      });
    } else {
      for (const [key, dot] of this.dots) {
        if (!other.dots.has(key) && otherContext.contains(dot.replica, dot.counter)) {
          this.dots.delete(key);
          observer?.removed(dot, key);
        }
      }
    }
    for (const [key, dot] of other.dots) {
      if (!this.dots.has(key) && !context.contains(dot.replica, dot.counter)) {
        this.dots.set(key, dot);
        observer?.added(dot, key);
      }
    }
  }

  clone(): DotSet {
    const copy = new DotSet();
    for (const [key, dot] of this.dots) copy.dots.set(key, dot); // dots are immutable: share them
    return copy;
  }

  empty(): DotSet {
    return new DotSet();
  }

  forEachDot(fn: (dot: Dot) => void): void {
    for (const dot of this.dots.values()) fn(dot);
  }

  equals(other: DotSet): boolean {
    if (this.dots.size !== other.dots.size) return false;
    for (const key of this.dots.keys()) if (!other.dots.has(key)) return false;
    return true;
  }

  checkInvariants(context: CausalContext, held: Set<string>): void {
    for (const [key, dot] of this.dots) checkHeld(key, dot, context, held);
  }
}

/** One held dot of `checkInvariants`; constant messages, as it runs once per dot. */
function checkHeld(key: string, dot: Dot, context: CausalContext, held: Set<string>): void {
  assert(context.contains(dot.replica, dot.counter), 'dot store: holds a dot outside its context');
  assert(!held.has(key), 'dot store: holds a dot twice');
  held.add(key);
}

/** A dot with the value written under it. Immutable: stores share entries freely. */
export interface DotValue<V> extends Dot {
  readonly value: V;
}

/**
 * A function from dots to values. The paper asks for values in a lattice, joined when both sides hold the
 * same dot; every type here writes a value once under a fresh dot and never changes it, so both sides always
 * hold the same value for a dot and the join keeps this side's. `equals` compares values with `valueEquals`
 * (structural by default, -0 equal to 0 as after a round trip through the codec).
 */
export class DotFun<V> implements DotStore<DotFun<V>> {
  private readonly entries = new Map<string, DotValue<V>>();

  constructor(private readonly valueEquals: (a: V, b: V) => boolean = dataEquals) {}

  get size(): number {
    return this.entries.size;
  }

  get(dot: Dot): V | undefined {
    return this.entries.get(dotKey(dot.replica, dot.counter))?.value;
  }

  has(dot: Dot): boolean {
    return this.entries.has(dotKey(dot.replica, dot.counter));
  }

  set(dot: Dot, value: V): this {
    this.entries.set(dotKey(dot.replica, dot.counter), { replica: dot.replica, counter: dot.counter, value });
    return this;
  }

  delete(dot: Dot): boolean {
    return this.entries.delete(dotKey(dot.replica, dot.counter));
  }

  clear(): void {
    this.entries.clear();
  }

  values(): IterableIterator<DotValue<V>> {
    return this.entries.values();
  }

  /** The entries in dot order, for deterministic output. */
  sorted(): DotValue<V>[] {
    return [...this.entries.values()].sort(compareDots);
  }

  isEmpty(): boolean {
    return this.entries.size === 0;
  }

  join(other: DotFun<V>, context: CausalContext, otherContext: CausalContext, observer?: DotObserver): void {
    if (other === this) return;
    // As in DotSet.join: a small other context is enumerated instead of this store.
    if (otherContext.hasFewerDotsThan(this.entries.size)) {
      otherContext.forEachDot((replica, counter) => {
        const key = dotKey(replica, counter);
        const entry = this.entries.get(key);
        if (entry !== undefined && !other.entries.has(key)) {
          this.entries.delete(key);
          observer?.removed(entry, key);
        }
      });
    } else {
      for (const [key, entry] of this.entries) {
        if (!other.entries.has(key) && otherContext.contains(entry.replica, entry.counter)) {
          this.entries.delete(key);
          observer?.removed(entry, key);
        }
      }
    }
    for (const [key, entry] of other.entries) {
      if (!this.entries.has(key) && !context.contains(entry.replica, entry.counter)) {
        this.entries.set(key, entry);
        observer?.added(entry, key);
      }
    }
  }

  clone(): DotFun<V> {
    const copy = new DotFun<V>(this.valueEquals);
    for (const [key, entry] of this.entries) copy.entries.set(key, entry);
    return copy;
  }

  empty(): DotFun<V> {
    return new DotFun<V>(this.valueEquals);
  }

  forEachDot(fn: (dot: Dot) => void): void {
    for (const entry of this.entries.values()) fn(entry);
  }

  equals(other: DotFun<V>): boolean {
    if (this.entries.size !== other.entries.size) return false;
    for (const [key, entry] of this.entries) {
      const theirs = other.entries.get(key);
      if (theirs === undefined || !this.valueEquals(entry.value, theirs.value)) return false;
    }
    return true;
  }

  checkInvariants(context: CausalContext, held: Set<string>): void {
    for (const [key, entry] of this.entries) checkHeld(key, entry, context, held);
  }
}

/**
 * A map from keys to dot stores. Keys whose store is empty are absent: the map never holds ⊥, so removing
 * everything under a key removes the key, leaving only its dots in the context.
 *
 * The owner index maps each dot (nested ones included) to the key holding it. `set`, `delete`, `clear` and
 * `join` maintain it; an owner that mutates a sub-store in place (AWORMap.update) reports the change with
 * `noteAdded`/`noteRemoved`. A missing entry would make a join skip a key it must visit, so additions are
 * always reported; a stale entry (a dot no longer there) only costs a visit, and the join drops it then.
 * The index is built from the entries the first time it is needed (a delta joined in, or a test asking),
 * and only maintained from then on: most maps (deltas, decoded messages) never need it.
 */
export class DotMap<K, S extends DotStore<S>> implements DotStore<DotMap<K, S>> {
  private readonly entries = new Map<K, S>();
  /** The owner index, dot key → key; undefined until built (see `ownerIndex`). */
  private owner: Map<string, K> | undefined;
  /** An empty store used as the other side of a join for keys one side lacks; never mutated. */
  private blank: S | undefined;

  constructor(readonly emptyValue: () => S) {}

  get size(): number {
    return this.entries.size;
  }

  get(key: K): S | undefined {
    return this.entries.get(key);
  }

  has(key: K): boolean {
    return this.entries.has(key);
  }

  /** Sets (or replaces) the store under `key`. Callers keep the invariant: never set an empty store. */
  set(key: K, store: S): this {
    assert(!store.isEmpty(), 'dot map: an empty store set under a key (a map never holds bottom)');
    const old = this.entries.get(key);
    if (old !== undefined && old !== store) this.unindex(key, old);
    this.entries.set(key, store);
    this.index(key, store);
    return this;
  }

  delete(key: K): boolean {
    const old = this.entries.get(key);
    if (old === undefined) return false;
    this.unindex(key, old);
    return this.entries.delete(key);
  }

  clear(): void {
    this.entries.clear();
    this.owner = undefined; // rebuilt (empty) when needed
  }

  /** Records that `dot` now lies under `key` (after an in-place change of its store). */
  noteAdded(key: K, dot: Dot): void {
    this.owner?.set(dotKey(dot.replica, dot.counter), key);
  }

  /** Records that `dot` left `key`'s store (after an in-place change of its store). */
  noteRemoved(key: K, dot: Dot): void {
    const owner = this.owner;
    if (owner === undefined) return;
    const k = dotKey(dot.replica, dot.counter);
    if (owner.get(k) === key) owner.delete(k);
  }

  /** The key whose store holds `dot`, per the index (for tests of the index itself). */
  ownerOf(dot: Dot): K | undefined {
    return this.ownerIndex().get(dotKey(dot.replica, dot.counter));
  }

  /** How many dots the index holds (for tests: no stale entries accumulate). */
  indexSize(): number {
    return this.ownerIndex().size;
  }

  /** The owner index, built from the entries on first use and maintained from then on. */
  private ownerIndex(): Map<string, K> {
    if (this.owner === undefined) {
      const owner = new Map<string, K>();
      for (const [key, store] of this.entries) store.forEachDot((dot) => owner.set(dotKey(dot.replica, dot.counter), key));
      this.owner = owner;
    }
    return this.owner;
  }

  private index(key: K, store: S): void {
    const owner = this.owner;
    if (owner !== undefined) store.forEachDot((dot) => owner.set(dotKey(dot.replica, dot.counter), key));
  }

  private unindex(key: K, store: S): void {
    if (this.owner !== undefined) store.forEachDot((dot) => this.noteRemoved(key, dot));
  }

  keys(): IterableIterator<K> {
    return this.entries.keys();
  }

  entriesIterator(): IterableIterator<[K, S]> {
    return this.entries.entries();
  }

  isEmpty(): boolean {
    return this.entries.size === 0;
  }

  /**
   * An observer that keeps the index of `key` and passes events up to the enclosing map's observer; none
   * if there is neither an index to keep nor a parent.
   */
  private observerFor(key: K, parent: DotObserver | undefined): DotObserver | undefined {
    const owner = this.owner;
    if (owner === undefined) return parent;
    return {
      added(dot, k) {
        owner.set(k, key);
        parent?.added(dot, k);
      },
      removed(dot, k) {
        if (owner.get(k) === key) owner.delete(k);
        parent?.removed(dot, k);
      },
    };
  }

  join(other: DotMap<K, S>, context: CausalContext, otherContext: CausalContext, observer?: DotObserver): void {
    if (other === this) return;
    let imported: [K, S][] | undefined;
    for (const [key, theirs] of other.entries) {
      const mine = this.entries.get(key);
      if (mine === undefined) {
        // Import: a fresh store joined with theirs keeps exactly their entries this context has not seen.
        const fresh = this.emptyValue();
        fresh.join(theirs, context, otherContext);
        if (!fresh.isEmpty()) (imported ??= []).push([key, fresh]);
      } else {
        mine.join(theirs, context, otherContext, this.observerFor(key, observer));
        if (mine.isEmpty()) this.entries.delete(key); // its dots were reported removed one by one
      }
    }
    this.joinOnlyMine(other, context, otherContext, observer);
    // Added last so the pass above does not revisit them.
    if (imported !== undefined) {
      // Read after joinOnlyMine, which may have built the index.
      const owner = this.owner;
      for (const [key, fresh] of imported) {
        this.entries.set(key, fresh);
        if (owner === undefined && observer === undefined) continue;
        fresh.forEachDot((dot) => {
          const k = dotKey(dot.replica, dot.counter);
          owner?.set(k, key);
          observer?.added(dot, k);
        });
      }
    }
  }

  /** The keys only this side holds lose the dots the other context has seen (removed there). */
  private joinOnlyMine(
    other: DotMap<K, S>,
    context: CausalContext,
    otherContext: CausalContext,
    observer: DotObserver | undefined,
  ): void {
    const blank = (this.blank ??= this.emptyValue());
    const visit = (key: K, mine: S): void => {
      mine.join(blank, context, otherContext, this.observerFor(key, observer));
      if (mine.isEmpty()) this.entries.delete(key);
    };
    if (!otherContext.hasFewerDotsThan(this.entries.size)) {
      for (const [key, mine] of this.entries) if (!other.entries.has(key)) visit(key, mine);
      return;
    }
    // A small other context (a delta): only keys holding one of its dots can lose anything.
    const owner = this.ownerIndex();
    let candidates: Map<K, string[]> | undefined;
    otherContext.forEachDot((replica, counter) => {
      const k = dotKey(replica, counter);
      const key = owner.get(k);
      if (key === undefined || other.entries.has(key)) return;
      candidates ??= new Map();
      const dots = candidates.get(key);
      if (dots === undefined) candidates.set(key, [k]);
      else dots.push(k);
    });
    if (candidates === undefined) return;
    for (const [key, dots] of candidates) {
      const mine = this.entries.get(key);
      if (mine !== undefined) visit(key, mine);
      // Every dot of `key` the other context holds is gone now: what the index still says is stale.
      for (const k of dots) if (owner.get(k) === key) owner.delete(k);
    }
  }

  clone(): DotMap<K, S> {
    const copy = new DotMap<K, S>(this.emptyValue);
    for (const [key, store] of this.entries) copy.entries.set(key, store.clone());
    if (this.owner !== undefined) copy.owner = new Map(this.owner);
    return copy;
  }

  empty(): DotMap<K, S> {
    return new DotMap<K, S>(this.emptyValue);
  }

  forEachDot(fn: (dot: Dot) => void): void {
    for (const store of this.entries.values()) store.forEachDot(fn);
  }

  equals(other: DotMap<K, S>): boolean {
    if (this.entries.size !== other.entries.size) return false;
    for (const [key, store] of this.entries) {
      const theirs = other.entries.get(key);
      if (theirs === undefined || !store.equals(theirs)) return false;
    }
    return true;
  }

  /** Also: the owner index, once built, names the key of every dot (stale entries are allowed, see the class). */
  checkInvariants(context: CausalContext, held: Set<string>): void {
    assert(this.blank === undefined || this.blank.isEmpty(), 'dot map: the blank store of joins was written to');
    const owner = this.owner;
    for (const [key, store] of this.entries) {
      assert(!store.isEmpty(), 'dot map: an empty value under a key');
      store.checkInvariants(context, held);
      if (owner !== undefined) store.forEachDot((dot) => assert(owner.get(dotKey(dot.replica, dot.counter)) === key, 'dot map: the owner index misses a dot'));
    }
  }
}
