/**
 * Broadcast (`chatterbox/broadcast`): gossip broadcast, delta anti-entropy over a dotted message log. Causal
 * broadcast, which wraps it, is `chatterbox/causal`.
 */
export {
  GOSSIP_PRESETS,
  gossipBroadcast,
  gossipOptions,
  gossipService,
  nodeOfReplica,
  replicaOf,
  type GossipMsg,
  type GossipOptions,
  type GossipPreset,
  type GossipState,
  type GossipTimer,
} from './gossip.js';
export { MessageLog, messageLogLattice, type LoggedMessage } from './message-log.js';
export type { BroadcastRequest, Delivery } from './types.js';
