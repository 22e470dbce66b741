/**
 * Links: one per neighbour we exchange with, built from the overlays, plus the incarnations that tell a
 * neighbour's restart from its ordinary silence.
 *
 * Overlays. The eager overlay's edges carry delta intervals; the lazy overlay's other edges (Plumtree mode) carry
 * only digests. A message from a member we have no link to (a digest from anti-entropy, which visits the whole
 * cluster; an interval still in flight after a Maelstrom topology change dropped the edge; an asymmetric given
 * topology) gets a lazy link, so it can be acknowledged and answered. Only members are linked, so there are at
 * most n - 1 links (`maxLinks`): a message from a node outside the cluster, or from ourselves, is dropped and
 * counted, and logged at the 1st, 2nd, 4th, 8th, … such drop so a flood cannot flood the log too. The drivers
 * already refuse senders outside the cluster; this keeps the bound even when one does not.
 *
 * Incarnations. A replica stamps its messages with the time it started. A neighbour seen with a new incarnation
 * has lost its state, so its link restarts from scratch (it gets the full state); acknowledgements addressed to
 * an older incarnation of ourselves are ignored, so nothing a dead incarnation acknowledged counts. Incarnations
 * only grow, so a message with a smaller one comes from a dead process and is ignored.
 *
 * Greeting. A replica that starts empty without anti-entropy (perhaps after a crash that lost its state) sends
 * each eager neighbour a bare acknowledgement of nothing, repeated on the retransmission schedule until that
 * neighbour is heard from: a neighbour that saw an older incarnation of us resends everything once it hears this
 * one, and nothing else would make it.
 */
import { assert } from '../../core/assert.js';
import type { NodeId } from '../../core/ids.js';
import { buildOverlay, type Overlay, type TopologySpec } from '../topology.js';
import { forgetSource } from './buffer.js';
import { maxLinks, newLink, resetLink, type Link, type SyncState } from './state.js';
import type { SyncEffects } from './types.js';

/** (Re)builds the links from the overlays, keeping the state of links that stay. */
export function applyOverlay<T>(state: SyncState<T>, topology: TopologySpec, now: number): void {
  const eager = neighboursOf(buildOverlay(state.nodes, topology, state.options.seed), state.self);
  const lazy = new Set<NodeId>();
  if (state.options.lazy !== null) {
    // An edge of ours is in the eager overlay exactly when its other end is an eager neighbour.
    for (const peer of neighboursOf(buildOverlay(state.nodes, state.options.lazy, state.options.seed), state.self)) {
      if (!eager.has(peer)) lazy.add(peer);
    }
  }
  for (const peer of [...state.links.keys()]) if (!eager.has(peer) && !lazy.has(peer)) state.links.delete(peer);
  for (const peer of [...eager, ...lazy]) {
    assert(peer !== state.self && state.members.has(peer), `overlay names ${peer}, not another member`);
    const link = state.links.get(peer) ?? newLink(peer, now, state.options);
    link.eager = eager.has(peer);
    link.overlay = link.eager;
    state.links.set(peer, link);
  }
  assert(state.links.size <= maxLinks(state), 'more links than other members');
}

function neighboursOf(overlay: Overlay, self: NodeId): Set<NodeId> {
  const neighbours = overlay.get(self);
  assert(neighbours !== undefined, `node ${self} is not in the overlay`);
  return new Set(neighbours);
}

/**
 * The link a message from `from` is handled on: the existing one, a new lazy one for another member, or null
 * for a sender that may not have one (the message is then dropped).
 */
export function linkFor<T>(state: SyncState<T>, from: NodeId, now: number, effects: SyncEffects<unknown>): Link | null {
  const known = state.links.get(from);
  if (known !== undefined) return known;
  if (from === state.self || !state.members.has(from)) {
    const dropped = ++state.stats.strangersDropped;
    // Powers of two only: the log stays short however many arrive.
    if ((dropped & (dropped - 1)) === 0) {
      effects.push({ kind: 'log', level: 'warn', text: 'message from outside the cluster dropped', fields: { from, dropped } });
    }
    return null;
  }
  const link = newLink(from, now, state.options);
  link.eager = false;
  link.overlay = false;
  state.links.set(from, link);
  assert(state.links.size <= maxLinks(state), 'more links than other members');
  return link;
}

type Contact = 'known' | 'first' | 'restarted' | 'stale';

/**
 * Notes the incarnation a message from `link`'s peer carries. 'stale': the message is from a dead incarnation
 * and must be ignored; 'restarted': the peer lost its state and the link starts afresh in both directions.
 */
export function observeIncarnation<T>(state: SyncState<T>, link: Link, incarnation: number, now: number): Contact {
  if (link.incarnation === null) {
    link.incarnation = incarnation;
    return 'first';
  }
  if (incarnation < link.incarnation) return 'stale';
  if (incarnation === link.incarnation) return 'known';
  forgetSource(state, link.peer);
  resetLink(link, now, state.options);
  link.incarnation = incarnation;
  return 'restarted';
}

/** Whether `link` is one this replica still greets (see above). */
export function awaitsGreeting<T>(state: SyncState<T>, link: Link): boolean {
  return state.greeting && link.incarnation === null;
}

export function greet<T>(state: SyncState<T>, link: Link, effects: SyncEffects<unknown>): void {
  effects.push({ kind: 'send', to: link.peer, msg: { t: 'a', i: state.incarnation, ri: 0, ack: 0, gap: false } });
}

/** At start, empty and without anti-entropy: greet every eager neighbour (the retransmission timer repeats it). */
export function startGreeting<T>(state: SyncState<T>, effects: SyncEffects<unknown>): void {
  state.greeting = true;
  for (const link of state.links.values()) if (link.eager) greet(state, link, effects);
}
