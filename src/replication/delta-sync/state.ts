/**
 * The one state every delta-sync concern works on, and the small helpers they share.
 *
 * Sequence numbers: each replica numbers the deltas it takes in (its own mutations and the new parts of what it
 * receives) 0, 1, 2, … and keeps the unacknowledged ones in `buffer`, whose front is number `bufferStart`; the next
 * delta gets `nextSeq(state)`. Per neighbour, a `Link` holds both directions: how far our buffer was sent to it and
 * acknowledged by it (`sentUpTo`, `acked`), and how far its buffer has reached us (`received`). invariants.ts
 * states what always holds between them.
 */
import type { NodeId } from '../../core/ids.js';
import { Ring } from '../../core/ring.js';
import type { ServiceContext, SyncOptions } from './types.js';

export interface Link {
  readonly peer: NodeId;
  eager: boolean;
  /** An edge of the eager overlay itself: never pruned, so grafting and pruning cannot take the tree apart. */
  overlay: boolean;
  /** The neighbour's incarnation, null until heard from. */
  incarnation: number | null;
  /** When a message from the neighbour's current incarnation last came; null: never (see digests.ts). */
  heardAt: number | null;
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
  /** While `ackOwed`: when the oldest interval not yet acknowledged arrived (intervals.ts, onAckTimer). */
  owedSince: number;
  /** Consecutive digest exchanges over this (lazy) edge that repaired us. */
  repairs: number;
}

export interface Buffered<T> {
  readonly delta: T;
  /** Where the delta came from; null for our own mutations. */
  readonly from: NodeId | null;
}

export interface SyncStats {
  intervalsSent: number;
  fullStatesSent: number;
  acksSent: number;
  digestsSent: number;
  /** Anti-entropy rounds skipped because every eager link was live (`quietWhileLinksLive`). */
  antiEntropySkipped: number;
  repairsSent: number;
  retransmissions: number;
  duplicatesReceived: number;
  malformed: number;
  grafts: number;
  prunes: number;
  droppedForBound: number;
  /** Messages from nodes outside the cluster (or from ourselves), dropped without a link; see links.ts. */
  strangersDropped: number;
}

export interface SyncState<T> {
  readonly self: NodeId;
  /** The cluster's members, self included: fixed in a static cluster, replaced by `setMembers` (members.ts) in a live one. */
  nodes: readonly NodeId[];
  /** `nodes` as a set: only these (but self) may have links. */
  members: ReadonlySet<NodeId>;
  readonly options: SyncOptions;
  readonly incarnation: number;
  /** See `ServiceContext.writer`. */
  readonly writer: string;
  /** Whether the durable store already holds `writer` (a durable service persists it with its first write). */
  writerPersisted: boolean;
  readonly value: T;
  /** Deltas not yet acknowledged by every eager neighbour; at most `options.maxBufferedDeltas` (its capacity). */
  readonly buffer: Ring<Buffered<T>>;
  /** Sequence number of buffer.get(0); the next delta gets bufferStart + buffer.length. */
  bufferStart: number;
  /**
   * One past the last of this replica's own deltas the bound evicted (0: none): a neighbour whose `acked` is below
   * it lacks one of ours, which only the full state now carries. At most `bufferStart`.
   */
  ownEvictedBelow: number;
  /** At most `maxLinks(state)`. */
  readonly links: Map<NodeId, Link>;
  // Whether the flush and ack timers are armed: a handler only needs to know not to arm one twice.
  flushArmed: boolean;
  ackArmed: boolean;
  /** The retransmission timer's deadline (null: not armed): kept because armRetransmit re-arms only for an earlier one. */
  retransmitAt: number | null;
  antiEntropyCursor: number;
  /** Started empty without anti-entropy: neighbours not yet heard from are greeted until they answer (links.ts). */
  greeting: boolean;
  readonly stats: SyncStats;
}

/** The protocol's timer names. */
export const TIMER = { flush: 'flush', ack: 'ack', retransmit: 'retransmit', antiEntropy: 'anti-entropy' } as const;

/** Every timer name delta-sync sets: a name outside it is a compile error (protocol/types.ts, rule 4). */
export type SyncTimer = (typeof TIMER)[keyof typeof TIMER];

export function newSyncState<T>(fields: {
  self: NodeId;
  nodes: readonly NodeId[];
  options: SyncOptions;
  incarnation: number;
  writer: string;
  writerPersisted: boolean;
  value: T;
}): SyncState<T> {
  return {
    ...fields,
    members: new Set(fields.nodes),
    buffer: new Ring<Buffered<T>>(fields.options.maxBufferedDeltas),
    bufferStart: 0,
    ownEvictedBelow: 0,
    links: new Map(),
    flushArmed: false,
    ackArmed: false,
    retransmitAt: null,
    antiEntropyCursor: 0,
    greeting: false,
    stats: {
      intervalsSent: 0,
      fullStatesSent: 0,
      acksSent: 0,
      digestsSent: 0,
      antiEntropySkipped: 0,
      repairsSent: 0,
      retransmissions: 0,
      duplicatesReceived: 0,
      malformed: 0,
      grafts: 0,
      prunes: 0,
      droppedForBound: 0,
      strangersDropped: 0,
    },
  };
}

/** The sequence number the next buffered delta gets; every link's `sentUpTo` and `acked` are at most this. */
export function nextSeq<T>(state: SyncState<T>): number {
  return state.bufferStart + state.buffer.length;
}

/**
 * The bound on links: one per other member of the cluster at most, since only members are linked (links.ts).
 * The cluster's size is bounded where it is read (the peers file, Maelstrom's init).
 */
export function maxLinks<T>(state: SyncState<T>): number {
  return state.nodes.length - 1;
}

/**
 * Whether received deltas are forwarded. Over a full mesh every node already sends its own deltas to everyone, so
 * relaying would only multiply messages by n; digest anti-entropy covers an origin that dies mid-send.
 */
export function relays(options: SyncOptions): boolean {
  return options.topology.kind !== 'full';
}

export function newLink(peer: NodeId, now: number, options: SyncOptions): Link {
  return {
    peer,
    eager: true,
    overlay: true,
    incarnation: null,
    heardAt: null,
    sentUpTo: 0,
    skippedFrom: null,
    acked: 0,
    progressAt: now,
    rtoMs: options.retransmitMs,
    retransmitting: false,
    received: 0,
    lastGap: null,
    ackOwed: false,
    owedSince: 0,
    repairs: 0,
  };
}

/** Both directions from scratch: the neighbour restarted and holds nothing of ours, nor we of its new self. */
export function resetLink(link: Link, now: number, options: SyncOptions): void {
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

export function serviceContext<T>(state: SyncState<T>, now: number): ServiceContext<T> {
  return { self: state.self, incarnation: state.incarnation, writer: state.writer, nodes: state.nodes, value: state.value, now };
}
