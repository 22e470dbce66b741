/**
 * SWIM membership with Lifeguard, as a pure protocol, after hashicorp/memberlist (state.go, net.go, suspicion.go,
 * awareness.go, queue.go) and the papers (Das et al., "SWIM", 2002; Dadgar et al., "Lifeguard", 2018).
 *
 * Failure detection. Every ProbeInterval (scaled by local health) a node probes the next member of a shuffled
 * round-robin list (reshuffled at each wrap, newcomers inserted at random places, so every member is probed
 * within one round: a bound on first detection). No ack within ProbeTimeout ⇒ ping-req through IndirectChecks
 * random alive members, who relay the ack (and, with Lifeguard, send a nack when the target is silent too). No
 * ack by the end of the probe period ⇒ the target is suspected. Pings to a suspect carry the suspicion, so the
 * suspect can refute at once.
 *
 * Suspicion and refutation. A suspect that hears of its suspicion raises its incarnation past the accusation
 * and gossips `alive`; facts order by (incarnation, alive < suspect < dead). A suspicion not refuted within
 * its timeout becomes `dead`. Lifeguard: the timeout starts at SuspicionMaxTimeoutMult × the SWIM timeout and
 * shrinks toward it as independent members confirm the suspicion (formulas.ts), so an isolated or slow
 * accuser waits long and a suspicion many agree on completes fast.
 *
 * Local health (Lifeguard's LHA). A score in [0, AwarenessMaxMultiplier − 1]: −1 per successful probe, +1 per
 * refutation, + the nacks missing from a failed probe (+1 when no nacks were asked for). The probe period is
 * scaled by (score + 1): a node that is itself slow (paused, overloaded, lossy) probes more patiently instead of
 * accusing healthy members.
 *
 * Dissemination. Every change is queued as a broadcast and piggybacked on pings, acks, ping-reqs and nacks,
 * and sent every GossipInterval to GossipNodes random members (alive, suspect, or dead for less than
 * GossipToTheDeadTime), each at most RetransmitMult·ceil(log10(n+1)) times. A push/pull exchanges whole states
 * with one random member on join and every PushPullInterval (scaled past 32 members); the answerer merges first,
 * so its answer carries its refutations. A reconnect (Serf's) push/pulls a random remembered dead member, which
 * heals two sides of a partition that declared each other dead.
 *
 * Leaving. `leave` marks this node `left`, gossips a `dead` whose `from` is itself (read as left by everyone),
 * stops probing, syncing and reconnecting, and keeps gossiping and answering until the driver stops it. A left
 * node is never probed nor suspected. Dead and left members are forgotten GossipToTheDeadTime after the change.
 *
 * Static peers (a peers file): `ctx.nodes` other than self start as alive at incarnation 0 with an unknown
 * address (""); the node then push/pulls one random peer (retried until one answers), which is how a restarted
 * node learns it was declared dead and refutes. A node started with `nodes = [self]` waits for a `join`.
 */
import { assert, unreachable } from '../core/assert.js';
import { compareNodeIds, type NodeId } from '../core/ids.js';
import { hash32, hashString32, Prng } from '../core/prng.js';
import type { Effect, InitContext, Input, Protocol } from '../protocol/types.js';
import { BroadcastQueue } from './broadcast-queue.js';
import {
  applyAwarenessDelta,
  pushPullScaleMs,
  remainingSuspicionTimeMs,
  retransmitLimit,
  scaleByAwareness,
  suspicionTimeoutMs,
} from './formulas.js';
import { isSwimMsg } from './guards.js';
import {
  MAX_ADDRESS_LENGTH,
  MAX_JOIN_ATTEMPTS,
  MAX_MEMBERS,
  MAX_PIGGYBACK_UPDATES,
  MAX_RELAYS,
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

export interface MemberRecord {
  readonly id: NodeId;
  address: string;
  incarnation: number;
  state: MemberState;
  /** When this node last saw the state change (its clock): dead and left members are forgotten GossipToTheDeadTime later. */
  stateChangeAt: number;
}

/** The probe in flight: at most one, as memberlist's probeNode runs one at a time. */
interface Probe {
  readonly target: NodeId;
  readonly seq: number;
  /** The target's incarnation when the probe began: a failed probe suspects that one. */
  readonly incarnation: number;
  readonly startedAt: number;
  acked: boolean;
  indirect: boolean;
  expectedNacks: number;
  nacks: number;
}

/** An indirect probe this node runs for `requester` (memberlist's ack handler for a ping-req). */
interface Relay {
  readonly requester: NodeId;
  readonly seq: number;
  readonly nack: boolean;
  readonly deadline: number;
}

/** memberlist's suspicion: confirmations by distinct members shrink the timeout from max toward min. */
interface Suspicion {
  readonly k: number;
  readonly minMs: number;
  readonly maxMs: number;
  readonly startedAt: number;
  confirmations: number;
  /** The accuser and every confirmer so far (at most k + 1). */
  readonly confirmers: Set<NodeId>;
  deadline: number;
}

interface Join {
  /** Seeds of a join request; null for a static node's bootstrap (a random known member each attempt). */
  readonly seeds: readonly NodeId[] | null;
  attempts: number;
}

export interface SwimCounters {
  probes: number;
  probesFailed: number;
  indirectProbes: number;
  acksReceived: number;
  nacksReceived: number;
  nacksSent: number;
  relaysRefused: number;
  suspicionsRaised: number;
  suspicionConfirmations: number;
  refutations: number;
  declaredDead: number;
  pushPulls: number;
  reconnects: number;
  membersRefused: number;
  pingsForOthers: number;
  /** Round-trip time of the last successful probe (ms), and their sum and count, for a mean. */
  lastProbeRttMs: number;
  probeRttSumMs: number;
  probeRttCount: number;
}

export interface SwimState {
  readonly self: NodeId;
  readonly options: SwimOptions;
  readonly prng: Prng;
  readonly members: Map<NodeId, MemberRecord>;
  /** Every member but self, in probe order (dead and left ones are skipped, then forgotten). */
  probeOrder: NodeId[];
  probeIndex: number;
  /** Lifeguard's local health score (0 = healthy). */
  awareness: number;
  seq: number;
  probe: Probe | null;
  readonly relays: Map<number, Relay>;
  readonly suspicions: Map<NodeId, Suspicion>;
  readonly broadcasts: BroadcastQueue;
  /** Dead and left members in the order they died, for forgetting them (entries whose member changed since are stale). */
  graveyard: Array<{ readonly node: NodeId; readonly at: number }>;
  join: Join | null;
  left: boolean;
  /**
   * The gossip ticker's phase, and its next tick when armed (null: idle). memberlist's ticker ticks every
   * GossipInterval and does nothing while no broadcast waits; ours is armed only while one does, on the same
   * grid of ticks, so an idle cluster costs no timer events (a 1,000-node simulation twice as fast).
   */
  gossipPhase: number;
  gossipAt: number | null;
  /** The time of the latest input (invariants read it). */
  now: number;
  readonly counters: SwimCounters;
}

type Fx = Effect<SwimMsg, MemberEvent, SwimTimer>[];

/** Stale graveyard entries are compacted away past this many (twice the members it can describe). */
const MAX_GRAVEYARD = 2 * MAX_MEMBERS;

// ---- init --------------------------------------------------------------------------------------------------------

function validateOptions(o: SwimOptions): void {
  const positive = (v: number, name: string): void => {
    if (!(Number.isFinite(v) && v > 0)) throw new RangeError(`swim: ${name} must be > 0, got ${v}`);
  };
  const whole = (v: number, name: string, min: number): void => {
    if (!(Number.isSafeInteger(v) && v >= min)) throw new RangeError(`swim: ${name} must be a whole number >= ${min}, got ${v}`);
  };
  const nonNegative = (v: number, name: string): void => {
    if (!(Number.isFinite(v) && v >= 0)) throw new RangeError(`swim: ${name} must be >= 0, got ${v}`);
  };
  if (typeof o.address !== 'string' || o.address.length > MAX_ADDRESS_LENGTH) throw new RangeError('swim: address must be a string of at most 512 characters');
  positive(o.probeIntervalMs, 'probeIntervalMs');
  positive(o.probeTimeoutMs, 'probeTimeoutMs');
  if (o.probeTimeoutMs >= o.probeIntervalMs) throw new RangeError('swim: probeTimeoutMs must be below probeIntervalMs (the indirect probes need the rest)');
  whole(o.indirectChecks, 'indirectChecks', 0);
  whole(o.retransmitMult, 'retransmitMult', 1);
  whole(o.suspicionMult, 'suspicionMult', 1);
  whole(o.suspicionMaxTimeoutMult, 'suspicionMaxTimeoutMult', 1);
  nonNegative(o.pushPullIntervalMs, 'pushPullIntervalMs');
  nonNegative(o.gossipIntervalMs, 'gossipIntervalMs');
  whole(o.gossipNodes, 'gossipNodes', 0);
  nonNegative(o.gossipToTheDeadTimeMs, 'gossipToTheDeadTimeMs');
  whole(o.awarenessMaxMultiplier, 'awarenessMaxMultiplier', 1);
  whole(o.refutationRetransmitMult, 'refutationRetransmitMult', 1);
  nonNegative(o.reconnectIntervalMs, 'reconnectIntervalMs');
  positive(o.joinRetryIntervalMs, 'joinRetryIntervalMs');
  if (typeof o.lifeguard !== 'boolean') throw new RangeError('swim: lifeguard must be a boolean');
  if (typeof o.answerStaleAccusations !== 'boolean') throw new RangeError('swim: answerStaleAccusations must be a boolean');
}

function init(ctx: InitContext<SwimOptions>): { state: SwimState; effects: Fx } {
  const o = ctx.options;
  validateOptions(o);
  const now = ctx.now;
  const seed = o.seed ?? (hashString32(ctx.self) ^ hash32(Math.floor(now)));
  const state: SwimState = {
    self: ctx.self,
    options: o,
    prng: new Prng(seed >>> 0),
    members: new Map(),
    probeOrder: [],
    probeIndex: 0,
    awareness: 0,
    seq: 0,
    probe: null,
    relays: new Map(),
    suspicions: new Map(),
    broadcasts: new BroadcastQueue(),
    graveyard: [],
    join: null,
    left: false,
    gossipPhase: 0,
    gossipAt: null,
    now,
    counters: {
      probes: 0,
      probesFailed: 0,
      indirectProbes: 0,
      acksReceived: 0,
      nacksReceived: 0,
      nacksSent: 0,
      relaysRefused: 0,
      suspicionsRaised: 0,
      suspicionConfirmations: 0,
      refutations: 0,
      declaredDead: 0,
      pushPulls: 0,
      reconnects: 0,
      membersRefused: 0,
      pingsForOthers: 0,
      lastProbeRttMs: 0,
      probeRttSumMs: 0,
      probeRttCount: 0,
    },
  };
  const fx: Fx = [];
  state.members.set(ctx.self, { id: ctx.self, address: o.address, incarnation: 0, state: 'alive', stateChangeAt: now });
  emit(fx, state.members.get(ctx.self)!);
  for (const id of ctx.nodes) {
    if (id === ctx.self || state.members.has(id)) continue;
    if (state.members.size >= MAX_MEMBERS) throw new RangeError(`swim: more than ${MAX_MEMBERS} members`);
    const m: MemberRecord = { id, address: '', incarnation: 0, state: 'alive', stateChangeAt: now };
    state.members.set(id, m);
    state.probeOrder.push(id);
    emit(fx, m);
  }
  shuffle(state.prng, state.probeOrder);
  // memberlist staggers each ticker by a random fraction of its period, so nodes started together do not beat in step.
  fx.push({ kind: 'timer', name: 'probe', at: now + stagger(state, o.probeIntervalMs) });
  state.gossipPhase = now + stagger(state, o.gossipIntervalMs);
  if (o.pushPullIntervalMs > 0) fx.push({ kind: 'timer', name: 'push-pull', at: now + stagger(state, o.pushPullIntervalMs) });
  if (o.reconnectIntervalMs > 0) fx.push({ kind: 'timer', name: 'reconnect', at: now + o.reconnectIntervalMs + stagger(state, o.reconnectIntervalMs) });
  if (state.probeOrder.length > 0) {
    state.join = { seeds: null, attempts: 0 };
    joinAttempt(state, now, fx);
  }
  armGossip(state, now, fx);
  return { state, effects: fx };
}

function stagger(state: SwimState, periodMs: number): number {
  return Math.floor(state.prng.float() * periodMs);
}

function shuffle(prng: Prng, items: NodeId[]): void {
  for (let i = items.length - 1; i > 0; i--) {
    const j = prng.int(0, i);
    const t = items[i]!;
    items[i] = items[j]!;
    items[j] = t;
  }
}

// ---- step --------------------------------------------------------------------------------------------------------

function step(state: SwimState, input: Input<SwimMsg, SwimRequest, SwimTimer>, now: number): Fx {
  state.now = now;
  const fx: Fx = [];
  reap(state, now);
  switch (input.kind) {
    case 'receive':
      onMessage(state, input.from, input.msg, now, fx);
      break;
    case 'timer':
      onTimer(state, input.name, now, fx);
      break;
    case 'request':
      onRequest(state, input.body, now, fx);
      break;
    default:
      unreachable(input);
  }
  armGossip(state, now, fx);
  return fx;
}

function onTimer(state: SwimState, name: SwimTimer, now: number, fx: Fx): void {
  switch (name) {
    case 'probe':
      finishProbe(state, now, fx);
      startProbe(state, now, fx);
      return;
    case 'probe-timeout':
      probeTimeout(state, now, fx);
      return;
    case 'gossip':
      gossip(state, now, fx);
      return;
    case 'push-pull':
      periodicPushPull(state, now, fx);
      return;
    case 'suspicion':
      suspicionTimeouts(state, now, fx);
      return;
    case 'relay':
      relayTimeouts(state, now, fx);
      return;
    case 'join':
      if (state.join === null) return;
      if (state.join.attempts >= MAX_JOIN_ATTEMPTS) {
        fx.push({ kind: 'log', level: 'warn', text: 'swim: join gave up: no seed answered', fields: { attempts: state.join.attempts } });
        state.join = null;
        return;
      }
      joinAttempt(state, now, fx);
      return;
    case 'reconnect':
      reconnect(state, now, fx);
      return;
    default:
      unreachable(name);
  }
}

function onRequest(state: SwimState, req: SwimRequest, now: number, fx: Fx): void {
  switch (req.op) {
    case 'join': {
      if (state.left) {
        fx.push({ kind: 'log', level: 'warn', text: 'swim: a node that left cannot join again (start a new process)' });
        return;
      }
      const seeds = [...new Set(req.seeds)].filter((s) => s !== state.self);
      if (seeds.length === 0) {
        fx.push({ kind: 'log', level: 'warn', text: 'swim: join without a seed other than this node' });
        return;
      }
      state.join = { seeds, attempts: 0 };
      joinAttempt(state, now, fx);
      return;
    }
    case 'leave':
      leave(state, now, fx);
      return;
    default:
      unreachable(req);
  }
}

// ---- messages ----------------------------------------------------------------------------------------------------

function onMessage(state: SwimState, from: NodeId, msg: SwimMsg, now: number, fx: Fx): void {
  switch (msg.t) {
    case 'ping':
      if (msg.node !== state.self) {
        // memberlist: "got ping for unexpected node": a stale address now used by someone else.
        state.counters.pingsForOthers++;
      } else {
        sendPiggybacked(state, from, (g) => ({ t: 'ack', seq: msg.seq, g }), fx);
      }
      break;
    case 'ack':
      onAck(state, msg.seq, now, fx);
      break;
    case 'nack': {
      const p = state.probe;
      if (p !== null && p.seq === msg.seq && !p.acked) {
        p.nacks = Math.min(p.expectedNacks, p.nacks + 1);
        state.counters.nacksReceived++;
      }
      break;
    }
    case 'ping-req':
      onPingReq(state, from, msg.seq, msg.node, msg.nack, now, fx);
      break;
    case 'gossip':
      break;
    case 'push-pull':
      onPushPull(state, from, msg, now, fx);
      return;
    default:
      unreachable(msg);
  }
  if (state.options.answerStaleAccusations) answerStale(state, from, msg.g, fx);
  for (const u of msg.g) applyUpdate(state, u, now, fx);
}

/** Answers the sender's suspect and dead facts that this node knows to be outdated with what it knows (see the knob). */
function answerStale(state: SwimState, from: NodeId, updates: readonly SwimUpdate[], fx: Fx): void {
  let answer: SwimUpdate[] | null = null;
  for (const u of updates) {
    if (u.k === 'alive') continue;
    const m = state.members.get(u.node);
    if (m === undefined || m.incarnation <= u.inc) continue;
    answer ??= [];
    answer.push(currentFact(state, m));
  }
  if (answer !== null) fx.push({ kind: 'send', to: from, msg: { t: 'gossip', g: answer } });
}

function currentFact(state: SwimState, m: MemberRecord): SwimUpdate {
  switch (m.state) {
    case 'alive':
      return { k: 'alive', node: m.id, inc: m.incarnation, addr: m.address };
    case 'suspect':
      return { k: 'suspect', node: m.id, inc: m.incarnation, from: state.self };
    case 'dead':
      return { k: 'dead', node: m.id, inc: m.incarnation, from: state.self };
    case 'left':
      return { k: 'dead', node: m.id, inc: m.incarnation, from: m.id };
    default:
      return unreachable(m.state);
  }
}

function onAck(state: SwimState, seq: number, now: number, fx: Fx): void {
  const p = state.probe;
  if (p !== null && p.seq === seq) {
    if (p.acked) return;
    p.acked = true;
    state.counters.acksReceived++;
    const rtt = now - p.startedAt;
    state.counters.lastProbeRttMs = rtt;
    state.counters.probeRttSumMs += rtt;
    state.counters.probeRttCount++;
    // A probe that succeeded is evidence of our own health.
    adjustAwareness(state, -1);
    fx.push({ kind: 'timer', name: 'probe-timeout', at: null });
    return;
  }
  const relay = state.relays.get(seq);
  if (relay === undefined) return;
  state.relays.delete(seq);
  sendPiggybacked(state, relay.requester, (g) => ({ t: 'ack', seq: relay.seq, g }), fx);
}

function onPingReq(state: SwimState, from: NodeId, seq: number, target: NodeId, nack: boolean, now: number, fx: Fx): void {
  if (target === state.self) {
    sendPiggybacked(state, from, (g) => ({ t: 'ack', seq, g }), fx);
    return;
  }
  if (state.relays.size >= MAX_RELAYS) {
    state.counters.relaysRefused++;
    return;
  }
  const localSeq = nextSeq(state);
  state.relays.set(localSeq, { requester: from, seq, nack, deadline: now + state.options.probeTimeoutMs });
  sendPiggybacked(state, target, (g) => ({ t: 'ping', seq: localSeq, node: target, g }), fx);
  armRelayTimer(state, fx);
}

function onPushPull(state: SwimState, from: NodeId, msg: Extract<SwimMsg, { t: 'push-pull' }>, now: number, fx: Fx): void {
  state.counters.pushPulls++;
  mergeRemoteState(state, msg.states, now, fx);
  if (!msg.reply) {
    fx.push({ kind: 'send', to: from, msg: { t: 'push-pull', join: msg.join, reply: true, states: localStates(state) } });
    return;
  }
  if (msg.join && state.join !== null) {
    state.join = null;
    fx.push({ kind: 'timer', name: 'join', at: null });
    fx.push({ kind: 'log', level: 'info', text: 'swim: joined', fields: { via: from, members: state.members.size } });
  }
}

// ---- probing -----------------------------------------------------------------------------------------------------

function probePeriodMs(state: SwimState): number {
  return state.options.lifeguard ? scaleByAwareness(state.options.probeIntervalMs, state.awareness) : state.options.probeIntervalMs;
}

function startProbe(state: SwimState, now: number, fx: Fx): void {
  state.probe = null;
  if (state.left) {
    // Keep ticking (forgetting the dead happens on every step) but probe nobody.
    return;
  }
  const period = probePeriodMs(state);
  fx.push({ kind: 'timer', name: 'probe', at: now + period });
  const target = nextProbeTarget(state);
  if (target === undefined) return;
  const m = state.members.get(target)!;
  const seq = nextSeq(state);
  state.probe = { target, seq, incarnation: m.incarnation, startedAt: now, acked: false, indirect: false, expectedNacks: 0, nacks: 0 };
  state.counters.probes++;
  // Lifeguard's buddy system: a suspect hears of its suspicion from its prober, so it can refute at once.
  const buddy: SwimUpdate | null = m.state === 'suspect' ? { k: 'suspect', node: target, inc: m.incarnation, from: state.self } : null;
  sendPiggybacked(state, target, (g) => ({ t: 'ping', seq, node: target, g: buddy === null ? g : [buddy, ...g.slice(0, MAX_PIGGYBACK_UPDATES - 1)] }), fx);
  fx.push({ kind: 'timer', name: 'probe-timeout', at: now + state.options.probeTimeoutMs });
}

/** memberlist's probe(): round robin over the shuffled list, reshuffled at each wrap; dead and left members skipped. */
function nextProbeTarget(state: SwimState): NodeId | undefined {
  const order = state.probeOrder;
  for (let checked = 0; checked <= order.length; checked++) {
    if (state.probeIndex >= order.length) {
      shuffle(state.prng, order);
      state.probeIndex = 0;
      if (order.length === 0) return undefined;
    }
    const id = order[state.probeIndex++]!;
    const m = state.members.get(id)!;
    if (m.state === 'alive' || m.state === 'suspect') return id;
  }
  return undefined;
}

function probeTimeout(state: SwimState, now: number, fx: Fx): void {
  const p = state.probe;
  if (p === null || p.acked || p.indirect) return;
  p.indirect = true;
  const helpers = kRandomMembers(state, state.options.indirectChecks, (m) => m.state === 'alive' && m.id !== p.target);
  const nack = state.options.lifeguard;
  for (const h of helpers) {
    sendPiggybacked(state, h, (g) => ({ t: 'ping-req', seq: p.seq, node: p.target, nack, g }), fx);
  }
  state.counters.indirectProbes += helpers.length;
  p.expectedNacks = nack ? helpers.length : 0;
  void now;
}

/** The end of a probe period: an unacknowledged probe suspects its target and tells us about our own health. */
function finishProbe(state: SwimState, now: number, fx: Fx): void {
  const p = state.probe;
  state.probe = null;
  if (p === null || p.acked) return;
  state.counters.probesFailed++;
  // Lifeguard: nacks that did not come mean the helpers could not answer us either: we are the likely problem.
  adjustAwareness(state, p.expectedNacks > 0 ? Math.max(0, p.expectedNacks - p.nacks) : 1);
  suspectNode(state, { k: 'suspect', node: p.target, inc: p.incarnation, from: state.self }, now, fx);
}

function relayTimeouts(state: SwimState, now: number, fx: Fx): void {
  for (const [localSeq, r] of state.relays) {
    if (r.deadline > now) continue;
    state.relays.delete(localSeq);
    if (r.nack) {
      state.counters.nacksSent++;
      sendPiggybacked(state, r.requester, (g) => ({ t: 'nack', seq: r.seq, g }), fx);
    }
  }
  armRelayTimer(state, fx);
}

function armRelayTimer(state: SwimState, fx: Fx): void {
  let at = Infinity;
  for (const r of state.relays.values()) at = Math.min(at, r.deadline);
  fx.push({ kind: 'timer', name: 'relay', at: at === Infinity ? null : at });
}

function adjustAwareness(state: SwimState, delta: number): void {
  if (!state.options.lifeguard) return;
  state.awareness = applyAwarenessDelta(state.awareness, delta, state.options.awarenessMaxMultiplier);
}

function nextSeq(state: SwimState): number {
  state.seq = state.seq >= Number.MAX_SAFE_INTEGER ? 1 : state.seq + 1;
  return state.seq;
}

// ---- the facts: alive, suspect, dead (memberlist's aliveNode, suspectNode, deadNode) ------------------------------

function applyUpdate(state: SwimState, u: SwimUpdate, now: number, fx: Fx): void {
  switch (u.k) {
    case 'alive':
      aliveNode(state, u, now, fx);
      return;
    case 'suspect':
      suspectNode(state, u, now, fx);
      return;
    case 'dead':
      deadNode(state, u, now, fx);
      return;
    default:
      unreachable(u);
  }
}

function aliveNode(state: SwimState, a: Extract<SwimUpdate, { k: 'alive' }>, now: number, fx: Fx): void {
  const isSelf = a.node === state.self;
  // A node that left does not let a late alive about itself pull it back in.
  if (isSelf && state.left) return;
  const m = state.members.get(a.node);
  if (m === undefined) {
    if (state.members.size >= MAX_MEMBERS) {
      state.counters.membersRefused++;
      return;
    }
    const fresh: MemberRecord = { id: a.node, address: a.addr, incarnation: a.inc, state: 'alive', stateChangeAt: now };
    state.members.set(a.node, fresh);
    insertIntoProbeOrder(state, a.node);
    queueUpdate(state, a);
    emit(fx, fresh);
    return;
  }
  if (isSelf) {
    // Someone holds a different idea of us (an older run of this node, or a newer incarnation we never had):
    // beat it. The same incarnation with our address (or none) is just our own news coming back.
    if (a.inc < m.incarnation || (a.inc === m.incarnation && (a.addr === m.address || a.addr === ''))) return;
    refute(state, a.inc, fx);
    return;
  }
  if (a.inc <= m.incarnation) {
    // A static peer's address learnt from someone who knows it: nothing else is new.
    if (a.inc === m.incarnation && m.address === '' && a.addr !== '') {
      m.address = a.addr;
      emit(fx, m);
    }
    return;
  }
  state.suspicions.delete(a.node);
  const address = a.addr === '' ? m.address : a.addr;
  queueUpdate(state, a.addr === address ? a : { k: 'alive', node: a.node, inc: a.inc, addr: address });
  const changed = m.state !== 'alive' || address !== m.address;
  setIncarnation(m, a.inc);
  m.address = address;
  if (m.state !== 'alive') {
    m.state = 'alive';
    m.stateChangeAt = now;
  }
  if (changed) emit(fx, m);
}

function suspectNode(state: SwimState, s: Extract<SwimUpdate, { k: 'suspect' }>, now: number, fx: Fx): void {
  const m = state.members.get(s.node);
  if (m === undefined || s.inc < m.incarnation) return;
  const suspicion = state.suspicions.get(s.node);
  if (suspicion !== undefined) {
    // Lifeguard: an independent confirmation shortens the timer, and is gossiped on so others can count it too.
    if (confirm(suspicion, s.from)) {
      state.counters.suspicionConfirmations++;
      state.broadcasts.queue(s);
      armSuspicionTimer(state, fx);
    }
    return;
  }
  if (m.state !== 'alive') return;
  if (s.node === state.self) {
    refute(state, s.inc, fx);
    return;
  }
  state.broadcasts.queue(s);
  setIncarnation(m, s.inc);
  m.state = 'suspect';
  m.stateChangeAt = now;
  state.counters.suspicionsRaised++;
  const o = state.options;
  const n = state.members.size;
  // memberlist: aim at the nominal timeout two probe periods early, and expect no confirmations from a cluster
  // too small to give them (n − 2 leaves out us and the suspect). Plain SWIM expects none: a fixed timeout.
  let k = o.lifeguard ? o.suspicionMult - 2 : 0;
  if (n - 2 < k) k = 0;
  const minMs = suspicionTimeoutMs(o.suspicionMult, n, o.probeIntervalMs);
  const maxMs = o.lifeguard ? o.suspicionMaxTimeoutMult * minMs : minMs;
  state.suspicions.set(s.node, {
    k,
    minMs,
    maxMs,
    startedAt: now,
    confirmations: 0,
    confirmers: new Set([s.from]),
    deadline: now + (k < 1 ? minMs : maxMs),
  });
  armSuspicionTimer(state, fx);
  emit(fx, m);
}

/** suspicion.Confirm: true when `from` is a new confirmer and more were wanted. */
function confirm(s: Suspicion, from: NodeId): boolean {
  if (s.confirmations >= s.k || s.confirmers.has(from)) return false;
  s.confirmers.add(from);
  s.confirmations++;
  s.deadline = s.startedAt + remainingSuspicionTimeMs(s.confirmations, s.k, 0, s.minMs, s.maxMs);
  return true;
}

function deadNode(state: SwimState, d: Extract<SwimUpdate, { k: 'dead' }>, now: number, fx: Fx): void {
  const m = state.members.get(d.node);
  if (m === undefined || d.inc < m.incarnation) return;
  state.suspicions.delete(d.node);
  if (m.state === 'dead' || m.state === 'left') return;
  if (d.node === state.self) {
    // Not leaving (leave() marks us left first, so we never get here then): we are alive, say so.
    refute(state, d.inc, fx);
    return;
  }
  state.broadcasts.queue(d);
  setIncarnation(m, d.inc);
  m.state = d.from === d.node ? 'left' : 'dead';
  m.stateChangeAt = now;
  if (m.state === 'dead' && d.from === state.self) state.counters.declaredDead++;
  bury(state, d.node, now);
  emit(fx, m);
}

/** memberlist's refute: an incarnation past the accusation, gossiped as alive; being accused costs health. */
function refute(state: SwimState, accusedInc: number, fx: Fx): void {
  const me = state.members.get(state.self)!;
  const inc = Math.max(me.incarnation + 1, accusedInc + 1);
  setIncarnation(me, inc);
  state.counters.refutations++;
  adjustAwareness(state, 1);
  queueUpdate(state, { k: 'alive', node: state.self, inc, addr: me.address });
  emit(fx, me);
}

/** Queues a fact for dissemination; refutations (alive above incarnation 0) with their longer budget. */
function queueUpdate(state: SwimState, u: SwimUpdate): void {
  state.broadcasts.queue(u, u.k === 'alive' && u.inc > 0 ? state.options.refutationRetransmitMult : 1);
}

function setIncarnation(m: MemberRecord, inc: number): void {
  assert(inc >= m.incarnation, `the incarnation of ${m.id} would go down from ${m.incarnation} to ${inc}`);
  m.incarnation = inc;
}

function suspicionTimeouts(state: SwimState, now: number, fx: Fx): void {
  for (const [node, s] of state.suspicions) {
    if (s.deadline > now) continue;
    state.suspicions.delete(node);
    const m = state.members.get(node);
    if (m === undefined || m.state !== 'suspect') continue;
    fx.push({ kind: 'log', level: 'info', text: 'swim: suspicion timed out: member is dead', fields: { node, confirmations: s.confirmations } });
    deadNode(state, { k: 'dead', node, inc: m.incarnation, from: state.self }, now, fx);
  }
  armSuspicionTimer(state, fx);
}

function armSuspicionTimer(state: SwimState, fx: Fx): void {
  let at = Infinity;
  for (const s of state.suspicions.values()) at = Math.min(at, s.deadline);
  fx.push({ kind: 'timer', name: 'suspicion', at: at === Infinity ? null : at });
}

// ---- dissemination -----------------------------------------------------------------------------------------------

function currentRetransmitLimit(state: SwimState): number {
  return retransmitLimit(state.options.retransmitMult, state.members.size);
}

function sendPiggybacked(state: SwimState, to: NodeId, build: (g: readonly SwimUpdate[]) => SwimMsg, fx: Fx): void {
  const g = state.broadcasts.take(MAX_PIGGYBACK_UPDATES, currentRetransmitLimit(state));
  fx.push({ kind: 'send', to, msg: build(g) });
}

function gossip(state: SwimState, now: number, fx: Fx): void {
  const o = state.options;
  state.gossipAt = null;
  if (state.broadcasts.size === 0) return;
  const targets = kRandomMembers(
    state,
    o.gossipNodes,
    (m) => m.state === 'alive' || m.state === 'suspect' || (m.state === 'dead' && now - m.stateChangeAt <= o.gossipToTheDeadTimeMs),
  );
  for (const to of targets) {
    const g = state.broadcasts.take(MAX_PIGGYBACK_UPDATES, currentRetransmitLimit(state));
    if (g.length === 0) return;
    fx.push({ kind: 'send', to, msg: { t: 'gossip', g } });
  }
}

/** Arms the gossip ticker's next tick (strictly after now) while broadcasts wait and gossip is on. */
function armGossip(state: SwimState, now: number, fx: Fx): void {
  const o = state.options;
  if (state.gossipAt !== null || state.broadcasts.size === 0 || o.gossipIntervalMs <= 0 || o.gossipNodes <= 0) return;
  const ticks = Math.floor((now - state.gossipPhase) / o.gossipIntervalMs) + 1;
  state.gossipAt = state.gossipPhase + Math.max(0, ticks) * o.gossipIntervalMs;
  if (state.gossipAt <= now) state.gossipAt = now + o.gossipIntervalMs;
  fx.push({ kind: 'timer', name: 'gossip', at: state.gossipAt });
}

/** memberlist's kRandomNodes: up to k distinct members passing `keep`, self excluded, from at most 3n random draws. */
function kRandomMembers(state: SwimState, k: number, keep: (m: MemberRecord) => boolean): NodeId[] {
  const order = state.probeOrder;
  const n = order.length;
  const out: NodeId[] = [];
  for (let i = 0; i < 3 * n && out.length < k; i++) {
    const id = order[state.prng.int(0, n - 1)]!;
    if (out.includes(id)) continue;
    if (keep(state.members.get(id)!)) out.push(id);
  }
  return out;
}

function localStates(state: SwimState): PushNodeState[] {
  const out: PushNodeState[] = [];
  for (const m of state.members.values()) out.push({ node: m.id, addr: m.address, inc: m.incarnation, state: m.state });
  return out;
}

/** memberlist's mergeState: a remote `dead` only makes us suspect (we give it the chance to refute); `left` is final. */
function mergeRemoteState(state: SwimState, remote: readonly PushNodeState[], now: number, fx: Fx): void {
  for (const r of remote) {
    switch (r.state) {
      case 'alive':
        aliveNode(state, { k: 'alive', node: r.node, inc: r.inc, addr: r.addr }, now, fx);
        break;
      case 'left':
        deadNode(state, { k: 'dead', node: r.node, inc: r.inc, from: r.node }, now, fx);
        break;
      case 'dead':
      case 'suspect':
        suspectNode(state, { k: 'suspect', node: r.node, inc: r.inc, from: state.self }, now, fx);
        break;
      default:
        unreachable(r.state);
    }
  }
}

function periodicPushPull(state: SwimState, now: number, fx: Fx): void {
  if (state.left) return;
  const o = state.options;
  fx.push({ kind: 'timer', name: 'push-pull', at: now + pushPullScaleMs(o.pushPullIntervalMs, state.members.size) });
  const [peer] = kRandomMembers(state, 1, (m) => m.state === 'alive');
  if (peer !== undefined) fx.push({ kind: 'send', to: peer, msg: { t: 'push-pull', join: false, reply: false, states: localStates(state) } });
}

function reconnect(state: SwimState, now: number, fx: Fx): void {
  if (state.left) return;
  fx.push({ kind: 'timer', name: 'reconnect', at: now + state.options.reconnectIntervalMs });
  const dead: NodeId[] = [];
  for (const g of state.graveyard) {
    const m = state.members.get(g.node);
    if (m !== undefined && m.state === 'dead' && m.stateChangeAt === g.at) dead.push(g.node);
  }
  if (dead.length === 0) return;
  const peer = state.prng.pick(dead);
  state.counters.reconnects++;
  fx.push({ kind: 'send', to: peer, msg: { t: 'push-pull', join: false, reply: false, states: localStates(state) } });
}

function joinAttempt(state: SwimState, now: number, fx: Fx): void {
  const join = state.join;
  assert(join !== null, 'a join attempt needs a join');
  join.attempts++;
  let targets: readonly NodeId[];
  if (join.seeds !== null) {
    targets = join.seeds;
  } else {
    const [peer] = kRandomMembers(state, 1, (m) => m.state === 'alive');
    targets = peer === undefined ? [] : [peer];
  }
  if (targets.length > 0) {
    const states = localStates(state);
    for (const to of targets) fx.push({ kind: 'send', to, msg: { t: 'push-pull', join: true, reply: false, states } });
  }
  fx.push({ kind: 'timer', name: 'join', at: now + state.options.joinRetryIntervalMs });
}

// ---- leaving and forgetting --------------------------------------------------------------------------------------

function leave(state: SwimState, now: number, fx: Fx): void {
  if (state.left) return;
  const me = state.members.get(state.self)!;
  state.left = true;
  me.state = 'left';
  me.stateChangeAt = now;
  state.probe = null;
  state.join = null;
  state.broadcasts.queue({ k: 'dead', node: state.self, inc: me.incarnation, from: state.self });
  for (const name of ['probe-timeout', 'push-pull', 'join', 'reconnect'] as const) fx.push({ kind: 'timer', name, at: null });
  fx.push({ kind: 'log', level: 'info', text: 'swim: leaving', fields: { incarnation: me.incarnation } });
  emit(fx, me);
}

function bury(state: SwimState, node: NodeId, at: number): void {
  state.graveyard.push({ node, at });
  if (state.graveyard.length > MAX_GRAVEYARD) {
    state.graveyard = state.graveyard.filter((g) => isCurrentGrave(state, g));
  }
}

function isCurrentGrave(state: SwimState, g: { readonly node: NodeId; readonly at: number }): boolean {
  const m = state.members.get(g.node);
  return m !== undefined && (m.state === 'dead' || m.state === 'left') && m.stateChangeAt === g.at;
}

/** Forgets dead and left members GossipToTheDeadTime after they died (memberlist reaps at a probe wrap; we on time). */
function reap(state: SwimState, now: number): void {
  const ttl = state.options.gossipToTheDeadTimeMs;
  const grave = state.graveyard;
  let drop = 0;
  while (drop < grave.length && grave[drop]!.at + ttl < now) {
    const g = grave[drop]!;
    drop++;
    if (!isCurrentGrave(state, g)) continue;
    state.members.delete(g.node);
    const i = state.probeOrder.indexOf(g.node);
    assert(i >= 0, `forgotten member ${g.node} was not in the probe order`);
    state.probeOrder.splice(i, 1);
    if (i < state.probeIndex) state.probeIndex--;
  }
  if (drop > 0) state.graveyard = grave.slice(drop);
}

function insertIntoProbeOrder(state: SwimState, node: NodeId): void {
  // memberlist: a newcomer goes to a random place, so that it is probed within one round on average.
  const order = state.probeOrder;
  const offset = order.length === 0 ? 0 : state.prng.int(0, order.length - 1);
  order.push(node);
  const last = order.length - 1;
  order[last] = order[offset]!;
  order[offset] = node;
}

function emit(fx: Fx, m: MemberRecord): void {
  fx.push({ kind: 'output', value: { kind: 'member', member: { id: m.id, address: m.address, incarnation: m.incarnation, state: m.state } } });
}

// ---- views, metrics, invariants ----------------------------------------------------------------------------------

/** Every member this node knows, sorted by id, self included. */
export function membersOf(state: SwimState): readonly Member[] {
  const out: Member[] = [];
  for (const m of state.members.values()) out.push({ id: m.id, address: m.address, incarnation: m.incarnation, state: m.state });
  return out.sort((a, b) => compareNodeIds(a.id, b.id));
}

/** The live member set (alive and suspect, self included unless it left), sorted: what `MembershipAware.onMembers` gets. */
export function liveMemberIds(state: SwimState): readonly NodeId[] {
  const out: NodeId[] = [];
  for (const m of state.members.values()) if (m.state === 'alive' || m.state === 'suspect') out.push(m.id);
  return out.sort(compareNodeIds);
}

function metrics(state: SwimState): Readonly<Record<string, number | string | boolean>> {
  const byState: Record<MemberState, number> = { alive: 0, suspect: 0, dead: 0, left: 0 };
  for (const m of state.members.values()) byState[m.state]++;
  const c = state.counters;
  return {
    'swim.members.alive': byState.alive,
    'swim.members.suspect': byState.suspect,
    'swim.members.dead': byState.dead,
    'swim.members.left': byState.left,
    'swim.incarnation': state.members.get(state.self)!.incarnation,
    'swim.awareness': state.awareness,
    'swim.broadcastQueue': state.broadcasts.size,
    'swim.suspicions': state.suspicions.size,
    'swim.relays': state.relays.size,
    'swim.left': state.left,
    'swim.probes': c.probes,
    'swim.probesFailed': c.probesFailed,
    'swim.indirectProbes': c.indirectProbes,
    'swim.acksReceived': c.acksReceived,
    'swim.nacksReceived': c.nacksReceived,
    'swim.nacksSent': c.nacksSent,
    'swim.relaysRefused': c.relaysRefused,
    'swim.suspicionsRaised': c.suspicionsRaised,
    'swim.suspicionConfirmations': c.suspicionConfirmations,
    'swim.refutations': c.refutations,
    'swim.declaredDead': c.declaredDead,
    'swim.pushPulls': c.pushPulls,
    'swim.reconnects': c.reconnects,
    'swim.membersRefused': c.membersRefused,
    'swim.pingsForOthers': c.pingsForOthers,
    'swim.probeRttLastMs': c.lastProbeRttMs,
    'swim.probeRttSumMs': c.probeRttSumMs,
    'swim.probeRttCount': c.probeRttCount,
  };
}

/**
 * The stated invariants:
 * - this node is a member, alive unless it left (then left), and never suspect or dead in its own eyes;
 * - at most MAX_MEMBERS members; the probe order is exactly the members but self, each once;
 * - a member is suspect exactly when a suspicion timer runs for it; a suspicion has at most k confirmations;
 * - no dead or left member is kept longer than GossipToTheDeadTime (forgetting runs at every step);
 * - the broadcast queue, relays and graveyard are within their bounds, one broadcast per member;
 * - the health score is in [0, AwarenessMaxMultiplier − 1], and 0 without Lifeguard;
 * - incarnations never decrease: every change goes through setIncarnation, which asserts it.
 */
function invariants(state: SwimState): void {
  const me = state.members.get(state.self);
  assert(me !== undefined, 'this node is not among its members');
  assert(me.state === (state.left ? 'left' : 'alive'), `this node sees itself ${me.state} (left=${state.left})`);
  assert(state.members.size <= MAX_MEMBERS, `${state.members.size} members > ${MAX_MEMBERS}`);
  assert(state.probeOrder.length === state.members.size - 1, `probe order has ${state.probeOrder.length} entries for ${state.members.size} members`);
  const seen = new Set<NodeId>();
  for (const id of state.probeOrder) {
    assert(id !== state.self && state.members.has(id) && !seen.has(id), `probe order entry ${id} is self, unknown or repeated`);
    seen.add(id);
  }
  assert(state.probeIndex >= 0 && state.probeIndex <= state.probeOrder.length, `probe index ${state.probeIndex} out of range`);
  const ttl = state.options.gossipToTheDeadTimeMs;
  for (const m of state.members.values()) {
    assert(Number.isSafeInteger(m.incarnation) && m.incarnation >= 0, `incarnation of ${m.id} is ${m.incarnation}`);
    assert((m.state === 'suspect') === state.suspicions.has(m.id), `${m.id} is ${m.state} but suspicion timer ${state.suspicions.has(m.id) ? 'runs' : 'is missing'}`);
    if ((m.state === 'dead' || m.state === 'left') && m.id !== state.self) {
      assert(m.stateChangeAt + ttl >= state.now, `${m.id} is ${m.state} since ${m.stateChangeAt}, kept past GossipToTheDeadTime at ${state.now}`);
    }
  }
  for (const s of state.suspicions.values()) {
    assert(s.confirmations <= Math.max(0, s.k) && s.confirmers.size === s.confirmations + 1, 'suspicion confirmations out of range');
  }
  state.broadcasts.check();
  assert(state.relays.size <= MAX_RELAYS, `${state.relays.size} relays > ${MAX_RELAYS}`);
  assert(state.graveyard.length <= MAX_GRAVEYARD, `graveyard holds ${state.graveyard.length} > ${MAX_GRAVEYARD}`);
  const maxScore = state.options.lifeguard ? state.options.awarenessMaxMultiplier - 1 : 0;
  assert(state.awareness >= 0 && state.awareness <= maxScore, `awareness ${state.awareness} outside [0, ${maxScore}]`);
  assert(state.probe === null || (state.probe.target !== state.self && !state.left), 'a probe of self, or by a node that left');
  assert(state.join === null || state.join.attempts <= MAX_JOIN_ATTEMPTS, 'join attempts past their bound');
  const gossipOn = state.options.gossipIntervalMs > 0 && state.options.gossipNodes > 0;
  assert(!gossipOn || state.broadcasts.size === 0 || state.gossipAt !== null, 'broadcasts wait but no gossip round is armed');
}

export const swimProtocol: Protocol<SwimState, SwimMsg, MemberEvent, SwimOptions, SwimRequest, SwimTimer> = {
  name: 'swim',
  init,
  step,
  isMessage: isSwimMsg,
  metrics,
  invariants,
};
