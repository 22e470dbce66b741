/**
 * The membership contract (issue 13): what a driver, a composition (compose.ts) and a metrics page see of the
 * SWIM + Lifeguard protocol in swim.ts. Knobs are memberlist's (hashicorp/memberlist config.go), named as there
 * in camelCase with their unit; DEFAULT_SWIM_OPTIONS is memberlist's DefaultLANConfig.
 */
import type { NodeId } from '../core/ids.js';

export type MemberState = 'alive' | 'suspect' | 'dead' | 'left';
/** Every state, in that order (guards, per-state counts). */
export const MEMBER_STATES: readonly MemberState[] = ['alive', 'suspect', 'dead', 'left'];

export interface Member {
  readonly id: NodeId;
  /** Where the node listens, "host:port"; opaque to the protocol, carried in gossip so drivers can dial it. "" when unknown (a static peer). */
  readonly address: string;
  readonly incarnation: number;
  readonly state: MemberState;
}

/** Requests a driver hands the protocol. `join` contacts seeds by node id (the driver has learnt their ids, e.g. from a TCP handshake). */
export type SwimRequest = { readonly op: 'join'; readonly seeds: readonly NodeId[] } | { readonly op: 'leave' };

/**
 * Outputs: one `member` event per change of a member's state (or address) as this node sees it; alive covers
 * join and recovery. At init every member the node starts with (itself and its static peers) is announced once.
 *
 * `forgotten`: the node dropped the member for good: it is neither in its member table (dead and left members
 * leave it GossipToTheDeadTime after the change) nor in its reconnect list (Serf's: dead members stay there
 * ReconnectTimeout, or until evicted at MAX_RECONNECT; left members never enter it). A driver must keep a
 * peer's transport slot (its address) until `forgotten` (or `left`), NOT drop it on `dead`: SWIM still gossips
 * to the dead and push/pulls them to heal partitions. Static peers (a peers file) and the seeds of a `join` are
 * reconnect candidates for the node's whole life and are never forgotten (their addresses are the driver's).
 */
export type MemberEvent = { readonly kind: 'member'; readonly member: Member } | { readonly kind: 'forgotten'; readonly id: NodeId };

export interface SwimOptions {
  /** This node's own "host:port", gossiped in its alive messages. */
  readonly address: string;
  /** ProbeInterval: time between probes of one member each (scaled by local health with Lifeguard). */
  readonly probeIntervalMs: number;
  /** ProbeTimeout: wait for a direct ack before asking others to probe (≈ the network's 99th percentile RTT). Below probeIntervalMs. */
  readonly probeTimeoutMs: number;
  /** IndirectChecks (k): members asked to probe a target that missed its direct ack. */
  readonly indirectChecks: number;
  /** RetransmitMult: each broadcast is piggybacked RetransmitMult·ceil(log10(n+1)) times. */
  readonly retransmitMult: number;
  /** SuspicionMult: SuspicionTimeout = SuspicionMult·max(1, log10(max(1, n)))·ProbeInterval. */
  readonly suspicionMult: number;
  /** SuspicionMaxTimeoutMult: with Lifeguard a suspicion starts at this multiple of SuspicionTimeout and shrinks with confirmations. */
  readonly suspicionMaxTimeoutMult: number;
  /** PushPullInterval: full state sync with one random member (scaled up past 32 members); 0 disables. */
  readonly pushPullIntervalMs: number;
  /** GossipInterval: time between gossip rounds of queued broadcasts; 0 disables. */
  readonly gossipIntervalMs: number;
  /** GossipNodes: members each gossip round sends to. */
  readonly gossipNodes: number;
  /** GossipToTheDeadTime: a dead member is still gossiped to (a chance to refute), then forgotten. */
  readonly gossipToTheDeadTimeMs: number;
  /** AwarenessMaxMultiplier: local health scales the probe interval up to this many times. */
  readonly awarenessMaxMultiplier: number;
  /** Lifeguard (local health awareness, nacks, suspicion shrinking with confirmations); false is plain SWIM. */
  readonly lifeguard: boolean;
  /**
   * Serf's ReconnectInterval, shortened: a push/pull with one random dead (not left) member this often, so two
   * sides of a healed partition that declared each other dead find each other again (memberlist alone never
   * probes the dead). Candidates: the reconnect list (dead members, for reconnectTimeoutMs), the static peers
   * and the seeds of a join (always, unless seen alive). 0 disables.
   */
  readonly reconnectIntervalMs: number;
  /** Serf's ReconnectTimeout: a dead member stays a reconnect candidate this long after it died, then is forgotten. */
  readonly reconnectTimeoutMs: number;
  /**
   * Ours, not memberlist's: a suspect or dead about a member that is older than this node's view (the member
   * refuted it since) is answered to its sender with the newer fact. A refutation is gossiped a bounded number
   * of times and may miss a node holding the suspicion (at 10% loss, about once per 500 suspicions at 100
   * members); that node then re-gossips its stale suspicion, and the first member that knows better answers it.
   * Costs one message per stale accusation received, and only while some node is behind.
   */
  readonly answerStaleAccusations: boolean;
  /**
   * Ours, not memberlist's: a refutation (an alive above incarnation 0: incarnations rise only to refute) is
   * piggybacked this many times longer than other news. Every node holding the suspicion must hear it before
   * its timer ends; with RetransmitMult's budget a node misses it with probability about e^−(budget·(1−loss)).
   * 1 is memberlist.
   */
  readonly refutationRetransmitMult: number;
  /** A join's push/pull to its seeds is resent this often until one answers (memberlist's Join is one TCP call the caller retries). */
  readonly joinRetryIntervalMs: number;
  /** Seeds this node's PRNG (probe order, random members); default a hash of the node id and start time. */
  readonly seed?: number;
}

/** memberlist's DefaultLANConfig, plus our own knobs (lifeguard, stale answers, refutation budget, reconnect, join retry). */
export const DEFAULT_SWIM_OPTIONS: Omit<SwimOptions, 'address'> = Object.freeze({
  probeIntervalMs: 1000,
  probeTimeoutMs: 500,
  indirectChecks: 3,
  retransmitMult: 4,
  suspicionMult: 4,
  suspicionMaxTimeoutMult: 6,
  pushPullIntervalMs: 30_000,
  gossipIntervalMs: 200,
  gossipNodes: 3,
  gossipToTheDeadTimeMs: 30_000,
  awarenessMaxMultiplier: 8,
  lifeguard: true,
  answerStaleAccusations: true,
  refutationRetransmitMult: 2,
  reconnectIntervalMs: 5_000,
  reconnectTimeoutMs: 24 * 60 * 60 * 1000,
  joinRetryIntervalMs: 1_000,
});

/** Options from the defaults, for this address, with overrides. */
export function swimOptions(address: string, overrides: Partial<Omit<SwimOptions, 'address'>> = {}): SwimOptions {
  return { ...DEFAULT_SWIM_OPTIONS, ...overrides, address };
}

export type SwimTimer = 'probe' | 'probe-timeout' | 'gossip' | 'push-pull' | 'suspicion' | 'relay' | 'join' | 'reconnect';

// ---- bounds (TigerBeetle style: every collection has a named limit) -------------------------------------------

/** Members one node keeps (self, alive, suspect, and dead or left ones not yet forgotten). */
export const MAX_MEMBERS = 4096;
/** Broadcasts queued for piggybacking: one per member at most (a newer one about a node replaces the older). */
export const MAX_BROADCASTS = MAX_MEMBERS;
/** Updates piggybacked on one message: about what memberlist fits in its 1,400-byte UDP packet. */
export const MAX_PIGGYBACK_UPDATES = 20;
/** Indirect probes this node runs for others at once (each lives ProbeTimeout); more are refused. */
export const MAX_RELAYS = 256;
/** Join attempts (one per joinRetryInterval) before the node gives up and logs it; a later join request starts over. */
export const MAX_JOIN_ATTEMPTS = 600;
/** Dead members kept as reconnect candidates (Serf's failed members); the one dead longest is forgotten first. */
export const MAX_RECONNECT = 1024;
/** The highest incarnation (memberlist's is a uint32); the guard refuses more, and a node at it cannot refute. */
export const MAX_INCARNATION = 2 ** 32 - 1;
/**
 * How far above the known incarnation of a member a fact from another node may go; past it the fact is dropped
 * and counted (honest incarnations rise by one per refutation, so a jump this big is a bug or an attack).
 */
export const MAX_INCARNATION_JUMP = 2 ** 20;
/** Longest node id and address accepted from the wire. */
export const MAX_ID_LENGTH = 256;
export const MAX_ADDRESS_LENGTH = 512;

// ---- wire messages -------------------------------------------------------------------------------------------

/** A gossiped membership fact (memberlist's alive, suspect and dead messages). A dead whose `from` is the node itself is a leave. */
export type SwimUpdate =
  | { readonly k: 'alive'; readonly node: NodeId; readonly inc: number; readonly addr: string }
  | { readonly k: 'suspect'; readonly node: NodeId; readonly inc: number; readonly from: NodeId }
  | { readonly k: 'dead'; readonly node: NodeId; readonly inc: number; readonly from: NodeId };

/** One member in a push/pull (memberlist's pushNodeState). */
export interface PushNodeState {
  readonly node: NodeId;
  readonly addr: string;
  readonly inc: number;
  readonly state: MemberState;
}

/**
 * `g` carries piggybacked updates. `node` on ping and ping-req names the probed member (a ping for another node
 * is ignored, as memberlist does). Acks and nacks answer `seq` of the prober (a relay forwards them).
 */
export type SwimMsg =
  | { readonly t: 'ping'; readonly seq: number; readonly node: NodeId; readonly g: readonly SwimUpdate[] }
  | { readonly t: 'ack'; readonly seq: number; readonly g: readonly SwimUpdate[] }
  | { readonly t: 'ping-req'; readonly seq: number; readonly node: NodeId; readonly nack: boolean; readonly g: readonly SwimUpdate[] }
  | { readonly t: 'nack'; readonly seq: number; readonly g: readonly SwimUpdate[] }
  | { readonly t: 'gossip'; readonly g: readonly SwimUpdate[] }
  /** Full state; `reply` is the answer to a push (the answerer merges first, so the reply carries its refutations). */
  | { readonly t: 'push-pull'; readonly join: boolean; readonly reply: boolean; readonly states: readonly PushNodeState[] };
