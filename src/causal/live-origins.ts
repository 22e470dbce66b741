/**
 * Origins and clocks of chat on a live member list (membership.ts): which origins a node takes messages from,
 * and which clock entries its own messages need to carry.
 *
 * Admission. An origin is taken once membership has reported it (alive, suspect, dead or left: every member
 * SWIM's table held while this node watched). A joiner's line can arrive, relayed, before the news that it
 * joined, so a message of an origin not reported yet is not dropped (gossip delivers each message only once):
 * it waits here, at most MAX_UNADMITTED of them, and is taken when membership reports its origin. A member
 * that departed and was forgotten before this node joined is never reported to it, yet its lines are in the
 * history and later lines of live members depend on them; so a message r:s is also taken once a message
 * already taken names r with a count ≥ s in its clock (it is in that message's causal past). An origin neither
 * reported nor named so (a forged one) is never delivered; its messages age out of the bound. (A member that
 * names a made-up origin in its own clocks can have it taken: it could as well have sent those lines itself,
 * and the entry goes out of clocks with the rule below, the made-up origin being never live.)
 *
 * Compaction. A clock entry r:c may be left out of a message m of this node when this node's earlier message
 * m' carried r:c' with c' ≥ c, explicitly or by this same rule. Why it keeps causal order: every node delivers
 * this node's messages in seq order (the origin entry), so m is delivered after m', and m' only after
 * delivered[r] ≥ c' ≥ c; by induction over this node's messages, m is still delivered only after everything its
 * full clock counts. So leaving an entry out never lets a message overtake a dependency; it only makes m's clock
 * smaller. Likewise r:c may be left out when this node delivered a message q:d whose clock named r with a count
 * ≥ c, q is live and m carries q (it carries every live member's entry, with a count ≥ d since q:d was
 * delivered here): a receiver delivers m only after q:d, and q:d only after delivered[r] ≥ c. The entries left
 * out are those of nodes that are not live (dead, left or forgotten): their counters no longer rise, so each
 * node carries a departed member's final count in at most one message after it departs (none when a live
 * member's message already named it: a joiner's first line does not carry every departed member of the history),
 * and clocks stay bounded by the live set plus the members that departed since this node last spoke. Entries of
 * live members are all carried, so clocks compare as vector clocks over the live members (a client that
 * compares clocks that name departed members may see 'concurrent' where the messages are ordered; merging
 * clocks, which is what a reply needs, keeps working by the argument above).
 *
 * Bounds: MAX_KNOWN_ORIGINS origins remembered (past it the oldest that is not live is forgotten, and a late
 * message of it waits as unadmitted), MAX_UNADMITTED messages waiting (the oldest is evicted and counted),
 * MAX_CARRIED entries of what this node carried and as many of what delivered messages implied (past it the
 * oldest is dropped: that entry is then carried again, which is safe, only larger), MAX_VOUCHED counts of origins not reported that clocks named (past it
 * the oldest is dropped: its late messages then wait until evicted).
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
/** Replicas of origins not reported that clocks of messages taken named, with the largest count named. */
export const MAX_VOUCHED = 2 * MAX_MEMBERS;

export class LiveOrigins {
  /** The live set last reported (alive and suspect members, self included). */
  private live: ReadonlySet<NodeId>;
  /** Every origin reported, oldest report first (a report moves it to the end). */
  private readonly known = new Set<NodeId>();
  /** Deliveries waiting for their origin to be reported, oldest first. */
  private readonly unadmitted: Delivery[] = [];
  /** replica → the largest count this node's messages carried for it, oldest first. */
  private readonly carried = new Map<string, number>();
  /** replica → the largest count a delivered message's clock named for it, and that message (origin replica, seq). */
  private readonly implied = new Map<string, { readonly count: number; readonly by: string; readonly at: number }>();
  /** replica (of an origin not reported) → the largest count a clock of a message taken named, oldest first. */
  private readonly vouched = new Map<string, number>();
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

  /** A message was delivered here: its clock's entries are implied by it (see compaction above). */
  noteDelivered(origin: string, clock: VectorClock): void {
    const at = clock.get(origin as NodeId);
    for (const [r, count] of clock.entries()) {
      if (r === origin || (this.implied.get(r)?.count ?? 0) > count) continue;
      this.implied.delete(r);
      this.implied.set(r, { count, by: origin, at });
    }
    for (const r of this.implied.keys()) {
      if (this.implied.size <= MAX_CARRIED) break;
      this.implied.delete(r);
    }
  }

  /** Whether a delivery may go on to the hold-back buffer: its origin reported, or named in a causal past. */
  admits(delivery: Delivery): boolean {
    return this.known.has(delivery.origin) || (this.vouched.get(delivery.replica) ?? 0) >= delivery.seq;
  }

  /** Records the entries of a taken message's clock that name origins not reported; whether any count rose. */
  vouch(clock: VectorClock): boolean {
    let rose = false;
    for (const [r, count] of clock.entries()) {
      if (this.known.has(nodeOfReplica(r)) || (this.vouched.get(r) ?? 0) >= count) continue;
      this.vouched.delete(r);
      this.vouched.set(r, count);
      rose = true;
    }
    for (const r of this.vouched.keys()) {
      if (this.vouched.size <= MAX_VOUCHED) break;
      this.vouched.delete(r);
    }
    return rose && this.unadmitted.length > 0;
  }

  /** Keeps a delivery of an origin not reported yet; returns the one evicted to make room, if any. */
  hold(delivery: Delivery): Delivery | undefined {
    this.unadmitted.push(delivery);
    if (this.unadmitted.length <= MAX_UNADMITTED) return undefined;
    this.stats.unadmittedEvicted++;
    return this.unadmitted.shift();
  }

  /** The waiting deliveries now admitted, in arrival order (removed from here). */
  takeAdmitted(): Delivery[] {
    const taken: Delivery[] = [];
    let kept = 0;
    for (const d of this.unadmitted) {
      if (this.admits(d)) taken.push(d);
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
      const implied = this.implied.get(r);
      const impliedByLive = implied !== undefined && implied.count >= count && implied.by !== r && this.live.has(nodeOfReplica(implied.by)) && full.get(implied.by as NodeId) >= implied.at;
      if (!this.live.has(nodeOfReplica(r)) && (carried >= count || impliedByLive)) {
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
    assert(this.implied.size <= MAX_CARRIED, `${this.implied.size} implied > ${MAX_CARRIED}`);
    assert(this.vouched.size <= MAX_VOUCHED, `${this.vouched.size} vouched > ${MAX_VOUCHED}`);
  }
}
