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
 * sender; nodes then print at the deadline, and results differ by at most one message per sender.
 */
import { assert } from '../core/assert.js';
import { isCount, isRecord, isSafeInteger } from '../core/guards.js';
import { HybridClock } from '../core/hybrid-clock.js';
import { compareNodeIds, type NodeId } from '../core/ids.js';
import { hashString32, VALUE_SCALE, valueAt } from '../core/prng.js';
import type { Effect, InitContext, Input, Protocol } from '../protocol/types.js';
import { summarize } from './checksum.js';
import { Finisher, isDoneReport, phaseAfter, type DoneReport } from './finish.js';
import { Ledger } from './ledger.js';
import type { AgreementOptions, AgreementOutput } from './types.js';

export type LockstepMessage =
  /** An announcement; `answer` marks the reply to one, which is never answered in turn. */
  | { readonly t: 'connect'; readonly answer: boolean }
  | { readonly t: 'ping'; readonly serial: number; readonly ts: number; readonly v: number }
  | { readonly t: 'ack'; readonly serial: number }
  /** The sender's stream has `serial` messages, all of which every peer has acknowledged. */
  | { readonly t: 'stop'; readonly serial: number }
  | { readonly t: 'done'; readonly report: DoneReport };

type PingMessage = Extract<LockstepMessage, { t: 'ping' }>;
type Fx = Effect<LockstepMessage, AgreementOutput>;
type Phase = 'connecting' | 'sending' | 'stopping' | 'grace' | 'confirming' | 'halted';

interface Inbound {
  buffered: PingMessage | undefined;
  committedSerial: number;
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
    inbound: ranked.map(() => ({ buffered: undefined, committedSerial: -1 })),
    phase: 'connecting',
    current: undefined,
    acked: new Set(),
    sent: 0,
    finishedLanes: 0,
  };
  const effects: Fx[] = [...finisher.initialTimers<LockstepMessage>(), { kind: 'timer', name: TIMER.stop, at: finisher.sendUntilMs }];
  if (ctx.options.sendForMs <= 0) effects.push(...beginStopping(state, ctx.now));
  else effects.push(...connectOrSend(state, ctx.now));
  effects.push({ kind: 'timer', name: TIMER.tick, at: ctx.now + ctx.options.tickMs });
  return { state, effects };
}

function step(state: LockstepState, input: Input<LockstepMessage>, now: number): Fx[] {
  if (state.phase === 'halted') return [];
  if (input.kind === 'receive') {
    const rank = state.ranks.get(input.from);
    if (rank === undefined || rank === state.selfRank) {
      return [{ kind: 'log', level: 'warn', text: 'message from a node outside the cluster dropped', fields: { from: input.from } }];
    }
    state.heard.add(input.from);
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
      const finished = state.finisher.onTimer<LockstepMessage>(input.name, now, () => forcedResult(state));
      assert(finished !== undefined, `unknown timer ${input.name}`);
      return track(state, finished);
    }
  }
}

function onMessage(state: LockstepState, from: NodeId, rank: number, msg: LockstepMessage, now: number): Fx[] {
  switch (msg.t) {
    case 'connect':
      // The peer is still connecting and may not have heard from us (our announcement can be lost).
      return state.phase === 'connecting' || msg.answer ? [] : [{ kind: 'send', to: from, msg: { t: 'connect', answer: true } }];
    case 'ping':
      return onPing(state, from, rank, msg);
    case 'stop':
      return onStop(state, from, rank, msg.serial);
    case 'ack':
      return onAck(state, from, msg.serial, now);
    case 'done':
      return track(state, state.finisher.onPeerDone<LockstepMessage>(from, msg.report, now));
  }
}

function onPing(state: LockstepState, from: NodeId, rank: number, msg: PingMessage): Fx[] {
  const lane = state.inbound[rank] as Inbound;
  const effects: Fx[] = [{ kind: 'send', to: from, msg: { t: 'ack', serial: msg.serial } }];
  const newest = lane.buffered?.serial ?? lane.committedSerial;
  if (msg.serial <= newest || state.ledger.isFinished(rank)) return effects;
  if (lane.buffered !== undefined && msg.ts <= lane.buffered.ts) {
    effects.push({ kind: 'log', level: 'warn', text: 'ping with an older timestamp than its predecessor dropped', fields: { from, serial: msg.serial } });
    return effects;
  }
  state.clock.observe(msg.ts);
  commitBuffered(state, rank, lane);
  lane.buffered = msg;
  // Everything this sender commits from now on is this message or later ones.
  state.ledger.raiseBound(rank, msg.ts - 1);
  return effects;
}

function onStop(state: LockstepState, from: NodeId, rank: number, serial: number): Fx[] {
  const lane = state.inbound[rank] as Inbound;
  if (!state.ledger.isFinished(rank) && (lane.buffered?.serial ?? lane.committedSerial) === serial - 1) {
    commitBuffered(state, rank, lane);
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
  const msg: PingMessage = { t: 'ping', serial, ts: state.clock.issue(now), v: valueAt(state.options.seed, state.streamId, serial) };
  state.sent++;
  state.current = msg;
  state.acked.clear();
  state.ledger.raiseBound(state.selfRank, msg.ts - 1);
  // Alone in the cluster, nothing needs acknowledging: the next tick advances (see onTick).
  return state.peers.map((to) => ({ kind: 'send', to, msg }));
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
  if (state.heard.size < state.peers.length) return state.peers.map((to) => ({ kind: 'send', to, msg: { t: 'connect', answer: false } }));
  state.phase = 'sending';
  return sendNext(state, now);
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
  effects.push({ kind: 'timer', name: TIMER.tick, at: now + state.options.tickMs });
  return effects;
}

function settle(state: LockstepState, now: number): Fx[] {
  state.ledger.commit();
  if (state.finisher.printed || state.finishedLanes < state.inbound.length) return [];
  const effects = track(state, state.finisher.complete<LockstepMessage>(state.ledger.committed, [], now));
  const report = state.finisher.report;
  if (report !== undefined) for (const to of state.peers) effects.push({ kind: 'send', to, msg: { t: 'done', report } });
  return effects;
}

/** At the deadline, buffered messages count too: each was sent, and most peers hold it. */
function forcedResult(state: LockstepState): { summary: LockstepState['ledger']['committed']; unconfirmed: NodeId[] } {
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
      return typeof m.answer === 'boolean';
    case 'ping':
      return isCount(m.serial) && isSafeInteger(m.ts) && typeof m.v === 'number' && Number.isInteger(m.v) && m.v >= 1 && m.v <= VALUE_SCALE;
    case 'ack':
    case 'stop':
      return isCount(m.serial);
    case 'done':
      return isDoneReport(m.report);
    default:
      return false;
  }
}

function metrics(state: LockstepState): Record<string, number | string | boolean> {
  return { phase: state.phase, sent: state.sent, committed: state.ledger.committed.count, pending: state.ledger.pendingCount };
}

export const lockstepProtocol: Protocol<LockstepState, LockstepMessage, AgreementOutput, AgreementOptions> = {
  name: 'lockstep',
  init,
  step,
  isMessage,
  metrics,
};
