/**
 * The delta buffer: every delta this replica took in, numbered, until every eager neighbour acknowledged it.
 *
 * It is bounded (`maxBufferedDeltas`, the ring's capacity): when full the oldest delta goes, and a neighbour
 * that still needed it is sent the whole state instead (intervals.ts), which covers every delta ever buffered.
 * Garbage collection drops the front up to the lowest acknowledgement among eager neighbours; lazy neighbours are
 * repaired by digests, not intervals, so they hold nothing back.
 */
import type { NodeId } from '../../core/ids.js';
import { nextSeq, type Link, type SyncState } from './state.js';

export function bufferDelta<T>(state: SyncState<T>, delta: T, from: NodeId | null): void {
  // Bounded memory: neighbours that still needed the dropped delta will get the full state.
  const evicted = state.buffer.length < state.buffer.capacity ? undefined : state.buffer.capacity === 0 ? from : state.buffer.get(0)!.from;
  if (state.buffer.pushEvicting({ delta, from })) {
    if (evicted === null) state.ownEvictedBelow = state.bufferStart + 1;
    state.bufferStart++;
    state.stats.droppedForBound++;
  }
}

/** Drops the deltas every eager neighbour has acknowledged. */
export function collectGarbage<T>(state: SyncState<T>): void {
  let low = nextSeq(state);
  for (const link of state.links.values()) if (link.eager) low = Math.min(low, link.acked);
  const drop = low - state.bufferStart;
  if (drop > 0) {
    state.buffer.dropFront(drop);
    state.bufferStart = low;
  }
}

/** Entries that came from the neighbour itself count as acknowledged by it (we never send them back). */
export function skipOwnEntries<T>(state: SyncState<T>, link: Link): void {
  while (link.acked < link.sentUpTo && link.acked >= state.bufferStart) {
    const entry = state.buffer.get(link.acked - state.bufferStart);
    if (entry === undefined || entry.from !== link.peer) break;
    link.acked++;
  }
}

/** A restarted neighbour lacks what its old incarnation sent us: those deltas must no longer be left out for it. */
export function forgetSource<T>(state: SyncState<T>, peer: NodeId): void {
  for (let k = 0; k < state.buffer.length; k++) {
    const entry = state.buffer.get(k)!;
    if (entry.from === peer) state.buffer.set(k, { delta: entry.delta, from: null });
  }
}

/**
 * Whether every eager neighbour has acknowledged this replica's own deltas (those buffered with `from: null`, and
 * those the bound evicted; a neighbour's `acked` counts the deltas it holds). Deltas relayed from others are their
 * origins' business, so a neighbour that left does not hold up a replica with nothing of its own pending; those
 * from a neighbour that restarted count as ours (forgetSource), since we must now deliver them. What a layer
 * above waits for before it stops (causal broadcast's drain).
 */
export function ownDeltasAcknowledged<T>(state: SyncState<T>): boolean {
  let needed = state.ownEvictedBelow;
  for (let k = state.buffer.length - 1; k >= 0; k--) {
    if (state.buffer.get(k)?.from === null) {
      needed = state.bufferStart + k + 1;
      break;
    }
  }
  if (needed === 0) return true;
  for (const link of state.links.values()) if (link.eager && link.acked < needed) return false;
  return true;
}
