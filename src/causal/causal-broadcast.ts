/**
 * Causal broadcast: gossip broadcast (reliable, exactly once, in no particular order) plus a hold-back buffer that
 * releases messages in an order respecting happens-before (causal-delivery.ts).
 *
 * Each broadcast carries a vector clock: what this node has delivered, merged with the clock a client sent
 * along (if any), with the node's own entry set to the message's gossip seq. So a message is causally after
 * everything its origin had delivered when it was sent, and after everything its client had seen, wherever the
 * client saw it. A client that reads message Q at node A (a `deliver` output carries Q's clock), merges that
 * clock into its own and sends a reply through node B with its clock, makes the reply depend on Q: no node,
 * B included, delivers the reply before Q, even when B has not received Q yet.
 *
 * On the wire the clock travels inside the gossip payload, as `[clockEntries, payload]`; the gossip messages
 * themselves pass through unchanged, so this protocol's message guard is gossip's. The envelope is checked when
 * gossip delivers it: a malformed one (which only a buggy or hostile peer sends) is logged, counted and dropped.
 *
 * Composition: init and step are forwarded to `gossipBroadcast`; its sends, timers and logs pass through as they
 * are, and its deliveries go into the buffer instead of out. This protocol's only timer is `causal:drain`, a name
 * gossip does not use.
 *
 * Drain: a `{ kind: 'drain', withinMs }` request makes the node halt once every neighbour has acknowledged the
 * node's own messages (so they are safely out), or after `withinMs`, whichever is first. The chat
 * demo uses it to exit soon after its input ends without losing the last lines.
 */
import { assert, AssertionError } from '../core/assert.js';
import type { NodeId } from '../core/ids.js';
import { isPlainData, type PlainData } from '../crdt/data.js';
import { gossipBroadcast, gossipOptions, nodeOfReplica, type GossipMsg, type GossipOptions, type GossipPreset, type GossipState, type GossipTimer } from '../broadcast/gossip.js';
import type { Delivery } from '../broadcast/types.js';
import type { Effect, InitContext, Input, Protocol } from '../protocol/types.js';
import { CausalDelivery, DEFAULT_MAX_HELD } from './causal-delivery.js';
import { liftEffects } from './compose.js';
import { ownDeltasAcknowledged } from '../replication/delta-sync.js';
import { VectorClock, isVectorClockEntries, type VectorClockEntries } from './vector-clock.js';

export interface CausalBroadcastRequest<P = PlainData> {
  readonly kind: 'broadcast';
  readonly payload: P;
  /** The client's vector clock: the message is causally after everything it counts. */
  readonly clock?: VectorClock;
}

export interface DrainRequest {
  readonly kind: 'drain';
  /** Halt after this long at the latest, acknowledged or not. */
  readonly withinMs: number;
}

export type CausalRequest<P = PlainData> = CausalBroadcastRequest<P> | DrainRequest;

export interface CausalDeliveryOutput<P = PlainData> {
  readonly kind: 'deliver';
  readonly origin: NodeId;
  /** The message's clock; `clock.get(origin)` is its seq. A client merges it into its own to reply causally. */
  readonly clock: VectorClock;
  readonly payload: P;
}

/**
 * The answer to a broadcast request that was accepted: the clock of the message just broadcast. A client that
 * merges it into its own clock makes its later writes, through any node, follow this one.
 */
export interface CausalAcceptance {
  readonly kind: 'accepted';
  readonly origin: NodeId;
  readonly clock: VectorClock;
}

/** A client request that was refused (nothing was broadcast); `reason` is one line for the client. */
export interface CausalRejection {
  readonly kind: 'rejected';
  readonly reason: string;
}

/** Every broadcast request is answered by exactly one `accepted` or `rejected`; `deliver`s come in causal order. */
export type CausalOutput<P = PlainData> = CausalDeliveryOutput<P> | CausalAcceptance | CausalRejection;

export interface CausalOptions {
  readonly gossip: GossipOptions;
  /** Cap on messages held back for missing dependencies (see causal-delivery.ts for the eviction policy). */
  readonly maxHeld: number;
}

export function causalOptions(preset: GossipPreset = 'latency', overrides: { gossip?: Partial<GossipOptions>; maxHeld?: number } = {}): CausalOptions {
  return { gossip: gossipOptions(preset, overrides.gossip), maxHeld: overrides.maxHeld ?? DEFAULT_MAX_HELD };
}

export interface CausalState {
  readonly self: NodeId;
  readonly members: ReadonlySet<NodeId>;
  /**
   * On a live member list (membership.ts) the nodes are not known in advance: a message of a node that joined
   * may reach us, relayed, before membership tells us of the node, and gossip delivers it only once. There any
   * origin and clock entry is accepted (the clock's size is still bounded by its guard). False: only `members`.
   */
  openMembers: boolean;
  readonly inner: GossipState;
  readonly buffer: CausalDelivery<PlainData>;
  /** Set by a drain request; the halt is emitted once. */
  draining: boolean;
  halted: boolean;
  readonly stats: { rejected: number; malformed: number; evicted: number };
}

const DRAIN_TIMER = 'causal:drain';

/** Every timer name causal broadcast sets: its own and gossip's, passed through (protocol/types.ts, rule 4). */
export type CausalTimer = typeof DRAIN_TIMER | GossipTimer;

type Effects = Effect<GossipMsg, CausalOutput, CausalTimer>[];

/** The gossip payload: the message's clock and the client's payload. */
type Envelope = readonly [VectorClockEntries, PlainData];

function init(ctx: InitContext<CausalOptions>): { state: CausalState; effects: Effects } {
  const inner = gossipBroadcast.init({ ...ctx, options: ctx.options.gossip });
  const state: CausalState = {
    self: ctx.self,
    members: new Set(ctx.nodes),
    openMembers: false,
    inner: inner.state,
    buffer: new CausalDelivery<PlainData>({ maxHeld: ctx.options.maxHeld }),
    draining: false,
    halted: false,
    stats: { rejected: 0, malformed: 0, evicted: 0 },
  };
  return { state, effects: lift(state, inner.effects) };
}

function step(state: CausalState, input: Input<GossipMsg, CausalRequest, CausalTimer>, now: number): Effects {
  let effects: Effects;
  if (input.kind === 'request') {
    effects = input.body.kind === 'drain' ? onDrain(state, input.body, now) : onBroadcast(state, input.body, now);
  } else if (input.kind === 'receive') {
    effects = lift(state, gossipBroadcast.step(state.inner, input, now));
  } else if (input.name === DRAIN_TIMER) {
    effects = [];
    if (state.draining) halt(state, effects, 'drain deadline passed with our messages not yet acknowledged by every neighbour');
  } else {
    // Any other name is gossip's (the type says so): a name neither sets is a compile error, not a run-time drop.
    effects = lift(state, gossipBroadcast.step(state.inner, { kind: 'timer', name: input.name }, now));
  }
  if (state.draining && !state.halted && ownDeltasAcknowledged(state.inner)) halt(state, effects, 'drained: every neighbour holds our messages');
  return effects;
}

function onBroadcast(state: CausalState, body: CausalBroadcastRequest, now: number): Effects {
  // The seq gossip will give this message: one above the highest of ours it holds (message-log.ts `append`).
  // Clocks count per replica (the node qualified by its incarnation, see `Delivery.replica`), so a node that
  // restarts without its state starts a new entry instead of reusing numbers its peers have delivered.
  const replica = state.inner.writer;
  const sent = state.inner.value.context.max(replica);
  const seq = sent + 1;
  const problem = checkClientClock(state, body.clock, replica, sent);
  if (problem !== undefined) return reject(state, problem);
  const clock = state.buffer.deliveredClock().merge(body.clock ?? VectorClock.ZERO).with(replica as NodeId, seq);
  const envelope: Envelope = [clock.toEntries(), body.payload];
  // Checked as a whole: the envelope nests the payload two levels deeper than the client wrote it.
  if (!isPlainData(envelope)) return reject(state, 'the payload is not plain data (or is nested too deeply)');
  const effects = gossipBroadcast.step(state.inner, { kind: 'request', body: { kind: 'broadcast', payload: envelope } }, now);
  // Gossip delivers the origin's own message at once, under the seq computed above.
  const own = effects.find((e) => e.kind === 'output' && e.value.origin === state.self);
  assert(own?.kind === 'output' && own.value.seq === seq, 'gossip numbered our broadcast as causal broadcast did not expect'); // constant: every broadcast
  // The answer first: the message itself may be delivered in the same step, or held for the client's dependencies.
  return [{ kind: 'output', value: { kind: 'accepted', origin: state.self, clock } }, ...lift(state, effects)];
}

function checkClientClock(state: CausalState, clock: VectorClock | undefined, replica: string, sent: number): string | undefined {
  if (clock === undefined) return undefined;
  if (!(clock instanceof VectorClock)) return 'the clock is not a vector clock';
  for (const [node] of clock.entries()) if (!isMember(state, nodeOfReplica(node))) return `the clock names ${JSON.stringify(node)}, which is not a node of this cluster`;
  // A client cannot have seen a message of ours that we have not sent: waiting for it would hold the reply forever.
  const counted = clock.get(replica as NodeId);
  if (counted > sent) return `the clock counts ${counted} messages from ${replica}, which has sent ${sent}`;
  return undefined;
}

function isMember(state: CausalState, node: NodeId): boolean {
  return state.openMembers || state.members.has(node);
}

function reject(state: CausalState, reason: string): Effects {
  state.stats.rejected++;
  return [
    { kind: 'log', level: 'warn', text: 'broadcast request rejected', fields: { reason } },
    { kind: 'output', value: { kind: 'rejected', reason } },
  ];
}

function onDrain(state: CausalState, body: DrainRequest, now: number): Effects {
  if (!(Number.isFinite(body.withinMs) && body.withinMs >= 0)) return reject(state, `drain: withinMs must be a finite number ≥ 0, got ${body.withinMs}`);
  if (state.draining) return [];
  state.draining = true;
  return [{ kind: 'timer', name: DRAIN_TIMER, at: now + body.withinMs }];
}

function halt(state: CausalState, effects: Effects, text: string): void {
  state.halted = true;
  effects.push({ kind: 'log', level: 'info', text, fields: { held: state.buffer.heldCount } }, { kind: 'timer', name: DRAIN_TIMER, at: null }, { kind: 'halt' });
}

/** Gossip's effects as ours: its deliveries go through the hold-back buffer. */
export function lift(state: CausalState, effects: readonly Effect<GossipMsg, Delivery, GossipTimer>[]): Effects {
  return liftEffects<GossipMsg, Delivery, CausalOutput, GossipTimer, CausalTimer>(effects, (delivery, into) => onDelivery(state, delivery, into));
}

function onDelivery(state: CausalState, delivery: Delivery, into: Effects): void {
  const clock = envelopeClock(state, delivery);
  if (clock === undefined) {
    state.stats.malformed++;
    into.push({ kind: 'log', level: 'error', text: 'dropped a malformed causal message', fields: { origin: delivery.origin, seq: delivery.seq } });
    return;
  }
  const payload = (delivery.payload as Envelope)[1];
  const result = state.buffer.receive({ origin: delivery.replica as NodeId, clock, payload });
  for (const m of result.delivered) into.push({ kind: 'output', value: { kind: 'deliver', origin: nodeOfReplica(m.origin), clock: m.clock, payload: m.payload } });
  if (result.evicted !== undefined) {
    state.stats.evicted++;
    const { origin, clock: evictedClock } = result.evicted;
    into.push({
      kind: 'log',
      level: 'error',
      text: 'hold-back buffer full: evicted the message held longest; it and its causal successors will not be delivered here',
      fields: { origin, seq: evictedClock.get(origin), clock: evictedClock.toString(), maxHeld: state.buffer.maxHeld },
    });
  }
}

/** The clock of a delivered envelope, when it is well formed: an origin of this cluster, and a clock that names only members and counts this message as its seq. */
function envelopeClock(state: CausalState, delivery: Delivery): VectorClock | undefined {
  const envelope = delivery.payload;
  if (!Array.isArray(envelope) || envelope.length !== 2 || !isVectorClockEntries(envelope[0])) return undefined;
  if (!isMember(state, delivery.origin)) return undefined;
  const clock = VectorClock.fromEntries(envelope[0]);
  if (clock.get(delivery.replica as NodeId) !== delivery.seq) return undefined;
  for (const [node] of clock.entries()) if (!isMember(state, nodeOfReplica(node))) return undefined;
  return clock;
}

function metrics(state: CausalState): Readonly<Record<string, number | string | boolean>> {
  const buffer = state.buffer.stats();
  return {
    ...gossipBroadcast.metrics(state.inner),
    causalDelivered: buffer.delivered,
    causalHeld: buffer.held,
    causalDuplicates: buffer.duplicates,
    causalEvicted: state.stats.evicted,
    causalMalformed: state.stats.malformed,
    causalRejected: state.stats.rejected,
  };
}

/**
 * The causal layer's invariants (protocol/types.ts, rule 7): the hold-back buffer's (bounded; nothing held that
 * is already delivered; the delivered clock only grows, asserted where it moves), a halt only once draining,
 * and gossip's own when it states them.
 */
function invariants(state: CausalState): void {
  state.buffer.checkInvariants();
  if (state.halted && !state.draining) throw new AssertionError('causal invariant: halted without a drain request');
  gossipBroadcast.invariants(state.inner);
}

export const causalBroadcast: Protocol<CausalState, GossipMsg, CausalOutput, CausalOptions, CausalRequest, CausalTimer> = {
  name: 'causal-broadcast',
  init,
  step,
  isMessage: (value: unknown): value is GossipMsg => gossipBroadcast.isMessage(value),
  metrics,
  invariants,
};
