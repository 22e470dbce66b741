/**
 * Origins and clocks of chat on a live member list (membership.ts): which origins a node takes messages from,
 * and which clock entries its own messages need to carry.
 *
 * Admission. An origin is taken once membership has reported it (alive, suspect, dead or left: every member
 * SWIM's table held while this node watched). A joiner's line can arrive, relayed, before the news that it
 * joined, so a message of an origin not reported yet is not dropped (gossip delivers each message only once):
 * it waits here, at most MAX_UNADMITTED of them, and is taken when membership reports its origin. An origin
 * membership never reports (a forged one) is never delivered; its messages age out of the bound.
 *
 * Compaction. A clock entry r:c may be left out of a message m of this node when this node's earlier message
 * m' carried r:c' with c' ≥ c, explicitly or by this same rule. Why it keeps causal order: every node delivers
 * this node's messages in seq order (the origin entry), so m is delivered after m', and m' only after
 * delivered[r] ≥ c' ≥ c; by induction over this node's messages, m is still delivered only after everything its
 * full clock counts. So leaving an entry out never lets a message overtake a dependency; it only makes m's clock
 * smaller. The entries left out are those of nodes that are not live (dead, left or forgotten): their counters
 * no longer rise, so each node carries a departed member's final count in at most one message after it departs,
 * and clocks stay bounded by the live set plus the members that departed since this node last spoke. Entries of
 * live members are all carried, so clocks compare as vector clocks over the live members (a client that
 * compares clocks that name departed members may see 'concurrent' where the messages are ordered; merging
 * clocks, which is what a reply needs, keeps working by the argument above).
 *
 * Bounds: MAX_KNOWN_ORIGINS origins remembered (past it the oldest that is not live is forgotten, and a late
 * message of it waits as unadmitted), MAX_UNADMITTED messages waiting (the oldest is evicted and counted),
 * MAX_CARRIED entries of what this node carried (past it the oldest is dropped: that entry is then carried
 * again, which is safe, only larger).
 */
import { assert } from '../core/assert.js';
import type { NodeId } from '../core/ids.js';
import type { Delivery } from '../broadcast/types.js';
import { nodeOfReplica } from '../replication/replica-id.js';
import { MAX_MEMBERS } from '../membership/types.js';
import { VectorClock } from './vector-clock.js';

/** Origins remembered: twice what SWIM's table can hold at once, so churn of a full table is still covered. */
export const MAX_KNOWN_ORIGINS = 2 * MAX_MEMBERS;
/** Messages of origins membership has not reported yet (a joiner's first lines, or forged ones). */
export const MAX_UNADMITTED = 1024;
/** Entries of what this node's messages carried (one per replica it spoke after). */
export const MAX_CARRIED = 2 * MAX_MEMBERS;

export class LiveOrigins {
  /** The live set last reported (alive and suspect members, self included). */
  private live: ReadonlySet<NodeId>;
  /** Every origin reported, oldest report first (a report moves it to the end). */
  private readonly known = new Set<NodeId>();
  /** Deliveries waiting for their origin to be reported, oldest first. */
  private readonly unadmitted: Delivery[] = [];
  /** replica → the largest count this node's messages carried for it, oldest first. */
  private readonly carried = new Map<string, number>();
  readonly stats = { unadmittedEvicted: 0, entriesOmitted: 0 };

  constructor(members: readonly NodeId[]) {
    this.live = new Set(members);
    this.report(members);
  }

  /** Membership reported these members (any state); `live`, when given, is the new live set. */
  report(members: Iterable<NodeId>, live?: readonly NodeId[]): void {
    if (live !== undefined) this.live = new Set(live);
    for (const node of [...members, ...(live ?? [])]) {
      this.known.delete(node);
      this.known.add(node);
    }
    for (const node of this.known) {
      if (this.known.size <= MAX_KNOWN_ORIGINS) break;
      if (!this.live.has(node)) this.known.delete(node);
    }
  }

  isKnown(node: NodeId): boolean {
    return this.known.has(node);
  }

  isLive(node: NodeId): boolean {
    return this.live.has(node);
  }

  get unadmittedCount(): number {
    return this.unadmitted.length;
  }

  /** Keeps a delivery of an origin not reported yet; returns the one evicted to make room, if any. */
  hold(delivery: Delivery): Delivery | undefined {
    this.unadmitted.push(delivery);
    if (this.unadmitted.length <= MAX_UNADMITTED) return undefined;
    this.stats.unadmittedEvicted++;
    return this.unadmitted.shift();
  }

  /** The waiting deliveries whose origin has now been reported, in arrival order (removed from here). */
  takeAdmitted(): Delivery[] {
    const taken: Delivery[] = [];
    let kept = 0;
    for (const d of this.unadmitted) {
      if (this.known.has(d.origin)) taken.push(d);
      else this.unadmitted[kept++] = d;
    }
    this.unadmitted.length = kept;
    return taken;
  }

  /**
   * The clock a message of `replica` (this node) carries: `full` without the entries of departed members that
   * an earlier message of ours already carried (see the theory above). Records what it carries.
   */
  compact(full: VectorClock, replica: string): VectorClock {
    let clock = full;
    for (const [r, count] of full.entries()) {
      if (r === replica) continue;
      const carried = this.carried.get(r) ?? 0;
      if (!this.live.has(nodeOfReplica(r)) && carried >= count) {
        clock = clock.with(r, 0);
        this.stats.entriesOmitted++;
      } else if (count > carried) {
        this.carried.delete(r);
        this.carried.set(r, count);
      }
    }
    for (const r of this.carried.keys()) {
      if (this.carried.size <= MAX_CARRIED) break;
      this.carried.delete(r);
    }
    assert(clock.get(replica as NodeId) === full.get(replica as NodeId), 'a compacted clock keeps its origin entry');
    return clock;
  }

  checkInvariants(): void {
    assert(this.known.size <= MAX_KNOWN_ORIGINS, `${this.known.size} origins known > ${MAX_KNOWN_ORIGINS}`);
    assert(this.unadmitted.length <= MAX_UNADMITTED, `${this.unadmitted.length} unadmitted > ${MAX_UNADMITTED}`);
    assert(this.carried.size <= MAX_CARRIED, `${this.carried.size} carried > ${MAX_CARRIED}`);
  }
}
