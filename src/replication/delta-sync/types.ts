/**
 * What delta-sync shows the outside: its options, the interface a replicated data type implements, and its wire
 * messages. The state every concern works on is in state.ts.
 */
import type { NodeId } from '../../core/ids.js';
import type { Effect } from '../../protocol/types.js';
import type { Lattice } from '../lattice.js';
import type { TopologySpec } from '../topology.js';
import type { SyncTimer } from './state.js';

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
  /**
   * What a node with a single eager neighbour (a leaf of a tree) waits instead of `flushMs`; absent: `flushMs`.
   * A leaf's batch is one message whenever it goes, so waiting saves only when several writes meet in one
   * window (rare at a leaf's share of the rate) and adds to the latency of every write; a hub's batch costs one
   * message per neighbour, so the hub is where batching pays.
   */
  readonly leafFlushMs?: number;
  readonly ackDelayMs: number;
  /** First retransmission timeout; doubles while a neighbour stays silent, up to `maxRetransmitMs`. */
  readonly retransmitMs: number;
  readonly maxRetransmitMs: number;
  /** Period of digest exchange with one neighbour at a time; null turns it off (needs a lattice with digests). */
  readonly antiEntropyMs: number | null;
  /**
   * Skip a round while every eager neighbour was heard from within the last period (digests.ts says why that is
   * safe, and where: relaying overlays without lazy edges). Absent: false, every round runs.
   */
  readonly quietWhileLinksLive?: boolean;
  /** Bound on buffered deltas; the oldest go first, and neighbours that still needed them get the full state. */
  readonly maxBufferedDeltas: number;
  /** Seeds the random overlays; must be the same on every node. */
  readonly seed: number;
}

export function validateSyncOptions(options: SyncOptions): void {
  const nonNegative = { flushMs: options.flushMs, leafFlushMs: options.leafFlushMs ?? 0, ackDelayMs: options.ackDelayMs };
  for (const [name, value] of Object.entries(nonNegative)) {
    if (!(Number.isFinite(value) && value >= 0)) throw new RangeError(`${name} must be a finite number >= 0, got ${value}`);
  }
  const positive = { retransmitMs: options.retransmitMs, maxRetransmitMs: options.maxRetransmitMs, maxBufferedDeltas: options.maxBufferedDeltas };
  for (const [name, value] of Object.entries(positive)) {
    if (!(Number.isFinite(value) && value > 0)) throw new RangeError(`${name} must be a finite number > 0, got ${value}`);
  }
  // The bound is the capacity of the buffer's ring (state.ts): a whole number of deltas.
  if (!Number.isSafeInteger(options.maxBufferedDeltas)) throw new RangeError(`maxBufferedDeltas must be a whole number, got ${options.maxBufferedDeltas}`);
  if (options.antiEntropyMs !== null && !(Number.isFinite(options.antiEntropyMs) && options.antiEntropyMs > 0)) {
    throw new RangeError(`antiEntropyMs must be null or > 0, got ${options.antiEntropyMs}`);
  }
}

export interface ServiceContext<T> {
  readonly self: NodeId;
  /** When this incarnation of the node started (see links.ts): distinct after every restart. */
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

export type IntervalMsg = Extract<SyncMsg, { t: 'd' }>;

/** Handlers push their effects, in order, onto the step's one list. */
export type SyncEffects<Out> = Effect<SyncMsg, Out, SyncTimer>[];

/**
 * What every handler may need besides the state: the service (its requests, its reaction to received deltas,
 * whether it is durable) and its lattice. Fixed for the protocol's lifetime, so it is not part of the state.
 */
export interface SyncEnv<T, Req, Out> {
  readonly service: ReplicatedService<T, Req, Out>;
  readonly lattice: Lattice<T>;
}
