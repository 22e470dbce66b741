/**
 * The inbound connections still in their handshake, kept in the order they were accepted, grouped by source
 * address, and split into those that have not sent a valid hello yet ("silent") and those that have
 * ("greeted": under way, e.g. waiting for a keyed peer's proof). It answers one question for the transport:
 * when there are too many, which one goes? (`victim`)
 *
 * - A silent connection goes first: the oldest of the source address holding the most silent ones.
 * - Only when none is silent does a greeted one go: the oldest of the source holding the most greeted ones.
 *
 * So a flood from one address evicts its own connections before anyone else's, idle ones go before ones under
 * way, and among equals the oldest goes, which a real peer never is for long: its hello follows its connect
 * within milliseconds, and its handshake finishes within a round trip. Pure bookkeeping, no I/O; `add`,
 * `markHelloSeen` and `delete` are O(1), `victim` is O(number of source addresses).
 */
import { assert } from '../core/assert.js';

interface Entry {
  readonly source: string;
  greeted: boolean;
}

interface SourceQueues<T> {
  /** Both in the order connections joined them (Sets iterate in insertion order): the first is the oldest. */
  readonly silent: Set<T>;
  readonly greeted: Set<T>;
}

export class PendingHandshakes<T> {
  private readonly entries = new Map<T, Entry>();
  private readonly sources = new Map<string, SourceQueues<T>>();

  get size(): number {
    return this.entries.size;
  }

  add(item: T, source: string): void {
    assert(!this.entries.has(item), 'connection added twice to the pending handshakes');
    this.entries.set(item, { source, greeted: false });
    let queues = this.sources.get(source);
    if (queues === undefined) {
      queues = { silent: new Set(), greeted: new Set() };
      this.sources.set(source, queues);
    }
    queues.silent.add(item);
  }

  /** The connection sent a valid hello: from now on it goes only after every silent connection. */
  markHelloSeen(item: T): void {
    const entry = this.entries.get(item);
    if (entry === undefined || entry.greeted) return;
    const queues = this.queuesOf(entry);
    entry.greeted = true;
    queues.silent.delete(item);
    queues.greeted.add(item);
  }

  /** Forgets a connection (its handshake finished, or it closed); unknown ones are ignored. */
  delete(item: T): void {
    const entry = this.entries.get(item);
    if (entry === undefined) return;
    const queues = this.queuesOf(entry);
    this.entries.delete(item);
    (entry.greeted ? queues.greeted : queues.silent).delete(item);
    if (queues.silent.size === 0 && queues.greeted.size === 0) this.sources.delete(entry.source);
  }

  /** The connection to evict (see the top of the file); undefined only when there is none. */
  victim(): T | undefined {
    return this.headOfLargest('silent') ?? this.headOfLargest('greeted');
  }

  private headOfLargest(tier: keyof SourceQueues<T>): T | undefined {
    let largest: Set<T> | undefined;
    for (const queues of this.sources.values()) {
      if (queues[tier].size > (largest?.size ?? 0)) largest = queues[tier];
    }
    if (largest === undefined) return undefined;
    for (const oldest of largest) return oldest;
    return undefined;
  }

  private queuesOf(entry: Entry): SourceQueues<T> {
    const queues = this.sources.get(entry.source);
    assert(queues !== undefined, 'pending connection without its source');
    return queues;
  }
}
