/**
 * The original chatterbox protocol, kept as a mode: acknowledgement lockstep.
 *
 * - Connecting: a node announces itself to every peer each tick until it has heard from every peer (or sending
 *   time is over); a node past connecting answers an announcement, so no one waits for a lost one.
 * - Sending: one message in flight per sender. Every tick it is sent again to the peers that have not
 *   acknowledged it; once all have, the ticker is woken at once and the next message goes out, stamped with the
 *   current (hybrid-clock) time.
 * - Receiving: one buffer slot per sender. A newer message commits the buffered one, because its sender only
 *   sends it after every peer has acknowledged the previous one. Every message is acknowledged.
 * - Stopping: after send-for, a sender finishes its message in flight and then sends a `stop` marker, re-sent
 *   until acknowledged, which commits the last buffered message (the original left it uncommitted).
 *
 * Order and result are the same as the stream protocol's (timestamp, sender rank, serial), through the shared
 * ledger, so both protocols print the same kind of line. Guarantees: identical results whenever the network lets
 * the nodes talk during the grace period. Faithful to the original, one peer that never answers stalls every
 * sender; nodes then print at the deadline. Beyond the original, they still print the same line: each folds in
 * everything it holds (buffered messages and its own message in flight too), and a node passes a stalled sender's
 * last message on to its peers (`relay`), so every live node holds the same messages of a dead one.
 *
 * Announcements carry how long until their sender stops sending, and every node stops at the earliest end it
 * hears of, so nodes started apart stop together (the same rule as the stream protocol's).
 */
import { assert, AssertionError } from '../core/assert.js';
import { isCount, isRecord, isSafeInteger } from '../core/guards.js';
import { HybridClock } from '../core/hybrid-clock.js';
import { compareNodeIds, type NodeId } from '../core/ids.js';
import { hashString32, VALUE_SCALE, valueAt } from '../core/prng.js';
import type { Effect, InitContext, Input, Protocol } from '../protocol/types.js';
import { summarize } from './checksum.js';
import { deadlineNote, FINISH_TIMERS, Finisher, isDoneReport, phaseAfter, type DoneReport, type FinishTimer } from './finish.js';
import { Ledger } from './ledger.js';
import { MAX_AGREEMENT_NODES, MAX_SEND_END_MS, type AgreementOptions, type AgreementOutput } from './types.js';

export type LockstepMessage =
  /**
   * An announcement; `answer` marks the reply to one, which is never answered in turn. `end`: milliseconds until
   * the sender stops sending (0 once it has), a duration since hosts' clocks differ.
   */
  | { readonly t: 'connect'; readonly answer: boolean; readonly end: number }
  /** `end` as in `connect`: a node that joined late hears it from pings, once its peers have stopped announcing. */
  | { readonly t: 'ping'; readonly serial: number; readonly ts: number; readonly v: number; readonly end: number }
  | { readonly t: 'ack'; readonly serial: number }
  /** The sender's stream has `serial` messages, all of which every peer has acknowledged; its sending has ended. */
  | { readonly t: 'stop'; readonly serial: number }
  | { readonly t: 'done'; readonly report: DoneReport }
  /** The last message of a stalled sender (`origin`, by rank), passed on by a node that holds it. */
  | { readonly t: 'relay'; readonly origin: number; readonly ping: PingWire };

interface PingWire {
  readonly serial: number;
  readonly ts: number;
  readonly v: number;
}

type PingMessage = Extract<LockstepMessage, { t: 'ping' }>;
type ConnectMessage = Extract<LockstepMessage, { t: 'connect' }>;
/** Every timer name the lockstep protocol sets: a name outside it is a compile error (protocol/types.ts, rule 4). */
export type LockstepTimer = (typeof TIMER)[keyof typeof TIMER] | FinishTimer;
type Fx = Effect<LockstepMessage, AgreementOutput, LockstepTimer>;
type Phase = 'connecting' | 'sending' | 'stopping' | 'grace' | 'confirming' | 'halted';

interface Inbound {
  buffered: PingWire | undefined;
  committedSerial: number;
  /** The sender's latest message here, buffered or committed: what this node relays while the lane stands still. */
  newest: PingWire | undefined;
  /** When this sender's stream last moved here (a new message or its stop): a lane still for long is relayed. */
  movedAtMs: number;
}

export interface LockstepState {
  readonly self: NodeId;
  readonly selfRank: number;
  readonly streamId: number;
  readonly options: AgreementOptions;
  readonly ranks: ReadonlyMap<NodeId, number>;
  readonly peers: readonly NodeId[];
  readonly clock: HybridClock;
  readonly ledger: Ledger;
  readonly finisher: Finisher;
  readonly heard: Set<NodeId>;
  /** When each peer was last heard from, for the deadline's note on who could be reached. */
  readonly lastHeardMs: Map<NodeId, number>;
  /** Indexed by rank; the entry at selfRank is unused. */
  readonly inbound: Inbound[];
  phase: Phase;
  /** The message in flight, or the stop marker once sending is over. */
  current: PingMessage | { t: 'stop'; serial: number } | undefined;
  readonly acked: Set<NodeId>;
  sent: number;
  finishedLanes: number;
}

const TIMER = { tick: 'tick', stop: 'stop' } as const;
/** A sender whose stream has not moved for this many ticks has its last message relayed by its peers. */
const RELAY_AFTER_TICKS = 2;
/** A peer not heard from for this many ticks (every live peer sends something every tick) counts as out of reach. */
const SILENT_AFTER_TICKS = 5;

function init(ctx: InitContext<AgreementOptions>): { state: LockstepState; effects: Fx[] } {
  const ranked = [...ctx.nodes].sort(compareNodeIds);
  const selfRank = ranked.indexOf(ctx.self);
  assert(selfRank >= 0, 'the node list must include self');
  const peers = ranked.filter((id) => id !== ctx.self);
  const finisher = new Finisher(ctx.self, peers, ctx.startedAtMs, ctx.options);
  const state: LockstepState = {
    self: ctx.self,
    selfRank,
    streamId: hashString32(ctx.self),
    options: ctx.options,
    ranks: new Map(ranked.map((id, rank) => [id, rank])),
    peers,
    clock: new HybridClock(),
    ledger: new Ledger(ranked.length),
    finisher,
    heard: new Set(),
    lastHeardMs: new Map(),
    inbound: ranked.map(() => ({ buffered: undefined, committedSerial: -1, newest: undefined, movedAtMs: ctx.now })),
    phase: 'connecting',
    current: undefined,
    acked: new Set(),
    sent: 0,
    finishedLanes: 0,
  };
  const effects: Fx[] = [...finisher.initialTimers<LockstepMessage>()];
  // Start-up may have taken the whole send window (or there was none): then this node's stream is empty.
  if (finisher.sendUntilMs <= ctx.now) effects.push(...beginStopping(state, ctx.now));
  else effects.push({ kind: 'timer', name: TIMER.stop, at: finisher.sendUntilMs }, ...connectOrSend(state, ctx.now));
  effects.push({ kind: 'timer', name: TIMER.tick, at: ctx.now + ctx.options.tickMs });
  return { state, effects };
}

function step(state: LockstepState, input: Input<LockstepMessage, never, LockstepTimer>, now: number): Fx[] {
  if (state.phase === 'halted') return [];
  if (input.kind === 'receive') {
    const rank = state.ranks.get(input.from);
    if (rank === undefined || rank === state.selfRank) {
      return [{ kind: 'log', level: 'warn', text: 'message from a node outside the cluster dropped', fields: { from: input.from } }];
    }
    state.heard.add(input.from);
    state.lastHeardMs.set(input.from, now);
    const effects = onMessage(state, input.from, rank, input.msg, now);
    if (state.phase === 'connecting' && state.heard.size === state.peers.length) effects.push(...connectOrSend(state, now));
    effects.push(...settle(state, now));
    return effects;
  }
  switch (input.name) {
    case TIMER.tick:
      return onTick(state, now);
    case TIMER.stop:
      return [...beginStopping(state, now), ...settle(state, now)];
    default: {
      const notes = input.name === FINISH_TIMERS.print && !state.finisher.printed ? deadlineNotes(state, now) : [];
      const finished = state.finisher.onTimer<LockstepMessage>(input.name, now, () => forcedResult(state));
      return [...notes, ...track(state, finished)];
    }
  }
}

function onMessage(state: LockstepState, from: NodeId, rank: number, msg: LockstepMessage, now: number): Fx[] {
  switch (msg.t) {
    case 'connect': {
      const effects = adoptSendEnd(state, msg.end, now);
      // The peer is still connecting and may not have heard from us (our announcement can be lost).
      if (state.phase !== 'connecting' && !msg.answer) effects.push({ kind: 'send', to: from, msg: connectMessage(state, true, now) });
      return effects;
    }
    case 'ping':
      return [{ kind: 'send', to: from, msg: { t: 'ack', serial: msg.serial } }, ...adoptSendEnd(state, msg.end, now), ...onPing(state, from, rank, msg, now)];
    case 'relay':
      return onRelay(state, from, msg.origin, msg.ping, now);
    case 'stop':
      // The peer's sending has ended, so the earliest end is past: stop too.
      return [...adoptSendEnd(state, 0, now), ...onStop(state, from, rank, msg.serial, now)];
    case 'ack':
      return onAck(state, from, msg.serial, now);
    case 'done':
      return track(state, state.finisher.onPeerDone<LockstepMessage>(from, msg.report, now));
  }
}

/** A message of the sender `rank`, from itself or relayed by `from`: buffered, committing the one before. */
function onPing(state: LockstepState, from: NodeId, rank: number, msg: PingWire, now: number): Fx[] {
  const lane = state.inbound[rank] as Inbound;
  const newest = lane.buffered?.serial ?? lane.committedSerial;
  if (msg.serial <= newest || state.ledger.isFinished(rank)) return [];
  // Against the newest held, committed or not: after a forced result the buffer is empty but the ledger is not.
  if (lane.newest !== undefined && msg.ts <= lane.newest.ts) {
    return [{ kind: 'log', level: 'warn', text: 'ping with an older timestamp than its predecessor dropped', fields: { from, serial: msg.serial } }];
  }
  state.clock.observe(msg.ts);
  commitBuffered(state, rank, lane);
  // A copy: a relayed ping arrives inside another message, which must not be kept.
  lane.buffered = { serial: msg.serial, ts: msg.ts, v: msg.v };
  lane.newest = lane.buffered;
  lane.movedAtMs = now;
  // Everything this sender commits from now on is this message or later ones.
  state.ledger.raiseBound(rank, msg.ts - 1);
  return [];
}

function onRelay(state: LockstepState, from: NodeId, origin: number, ping: PingWire, now: number): Fx[] {
  const fromRank = state.ranks.get(from);
  if (origin >= state.inbound.length || origin === state.selfRank || origin === fromRank) {
    return [{ kind: 'log', level: 'warn', text: 'relay of a stream it cannot carry dropped', fields: { from, origin } }];
  }
  return onPing(state, from, origin, ping, now);
}

function onStop(state: LockstepState, from: NodeId, rank: number, serial: number, now: number): Fx[] {
  const lane = state.inbound[rank] as Inbound;
  if (!state.ledger.isFinished(rank) && (lane.buffered?.serial ?? lane.committedSerial) === serial - 1) {
    commitBuffered(state, rank, lane);
    lane.movedAtMs = now;
    state.ledger.finish(rank);
    state.finishedLanes++;
  }
  return [{ kind: 'send', to: from, msg: { t: 'ack', serial } }];
}

function commitBuffered(state: LockstepState, rank: number, lane: Inbound): void {
  const msg = lane.buffered;
  if (msg === undefined) return;
  state.ledger.append(rank, { ts: msg.ts, seq: msg.serial, summary: summarize([msg.v]) });
  lane.committedSerial = msg.serial;
  lane.buffered = undefined;
}

function onAck(state: LockstepState, from: NodeId, serial: number, now: number): Fx[] {
  const current = state.current;
  if (current === undefined || current.serial !== serial) return [];
  state.acked.add(from);
  if (state.acked.size < state.peers.length) return [];
  return advance(state, now);
}

/** Every peer holds the message in flight: commit it locally and wake the ticker for the next one. */
function advance(state: LockstepState, now: number): Fx[] {
  const current = state.current;
  // After a forced result the ledger already holds the message in flight (see forcedResult): once every peer has
  // it, the stop marker tells them the stream ends there, so they can finish this lane as this node printed it.
  if (state.finisher.printed) {
    state.current = undefined;
    return current?.t === 'ping' ? sendStopAfterPrint(state) : [];
  }
  if (current?.t === 'ping') {
    state.ledger.append(state.selfRank, { ts: current.ts, seq: current.serial, summary: summarize([current.v]) });
  } else if (current?.t === 'stop') {
    state.current = undefined;
    return [];
  }
  state.current = undefined;
  if (state.phase === 'stopping') return sendStop(state);
  if (state.phase !== 'sending') return [];
  const effects = sendNext(state, now);
  effects.push({ kind: 'timer', name: TIMER.tick, at: now + state.options.tickMs });
  return effects;
}

function sendNext(state: LockstepState, now: number): Fx[] {
  const serial = state.sent;
  const msg: PingMessage = { t: 'ping', serial, ts: state.clock.issue(now), v: valueAt(state.options.seed, state.streamId, serial), end: state.finisher.remainingSendMs(now) };
  state.sent++;
  state.current = msg;
  state.acked.clear();
  state.ledger.raiseBound(state.selfRank, msg.ts - 1);
  // Alone in the cluster, nothing needs acknowledging: the next tick advances (see onTick).
  return state.peers.map((to) => ({ kind: 'send', to, msg }));
}

function sendStopAfterPrint(state: LockstepState): Fx[] {
  const stop = { t: 'stop' as const, serial: state.sent };
  state.current = stop;
  state.acked.clear();
  return state.peers.map((to) => ({ kind: 'send', to, msg: stop }));
}

function sendStop(state: LockstepState): Fx[] {
  const stop = { t: 'stop' as const, serial: state.sent };
  state.current = stop;
  state.acked.clear();
  state.ledger.finish(state.selfRank);
  state.finishedLanes++;
  state.phase = 'grace';
  return state.peers.map((to) => ({ kind: 'send', to, msg: stop }));
}

function connectOrSend(state: LockstepState, now: number): Fx[] {
  // Announce to every peer, heard or not: a peer we heard from may not have heard from us.
  if (state.heard.size < state.peers.length) {
    const msg = connectMessage(state, false, now);
    return state.peers.map((to) => ({ kind: 'send', to, msg }));
  }
  state.phase = 'sending';
  return sendNext(state, now);
}

function connectMessage(state: LockstepState, answer: boolean, now: number): ConnectMessage {
  const sending = state.phase === 'connecting' || state.phase === 'sending';
  return { t: 'connect', answer, end: sending ? state.finisher.remainingSendMs(now) : 0 };
}

/** A peer stops sending sooner than this node would: stop with it (at once, if that moment has passed). */
function adoptSendEnd(state: LockstepState, remainingMs: number, now: number): Fx[] {
  if ((state.phase !== 'connecting' && state.phase !== 'sending') || !state.finisher.adoptSendEnd(remainingMs, now)) return [];
  const at = state.finisher.sendUntilMs;
  return at <= now ? beginStopping(state, now) : [{ kind: 'timer', name: TIMER.stop, at }];
}

function beginStopping(state: LockstepState, now: number): Fx[] {
  if (state.phase !== 'connecting' && state.phase !== 'sending') return [];
  const inFlight = state.current?.t === 'ping';
  state.phase = 'stopping';
  return inFlight ? [] : sendStop(state);
}

function onTick(state: LockstepState, now: number): Fx[] {
  const effects: Fx[] = [];
  if (state.phase === 'connecting') effects.push(...connectOrSend(state, now));
  if (state.current !== undefined && state.acked.size >= state.peers.length) effects.push(...advance(state, now));
  const current = state.current;
  if (current !== undefined) {
    for (const to of state.peers) if (!state.acked.has(to)) effects.push({ kind: 'send', to, msg: current });
  }
  const report = state.finisher.report;
  if (report !== undefined) for (const to of state.peers) effects.push({ kind: 'send', to, msg: { t: 'done', report } });
  relayStalled(state, now, effects);
  effects.push({ kind: 'timer', name: TIMER.tick, at: now + state.options.tickMs });
  return effects;
}

/**
 * Passes on the last message of every sender whose stream has stood still for RELAY_AFTER_TICKS: if it has died,
 * some peers may hold that message and others not, and they would print different lines. A live sender's next
 * message or stop makes the relay moot; duplicates are dropped on arrival.
 */
function relayStalled(state: LockstepState, now: number, effects: Fx[]): void {
  for (let rank = 0; rank < state.inbound.length; rank++) {
    const lane = state.inbound[rank] as Inbound;
    const ping = lane.newest;
    if (rank === state.selfRank || ping === undefined || state.ledger.isFinished(rank)) continue;
    if (now - lane.movedAtMs < RELAY_AFTER_TICKS * state.options.tickMs) continue;
    const msg: LockstepMessage = { t: 'relay', origin: rank, ping };
    for (const to of state.peers) if (state.ranks.get(to) !== rank) effects.push({ kind: 'send', to, msg });
  }
}

function settle(state: LockstepState, now: number): Fx[] {
  state.ledger.commit();
  if (state.finisher.printed || state.finishedLanes < state.inbound.length) return [];
  const effects = track(state, state.finisher.complete<LockstepMessage>(state.ledger.committed, [], now));
  const report = state.finisher.report;
  if (report !== undefined) for (const to of state.peers) effects.push({ kind: 'send', to, msg: { t: 'done', report } });
  return effects;
}

/** The deadline's note (see `deadlineNote`): how many messages of each unfinished stream this node holds. */
function deadlineNotes(state: LockstepState, now: number): Fx[] {
  const heldOf: Record<string, number> = {};
  for (const [id, rank] of state.ranks) {
    if (rank === state.selfRank || state.ledger.isFinished(rank)) continue;
    const lane = state.inbound[rank] as Inbound;
    heldOf[id] = (lane.newest?.serial ?? -1) + 1;
  }
  const heard = state.peers.filter((p) => now - (state.lastHeardMs.get(p) ?? -Infinity) <= SILENT_AFTER_TICKS * state.options.tickMs);
  return deadlineNote<LockstepMessage>(heldOf, heard, state.peers.length);
}

/**
 * At the deadline a node folds in everything it holds: buffered messages (each was sent, and relays gave every
 * live peer the same ones) and its own message in flight (which it sends every peer until acknowledged).
 */
function forcedResult(state: LockstepState): { summary: LockstepState['ledger']['committed']; unconfirmed: NodeId[] } {
  state.inbound.forEach((lane, rank) => {
    if (rank !== state.selfRank && !state.ledger.isFinished(rank)) commitBuffered(state, rank, lane);
  });
  // Still `current` afterwards: it goes on being sent to peers that have not acknowledged it.
  const current = state.current;
  if (current?.t === 'ping' && !state.ledger.isFinished(state.selfRank)) {
    state.ledger.append(state.selfRank, { ts: current.ts, seq: current.serial, summary: summarize([current.v]) });
  }
  state.ledger.commitAll();
  const unconfirmed = state.peers.filter((p) => !state.ledger.isFinished(state.ranks.get(p) as number));
  return { summary: state.ledger.committed, unconfirmed };
}

function track(state: LockstepState, effects: Fx[]): Fx[] {
  state.phase = phaseAfter(state.phase, effects);
  return effects;
}

function isMessage(value: unknown): value is LockstepMessage {
  if (!isRecord(value)) return false;
  const m = value;
  switch (m.t) {
    case 'connect':
      return typeof m.answer === 'boolean' && isSendEnd(m.end);
    case 'ping':
      return isPing(m) && isSendEnd(m.end);
    case 'relay':
      return isCount(m.origin) && m.origin < MAX_AGREEMENT_NODES && isRecord(m.ping) && isPing(m.ping);
    case 'ack':
    case 'stop':
      return isCount(m.serial);
    case 'done':
      return isDoneReport(m.report);
    default:
      return false;
  }
}

function isSendEnd(x: unknown): boolean {
  return typeof x === 'number' && x >= 0 && x <= MAX_SEND_END_MS;
}

function isPing(m: Record<string, unknown>): boolean {
  return isCount(m.serial) && isSafeInteger(m.ts) && typeof m.v === 'number' && Number.isInteger(m.v) && m.v >= 1 && m.v <= VALUE_SCALE;
}

function metrics(state: LockstepState): Record<string, number | string | boolean> {
  return { phase: state.phase, sent: state.sent, committed: state.ledger.committed.count, pending: state.ledger.pendingCount, confirmed: state.finisher.confirmedBy.join(',') };
}

/**
 * The lockstep protocol's invariants (protocol/types.ts, rule 7), in time linear in the nodes: acknowledgements
 * and contacts only from peers; the message in flight is the last one sent (a ping numbered sent - 1, or the stop
 * at sent); per lane, a buffered message is ahead of what is committed; the ledger's own.
 */
function invariants(state: LockstepState): void {
  // Plain conditions, messages built only on failure: this runs after every simulated step.
  for (const id of state.acked) if (!state.ranks.has(id) || id === state.self) fail(`acknowledgement recorded from ${id}, not a peer`);
  for (const id of state.heard) if (!state.ranks.has(id) || id === state.self) fail(`contact recorded from ${id}, not a peer`);
  const current = state.current;
  if (current !== undefined) {
    const expected = current.t === 'ping' ? state.sent - 1 : state.sent;
    if (current.serial !== expected) fail(`the ${current.t} in flight is numbered ${current.serial}, expected ${expected}`);
  }
  for (let rank = 0; rank < state.inbound.length; rank++) {
    const lane = state.inbound[rank] as Inbound;
    if (rank !== state.selfRank && lane.buffered !== undefined && lane.buffered.serial <= lane.committedSerial) {
      fail(`lane ${rank}: buffered ${lane.buffered.serial} not ahead of committed ${lane.committedSerial}`);
    }
  }
  if (state.finishedLanes > state.inbound.length) fail(`${state.finishedLanes} finished lanes of ${state.inbound.length}`);
  state.ledger.checkInvariants();
}

function fail(text: string): never {
  throw new AssertionError(`lockstep invariant: ${text}`);
}

export const lockstepProtocol: Protocol<LockstepState, LockstepMessage, AgreementOutput, AgreementOptions, never, LockstepTimer> = {
  name: 'lockstep',
  init,
  step,
  isMessage,
  metrics,
  invariants,
};
