/**
 * memberlist's TransmitLimitedQueue: the updates this node still piggybacks. One entry per member (a newer fact
 * about a node invalidates the older, as memberlist's named broadcasts do); each `take` hands out the entries
 * sent fewest times, newest first among equals, and an entry is dropped once sent `limit` times
 * (retransmitLimit: RetransmitMult·ceil(log10(n+1))).
 */
import { assert } from '../core/assert.js';
import type { NodeId } from '../core/ids.js';
import { MAX_BROADCASTS, type SwimUpdate } from './types.js';

interface Entry {
  readonly update: SwimUpdate;
  transmits: number;
  /** The entry leaves after limit × weight sends (refutations are gossiped longer: see refutationRetransmitMult). */
  readonly weight: number;
  /** Insertion order: newer entries go first among those sent equally often. */
  readonly id: number;
}

export class BroadcastQueue {
  private readonly entries = new Map<NodeId, Entry>();
  private nextId = 0;

  get size(): number {
    return this.entries.size;
  }

  /** Queues `update`, replacing any queued update about the same node. At the bound, drops the most-sent entry. */
  queue(update: SwimUpdate, weight = 1): void {
    assert(Number.isSafeInteger(weight) && weight >= 1, `broadcast weight ${weight}`);
    this.entries.delete(update.node);
    if (this.entries.size >= MAX_BROADCASTS) this.evictMostSent();
    this.entries.set(update.node, { update, transmits: 0, weight, id: this.nextId++ });
  }

  /** Up to `max` updates to piggyback, each counted as sent once; those sent `limit` times leave the queue. */
  take(max: number, limit: number): SwimUpdate[] {
    if (this.entries.size === 0 || max <= 0) return [];
    const all = [...this.entries.values()];
    all.sort((a, b) => a.transmits - b.transmits || b.id - a.id);
    const picked = all.length > max ? all.slice(0, max) : all;
    const out: SwimUpdate[] = [];
    for (const e of picked) {
      out.push(e.update);
      e.transmits++;
      if (e.transmits >= limit * e.weight) this.entries.delete(e.update.node);
    }
    return out;
  }

  /** The queued update about `node`, if any (tests and invariants). */
  peek(node: NodeId): SwimUpdate | undefined {
    return this.entries.get(node)?.update;
  }

  has(node: NodeId): boolean {
    return this.entries.has(node);
  }

  check(): void {
    assert(this.entries.size <= MAX_BROADCASTS, `broadcast queue holds ${this.entries.size} > ${MAX_BROADCASTS}`);
    for (const [node, e] of this.entries) {
      assert(e.update.node === node, `broadcast queued under ${node} is about ${e.update.node}`);
      assert(e.transmits >= 0 && e.id < this.nextId, 'broadcast entry counters out of range');
    }
  }

  private evictMostSent(): void {
    let worst: Entry | undefined;
    for (const e of this.entries.values()) if (worst === undefined || e.transmits > worst.transmits || (e.transmits === worst.transmits && e.id < worst.id)) worst = e;
    if (worst !== undefined) this.entries.delete(worst.update.node);
  }
}
