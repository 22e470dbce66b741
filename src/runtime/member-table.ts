/**
 * The one bounded member table of a node process: each member's last state as membership's events tell it, for
 * the driver (log lines, waits, the transport's peers) and the metrics (`chatterbox_members{state}`).
 *
 * It follows SWIM's own table: a `member` event sets the entry, a `forgotten` event (SWIM dropped a dead or left
 * member: reaped after GossipToTheDeadTime, or evicted at its bound) removes it, so dead members do not pile up.
 * The bound is SWIM's (MAX_MEMBERS): a table that mirrors SWIM's never needs more. Should events still arrive for
 * a new member while it is full (a `forgotten` lost, say), the oldest dead or left entry makes room; when all are
 * live the event is refused and the caller counts it, rather than the table growing.
 */
import { assert } from '../core/assert.js';
import type { NodeId } from '../core/ids.js';
import { MAX_MEMBERS, MEMBER_STATES, type MemberState } from '../membership/types.js';

/** Members tracked at most: SWIM's own bound, so its live members always fit. */
export const MAX_TRACKED_MEMBERS = MAX_MEMBERS;

/** Membership's member states, under the name the metrics and the table's users know them by. */
export type MemberStateName = MemberState;

/** What the table reads of a member; membership's `Member` is one. */
export interface TrackedMember {
  readonly id: NodeId;
  readonly incarnation: number;
  readonly state: MemberStateName;
}

/**
 * Membership's `MemberEvent` (src/membership/types.ts) over any member shape the table can hold: a member's new
 * state, or SWIM forgetting a dead or left member.
 */
export type MembershipEvent<M extends TrackedMember = TrackedMember> =
  | { readonly kind: 'member'; readonly member: M }
  | { readonly kind: 'forgotten'; readonly id: NodeId };

export function isMembershipEvent(value: unknown): value is MembershipEvent {
  if (typeof value !== 'object' || value === null) return false;
  const kind = (value as { kind?: unknown }).kind;
  return kind === 'member' || kind === 'forgotten';
}

/** What applying an event did: the entry before it, and whether the table holds the member now. */
export interface Applied<M> {
  readonly before: M | undefined;
  /** False for a `member` event refused at the bound (every entry live). */
  readonly tracked: boolean;
}

export class MemberTable<M extends TrackedMember> {
  /** Insertion order is the order of last change: the oldest dead or left entries make room first. */
  private readonly entries = new Map<NodeId, M>();

  apply(event: MembershipEvent<M>): Applied<M> {
    if (event.kind === 'forgotten') {
      const before = this.entries.get(event.id);
      this.entries.delete(event.id);
      return { before, tracked: false };
    }
    const { member } = event;
    const before = this.entries.get(member.id);
    if (before === undefined && this.entries.size >= MAX_TRACKED_MEMBERS && !this.dropOldestGone()) return { before, tracked: false };
    this.entries.delete(member.id); // re-inserted last: recency order
    this.entries.set(member.id, member);
    assert(this.entries.size <= MAX_TRACKED_MEMBERS, 'member table: more entries than MAX_TRACKED_MEMBERS');
    return { before, tracked: true };
  }

  get(id: NodeId): M | undefined {
    return this.entries.get(id);
  }

  get size(): number {
    return this.entries.size;
  }

  values(): IterableIterator<M> {
    return this.entries.values();
  }

  /** Entries by state, every state present (zero when none). */
  countByState(): Map<MemberStateName, number> {
    const counts = new Map<MemberStateName, number>(MEMBER_STATES.map((s) => [s, 0]));
    for (const { state } of this.entries.values()) counts.set(state, counts.get(state)! + 1);
    return counts;
  }

  private dropOldestGone(): boolean {
    for (const [id, m] of this.entries) {
      if (m.state === 'dead' || m.state === 'left') {
        this.entries.delete(id);
        return true;
      }
    }
    return false;
  }
}
