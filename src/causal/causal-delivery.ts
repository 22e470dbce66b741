/**
 * Causal delivery: a hold-back buffer that releases messages in an order respecting happens-before.
 *
 * Each message carries its origin and a vector clock whose origin entry is its number among that origin's
 * messages (1, 2, 3, …) and whose other entries count the messages of each node that it causally depends on.
 * With `delivered` the clock of what this buffer has released so far, a message is deliverable (Birman,
 * Schiper and Stephenson 1991) when
 *
 *     clock[origin] = delivered[origin] + 1   and   clock[k] ≤ delivered[k] for every k ≠ origin.
 *
 * A message with clock[origin] ≤ delivered[origin], or one already held, is a duplicate and is ignored, so each
 * (origin, number) is released exactly once whatever the arrival order and however often it arrives.
 *
 * Indexing: a held message waits for exactly one thing at a time, its first unmet dependency "delivered[k]
 * reaches c" (for the origin, c = clock[origin] − 1), and is filed under (k, c). Counters rise one at a time, so
 * releasing message number c of node k wakes exactly the messages filed under (k, c); each is re-examined and
 * either released or filed under its next unmet dependency. An arrival never scans the buffer, and a message is
 * re-examined at most once per entry of its clock.
 *
 * Bound: at most `maxHeld` messages are held. When one more must be held, the message held longest is evicted
 * and reported. It is the one most likely never to become deliverable (its dependencies were never broadcast,
 * e.g. a client sent a clock naming messages that do not exist), and evicting it rather than refusing the
 * newcomer keeps the buffer live: stuck messages age out instead of filling it for good. The price is stated:
 * an evicted message is never delivered here, and neither is anything that depends on it (those are evicted in
 * turn as they age), since the reliable broadcast below delivers each message once and will not offer it again.
 * The cap is meant to be far above what a healthy cluster ever holds.
 */
import { assert, AssertionError } from '../core/assert.js';
import type { NodeId } from '../core/ids.js';
import { VectorClock } from './vector-clock.js';

export interface CausalMessage<P> {
  readonly origin: NodeId;
  /** clock.get(origin) ≥ 1 is the message's number among its origin's messages. */
  readonly clock: VectorClock;
  readonly payload: P;
}

export type ReceiveOutcome = 'delivered' | 'held' | 'duplicate';

export interface ReceiveResult<P> {
  /** 'delivered': released now (maybe with others); 'held': waiting for dependencies; 'duplicate': ignored. */
  readonly outcome: ReceiveOutcome;
  /** Every message released by this arrival, in causal order (the arrival itself first when it was released). */
  readonly delivered: CausalMessage<P>[];
  /** The message evicted to make room, when the buffer was full. */
  readonly evicted: CausalMessage<P> | undefined;
}

/** Default cap on held messages: generous for chat and tests, small enough to bound a node's memory. */
export const DEFAULT_MAX_HELD = 10_000;

interface Held<P> {
  readonly message: CausalMessage<P>;
  /** The seq of the message: clock[origin]. */
  readonly seq: number;
  /** Where it is filed in `waiting`. */
  waitNode: NodeId;
  waitCounter: number;
}

export class CausalDelivery<P> {
  readonly maxHeld: number;
  /** What has been released: origin → how many of its messages. Mutable here, snapshotted by `deliveredClock`. */
  private readonly delivered = new Map<NodeId, number>();
  /** Every held message, in arrival order (the order of eviction). */
  private readonly held = new Set<Held<P>>();
  /** origin → seq → held message: duplicate detection. */
  private readonly heldAt = new Map<NodeId, Map<number, Held<P>>>();
  /** (node, counter) → messages whose first unmet dependency is "delivered[node] reaches counter". */
  private readonly waiting = new Map<NodeId, Map<number, Set<Held<P>>>>();
  private snapshot: VectorClock | undefined = VectorClock.ZERO;
  private readonly counts = { delivered: 0, duplicates: 0, evicted: 0 };

  constructor(options: { readonly maxHeld?: number } = {}) {
    const maxHeld = options.maxHeld ?? DEFAULT_MAX_HELD;
    if (!Number.isSafeInteger(maxHeld) || maxHeld < 1) throw new RangeError(`maxHeld must be an integer ≥ 1, got ${maxHeld}`);
    this.maxHeld = maxHeld;
  }

  /** The clock of everything released so far. Cached between releases, so frequent calls are cheap. */
  deliveredClock(): VectorClock {
    this.snapshot ??= VectorClock.of(this.delivered);
    return this.snapshot;
  }

  /** How many of the node's messages have been released. */
  deliveredCount(node: NodeId): number {
    return this.delivered.get(node) ?? 0;
  }

  get heldCount(): number {
    return this.held.size;
  }

  stats(): Readonly<{ delivered: number; held: number; duplicates: number; evicted: number }> {
    return { ...this.counts, held: this.held.size };
  }

  /**
   * Takes one message, from any node, in any order, possibly again. Throws RangeError when its clock does
   * not name its origin (clock[origin] must be its number, ≥ 1); callers validate messages from outside first.
   */
  receive(message: CausalMessage<P>): ReceiveResult<P> {
    const seq = message.clock.get(message.origin);
    if (seq < 1) throw new RangeError(`a causal message's clock must count the message itself (${message.origin} is 0 in ${message.clock})`);
    if (seq <= this.deliveredCount(message.origin) || this.heldAt.get(message.origin)?.has(seq) === true) {
      this.counts.duplicates++;
      return { outcome: 'duplicate', delivered: [], evicted: undefined };
    }
    const held: Held<P> = { message, seq, waitNode: message.origin, waitCounter: 0 };
    if (this.file(held)) {
      // A message that is not deliverable now is not released by this arrival either: arrivals only raise
      // `delivered` when they themselves are released.
      let evicted: CausalMessage<P> | undefined;
      if (this.held.size > this.maxHeld) evicted = this.evictOldest();
      return { outcome: 'held', delivered: [], evicted };
    }
    return { outcome: 'delivered', delivered: this.release(held), evicted: undefined };
  }

  /**
   * Files the message under its first unmet dependency and returns true, or returns false when it has none
   * (it is deliverable). Only called for messages that are not duplicates, so clock[origin] > delivered[origin].
   */
  private file(held: Held<P>): boolean {
    const { origin, clock } = held.message;
    // The origin's own entry first: messages from one origin usually wait for their predecessor.
    let waitNode: NodeId | undefined;
    let waitCounter = 0;
    if (held.seq - 1 > this.deliveredCount(origin)) {
      waitNode = origin;
      waitCounter = held.seq - 1;
    } else {
      for (const [node, needed] of clock.entries()) {
        if (node === origin) continue;
        if (needed > this.deliveredCount(node)) {
          waitNode = node;
          waitCounter = needed;
          break;
        }
      }
    }
    if (waitNode === undefined) {
      this.unhold(held);
      return false;
    }
    held.waitNode = waitNode;
    held.waitCounter = waitCounter;
    let byCounter = this.waiting.get(waitNode);
    if (byCounter === undefined) this.waiting.set(waitNode, (byCounter = new Map()));
    let set = byCounter.get(waitCounter);
    if (set === undefined) byCounter.set(waitCounter, (set = new Set()));
    set.add(held);
    if (!this.held.has(held)) {
      this.held.add(held);
      let bySeq = this.heldAt.get(origin);
      if (bySeq === undefined) this.heldAt.set(origin, (bySeq = new Map()));
      bySeq.set(held.seq, held);
    }
    return true;
  }

  /** Releases a deliverable message and everything it makes deliverable, depth-first. */
  private release(first: Held<P>): CausalMessage<P>[] {
    const out: CausalMessage<P>[] = [];
    const ready: Held<P>[] = [first];
    for (let next = ready.pop(); next !== undefined; next = ready.pop()) {
      const { origin } = next.message;
      // Deliverable means clock[origin] = delivered[origin] + 1, so this raises the counter by exactly one: the
      // delivered clock only grows, one message at a time.
      if (next.seq !== this.deliveredCount(origin) + 1) throw new AssertionError(`released ${origin}'s message ${next.seq} after its ${this.deliveredCount(origin)}th`);
      this.delivered.set(origin, next.seq);
      this.snapshot = undefined;
      this.counts.delivered++;
      out.push(next.message);
      const byCounter = this.waiting.get(origin);
      const woken = byCounter?.get(next.seq);
      if (byCounter === undefined || woken === undefined) continue;
      byCounter.delete(next.seq);
      if (byCounter.size === 0) this.waiting.delete(origin);
      for (const held of woken) if (!this.file(held)) ready.push(held);
    }
    return out;
  }

  /**
   * The buffer's invariants (for the protocol's `invariants`), in time linear in the origins: at most maxHeld
   * held, every held message indexed once for duplicate detection, none at or below what its origin delivered.
   */
  checkInvariants(): void {
    if (this.held.size > this.maxHeld) throw new AssertionError(`${this.held.size} messages held, bound ${this.maxHeld}`);
    let indexed = 0;
    for (const [origin, bySeq] of this.heldAt) {
      indexed += bySeq.size;
      // The first held of each origin, in constant time per origin: one at or below the delivered count would be
      // a duplicate that was released, or one that can never be.
      const first = bySeq.keys().next();
      if (first.done !== true && first.value <= this.deliveredCount(origin)) {
        throw new AssertionError(`${origin}'s message ${first.value} held though ${this.deliveredCount(origin)} are delivered`);
      }
    }
    if (indexed !== this.held.size) throw new AssertionError(`${this.held.size} held but ${indexed} indexed`);
  }

  private evictOldest(): CausalMessage<P> {
    const oldest = this.held.values().next().value as Held<P>; // non-empty: size > maxHeld ≥ 1
    const byCounter = this.waiting.get(oldest.waitNode);
    const set = byCounter?.get(oldest.waitCounter);
    set?.delete(oldest);
    if (set !== undefined && set.size === 0) byCounter?.delete(oldest.waitCounter);
    if (byCounter !== undefined && byCounter.size === 0) this.waiting.delete(oldest.waitNode);
    this.unhold(oldest);
    this.counts.evicted++;
    return oldest.message;
  }

  private unhold(held: Held<P>): void {
    if (!this.held.delete(held)) return;
    const bySeq = this.heldAt.get(held.message.origin);
    bySeq?.delete(held.seq);
    if (bySeq !== undefined && bySeq.size === 0) this.heldAt.delete(held.message.origin);
  }
}
