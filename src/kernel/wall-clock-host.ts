/**
 * Runs one protocol state machine on real time: the wall-clock driver of the node kernel (src/kernel/), for
 * processes (the TCP nodes and the Maelstrom node).
 *
 * The kernel holds the state, the timer table and the contract's rules; the host only moves time: it hands every
 * input to the kernel with the wall-clock time and keeps one real timer armed for the kernel's earliest deadline.
 * When it goes off the kernel fires what is due (at most a bounded number per pass; the rest after a turn of the
 * event loop). Inputs are processed one at a time, to completion, on the event loop, so the state is never
 * touched concurrently. With CHATTERBOX_DEBUG_INVARIANTS=1 in the environment the protocol's invariants are
 * checked after every step, and a failure throws (stopping the process): a debugging aid, it costs time.
 */
import type { NodeId } from '../core/ids.js';
import { NodeKernel, type KernelSink } from './node-kernel.js';
import type { AnyProtocol } from '../protocol/types.js';
// pino's type, imported as a type only: the kernel layer keeps no runtime dependency on a logger, and the
// drivers (the TCP runtime, the Maelstrom node) hand in the one they made (platform/log.ts in processes).
import type { Logger } from 'pino';

/** The environment switch for invariant checks in processes (see the module comment). */
export const DEBUG_INVARIANTS_ENV = 'CHATTERBOX_DEBUG_INVARIANTS';

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

export class WallClockHost<Msg, Out, Req = never> {
  // The state's and timers' types are private to the protocol; the host only moves inputs and time.
  private readonly kernel: NodeKernel<unknown, Msg, Out, unknown, Req, string>;
  private timer: NodeJS.Timeout | undefined;
  private armedAt = Infinity;
  private firing = false;

  constructor(
    protocol: AnyProtocol,
    io: HostIo<Msg, Out>,
    private readonly clock: () => number = wallClockMs,
  ) {
    const sink: KernelSink<Msg, Out> = {
      send: (to, msg) => io.send(to, msg),
      output: (value) => io.output(value),
      log: (level, text, fields) => io.log[level]({ ...fields }, text),
      halt: () => {
        this.disarm();
        io.halt();
      },
      ...(io.persist === undefined ? {} : { persist: io.persist.bind(io) }),
    };
    this.kernel = new NodeKernel(protocol, sink, { checkInvariants: process.env[DEBUG_INVARIANTS_ENV] === '1' });
  }

  /** Initializes the protocol. `startedAtMs` may lie in the past (the process start): see `InitContext`. */
  start(self: NodeId, nodes: readonly NodeId[], options: unknown, startedAtMs = this.clock(), restored: ReadonlyMap<string, Uint8Array> = new Map()): void {
    const now = this.clock();
    this.kernel.init({ self, nodes, options, now, startedAtMs: Math.min(startedAtMs, now), restored });
    this.rearm();
  }

  /** A message from the network, not yet checked: false when the protocol's guard dropped it (see the kernel). */
  receive(from: NodeId, msg: unknown): boolean {
    const accepted = this.kernel.receive(from, msg, this.clock());
    this.rearm();
    return accepted;
  }

  /** A local client's command (see `Input`'s `request`). */
  request(body: Req): void {
    this.kernel.request(body, this.clock());
    this.rearm();
  }

  /** The protocol's metrics and the kernel's counters. */
  metrics(): Readonly<Record<string, number | string | boolean>> {
    return this.kernel.state === undefined ? {} : this.kernel.metrics();
  }

  /** Halted by the protocol or stopped from outside: no more inputs are fed. */
  get isHalted(): boolean {
    return !this.kernel.accepting;
  }

  /** Stops firing timers and feeding inputs, without a protocol halt (shutdown from outside). */
  stop(): void {
    this.kernel.stop();
    this.disarm();
  }

  private fireDue(): void {
    this.timer = undefined;
    this.armedAt = Infinity;
    this.firing = true;
    try {
      this.kernel.fireDue(this.clock());
    } finally {
      this.firing = false;
    }
    this.rearm();
  }

  private rearm(): void {
    if (this.firing) return;
    const earliest = this.kernel.nextDeadline;
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
