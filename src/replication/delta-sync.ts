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
 *
 * The code is split by concern under delta-sync/, each file a set of pure handlers over the one state type
 * (state.ts) with its own theory comment: links.ts (overlays, incarnations, greeting), buffer.ts (the delta
 * buffer), intervals.ts (intervals and acknowledgements), retransmit.ts, digests.ts (anti-entropy), plumtree.ts,
 * durability.ts, members.ts (a member set that changes), wire.ts (the message guard), invariants.ts, and protocol.ts, which puts them together. This file
 * is what the rest of the code imports.
 */
export { deltaSync, type DeltaSyncProtocol } from './delta-sync/protocol.js';
export { ownDeltasAcknowledged } from './delta-sync/buffer.js';
export { validateSyncOptions } from './delta-sync/types.js';
export type { ReplicatedService, ServiceContext, ServiceResult, SyncMsg, SyncOptions } from './delta-sync/types.js';
export type { SyncState, SyncStats, SyncTimer } from './delta-sync/state.js';
