/**
 * GSet: a grow-only set. Join is union, so concurrent adds all survive and nothing can be removed.
 */
import { assert } from '../core/assert.js';
import type { Crdt, Kind } from './causal.js';
import { type Key, checkKey, isKey } from './data.js';

export class GSet<E extends Key = string> implements Crdt<GSet<E>> {
  private readonly elements = new Set<E>();

  kind(): Kind {
    return 'gset';
  }

  /** Adds `element`; the delta is the singleton set. No replica id is needed: adds carry no identity. */
  add(element: E): GSet<E> {
    checkKey(element);
    this.elements.add(element);
    const delta = new GSet<E>();
    delta.elements.add(element);
    return delta;
  }

  has(element: E): boolean {
    return this.elements.has(element);
  }

  get size(): number {
    return this.elements.size;
  }

  [Symbol.iterator](): IterableIterator<E> {
    return this.elements.values();
  }

  /** A copy of the elements. */
  value(): Set<E> {
    return new Set(this.elements);
  }

  join(other: GSet<E>): this {
    for (const element of other.elements) this.elements.add(element);
    return this;
  }

  clone(): GSet<E> {
    return GSet.of(this.elements);
  }

  equals(other: GSet<E>): boolean {
    if (this.elements.size !== other.elements.size) return false;
    for (const element of this.elements) if (!other.elements.has(element)) return false;
    return true;
  }

  checkInvariants(): void {
    for (const element of this.elements) assert(isKey(element), 'gset: an element that is not a string or a number');
  }

  static of<E extends Key>(elements: Iterable<E>): GSet<E> {
    const set = new GSet<E>();
    for (const element of elements) {
      checkKey(element);
      set.elements.add(element);
    }
    return set;
  }
}
