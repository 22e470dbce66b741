/**
 * Delta intervals and their acknowledgements (Almeida, Shoker, Baquero, "Delta State Replicated Data Types",
 * algorithm 2).
 *
 * Each eager neighbour is sent the join of the buffered deltas it has not been sent yet, the interval
 * [sentUpTo, nextSeq), batched every `flushMs`; a neighbour whose interval starts before the buffer (dropped by
 * the bound, or it restarted) is sent the whole state instead. No back-propagation: a delta that came from
 * neighbour j is not sent back to j (Enes et al., ICDE 2019), and an interval that would hold only j's own deltas
 * is skipped, the next one claiming the skipped stretch.
 *
 * The receiver acknowledges the highest sequence number up to which it holds every interval. Acknowledgements
 * ride on the next interval to that neighbour, or go alone `ackDelayMs` after the oldest interval they would
 * acknowledge arrived (per neighbour: a neighbour whose acknowledgement rode on data meanwhile waits again, so a
 * leaf that writes to its hub more often than `ackDelayMs` never sends one alone). An interval that starts beyond
 * what was received reveals a lost one: the receiver reports the gap at once, and the sender resends from the
 * acknowledgement, once per gap and round trip (the intervals already behind the gap report it too).
 */
import { assert } from '../../core/assert.js';
import type { NodeId } from '../../core/ids.js';
import type { Lattice } from '../lattice.js';
import { bufferDelta, collectGarbage, skipOwnEntries } from './buffer.js';
import { pruneIfRedundant } from './plumtree.js';
import { armRetransmit } from './retransmit.js';
import { TIMER, nextSeq, relays, serviceContext, type Link, type SyncState } from './state.js';
import type { IntervalMsg, SyncEffects, SyncEnv, SyncMsg } from './types.js';

/** New deltas go out after the flush delay (at once when it is 0), with whatever else came in meanwhile. */
export function scheduleFlush<T, Req, Out>(env: SyncEnv<T, Req, Out>, state: SyncState<T>, now: number, effects: SyncEffects<Out>): void {
  const delayMs = flushDelayMs(state);
  if (delayMs === 0) {
    flush(env, state, now, effects);
    return;
  }
  if (state.flushArmed) return;
  state.flushArmed = true;
  effects.push({ kind: 'timer', name: TIMER.flush, at: now + delayMs });
}

/** `leafFlushMs` for a node with one eager neighbour (see its comment in types.ts), `flushMs` for any other. */
export function flushDelayMs<T>(state: SyncState<T>): number {
  const leaf = state.options.leafFlushMs;
  if (leaf === undefined) return state.options.flushMs;
  let eager = 0;
  for (const link of state.links.values()) if (link.eager && ++eager > 1) return state.options.flushMs;
  return leaf;
}

/** Sends every eager neighbour its next interval (or the full state), then collects garbage and arms retransmission. */
export function flush<T, Req, Out>(env: SyncEnv<T, Req, Out>, state: SyncState<T>, now: number, effects: SyncEffects<Out>): void {
  const { lattice } = env;
  const next = nextSeq(state);
  // One set of intervals per starting point, shared by every neighbour at that point (usually all of them).
  const intervals = new Map<number, IntervalSet>();
  let fullState: Uint8Array | undefined;
  for (const link of state.links.values()) {
    if (!link.eager || link.sentUpTo >= next) continue;
    const from = link.sentUpTo;
    const retransmission = link.retransmitting;
    link.retransmitting = false;
    let payload: Uint8Array | undefined;
    let full = false;
    if (from < state.bufferStart) {
      fullState ??= lattice.encode(state.value);
      payload = fullState;
      full = true;
    } else {
      let set = intervals.get(from);
      if (set === undefined) {
        set = intervalSet(lattice, state, from, next);
        intervals.set(from, set);
      }
      payload = set.encodedWithout(link.peer);
    }
    link.sentUpTo = next;
    if (payload === undefined) {
      // Everything in the interval came from this neighbour: it has it all.
      link.skippedFrom ??= from;
      skipOwnEntries(state, link);
      continue;
    }
    const claimedFrom = claimFrom(state, link, from);
    // Claimed down to it (or from below it): the skipped stretch is covered; otherwise a later interval claims it.
    if (link.skippedFrom !== null && claimedFrom <= link.skippedFrom) link.skippedFrom = null;
    if (link.acked === from) link.progressAt = now;
    if (full) state.stats.fullStatesSent++;
    else state.stats.intervalsSent++;
    link.ackOwed = false;
    const msg: SyncMsg = { t: 'd', i: state.incarnation, ri: link.incarnation ?? 0, from: claimedFrom, to: next, ack: link.received, p: payload, full, rx: retransmission };
    effects.push({ kind: 'send', to: link.peer, msg });
  }
  collectGarbage(state);
  armRetransmit(state, now, effects);
}

/**
 * Where an interval to `link` that starts at `from` may claim to start: down to `skippedFrom` only over deltas
 * the neighbour holds, which are those below `acked` (acknowledged, or its own) and its own deltas. A delta in
 * flight and not yet acknowledged ([acked, from)) may be lost, and a claim over it would make the neighbour
 * acknowledge what it never got; so the claim stops above it, `skippedFrom` waits for a later interval, and the
 * neighbour's gap report, a resend from `acked` (which may claim it all) or the delta's own arrival closes it.
 */
export function claimFrom<T>(state: SyncState<T>, link: Link, from: number): number {
  const skipped = link.skippedFrom;
  if (skipped === null || skipped >= from) return from;
  let claim = from;
  while (claim > skipped) {
    const seq = claim - 1;
    if (seq < link.acked) return skipped;
    if (seq < state.bufferStart || state.buffer.get(seq - state.bufferStart)!.from !== link.peer) break;
    claim = seq;
  }
  return claim;
}

/** The flush timer fired. */
export function onFlushTimer<T, Req, Out>(env: SyncEnv<T, Req, Out>, state: SyncState<T>, now: number, effects: SyncEffects<Out>): void {
  state.flushArmed = false;
  flush(env, state, now, effects);
}

interface IntervalSet {
  /** The encoded join of the interval's deltas that did not come from `peer`; undefined when none is left. */
  encodedWithout(peer: NodeId): Uint8Array | undefined;
}

/**
 * The interval [from, to) for every neighbour at once. Each neighbour gets the join of all deltas but its own
 * (no back-propagation). Joining per neighbour would cost neighbours × deltas joins; grouping the deltas by
 * source and joining prefixes and suffixes of the groups costs deltas + 3 × sources, and every distinct
 * payload is encoded once.
 */
function intervalSet<T>(lattice: Lattice<T>, state: SyncState<T>, from: number, to: number): IntervalSet {
  assert(state.bufferStart <= from && from < to && to <= nextSeq(state), 'interval outside the buffer');
  const bySource = new Map<NodeId | null, T[]>();
  for (let seq = from; seq < to; seq++) {
    const entry = state.buffer.get(seq - state.bufferStart)!;
    const list = bySource.get(entry.from);
    if (list === undefined) bySource.set(entry.from, [entry.delta]);
    else list.push(entry.delta);
  }
  const sources = [...bySource.keys()];
  // Buffered deltas are never mutated: a join always goes into a fresh copy.
  const join = (a: T | undefined, b: T | undefined): T | undefined => {
    if (a === undefined) return b;
    if (b === undefined) return a;
    const acc = lattice.clone(a);
    lattice.merge(acc, b);
    return acc;
  };
  const groups = sources.map((source) => bySource.get(source)!.reduce<T | undefined>((acc, d) => join(acc, d), undefined));
  // prefix[i] joins groups before i; suffix[i] joins groups after i.
  const prefix: Array<T | undefined> = [undefined];
  for (let i = 0; i < groups.length; i++) prefix.push(join(prefix[i], groups[i]));
  const suffix: Array<T | undefined> = new Array<T | undefined>(groups.length + 1).fill(undefined);
  for (let i = groups.length - 1; i >= 0; i--) suffix[i] = join(groups[i], suffix[i + 1]);
  const encoded = new Map<number, Uint8Array | undefined>();
  const encodeOnce = (key: number, value: () => T | undefined): Uint8Array | undefined => {
    if (!encoded.has(key)) {
      const v = value();
      encoded.set(key, v === undefined ? undefined : lattice.encode(v));
    }
    return encoded.get(key);
  };
  return {
    encodedWithout(peer) {
      const i = sources.indexOf(peer);
      if (i < 0) return encodeOnce(-1, () => prefix[groups.length]);
      return encodeOnce(i, () => join(prefix[i], suffix[i + 1]));
    },
  };
}

/** An interval from `link`'s peer: its acknowledgement of ours, its deltas, and our acknowledgement or gap report. */
export function onInterval<T, Req, Out>(env: SyncEnv<T, Req, Out>, state: SyncState<T>, link: Link, msg: IntervalMsg, now: number, effects: SyncEffects<Out>): void {
  if (msg.ri === state.incarnation) onAck(env, state, link, msg.ack, false, now, effects);
  const novel = absorb(env, state, link, msg.p, now, effects);
  if (novel === null) return; // malformed: not acknowledged, so the sender retries
  const contiguous = msg.full || msg.from <= link.received;
  if (contiguous) link.received = Math.max(link.received, msg.to);
  if (!contiguous) {
    // An earlier interval was lost: say so at once rather than wait for the sender's timeout. Every interval
    // behind the gap says so again; the sender answers one report per gap and round trip (see onAck).
    sendAck(state, link, true, effects);
  } else {
    if (!link.ackOwed) link.owedSince = now;
    link.ackOwed = true;
    if (!state.ackArmed) {
      state.ackArmed = true;
      effects.push({ kind: 'timer', name: TIMER.ack, at: now + state.options.ackDelayMs });
    }
  }
  pruneIfRedundant(state, link, novel, msg, effects);
}

/**
 * Decodes and joins a received delta (an interval's or a repair's) and buffers its new part for our neighbours;
 * true if it held something new, false if not, null if malformed (dropped, counted and logged).
 */
export function absorb<T, Req, Out>(env: SyncEnv<T, Req, Out>, state: SyncState<T>, link: Link, bytes: Uint8Array, now: number, effects: SyncEffects<Out>): boolean | null {
  const { lattice, service } = env;
  let delta: T;
  try {
    delta = lattice.decode(bytes);
  } catch (error) {
    state.stats.malformed++;
    effects.push({ kind: 'log', level: 'warn', text: 'undecodable delta dropped', fields: { from: link.peer, error: String(error) } });
    return null;
  }
  const novel = lattice.absorb(state.value, delta);
  if (novel === null) {
    state.stats.duplicatesReceived++;
    return false;
  }
  if (relays(state.options)) bufferDelta(state, novel, link.peer);
  for (const value of service.received?.(serviceContext(state, now), novel) ?? []) effects.push({ kind: 'output', value });
  scheduleFlush(env, state, now, effects);
  return true;
}

/** `link`'s peer holds our buffer up to `ack`; with `gap`, it reports a lost interval and asks for a resend. */
export function onAck<T, Req, Out>(env: SyncEnv<T, Req, Out>, state: SyncState<T>, link: Link, ack: number, gap: boolean, now: number, effects: SyncEffects<Out>): void {
  if (ack > nextSeq(state)) return; // acknowledges what we never sent: stale or bogus
  if (ack > link.acked) {
    link.acked = ack;
    link.progressAt = now;
    link.rtoMs = state.options.retransmitMs;
    skipOwnEntries(state, link);
    collectGarbage(state);
  }
  if (link.sentUpTo < link.acked) link.sentUpTo = link.acked;
  if (gap && ack < link.acked) {
    // The stretch [ack, acked) was skipped as the neighbour's own deltas, which it holds but never heard
    // claimed: a later interval must claim it (claimFrom says which may), or the neighbour keeps seeing a gap.
    link.skippedFrom = Math.min(link.skippedFrom ?? ack, ack);
  }
  // Intervals already on their way behind a gap report the same gap: one resend answers them all, unless the
  // resend itself is overdue (then the report is news).
  const repeat = link.lastGap !== null && link.lastGap.ack === ack && now < link.lastGap.atMs + link.rtoMs;
  if (gap && link.sentUpTo > link.acked && !repeat) {
    link.lastGap = { ack, atMs: now };
    link.sentUpTo = link.acked;
    link.retransmitting = true;
    state.stats.retransmissions++;
    scheduleFlush(env, state, now, effects);
  }
  assert(link.acked <= link.sentUpTo && link.sentUpTo <= nextSeq(state), 'acked <= sent <= next sequence');
}

function sendAck<T>(state: SyncState<T>, link: Link, gap: boolean, effects: SyncEffects<unknown>): void {
  link.ackOwed = false;
  state.stats.acksSent++;
  effects.push({ kind: 'send', to: link.peer, msg: { t: 'a', i: state.incarnation, ri: link.incarnation ?? 0, ack: link.received, gap } });
}

/**
 * The acknowledgement timer fired: every neighbour owed one for `ackDelayMs` gets it alone; the timer is armed
 * again for the earliest of the others (owed since an acknowledgement rode on data after the timer was armed).
 */
export function onAckTimer<T>(state: SyncState<T>, now: number, effects: SyncEffects<unknown>): void {
  state.ackArmed = false;
  let next = Infinity;
  for (const link of state.links.values()) {
    if (!link.ackOwed) continue;
    const dueAt = link.owedSince + state.options.ackDelayMs;
    if (dueAt <= now) sendAck(state, link, false, effects);
    else next = Math.min(next, dueAt);
  }
  if (next !== Infinity) {
    state.ackArmed = true;
    effects.push({ kind: 'timer', name: TIMER.ack, at: next });
  }
}
