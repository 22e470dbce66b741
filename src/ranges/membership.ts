/**
 * Key ranges on the live member list: the ranges protocol made `MembershipAware` (src/membership/compose.ts), and
 * `rangesMembershipProtocol`, the two composed.
 *
 * Rules (README, "Key ranges on a live member list"):
 * - Delta-sync runs over the live members (alive and suspect): its overlay is redrawn from that set, so a node
 *   that joins is linked and sent the state (the whole buffer, or the full state), and a dead or departed one
 *   is no longer sent to (replication/delta-sync/members.ts).
 * - `cluster-members` answers every node this node knows with its membership state (alive, suspect, dead,
 *   left); `lookup` and `topology` mark each registration with its node's state, so a client sees "served by a
 *   dead node". A registration's node that is not a member this node knows is reported `dead`: not a live
 *   member as far as this node knows (declared dead, or gone before this node joined: SWIM, as memberlist,
 *   ignores news of the death of a node it does not know). So every live node answers alike once quiet,
 *   whatever order nodes joined and died in.
 * - A dead node's registrations stay: the owner, back with the same id and data dir, still holds them and
 *   serves them again; otherwise an operator releases them with `forget` (refused, `not-dead`, for a node this
 *   node sees alive or suspect; accepted for a dead, left or never-known one). A node that leaves gracefully releases its registrations first, as
 *   one delta, and is announced as left once its neighbours acknowledged it.
 *
 * The state beside delta-sync's is the last known state of each member, kept after membership forgets a dead
 * one (so its registrations still read dead), bounded by `MAX_KNOWN_MEMBERS`.
 */
import { assert } from '../core/assert.js';
import { compareNodeIds, type NodeId } from '../core/ids.js';
import { withMembership, type MembershipAware } from '../membership/compose.js';
import { MAX_MEMBERS, type Member, type MemberState } from '../membership/index.js';
import type { Effect, Input, Protocol } from '../protocol/types.js';
import { ownDeltasAcknowledged, type SyncOptions, type SyncTimer } from '../replication/delta-sync.js';
import { rangesSync, type RangesMsg, type RangesReply, type RangesRequest, type RangesState, type RegistrationView } from './protocol.js';

/**
 * The most members whose last state is kept: membership's own bound, so members it still knows always fit, and
 * those it forgot (dead long enough) are kept only in the room left, the most recently forgotten first.
 */
export const MAX_KNOWN_MEMBERS = MAX_MEMBERS;

/** A registration's node as this node sees it: a node membership never told of reads `dead` (not a live member). */
export type NodeState = MemberState;

export interface RangesAwareState {
  readonly sync: RangesState;
  /** Each member's last known state, by id (insertion order: oldest first). At most MAX_KNOWN_MEMBERS. */
  readonly known: Map<NodeId, Member>;
}

/** The id of the release a graceful leave makes: no client waits for its reply. */
const LEAVE_RELEASE_ID = -1;

type E = Effect<RangesMsg, RangesReply, SyncTimer>;

function stateOf(state: RangesAwareState, node: string): NodeState {
  return state.known.get(node as NodeId)?.state ?? 'dead';
}

function markNodes(state: RangesAwareState, nodes: readonly RegistrationView[]): Array<RegistrationView & { state: NodeState }> {
  return nodes.map((r) => ({ ...r, state: stateOf(state, r.node) }));
}

/** The reply to `req` with each registration's node marked with its state (lookup and topology). */
function markReply(state: RangesAwareState, req: RangesRequest, reply: RangesReply): RangesReply {
  if (!reply.ok || reply.id !== req.id) return reply;
  if (req.op === 'lookup') {
    const result = reply.result as { position: number; nodes: RegistrationView[] };
    return { ...reply, result: { ...result, nodes: markNodes(state, result.nodes) } };
  }
  if (req.op === 'topology') {
    const result = reply.result as Array<{ start: number; end: number; nodes: RegistrationView[] }>;
    return { ...reply, result: result.map((s) => ({ ...s, nodes: markNodes(state, s.nodes) })) };
  }
  return reply;
}

function reply(id: number, result: unknown): E {
  return { kind: 'output', value: { id, ok: true, result } };
}

/** The ranges protocol, aware of membership. Its options and messages are the plain protocol's. */
export const rangesProtocolAware: Protocol<RangesAwareState, RangesMsg, RangesReply, SyncOptions, RangesRequest, SyncTimer> &
  MembershipAware<RangesAwareState, RangesMsg, RangesReply, SyncTimer> = {
  name: 'ranges',
  init(ctx) {
    const { state: sync, effects } = rangesSync.init(ctx);
    // Until membership says otherwise, the nodes started with are alive (the static peers-file case).
    const known = new Map<NodeId, Member>();
    for (const id of [...ctx.nodes].sort(compareNodeIds)) known.set(id, { id, address: '', incarnation: 0, state: 'alive' });
    return { state: { sync, known }, effects };
  },

  step(state, input: Input<RangesMsg, RangesRequest, SyncTimer>, now) {
    if (input.kind !== 'request') return rangesSync.step(state.sync, input, now);
    const req = input.body;
    switch (req.op) {
      case 'cluster-members':
        return [reply(req.id, [...state.known.values()].sort((a, b) => compareNodeIds(a.id, b.id)).map((m) => ({ node: m.id, address: m.address, incarnation: m.incarnation, state: m.state })))];
      case 'forget': {
        if (typeof req.node !== 'string') {
          return [{ kind: 'output', value: { id: req.id, ok: false, error: { code: 'bad-request', message: 'forget needs a node id (a string)' } } }];
        }
        const seen = stateOf(state, req.node);
        if (seen !== 'dead' && seen !== 'left') {
          return [{ kind: 'output', value: { id: req.id, ok: false, error: { code: 'not-dead', message: `node ${JSON.stringify(req.node)} is ${seen} here: only a node that is not a live member here (dead, left or never known) can be forgotten` } } }];
        }
        return rangesSync.step(state.sync, { kind: 'request', body: { id: req.id, op: 'forget-granted', node: req.node } }, now);
      }
      case 'lookup':
      case 'topology':
        return rangesSync.step(state.sync, input, now).map((e) => (e.kind === 'output' ? { ...e, value: markReply(state, req, e.value) } : e));
      default:
        return rangesSync.step(state.sync, input, now);
    }
  },

  isMessage: rangesSync.isMessage,

  metrics(state) {
    return { ...rangesSync.metrics(state.sync), knownMembers: state.known.size };
  },

  invariants(state) {
    rangesSync.invariants(state.sync);
    assert(state.known.size <= MAX_KNOWN_MEMBERS, 'ranges: more known members than MAX_KNOWN_MEMBERS');
    for (const [id, member] of state.known) assert(member.id === id, 'ranges: a known member filed under another id');
  },

  onMembers(state, members, now) {
    return rangesSync.setMembers(state.sync, members, now);
  },

  onMemberStates(state, members) {
    const previous = [...state.known.values()];
    state.known.clear();
    for (const m of members) state.known.set(m.id, m);
    // Members membership forgot (dead long enough) keep their last state, while the bound allows, newest kept.
    const forgotten = previous.filter((m) => !state.known.has(m.id));
    const room = Math.max(0, MAX_KNOWN_MEMBERS - state.known.size);
    for (const m of forgotten.slice(Math.max(0, forgotten.length - room))) state.known.set(m.id, m);
    return [];
  },

  onLeave(state, now) {
    const effects = rangesSync.step(state.sync, { kind: 'request', body: { id: LEAVE_RELEASE_ID, op: 'forget-granted', node: state.sync.self } }, now);
    // The release's reply has no client.
    return effects.filter((e) => !(e.kind === 'output' && e.value.id === LEAVE_RELEASE_ID));
  },

  leaveReady(state) {
    return ownDeltasAcknowledged(state.sync);
  },
};

/** Key ranges beside SWIM: the protocol `chatterbox ranges serve` runs on a live member list. */
export const rangesMembershipProtocol = withMembership(rangesProtocolAware);
