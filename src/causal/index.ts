/**
 * Causal broadcast (`chatterbox/causal`): gossip broadcast wrapped so every node delivers in causal order, with
 * the vector clocks and the hold-back buffer causal delivery is made of.
 */
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
} from './causal-broadcast.js';
export { CausalDelivery, DEFAULT_MAX_HELD, type CausalMessage, type ReceiveOutcome, type ReceiveResult } from './causal-delivery.js';
export {
  MAX_CLOCK_ENTRIES,
  MAX_CLOCK_NODE_ID_LENGTH,
  VectorClock,
  compareClocks,
  isVectorClockEntries,
  mergeClocks,
  type ClockOrder,
  type VectorClockEntries,
} from './vector-clock.js';
// Chat on a live member list (membership.ts).
export { causalBroadcastAware, chatMembershipProtocol } from './membership.js';
