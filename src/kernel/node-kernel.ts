/**
 * The node kernel: the one place that carries out the protocol contract's rules (protocol/types.ts), shared by
 * every driver (the wall-clock host, the Maelstrom driver, the simulator). Pure of I/O: it is handed the time
 * with every call and hands effects to the driver through a `KernelSink`; it never reads a clock, arms a timer or
 * touches a socket. A driver only moves bytes and time.
 *
 * What the kernel owns, the same for every driver:
 * - the state: one per node, initialised once, stepped one input at a time, to completion;
 * - the timer table: deadlines by name, in the order (due, stamp): due is the deadline, or the time it was set
 *   when that is later (a deadline in the past is due at once, after what was due before it), stamp the order of
 *   setting. `nextDeadline` is the earliest, so a real driver arms one real timer and the simulator schedules one
 *   event; `fireDue` fires what is due, earliest first, at most MAX_TIMERS_PER_PASS per call (a protocol
 *   re-arming in the past cannot starve the driver's other work);
 * - halt: the effects of the halting step before the halt are carried out, later ones are dropped and counted,
 *   the timer table is cleared and nothing is fed after;
 * - send to self: never put on the wire; fed back as a later `receive` from self, after the step that sent it
 *   and its effects are done (never re-entrantly), at most MAX_LOOPBACK_PER_INPUT per driver call;
 * - guards: a message from the network that fails `isMessage` (or makes it throw) is dropped, counted and logged
 *   (at most GUARD_WARNINGS_PER_WINDOW lines per GUARD_WARNING_WINDOW_MS), never thrown;
 * - persistence ordering: a `persist` is handed to the sink, which makes it durable before it returns, before
 *   any later effect of the step; a sink that throws stops the kernel (the later effects are dropped);
 * - invariants: with `checkInvariants`, `protocol.invariants(state)` after init and every step;
 * - metrics: kernel counters, merged into the protocol's metrics under `kernel.*`.
 */
import { AssertionError } from '../core/assert.js';
import type { NodeId } from '../core/ids.js';
import type { Effect, InitContext, Input, LogLevel, Protocol } from '../protocol/types.js';

/** Due timers fired by one `fireDue` call, at most; the driver calls again (a real one after a turn of its loop). */
export const MAX_TIMERS_PER_PASS = 1024;
/** Self-addressed messages fed back after one driver call, at most; beyond, they are dropped and counted. */
export const MAX_LOOPBACK_PER_INPUT = 1024;
/** Guard failures logged per window, at most; the rest are counted, and summed up when the next window opens. */
export const GUARD_WARNINGS_PER_WINDOW = 10;
export const GUARD_WARNING_WINDOW_MS = 5_000;

/** Where the kernel hands the effects a driver carries out. Called synchronously, in the protocol's order. */
export interface KernelSink<Msg, Out> {
  /** To another node (never self: the kernel loops those back). Best effort, as the transport promises. */
  send(to: NodeId, msg: Msg): void;
  output(value: Out): void;
  log(level: LogLevel, text: string, fields: Readonly<Record<string, unknown>> | undefined): void;
  /** Durable when it returns; throws if it cannot be (the kernel then stops). Protocols that persist need it. */
  persist?(key: string, value: Uint8Array | null): void;
  /** The protocol halted: the kernel takes no more inputs. */
  halt(): void;
}

export interface KernelOptions {
  /** Call `protocol.invariants` after init and every step (the simulator always; processes in debug runs). */
  readonly checkInvariants?: boolean;
  /**
   * For a driver with its own agenda (the simulator): a timer setting's due time in the driver's time base, from
   * the deadline and the node's `now` (default `max(now, at)`, the node's clock), and its stamp, the driver's
   * tie-breaking sequence for equal times (default: the kernel's own count of settings). The kernel orders its
   * table by (due, stamp), so the driver's agenda and the kernel agree on which timer is next.
   */
  readonly timerDue?: (at: number, now: number) => number;
  readonly timerStamp?: () => number;
}

/** One live timer setting. */
export interface TimerEntry<Timer extends string = string> {
  readonly name: Timer;
  /** The protocol's deadline, in the node's clock. */
  at: number;
  /** When it is due, in the driver's time base (see KernelOptions.timerDue). */
  due: number;
  /** Orders settings due at the same time: the one set first fires first. */
  stamp: number;
}

/** The kernel's own counters, the same for every driver. */
export interface KernelCounters {
  /** `init` and `step` calls. */
  steps: number;
  /** Send effects handed to the sink (self-sends excluded). */
  sends: number;
  /** Self-sends fed back, and those dropped past MAX_LOOPBACK_PER_INPUT. */
  loopback: number;
  loopbackDropped: number;
  /** Effects of a halting step after its halt, and self-sends still queued at the halt. */
  droppedAfterHalt: number;
  /** Messages from the network that failed `isMessage`, dropped. */
  guardFailures: number;
  timersFired: number;
  persists: number;
}

/** A failed `protocol.invariants` check, with the input after which it failed. */
export class InvariantError extends Error {
  override readonly name = 'InvariantError';
}

export class NodeKernel<State, Msg, Out, Options, Req = never, Timer extends string = string> {
  readonly counters: KernelCounters = { steps: 0, sends: 0, loopback: 0, loopbackDropped: 0, droppedAfterHalt: 0, guardFailures: 0, timersFired: 0, persists: 0 };
  private current: State | undefined;
  private initialised = false;
  private self: NodeId | undefined;
  private halted = false;
  private stopped = false;
  private readonly timers = new Map<Timer, TimerEntry<Timer>>();
  /** The earliest setting (null when none), or undefined when it must be recomputed (the table changed). */
  private earliest: TimerEntry<Timer> | null | undefined = null;
  private settings = 0;
  private readonly timerDue: (at: number, now: number) => number;
  private readonly timerStamp: () => number;
  /** Self-sends waiting to be fed back, and how many were fed back during the current driver call. */
  private readonly loopbackQueue: Msg[] = [];
  private loopbackThisCall = 0;
  private draining = false;
  private readonly checkInvariants: boolean;
  private guardWindowStart = -Infinity;
  private guardWarnedInWindow = 0;
  private guardSilencedInWindow = 0;

  constructor(
    readonly protocol: Protocol<State, Msg, Out, Options, Req, Timer>,
    private readonly sink: KernelSink<Msg, Out>,
    options: KernelOptions = {},
  ) {
    this.checkInvariants = options.checkInvariants === true;
    this.timerDue = options.timerDue ?? ((at, now) => (at > now ? at : now));
    this.timerStamp = options.timerStamp ?? (() => this.settings++);
  }

  /** The protocol's state (undefined before init). Treat it as read-only. */
  get state(): State | undefined {
    return this.current;
  }

  /** Initialised, not halted and not stopped: inputs are fed. */
  get accepting(): boolean {
    return this.initialised && !this.halted && !this.stopped;
  }

  get isHalted(): boolean {
    return this.halted;
  }

  /** Runs `protocol.init` and carries out its effects. Once per kernel: a restart is a new kernel. */
  init(ctx: InitContext<Options>): void {
    if (this.initialised) throw new AssertionError('a kernel is initialised once');
    this.initialised = true;
    this.self = ctx.self;
    const { state, effects } = this.protocol.init(ctx);
    this.current = state;
    this.counters.steps++;
    this.afterStep(effects, 'init', ctx.now);
    this.drainLoopback(ctx.now);
  }

  /**
   * A message from the network. Returns false when the guard dropped it (counted and logged here); a message to a
   * kernel that is not accepting is ignored (the driver counts those as it sees fit).
   */
  receive(from: NodeId, msg: unknown, now: number): boolean {
    if (!this.accepting) return true;
    let valid: boolean;
    try {
      valid = this.protocol.isMessage(msg);
    } catch {
      // A guard should be total; one that trips over odd input must not let a peer crash the node.
      valid = false;
    }
    if (!valid) {
      this.guardFailed(from, now);
      return false;
    }
    this.feed({ kind: 'receive', from, msg: msg as Msg }, now);
    return true;
  }

  /** A local client's command (trusted in shape: it comes from the node's own driver). */
  request(body: Req, now: number): void {
    // The cast is sound: with `Req = never` this method cannot be called at all.
    this.feed({ kind: 'request', body } as Input<Msg, Req, Timer>, now);
  }

  /**
   * Fires the timers due at `now` (by the default due times), earliest first, at most MAX_TIMERS_PER_PASS;
   * returns how many fired.
   */
  fireDue(now: number): number {
    let fired = 0;
    while (fired < MAX_TIMERS_PER_PASS) {
      const next = this.nextTimer;
      if (next === null || next.due > now) break;
      this.fireEarliest(now);
      fired++;
    }
    return fired;
  }

  /** Fires the earliest timer now, whatever its due time: for a driver whose agenda decided it is due. */
  fireEarliest(now: number): void {
    const next = this.nextTimer;
    if (next === null) return;
    this.timers.delete(next.name);
    this.earliest = undefined;
    this.counters.timersFired++;
    this.feed({ kind: 'timer', name: next.name }, now);
  }

  /** The earliest setting in the table, null when none is set or inputs stopped. Do not change it. */
  get nextTimer(): Readonly<TimerEntry<Timer>> | null {
    if (!this.accepting) return null;
    if (this.earliest === undefined) {
      let earliest: TimerEntry<Timer> | null = null;
      for (const t of this.timers.values()) {
        if (earliest === null || t.due < earliest.due || (t.due === earliest.due && t.stamp < earliest.stamp)) earliest = t;
      }
      this.earliest = earliest;
    }
    return this.earliest;
  }

  /** When the earliest timer is due (default due times: the node's clock), Infinity when none. */
  get nextDeadline(): number {
    return this.nextTimer?.due ?? Infinity;
  }

  /** Stops feeding inputs without a protocol halt (shutdown from outside, a failed write). */
  stop(): void {
    this.stopped = true;
    this.clearTimers();
  }

  /** The protocol's metrics and the kernel's counters (`kernel.*`). */
  metrics(): Readonly<Record<string, number | string | boolean>> {
    const own = this.current === undefined ? {} : this.protocol.metrics(this.current);
    const c = this.counters;
    return {
      ...own,
      'kernel.steps': c.steps,
      'kernel.sends': c.sends,
      'kernel.loopback': c.loopback,
      'kernel.loopbackDropped': c.loopbackDropped,
      'kernel.droppedAfterHalt': c.droppedAfterHalt,
      'kernel.guardFailures': c.guardFailures,
      'kernel.timersFired': c.timersFired,
      'kernel.persists': c.persists,
    };
  }

  private feed(input: Input<Msg, Req, Timer>, now: number): void {
    if (!this.accepting) return;
    this.stepOnce(input, now);
    this.drainLoopback(now);
  }

  private stepOnce(input: Input<Msg, Req, Timer>, now: number): void {
    const effects = this.protocol.step(this.current as State, input, now);
    this.counters.steps++;
    this.afterStep(effects, input.kind, now);
  }

  private afterStep(effects: readonly Effect<Msg, Out, Timer>[], after: string, now: number): void {
    this.apply(effects, now);
    if (!this.checkInvariants) return;
    try {
      this.protocol.invariants(this.current as State);
    } catch (e) {
      throw new InvariantError(`${this.protocol.name}.invariants failed after ${after}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    }
  }

  /** Self-sends, fed back in order once the step that sent them is done; bounded per driver call. */
  private drainLoopback(now: number): void {
    if (this.draining || this.loopbackQueue.length === 0) return;
    this.draining = true;
    try {
      for (let next = 0; next < this.loopbackQueue.length; next++) {
        if (!this.accepting) {
          this.counters.droppedAfterHalt += this.loopbackQueue.length - next;
          break;
        }
        if (this.loopbackThisCall >= MAX_LOOPBACK_PER_INPUT) {
          this.counters.loopbackDropped += this.loopbackQueue.length - next;
          this.sink.log('warn', 'messages to self dropped: too many in one input', { dropped: this.loopbackQueue.length - next, max: MAX_LOOPBACK_PER_INPUT });
          break;
        }
        this.loopbackThisCall++;
        this.counters.loopback++;
        this.stepOnce({ kind: 'receive', from: this.self as NodeId, msg: this.loopbackQueue[next] as Msg }, now);
      }
    } finally {
      this.loopbackQueue.length = 0;
      this.loopbackThisCall = 0;
      this.draining = false;
    }
  }

  private apply(effects: readonly Effect<Msg, Out, Timer>[], now: number): void {
    for (let k = 0; k < effects.length; k++) {
      if (this.halted || this.stopped) {
        // The halt rule: what the step decided after halting is not carried out.
        this.counters.droppedAfterHalt += effects.length - k;
        return;
      }
      const e = effects[k] as Effect<Msg, Out, Timer>;
      switch (e.kind) {
        case 'send':
          if (e.to === this.self) {
            this.loopbackQueue.push(e.msg);
          } else {
            this.counters.sends++;
            this.sink.send(e.to, e.msg);
          }
          break;
        case 'timer':
          this.setTimer(e.name, e.at, now);
          break;
        case 'output':
          this.sink.output(e.value);
          break;
        case 'log':
          this.sink.log(e.level, e.text, e.fields);
          break;
        case 'persist':
          this.persist(e.key, e.value);
          break;
        case 'halt':
          this.halted = true;
          this.clearTimers();
          this.sink.halt();
          break;
        default:
          throw new AssertionError(`${this.protocol.name} returned an unknown effect ${JSON.stringify(e)}`);
      }
    }
  }

  private setTimer(name: Timer, at: number | null, now: number): void {
    this.earliest = undefined;
    if (at === null || at === Infinity) {
      this.timers.delete(name);
      return;
    }
    if (Number.isNaN(at)) throw new AssertionError(`${this.protocol.name} set timer ${name} to NaN`);
    const due = this.timerDue(at, now);
    const stamp = this.timerStamp();
    const entry = this.timers.get(name);
    if (entry === undefined) {
      this.timers.set(name, { name, at, due, stamp });
      return;
    }
    // Replaced in place: no allocation on the hot path of a protocol re-arming a timer every millisecond.
    entry.at = at;
    entry.due = due;
    entry.stamp = stamp;
  }

  private clearTimers(): void {
    this.timers.clear();
    this.earliest = null;
  }

  private persist(key: string, value: Uint8Array | null): void {
    if (this.sink.persist === undefined) {
      this.stop();
      throw new Error(`${this.protocol.name} persists state, but this driver has no store`);
    }
    this.counters.persists++;
    try {
      this.sink.persist(key, value);
    } catch (e) {
      // Nothing after a lost write may happen: a later send could depend on it.
      this.stop();
      throw e;
    }
  }

  private guardFailed(from: NodeId, now: number): void {
    this.counters.guardFailures++;
    if (now - this.guardWindowStart >= GUARD_WARNING_WINDOW_MS) {
      if (this.guardSilencedInWindow > 0) {
        this.sink.log('warn', 'more messages failed the protocol guard and were dropped', { unlogged: this.guardSilencedInWindow, guardFailures: this.counters.guardFailures });
      }
      this.guardWindowStart = now;
      this.guardWarnedInWindow = 0;
      this.guardSilencedInWindow = 0;
    }
    if (this.guardWarnedInWindow < GUARD_WARNINGS_PER_WINDOW) {
      this.guardWarnedInWindow++;
      this.sink.log('warn', `a message failed ${this.protocol.name}'s guard; dropped`, { from, guardFailures: this.counters.guardFailures });
    } else {
      this.guardSilencedInWindow++;
    }
  }
}
