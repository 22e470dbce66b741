/** `chatterbox/membership`: SWIM + Lifeguard membership as a pure protocol (layer 2). */
export {
  DEFAULT_SWIM_OPTIONS,
  MAX_BROADCASTS,
  MAX_JOIN_ATTEMPTS,
  MAX_MEMBERS,
  MAX_PIGGYBACK_UPDATES,
  MAX_RELAYS,
  swimOptions,
  type Member,
  type MemberEvent,
  type MemberState,
  type PushNodeState,
  type SwimMsg,
  type SwimOptions,
  type SwimRequest,
  type SwimTimer,
  type SwimUpdate,
} from './types.js';
export { liveMemberIds, membersOf, swimProtocol, type MemberRecord, type SwimCounters, type SwimState } from './swim.js';
export { isSwimMsg } from './guards.js';
export {
  applyAwarenessDelta,
  pushPullScaleMs,
  remainingSuspicionTimeMs,
  retransmitLimit,
  scaleByAwareness,
  suspicionTimeoutMs,
  suspicionTimeoutWithConfirmationsMs,
} from './formulas.js';
// Membership beside another protocol in one kernel (compose.ts).
export {
  LEAVE_DRAIN_MAX_MS,
  LEAVE_TIMER,
  withMembership,
  type MembershipAware,
  type WithMembershipMsg,
  type WithMembershipOptions,
  type WithMembershipRequest,
  type WithMembershipState,
  type WithMembershipTimer,
} from './compose.js';
