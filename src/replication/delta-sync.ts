/**
 * Delta anti-entropy (Almeida, Shoker, Baquero, "Delta State Replicated Data Types", algorithm 2), as one pure
 * protocol that replicates any `Lattice` for a `ReplicatedService` (a broadcast log, a counter, a set, …).
 *
 * Each replica numbers the deltas it takes in (its own mutations and the new parts of what it receives) and keeps
 * them in a buffer. Each eager neighbour is sent the join of the buffered deltas it has not been sent yet (a delta
 * interval), batched every `flushMs`; the neighbour acknowledges the highest sequence number up to which it holds
 * every interval. Deltas every neighbour has acknowledged are dropped from the buffer. A neighbour whose next
 * interval has already been dropped (the buffer is bounded, or it restarted) is sent the whole state instead.
 *
 * Departures from the paper, each for fewer or smaller messages:
 * - Intervals are sent once, optimistically, and resent from the last acknowledgement only when that stalls for a
 *   retransmission timeout (doubling to a cap while a neighbour stays silent) or the receiver reports a gap. The
 *   paper resends from the acknowledgement on every period.
 * - Acknowledgements ride on the next interval to that neighbour, or go alone after `ackDelayMs`.
 * - No back-propagation: a delta that came from neighbour j is not sent back to j, and only the new part of a
 *   received delta is buffered (Enes et al., ICDE 2019).
 * - With a lattice that has digests, replicas also compare digests with one other node every `antiEntropyMs`
 *   (each node in turn, neighbour or not) and ship only the difference. In the Plumtree-like mode the eager neighbours start as a spanning tree, the other
 *   overlay edges are lazy (digests only), a repair over a lazy edge grafts it into the eager set, and a grafted
 *   edge that delivers only duplicates is pruned again (edges of the tree itself never are).
 *
 * Incarnations: a replica stamps its messages with the time it started. A neighbour seen with a new incarnation
 * has lost its state, so its link restarts from scratch (it gets the full state); acknowledgements addressed to
 * an older incarnation of ourselves are ignored, so nothing a dead incarnation acknowledged counts.
 */
import { assert } from '../core/assert.js';
import { isCount, isRecord } from '../core/guards.js';
import type { NodeId } from '../core/ids.js';
import type { Effect, InitContext, Input, Protocol } from '../protocol/types.js';
import type { Lattice } from './lattice.js';
import { nodeOfReplica, replicaOf } from './replica-id.js';
import { buildOverlay, type Overlay, type TopologySpec } from './topology.js';

export interface SyncOptions {
  /** The eager overlay: who is sent delta intervals. */
  readonly topology: TopologySpec;
  /**
   * The lazy overlay for the Plumtree-like mode: its edges that are not eager exchange only digests, and a repair
   * over one grafts it. Null: no lazy edges (digest anti-entropy, if on, runs over the eager edges).
   */
  readonly lazy: TopologySpec | null;
  /** Batching: new deltas wait this long before going out. 0 sends at once. */
  readonly flushMs: number;
  readonly ackDelayMs: number;
  /** First retransmission timeout; doubles while a neighbour stays silent, up to `maxRetransmitMs`. */
  readonly retransmitMs: number;
  readonly maxRetransmitMs: number;
  /** Period of digest exchange with one neighbour at a time; null turns it off (needs a lattice with digests). */
  readonly antiEntropyMs: number | null;
  /** Bound on buffered deltas; the oldest go first, and neighbours that still needed them get the full state. */
  readonly maxBufferedDeltas: number;
  /** Seeds the random overlays; must be the same on every node. */
  readonly seed: number;
}

/**
 * Whether received deltas are forwarded. Over a full mesh every node already sends its own deltas to everyone, so
 * relaying would only multiply messages by n; digest anti-entropy covers an origin that dies mid-send.
 */
function relays(options: SyncOptions): boolean {
  return options.topology.kind !== 'full';
}

/** Plumtree grafts a lazy edge only after this many repairs in a row over it, so in-flight data is not mistaken for loss. */
const REPAIRS_BEFORE_GRAFT = 2;

export interface ServiceContext<T> {
  readonly self: NodeId;
  /** When this incarnation of the node started (see "Incarnations" above): distinct after every restart. */
  readonly incarnation: number;
  /**
   * The replica id to number this node's writes under (dots, counter entries). A durable service that restored
   * its store keeps the id it wrote under before, since every dot it issued was persisted before it was sent;
   * otherwise it is new for this incarnation (`replicaOf(self, incarnation)`), so a node that lost its state
   * never reuses a number its peers hold. Keeping the id keeps version vectors from growing with restarts.
   */
  readonly writer: string;
  readonly nodes: readonly NodeId[];
  /** The replica's state: mutate it only through the lattice's mutators, which return the delta. */
  readonly value: T;
  readonly now: number;
}

export interface ServiceResult<T, Out> {
  /** The delta of the mutation the request made to `value`, if any. */
  readonly delta?: T | null;
  readonly outputs?: readonly Out[];
  /** A new eager overlay (Maelstrom's `topology`); applied only when the options' topology is `given`. */
  readonly topology?: TopologySpec;
}

/** What a replicated data type adds to the engine: how clients change it and what a received change means. */
export interface ReplicatedService<T, Req, Out> {
  readonly name: string;
  readonly lattice: Lattice<T>;
  request(ctx: ServiceContext<T>, body: Req): ServiceResult<T, Out>;
  /**
   * Keep the replica in the node's durable store: the engine persists the whole value after every request that
   * changed it (before anything is sent) and restores it at start, so a restarted node keeps its own writes and
   * numbers new ones after them. Writes are meant to be rare next to reads (registrations, not a hot counter).
   */
  readonly durable?: boolean;
  /** Called with the new part of each received delta, after it was joined into `ctx.value`. */
  received?(ctx: ServiceContext<T>, novel: T): readonly Out[];
}

/** Wire messages. Field names are short because every message carries them; `i` is the sender's incarnation. */
export type SyncMsg =
  /** A delta interval [from, to) of the sender's buffer (or the full state), with an ack of the recipient's. */
  | { readonly t: 'd'; readonly i: number; readonly ri: number; readonly from: number; readonly to: number; readonly ack: number; readonly p: Uint8Array; readonly full: boolean; readonly rx: boolean }
  /** A bare acknowledgement; `gap` asks the recipient to resend from `ack`. */
  | { readonly t: 'a'; readonly i: number; readonly ri: number; readonly ack: number; readonly gap: boolean }
  /** A digest; `reply` asks the recipient to answer with its own if it lacks something. */
  | { readonly t: 'g'; readonly i: number; readonly digest: Uint8Array; readonly reply: boolean }
  /** A repair: what the recipient's digest showed it lacks. */
  | { readonly t: 'r'; readonly i: number; readonly p: Uint8Array }
  /** Plumtree: make this edge eager (graft) or lazy (prune). */
  | { readonly t: 'graft' | 'prune'; readonly i: number };

interface Link {
  readonly peer: NodeId;
  eager: boolean;
  /** An edge of the eager overlay itself: never pruned, so grafting and pruning cannot take the tree apart. */
  overlay: boolean;
  /** The neighbour's incarnation, null until heard from. */
  incarnation: number | null;
  // Outgoing: our buffer as the neighbour holds it.
  sentUpTo: number;
  /**
   * Set when an interval was not sent because all of it came from this neighbour: the next interval claims to
   * start here, so the neighbour does not take the skipped stretch for a lost message.
   */
  skippedFrom: number | null;
  acked: number;
  progressAt: number;
  rtoMs: number;
  retransmitting: boolean;
  // Incoming: their buffer as we hold it.
  received: number;
  /** The last gap report answered with a resend (its ack and when): repeats within a timeout are not. */
  lastGap: { readonly ack: number; readonly atMs: number } | null;
  ackOwed: boolean;
  /** Consecutive digest exchanges over this (lazy) edge that repaired us. */
  repairs: number;
}

interface Buffered<T> {
  readonly delta: T;
  /** Where the delta came from; null for our own mutations. */
  readonly from: NodeId | null;
}

export interface SyncState<T> {
  readonly self: NodeId;
  readonly nodes: readonly NodeId[];
  readonly options: SyncOptions;
  readonly incarnation: number;
  /** See `ServiceContext.writer`. */
  readonly writer: string;
  /** Whether the durable store already holds `writer` (a durable service persists it with its first write). */
  writerPersisted: boolean;
  readonly value: T;
  readonly buffer: Buffered<T>[];
  /** Sequence number of buffer[0]; the next delta gets bufferStart + buffer.length. */
  bufferStart: number;
  readonly links: Map<NodeId, Link>;
  flushAt: number | null;
  ackAt: number | null;
  retransmitAt: number | null;
  antiEntropyCursor: number;
  /** Started empty without anti-entropy: neighbours not yet heard from are greeted until they answer (see init). */
  greeting: boolean;
  readonly stats: SyncStats;
}

export interface SyncStats {
  intervalsSent: number;
  fullStatesSent: number;
  acksSent: number;
  digestsSent: number;
  repairsSent: number;
  retransmissions: number;
  duplicatesReceived: number;
  malformed: number;
  grafts: number;
  prunes: number;
  droppedForBound: number;
}

/** The durable store's keys for a durable service's value and the replica id its writes are numbered under. */
const DURABLE_KEY = 'replica';
const WRITER_KEY = 'writer';

const TIMER = { flush: 'flush', ack: 'ack', retransmit: 'retransmit', antiEntropy: 'anti-entropy' } as const;

type Effects<Out> = Effect<SyncMsg, Out>[];

export function validateSyncOptions(options: SyncOptions): void {
  const nonNegative = { flushMs: options.flushMs, ackDelayMs: options.ackDelayMs };
  for (const [name, value] of Object.entries(nonNegative)) {
    if (!(Number.isFinite(value) && value >= 0)) throw new RangeError(`${name} must be a finite number >= 0, got ${value}`);
  }
  const positive = { retransmitMs: options.retransmitMs, maxRetransmitMs: options.maxRetransmitMs, maxBufferedDeltas: options.maxBufferedDeltas };
  for (const [name, value] of Object.entries(positive)) {
    if (!(Number.isFinite(value) && value > 0)) throw new RangeError(`${name} must be a finite number > 0, got ${value}`);
  }
  if (options.antiEntropyMs !== null && !(Number.isFinite(options.antiEntropyMs) && options.antiEntropyMs > 0)) {
    throw new RangeError(`antiEntropyMs must be null or > 0, got ${options.antiEntropyMs}`);
  }
}

/** The protocol that replicates `service`'s lattice by delta anti-entropy. */
export function deltaSync<T, Req, Out>(service: ReplicatedService<T, Req, Out>): Protocol<SyncState<T>, SyncMsg, Out, SyncOptions, Req> {
  const { lattice } = service;

  function restoreValue(restored: ReadonlyMap<string, Uint8Array>): T {
    const bytes = service.durable === true ? restored.get(DURABLE_KEY) : undefined;
    // A store that does not decode is a bug or a corrupted disk: refuse to start rather than forget writes.
    return bytes === undefined ? lattice.empty() : lattice.decode(bytes);
  }

  /** The writer id saved with a restored value, if it is one of this node's replica ids; see `ServiceContext.writer`. */
  function restoreWriter(self: NodeId, restored: ReadonlyMap<string, Uint8Array>): string | undefined {
    if (service.durable !== true || !restored.has(DURABLE_KEY)) return undefined;
    const bytes = restored.get(WRITER_KEY);
    if (bytes === undefined) return undefined;
    const writer = new TextDecoder().decode(bytes);
    return writer === self || nodeOfReplica(writer) === self ? writer : undefined;
  }

  function init(ctx: InitContext<SyncOptions>): { state: SyncState<T>; effects: Effects<Out> } {
    validateSyncOptions(ctx.options);
    const restoredWriter = restoreWriter(ctx.self, ctx.restored);
    const state: SyncState<T> = {
      self: ctx.self,
      nodes: ctx.nodes,
      options: ctx.options,
      incarnation: ctx.now,
      writer: restoredWriter ?? replicaOf(ctx.self, ctx.now),
      writerPersisted: restoredWriter !== undefined,
      value: restoreValue(ctx.restored),
      buffer: [],
      bufferStart: 0,
      links: new Map(),
      flushAt: null,
      ackAt: null,
      retransmitAt: null,
      antiEntropyCursor: 0,
      greeting: false,
      stats: {
        intervalsSent: 0,
        fullStatesSent: 0,
        acksSent: 0,
        digestsSent: 0,
        repairsSent: 0,
        retransmissions: 0,
        duplicatesReceived: 0,
        malformed: 0,
        grafts: 0,
        prunes: 0,
        droppedForBound: 0,
      },
    };
    applyOverlay(state, ctx.options.topology, ctx.now);
    const effects: Effects<Out> = [];
    if (ctx.options.antiEntropyMs !== null && lattice.digest !== undefined) {
      effects.push({ kind: 'timer', name: TIMER.antiEntropy, at: ctx.now + ctx.options.antiEntropyMs });
    }
    if (service.durable === true && ctx.restored.has(DURABLE_KEY)) {
      // Writes made before the crash may never have left this node: offer the restored state as our first delta.
      bufferDelta(state, lattice.clone(state.value), null);
      scheduleFlush(state, ctx.now, effects);
    } else if (ctx.options.antiEntropyMs === null) {
      // Starting empty, perhaps after a crash that lost the state: a neighbour that saw an older incarnation of us
      // resends everything once it hears this one, and without anti-entropy nothing else would make it. A bare
      // acknowledgement of nothing says who we are; it is repeated on the retransmission schedule until the
      // neighbour is heard from (from then on our acknowledgements of its intervals carry our incarnation).
      state.greeting = true;
      for (const link of state.links.values()) if (link.eager) greet(state, link, effects);
      armRetransmit(state, ctx.now, effects);
    }
    return { state, effects };
  }

  /** (Re)builds the links from the overlays, keeping the state of links that stay. */
  function applyOverlay(state: SyncState<T>, topology: TopologySpec, now: number): void {
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
      const link = state.links.get(peer) ?? newLink(peer, now, state.options);
      link.eager = eager.has(peer);
      link.overlay = link.eager;
      state.links.set(peer, link);
    }
  }

  function step(state: SyncState<T>, input: Input<SyncMsg, Req>, now: number): Effects<Out> {
    const effects: Effects<Out> = [];
    switch (input.kind) {
      case 'request':
        onRequest(state, input.body, now, effects);
        break;
      case 'receive':
        onReceive(state, input.from, input.msg, now, effects);
        break;
      case 'timer':
        onTimer(state, input.name, now, effects);
        break;
    }
    return effects;
  }

  function ctxOf(state: SyncState<T>, now: number): ServiceContext<T> {
    return { self: state.self, incarnation: state.incarnation, writer: state.writer, nodes: state.nodes, value: state.value, now };
  }

  function onRequest(state: SyncState<T>, body: Req, now: number, effects: Effects<Out>): void {
    const result = service.request(ctxOf(state, now), body);
    if (result.topology !== undefined && state.options.topology.kind === 'given') applyOverlay(state, result.topology, now);
    if (result.delta !== undefined && result.delta !== null) {
      if (service.durable === true) {
        if (!state.writerPersisted) {
          // Before the value: a value on disk whose writer is not is simply numbered under a new id after a restart.
          effects.push({ kind: 'persist', key: WRITER_KEY, value: new TextEncoder().encode(state.writer) });
          state.writerPersisted = true;
        }
        effects.push({ kind: 'persist', key: DURABLE_KEY, value: lattice.encode(state.value) });
      }
      bufferDelta(state, result.delta, null);
      scheduleFlush(state, now, effects);
    }
    for (const value of result.outputs ?? []) effects.push({ kind: 'output', value });
  }

  function onReceive(state: SyncState<T>, from: NodeId, msg: SyncMsg, now: number, effects: Effects<Out>): void {
    const link = state.links.get(from) ?? adoptStranger(state, from, now);
    let restarted = false;
    // Incarnations are start times, so they only grow: a smaller one is a message of a dead process, still in flight.
    if (link.incarnation !== null && msg.i < link.incarnation) return;
    if (link.incarnation !== msg.i) {
      // First contact, or the neighbour restarted and lost everything: start both directions afresh.
      if (link.incarnation !== null) {
        // What its old incarnation sent us, its new one does not have: it must no longer be left out for it.
        for (let k = 0; k < state.buffer.length; k++) {
          const entry = state.buffer[k]!;
          if (entry.from === from) state.buffer[k] = { delta: entry.delta, from: null };
        }
        resetLink(link, now, state.options);
        restarted = true;
      }
      link.incarnation = msg.i;
    }
    switch (msg.t) {
      case 'd':
        onInterval(state, link, msg, now, effects);
        break;
      case 'a':
        if (msg.ri === state.incarnation) onAck(state, link, msg.ack, msg.gap, now, effects);
        break;
      case 'g':
        onDigest(state, link, msg.digest, msg.reply, effects);
        break;
      case 'r': {
        const novel = absorbBytes(state, link, msg.p, now, effects);
        link.repairs = novel === true ? link.repairs + 1 : 0;
        if (novel && !link.eager && state.options.lazy !== null && link.repairs >= REPAIRS_BEFORE_GRAFT) {
          // A lazy edge had to repair us: the eager tree missed something, so graft this edge into it.
          makeEager(state, link, now);
          effects.push({ kind: 'send', to: link.peer, msg: { t: 'graft', i: state.incarnation } });
        }
        break;
      }
      case 'graft':
        if (!link.eager) makeEager(state, link, now);
        break;
      case 'prune':
        if (link.eager && !link.overlay) {
          link.eager = false;
          state.stats.prunes++;
          collectGarbage(state);
        }
        break;
    }
    // The restarted neighbour gets everything, stamped with its new incarnation, after its message (often a gap
    // acknowledgement from 0) has been applied, so one resend serves both.
    if (restarted) scheduleFlush(state, now, effects);
    // After the message's own acknowledgement is applied.
    if (link.eager && link.acked < link.sentUpTo && link.rtoMs > state.options.retransmitMs) {
      // A neighbour we had given up on for a while is back (a partition healed): resend now, not at the backoff.
      link.sentUpTo = link.acked;
      link.retransmitting = true;
      link.progressAt = now;
      link.rtoMs = state.options.retransmitMs;
      state.stats.retransmissions++;
      scheduleFlush(state, now, effects);
    }
  }

  /** A message from a node outside our overlay (a Maelstrom topology we were not told, a grafting peer). */
  function adoptStranger(state: SyncState<T>, from: NodeId, now: number): Link {
    const link = newLink(from, now, state.options);
    link.eager = false;
    link.overlay = false;
    state.links.set(from, link);
    return link;
  }

  function onInterval(state: SyncState<T>, link: Link, msg: Extract<SyncMsg, { t: 'd' }>, now: number, effects: Effects<Out>): void {
    if (msg.ri === state.incarnation) onAck(state, link, msg.ack, false, now, effects);
    const novel = absorbBytes(state, link, msg.p, now, effects);
    if (novel === null) return; // malformed: not acknowledged, so the sender retries
    const contiguous = msg.full || msg.from <= link.received;
    if (contiguous) link.received = Math.max(link.received, msg.to);
    if (!contiguous) {
      // An earlier interval was lost: say so at once rather than wait for the sender's timeout. Every interval
      // behind the gap says so again; the sender answers one report per gap and round trip (see onAck).
      sendAck(state, link, true, effects);
    } else {
      link.ackOwed = true;
      if (state.ackAt === null) {
        state.ackAt = now + state.options.ackDelayMs;
        effects.push({ kind: 'timer', name: TIMER.ack, at: state.ackAt });
      }
    }
    if (!novel && link.eager && !link.overlay && state.options.lazy !== null && !msg.full && !msg.rx) {
      // Plumtree's prune: this edge brought only what another path already had.
      link.eager = false;
      state.stats.prunes++;
      effects.push({ kind: 'send', to: link.peer, msg: { t: 'prune', i: state.incarnation } });
      collectGarbage(state);
    }
  }

  /** Decodes and joins a received delta; true if it held something new, false if not, null if malformed. */
  function absorbBytes(state: SyncState<T>, link: Link, bytes: Uint8Array, now: number, effects: Effects<Out>): boolean | null {
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
    for (const value of service.received?.(ctxOf(state, now), novel) ?? []) effects.push({ kind: 'output', value });
    scheduleFlush(state, now, effects);
    return true;
  }

  function onAck(state: SyncState<T>, link: Link, ack: number, gap: boolean, now: number, effects: Effects<Out>): void {
    const nextSeq = state.bufferStart + state.buffer.length;
    if (ack > nextSeq) return; // acknowledges what we never sent: stale or bogus
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
      // claimed: the next interval must claim it, or the neighbour keeps seeing a gap.
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
      scheduleFlush(state, now, effects);
    }
  }

  /** Entries that came from the neighbour itself count as acknowledged by it (we never send them back). */
  function skipOwnEntries(state: SyncState<T>, link: Link): void {
    while (link.acked < link.sentUpTo && link.acked >= state.bufferStart) {
      const entry = state.buffer[link.acked - state.bufferStart];
      if (entry === undefined || entry.from !== link.peer) break;
      link.acked++;
    }
  }

  function onDigest(state: SyncState<T>, link: Link, digest: Uint8Array, reply: boolean, effects: Effects<Out>): void {
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

  function onTimer(state: SyncState<T>, name: string, now: number, effects: Effects<Out>): void {
    switch (name) {
      case TIMER.flush:
        state.flushAt = null;
        flush(state, now, effects);
        break;
      case TIMER.ack:
        state.ackAt = null;
        for (const link of state.links.values()) if (link.ackOwed) sendAck(state, link, false, effects);
        break;
      case TIMER.retransmit:
        state.retransmitAt = null;
        retransmitStalled(state, now, effects);
        break;
      case TIMER.antiEntropy:
        antiEntropyRound(state, effects);
        effects.push({ kind: 'timer', name: TIMER.antiEntropy, at: now + state.options.antiEntropyMs! });
        break;
    }
  }

  function scheduleFlush(state: SyncState<T>, now: number, effects: Effects<Out>): void {
    if (state.options.flushMs === 0) {
      flush(state, now, effects);
      return;
    }
    if (state.flushAt !== null) return;
    state.flushAt = now + state.options.flushMs;
    effects.push({ kind: 'timer', name: TIMER.flush, at: state.flushAt });
  }

  function flush(state: SyncState<T>, now: number, effects: Effects<Out>): void {
    const nextSeq = state.bufferStart + state.buffer.length;
    // One set of intervals per starting point, shared by every neighbour at that point (usually all of them).
    const intervals = new Map<number, IntervalSet>();
    let fullState: Uint8Array | undefined;
    for (const link of state.links.values()) {
      if (!link.eager || link.sentUpTo >= nextSeq) continue;
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
          set = intervalSet(state, from, nextSeq);
          intervals.set(from, set);
        }
        payload = set.encodedWithout(link.peer);
      }
      link.sentUpTo = nextSeq;
      if (payload === undefined) {
        // Everything in the interval came from this neighbour: it has it all.
        link.skippedFrom ??= from;
        skipOwnEntries(state, link);
        continue;
      }
      const claimedFrom = Math.min(from, link.skippedFrom ?? from);
      link.skippedFrom = null;
      if (link.acked === from) link.progressAt = now;
      if (full) state.stats.fullStatesSent++;
      else state.stats.intervalsSent++;
      link.ackOwed = false;
      const msg: SyncMsg = { t: 'd', i: state.incarnation, ri: link.incarnation ?? 0, from: claimedFrom, to: nextSeq, ack: link.received, p: payload, full, rx: retransmission };
      effects.push({ kind: 'send', to: link.peer, msg });
    }
    collectGarbage(state);
    armRetransmit(state, now, effects);
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
  function intervalSet(state: SyncState<T>, from: number, to: number): IntervalSet {
    const bySource = new Map<NodeId | null, T[]>();
    for (let seq = from; seq < to; seq++) {
      const entry = state.buffer[seq - state.bufferStart]!;
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

  function armRetransmit(state: SyncState<T>, now: number, effects: Effects<Out>): void {
    let earliest = Infinity;
    for (const link of state.links.values()) {
      if (link.eager && (link.acked < link.sentUpTo || awaitsGreeting(state, link))) earliest = Math.min(earliest, link.progressAt + link.rtoMs);
    }
    if (earliest === Infinity || (state.retransmitAt !== null && state.retransmitAt <= earliest)) return;
    state.retransmitAt = Math.max(earliest, now);
    effects.push({ kind: 'timer', name: TIMER.retransmit, at: state.retransmitAt });
  }

  function retransmitStalled(state: SyncState<T>, now: number, effects: Effects<Out>): void {
    let any = false;
    for (const link of state.links.values()) {
      if (link.eager && link.acked >= link.sentUpTo && awaitsGreeting(state, link) && now >= link.progressAt + link.rtoMs) {
        greet(state, link, effects);
        link.progressAt = now;
        link.rtoMs = Math.min(link.rtoMs * 2, state.options.maxRetransmitMs);
        continue;
      }
      if (!link.eager || link.acked >= link.sentUpTo || now < link.progressAt + link.rtoMs) continue;
      link.sentUpTo = link.acked;
      link.retransmitting = true;
      link.progressAt = now;
      link.rtoMs = Math.min(link.rtoMs * 2, state.options.maxRetransmitMs);
      state.stats.retransmissions++;
      any = true;
    }
    if (any) flush(state, now, effects);
    else armRetransmit(state, now, effects);
  }

  function awaitsGreeting(state: SyncState<T>, link: Link): boolean {
    return state.greeting && link.incarnation === null;
  }

  function greet(state: SyncState<T>, link: Link, effects: Effects<Out>): void {
    effects.push({ kind: 'send', to: link.peer, msg: { t: 'a', i: state.incarnation, ri: 0, ack: 0, gap: false } });
  }

  function sendAck(state: SyncState<T>, link: Link, gap: boolean, effects: Effects<Out>): void {
    link.ackOwed = false;
    state.stats.acksSent++;
    effects.push({ kind: 'send', to: link.peer, msg: { t: 'a', i: state.incarnation, ri: link.incarnation ?? 0, ack: link.received, gap } });
  }

  /**
   * One digest to the next node of the whole cluster in turn, not just to neighbours: a crashed relay (a tree's
   * hub) must not cut its subtree off for good.
   */
  function antiEntropyRound(state: SyncState<T>, effects: Effects<Out>): void {
    if (lattice.digest === undefined) return;
    const others = state.nodes.filter((n) => n !== state.self);
    if (others.length === 0) return;
    const peer = others[state.antiEntropyCursor++ % others.length]!;
    state.stats.digestsSent++;
    effects.push({ kind: 'send', to: peer, msg: { t: 'g', i: state.incarnation, digest: lattice.digest(state.value), reply: true } });
  }

  function makeEager(state: SyncState<T>, link: Link, now: number): void {
    const nextSeq = state.bufferStart + state.buffer.length;
    link.eager = true;
    // The digest exchange that grafted the edge covered the past; the edge carries what comes next.
    link.sentUpTo = nextSeq;
    link.acked = nextSeq;
    link.progressAt = now;
    state.stats.grafts++;
  }

  function bufferDelta(state: SyncState<T>, delta: T, from: NodeId | null): void {
    state.buffer.push({ delta, from });
    if (state.buffer.length > state.options.maxBufferedDeltas) {
      // Bounded memory: neighbours that still needed the dropped deltas will get the full state.
      state.buffer.shift();
      state.bufferStart++;
      state.stats.droppedForBound++;
    }
  }

  /** Drops the deltas every eager neighbour has acknowledged. */
  function collectGarbage(state: SyncState<T>): void {
    let low = state.bufferStart + state.buffer.length;
    for (const link of state.links.values()) if (link.eager) low = Math.min(low, link.acked);
    const drop = low - state.bufferStart;
    if (drop > 0) {
      state.buffer.splice(0, drop);
      state.bufferStart = low;
    }
  }

  function isMessage(value: unknown): value is SyncMsg {
    if (!isRecord(value) || typeof value.i !== 'number' || !Number.isFinite(value.i)) return false;
    switch (value.t) {
      case 'd':
        return (
          typeof value.ri === 'number' &&
          isCount(value.from) &&
          isCount(value.to) &&
          value.from <= value.to &&
          isCount(value.ack) &&
          value.p instanceof Uint8Array &&
          typeof value.full === 'boolean' &&
          typeof value.rx === 'boolean'
        );
      case 'a':
        return typeof value.ri === 'number' && isCount(value.ack) && typeof value.gap === 'boolean';
      case 'g':
        return value.digest instanceof Uint8Array && typeof value.reply === 'boolean';
      case 'r':
        return value.p instanceof Uint8Array;
      case 'graft':
      case 'prune':
        return true;
      default:
        return false;
    }
  }

  function metrics(state: SyncState<T>): Readonly<Record<string, number | string | boolean>> {
    let eager = 0;
    for (const link of state.links.values()) if (link.eager) eager++;
    return { buffered: state.buffer.length, eagerLinks: eager, links: state.links.size, ...state.stats };
  }

  return { name: service.name, init, step, isMessage, metrics };
}

function newLink(peer: NodeId, now: number, options: SyncOptions): Link {
  return {
    peer,
    eager: true,
    overlay: true,
    incarnation: null,
    sentUpTo: 0,
    skippedFrom: null,
    acked: 0,
    progressAt: now,
    rtoMs: options.retransmitMs,
    retransmitting: false,
    received: 0,
    lastGap: null,
    ackOwed: false,
    repairs: 0,
  };
}

function resetLink(link: Link, now: number, options: SyncOptions): void {
  link.sentUpTo = 0;
  link.skippedFrom = null;
  link.acked = 0;
  link.progressAt = now;
  link.rtoMs = options.retransmitMs;
  link.retransmitting = false;
  link.received = 0;
  link.lastGap = null;
  link.ackOwed = false;
}

function neighboursOf(overlay: Overlay, self: NodeId): Set<NodeId> {
  const neighbours = overlay.get(self);
  assert(neighbours !== undefined, `node ${self} is not in the overlay`);
  return new Set(neighbours);
}
