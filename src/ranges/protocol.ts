/**
 * Key-range ownership as a protocol: the replicated `GroupState` spread by delta anti-entropy
 * (../replication/delta-sync.ts) over a random regular overlay, batched every `intervalMs`, and kept in the
 * node's durable store so a restarted node keeps its registrations and numbers new writes after its old ones.
 *
 * Requests are the user's operations (join, leave, register, release, increase, decrease, and the reads
 * groups, members, topology, lookup); each gets exactly one reply, `{ id, ok: true, result }` or
 * `{ id, ok: false, error: { code, message } }`. Writes act as this node: a node writes only its own
 * registrations. Reads answer from this node's replica at once, without a round trip: once the network is
 * quiet every node answers every lookup identically.
 *
 * Dissemination: every node links to about 2·fanout others (it picks fanout, and is picked about as often), so
 * an update crosses the cluster in about log_(2·fanout−1)(n) batches.
 */
import type { PlainData } from '../crdt/data.js';
import { isPlainData } from '../crdt/data.js';
import { deltaSync, type DeltaSyncProtocol, type ReplicatedService, type ServiceResult, type SyncMsg, type SyncOptions, type SyncState, type SyncTimer } from '../replication/delta-sync.js';
import type { Lattice } from '../replication/lattice.js';
import type { Protocol } from '../protocol/types.js';
import { GroupState, NotMemberError, UnknownGroupError, isEmptyDelta } from './group-state.js';
import { InvalidRangeError, toPosition } from './key-space.js';
import type { Registration, Subrange } from './topology.js';

export type RangesRequest =
  | { readonly id: number; readonly op: 'join' | 'leave' | 'members' | 'topology'; readonly group: string }
  | { readonly id: number; readonly op: 'groups' }
  | { readonly id: number; readonly op: 'register'; readonly group: string; readonly start: number; readonly end: number; readonly meta?: PlainData }
  | { readonly id: number; readonly op: 'release'; readonly group: string; readonly start: number; readonly end: number }
  | { readonly id: number; readonly op: 'increase' | 'decrease'; readonly group: string; readonly start: number; readonly end: number; readonly by: number }
  | { readonly id: number; readonly op: 'lookup'; readonly group: string; readonly key: string | number }
  /** The cluster's members (not a group's) with their membership state: answered beside membership (membership.ts). */
  | { readonly id: number; readonly op: 'cluster-members' }
  /** Release every registration (and group membership) of `node`, which this node must see as dead or left. */
  | { readonly id: number; readonly op: 'forget'; readonly node: string };

/**
 * What the membership wrapper (membership.ts) hands the service once it has checked a `forget` (the node is dead
 * or left here) or for its own graceful leave; never a client's request, so not in `RangesRequest`.
 */
export type RangesGrantedRequest = { readonly id: number; readonly op: 'forget-granted'; readonly node: string };

/** `not-dead`: a `forget` of a node this node does not see as dead or left; `no-membership`: asked of a node run without it. */
export type RangesErrorCode = 'bad-request' | 'bad-range' | 'unknown-group' | 'not-member' | 'not-found' | 'not-dead' | 'no-membership';

export type RangesReply =
  | { readonly id: number; readonly ok: true; readonly result: unknown }
  | { readonly id: number; readonly ok: false; readonly error: { readonly code: RangesErrorCode; readonly message: string } };

export interface RangesOptions {
  readonly fanout: number;
  readonly intervalMs: number;
  /** Must be the same on every node (it draws the overlay). */
  readonly seed: number;
}

export const RANGES_DEFAULTS: RangesOptions = { fanout: 3, intervalMs: 200, seed: 0 };

export function rangesSyncOptions(options: RangesOptions): SyncOptions {
  if (!Number.isInteger(options.fanout) || options.fanout < 1) throw new RangeError(`fanout must be a positive integer, got ${options.fanout}`);
  if (!(options.intervalMs > 0)) throw new RangeError(`intervalMs must be > 0, got ${options.intervalMs}`);
  return {
    topology: { kind: 'regular', degree: 2 * options.fanout },
    lazy: null,
    flushMs: options.intervalMs,
    ackDelayMs: options.intervalMs,
    retransmitMs: 10 * options.intervalMs,
    maxRetransmitMs: 20 * options.intervalMs,
    antiEntropyMs: null,
    maxBufferedDeltas: 1024,
    seed: options.seed,
  };
}

/** GroupState as a lattice: only the new part of a received delta is kept and relayed (see `absorbCausal`). */
export const groupStateLattice: Lattice<GroupState> = {
  empty: () => new GroupState(),
  absorb(state, delta) {
    const novel = state.absorb(delta.crdt);
    return novel === null ? null : new GroupState(novel);
  },
  merge: (into, delta) => void into.merge(delta),
  clone: (value) => value.clone(),
  encode: (value) => value.encode(),
  decode: (bytes) => GroupState.decode(bytes),
  invariants: (value) => value.checkInvariants(),
};

function ok(id: number, result: unknown, delta?: ReturnType<GroupState['join']>): ServiceResult<GroupState, RangesReply> {
  const outputs: RangesReply[] = [{ id, ok: true, result }];
  // A write that changed nothing (releasing what is not held) has an empty delta: nothing to ship.
  return delta === undefined || isEmptyDelta(delta) ? { outputs } : { outputs, delta: new GroupState(delta) };
}

function fail(id: number, code: RangesErrorCode, message: string): ServiceResult<GroupState, RangesReply> {
  return { outputs: [{ id, ok: false, error: { code, message } }] };
}

export interface RegistrationView {
  readonly node: string;
  readonly start: number;
  readonly end: number;
  readonly priority: number;
  readonly meta: PlainData;
}

function view(r: Registration): RegistrationView {
  return { node: r.node, start: r.start, end: r.end, priority: r.priority, meta: r.meta };
}

function subrangeView(s: Subrange): { start: number; end: number; nodes: RegistrationView[] } {
  return { start: s.start, end: s.end, nodes: s.nodes.map(view) };
}

/** Every group's membership and registrations of `node`, released as one delta (removals only: no dot of ours). */
function forgetNode(id: number, state: GroupState, node: string): ServiceResult<GroupState, RangesReply> {
  if (typeof node !== 'string' || node.length === 0) return fail(id, 'bad-request', 'node must be a non-empty string');
  let released = 0;
  let delta: ReturnType<GroupState['leave']> | undefined;
  for (const group of state.groups()) {
    released += state.registrations(group).filter((r) => r.node === node).length;
    const d = state.leave(node, group);
    if (delta === undefined) delta = d;
    else delta.join(d);
  }
  return ok(id, { node, released }, delta);
}

export const rangesService: ReplicatedService<GroupState, RangesRequest | RangesGrantedRequest, RangesReply> = {
  name: 'ranges',
  lattice: groupStateLattice,
  durable: true,
  request(ctx, req) {
    const state = ctx.value;
    // Writes carry the engine's writer id: the one from before a restart when the store came back with it, a
    // new one when the store was lost (its peers may hold dots the node no longer knows it issued).
    const by = { node: ctx.self, replica: ctx.writer };
    try {
      switch (req.op) {
        case 'join':
          return ok(req.id, null, state.join(by, req.group));
        case 'leave':
          return ok(req.id, null, state.leave(by, req.group));
        case 'register':
          if (req.meta !== undefined && !isPlainData(req.meta)) return fail(req.id, 'bad-request', 'meta must be plain JSON data');
          return ok(req.id, null, state.register(by, req.group, req.start, req.end, req.meta ?? null));
        case 'release': {
          const delta = state.release(by, req.group, req.start, req.end);
          // Nothing to release is most likely a mistyped range: say so (the API's 404) rather than succeed silently.
          if (isEmptyDelta(delta)) return fail(req.id, 'not-found', `this node holds no registration of [${req.start}, ${req.end}) in group ${JSON.stringify(req.group)}`);
          return ok(req.id, null, delta);
        }
        case 'increase':
          return ok(req.id, null, state.increase(by, req.group, req.start, req.end, req.by));
        case 'decrease':
          return ok(req.id, null, state.decrease(by, req.group, req.start, req.end, req.by));
        case 'groups':
          return ok(req.id, state.groups());
        case 'members':
          return ok(req.id, state.members(req.group));
        case 'topology':
          return ok(req.id, state.topology(req.group).subranges.map(subrangeView));
        case 'lookup':
          return ok(req.id, { position: toPosition(req.key), nodes: state.lookup(req.group, req.key).map(view) });
        case 'cluster-members':
        case 'forget':
          return fail(req.id, 'no-membership', `${req.op} needs membership: this node runs on a static peer list, where no node is ever seen dead`);
        case 'forget-granted':
          return forgetNode(req.id, state, req.node);
      }
    } catch (error) {
      if (error instanceof InvalidRangeError) return fail(req.id, 'bad-range', error.message);
      if (error instanceof UnknownGroupError) return fail(req.id, 'unknown-group', error.message);
      if (error instanceof NotMemberError) return fail(req.id, 'not-member', error.message);
      if (error instanceof RangeError || error instanceof TypeError) return fail(req.id, 'bad-request', error.message);
      throw error;
    }
  },
};

export type RangesState = SyncState<GroupState>;
export type RangesMsg = SyncMsg;

/** The protocol with its member-set handler, for the membership wrapper (membership.ts). */
export const rangesSync: DeltaSyncProtocol<GroupState, RangesRequest | RangesGrantedRequest, RangesReply> = deltaSync(rangesService);

/** The protocol; its options are delta-sync's, built from `RangesOptions` by `rangesSyncOptions`. */
export const rangesProtocol: Protocol<RangesState, RangesMsg, RangesReply, SyncOptions, RangesRequest, SyncTimer> = rangesSync;
