/**
 * What holds of a delta-sync state between steps. The simulator checks it after every step; it walks every link
 * and buffered delta, so it is for tests and debug runs, not the hot path (which keeps a few cheap asserts).
 *
 * Not claimed, because they do not hold: `bufferStart <= acked` for every eager link (the bound drops deltas a
 * neighbour still needs, and a restarted neighbour's link starts again from 0: both are then sent the full
 * state), and "nothing collectable is buffered" (garbage is collected at flushes, acks and prunes, not when a
 * topology change removes a link).
 */
import { AssertionError, assert } from '../../core/assert.js';
import type { NodeId } from '../../core/ids.js';
import type { Lattice } from '../lattice.js';
import { maxLinks, nextSeq, relays, type Link, type SyncState } from './state.js';

/**
 * The engine's invariants, then the replicated value's own when `lattice` is given and states them (buffered deltas
 * are not walked: each was the value's new part when buffered).
 */
export function checkInvariants<T>(state: SyncState<T>, lattice?: Lattice<T>): void {
  // Constant messages throughout: the simulator runs this after every step, and a message built from templates
  // would be built every time; a failure names the step and the seed, which replay the rest.
  const { options } = state;
  const next = nextSeq(state);
  assert(Number.isSafeInteger(state.bufferStart) && state.bufferStart >= 0, 'the buffer start is not a count');
  assert(state.buffer.length <= options.maxBufferedDeltas, 'more deltas buffered than maxBufferedDeltas');
  assert(state.ownEvictedBelow >= 0 && state.ownEvictedBelow <= state.bufferStart, 'own deltas evicted beyond the buffer start');

  // Links: only other members, within the bound, each under its own peer's name. With a live member set
  // (members.ts) this is what keeps memory bounded under churn: a gone member's link, and with it its
  // retransmission and gap state, is dropped, and no buffered delta names it.
  assert(state.links.size <= maxLinks(state), 'more links than other members');
  assert(state.members.size === state.nodes.length && state.members.has(state.self), 'the member set is not the node list, self included');
  // The timeout starts at retransmitMs and doubles up to maxRetransmitMs (which options do not force above it).
  const minRto = Math.min(options.retransmitMs, options.maxRetransmitMs);
  const maxRto = Math.max(options.retransmitMs, options.maxRetransmitMs);
  let ackOwed = false;
  for (const [peer, link] of state.links) {
    try {
      checkLink(state, peer, link, next, minRto, maxRto);
    } catch (e) {
      // Only on failure: which link, and where its sequence numbers stood.
      throw new AssertionError(`link to ${peer} (acked ${link.acked}, sent ${link.sentUpTo}, next ${next}): ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    }
    ackOwed ||= link.ackOwed;
  }

  // Buffer: deltas come from us or other members, and only relaying topologies buffer others' deltas.
  const relaying = relays(options);
  for (const entry of state.buffer) {
    if (entry.from === null) continue;
    assert(relaying, 'a received delta is buffered over a full mesh, which does not relay');
    assert(entry.from !== state.self && state.members.has(entry.from), 'a buffered delta from a node that is not another member');
  }

  // Timers: what the state knows of them is consistent with what waits for them.
  assert(!ackOwed || state.ackArmed, 'an acknowledgement is owed but the ack timer is not armed');
  // A leaf's delay may differ from a hub's, and a node's eager links can change (grafts) while the timer waits.
  assert(!state.flushArmed || options.flushMs > 0 || (options.leafFlushMs ?? 0) > 0, 'a flush timer is armed though flushes are immediate');
  assert(!state.greeting || options.antiEntropyMs === null, 'greeting although anti-entropy runs');
  assert(Number.isSafeInteger(state.antiEntropyCursor) && state.antiEntropyCursor >= 0, 'the anti-entropy cursor is not a count');

  lattice?.invariants?.(state.value);
}

function checkLink<T>(state: SyncState<T>, peer: NodeId, link: Link, next: number, minRto: number, maxRto: number): void {
  assert(link.peer === peer, 'filed under another name');
  assert(peer !== state.self && state.members.has(peer), 'not another member');
  assert(Number.isSafeInteger(link.acked) && Number.isSafeInteger(link.sentUpTo), 'sequence numbers not integers');
  assert(0 <= link.acked && link.acked <= link.sentUpTo && link.sentUpTo <= next, 'not 0 <= acked <= sent <= next');
  assert(Number.isSafeInteger(link.received) && link.received >= 0, 'what it received is not a count');
  assert(minRto <= link.rtoMs && link.rtoMs <= maxRto, 'its timeout is outside [retransmitMs, maxRetransmitMs]');
  assert(!link.overlay || link.eager, 'an overlay edge was made lazy');
  assert(link.repairs >= 0, 'negative repairs');
  // Nothing is received from or owed to a neighbour before it is heard from.
  if (link.incarnation === null) assert(link.received === 0 && !link.ackOwed, 'received before first contact');
}
