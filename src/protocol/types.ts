/**
 * The one shape every protocol has, in the sans-IO manner of quinn-proto and h2.
 *
 * A protocol is a deterministic state machine. Drivers (the TCP runtime, the Maelstrom runtime, the simulator)
 * own one state per node and feed it inputs together with the current time; the protocol answers with effects
 * for the driver to carry out. A protocol never reads a clock, a socket, a timer or Math.random().
 *
 * Call order for drivers: `init` once, carry out its effects; then for every input, `step` and carry out its
 * effects, in order. Timers are a table of named deadlines: setting a name replaces its deadline, `at: null`
 * cancels it; the driver fires each at most once per setting, as the input `{ kind: 'timer', name }`.
 * A step may mutate the state it is given (the driver holds exactly one reference), which keeps hot paths
 * allocation-light; it must not keep references to inputs beyond the step unless it owns them.
 */
import type { NodeId } from '../core/ids.js';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export type Effect<Msg, Out> =
  | { readonly kind: 'send'; readonly to: NodeId; readonly msg: Msg }
  | { readonly kind: 'timer'; readonly name: string; readonly at: number | null }
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
export type Input<Msg, Req = never> =
  | { readonly kind: 'receive'; readonly from: NodeId; readonly msg: Msg }
  | { readonly kind: 'timer'; readonly name: string }
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

export interface Protocol<State, Msg, Out, Options, Req = never> {
  readonly name: string;
  init(ctx: InitContext<Options>): { state: State; effects: Effect<Msg, Out>[] };
  step(state: State, input: Input<Msg, Req>, now: number): Effect<Msg, Out>[];
  /**
   * Validates a message that arrived from the network. Peers can be buggy or hostile, so a driver passes only
   * messages that pass this guard to `step`; the rest are dropped, counted and logged.
   */
  isMessage(value: unknown): value is Msg;
  /** A cheap snapshot for progress displays and metrics; never used for decisions. */
  metrics(state: State): Readonly<Record<string, number | string | boolean>>;
  /**
   * Checks the protocol's stated invariants on a state and throws (core/assert) on the first that fails. Drivers
   * call it after every step in the simulator and in debug runs; it may be slow, and must not change the state.
   * Optional while the protocols gain theirs (issue 11); then required.
   */
  invariants?(state: State): void;
}

/** Any protocol, for drivers that do not care about its types. */
// eslint-style note: `any` here is deliberate: drivers are generic over every protocol's private types.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyProtocol = Protocol<any, any, any, any, any>;
