/**
 * Gossip broadcast: reliable broadcast as delta anti-entropy over a message log (see message-log.ts and
 * ../replication/delta-sync.ts). A broadcast appends to the origin's log; the new entries spread as delta
 * intervals over the eager overlay, and every node delivers each message once, the first time it holds it.
 * Digest anti-entropy repairs whatever loss, partitions or a dead relay left behind.
 *
 * Presets (measured in `npm run bench:broadcast`; the README has the figures):
 * - `latency`: every node sends to every other at once (full mesh, no batching): one network hop per message,
 *   the least any protocol can do; costs about n−1 messages per broadcast.
 * - `messages`: a star (a spanning tree of fanout 32: every node hangs off the first up to 33 nodes). A leaf
 *   sends each write to the hub at once (one message, whenever it goes); the hub batches for 280 ms (one
 *   message per leaf per batch, whatever the rate). Acknowledgements ride on data (a leaf that writes more
 *   often than once a second never sends one alone), and digest anti-entropy is quiet while every link is live. Two hops plus up to one batch: at 25 nodes,
 *   100 ms per hop and 50 broadcasts a second, about 1.35 messages per operation, median 340 ms, max 480 ms.
 */
import { nodeOfReplica, replicaOf } from '../replication/replica-id.js';
import { deltaSync, type DeltaSyncProtocol, type ReplicatedService, type SyncMsg, type SyncOptions, type SyncState, type SyncTimer } from '../replication/delta-sync.js';
import { isPlainData } from '../crdt/data.js';
import type { GossipPreset } from './gossip-presets.js';
import { MessageLog, messageLogLattice } from './message-log.js';
import type { BroadcastRequest, Delivery } from './types.js';

export { GOSSIP_PRESETS, TOPOLOGY_MODES, type GossipPreset, type TopologyMode } from './gossip-presets.js';

export type GossipOptions = SyncOptions;
export type GossipState = SyncState<MessageLog>;
export type GossipMsg = SyncMsg;
export type GossipTimer = SyncTimer;

const PRESETS: Record<GossipPreset, GossipOptions> = {
  latency: {
    topology: { kind: 'full' },
    lazy: null,
    flushMs: 0,
    ackDelayMs: 1000,
    retransmitMs: 1500,
    maxRetransmitMs: 2000,
    antiEntropyMs: 1000,
    maxBufferedDeltas: 4096,
    seed: 0,
  },
  messages: {
    topology: { kind: 'tree', fanout: 32 },
    lazy: null,
    // The hub batches (one message per leaf per batch); a leaf sends each write at once (one message).
    flushMs: 280,
    leafFlushMs: 0,
    ackDelayMs: 1000,
    retransmitMs: 1500,
    maxRetransmitMs: 2000,
    antiEntropyMs: 2000,
    quietWhileLinksLive: true,
    maxBufferedDeltas: 4096,
    seed: 0,
  },
};

export function gossipOptions(preset: GossipPreset, overrides: Partial<GossipOptions> = {}): GossipOptions {
  return { ...PRESETS[preset], ...overrides };
}

/** Delivers the new messages of a received delta, in (origin, seq) order so runs are deterministic. */
function deliveries(novel: MessageLog): Delivery[] {
  return novel.messages().map((m) => ({ kind: 'deliver', origin: nodeOfReplica(m.origin), replica: m.origin, seq: m.seq, payload: m.payload }));
}

export { replicaOf, nodeOfReplica };

export const gossipService: ReplicatedService<MessageLog, BroadcastRequest, Delivery> = {
  name: 'gossip',
  lattice: messageLogLattice,
  request(ctx, body) {
    if (!isPlainData(body.payload)) throw new TypeError('a broadcast payload must be plain data');
    const replica = ctx.writer;
    const { delta, seq } = ctx.value.append(replica, body.payload);
    return { delta, outputs: [{ kind: 'deliver', origin: ctx.self, replica, seq, payload: body.payload }] };
  },
  received: (_ctx, novel) => deliveries(novel),
};

/** With the member-set handler (`setMembers`) that chat on a live member list uses (causal/membership.ts). */
export const gossipBroadcast: DeltaSyncProtocol<MessageLog, BroadcastRequest, Delivery> = deltaSync(gossipService);
