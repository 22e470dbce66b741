/**
 * Vector clocks: a counter per node, compared entry-wise (Fidge 1988, Mattern 1989).
 *
 * `a` happened before `b` when every entry of `a` is ≤ the same entry of `b` and one is smaller; when neither
 * is ≤ the other they are concurrent. Clocks are values: every operation returns a new clock and never changes
 * its operands, so a clock can be put in a message, an output or a client's hands without copying.
 *
 * Zero entries are omitted, so equal clocks have equal representations and a clock only names the nodes it
 * has seen. The wire form is an array of `[node, counter]` pairs sorted by node id (an array rather than an
 * object because node ids come from a peers file and could be `__proto__`, which msgpack renames in objects);
 * `isVectorClockEntries` is the guard for that form when it comes from a peer or a client.
 */
import { compareNodeIds, type NodeId } from '../core/ids.js';

export type ClockOrder = 'before' | 'after' | 'equal' | 'concurrent';

/** The wire form: `[node, counter]` pairs, node ids strictly ascending, counters ≥ 1 (see the guard). */
export type VectorClockEntries = readonly (readonly [NodeId, number])[];

/** Bounds for untrusted clocks. Clusters are far smaller, and peers-file ids far shorter, than these. */
export const MAX_CLOCK_ENTRIES = 4096;
export const MAX_CLOCK_NODE_ID_LENGTH = 1024;

function isCounter(x: unknown): x is number {
  return typeof x === 'number' && Number.isSafeInteger(x) && x >= 1;
}

export class VectorClock {
  static readonly ZERO = new VectorClock(new Map());

  /** Never holds a zero; never mutated after construction. */
  private readonly counters: ReadonlyMap<NodeId, number>;

  private constructor(counters: ReadonlyMap<NodeId, number>) {
    this.counters = counters;
  }

  /**
   * A clock from `[node, counter]` pairs in any order; zero counters are dropped. Throws RangeError for a
   * negative or non-integer counter, an empty node id or a node named twice (use the guard for untrusted input).
   */
  static of(entries: Iterable<readonly [string, number]>): VectorClock {
    const counters = new Map<NodeId, number>();
    for (const [node, counter] of entries) {
      if (typeof node !== 'string' || node.length === 0) throw new RangeError('a vector clock entry needs a non-empty node id');
      if (!(counter === 0 || isCounter(counter))) throw new RangeError(`vector clock entry ${node}: expected a counter ≥ 0, got ${String(counter)}`);
      if (counters.has(node as NodeId)) throw new RangeError(`vector clock names ${node} twice`);
      if (counter > 0) counters.set(node as NodeId, counter);
    }
    return counters.size === 0 ? VectorClock.ZERO : new VectorClock(counters);
  }

  /** A clock from a plain object `{ node: counter }` (own enumerable fields), validated like `of`. */
  static fromObject(object: Readonly<Record<string, number>>): VectorClock {
    return VectorClock.of(Object.entries(object));
  }

  /** The clock of a wire form that passed `isVectorClockEntries` (or that `toEntries` produced). */
  static fromEntries(entries: VectorClockEntries): VectorClock {
    return VectorClock.of(entries);
  }

  /** Validates untrusted input (a peer's message, a client's request): the clock, or undefined. */
  static decode(value: unknown): VectorClock | undefined {
    return isVectorClockEntries(value) ? VectorClock.of(value) : undefined;
  }

  /** The node's counter: 0 for a node the clock does not name. */
  get(node: NodeId): number {
    return this.counters.get(node) ?? 0;
  }

  /** Nodes with a non-zero counter. */
  get size(): number {
    return this.counters.size;
  }

  /** Nodes with a non-zero counter, in id order. */
  nodes(): NodeId[] {
    return [...this.counters.keys()].sort(compareNodeIds);
  }

  /** The non-zero entries in no particular order (cheaper than `toEntries` when order does not matter). */
  entries(): IterableIterator<[NodeId, number]> {
    return this.counters.entries();
  }

  /** This clock with the node's counter one higher: the clock of the node's next event. */
  increment(node: NodeId): VectorClock {
    return this.with(node, this.get(node) + 1);
  }

  /** This clock with the node's counter replaced (0 removes it). */
  with(node: NodeId, counter: number): VectorClock {
    if (typeof node !== 'string' || node.length === 0) throw new RangeError('a vector clock entry needs a non-empty node id');
    if (!(counter === 0 || isCounter(counter))) throw new RangeError(`vector clock entry ${node}: expected a counter ≥ 0, got ${String(counter)}`);
    if (this.get(node) === counter) return this;
    const counters = new Map(this.counters);
    if (counter === 0) counters.delete(node);
    else counters.set(node, counter);
    return counters.size === 0 ? VectorClock.ZERO : new VectorClock(counters);
  }

  /** The entry-wise maximum: the least clock that is ≥ both (the join of the partial order). */
  merge(other: VectorClock): VectorClock {
    if (other.counters.size === 0 || other === this) return this;
    if (this.counters.size === 0) return other;
    let counters: Map<NodeId, number> | undefined;
    for (const [node, counter] of other.counters) {
      if (counter > this.get(node)) {
        counters ??= new Map(this.counters);
        counters.set(node, counter);
      }
    }
    // Returning an operand when it already is the maximum keeps merges of caught-up clocks allocation-free.
    return counters === undefined ? this : new VectorClock(counters);
  }

  /** Whether every entry of this clock is ≤ the same entry of `other` (this happened before or equals it). */
  leq(other: VectorClock): boolean {
    if (this.counters.size > other.counters.size) return false; // some node of ours is 0 in other
    for (const [node, counter] of this.counters) if (counter > other.get(node)) return false;
    return true;
  }

  compare(other: VectorClock): ClockOrder {
    const le = this.leq(other);
    const ge = other.leq(this);
    if (le && ge) return 'equal';
    if (le) return 'before';
    if (ge) return 'after';
    return 'concurrent';
  }

  equals(other: VectorClock): boolean {
    if (this.counters.size !== other.counters.size) return false;
    for (const [node, counter] of this.counters) if (other.counters.get(node) !== counter) return false;
    return true;
  }

  /** The wire form, sorted by node id: equal clocks give equal encodings. */
  toEntries(): Array<[NodeId, number]> {
    return this.nodes().map((node) => [node, this.counters.get(node) as number]);
  }

  /** A plain `{ node: counter }` object for JSON and display (null prototype: ids like `__proto__` stay data). */
  toObject(): Record<string, number> {
    const object = Object.create(null) as Record<string, number>;
    for (const node of this.nodes()) object[node] = this.counters.get(node) as number;
    return object;
  }

  toString(): string {
    return `{${this.nodes()
      .map((node) => `${node}:${this.counters.get(node) as number}`)
      .join(', ')}}`;
  }
}

export function compareClocks(a: VectorClock, b: VectorClock): ClockOrder {
  return a.compare(b);
}

export function mergeClocks(a: VectorClock, b: VectorClock): VectorClock {
  return a.merge(b);
}

/**
 * The guard for a clock from outside: an array of at most MAX_CLOCK_ENTRIES `[node, counter]` pairs, node ids
 * non-empty strings of at most MAX_CLOCK_NODE_ID_LENGTH code units in strictly ascending order (canonical, so
 * no node twice), counters safe integers ≥ 1.
 */
export function isVectorClockEntries(value: unknown): value is VectorClockEntries {
  if (!Array.isArray(value) || value.length > MAX_CLOCK_ENTRIES) return false;
  let previous: string | undefined;
  for (const entry of value as unknown[]) {
    if (!Array.isArray(entry) || entry.length !== 2) return false;
    const [node, counter] = entry as unknown[];
    if (typeof node !== 'string' || node.length === 0 || node.length > MAX_CLOCK_NODE_ID_LENGTH) return false;
    if (!isCounter(counter)) return false;
    if (previous !== undefined && !(previous < node)) return false;
    previous = node;
  }
  return true;
}
