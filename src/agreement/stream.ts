/**
 * The default agreement protocol: pipelined, batched streams ordered by hybrid-logical timestamps.
 *
 * Every node is a sender of one stream. It generates values in runs (batches): a run has the sequence number of
 * its first value and one timestamp from the node's hybrid clock, strictly above the previous run's. Runs go to
 * every peer ahead of acknowledgement, within a window per peer; receivers acknowledge cumulatively (how much of
 * the stream they hold without gaps) in status messages, naming the runs they hold beyond the first gap, and a
 * sender whose peer stops making progress resends just the runs that peer lacks (selective repeat). Values are a
 * function of (seed, node, sequence number), so a sender regenerates a run to retransmit it instead of keeping
 * it; receivers always take values from the wire.
 *
 * The agreed order is (timestamp, sender rank, sequence number). A status also promises that every later run of
 * its sender has a timestamp above the status's own, which lets receivers fold runs into the ledger behind the
 * watermark while the senders keep going. When sending ends, statuses carry the stream's final length; a node
 * that holds every stream to its end has the final result, and every such node has the same one.
 *
 * Three more things make the line the same on every live node as people really run it:
 * - Start skew: statuses say how long until their sender stops sending, and every node stops at the earliest
 *   end it hears of (`Finisher.adoptSendEnd`), so all streams close together even when nodes started apart.
 * - Crash-stop: statuses carry the sender's holdings of every stream (contiguous length and final length, when
 *   known). A node whose peer has lacked part of some third node's stream for `relayAfterMs` sends that peer the
 *   runs' summaries (`relay`), and final lengths spread with the holdings. So live nodes that can talk end up
 *   holding the longest prefix of a dead node's stream that any of them holds, and print the same cut of it.
 * - Pauses: a peer silent for `suspectAfterMs` stops holding back generation and is caught up by retransmission
 *   when it returns.
 *
 * Guarantees: identical results on every node that holds every stream to its end, under loss, duplication,
 * reordering and partitions, provided the network lets the nodes talk during the grace period; identical results
 * among live nodes that can talk for part of the grace period when others crashed or stayed cut off (see the
 * README for the limits). A node cut off from everyone prints what it holds at the deadline and says so.
 */
import { assert, AssertionError } from '../core/assert.js';
import { isCount, isRecord, isSafeInteger } from '../core/guards.js';
import { HybridClock } from '../core/hybrid-clock.js';
import { compareNodeIds, type NodeId } from '../core/ids.js';
import { hashString32, VALUE_SCALE, valueAt } from '../core/prng.js';
import type { Effect, InitContext, Input, Protocol } from '../protocol/types.js';
import { MAX_SUMMARY_RUN, summarize, type Summary } from './checksum.js';
import { deadlineNote, FINISH_TIMERS, Finisher, isDoneReport, phaseAfter, type DoneReport, type FinishTimer } from './finish.js';
import { Ledger, type Run } from './ledger.js';
import { RelayStore } from './relay-store.js';
import { MAX_AGREEMENT_NODES, MAX_SEND_END_MS, type AgreementOptions, type AgreementOutput } from './types.js';

export interface StreamTuning {
  /** Values in one data message. */
  readonly runMax: number;
  /** Values sent to a peer and not yet acknowledged by it, at most. */
  readonly windowMax: number;
  /** How often generation is attempted, and how many runs at most each time: the pace of a sender. */
  readonly generateEveryMs: number;
  readonly runsPerGenerate: number;
  /** Acknowledgements wait this long to cover several runs with one status. */
  readonly ackDelayMs: number;
  /** A peer not heard from for this long no longer holds back generation (it can still catch up later). */
  readonly suspectAfterMs: number;
  /**
   * Without acknowledgement progress for a retransmission timeout, a peer is sent again the runs of its window it
   * lacks. The timeout adapts to the round trip measured per peer (RFC 6298: smoothed RTT plus four deviations,
   * doubled after each timeout until the next sample), within [retransmitMinMs, retransmitMaxMs]; it starts at
   * the maximum. Round trips are measured on statuses, which echo the latest status they answer and how long it
   * waited (as TCP's timestamps do), so a measurement is never ambiguous, retransmissions or not.
   */
  readonly retransmitMinMs: number;
  readonly retransmitMaxMs: number;
  /** Runs that arrived ahead of a gap and are kept until the gap fills, per sender. */
  readonly earlyRunsMax: number;
  /** Recently sent runs kept for sending to slower peers without regenerating them. */
  readonly recentRunsMax: number;
  /** A peer whose holdings of a third node's stream have not grown for this long is relayed what it lacks. */
  readonly relayAfterMs: number;
  /** Run summaries of each other node's stream kept for relaying, at most (the oldest go first). */
  readonly relayRunsMax: number;
}

/** Tuned for real processes on a LAN or loopback: large runs and windows, generation as fast as acks allow. */
export const PROCESS_TUNING: StreamTuning = {
  runMax: 4096,
  windowMax: 1 << 17,
  generateEveryMs: 1,
  runsPerGenerate: 8,
  ackDelayMs: 1,
  suspectAfterMs: 1000,
  retransmitMinMs: 20,
  retransmitMaxMs: 250,
  earlyRunsMax: 64,
  recentRunsMax: 64,
  relayAfterMs: 200,
  relayRunsMax: 1 << 16,
};

/** Tuned for the simulator: few, small runs, so that thousands of fault schedules run in seconds. */
export const SIMULATION_TUNING: StreamTuning = {
  runMax: 8,
  // Room for a healed peer to catch up within the grace period on links losing a fifth of what they carry: at
  // 128, one seed in 50,000 (122623) ran out of time after one run was lost four times in a row.
  windowMax: 256,
  generateEveryMs: 25,
  runsPerGenerate: 1,
  ackDelayMs: 2,
  suspectAfterMs: 600,
  retransmitMinMs: 10,
  retransmitMaxMs: 150,
  earlyRunsMax: 32,
  recentRunsMax: 16,
  relayAfterMs: 150,
  relayRunsMax: 4096,
};

export interface StreamOptions extends AgreementOptions {
  readonly tuning?: Partial<StreamTuning>;
}

export interface DataMessage {
  readonly t: 'data';
  /** Sequence number of the first value of the run. */
  readonly seq: number;
  /** Hybrid-clock timestamp of the run, in microseconds. */
  readonly ts: number;
  readonly v: Float64Array;
}

export interface StatusMessage {
  readonly t: 'status';
  /** Every run the sender generates after this status has a timestamp above this. */
  readonly ts: number;
  /** The newest status the sender has received from the receiver (its `ts`; 0 if none), and how long ago. */
  readonly echo: number;
  readonly echoAgeMs: number;
  /** Milliseconds until the sender stops sending, 0 once it has: a duration, since hosts' clocks differ. */
  readonly end: number;
  /**
   * By rank, how much of each node's stream the sender holds without gaps: its own entry is how many values it
   * has generated, the receiver's entry acknowledges the receiver's stream.
   */
  readonly held: readonly number[];
  /** By rank, each stream's final length as far as the sender knows it, -1 where it does not. */
  readonly finals: readonly number[];
  /** First sequence numbers of runs of the receiver's stream the sender holds beyond its gap (bounded). */
  readonly have: readonly number[];
  /** Present once the sender has printed its result. */
  readonly done?: DoneReport;
}

/** One run's summary on the wire: [seq, ts, count, Σv, Σj·v as a decimal string (no bigint in the codec)]. */
export type WireRun = readonly [seq: number, ts: number, count: number, sum: number, weighted: string];

/** Runs of a third node's stream (`origin`, by rank), passed on as summaries to a peer that lacks them. */
export interface RelayMessage {
  readonly t: 'relay';
  readonly origin: number;
  readonly runs: readonly WireRun[];
}

export type StreamMessage = DataMessage | StatusMessage | RelayMessage;

/** Every timer name the stream protocol sets: a name outside it is a compile error (protocol/types.ts, rule 4). */
export type StreamTimer = (typeof TIMER)[keyof typeof TIMER] | FinishTimer;
type Fx = Effect<StreamMessage, AgreementOutput, StreamTimer>;

interface PeerLink {
  readonly id: NodeId;
  readonly rank: number;
  acked: number;
  sentUpTo: number;
  lastAckProgressMs: number;
  /** The retransmission timeout and the round-trip estimate behind it (undefined before the first sample). */
  rtoMs: number;
  srttMs: number | undefined;
  rttVarMs: number;
  /** Timestamps of the statuses last sent to the peer and when they went out (a ring), to time its echoes. */
  readonly statusTs: number[];
  readonly statusSentAtMs: number[];
  statusRingNext: number;
  /** The newest status received from the peer, and when: echoed in the next status to it. */
  lastStatusTs: number;
  lastStatusAtMs: number;
  /** The newest echo already measured, so a duplicated status is not measured twice. */
  lastEchoTs: number;
  /**
   * When each run of the peer's window (by first sequence number) last went to it: a run it still lacks while it
   * holds something we sent later was lost, and goes again at once (see resendLost). At most one entry per run in
   * [acked, sentUpTo), so bounded by the window.
   */
  readonly sentAtMs: Map<number, number>;
  lastHeardMs: number;
  /** Runs go to a peer only once it has spoken: before that, sends would be lost on a connection not yet up. */
  heard: boolean;
  ackOwed: boolean;
  /** Runs beyond `acked` the peer said it holds, from its latest status. */
  held: ReadonlySet<number>;
  /** By rank, the peer's holdings of each stream, from its statuses (they only grow). */
  readonly reportedHeld: number[];
  /** By rank, when the peer's holdings of that stream last grew, and when this node last relayed it some. */
  readonly heldGrewAtMs: number[];
  readonly relayedAtMs: number[];
  /** By rank, how far the last relay would take the peer's holdings: once it reports that far, relay on at once. */
  readonly relayedUpTo: number[];
}

interface InboundStream {
  contiguous: number;
  lastTs: number;
  /** Final length of the stream once known (from its sender, or from any peer's holdings); -1 before. */
  final: number;
  /** The final length came from the stream's sender itself, not passed on by a third node. */
  finalFromSender: boolean;
  /** A run that straddled what this node holds was seen: the lane cannot line up with its sender (logged once). */
  misaligned: boolean;
  /** This node lacked summaries a lagging peer needed (the store had dropped them; logged once). */
  relayShort: boolean;
  /** Runs held beyond the first gap, as summaries, by first sequence number (bounded by earlyRunsMax). */
  readonly early: Map<number, Run>;
  /** Summaries of the runs held, for relaying to peers that lack them. */
  readonly relay: RelayStore;
}

type Phase = 'sending' | 'grace' | 'confirming' | 'halted';

export interface StreamState {
  readonly self: NodeId;
  readonly selfRank: number;
  readonly streamId: number;
  readonly options: StreamOptions;
  readonly tuning: StreamTuning;
  readonly clock: HybridClock;
  readonly ledger: Ledger;
  readonly finisher: Finisher;
  readonly peers: PeerLink[];
  readonly peerByid: Map<NodeId, PeerLink>;
  /** Indexed by rank; the entry at selfRank is unused. */
  readonly inbound: InboundStream[];
  phase: Phase;
  generated: number;
  /** Values sent again because a peer lacked them. */
  resent: number;
  /** First sequence number and timestamp of each own run not yet acknowledged by every peer. */
  runSeqs: number[];
  runTimestamps: number[];
  readonly recent: Map<number, DataMessage>;
  finishedLanes: number;
  ackTimerArmed: boolean;
  /** When the retransmission timer is set for; Infinity when it is not. */
  retransmitAtMs: number;
  readonly counters: { rejectedRuns: number; duplicateRuns: number; earlyRuns: number; retransmissions: number; fastRetransmissions: number; relayedRuns: number; relayedInRuns: number };
}

/** Longest `have` list a peer may send: far above any sane earlyRunsMax, a bound on hostile input. */
const HAVE_MAX = 4096;
/** Statuses remembered per peer to time their echoes: more than are in flight at once at any sane ack rate. */
const STATUS_RING = 32;
/** Most run summaries in one relay message (about 200 KB, well under the transport's frame cap). */
export const RELAY_RUNS_PER_MESSAGE = 4096;
/** A relayed run's weighted sum has at most this many digits (2^18 values of at most 10^10: about 3.5·10^20). */
const WEIGHTED_DIGITS_MAX = 32;

const TIMER = { generate: 'generate', tick: 'tick', ack: 'ack', stop: 'stop', retransmit: 'retransmit' } as const;

function init(ctx: InitContext<StreamOptions>): { state: StreamState; effects: Fx[] } {
  const tuning: StreamTuning = { ...PROCESS_TUNING, ...ctx.options.tuning };
  assert(tuning.runMax >= 1 && tuning.runMax <= MAX_SUMMARY_RUN, 'runMax out of range');
  assert(tuning.windowMax >= tuning.runMax, 'the window must hold at least one run');
  // Selective repeat only pays when a receiver can hold a whole window beyond a gap.
  assert(tuning.earlyRunsMax * tuning.runMax >= tuning.windowMax && tuning.earlyRunsMax <= HAVE_MAX, 'earlyRunsMax must cover the window');
  assert(ctx.nodes.length <= MAX_AGREEMENT_NODES, `at most ${MAX_AGREEMENT_NODES} nodes`);
  const ranked = [...ctx.nodes].sort(compareNodeIds);
  const selfRank = ranked.indexOf(ctx.self);
  assert(selfRank >= 0, 'the node list must include self');
  const n = ranked.length;
  const peers: PeerLink[] = ranked
    .map((id, rank) => ({
      id,
      rank,
      acked: 0,
      sentUpTo: 0,
      lastAckProgressMs: ctx.now,
      rtoMs: tuning.retransmitMaxMs,
      srttMs: undefined,
      rttVarMs: 0,
      statusTs: new Array<number>(STATUS_RING).fill(0),
      statusSentAtMs: new Array<number>(STATUS_RING).fill(0),
      statusRingNext: 0,
      lastStatusTs: 0,
      lastStatusAtMs: 0,
      lastEchoTs: 0,
      sentAtMs: new Map<number, number>(),
      lastHeardMs: ctx.now,
      heard: false,
      ackOwed: false,
      held: new Set<number>(),
      reportedHeld: new Array<number>(n).fill(0),
      heldGrewAtMs: new Array<number>(n).fill(ctx.now),
      relayedAtMs: new Array<number>(n).fill(-Infinity),
      relayedUpTo: new Array<number>(n).fill(0),
    }))
    .filter((p) => p.id !== ctx.self);
  const finisher = new Finisher(ctx.self, peers.map((p) => p.id), ctx.startedAtMs, ctx.options);
  const state: StreamState = {
    self: ctx.self,
    selfRank,
    streamId: hashString32(ctx.self),
    options: ctx.options,
    tuning,
    clock: new HybridClock(),
    ledger: new Ledger(n),
    finisher,
    peers,
    peerByid: new Map(peers.map((p) => [p.id, p])),
    inbound: ranked.map(() => ({
      contiguous: 0,
      lastTs: -Infinity,
      final: -1,
      finalFromSender: false,
      misaligned: false,
      relayShort: false,
      early: new Map<number, Run>(),
      relay: new RelayStore(tuning.relayRunsMax),
    })),
    phase: 'sending',
    generated: 0,
    resent: 0,
    runSeqs: [],
    runTimestamps: [],
    recent: new Map(),
    finishedLanes: 0,
    ackTimerArmed: false,
    retransmitAtMs: Infinity,
    counters: { rejectedRuns: 0, duplicateRuns: 0, earlyRuns: 0, retransmissions: 0, fastRetransmissions: 0, relayedRuns: 0, relayedInRuns: 0 },
  };
  const effects: Fx[] = [...finisher.initialTimers<StreamMessage>(), { kind: 'timer', name: TIMER.tick, at: ctx.now + ctx.options.tickMs }];
  if (finisher.sendUntilMs > ctx.now) {
    effects.push({ kind: 'timer', name: TIMER.stop, at: finisher.sendUntilMs }, { kind: 'timer', name: TIMER.generate, at: ctx.now });
  } else {
    // Start-up took the whole send window (or there was none): this node's stream is empty.
    effects.push(...stopSending(state, ctx.now));
  }
  return { state, effects };
}

function step(state: StreamState, input: Input<StreamMessage, never, StreamTimer>, now: number): Fx[] {
  if (state.phase === 'halted') return [];
  const effects = handle(state, input, now);
  armRetransmit(state, effects);
  return effects;
}

function handle(state: StreamState, input: Input<StreamMessage, never, StreamTimer>, now: number): Fx[] {
  const effects: Fx[] = [];
  if (input.kind === 'receive') {
    const peer = state.peerByid.get(input.from);
    if (peer === undefined) {
      effects.push({ kind: 'log', level: 'warn', text: 'message from a node outside the cluster dropped', fields: { from: input.from } });
      return effects;
    }
    const msg = input.msg;
    if (msg.t === 'status' && (msg.held.length !== state.inbound.length || msg.finals.length !== state.inbound.length)) {
      effects.push({ kind: 'log', level: 'warn', text: 'status for a cluster of another size dropped (different peers files?)', fields: { from: peer.id, nodes: msg.held.length } });
      return effects;
    }
    peer.lastHeardMs = now;
    if (!peer.heard) {
      peer.heard = true;
      // First contact: tell the peer where we stand now rather than at the next tick, and start its stream.
      sendStatus(state, peer, now, effects);
      pump(state, now, effects);
    }
    if (msg.t === 'data') onData(state, peer, msg, now, effects);
    else if (msg.t === 'status') onStatus(state, peer, msg, now, effects);
    else onRelay(state, peer, msg, effects);
    settle(state, now, effects);
    return effects;
  }
  switch (input.name) {
    case TIMER.generate:
      generate(state, now);
      pump(state, now, effects);
      settle(state, now, effects);
      if (state.phase === 'sending') effects.push({ kind: 'timer', name: TIMER.generate, at: now + state.tuning.generateEveryMs });
      return effects;
    case TIMER.tick:
      onTick(state, now, effects);
      return effects;
    case TIMER.ack:
      state.ackTimerArmed = false;
      for (const peer of state.peers) if (peer.ackOwed) sendStatus(state, peer, now, effects);
      return effects;
    case TIMER.stop:
      effects.push(...stopSending(state, now));
      return effects;
    case TIMER.retransmit:
      onRetransmitTimer(state, now, effects);
      return effects;
    default: {
      if (input.name === FINISH_TIMERS.print && !state.finisher.printed) effects.push(...deadlineNotes(state, now));
      const finished = state.finisher.onTimer<StreamMessage>(input.name, now, () => forcedResult(state));
      effects.push(...afterFinisher(state, finished));
      return effects;
    }
  }
}

function stopSending(state: StreamState, now: number): Fx[] {
  if (state.phase !== 'sending') return [];
  state.phase = 'grace';
  state.ledger.finish(state.selfRank);
  state.finishedLanes++;
  const effects: Fx[] = [
    { kind: 'timer', name: TIMER.generate, at: null },
    { kind: 'timer', name: TIMER.stop, at: null },
    { kind: 'log', level: 'info', text: 'sending ended', fields: { generated: state.generated } },
  ];
  for (const peer of state.peers) sendStatus(state, peer, now, effects);
  settle(state, now, effects);
  return effects;
}

/** A peer's sending ends sooner than ours: stop with it (at once, if that moment has passed). */
function adoptSendEnd(state: StreamState, remainingMs: number, now: number, effects: Fx[]): void {
  if (state.phase !== 'sending' || !state.finisher.adoptSendEnd(remainingMs, now)) return;
  const at = state.finisher.sendUntilMs;
  if (at <= now) effects.push(...stopSending(state, now));
  else effects.push({ kind: 'timer', name: TIMER.stop, at });
}

/** Generates as many runs as the window of the slowest responsive peer allows. */
function generate(state: StreamState, now: number): void {
  if (state.phase !== 'sending') return;
  const { tuning } = state;
  let room = tuning.windowMax - (state.generated - slowestAck(state, now));
  for (let i = 0; i < tuning.runsPerGenerate && room > 0; i++) {
    const count = Math.min(tuning.runMax, room);
    const seq = state.generated;
    const ts = state.clock.issue(now);
    const msg: DataMessage = { t: 'data', seq, ts, v: valuesOf(state, seq, count) };
    state.ledger.append(state.selfRank, { ts, seq, summary: summarize(msg.v) });
    state.runSeqs.push(seq);
    state.runTimestamps.push(ts);
    remember(state, msg);
    state.generated += count;
    room -= count;
  }
}

/**
 * The acknowledged point generation is held back by: the slowest peer heard from recently. A peer silent for
 * longer does not stall everyone (it catches up by retransmission when it returns), unless every peer is
 * silent, when there is nobody to agree with and generating more would only be lost work.
 */
function slowestAck(state: StreamState, now: number): number {
  let slowest = Infinity;
  let slowestOfAll = Infinity;
  for (const peer of state.peers) {
    if (peer.acked < slowestOfAll) slowestOfAll = peer.acked;
    if (now - peer.lastHeardMs <= state.tuning.suspectAfterMs && peer.acked < slowest) slowest = peer.acked;
  }
  if (slowest !== Infinity) return slowest;
  return slowestOfAll === Infinity ? state.generated : slowestOfAll;
}

function valuesOf(state: StreamState, seq: number, count: number): Float64Array {
  const values = new Float64Array(count);
  for (let i = 0; i < count; i++) values[i] = valueAt(state.options.seed, state.streamId, seq + i);
  return values;
}

function remember(state: StreamState, msg: DataMessage): void {
  state.recent.set(msg.seq, msg);
  if (state.recent.size > state.tuning.recentRunsMax) {
    const oldest = state.recent.keys().next();
    if (oldest.done !== true) state.recent.delete(oldest.value);
  }
}

/** Index of the own run starting at `seq`, or -1 (runs are kept sorted by their first sequence number). */
function findRun(state: StreamState, seq: number): number {
  let lo = 0;
  let hi = state.runSeqs.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const at = state.runSeqs[mid] as number;
    if (at === seq) return mid;
    if (at < seq) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}

function runMessage(state: StreamState, index: number): DataMessage {
  const seq = state.runSeqs[index] as number;
  const cached = state.recent.get(seq);
  if (cached !== undefined) return cached;
  const end = index + 1 < state.runSeqs.length ? (state.runSeqs[index + 1] as number) : state.generated;
  const msg: DataMessage = { t: 'data', seq, ts: state.runTimestamps[index] as number, v: valuesOf(state, seq, end - seq) };
  remember(state, msg);
  return msg;
}

/**
 * Sends every peer the runs its window allows. Run by run rather than peer by peer, so the same message object
 * goes to each peer in a row and the transport encodes it once.
 */
function pump(state: StreamState, now: number, effects: Fx[]): void {
  let from = Infinity;
  for (const peer of state.peers) if (canSend(state, peer) && peer.sentUpTo < from) from = peer.sentUpTo;
  if (from === Infinity) return;
  const start = findRun(state, from);
  assert(start >= 0, "every peer's send point is a run boundary"); // constant: checked on every pump
  for (let index = start; index < state.runSeqs.length; index++) {
    const seq = state.runSeqs[index] as number;
    let msg: DataMessage | undefined;
    let anyActive = false;
    for (const peer of state.peers) {
      if (!canSend(state, peer)) continue;
      anyActive = true;
      if (peer.sentUpTo !== seq) continue;
      msg ??= runMessage(state, index);
      if (peer.sentUpTo === peer.acked) peer.lastAckProgressMs = now;
      effects.push({ kind: 'send', to: peer.id, msg });
      peer.sentUpTo = seq + msg.v.length;
      peer.sentAtMs.set(seq, now);
    }
    if (!anyActive) break;
  }
}

function canSend(state: StreamState, peer: PeerLink): boolean {
  return peer.heard && peer.sentUpTo < state.generated && peer.sentUpTo - peer.acked < state.tuning.windowMax;
}

function onData(state: StreamState, peer: PeerLink, msg: DataMessage, now: number, effects: Fx[]): void {
  const lane = state.inbound[peer.rank] as InboundStream;
  peer.ackOwed = true;
  if (!state.ackTimerArmed) {
    state.ackTimerArmed = true;
    effects.push({ kind: 'timer', name: TIMER.ack, at: now + state.tuning.ackDelayMs });
  }
  if (msg.seq < lane.contiguous) {
    state.counters.duplicateRuns++;
    if (msg.seq + msg.v.length > lane.contiguous && !lane.misaligned) {
      // Only a peer that relayed a run split differently from its sender's can cause this: the lane is stuck.
      lane.misaligned = true;
      effects.push({ kind: 'log', level: 'error', text: 'a run straddles what this node holds: a relay did not match its sender', fields: { from: peer.id, seq: msg.seq, held: lane.contiguous } });
    }
    return;
  }
  const run: Run = { ts: msg.ts, seq: msg.seq, summary: summarize(msg.v) };
  if (msg.seq > lane.contiguous) {
    keepEarly(state, lane, run);
    return;
  }
  if (accept(state, peer.rank, lane, run, effects)) drainEarly(state, peer.rank, lane, effects);
}

/** A run beyond the gap, kept (as a summary) until the gap fills, if there is room. */
function keepEarly(state: StreamState, lane: InboundStream, run: Run): void {
  if (lane.early.size < state.tuning.earlyRunsMax && !lane.early.has(run.seq)) lane.early.set(run.seq, run);
  state.counters.earlyRuns++;
}

/** Runs that arrived ahead of a gap, taken once the gap has filled (by the sender or by a relay). */
function drainEarly(state: StreamState, rank: number, lane: InboundStream, effects: Fx[]): void {
  for (let next = lane.early.get(lane.contiguous); next !== undefined; next = lane.early.get(lane.contiguous)) {
    lane.early.delete(next.seq);
    if (!accept(state, rank, lane, next, effects)) break;
  }
  for (const seq of lane.early.keys()) if (seq < lane.contiguous) lane.early.delete(seq);
}

/** Takes the run that extends the lane of `rank` (the caller checked it starts at `lane.contiguous`). */
function accept(state: StreamState, rank: number, lane: InboundStream, run: Run, effects: Fx[]): boolean {
  if (run.ts <= lane.lastTs || (lane.final >= 0 && run.seq + run.summary.count > lane.final)) {
    state.counters.rejectedRuns++;
    effects.push({ kind: 'log', level: 'warn', text: 'run out of order or past the end of its stream dropped', fields: { stream: rankId(state, rank), seq: run.seq, ts: run.ts } });
    return false;
  }
  state.clock.observe(run.ts);
  state.ledger.append(rank, run);
  lane.relay.add(run);
  lane.lastTs = run.ts;
  lane.contiguous += run.summary.count;
  finishLaneIfComplete(state, rank, lane);
  return true;
}

function onStatus(state: StreamState, peer: PeerLink, msg: StatusMessage, now: number, effects: Fx[]): void {
  state.clock.observe(msg.ts);
  if (msg.ts > peer.lastStatusTs) {
    peer.lastStatusTs = msg.ts;
    peer.lastStatusAtMs = now;
  }
  timeEcho(state, peer, msg, now);
  adoptSendEnd(state, msg.end, now, effects);
  peer.held = new Set(msg.have);
  const acked = msg.held[state.selfRank] as number;
  if (acked > peer.acked && !isRunBoundary(state, acked)) {
    effects.push({ kind: 'log', level: 'warn', text: 'acknowledgement not at a run boundary ignored', fields: { from: peer.id, ack: acked } });
  } else if (acked > peer.acked) {
    peer.acked = acked;
    peer.lastAckProgressMs = now;
    if (peer.sentUpTo < acked) peer.sentUpTo = acked;
    for (const seq of peer.sentAtMs.keys()) if (seq < acked) peer.sentAtMs.delete(seq);
    pruneRuns(state);
    pump(state, now, effects);
  }
  resendLost(state, peer, msg, now, effects);
  for (let rank = 0; rank < state.inbound.length; rank++) {
    const held = msg.held[rank] as number;
    if (held > (peer.reportedHeld[rank] as number)) {
      peer.reportedHeld[rank] = held;
      peer.heldGrewAtMs[rank] = now;
    }
    const final = msg.finals[rank] as number;
    if (final < 0) continue;
    if (rank !== state.selfRank) learnFinal(state, rank, final, peer.rank === rank, peer.id, effects);
  }
  const lane = state.inbound[peer.rank] as InboundStream;
  if (lane.contiguous === msg.held[peer.rank] && msg.ts > lane.lastTs) {
    // The promise covers every later run: one at or below it would break the agreed order, so `accept` rejects it.
    state.ledger.raiseBound(peer.rank, msg.ts);
    lane.lastTs = msg.ts;
  }
  if (msg.done !== undefined) effects.push(...afterFinisher(state, state.finisher.onPeerDone<StreamMessage>(peer.id, msg.done, now)));
}

/** A stream's final length, from its sender or passed on by any peer: the lane is finished once held that far. */
function learnFinal(state: StreamState, rank: number, final: number, fromSender: boolean, from: NodeId, effects: Fx[]): void {
  const lane = state.inbound[rank] as InboundStream;
  if (lane.final === final) {
    lane.finalFromSender ||= fromSender;
    return;
  }
  // The sender's own word beats one passed on, as long as the lane is still open; nothing overrides the sender.
  const replaceable = lane.final < 0 || (fromSender && !lane.finalFromSender && !state.ledger.isFinished(rank));
  if (!replaceable || final < lane.contiguous) {
    effects.push({ kind: 'log', level: 'error', text: 'a final length that contradicts what this node knows; ignored', fields: { from, stream: rankId(state, rank), known: lane.final, held: lane.contiguous, now: final } });
    return;
  }
  lane.final = final;
  lane.finalFromSender = fromSender;
  finishLaneIfComplete(state, rank, lane);
}

/** Summaries of a third node's runs from a peer: taken where they extend what this node holds. */
function onRelay(state: StreamState, peer: PeerLink, msg: RelayMessage, effects: Fx[]): void {
  const rank = msg.origin;
  if (rank >= state.inbound.length || rank === state.selfRank || rank === peer.rank) {
    effects.push({ kind: 'log', level: 'warn', text: 'relay of a stream it cannot carry dropped', fields: { from: peer.id, origin: rank } });
    return;
  }
  const lane = state.inbound[rank] as InboundStream;
  for (const wire of msg.runs) {
    const run = runFromWire(wire);
    if (run.seq < lane.contiguous) continue;
    state.counters.relayedInRuns++;
    if (run.seq > lane.contiguous) keepEarly(state, lane, run);
    else if (accept(state, rank, lane, run, effects)) drainEarly(state, rank, lane, effects);
  }
}

function finishLaneIfComplete(state: StreamState, rank: number, lane: InboundStream): void {
  if (lane.final >= 0 && lane.contiguous === lane.final && !state.ledger.isFinished(rank)) {
    state.ledger.finish(rank);
    state.finishedLanes++;
  }
}

function isRunBoundary(state: StreamState, seq: number): boolean {
  if (seq === state.generated) return true;
  return seq < state.generated && findRun(state, seq) >= 0;
}

/** Own runs every peer has acknowledged are dropped from the run table: memory stays flat. */
function pruneRuns(state: StreamState): void {
  let slowest = Infinity;
  for (const peer of state.peers) if (peer.acked < slowest) slowest = peer.acked;
  let drop = 0;
  while (drop + 1 < state.runSeqs.length && (state.runSeqs[drop + 1] as number) <= slowest) drop++;
  if (drop > 256 || (drop > 0 && drop * 2 > state.runSeqs.length)) {
    state.runSeqs = state.runSeqs.slice(drop);
    state.runTimestamps = state.runTimestamps.slice(drop);
  }
}

/** A status echoing one of ours times the round trip: since we sent it, less how long the peer held it. */
function timeEcho(state: StreamState, peer: PeerLink, msg: StatusMessage, now: number): void {
  if (msg.echo <= peer.lastEchoTs) return;
  const slot = peer.statusTs.indexOf(msg.echo);
  if (slot < 0) return;
  peer.lastEchoTs = msg.echo;
  sampleRoundTrip(state, peer, Math.max(0, now - (peer.statusSentAtMs[slot] as number) - msg.echoAgeMs));
}

/** RFC 6298's estimator: smoothed round trip plus four deviations, within the tuning's bounds. */
function sampleRoundTrip(state: StreamState, peer: PeerLink, rttMs: number): void {
  if (peer.srttMs === undefined) {
    peer.srttMs = rttMs;
    peer.rttVarMs = rttMs / 2;
  } else {
    peer.rttVarMs = 0.75 * peer.rttVarMs + 0.25 * Math.abs(peer.srttMs - rttMs);
    peer.srttMs = 0.875 * peer.srttMs + 0.125 * rttMs;
  }
  peer.rtoMs = clampRto(state, peer.srttMs + Math.max(1, 4 * peer.rttVarMs));
}

function clampRto(state: StreamState, ms: number): number {
  return Math.min(state.tuning.retransmitMaxMs, Math.max(state.tuning.retransmitMinMs, ms));
}

/** Peers whose window has made no progress for their timeout get the runs they lack again; the timeout doubles. */
function onRetransmitTimer(state: StreamState, now: number, effects: Fx[]): void {
  state.retransmitAtMs = Infinity;
  for (const peer of state.peers) {
    // The same sum as armRetransmit's: a difference could round the other way and re-arm the timer for now, forever.
    if (peer.sentUpTo <= peer.acked || peer.lastAckProgressMs + peer.rtoMs > now) continue;
    resendMissing(state, peer, now, effects);
    peer.lastAckProgressMs = now;
    // Back off until the next round trip is measured: the peer may be slow rather than the network lossy.
    peer.rtoMs = clampRto(state, peer.rtoMs * 2);
    state.counters.retransmissions++;
  }
}

/** Keeps the one retransmission timer at the earliest moment a peer's window would be due. */
function armRetransmit(state: StreamState, effects: Fx[]): void {
  if (state.phase === 'halted') return;
  let at = Infinity;
  for (const peer of state.peers) if (peer.sentUpTo > peer.acked && peer.lastAckProgressMs + peer.rtoMs < at) at = peer.lastAckProgressMs + peer.rtoMs;
  if (at === state.retransmitAtMs) return;
  state.retransmitAtMs = at;
  effects.push({ kind: 'timer', name: TIMER.retransmit, at: at === Infinity ? null : at });
}

function onTick(state: StreamState, now: number, effects: Fx[]): void {
  generate(state, now);
  pump(state, now, effects);
  for (const peer of state.peers) sendStatus(state, peer, now, effects);
  relayToLaggingPeers(state, now, effects);
  pruneRelayStores(state);
  settle(state, now, effects);
  effects.push({ kind: 'timer', name: TIMER.tick, at: now + state.options.tickMs });
}

/** Sends a peer again every run between its acknowledged point and what it was sent that it does not hold. */
function resendMissing(state: StreamState, peer: PeerLink, now: number, effects: Fx[]): void {
  const start = findRun(state, peer.acked);
  assert(start >= 0, "a peer's acknowledged point is a run boundary");
  for (let index = start; index < state.runSeqs.length && (state.runSeqs[index] as number) < peer.sentUpTo; index++) {
    if (peer.held.has(state.runSeqs[index] as number)) continue;
    resendRun(state, peer, index, now, effects);
  }
}

function resendRun(state: StreamState, peer: PeerLink, index: number, now: number, effects: Fx[]): void {
  const msg = runMessage(state, index);
  state.resent += msg.v.length;
  peer.sentAtMs.set(msg.seq, now);
  effects.push({ kind: 'send', to: peer.id, msg });
}

/**
 * Time-based loss detection (RACK, RFC 8985): a run the peer lacks was lost if the peer has received something we
 * sent after it, either a run it names as held beyond its gap or the status its status echoes, by more than a
 * reordering window of a quarter round trip. Such runs go again at once rather than after a timeout; each at
 * most once per round trip, since its new send time must in turn be overtaken.
 */
function resendLost(state: StreamState, peer: PeerLink, msg: StatusMessage, now: number, effects: Fx[]): void {
  if (peer.sentUpTo <= peer.acked) return;
  const echoed = peer.statusTs.indexOf(msg.echo);
  let deliveredSentAtMs = echoed < 0 || msg.echo === 0 ? -Infinity : (peer.statusSentAtMs[echoed] as number);
  for (const seq of peer.held) {
    const sentAtMs = peer.sentAtMs.get(seq);
    if (sentAtMs !== undefined && sentAtMs > deliveredSentAtMs) deliveredSentAtMs = sentAtMs;
  }
  const reorderWindowMs = (peer.srttMs ?? state.tuning.retransmitMaxMs) / 4;
  const start = findRun(state, peer.acked);
  assert(start >= 0, "a peer's acknowledged point is a run boundary");
  let resent = false;
  for (let index = start; index < state.runSeqs.length && (state.runSeqs[index] as number) < peer.sentUpTo; index++) {
    const seq = state.runSeqs[index] as number;
    if (peer.held.has(seq) || (peer.sentAtMs.get(seq) ?? -Infinity) + reorderWindowMs >= deliveredSentAtMs) continue;
    resendRun(state, peer, index, now, effects);
    resent = true;
  }
  if (resent) {
    peer.lastAckProgressMs = now;
    state.counters.fastRetransmissions++;
  }
}

/**
 * For every responsive peer and every third node's stream it holds less of than this node: relay it the
 * summaries it lacks, once that stream's sender has been silent here for `relayAfterMs` (dead, paused, cut off)
 * or the peer's holdings of it have not grown for that long (the sender cannot reach it). A relay carries the
 * runs held without gaps from the peer's point on and the runs held beyond this node's own gap, so two nodes
 * with different holes in a dead stream fill each other's at once. Once the peer reports what the last relay
 * gave it, the next goes out at the next tick; a lost relay is sent again after `relayAfterMs`. A live sender's
 * stream reaches its peers directly, so this costs nothing while nothing is wrong; duplicates are dropped.
 */
function relayToLaggingPeers(state: StreamState, now: number, effects: Fx[]): void {
  const { relayAfterMs, suspectAfterMs } = state.tuning;
  for (const peer of state.peers) {
    if (!peer.heard || now - peer.lastHeardMs > suspectAfterMs) continue;
    for (const sender of state.peers) {
      const rank = sender.rank;
      if (rank === peer.rank) continue;
      const lane = state.inbound[rank] as InboundStream;
      const theirs = peer.reportedHeld[rank] as number;
      if (lane.contiguous <= theirs && lane.early.size === 0) continue;
      const senderSilent = now - sender.lastHeardMs >= relayAfterMs;
      const peerStalled = now - (peer.heldGrewAtMs[rank] as number) >= relayAfterMs;
      const lastLanded = theirs >= (peer.relayedUpTo[rank] as number);
      if (!(senderSilent || peerStalled) || (!lastLanded && now - (peer.relayedAtMs[rank] as number) < relayAfterMs)) continue;
      const held = lane.contiguous > theirs ? lane.relay.from(theirs, RELAY_RUNS_PER_MESSAGE) : [];
      if (lane.contiguous > theirs && held.length === 0 && !lane.relayShort) {
        lane.relayShort = true;
        effects.push({ kind: 'log', level: 'warn', text: 'a peer lacks runs this node no longer keeps for relaying', fields: { peer: peer.id, stream: sender.id, theirs, kept: lane.relay.size, overflowed: lane.relay.overflowed } });
      }
      const beyond = [...lane.early.values()].filter((r) => r.seq > theirs).sort((a, b) => a.seq - b.seq);
      const runs = held.concat(beyond.slice(0, RELAY_RUNS_PER_MESSAGE - held.length));
      if (runs.length === 0) continue;
      const last = held[held.length - 1];
      peer.relayedAtMs[rank] = now;
      // With only runs beyond a gap to give, the relay has landed once the peer's holdings move at all.
      peer.relayedUpTo[rank] = last === undefined ? theirs + 1 : last.seq + last.summary.count;
      state.counters.relayedRuns += runs.length;
      const msg: RelayMessage = { t: 'relay', origin: rank, runs: runs.map(runToWire) };
      effects.push({ kind: 'send', to: peer.id, msg });
    }
  }
}

/** Forgets relayable runs of each stream once every peer (other than its sender) holds them. */
function pruneRelayStores(state: StreamState): void {
  for (let rank = 0; rank < state.inbound.length; rank++) {
    if (rank === state.selfRank) continue;
    let heldByAll = Infinity;
    for (const peer of state.peers) if (peer.rank !== rank && (peer.reportedHeld[rank] as number) < heldByAll) heldByAll = peer.reportedHeld[rank] as number;
    (state.inbound[rank] as InboundStream).relay.prune(heldByAll);
  }
}

function sendStatus(state: StreamState, peer: PeerLink, now: number, effects: Fx[]): void {
  peer.ackOwed = false;
  const lane = state.inbound[peer.rank] as InboundStream;
  const report = state.finisher.report;
  const ts = state.clock.issue(now);
  peer.statusTs[peer.statusRingNext] = ts;
  peer.statusSentAtMs[peer.statusRingNext] = now;
  peer.statusRingNext = (peer.statusRingNext + 1) % STATUS_RING;
  const msg: StatusMessage = {
    t: 'status',
    ts,
    echo: peer.lastStatusTs,
    echoAgeMs: peer.lastStatusTs === 0 ? 0 : now - peer.lastStatusAtMs,
    end: state.phase === 'sending' ? state.finisher.remainingSendMs(now) : 0,
    held: state.inbound.map((l, rank) => (rank === state.selfRank ? state.generated : l.contiguous)),
    finals: state.inbound.map((l, rank) => (rank === state.selfRank ? (state.phase === 'sending' ? -1 : state.generated) : l.final)),
    have: [...lane.early.keys()],
    ...(report === undefined ? {} : { done: report }),
  };
  effects.push({ kind: 'send', to: peer.id, msg });
}

/** Folds what is settled and, once every stream is known to its end, outputs the final result. */
function settle(state: StreamState, now: number, effects: Fx[]): void {
  if (state.phase === 'sending') state.ledger.raiseBound(state.selfRank, state.clock.latest);
  state.ledger.commit();
  if (state.finisher.printed || state.finishedLanes < state.inbound.length) return;
  const done = state.finisher.complete<StreamMessage>(state.ledger.committed, [], now);
  effects.push(...afterFinisher(state, done));
  for (const peer of state.peers) sendStatus(state, peer, now, effects);
}

/** The deadline's note (see `deadlineNote`): how much of each unfinished stream this node holds. */
function deadlineNotes(state: StreamState, now: number): Fx[] {
  const heldOf: Record<string, number> = {};
  for (const peer of state.peers) if (!state.ledger.isFinished(peer.rank)) heldOf[peer.id] = (state.inbound[peer.rank] as InboundStream).contiguous;
  const heard = state.peers.filter((p) => p.heard && now - p.lastHeardMs <= state.tuning.suspectAfterMs).map((p) => p.id);
  return deadlineNote<StreamMessage>(heldOf, heard, state.peers.length);
}

function forcedResult(state: StreamState): { summary: Readonly<Summary>; unconfirmed: NodeId[] } {
  state.ledger.commitAll();
  const unconfirmed = state.peers.filter((p) => !state.ledger.isFinished(p.rank)).map((p) => p.id);
  return { summary: state.ledger.committed, unconfirmed };
}

function afterFinisher(state: StreamState, effects: Fx[]): Fx[] {
  state.phase = phaseAfter(state.phase, effects);
  return effects;
}

function rankId(state: StreamState, rank: number): NodeId {
  return rank === state.selfRank ? state.self : (state.peers.find((p) => p.rank === rank)?.id ?? state.self);
}

function runToWire(run: Run): WireRun {
  return [run.seq, run.ts, run.summary.count, Number(run.summary.sum), run.summary.weighted.toString()];
}

function runFromWire(wire: WireRun): Run {
  return { seq: wire[0], ts: wire[1], summary: { count: wire[2], sum: BigInt(wire[3]), weighted: BigInt(wire[4]) } };
}

/** A run summary a real sender could have produced: bounds that follow from values in [1, VALUE_SCALE]. */
function isWireRun(x: unknown): x is WireRun {
  if (!Array.isArray(x) || x.length !== 5) return false;
  const [seq, ts, count, sum, weighted] = x as unknown[];
  if (!isCount(seq) || !isSafeInteger(ts) || !isCount(count) || count < 1 || count > MAX_SUMMARY_RUN) return false;
  if (!isCount(sum) || sum < count || sum > count * VALUE_SCALE) return false;
  if (typeof weighted !== 'string' || weighted.length > WEIGHTED_DIGITS_MAX || !/^[1-9][0-9]*$/.test(weighted)) return false;
  const w = BigInt(weighted);
  // Σj·v lies between Σv (every weight 1) and count·Σv (every weight count).
  return w >= BigInt(sum) && w <= BigInt(count) * BigInt(sum);
}

function isVector(x: unknown, min: number): x is number[] {
  return Array.isArray(x) && x.length >= 1 && x.length <= MAX_AGREEMENT_NODES && x.every((v) => isSafeInteger(v) && v >= min);
}

function isMessage(value: unknown): value is StreamMessage {
  if (!isRecord(value)) return false;
  const m = value;
  if (m.t === 'data') {
    const v = m.v;
    if (!isCount(m.seq) || !isSafeInteger(m.ts) || !(v instanceof Float64Array) || v.length === 0 || v.length > MAX_SUMMARY_RUN) return false;
    for (let i = 0; i < v.length; i++) {
      const x = v[i] as number;
      if (!(x >= 1 && x <= VALUE_SCALE && Number.isInteger(x))) return false;
    }
    return true;
  }
  if (m.t === 'status') {
    return (
      isSafeInteger(m.ts) &&
      isCount(m.echo) &&
      typeof m.echoAgeMs === 'number' &&
      m.echoAgeMs >= 0 &&
      m.echoAgeMs <= MAX_SEND_END_MS &&
      typeof m.end === 'number' &&
      m.end >= 0 &&
      m.end <= MAX_SEND_END_MS &&
      isVector(m.held, 0) &&
      isVector(m.finals, -1) &&
      m.finals.length === m.held.length &&
      Array.isArray(m.have) &&
      m.have.length <= HAVE_MAX &&
      m.have.every(isCount) &&
      (m.done === undefined || isDoneReport(m.done))
    );
  }
  if (m.t === 'relay') {
    return isCount(m.origin) && m.origin < MAX_AGREEMENT_NODES && Array.isArray(m.runs) && m.runs.length <= RELAY_RUNS_PER_MESSAGE && m.runs.every(isWireRun);
  }
  return false;
}

function metrics(state: StreamState): Record<string, number | string | boolean> {
  return {
    phase: state.phase,
    sent: state.generated,
    /** Values of other nodes' streams held without gaps. */
    held: state.peers.reduce((sum, p) => sum + (state.inbound[p.rank] as InboundStream).contiguous, 0),
    committed: state.ledger.committed.count,
    pending: state.ledger.pendingCount,
    retransmissions: state.counters.retransmissions,
    resent: state.resent,
    rejectedRuns: state.counters.rejectedRuns,
    relayedRuns: state.counters.relayedRuns,
    /** Hybrid-clock µs up to which the ledger is folded; only once finite (it starts at -Infinity, ends at Infinity). */
    ...(Number.isFinite(state.ledger.currentWatermark) ? { watermarkUs: state.ledger.currentWatermark } : {}),
    /** Peers whose done report matches this node's printed result, comma-separated (metrics are flat). */
    confirmed: state.finisher.confirmedBy.join(','),
  };
}

/**
 * The stream protocol's invariants (protocol/types.ts, rule 7), in time linear in the peers, lanes and windows:
 * per peer, acknowledged ≤ sent ≤ generated, its window within windowMax plus one run, send times only for runs
 * in its window; per lane, held ≤ final once final is known, early runs beyond what is held and within
 * earlyRunsMax, relay stores within relayRunsMax; the run table covering every peer's unacknowledged part; the
 * ledger's own (its watermark only rises: asserted where it moves).
 */
function invariants(state: StreamState): void {
  // Plain conditions, messages built only on failure: this runs after every simulated step.
  const { tuning } = state;
  if (state.generated < 0 || state.finishedLanes > state.inbound.length) fail(`generated ${state.generated}, finished lanes ${state.finishedLanes}`);
  if (state.runSeqs.length !== state.runTimestamps.length) fail('run table: sequence numbers and timestamps differ in length');
  const firstRun = state.runSeqs[0];
  for (const peer of state.peers) {
    const { acked, sentUpTo } = peer;
    if (acked < 0 || acked > sentUpTo || sentUpTo > state.generated) fail(`${peer.id}: acked ${acked} ≤ sent ${sentUpTo} ≤ generated ${state.generated}`);
    if (sentUpTo - acked >= tuning.windowMax + tuning.runMax) fail(`${peer.id}: ${sentUpTo - acked} values in flight, window ${tuning.windowMax}`);
    if (acked !== state.generated && (firstRun === undefined || firstRun > acked)) fail(`${peer.id}: acknowledged point ${acked} below the run table`);
    for (const seq of peer.sentAtMs.keys()) if (seq < acked || seq >= sentUpTo) fail(`${peer.id}: send time kept for run ${seq} outside [${acked}, ${sentUpTo})`);
    if (peer.rtoMs < tuning.retransmitMinMs || peer.rtoMs > tuning.retransmitMaxMs) fail(`${peer.id}: retransmission timeout ${peer.rtoMs} out of bounds`);
  }
  for (let rank = 0; rank < state.inbound.length; rank++) {
    if (rank === state.selfRank) continue;
    const lane = state.inbound[rank] as InboundStream;
    const { contiguous, final } = lane;
    if (contiguous < 0 || (final >= 0 && contiguous > final)) fail(`lane ${rank}: held ${contiguous}, final ${final}`);
    if (lane.early.size > tuning.earlyRunsMax) fail(`lane ${rank}: ${lane.early.size} early runs, bound ${tuning.earlyRunsMax}`);
    for (const seq of lane.early.keys()) if (seq <= contiguous) fail(`lane ${rank}: early run ${seq} not beyond held ${contiguous}`);
    lane.relay.checkInvariants();
  }
  if (state.recent.size > tuning.recentRunsMax) fail(`${state.recent.size} recent runs, bound ${tuning.recentRunsMax}`);
  state.ledger.checkInvariants();
}

function fail(text: string): never {
  throw new AssertionError(`stream invariant: ${text}`);
}

export const streamProtocol: Protocol<StreamState, StreamMessage, AgreementOutput, StreamOptions, never, StreamTimer> = {
  name: 'stream',
  init,
  step,
  isMessage,
  metrics,
  invariants,
};
