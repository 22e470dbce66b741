/**
 * The one shape every protocol has, in the sans-IO manner of quinn-proto and h2.
 *
 * A protocol is a deterministic state machine. Drivers (the TCP runtime, the Maelstrom runtime, the simulator)
 * own one state per node and feed it inputs together with the current time; the protocol answers with effects
 * for the driver to carry out. A protocol never reads a clock, a socket, a timer or Math.random().
 *
 * The rules below are carried out by the node kernel (src/kernel/node-kernel.ts), which every driver runs, so
 * they hold the same under every driver; test/kernel-contract.test.ts checks each against each driver.
 *
 * 1. Call order. `init` once per run of a node (a restart is a new run, with `restored`), then `step` once per
 *    input, one at a time and to completion; effects are carried out in the order returned. A step may mutate
 *    the state it is given (the kernel holds exactly one reference), which keeps hot paths allocation-light; it
 *    must not keep references to inputs beyond the step unless it owns them, and must treat messages as immutable.
 * 2. Halt. The effects of the halting step before its `halt` are carried out; later ones are dropped (counted as
 *    `kernel.droppedAfterHalt`), the timer table is cleared, and nothing is fed to the node after.
 * 3. Send to self. Never put on the wire: the kernel feeds it back as a `receive` from self once the step that
 *    sent it and that step's effects are done (never re-entrantly inside a step), in order, reliably, at most
 *    MAX_LOOPBACK_PER_INPUT per input (beyond, dropped and counted). It skips the guard: it never left the node.
 * 4. Timers. A table of named deadlines in the node's clock: setting a name replaces its deadline, `at: null`
 *    cancels it; each setting fires at most once, as the input `{ kind: 'timer', name }`, at or after its
 *    deadline. Timers fire in the order of their due times (a deadline already past when set is due at once),
 *    equal due times in the order they were set. Names are the protocol's `Timer` type, so a name the protocol
 *    does not know is a compile error; at run time a kernel fires only names the protocol set (a driver cannot
 *    inject a timer input).
 * 5. Guards. A message from the network reaches `step` only if `isMessage` accepts it; otherwise (also when the
 *    guard throws) it is dropped, counted (`kernel.guardFailures`) and logged, rate-limited: never thrown, never a
 *    reason to close a connection. A frame that cannot be decoded or fails authentication is the transport's
 *    matter, below this contract: the TCP transport closes that connection.
 * 6. Persistence ordering. A `persist` is durable before any later effect of the same step is carried out; a
 *    write that fails stops the node (nothing later in the step is carried out).
 * 7. Invariants. `invariants(state)` runs after init and every step in the simulator (a failure fails the run,
 *    naming the seed) and in processes run with CHATTERBOX_DEBUG_INVARIANTS=1 (a failure stops the process).
 */
import type { NodeId } from '../core/ids.js';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** `Timer` is the protocol's timer names (a union of string literals); `string` for protocols not yet typed. */
export type Effect<Msg, Out, Timer extends string = string> =
  | { readonly kind: 'send'; readonly to: NodeId; readonly msg: Msg }
  | { readonly kind: 'timer'; readonly name: Timer; readonly at: number | null }
  | { readonly kind: 'output'; readonly value: Out }
  | { readonly kind: 'log'; readonly level: LogLevel; readonly text: string; readonly fields?: Readonly<Record<string, unknown>> }
  /** The node's work is over: the driver stops feeding inputs and (for a process) exits 0. */
  | { readonly kind: 'halt' }
  /**
   * Write `value` under `key` to the node's durable store (null deletes it). The driver makes it durable before
   * it carries out any later effect of the same step, so nothing sent can depend on a write a crash loses; the
   * next `init` of this node gets every key back in `restored`.
   */
  | { readonly kind: 'persist'; readonly key: string; readonly value: Uint8Array | null };

/**
 * `request` is a local client's command (a Maelstrom client's `broadcast`, a line typed into `chat`); protocols
 * without clients leave `Req` as `never`. Requests come from the node's own driver, so they are trusted in
 * shape; protocols still check their values (a client's bad input is answered, never thrown).
 */
export type Input<Msg, Req = never, Timer extends string = string> =
  | { readonly kind: 'receive'; readonly from: NodeId; readonly msg: Msg }
  | { readonly kind: 'timer'; readonly name: Timer }
  | ([Req] extends [never] ? never : { readonly kind: 'request'; readonly body: Req });

export interface InitContext<Options> {
  readonly self: NodeId;
  /** Every node of the cluster, self included, in the same order on every node. */
  readonly nodes: readonly NodeId[];
  readonly options: Options;
  /** The current time in milliseconds (wall clock in real drivers, virtual time in the simulator). */
  readonly now: number;
  /**
   * When this run of the node began, at or before `now`: a process's start, before its modules loaded and its
   * socket bound. Protocols whose deadlines count from the start (the agreement job) read this; a slow start-up
   * then eats into the run instead of stretching it.
   */
  readonly startedAtMs: number;
  /** What this node persisted before it last stopped (see the `persist` effect); empty on a first start. */
  readonly restored: ReadonlyMap<string, Uint8Array>;
}

export interface Protocol<State, Msg, Out, Options, Req = never, Timer extends string = string> {
  readonly name: string;
  init(ctx: InitContext<Options>): { state: State; effects: Effect<Msg, Out, Timer>[] };
  step(state: State, input: Input<Msg, Req, Timer>, now: number): Effect<Msg, Out, Timer>[];
  /**
   * Validates a message that arrived from the network. Peers can be buggy or hostile, so only messages that pass
   * this guard reach `step`; the rest are dropped, counted and logged (rule 5). It should be total.
   */
  isMessage(value: unknown): value is Msg;
  /** A cheap snapshot for progress displays and metrics; never used for decisions. */
  metrics(state: State): Readonly<Record<string, number | string | boolean>>;
  /**
   * Checks the protocol's stated invariants on a state and throws (core/assert) on the first that fails. The
   * kernel calls it after init and every step in the simulator and in debug runs (rule 7); it may be slow, and
   * must not change the state. Required: a protocol with nothing to check beyond its types says so with an empty body.
   */
  invariants(state: State): void;
}

/** Any protocol, for drivers that do not care about its types. */
// eslint-style note: `any` here is deliberate: drivers are generic over every protocol's private types.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyProtocol = Protocol<any, any, any, any, any, any>;
