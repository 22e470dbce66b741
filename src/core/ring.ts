/**
 * A bounded first-in first-out queue over a circular array: push at the back, drop from the front, read any
 * position, all O(1). Array `shift()` and `splice(0, n)` move every element left, so a long queue trimmed one at
 * a time costs its length per trim.
 *
 * The storage grows by doubling (a power of two, so a position is a mask, not a division) up to the first power
 * of two at or above `capacity`; a ring that never holds much stays small. `capacity` is the bound on `length`:
 * pushing onto a full ring is a bug of the caller, which decides what to evict first, or lets `pushEvicting` drop
 * the oldest. A ring of capacity 0 holds nothing and is always full: a log told to keep no entries.
 */
import { assert } from './assert.js';

/** Initial slots: enough for the common short queue without a resize, small enough for many idle rings. */
const INITIAL_SLOTS = 16;

export class Ring<T> {
  readonly capacity: number;
  private slots: Array<T | undefined>;
  /** Position in `slots` of the front item. */
  private head = 0;
  private count = 0;

  constructor(capacity: number) {
    assert(Number.isSafeInteger(capacity) && capacity >= 0, `ring capacity must be a whole number, got ${capacity}`);
    this.capacity = capacity;
    this.slots = new Array<T | undefined>(Math.min(INITIAL_SLOTS, powerOfTwoAtLeast(capacity)));
  }

  get length(): number {
    return this.count;
  }

  get full(): boolean {
    return this.count === this.capacity;
  }

  /** The item `index` places behind the front (0 is the oldest); undefined outside [0, length). */
  get(index: number): T | undefined {
    if (!(index >= 0 && index < this.count)) return undefined;
    return this.slots[(this.head + index) & (this.slots.length - 1)];
  }

  set(index: number, item: T): void {
    // Constant messages: a template would be built on every call, and these are hot.
    assert(Number.isInteger(index) && index >= 0 && index < this.count, 'ring index outside its items');
    this.slots[(this.head + index) & (this.slots.length - 1)] = item;
  }

  push(item: T): void {
    assert(this.count < this.capacity, 'ring full');
    if (this.count === this.slots.length) this.grow();
    this.slots[(this.head + this.count) & (this.slots.length - 1)] = item;
    this.count++;
  }

  /**
   * Pushes `item`, dropping the oldest first when the ring is full; true when something was dropped (with capacity
   * 0, `item` itself: nothing is kept). For bounded histories, where the newest matter most.
   */
  pushEvicting(item: T): boolean {
    if (this.capacity === 0) return true;
    const evict = this.count === this.capacity;
    if (evict) this.dropFront(1);
    this.push(item);
    return evict;
  }

  /** Removes the `n` oldest items. */
  dropFront(n: number): void {
    assert(Number.isInteger(n) && n >= 0 && n <= this.count, 'ring cannot drop more than it holds');
    const mask = this.slots.length - 1;
    // Clear the slots so the dropped items can be collected.
    for (let k = 0; k < n; k++) this.slots[(this.head + k) & mask] = undefined;
    this.head = (this.head + n) & mask;
    this.count -= n;
  }

  *[Symbol.iterator](): IterableIterator<T> {
    for (let k = 0; k < this.count; k++) yield this.get(k) as T;
  }

  private grow(): void {
    const size = this.slots.length * 2;
    const slots = new Array<T | undefined>(size);
    for (let k = 0; k < this.count; k++) slots[k] = this.get(k);
    this.slots = slots;
    this.head = 0;
  }
}

function powerOfTwoAtLeast(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}
