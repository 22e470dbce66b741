/**
 * The Plumtree-like mode (Leitão, Pereira, Rodrigues, "Epidemic Broadcast Trees"), on when `options.lazy` is set.
 *
 * The eager neighbours start as a spanning tree (the eager overlay); the lazy overlay's other edges exchange only
 * digests. A lazy edge whose digest exchanges repair us `REPAIRS_BEFORE_GRAFT` times in a row shows the tree
 * misses something: we graft it (make it eager at both ends). A grafted edge that delivers only what another path
 * already brought is pruned again (made lazy at both ends). Edges of the eager overlay itself are never pruned,
 * so grafting and pruning cannot take the tree apart.
 */
import { collectGarbage } from './buffer.js';
import { nextSeq, type Link, type SyncState } from './state.js';
import type { IntervalMsg, SyncEffects } from './types.js';

/** Plumtree grafts a lazy edge only after this many repairs in a row over it, so in-flight data is not mistaken for loss. */
export const REPAIRS_BEFORE_GRAFT = 2;

/** A repair arrived over `link` (`novel`: whether it held anything new): counts it, and grafts the edge when due. */
export function graftIfRepairing<T>(state: SyncState<T>, link: Link, novel: boolean | null, now: number, effects: SyncEffects<unknown>): void {
  link.repairs = novel === true ? link.repairs + 1 : 0;
  if (novel === true && !link.eager && state.options.lazy !== null && link.repairs >= REPAIRS_BEFORE_GRAFT) {
    // A lazy edge had to repair us: the eager tree missed something, so graft this edge into it.
    makeEager(state, link, now);
    effects.push({ kind: 'send', to: link.peer, msg: { t: 'graft', i: state.incarnation } });
  }
}

/** The peer grafted our edge. */
export function onGraft<T>(state: SyncState<T>, link: Link, now: number): void {
  if (!link.eager) makeEager(state, link, now);
}

/** The peer pruned our edge; an edge of the eager overlay stays eager. */
export function onPrune<T>(state: SyncState<T>, link: Link): void {
  if (link.eager && !link.overlay) {
    link.eager = false;
    state.stats.prunes++;
    collectGarbage(state);
  }
}

/** Plumtree's prune: a grafted edge brought (in a first transmission) only what another path already had. */
export function pruneIfRedundant<T>(state: SyncState<T>, link: Link, novel: boolean, msg: IntervalMsg, effects: SyncEffects<unknown>): void {
  if (novel || !link.eager || link.overlay || state.options.lazy === null || msg.full || msg.rx) return;
  link.eager = false;
  state.stats.prunes++;
  effects.push({ kind: 'send', to: link.peer, msg: { t: 'prune', i: state.incarnation } });
  collectGarbage(state);
}

function makeEager<T>(state: SyncState<T>, link: Link, now: number): void {
  const next = nextSeq(state);
  link.eager = true;
  // The digest exchange that grafted the edge covered the past; the edge carries what comes next.
  link.sentUpTo = next;
  link.acked = next;
  link.progressAt = now;
  state.stats.grafts++;
}
