/**
 * Digest anti-entropy, for lattices with digests when `antiEntropyMs` is set. Every period a replica sends a
 * compact summary of its state (a version vector, say) to one other node, each node of the whole cluster in
 * turn, neighbour or not, so a crashed relay (a tree's hub) cannot cut its subtree off for good. The receiver
 * ships back only what the digest shows is missing (a repair), and, if asked, its own digest when it lacks
 * something the sender has. Repairs over lazy edges feed the Plumtree mode (plumtree.ts).
 *
 * Quiet while links are live (`quietWhileLinksLive`). Over a relaying overlay every link is reliable while both
 * ends live: an interval goes again until acknowledged, a neighbour that fell behind the buffer gets the full
 * state, and a restarted one gets everything again. So when every link of a connected overlay is acknowledged,
 * neighbours hold the same value, and all nodes do. What intervals cannot repair is a link that is dead: a hub
 * that crashed for good, a partition. Such a link goes silent, so a node skips its round only while every eager
 * neighbour was heard from within the last period; a node beside a dead or cut link keeps its rounds, and since
 * its digests go to every node in turn, they cross the cut in both directions (a reply digest brings back what
 * the sender lacks). A full mesh does not relay, so a message whose origin died half-way reaches the rest only
 * by digests, and lazy edges are repaired only by digests: neither skips. In a busy cluster the rounds skipped
 * are most of them, and those that ran would mostly ship what is in flight anyway.
 */
import { absorb } from './intervals.js';
import { graftIfRepairing } from './plumtree.js';
import { TIMER, relays, type Link, type SyncState } from './state.js';
import type { SyncEffects, SyncEnv } from './types.js';

/** Sends our digest to the next node of the cluster in turn. */
export function antiEntropyRound<T, Req, Out>(env: SyncEnv<T, Req, Out>, state: SyncState<T>, effects: SyncEffects<Out>): void {
  const { lattice } = env;
  if (lattice.digest === undefined) return;
  const others = state.nodes.filter((n) => n !== state.self);
  if (others.length === 0) return;
  const peer = others[state.antiEntropyCursor++ % others.length]!;
  state.stats.digestsSent++;
  effects.push({ kind: 'send', to: peer, msg: { t: 'g', i: state.incarnation, digest: lattice.digest(state.value), reply: true } });
}

/** The anti-entropy timer fired: one round, and the next one armed. */
export function onAntiEntropyTimer<T, Req, Out>(env: SyncEnv<T, Req, Out>, state: SyncState<T>, now: number, effects: SyncEffects<Out>): void {
  if (linksLive(state, now)) state.stats.antiEntropySkipped++;
  else antiEntropyRound(env, state, effects);
  // The timer is armed only when antiEntropyMs is set (see armAntiEntropy); a stray firing re-arms nothing.
  if (state.options.antiEntropyMs !== null) effects.push({ kind: 'timer', name: TIMER.antiEntropy, at: now + state.options.antiEntropyMs });
}

/** Whether this round may be skipped (see "Quiet while links are live" above). */
export function linksLive<T>(state: SyncState<T>, now: number): boolean {
  const { options } = state;
  if (options.quietWhileLinksLive !== true || options.lazy !== null || !relays(options) || options.antiEntropyMs === null) return false;
  let eager = 0;
  for (const link of state.links.values()) {
    if (!link.eager) continue;
    eager++;
    if (link.heardAt === null || link.heardAt < now - options.antiEntropyMs) return false;
  }
  return eager > 0;
}

/** Whether this protocol runs anti-entropy: the option is on and the lattice has digests. */
function runsAntiEntropy<T, Req, Out>(env: SyncEnv<T, Req, Out>, state: SyncState<T>): boolean {
  return state.options.antiEntropyMs !== null && env.lattice.digest !== undefined;
}

/** At start: the first round after one period. */
export function armAntiEntropy<T, Req, Out>(env: SyncEnv<T, Req, Out>, state: SyncState<T>, now: number, effects: SyncEffects<Out>): void {
  if (runsAntiEntropy(env, state)) effects.push({ kind: 'timer', name: TIMER.antiEntropy, at: now + state.options.antiEntropyMs! });
}

/** A digest from `link`'s peer: repair what it lacks, and answer with ours if asked and it has something we lack. */
export function onDigest<T, Req, Out>(env: SyncEnv<T, Req, Out>, state: SyncState<T>, link: Link, digest: Uint8Array, reply: boolean, effects: SyncEffects<Out>): void {
  const { lattice } = env;
  if (lattice.missing === undefined || lattice.lacks === undefined || lattice.digest === undefined) return;
  try {
    const diff = lattice.missing(state.value, digest);
    if (diff !== null) {
      state.stats.repairsSent++;
      effects.push({ kind: 'send', to: link.peer, msg: { t: 'r', i: state.incarnation, p: lattice.encode(diff) } });
    }
    if (reply && lattice.lacks(state.value, digest)) {
      state.stats.digestsSent++;
      effects.push({ kind: 'send', to: link.peer, msg: { t: 'g', i: state.incarnation, digest: lattice.digest(state.value), reply: false } });
    }
  } catch (error) {
    state.stats.malformed++;
    effects.push({ kind: 'log', level: 'warn', text: 'bad digest dropped', fields: { from: link.peer, error: String(error) } });
  }
}

/** A repair from `link`'s peer: joined like an interval's deltas, and counted towards grafting a lazy edge. */
export function onRepair<T, Req, Out>(env: SyncEnv<T, Req, Out>, state: SyncState<T>, link: Link, bytes: Uint8Array, now: number, effects: SyncEffects<Out>): void {
  const novel = absorb(env, state, link, bytes, now, effects);
  graftIfRepairing(state, link, novel, now, effects);
}
