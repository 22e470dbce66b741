/**
 * Broadcast (`chatterbox/broadcast`): gossip broadcast (delta anti-entropy over a dotted message log) and causal
 * broadcast wrapping it, with the vector clocks and the hold-back buffer causal delivery is made of.
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
export {
  causalBroadcast,
  causalOptions,
  type CausalAcceptance,
  type CausalBroadcastRequest,
  type CausalDeliveryOutput,
  type CausalOptions,
  type CausalOutput,
  type CausalRejection,
  type CausalRequest,
  type CausalState,
  type CausalTimer,
  type DrainRequest,
} from '../causal/causal-broadcast.js';
export { CausalDelivery, DEFAULT_MAX_HELD, type CausalMessage, type ReceiveOutcome, type ReceiveResult } from '../causal/causal-delivery.js';
export {
  MAX_CLOCK_ENTRIES,
  MAX_CLOCK_NODE_ID_LENGTH,
  VectorClock,
  compareClocks,
  isVectorClockEntries,
  mergeClocks,
  type ClockOrder,
  type VectorClockEntries,
} from '../causal/vector-clock.js';
