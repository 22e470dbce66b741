/**
 * Raft's types: entries, messages, options, the named bounds, the per-node state and how a client request maps
 * onto the log. The state follows the Raft paper's figure 2 ("State"): persistent `term`, `votedFor`, `log`;
 * volatile `commitIndex`, `lastApplied`; on leaders `nextIndex[]`, `matchIndex[]` (here `progress`).
 */
import type { NodeId } from '../core/ids.js';
import type { Prng } from '../core/prng.js';
import type { Effect } from '../protocol/types.js';
import type { StateMachine } from './state-machine.js';

export type RaftTimer = 'election' | 'tick';

/**
 * The log is never compacted (no snapshots yet), so it is bounded: past this many entries a leader refuses new
 * commands definitely (unavailable), as they were never proposed. At Maelstrom's rates (≤ 1,000 ops/s for tens
 * of seconds) the bound is far away; a long-lived deployment needs snapshots first.
 */
export const MAX_LOG_ENTRIES = 200_000;
/** Client requests (commands and reads) a node holds awaiting their answer; beyond, refused as unavailable. */
export const MAX_PENDING_REQUESTS = 10_000;
/** Appends in flight to one follower (pipelining); later entries wait and then go together (batching). */
export const MAX_INFLIGHT_APPENDS = 2;
/** Entries in one append message, and the most `isMessage` accepts. */
export const MAX_BATCH_ENTRIES = 512;
/** Followers' read-index requests a leader holds for its next confirmation rounds; beyond, refused. */
export const MAX_REMOTE_READS = 10_000;
/** How often a follower's forwarded command follows a refusal's hint to a newer leader before it gives up. */
export const MAX_FORWARD_ATTEMPTS = 3;
/**
 * A forward or read-index request not answered within an election timeout (RaftOptions.electionMs: longer than
 * any round trip the timing is meant for) is sent again, to the leader then known: the network may have lost it.
 * A second copy of a command is harmless (apply.ts applies an origin once; a leader proposes an origin once per
 * term).
 */

/** Encodes what Raft persists (entries hold commands: plain data); injected so consensus needs no transport. */
export interface RaftCodec {
  encode(value: unknown): Uint8Array;
  decode(bytes: Uint8Array): unknown;
}

export interface RaftOptions {
  /** Leader heartbeat period; also the tick at which every node expires its overdue requests. */
  readonly heartbeatMs: number;
  /** Election timeouts are drawn uniformly from [electionMs, 2·electionMs) (§5.2's randomized timeouts). */
  readonly electionMs: number;
  /** A request not answered by then gets an indefinite timeout reply (its command may still commit later). */
  readonly requestTimeoutMs: number;
  /** Mixed with the node id and its start time into the PRNG that draws election timeouts. */
  readonly seed: number;
  readonly codec: RaftCodec;
}

/**
 * One log entry. `command` null is a leader's no-op, appended when it takes office so that it commits an entry of
 * its own term (§5.4.2, §8). `origin` names the client request that proposed it
 * (`<incarnation>~<start time>.<seq>@<node>`): unique for ever, since a node's incarnation is persisted and bumped at
 * every start, and the start time tells apart the runs of a node whose store did not survive (a process without a
 * data dir starts from incarnation 1 every time, and must not reuse an origin of its last life); replicas apply a command
 * whose origin they already applied as a no-op, so a forward that the network duplicated takes effect once.
 */
export interface Entry<C> {
  readonly term: number;
  readonly command: C | null;
  readonly origin: string | null;
}

export type RaftMsg<C> =
  /** RequestVote (figure 2). */
  | { readonly t: 'vote'; readonly term: number; readonly lastIndex: number; readonly lastTerm: number }
  | { readonly t: 'voteReply'; readonly term: number; readonly granted: boolean }
  /** AppendEntries with entries (figure 2); `round` as in a beat, so an append also confirms a read round. */
  | { readonly t: 'append'; readonly term: number; readonly prevIndex: number; readonly prevTerm: number; readonly entries: readonly Entry<C>[]; readonly commit: number; readonly round: number }
  /** ok: `index` is the last index now known to match; not ok: the follower's hint, the index to resend after. */
  | { readonly t: 'appendReply'; readonly term: number; readonly ok: boolean; readonly index: number; readonly round: number }
  /**
   * A heartbeat (etcd's MsgHeartbeat): `commit` is min(leader commit, the follower's match), so it is safe to take
   * without a log check; `round` is the read-index confirmation round it stands for (reads.ts).
   */
  | { readonly t: 'beat'; readonly term: number; readonly commit: number; readonly round: number }
  | { readonly t: 'beatReply'; readonly term: number; readonly round: number }
  /** A follower hands a client's command to the leader it knows. */
  | { readonly t: 'forward'; readonly origin: string; readonly command: C }
  /** The receiver did not propose it (not leader): `leader` is whom it believes leads. */
  | { readonly t: 'forwardRefused'; readonly origin: string; readonly leader: NodeId | null }
  /** A follower asks the leader for a read index (§8, etcd's ReadOnlySafe). */
  | { readonly t: 'readIndex'; readonly id: string }
  /** `index` null: refused (not leader). `term`/`commit` are as in a beat, for the asker to catch up at once. */
  | { readonly t: 'readIndexReply'; readonly id: string; readonly index: number | null; readonly term: number; readonly commit: number };

export type Role = 'follower' | 'candidate' | 'leader';

/** A leader's view of one follower (etcd's Progress). */
export interface Progress {
  /** Next index to send (optimistic: advanced as appends are sent, reset on a refusal or a lost append). */
  next: number;
  /** Highest index known to match the follower's log. */
  match: number;
  /** Appends sent and not yet answered, at most MAX_INFLIGHT_APPENDS. */
  inflight: number;
  /** When the last append went out: one unanswered for two heartbeats counts as lost. */
  sentAt: number;
  /** Highest read-index round the follower acknowledged in this term. */
  acked: number;
  /** When a reply of this term last arrived (check-quorum). */
  heardAt: number;
  /** Whether anything went to it since the last tick (an idle follower gets a heartbeat). */
  contacted: boolean;
}

/** Who waits for a read-index round: a local read (by its id) or a follower's read-index request. */
export type ReadWaiter = { readonly from: null; readonly id: string } | { readonly from: NodeId; readonly id: string };

export interface ReadRound {
  readonly round: number;
  /** The commit index recorded when the round started: reads served at or after it are linearizable. */
  readonly index: number;
  readonly waiters: ReadWaiter[];
}

export interface PendingCommand<C, Req> {
  readonly req: Req;
  /** Kept to forward it again to a newer leader. */
  readonly command: C;
  readonly deadline: number;
  /** The leader it was forwarded to; null when proposed here. */
  target: NodeId | null;
  /** When it was last forwarded: a forward unanswered by commit for FORWARD_RETRY_HEARTBEATS is sent again. */
  sentAt: number;
  attempts: number;
}

export interface PendingRead<Req> {
  readonly req: Req;
  readonly deadline: number;
  /** The confirmed read index, once known: the read is served once `lastApplied` reaches it. */
  index: number | null;
  /** When the read index was last asked of a leader (null: asked of this node as leader). */
  askedAt: number | null;
}

export interface RaftState<S, C, Req> {
  readonly self: NodeId;
  readonly peers: readonly NodeId[];
  /** A majority of the cluster (self included). */
  readonly quorum: number;
  readonly options: RaftOptions;
  readonly prng: Prng;
  /** This run's number, persisted and bumped at every start: part of every origin this node makes. */
  readonly incarnation: number;
  /** When this run began (ms): with `incarnation`, what makes origins unique across runs that lost their store. */
  readonly startedAt: number;
  nextSeq: number;
  // Persistent (figure 2), written through `persist` before anything that depends on it is sent.
  term: number;
  votedFor: NodeId | null;
  /** Entry i (1-based) is log[i - 1]. */
  readonly log: Entry<C>[];
  // Volatile.
  role: Role;
  leader: NodeId | null;
  commitIndex: number;
  lastApplied: number;
  machine: S;
  /** Origins of the commands applied so far (bounded by the log: one per entry). */
  readonly appliedOrigins: Set<string>;
  readonly votes: Set<NodeId>;
  // Leader only.
  readonly progress: Map<NodeId, Progress>;
  /** The last read-index round started this term; rounds are numbered from 1 in each term. */
  round: number;
  readRound: ReadRound | null;
  /** Reads waiting for the next round (a round in flight recorded its index before they came). */
  readQueue: ReadWaiter[];
  // Clients of this node.
  readonly commands: Map<string, PendingCommand<C, Req>>;
  /** Origins this leader proposed in its current term (cleared when it leaves office): a re-sent forward is not proposed twice. */
  readonly proposedThisTerm: Set<string>;
  readonly reads: Map<string, PendingRead<Req>>;
  readonly stats: RaftStats;
}

export interface RaftStats {
  elections: number;
  proposed: number;
  applied: number;
  forwarded: number;
  refused: number;
  timedOut: number;
  readRounds: number;
}

/** What a client request is to Raft. */
export type Classified<C, Out> =
  /** Replicate `command`; answer with `result` of it once applied. */
  | { readonly kind: 'command'; readonly command: C }
  /** A linearizable read: answered by `read` on the state once a confirmed read index is applied. */
  | { readonly kind: 'read' }
  /**
   * A read of this replica's applied state, answered at once by `read` with no round of consensus: a prefix of
   * the committed log, possibly stale (kafka's polls, whose workload has no recency requirement).
   */
  | { readonly kind: 'local' }
  /** Answer at once (malformed, not supported): nothing is proposed. */
  | { readonly kind: 'reply'; readonly out: Out };

/**
 * How a protocol's client requests map onto Raft (the workload's part: lin-kv, later kafka).
 * `unavailable` errors are definite (the request certainly took no effect); `indefinite` ones are not.
 */
export interface RaftRequests<S, C, R, Req, Out> {
  classify(req: Req): Classified<C, Out>;
  result(req: Req, result: R): Out;
  read(req: Req, state: Readonly<S>): Out;
  error(req: Req, kind: 'unavailable' | 'indefinite', text: string): Out;
}

export interface RaftEnv<S, C, R, Req, Out> {
  readonly machine: StateMachine<S, C, R>;
  readonly requests: RaftRequests<S, C, R, Req, Out>;
}

export type RaftEffect<C, Out> = Effect<RaftMsg<C>, Out, RaftTimer>;
export type RaftEffects<C, Out> = RaftEffect<C, Out>[];
