/**
 * The simulator's agenda: a binary min-heap of scheduled events ordered by (time, insertion sequence).
 *
 * The sequence number breaks ties between events at the same virtual time in the order they were scheduled,
 * so a run never depends on heap internals. Events carry their own `at`/`seq` fields (no wrapper object per
 * event).
 */
import { assert } from '../core/assert.js';

export interface Scheduled {
  /** Virtual time in milliseconds. */
  at: number;
  /** Assigned by `push` (unique and increasing within one queue), or reserved earlier (see `reserveSeq`). */
  seq: number;
}

/** True when `a` must be popped before `b`. */
function before(a: Scheduled, b: Scheduled): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}

export class EventQueue<T extends Scheduled> {
  private readonly heap: T[] = [];
  private nextSeq = 0;

  get size(): number {
    return this.heap.length;
  }

  /** Schedules `item` at `item.at`; assigns, stores and returns its sequence number. */
  push(item: T): number {
    const seq = this.nextSeq++;
    item.seq = seq;
    this.insert(item);
    return seq;
  }

  /**
   * Takes the next sequence number without scheduling anything: a place in the order of equal times, kept for
   * an item scheduled later with `pushReserved` (the simulator's timers: ordered by when they were set).
   */
  reserveSeq(): number {
    return this.nextSeq++;
  }

  /** Schedules `item` with a sequence number from `reserveSeq` (several items may share one). */
  pushReserved(item: T, seq: number): void {
    assert(seq < this.nextSeq, 'a reserved sequence number comes from reserveSeq');
    item.seq = seq;
    this.insert(item);
  }

  private insert(item: T): void {
    // NaN would compare false both ways and silently corrupt the heap order.
    assert(!Number.isNaN(item.at), 'event time is NaN');
    const heap = this.heap;
    // Sift up with a hole instead of repeated swaps.
    let i = heap.length;
    heap.push(item);
    while (i > 0) {
      const parent = (i - 1) >>> 1;
      const p = heap[parent] as T;
      if (!before(item, p)) break;
      heap[i] = p;
      i = parent;
    }
    heap[i] = item;
  }

  /** The next event without removing it. */
  peek(): T | undefined {
    return this.heap[0];
  }

  /** Removes and returns the earliest event (lowest seq among equal times). */
  pop(): T | undefined {
    const heap = this.heap;
    const n = heap.length;
    if (n === 0) return undefined;
    const top = heap[0] as T;
    const last = heap.pop() as T;
    if (n > 1) {
      const size = n - 1;
      let i = 0;
      for (;;) {
        const left = 2 * i + 1;
        if (left >= size) break;
        const right = left + 1;
        let child = left;
        let c = heap[left] as T;
        if (right < size) {
          const r = heap[right] as T;
          if (before(r, c)) {
            child = right;
            c = r;
          }
        }
        if (!before(c, last)) break;
        heap[i] = c;
        i = child;
      }
      heap[i] = last;
    }
    return top;
  }

  clear(): void {
    this.heap.length = 0;
  }
}
