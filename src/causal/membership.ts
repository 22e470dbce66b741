/**
 * Chat on a live member list: causal broadcast made `MembershipAware` (src/membership/compose.ts), and
 * `chatMembershipProtocol`, the two composed.
 *
 * Gossip (delta-sync over the message log) runs over the live members, as key ranges do
 * (replication/delta-sync/members.ts): a node that joins is linked and sent the log, so it delivers the history,
 * in causal order, like any late reader; a dead or departed one is no longer sent to. Origins are open
 * (`CausalState.openMembers`): a joiner's message may be relayed to a node that has not heard of the joiner yet,
 * and gossip delivers each message only once. A graceful leave drains first: the node's own messages go out to
 * its neighbours (acknowledged) before the leave is announced, as the chat demo's drain does before it exits.
 */
import { assert } from '../core/assert.js';
import { gossipBroadcast } from '../broadcast/gossip.js';
import { ownDeltasAcknowledged } from '../replication/delta-sync.js';
import { withMembership, type MembershipAware } from '../membership/compose.js';
import type { Protocol } from '../protocol/types.js';
import type { GossipMsg } from '../broadcast/gossip.js';
import { causalBroadcast, lift, type CausalOptions, type CausalOutput, type CausalRequest, type CausalState, type CausalTimer } from './causal-broadcast.js';

/** Causal broadcast, aware of membership. Its options, messages and requests are the plain protocol's. */
export const causalBroadcastAware: Protocol<CausalState, GossipMsg, CausalOutput, CausalOptions, CausalRequest, CausalTimer> &
  MembershipAware<CausalState, GossipMsg, CausalOutput, CausalTimer> = {
  ...causalBroadcast,
  name: 'chat',
  init(ctx) {
    const result = causalBroadcast.init(ctx);
    result.state.openMembers = true;
    return result;
  },
  invariants(state) {
    causalBroadcast.invariants(state);
    assert(state.openMembers, 'chat: a node on a live member list accepts origins it has not heard of yet');
  },
  onMembers(state, members, now) {
    // Member changes only link and send (no delivery), but the deliveries' path is the one place gossip's
    // effects become ours.
    return lift(state, gossipBroadcast.setMembers(state.inner, members, now));
  },
  onLeave() {
    return [];
  },
  leaveReady(state) {
    return ownDeltasAcknowledged(state.inner);
  },
};

/** Chat (causal broadcast over gossip over delta-sync) beside SWIM. */
export const chatMembershipProtocol = withMembership(causalBroadcastAware);
