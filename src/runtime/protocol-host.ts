/**
 * Runs one protocol state machine on real time: the driver half of the sans-IO contract for processes.
 *
 * The protocol's timers are a table of named deadlines; the host arms a single real timer for the earliest and
 * fires every due one, earliest first, when it goes off. Inputs are processed one at a time, to completion, on
 * the event loop, so the state is never touched concurrently.
 */
import type { NodeId } from '../core/ids.js';
import type { AnyProtocol, Effect, Input } from '../protocol/types.js';
import type { Logger } from './log.js';

export interface HostIo<Msg, Out> {
  send(to: NodeId, msg: Msg): void;
  output(value: Out): void;
  halt(): void;
  /** Durable write (the `persist` effect); must be durable when it returns. Protocols that persist need it. */
  persist?(key: string, value: Uint8Array | null): void;
  readonly log: Logger;
}

/** Wall-clock milliseconds with sub-millisecond precision, monotonic within the process. */
export function wallClockMs(): number {
  return performance.timeOrigin + performance.now();
}

export class ProtocolHost<Msg, Out, Req = never> {
  // The state's type is private to the protocol; the host only hands it back.
  private state: unknown;
  private readonly deadlines = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private armedAt = Infinity;
  private halted = false;
  private firing = false;

  constructor(
    private readonly protocol: AnyProtocol,
    private readonly io: HostIo<Msg, Out>,
    private readonly clock: () => number = wallClockMs,
  ) {}

  /** Initializes the protocol. `startedAtMs` may lie in the past (the process start): see `InitContext`. */
  start(self: NodeId, nodes: readonly NodeId[], options: unknown, startedAtMs = this.clock(), restored: ReadonlyMap<string, Uint8Array> = new Map()): void {
    const now = this.clock();
    const { state, effects } = this.protocol.init({ self, nodes, options, now, startedAtMs: Math.min(startedAtMs, now), restored });
    this.state = state;
    this.apply(effects as Effect<Msg, Out>[]);
    this.rearm();
  }

  receive(from: NodeId, msg: Msg): void {
    this.feed({ kind: 'receive', from, msg });
  }

  /** A local client's command (see `Input`'s `request`). */
  request(body: Req): void {
    // The cast is sound: with `Req = never` this method cannot be called at all.
    this.feed({ kind: 'request', body } as Input<Msg, Req>);
  }

  metrics(): Readonly<Record<string, number | string | boolean>> {
    return this.state === undefined ? {} : this.protocol.metrics(this.state);
  }

  get isHalted(): boolean {
    return this.halted;
  }

  /** Stops firing timers and feeding inputs, without a protocol halt (shutdown from outside). */
  stop(): void {
    this.halted = true;
    this.disarm();
  }

  private feed(input: Input<Msg, Req>): void {
    if (this.halted || this.state === undefined) return;
    this.apply(this.protocol.step(this.state, input, this.clock()) as Effect<Msg, Out>[]);
    this.rearm();
  }

  private apply(effects: readonly Effect<Msg, Out>[]): void {
    for (const effect of effects) {
      if (this.halted) return;
      switch (effect.kind) {
        case 'send':
          this.io.send(effect.to, effect.msg);
          break;
        case 'timer':
          if (effect.at === null) this.deadlines.delete(effect.name);
          else this.deadlines.set(effect.name, effect.at);
          break;
        case 'output':
          this.io.output(effect.value);
          break;
        case 'log':
          this.io.log[effect.level]({ ...effect.fields }, effect.text);
          break;
        case 'persist':
          if (this.io.persist === undefined) throw new Error(`${this.protocol.name} persists state, but this driver has no store`);
          this.io.persist(effect.key, effect.value);
          break;
        case 'halt':
          this.halted = true;
          this.disarm();
          this.io.halt();
          break;
      }
    }
  }

  private fireDue(): void {
    this.timer = undefined;
    this.armedAt = Infinity;
    this.firing = true;
    // Bounded: each pass fires the earliest due timer once; a protocol re-arming in the past is still fired
    // at most once per pass of the loop below, and then the event loop gets a turn.
    for (let fired = 0; fired < 1024 && !this.halted; fired++) {
      const now = this.clock();
      let name: string | undefined;
      let at = Infinity;
      for (const [n, t] of this.deadlines) if (t < at) [name, at] = [n, t];
      if (name === undefined || at > now) break;
      this.deadlines.delete(name);
      this.feed({ kind: 'timer', name });
    }
    this.firing = false;
    this.rearm();
  }

  private rearm(): void {
    if (this.halted || this.firing) return;
    let earliest = Infinity;
    for (const t of this.deadlines.values()) if (t < earliest) earliest = t;
    if (earliest === this.armedAt) return;
    this.disarm();
    if (earliest === Infinity) return;
    this.armedAt = earliest;
    this.timer = setTimeout(() => this.fireDue(), Math.max(0, earliest - this.clock()));
  }

  private disarm(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.armedAt = Infinity;
  }
}
