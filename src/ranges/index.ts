/**
 * Key-range ownership (the scalesmall design): nodes of a group say which ranges of a 32-bit key space they
 * serve and how strongly; every replica can answer who serves a key. Pure: no I/O, no clocks. See README.md.
 */
export {
  KEY_SPACE_SIZE,
  MAX_POSITION,
  type KeyRange,
  InvalidRangeError,
  checkPosition,
  checkRange,
  isRange,
  murmur3_32,
  hashKey,
  toPosition,
} from './key-space.js';
export { type Registration, type Subrange, Topology, compareServing, deriveTopology } from './topology.js';
export {
  type GroupFields,
  type GroupCrdt,
  type RangesCrdt,
  type Actor,
  type ActorLike,
  GroupState,
  UnknownGroupError,
  NotMemberError,
  actor,
  emptyRanges,
  emptyGroup,
  isEmptyDelta,
  checkRanges,
  decodeRanges,
  encodeRanges,
  registrationKey,
  parseRegistrationKey,
} from './group-state.js';
// Key ranges on a live member list (membership.ts): the aware protocol and its composition with SWIM.
export { MAX_KNOWN_MEMBERS, type NodeState, type RangesAwareState, rangesMembershipProtocol, rangesProtocolAware } from './membership.js';
