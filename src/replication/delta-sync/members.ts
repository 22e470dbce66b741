/**
 * A member set that changes: `setMembers` hands delta-sync the cluster's live members (from a membership
 * protocol, src/membership/compose.ts) in place of the static node list it started with.
 *
 * Theory. Every concern here already works from `state.nodes`: overlays are drawn from the sorted set and the
 * seed, so nodes that agree on the members agree on the overlay, with no announcement; only members get links
 * (links.ts), so the bound on links follows the set. What a change needs is therefore small:
 * - Gone members lose their link at once: nothing more is sent to them, their acknowledgement no longer holds
 *   the buffer back, and their retransmission and gap state goes with the link. Deltas they relayed to us stay
 *   buffered as ours (as for a restarted neighbour, `forgetSource`), since our other neighbours may still lack
 *   them. So memory under churn is bounded by the current set (links) and `maxBufferedDeltas` (the buffer),
 *   which the invariants check (links and buffered sources are members).
 * - New members get a fresh link, as a restarted neighbour does: its interval starts at 0, so it is sent the
 *   whole buffer or, where the buffer no longer reaches back that far, the full state. A joining node gets the
 *   state this way from each of its overlay neighbours, with no path of its own. A replica that is still
 *   greeting (it started empty without anti-entropy, links.ts) greets its new eager neighbours too.
 * - A member that comes back (dead, then alive again, on either side's view) starts a fresh link on the side
 *   that dropped it. The other side's link still counts what was acknowledged, and the fresh side reports a gap
 *   from 0; the resend may claim down to 0 over what the neighbour acknowledged before (`claimFrom`), which it
 *   still holds, so the two sides agree again without a full state.
 * A static cluster never calls this, and a call with the set it has changes nothing.
 */
import { compareNodeIds, type NodeId } from '../../core/ids.js';
import { forgetSource } from './buffer.js';
import { scheduleFlush } from './intervals.js';
import { applyOverlay, awaitsGreeting, greet } from './links.js';
import { armRetransmit } from './retransmit.js';
import type { SyncState } from './state.js';
import type { SyncEffects, SyncEnv } from './types.js';

/** The sorted, duplicate-free member set with `self` in it (a member set always holds the node itself). */
export function normalMembers(self: NodeId, nodes: readonly NodeId[]): NodeId[] {
  return [...new Set([...nodes, self])].sort(compareNodeIds);
}

/** Replaces the member set: links of gone members are dropped, new ones linked and sent what they lack. */
export function setMembers<T, Req, Out>(env: SyncEnv<T, Req, Out>, state: SyncState<T>, nodes: readonly NodeId[], now: number, effects: SyncEffects<Out>): void {
  const next = normalMembers(state.self, nodes);
  const current = normalMembers(state.self, state.nodes);
  if (next.length === current.length && next.every((n, i) => n === current[i])) return;
  const members = new Set(next);
  for (const peer of state.nodes) {
    if (members.has(peer) || peer === state.self) continue;
    // Its relayed deltas become ours to deliver, so the buffer names no gone member (invariants.ts).
    forgetSource(state, peer);
    state.links.delete(peer);
  }
  state.nodes = next;
  state.members = members;
  const before = new Set(state.links.keys());
  applyOverlay(state, state.options.topology, now);
  for (const link of state.links.values()) {
    if (!before.has(link.peer) && awaitsGreeting(state, link) && link.eager) greet(state, link, effects);
  }
  // New neighbours are sent the buffer (or the full state) with the next flush; a greeting is repeated on the
  // retransmission schedule until answered.
  scheduleFlush(env, state, now, effects);
  armRetransmit(state, now, effects);
}
