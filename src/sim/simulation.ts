/**
 * The deterministic simulator (in the manner of TigerBeetle's VOPR and FoundationDB's simulation): runs any
 * sans-IO `Protocol` on many virtual nodes, on seeded virtual time, over a simulated network with scheduled
 * partitions, crash/restart and pause faults (see faults.ts), and nodes that start at different times.
 *
 * A node's life: its process starts at `startAtMs(node)` (default: the epoch `startMs`), and `protocol.init`
 * runs `initDelayMs(node)` later (default 0; module loading, binding a socket), with `startedAtMs` = the process
 * start and `now` = the actual time, both in the node's skewed clock. Every restart is a new process and pays the
 * delay again (its `startedAtMs` is the restart time). From its init until it crashes the node is up: it
 * receives, fires timers and takes injected inputs; before, injected inputs are dropped. A message sent before
 * its destination's first init is refused (as a TCP connect to a port nobody listens on yet is): it is dropped
 * and counted in `droppedAtUnstartedNode`; inits at the same instant count as simultaneous. Once a node has been
 * up, the crash rules of faults.ts apply instead (a network that does not know the node is down). Nodes starting
 * at the epoch start before any event, in node order; later starts are events, in node order at equal times and
 * ahead of faults scheduled for the same time. A delayed init is an event scheduled when its process starts.
 *
 * Determinism: the only randomness is one `Prng(seed)`, forked per concern; the agenda breaks time ties by
 * insertion order; nothing reads a clock or iterates an unordered structure. Same seed + same config ⇒ the
 * same report, bit for bit (the report's `fingerprint` hashes every event processed, to compare runs cheaply).
 *
 * Each node runs in a node kernel (src/kernel/node-kernel.ts), as it does in a process: the kernel holds its
 * state and timer table and carries out the contract's rules (protocol/types.ts); the simulator only moves
 * messages and time. A node has one timer event on the agenda at a time, for its kernel's earliest timer; timers
 * keep the place in the order of equal times they had when set, so runs are what they were before the kernel.
 * The kernel checks the protocol's `invariants` after every init and step (`checkInvariants`, default on).
 *
 * Every failure (a protocol throwing, an invariant failing, an invariant listener throwing, a malformed message,
 * a bound exceeded) surfaces as a `SimulationError` whose message names the seed, the virtual time and the node.
 */
import { assert } from '../core/assert.js';
import type { NodeId } from '../core/ids.js';
import { hash32, Prng } from '../core/prng.js';
import { Ring } from '../core/ring.js';
import { InvariantError, NodeKernel, type KernelSink } from '../kernel/node-kernel.js';
import type { Input, LogLevel, Protocol } from '../protocol/types.js';
import type { DurableStore } from '../kernel/durable-store.js';
import type { Transport } from '../transport/transport.js';
import { SimDisk } from './durable-store.js';
import { EventQueue } from './event-queue.js';
import { PartitionTable, validateNodeFaults, type Fault } from './faults.js';
import { drawLatencyMs, LinkTable, type NetworkModel } from './network.js';

export const DEFAULT_MAX_STEPS = 5_000_000;
export const DEFAULT_MAX_QUEUED_EVENTS = 5_000_000;
export const DEFAULT_LOG_CAPACITY = 256;
/** Set this to a seed to make `testSeeds` return just that seed: the replay switch printed by `withSeed`. */
export const REPLAY_SEED_ENV = 'CHATTERBOX_SEED';
const MAX_SEED = 0xffffffff;

export interface SimulationConfig<Options, Msg> {
  /** A 32-bit unsigned integer; the whole run is a function of it and the rest of this config. */
  readonly seed: number;
  /** Distinct ids; passed to every node's `init` in this order. */
  readonly nodes: readonly NodeId[];
  readonly optionsFor: (node: NodeId) => Options;
  readonly network: NetworkModel;
  readonly faults?: readonly Fault[];
  /** `run()` stops here (virtual ms) at the latest. */
  readonly untilMs: number;
  /** The virtual epoch: the run's clock starts here. Default 0. */
  readonly startMs?: number;
  /** When the node's process starts (virtual ms, finite, >= startMs). Default startMs for every node. */
  readonly startAtMs?: (node: NodeId) => number;
  /**
   * How long after each start of the node's process (the first and every restart) `protocol.init` runs (finite
   * ms >= 0). Until then the node is not up. Default 0.
   */
  readonly initDelayMs?: (node: NodeId) => number;
  /** A constant skew added to the `now` a node sees (its timer deadlines are read in the same skewed clock). */
  readonly clockOffsetMs?: (node: NodeId) => number;
  /** Encoded size of a message, for byte metrics. Without it bytes count as 0. */
  readonly sizeOf?: (msg: Msg) => number;
  /**
   * Applied to every copy put on the wire, e.g. `(m) => decode(encode(m))` to exercise the real codec and to
   * catch aliasing (a sender mutating a message after sending it). Default: copies share the sent object, so
   * protocols must treat messages as immutable.
   */
  readonly copyMessage?: (msg: Msg) => Msg;
  /**
   * A message failing `protocol.isMessage` is dropped and counted by the kernel, as in a process; with this on
   * (the default) it also fails the run: simulated peers are not hostile, so it is a codec-shape or protocol bug.
   */
  readonly checkMessages?: boolean;
  /** Check `protocol.invariants` (when it has them) after every init and step; a failure fails the run. Default true. */
  readonly checkInvariants?: boolean;
  /** Bound on processed events; exceeding it throws a SimulationError. Default 5,000,000. */
  readonly maxSteps?: number;
  /** Bound on the agenda's size plus what paused nodes hold (runaway sends or timers). Default 5,000,000. */
  readonly maxQueuedEvents?: number;
  /** How many recent log entries the report and errors keep (a whole number; 0 keeps none). Default 256. */
  readonly logCapacity?: number;
}

export interface SimLogEntry {
  readonly atMs: number;
  /** The node that logged, or null for the simulator's own entries about no single node. */
  readonly node: NodeId | null;
  readonly level: LogLevel;
  readonly text: string;
  readonly fields?: Readonly<Record<string, unknown>>;
}

export interface SimulationStats {
  /** `send` effects carried out. */
  sent: number;
  /** Messages handed to the node's kernel (its guard may still drop one: see `checkMessages`). */
  delivered: number;
  /** Lost by the link's lossRate. */
  lost: number;
  /** Extra copies created by the link's duplicateRate. */
  duplicated: number;
  /** Dropped at send or delivery time by a partition. */
  droppedByPartition: number;
  /** Addressed to a node that was down (or restarting, before its init) at delivery, or crashed while the message was in flight. */
  droppedAtCrashedNode: number;
  droppedAtHaltedNode: number;
  /**
   * Sent before the destination first initialised (not started yet, or its first init still to come): refused,
   * like a TCP connect to a port nobody listens on yet. Judged when the message would arrive.
   */
  droppedAtUnstartedNode: number;
  /**
   * Copies not yet delivered or dropped when the report was taken: on the wire, or held for a paused node.
   * Conservation: sent + duplicated = delivered + lost + droppedByPartition + droppedAtCrashedNode +
   * droppedAtHaltedNode + droppedAtUnstartedNode + inFlight.
   */
  inFlight: number;
  /** Messages that reached a paused node and were held for its resume (each is then delivered or dropped). */
  heldByPause: number;
  timersFired: number;
  /** Injected inputs handed to the node's kernel. */
  injected: number;
  /** Injected inputs addressed to a node that was not up (down, not started, or starting) or halted. */
  injectedDropped: number;
  /** Events processed (including stale timer events). */
  steps: number;
  bytesSent: number;
  bytesDelivered: number;
}

export interface NodeStats {
  sent: number;
  received: number;
  bytesSent: number;
  bytesReceived: number;
}

export interface SimulationReport<Out> {
  readonly seed: number;
  /** The virtual time the run stopped at: untilMs, or earlier when it ran out of anything to do. */
  readonly endedAtMs: number;
  /** Every node's outputs in order, at global virtual time; every node has an entry. */
  readonly outputs: Map<NodeId, Array<{ atMs: number; value: Out }>>;
  /** Nodes whose current incarnation halted, with when. A restart removes the entry. */
  readonly halted: Map<NodeId, number>;
  /** Nodes not up at the end: crashed, or not (re)started and initialised yet. */
  readonly crashed: Set<NodeId>;
  readonly stats: SimulationStats;
  readonly perNode: Map<NodeId, NodeStats>;
  /** The most recent log entries (protocol logs plus the simulator's crash/restart/halt lines), oldest first. */
  readonly logs: SimLogEntry[];
  /** A hash of every event processed: equal fingerprints ⇒ (almost surely) identical runs. */
  readonly fingerprint: number;
}

export class SimulationError extends Error {
  override readonly name = 'SimulationError';
  readonly seed: number;
  readonly atMs: number | undefined;
  readonly node: NodeId | undefined;
  /** The simulation's recent log entries when the error happened, for the failure report. */
  readonly recentLogs: readonly SimLogEntry[];

  constructor(
    seed: number,
    text: string,
    details: { atMs?: number; node?: NodeId; cause?: unknown; recentLogs?: readonly SimLogEntry[] } = {},
  ) {
    const where = (details.atMs === undefined ? '' : ` at ${details.atMs}ms`) + (details.node === undefined ? '' : ` node=${details.node}`);
    const because = details.cause === undefined ? '' : `: ${describe(details.cause)}`;
    super(`seed=${seed}${where}: ${text}${because}`, details.cause === undefined ? undefined : { cause: details.cause });
    this.seed = seed;
    this.atMs = details.atMs;
    this.node = details.node;
    this.recentLogs = details.recentLogs ?? [];
  }
}

function describe(e: unknown): string {
  return e instanceof Error ? `${e.name}: ${e.message}` : String(e);
}

/**
 * Set this (with CHATTERBOX_SEED) to a file name to have the replayed seed drawn as a page: the switch printed by
 * `withSeed` for sweeps without a `chatterbox sim` command. test/support/picture.ts reads it; src/sim never does.
 */
export const PICTURE_ENV = 'CHATTERBOX_PICTURE';

/** Told of each seed `withSeed` ran: its label and, when it failed, the error `fn` threw (not the wrapped one). */
export type SeedListener = (seed: number, label: string, error: { readonly thrown: unknown } | undefined) => void;
/** Told of every Simulation built, before anything happens in it (so a trace recorder sees the whole run). */
export type SimulationListener = (sim: AnySimulation) => void;
/**
 * A simulation whatever its protocol. The type arguments are erased to their widest: a listener may read a run
 * (nodes, faults, trace) but has no typed way to feed it messages, which is all a picture needs.
 */
// `any`, not `unknown`: a concrete Simulation's listener and protocol parameters are contravariant, so it is not a
// Simulation<unknown, …>; nothing here feeds the simulation a value, so no unchecked value flows in.
export type AnySimulation = Simulation<any, any, any, any, any, string>;

/**
 * At most this many listeners of each kind: a test-support module installs one; more means a listener is
 * installed per test and never removed, which would slow every later simulation.
 */
export const MAX_SIM_LISTENERS = 4;
const seedListeners: SeedListener[] = [];
const simulationListeners: SimulationListener[] = [];

function addListener<L>(list: L[], listener: L): () => void {
  if (list.length >= MAX_SIM_LISTENERS) throw new RangeError(`more than ${MAX_SIM_LISTENERS} simulator listeners: remove one before adding another`);
  list.push(listener);
  return () => {
    const i = list.indexOf(listener);
    if (i >= 0) list.splice(i, 1);
  };
}

/** Calls `listener` with every seed `withSeed` settles; returns the function that removes it. */
export function onSeedSettled(listener: SeedListener): () => void {
  return addListener(seedListeners, listener);
}

/** Calls `listener` with every Simulation constructed from now on; returns the function that removes it. */
export function onSimulationCreated(listener: SimulationListener): () => void {
  return addListener(simulationListeners, listener);
}

/**
 * Runs `fn`; if it throws (or its promise rejects), rethrows an Error whose message starts with
 * `${label} failed with seed=${seed} (replay: CHATTERBOX_SEED=${seed}; picture: …)`, keeping the original as `cause`.
 * With `picture`, the `chatterbox sim` command that replays the seed (`chatterbox sim --protocol stream --seed 7`),
 * the hint draws it with that command (`npx chatterbox sim … --report seed-7.html`); without, it replays the test
 * file with CHATTERBOX_PICTURE set (`testPictureCommand`). Either way the seed's listeners are told how it ended.
 */
export function withSeed<T>(seed: number, label: string, fn: () => T, picture?: string): T {
  const hint = `; picture: ${picture === undefined ? testPictureCommand(seed) : pictureCommand(picture, seed)}`;
  const settle = (error: { thrown: unknown } | undefined): void => {
    for (const l of seedListeners) l(seed, label, error);
  };
  const wrap = (e: unknown): Error => {
    settle({ thrown: e });
    return new Error(`${label} failed with seed=${seed} (replay: ${REPLAY_SEED_ENV}=${seed}${hint}): ${describe(e)}`, { cause: e });
  };
  let result: T;
  try {
    result = fn();
  } catch (e) {
    throw wrap(e);
  }
  if (result instanceof Promise) {
    // The cast is sound: T is this promise's type, and then/rethrow keeps its resolution type.
    return result.then(
      (v: unknown) => {
        settle(undefined);
        return v;
      },
      (e: unknown) => {
        throw wrap(e);
      },
    ) as T;
  }
  settle(undefined);
  return result;
}

/** The command that draws a seed as a page: `sim` the replay command (starting `chatterbox sim`), plus `--report`. */
export function pictureCommand(sim: string, seed: number): string {
  return `npx ${sim} --report seed-${seed}.html`;
}

/**
 * The command that replays a seed of the running test file with its simulation drawn:
 * `CHATTERBOX_SEED=7 CHATTERBOX_PICTURE=seed-7.html npm test -- gossip-sim`. The file is this process's script
 * (`node --test` runs each file as its own process), named as `npm test` filters: its path under test/.
 */
export function testPictureCommand(seed: number, script: string | undefined = process.argv[1]): string {
  const filter = testFilter(script);
  return `${REPLAY_SEED_ENV}=${seed} ${PICTURE_ENV}=seed-${seed}.html npm test${filter === undefined ? '' : ` -- ${filter}`}`;
}

/** `dist/test/process/cli.test.js` → `process/cli`; undefined when the script is not a test file. */
export function testFilter(script: string | undefined): string | undefined {
  if (script === undefined) return undefined;
  const path = script.split('\\').join('/');
  const match = /(?:^|\/)test\/(.+)\.test\.[cm]?[jt]s$/.exec(path);
  return match === null ? undefined : match[1];
}

/**
 * Seeds for a randomized test: `count` seeds from `first`, or only the seed in $CHATTERBOX_SEED when set
 * (so a failure printed by `withSeed` replays with `CHATTERBOX_SEED=N node --test dist/test/x.test.js`).
 */
export function testSeeds(count: number, first = 1): number[] {
  const fromEnv = process.env[REPLAY_SEED_ENV];
  if (fromEnv !== undefined && fromEnv !== '') {
    const seed = Number(fromEnv);
    if (!Number.isInteger(seed) || seed < 0 || seed > MAX_SEED) throw new RangeError(`${REPLAY_SEED_ENV}=${fromEnv} is not a 32-bit seed`);
    return [seed];
  }
  return Array.from({ length: count }, (_, i) => (first + i) >>> 0);
}

// ---- events ---------------------------------------------------------------------------------------------------

interface DeliverEvent<Msg> {
  kind: 'deliver';
  at: number;
  seq: number;
  from: number;
  to: number;
  /** The trace's name for the message (both copies of a duplicate share it). */
  id: number;
  msg: Msg;
  sentAt: number;
  /** The destination's crash count at send time: a crash in between loses the message. */
  epoch: number;
  bytes: number;
}
/** A node's kernel's earliest timer falls due; stale unless `gen` is the node's current `wakeGen`. */
interface TimerEvent {
  kind: 'timer';
  at: number;
  seq: number;
  node: number;
  gen: number;
}
interface CrashEvent {
  kind: 'crash';
  at: number;
  seq: number;
  node: number;
  loseDurableState: boolean;
}
/** A process start (the first, scheduled by startAtMs, or a restart), a pause or a resume. */
interface LifecycleEvent {
  kind: 'start' | 'restart' | 'pause' | 'resume';
  at: number;
  seq: number;
  node: number;
}
/** A delayed `protocol.init`, for the process that was running at the given crash count. */
interface InitEvent {
  kind: 'init';
  at: number;
  seq: number;
  node: number;
  epoch: number;
}
/** What a test may inject: a message or a client's request (timers are the protocol's own: rule 4). */
export type InjectedInput<Msg, Req> = Exclude<Input<Msg, Req>, { kind: 'timer' }>;

interface InjectEvent<Msg, Req> {
  kind: 'inject';
  at: number;
  seq: number;
  node: number;
  input: InjectedInput<Msg, Req>;
}
type SimEvent<Msg, Req> = DeliverEvent<Msg> | TimerEvent | CrashEvent | LifecycleEvent | InitEvent | InjectEvent<Msg, Req>;

/** Codes mixed into the fingerprint, one per outcome. */
const FP_DELIVERED = 1;
const FP_LOST_PARTITION = 2;
const FP_LOST_CRASHED = 3;
const FP_LOST_HALTED = 4;
const FP_TIMER = 5;
const FP_CRASH = 6;
const FP_RESTART = 7;
const FP_INJECT = 8;
const FP_INJECT_DROPPED = 9;
const FP_OUTPUT = 10;
const FP_HALT = 11;
const FP_START = 12;
const FP_INIT = 13;
const FP_PAUSE = 14;
const FP_RESUME = 15;
const FP_HELD_MESSAGE = 16;
const FP_HELD_TIMER = 17;
const FP_HELD_INJECT = 18;
const FP_REFUSED = 19;

/** What a paused node's kernel holds for it until it resumes. */
interface Held<Msg, Req> {
  /** A delayed init that fell due during the pause. */
  init: InitEvent | null;
  /** The node's earliest timer fell due: at resume, every timer due by then fires, in order. */
  wake: boolean;
  /** Messages and injected inputs, in arrival order. */
  readonly inputs: Array<DeliverEvent<Msg> | InjectEvent<Msg, Req>>;
}

interface NodeSlot<State, Options, Msg, Out, Req, Timer extends string> {
  readonly id: NodeId;
  readonly offsetMs: number;
  readonly options: Options;
  /** When the node's process first starts (global virtual ms). */
  readonly startAtMs: number;
  readonly initDelayMs: number;
  /** The running process's kernel (undefined while the node is down or not yet initialised). */
  kernel: NodeKernel<State, Msg, Out, Options, Req, Timer> | undefined;
  /** Where the kernel hands the node's effects; one per node, it outlives restarts. */
  readonly sink: KernelSink<Msg, Out>;
  /** Initialised and not crashed since. */
  up: boolean;
  /** The process runs but has not initialised yet (a slow start). */
  starting: boolean;
  /** When the current (or last) process started, in global virtual ms: init's startedAtMs before the skew. */
  processStartedAt: number;
  /** When it first initialised (Infinity until then): messages sent to it earlier are refused. */
  firstUpAt: number;
  /** Non-null while the process is paused. */
  held: Held<Msg, Req> | null;
  /** Incremented on every crash. */
  epoch: number;
  /** Bumped whenever the node's timer event is replaced or dropped: older timer events are stale. */
  wakeGen: number;
  /** The (due, stamp) of the kernel timer the live timer event is for; stamp -1 when there is none. */
  wakeDue: number;
  wakeStamp: number;
  /** The node's disk (`persist` effects): survives crashes, handed back at every init (sim/durable-store.ts). */
  readonly disk: SimDisk;
  /** The running process's handle on the disk, opened at its init and closed by its crash. */
  store: DurableStore | undefined;
  /** The running process's endpoint on the network, opened at its init and closed by its crash. */
  endpoint: SimEndpoint<Msg> | undefined;
  readonly stats: NodeStats;
}

/**
 * A node process's endpoint on the simulated network: the simulator's `Transport` (transport/transport.ts), the
 * one its kernel sends through. Sends are the simulator's (loss, duplication, latency, partitions: network.ts,
 * faults.ts); deliveries reach the kernel through the simulator, which drops those for a closed endpoint.
 */
class SimEndpoint<Msg> implements Transport<Msg> {
  private open = true;

  constructor(
    readonly self: NodeId,
    private readonly sendAs: (to: NodeId, msg: Msg) => void,
  ) {}

  get isOpen(): boolean {
    return this.open;
  }

  send(to: NodeId, msg: Msg): boolean {
    if (!this.open || to === this.self) return false;
    this.sendAs(to, msg);
    return true;
  }

  close(): Promise<void> {
    this.open = false;
    return Promise.resolve();
  }
}

/** Whether the node's running process halted: its kernel's word (a restart is a new kernel, a crash none). */
function halted(slot: { readonly kernel: { readonly isHalted: boolean } | undefined }): boolean {
  return slot.kernel?.isHalted === true;
}

export type OutputListener<Out> = (node: NodeId, atMs: number, value: Out) => void;
/**
 * What happened in a run, one event per thing a node or the network did, for pictures of a seed
 * (src/sim/trace.ts keeps a bounded record). `id` names a message from its send to its fate: both copies of a
 * duplicated message share it. Times are global virtual ms.
 */
export type SimTraceEvent<Msg, Out> =
  | { readonly kind: 'send'; readonly atMs: number; readonly id: number; readonly from: NodeId; readonly to: NodeId; readonly msg: Msg }
  | { readonly kind: 'receive'; readonly atMs: number; readonly id: number; readonly from: NodeId; readonly to: NodeId }
  | { readonly kind: 'duplicate'; readonly atMs: number; readonly id: number; readonly from: NodeId; readonly to: NodeId }
  | { readonly kind: 'drop'; readonly atMs: number; readonly id: number; readonly from: NodeId; readonly to: NodeId; readonly reason: SimDropReason }
  | { readonly kind: 'timer'; readonly atMs: number; readonly node: NodeId; readonly name: string }
  | { readonly kind: 'output'; readonly atMs: number; readonly node: NodeId; readonly value: Out }
  | { readonly kind: 'request'; readonly atMs: number; readonly node: NodeId; readonly body: unknown }
  | { readonly kind: 'start' | 'restart' | 'init' | 'crash' | 'pause' | 'resume' | 'halt'; readonly atMs: number; readonly node: NodeId }
  | { readonly kind: 'failure'; readonly atMs: number; readonly node: NodeId | null; readonly text: string };
/** Why a message was not delivered: the link lost it, a partition cut it, or its destination was down, halted or not yet started. */
export type SimDropReason = 'loss' | 'partition' | 'crashed' | 'halted' | 'unstarted';
export type TraceListener<Msg, Out> = (event: SimTraceEvent<Msg, Out>) => void;
/** Called after each init and step of a node with its state: the place for invariant checks (throw to fail). */
export type StepListener<State> = (node: NodeId, atMs: number, state: State) => void;

/**
 * `Timer` is the protocol's timer names (protocol/types.ts, rule 4), inferred from the protocol when the type
 * arguments are left out, so the kernel each node runs is typed with them; `string` when they are given up to `Req`.
 */
export class Simulation<State, Msg, Out, Options, Req = never, Timer extends string = string> {
  readonly seed: number;
  private readonly protocol: Protocol<State, Msg, Out, Options, Req, Timer>;
  private readonly config: SimulationConfig<Options, Msg>;
  private readonly nodeIds: readonly NodeId[];
  private readonly indexOf = new Map<NodeId, number>();
  private readonly slots: NodeSlot<State, Options, Msg, Out, Req, Timer>[] = [];
  private readonly links: LinkTable;
  private readonly partitions: PartitionTable;
  private readonly queue = new EventQueue<SimEvent<Msg, Req>>();
  private readonly lossPrng: Prng;
  private readonly duplicatePrng: Prng;
  private readonly latencyPrng: Prng;
  private readonly maxSteps: number;
  private readonly maxQueued: number;
  private readonly checkMessages: boolean;
  private readonly checkInvariants: boolean;
  private readonly logs: Ring<SimLogEntry>;
  private readonly outputs = new Map<NodeId, Array<{ atMs: number; value: Out }>>();
  private readonly haltedAt = new Map<NodeId, number>();
  private readonly outputListeners: OutputListener<Out>[] = [];
  private readonly stepListeners: StepListener<State>[] = [];
  private readonly traceListeners: TraceListener<Msg, Out>[] = [];
  /** Numbers messages for the trace, from their send to their fate. */
  private nextMessageId = 0;
  private readonly stats: SimulationStats = {
    sent: 0,
    delivered: 0,
    lost: 0,
    duplicated: 0,
    droppedByPartition: 0,
    droppedAtCrashedNode: 0,
    droppedAtHaltedNode: 0,
    droppedAtUnstartedNode: 0,
    inFlight: 0,
    heldByPause: 0,
    timersFired: 0,
    injected: 0,
    injectedDropped: 0,
    steps: 0,
    bytesSent: 0,
    bytesDelivered: 0,
  };
  private now: number;
  /** Nodes that are up and not halted. */
  private active = 0;
  /** Entries paused nodes hold (see Held). */
  private heldCount = 0;
  /** Agenda entries other than timers (deliveries, faults, starts, inits, injections): while any remain the run is not over. */
  private pendingNonTimer = 0;
  private fp = 0x811c9dc5;
  private running = false;
  private failure: SimulationError | undefined;

  constructor(protocol: Protocol<State, Msg, Out, Options, Req, Timer>, config: SimulationConfig<Options, Msg>) {
    this.protocol = protocol;
    this.config = config;
    const seed = config.seed;
    if (!Number.isInteger(seed) || seed < 0 || seed > MAX_SEED) {
      throw new SimulationError(Number(seed), `invalid config: seed must be an integer in [0, 2^32)`);
    }
    this.seed = seed;
    this.now = config.startMs ?? 0;
    this.maxSteps = config.maxSteps ?? DEFAULT_MAX_STEPS;
    this.maxQueued = config.maxQueuedEvents ?? DEFAULT_MAX_QUEUED_EVENTS;
    this.checkMessages = config.checkMessages ?? true;
    this.checkInvariants = config.checkInvariants ?? true;
    // One root generator, one fork per concern, in a fixed order: new concerns fork after these.
    const root = new Prng(seed);
    this.lossPrng = root.fork();
    this.duplicatePrng = root.fork();
    this.latencyPrng = root.fork();

    try {
      const logCapacity = config.logCapacity ?? DEFAULT_LOG_CAPACITY;
      if (!(Number.isSafeInteger(logCapacity) && logCapacity >= 0)) throw new RangeError(`logCapacity must be a whole number, got ${logCapacity}`);
      this.logs = new Ring(logCapacity);
      if (config.nodes.length === 0) throw new RangeError('nodes is empty');
      if (!Number.isFinite(this.now)) throw new RangeError('startMs must be finite');
      if (!(Number.isFinite(config.untilMs) && config.untilMs >= this.now)) throw new RangeError('untilMs must be finite and >= startMs');
      this.nodeIds = Object.freeze(config.nodes.slice());
      this.nodeIds.forEach((id, i) => {
        if (this.indexOf.has(id)) throw new RangeError(`node ${id} is listed twice`);
        this.indexOf.set(id, i);
      });
      this.links = new LinkTable(this.nodeIds.length, this.indexOf, config.network);
      const faults = config.faults ?? [];
      this.partitions = new PartitionTable(this.nodeIds.length, this.indexOf, faults);
      validateNodeFaults(faults, (node) => this.indexOf.has(node));
      for (const id of this.nodeIds) {
        const offsetMs = config.clockOffsetMs === undefined ? 0 : config.clockOffsetMs(id);
        if (!Number.isFinite(offsetMs)) throw new RangeError(`clockOffsetMs(${id}) is not finite`);
        const startAtMs = config.startAtMs === undefined ? this.now : config.startAtMs(id);
        if (!(Number.isFinite(startAtMs) && startAtMs >= this.now)) throw new RangeError(`startAtMs(${id}) must be finite and >= startMs, got ${startAtMs}`);
        const initDelayMs = config.initDelayMs === undefined ? 0 : config.initDelayMs(id);
        if (!(Number.isFinite(initDelayMs) && initDelayMs >= 0)) throw new RangeError(`initDelayMs(${id}) must be finite and >= 0, got ${initDelayMs}`);
        const index = this.slots.length;
        this.slots.push({
          id,
          offsetMs,
          options: config.optionsFor(id),
          startAtMs,
          initDelayMs,
          kernel: undefined,
          sink: this.sinkFor(index),
          up: false,
          starting: false,
          processStartedAt: startAtMs,
          firstUpAt: Infinity,
          held: null,
          epoch: 0,
          wakeGen: 0,
          wakeDue: 0,
          wakeStamp: -1,
          disk: new SimDisk(id),
          store: undefined,
          endpoint: undefined,
          stats: { sent: 0, received: 0, bytesSent: 0, bytesReceived: 0 },
        });
        this.outputs.set(id, []);
      }
      // Late starts go on the agenda before the faults, so a start wins a tie with a fault as an epoch start does.
      this.slots.forEach((slot, node) => {
        if (slot.startAtMs > this.now) this.schedule({ kind: 'start', at: slot.startAtMs, seq: 0, node });
      });
      for (const f of faults) {
        if (f.kind === 'partition') continue;
        // Virtual time never runs backwards.
        if (f.atMs < this.now) throw new RangeError(`a ${f.kind} of ${f.node} at ${f.atMs}ms is before startMs`);
        const node = this.indexOf.get(f.node)!;
        if (f.kind === 'pause') {
          this.schedule({ kind: 'pause', at: f.atMs, seq: 0, node });
          this.schedule({ kind: 'resume', at: f.resumeAtMs, seq: 0, node });
          continue;
        }
        this.schedule({ kind: 'crash', at: f.atMs, seq: 0, node, loseDurableState: f.loseDurableState === true });
        if (f.restartAtMs !== undefined) this.schedule({ kind: 'restart', at: f.restartAtMs, seq: 0, node });
      }
    } catch (e) {
      if (e instanceof SimulationError) throw e;
      throw new SimulationError(seed, 'invalid config', { cause: e });
    }
    // Before the first event, so that an observer (a trace recorder) sees the whole run.
    for (const l of simulationListeners) l(this);
    // The nodes that start at the epoch, in node order (those without an init delay init right here).
    this.guard(() => {
      for (let i = 0; i < this.slots.length; i++) if (this.slots[i]!.startAtMs === this.now) this.startProcess(i);
    });
  }

  get nowMs(): number {
    return this.now;
  }

  get nodes(): readonly NodeId[] {
    return this.nodeIds;
  }

  /** The fault schedule the run was built with (for a picture of the run). */
  get faults(): readonly Fault[] {
    return this.config.faults ?? [];
  }

  /** True when every node that is up has halted and no delivery, fault or injection is pending. */
  get finished(): boolean {
    return this.active === 0 && this.pendingNonTimer === 0;
  }

  /** The node's state, or undefined while it is down. Treat it as read-only. */
  state(node: NodeId): State | undefined {
    return this.slot(node).kernel?.state;
  }

  /** The node's protocol metrics and its kernel's counters (`kernel.*`), or undefined while it is down. */
  metrics(node: NodeId): Readonly<Record<string, number | string | boolean>> | undefined {
    return this.slot(node).kernel?.metrics();
  }

  isUp(node: NodeId): boolean {
    return this.slot(node).up;
  }

  isHalted(node: NodeId): boolean {
    const s = this.slot(node);
    return s.up && halted(s);
  }

  /** True while the node's process is stopped by a pause fault. */
  isPaused(node: NodeId): boolean {
    return this.slot(node).held !== null;
  }

  /**
   * The node's endpoint on the network while its process runs (undefined while it is down): what its kernel
   * sends through, and what a test may send through as the node between `runUntil` calls.
   */
  endpoint(node: NodeId): Transport<Msg> | undefined {
    return this.slot(node).endpoint;
  }

  /**
   * Feeds `input` (a message, or a client `request`) to `node` at virtual time `atMs` (>= now); dropped if the
   * node is then not up or halted, held until it resumes if it is then paused.
   */
  inject(atMs: number, node: NodeId, input: InjectedInput<Msg, Req>): void {
    const i = this.indexOf.get(node);
    if (i === undefined) throw new SimulationError(this.seed, `inject: unknown node ${node}`);
    // The type rules it out; a caller without types gets told why.
    if ((input as Input<Msg, Req>).kind === 'timer') throw new SimulationError(this.seed, 'inject: a timer cannot be injected (a kernel fires only the timers its protocol set)');
    if (!(atMs >= this.now) || !Number.isFinite(atMs)) throw new SimulationError(this.seed, `inject: atMs ${atMs} is before now (${this.now}ms)`);
    this.schedule({ kind: 'inject', at: atMs, seq: 0, node: i, input });
  }

  onOutput(listener: OutputListener<Out>): void {
    this.outputListeners.push(listener);
  }

  onStep(listener: StepListener<State>): void {
    this.stepListeners.push(listener);
  }

  /** Every event of the run, as it happens (see SimTraceEvent). Listeners must not throw; they cost nothing when absent. */
  onTrace(listener: TraceListener<Msg, Out>): void {
    this.traceListeners.push(listener);
  }

  private trace(event: SimTraceEvent<Msg, Out>): void {
    for (const l of this.traceListeners) l(event);
  }

  /**
   * Processes every event up to and including virtual time `ms`, then sets the clock to `ms`; returns early
   * (clock at the last event) once `finished`.
   */
  runUntil(ms: number): void {
    if (this.failure !== undefined) throw this.failure;
    assert(!this.running, 'runUntil is not reentrant (called from a listener?)');
    if (!(ms >= this.now)) throw new SimulationError(this.seed, `runUntil(${ms}) is before now (${this.now}ms)`);
    this.running = true;
    try {
      this.guard(() => this.loop(ms));
    } finally {
      this.running = false;
    }
  }

  /** runUntil(config.untilMs), then the report. */
  run(): SimulationReport<Out> {
    this.runUntil(this.config.untilMs);
    return this.report();
  }

  report(): SimulationReport<Out> {
    const outputs = new Map<NodeId, Array<{ atMs: number; value: Out }>>();
    for (const [id, list] of this.outputs) outputs.set(id, list.slice());
    const crashed = new Set<NodeId>();
    const perNode = new Map<NodeId, NodeStats>();
    for (const s of this.slots) {
      if (!s.up) crashed.add(s.id);
      perNode.set(s.id, { ...s.stats });
    }
    return {
      seed: this.seed,
      endedAtMs: this.now,
      outputs,
      halted: new Map(this.haltedAt),
      crashed,
      stats: { ...this.stats },
      perNode,
      logs: [...this.logs],
      fingerprint: hash32(this.fp),
    };
  }

  // ---- the loop -------------------------------------------------------------------------------------------------

  private loop(untilMs: number): void {
    const queue = this.queue;
    for (;;) {
      if (this.active === 0 && this.pendingNonTimer === 0) return;
      const ev = queue.peek();
      if (ev === undefined || ev.at > untilMs) break;
      queue.pop();
      assert(ev.at >= this.now, 'virtual time ran backwards');
      this.now = ev.at;
      if (++this.stats.steps > this.maxSteps) {
        throw this.fail(`exceeded maxSteps=${this.maxSteps}`, undefined, undefined);
      }
      if (ev.kind !== 'timer') this.pendingNonTimer--;
      switch (ev.kind) {
        case 'deliver':
          this.stats.inFlight--;
          this.deliver(ev);
          break;
        case 'timer':
          this.fireTimer(ev);
          break;
        case 'crash':
          this.crash(ev.node, ev.loseDurableState);
          break;
        case 'start':
          this.start(ev.node);
          break;
        case 'restart':
          this.restart(ev.node);
          break;
        case 'init':
          this.initNow(ev);
          break;
        case 'pause':
          this.pause(ev.node);
          break;
        case 'resume':
          this.resume(ev.node, ev.seq);
          break;
        case 'inject':
          this.injectNow(ev);
          break;
      }
    }
    this.now = untilMs;
  }

  private deliver(ev: DeliverEvent<Msg>): void {
    const slot = this.slots[ev.to]!;
    if (this.partitions.separated(ev.from, ev.to, this.now)) {
      this.stats.droppedByPartition++;
      this.mix(FP_LOST_PARTITION, ev.to);
      this.traceDrop(ev, 'partition');
      return;
    }
    if (ev.sentAt < slot.firstUpAt) {
      // Sent before anyone listened on the node's port: the connect was refused. Inits at one instant count as
      // simultaneous, so nodes starting together (at the epoch, say) reach each other.
      this.stats.droppedAtUnstartedNode++;
      this.mix(FP_REFUSED, ev.to);
      this.traceDrop(ev, 'unstarted');
      return;
    }
    if (!slot.up || slot.epoch !== ev.epoch) {
      this.stats.droppedAtCrashedNode++;
      this.mix(FP_LOST_CRASHED, ev.to);
      this.traceDrop(ev, 'crashed');
      return;
    }
    if (slot.held !== null && !halted(slot)) {
      // In the paused node's socket buffer: still undelivered.
      slot.held.inputs.push(ev);
      this.heldCount++;
      this.stats.inFlight++;
      this.stats.heldByPause++;
      this.mix(FP_HELD_MESSAGE, ev.to);
      return;
    }
    this.handOver(ev);
  }

  /** Gives a message that reached an up node to its protocol (unless the node halted). */
  private handOver(ev: DeliverEvent<Msg>): void {
    const slot = this.slots[ev.to]!;
    // A halted protocol takes no more input; an endpoint closed from outside takes none either.
    if (halted(slot) || slot.endpoint?.isOpen !== true) {
      this.stats.droppedAtHaltedNode++;
      this.mix(FP_LOST_HALTED, ev.to);
      this.traceDrop(ev, 'halted');
      return;
    }
    this.stats.delivered++;
    this.stats.bytesDelivered += ev.bytes;
    slot.stats.received++;
    slot.stats.bytesReceived += ev.bytes;
    this.mix(FP_DELIVERED, ev.to);
    this.mix(ev.from, ev.seq);
    const from = this.nodeIds[ev.from]!;
    if (this.traceListeners.length > 0) this.trace({ kind: 'receive', atMs: this.now, id: ev.id, from, to: slot.id });
    this.runKernel(ev.to, 'step(receive)', (kernel, now) => {
      if (!kernel.receive(from, ev.msg, now) && this.checkMessages) {
        throw this.fail(`a message from ${from} fails ${this.protocol.name}.isMessage: ${preview(ev.msg)}`, ev.to, undefined);
      }
    });
  }

  private fireTimer(ev: TimerEvent): void {
    const slot = this.slots[ev.node]!;
    // Stale: the kernel's earliest timer changed (replaced, cancelled, fired), or a crash or halt cleared them.
    if (ev.gen !== slot.wakeGen || slot.wakeStamp === -1) return;
    slot.wakeStamp = -1;
    if (slot.held !== null) {
      // The process is stopped: what is due fires at resume (see resume).
      slot.held.wake = true;
      this.heldCount++;
      this.mix(FP_HELD_TIMER, ev.node);
      return;
    }
    this.stats.timersFired++;
    this.mix(FP_TIMER, ev.node);
    this.traceTimer(ev.node);
    this.runKernel(ev.node, 'step(timer)', (kernel, now) => kernel.fireEarliest(now));
  }

  private injectNow(ev: InjectEvent<Msg, Req>): void {
    const slot = this.slots[ev.node]!;
    if (!slot.up || halted(slot)) {
      this.stats.injectedDropped++;
      this.mix(FP_INJECT_DROPPED, ev.node);
      return;
    }
    if (slot.held !== null) {
      slot.held.inputs.push(ev);
      this.heldCount++;
      this.mix(FP_HELD_INJECT, ev.node);
      return;
    }
    this.stats.injected++;
    this.mix(FP_INJECT, ev.node);
    const input = ev.input;
    if (input.kind === 'receive') {
      this.runKernel(ev.node, 'step(receive)', (kernel, now) => {
        if (!kernel.receive(input.from, input.msg, now) && this.checkMessages) {
          throw this.fail(`an injected message fails ${this.protocol.name}.isMessage: ${preview(input.msg)}`, ev.node, undefined);
        }
      });
    } else {
      if (this.traceListeners.length > 0) this.trace({ kind: 'request', atMs: this.now, node: slot.id, body: input.body });
      this.runKernel(ev.node, 'step(request)', (kernel, now) => kernel.request(input.body, now));
    }
  }

  private crash(i: number, loseDurableState: boolean): void {
    const slot = this.slots[i]!;
    if (!slot.up && !slot.starting) return;
    slot.store?.close();
    slot.store = undefined;
    void slot.endpoint?.close();
    slot.endpoint = undefined;
    if (loseDurableState) slot.disk.wipe();
    if (slot.up && !halted(slot)) this.active--;
    slot.up = false;
    slot.starting = false;
    // The process and its kernel (state, timer table) are gone.
    slot.kernel = undefined;
    // Stales a pending init, and every message now on the wire to this node.
    slot.epoch++;
    this.dropWake(slot);
    this.mix(FP_CRASH, i);
    this.log(slot.id, 'info', 'sim: crash');
    this.traceNode('crash', slot.id);
    const held = slot.held;
    if (held === null) return;
    // The crash ends the pause; what the kernel held dies with the process.
    slot.held = null;
    this.releaseHeld(held);
    for (const ev of held.inputs) {
      if (ev.kind === 'deliver') {
        this.stats.inFlight--;
        this.stats.droppedAtCrashedNode++;
        this.mix(FP_LOST_CRASHED, i);
      } else {
        this.stats.injectedDropped++;
        this.mix(FP_INJECT_DROPPED, i);
      }
    }
  }

  /** The scheduled first start of a node that starts after the epoch. */
  private start(i: number): void {
    const slot = this.slots[i]!;
    // Already started early by a restart fault (see faults.ts).
    if (slot.up || slot.starting) return;
    this.mix(FP_START, i);
    this.log(slot.id, 'info', 'sim: start');
    this.traceNode('start', slot.id);
    this.startProcess(i);
  }

  private restart(i: number): void {
    const slot = this.slots[i]!;
    if (slot.up || slot.starting) return;
    this.mix(FP_RESTART, i);
    this.log(slot.id, 'info', 'sim: restart');
    this.traceNode('restart', slot.id);
    this.startProcess(i);
  }

  /** A new process for the node: it inits now, or after the node's init delay. */
  private startProcess(i: number): void {
    const slot = this.slots[i]!;
    slot.starting = true;
    slot.processStartedAt = this.now;
    if (slot.initDelayMs === 0) this.boot(i);
    else this.schedule({ kind: 'init', at: this.now + slot.initDelayMs, seq: 0, node: i, epoch: slot.epoch });
  }

  private initNow(ev: InitEvent): void {
    const slot = this.slots[ev.node]!;
    // The process this init belonged to crashed meanwhile.
    if (ev.epoch !== slot.epoch || !slot.starting) return;
    if (slot.held !== null) {
      slot.held.init = ev;
      this.heldCount++;
      return;
    }
    this.mix(FP_INIT, ev.node);
    this.boot(ev.node);
  }

  private pause(i: number): void {
    const slot = this.slots[i]!;
    // Nothing to stop: no process runs. Validation keeps one node's pauses apart, so none is running here.
    if (!slot.up && !slot.starting) return;
    assert(slot.held === null, 'pauses of one node overlap');
    slot.held = { init: null, wake: false, inputs: [] };
    this.mix(FP_PAUSE, i);
    this.log(slot.id, 'info', 'sim: pause');
    this.traceNode('pause', slot.id);
  }

  /**
   * SIGCONT: the node catches up in the order a Node.js event loop does (libuv returns from the interrupted
   * poll and runs due timers before it reads sockets): a pending init, the timers that fell due (in the order
   * their settings have on the agenda), then what the kernel held (arrival order). All at the resume time, ahead of deliveries and timers
   * due at that same instant (the resume was scheduled before them).
   */
  private resume(i: number, resumeSeq: number): void {
    const slot = this.slots[i]!;
    const held = slot.held;
    // Not paused: the pause found no process, or a crash ended it.
    if (held === null) return;
    slot.held = null;
    this.releaseHeld(held);
    this.mix(FP_RESUME, i);
    this.log(slot.id, 'info', 'sim: resume');
    this.traceNode('resume', slot.id);
    if (held.init !== null) this.initNow(held.init);
    // The timers that fell due during the pause: those ordered before this resume event, earliest first (a node
    // that halted has none). Timers they set for now or earlier come after the resume, as they would have.
    if (held.wake) {
      for (;;) {
        const next = slot.kernel?.nextTimer ?? null;
        if (next === null || !(next.due < this.now || (next.due === this.now && next.stamp < resumeSeq))) break;
        this.stats.timersFired++;
        this.mix(FP_TIMER, i);
        this.traceTimer(i);
        this.runKernel(i, 'step(timer)', (kernel, now) => kernel.fireEarliest(now));
      }
    }
    for (const ev of held.inputs) {
      if (ev.kind === 'deliver') {
        this.stats.inFlight--;
        this.handOver(ev);
      } else {
        this.injectNow(ev);
      }
    }
    // The node's timer event must be live again even when nothing was stepped here.
    if (slot.kernel !== undefined && slot.held === null) this.syncWake(i);
  }

  private releaseHeld(held: Held<Msg, Req>): void {
    this.heldCount -= (held.init === null ? 0 : 1) + (held.wake ? 1 : 0) + held.inputs.length;
  }

  private boot(i: number): void {
    const slot = this.slots[i]!;
    slot.up = true;
    slot.starting = false;
    if (slot.firstUpAt === Infinity) slot.firstUpAt = this.now;
    this.haltedAt.delete(slot.id);
    this.active++;
    const kernel = new NodeKernel<State, Msg, Out, Options, Req, Timer>(this.protocol, slot.sink, {
      checkInvariants: this.checkInvariants,
      // Deadlines are in the node's (skewed) clock; one in the past is due now, after what is already due now:
      // a timer keeps the agenda sequence number of its setting, as every agenda entry does.
      timerDue: (at) => Math.max(this.now, at - slot.offsetMs),
      timerStamp: () => this.queue.reserveSeq(),
    });
    slot.kernel = kernel;
    const startedAtMs = slot.processStartedAt + slot.offsetMs;
    const store = slot.disk.open();
    slot.store = store;
    slot.endpoint = new SimEndpoint<Msg>(slot.id, (to, msg) => this.send(i, to, msg));
    this.traceNode('init', slot.id);
    this.runKernel(i, 'init', (k, now) => k.init({ self: slot.id, nodes: this.nodeIds, options: slot.options, now, startedAtMs, restored: store.loadAll() }));
  }

  /**
   * Hands one input to a node's kernel at the node's (skewed) time, then puts the node's timer event where the
   * kernel's earliest timer now is and runs the step listeners. Errors become the run's failure.
   */
  private runKernel(i: number, what: string, fn: (kernel: NodeKernel<State, Msg, Out, Options, Req, Timer>, now: number) => void): void {
    const slot = this.slots[i]!;
    const kernel = slot.kernel;
    assert(kernel !== undefined, 'only a running node is stepped');
    try {
      fn(kernel, this.now + slot.offsetMs);
    } catch (e) {
      if (e instanceof SimulationError) throw e;
      if (e instanceof InvariantError) throw this.fail('protocol invariant failed', i, e);
      throw this.fail(`${this.protocol.name}.${what} threw`, i, e);
    }
    this.syncWake(i);
    this.afterStep(i);
  }

  /** Keeps one live timer event per node, at its kernel's earliest timer (due time and setting order). */
  private syncWake(i: number): void {
    const slot = this.slots[i]!;
    const next = slot.kernel?.nextTimer ?? null;
    if (next === null) {
      this.dropWake(slot);
      return;
    }
    if (next.stamp === slot.wakeStamp && next.due === slot.wakeDue) return;
    // Held entries count: they left the agenda only to wait for a resume.
    if (this.queue.size + this.heldCount >= this.maxQueued) {
      throw this.fail(`more than maxQueuedEvents=${this.maxQueued} events pending`, undefined, undefined);
    }
    slot.wakeGen++;
    slot.wakeDue = next.due;
    slot.wakeStamp = next.stamp;
    this.queue.pushReserved({ kind: 'timer', at: Math.max(this.now, next.due), seq: 0, node: i, gen: slot.wakeGen }, next.stamp);
  }

  private dropWake(slot: NodeSlot<State, Options, Msg, Out, Req, Timer>): void {
    if (slot.wakeStamp === -1) return;
    slot.wakeGen++;
    slot.wakeStamp = -1;
  }

  private afterStep(i: number): void {
    const listeners = this.stepListeners;
    if (listeners.length === 0) return;
    const slot = this.slots[i]!;
    for (const l of listeners) {
      try {
        l(slot.id, this.now, slot.kernel?.state as State);
      } catch (e) {
        throw this.fail('a step listener (invariant) failed', i, e);
      }
    }
  }

  /** Where node `i`'s kernel hands its effects (the halt and self-send rules are the kernel's). */
  private sinkFor(i: number): KernelSink<Msg, Out> {
    return {
      send: (to, msg) => {
        const endpoint = this.slots[i]!.endpoint;
        assert(endpoint !== undefined, 'only a running node sends');
        endpoint.send(to, msg);
      },
      output: (value) => {
        const slot = this.slots[i]!;
        this.outputs.get(slot.id)!.push({ atMs: this.now, value });
        this.mix(FP_OUTPUT, i);
        if (this.traceListeners.length > 0) this.trace({ kind: 'output', atMs: this.now, node: slot.id, value });
        for (const l of this.outputListeners) {
          try {
            l(slot.id, this.now, value);
          } catch (err) {
            throw this.fail('an output listener failed', i, err);
          }
        }
      },
      log: (level, text, fields) => {
        const node = this.slots[i]!.id;
        this.logs.pushEvicting(fields === undefined ? { atMs: this.now, node, level, text } : { atMs: this.now, node, level, text, fields });
      },
      persist: (key, value) => {
        const store = this.slots[i]!.store;
        assert(store !== undefined, 'only a running node persists');
        store.put(key, value);
      },
      halt: () => {
        const slot = this.slots[i]!;
        // The kernel halts once and says so once: it is the one record of whether the node halted.
        assert(slot.kernel?.isHalted === true, 'a halt from a kernel that is not the node\'s, or has not halted');
        this.active--;
        this.dropWake(slot);
        this.haltedAt.set(slot.id, this.now);
        this.mix(FP_HALT, i);
        this.log(slot.id, 'info', 'sim: halt');
        this.traceNode('halt', slot.id);
      },
    };
  }

  private send(from: number, toId: NodeId, msg: Msg): void {
    const to = this.indexOf.get(toId);
    if (to === undefined) throw this.fail(`send to unknown node ${String(toId)}`, from, undefined);
    const slot = this.slots[from]!;
    const bytes = this.config.sizeOf === undefined ? 0 : this.config.sizeOf(msg);
    this.stats.sent++;
    this.stats.bytesSent += bytes;
    slot.stats.sent++;
    slot.stats.bytesSent += bytes;
    const id = this.nextMessageId++;
    const tracing = this.traceListeners.length > 0;
    if (tracing) this.trace({ kind: 'send', atMs: this.now, id, from: slot.id, to: toId, msg });
    if (this.partitions.separated(from, to, this.now)) {
      this.stats.droppedByPartition++;
      if (tracing) this.trace({ kind: 'drop', atMs: this.now, id, from: slot.id, to: toId, reason: 'partition' });
      return;
    }
    const link = this.links.link(from, to);
    // Both decisions are drawn for every send, so each stream's n-th draw belongs to the n-th send whatever
    // the other stream decided (changing a duplicate rate does not change which messages are lost).
    const lost = this.lossPrng.float() < link.lossRate;
    const duplicated = this.duplicatePrng.float() < link.duplicateRate;
    if (lost) {
      this.stats.lost++;
      if (tracing) this.trace({ kind: 'drop', atMs: this.now, id, from: slot.id, to: toId, reason: 'loss' });
      return;
    }
    const epoch = this.slots[to]!.epoch;
    const copy = this.config.copyMessage;
    // Each copy draws its own latency, so a duplicate can overtake the original.
    const putOnWire = (): void => {
      this.schedule({
        kind: 'deliver',
        at: this.now + drawLatencyMs(this.latencyPrng, link.latency),
        seq: 0,
        from,
        to,
        id,
        msg: copy === undefined ? msg : copy(msg),
        sentAt: this.now,
        epoch,
        bytes,
      });
      this.stats.inFlight++;
    };
    putOnWire();
    if (duplicated) {
      this.stats.duplicated++;
      if (tracing) this.trace({ kind: 'duplicate', atMs: this.now, id, from: slot.id, to: toId });
      putOnWire();
    }
  }

  private schedule(ev: SimEvent<Msg, Req>): number {
    // Held entries count: they left the agenda only to wait for a resume.
    if (this.queue.size + this.heldCount >= this.maxQueued) {
      throw this.fail(`more than maxQueuedEvents=${this.maxQueued} events pending`, undefined, undefined);
    }
    if (ev.kind !== 'timer') this.pendingNonTimer++;
    return this.queue.push(ev);
  }

  // ---- helpers --------------------------------------------------------------------------------------------------

  private slot(node: NodeId): NodeSlot<State, Options, Msg, Out, Req, Timer> {
    const i = this.indexOf.get(node);
    if (i === undefined) throw new SimulationError(this.seed, `unknown node ${node}`);
    return this.slots[i]!;
  }

  private traceNode(kind: 'start' | 'restart' | 'init' | 'crash' | 'pause' | 'resume' | 'halt', node: NodeId): void {
    if (this.traceListeners.length > 0) this.trace({ kind, atMs: this.now, node });
  }

  private traceDrop(ev: DeliverEvent<Msg>, reason: SimDropReason): void {
    if (this.traceListeners.length > 0) this.trace({ kind: 'drop', atMs: this.now, id: ev.id, from: this.nodeIds[ev.from]!, to: this.nodeIds[ev.to]!, reason });
  }

  /** Before the kernel fires it: the name of the timer that is due. */
  private traceTimer(i: number): void {
    if (this.traceListeners.length === 0) return;
    const slot = this.slots[i]!;
    this.trace({ kind: 'timer', atMs: this.now, node: slot.id, name: slot.kernel?.nextTimer?.name ?? '?' });
  }

  /** Folds two words into the running fingerprint (FNV-style; the report finalises it). */
  private mix(a: number, b: number): void {
    let h = this.fp;
    h = Math.imul(h ^ a, 0x01000193);
    h = Math.imul(h ^ b, 0x01000193);
    // Time in microseconds, modulo 2^32: enough to tell runs apart.
    h = Math.imul(h ^ (Math.round(this.now * 1000) >>> 0), 0x01000193);
    this.fp = h;
  }

  private log(node: NodeId | null, level: LogLevel, text: string): void {
    this.logs.pushEvicting({ atMs: this.now, node, level, text });
  }

  private fail(text: string, node: number | undefined, cause: unknown): SimulationError {
    const id = node === undefined ? undefined : this.nodeIds[node];
    if (this.traceListeners.length > 0) this.trace({ kind: 'failure', atMs: this.now, node: id ?? null, text: cause === undefined ? text : `${text}: ${describe(cause)}` });
    return new SimulationError(this.seed, text, { atMs: this.now, node: id, cause, recentLogs: [...this.logs] });
  }

  /** Runs `fn`; any error becomes (and stays) this simulation's failure, named with the seed. */
  private guard(fn: () => void): void {
    try {
      fn();
    } catch (e) {
      this.failure = e instanceof SimulationError ? e : this.fail('internal error', undefined, e);
      throw this.failure;
    }
  }
}

function preview(value: unknown): string {
  let text: string;
  try {
    text = JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v)) ?? String(value);
  } catch {
    text = String(value);
  }
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}

/** Builds a simulation and runs it to `config.untilMs` (or until finished). */
export function runSimulation<State, Msg, Out, Options, Req = never, Timer extends string = string>(
  protocol: Protocol<State, Msg, Out, Options, Req, Timer>,
  config: SimulationConfig<Options, Msg>,
): SimulationReport<Out> {
  return new Simulation(protocol, config).run();
}
