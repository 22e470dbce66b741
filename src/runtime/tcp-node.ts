/**
 * `runTcpNode`: any protocol of the contract as a process over TCP, from its place in the cluster. The same two
 * pieces the shipped nodes are made of (a `WallClockHost` on the wall clock, the TCP transport from
 * `listenAsNode`), put together once for protocols written outside this package.
 *
 * Messages from peers go to the host unchecked: its kernel applies the protocol's guard. Messages that arrive
 * before the protocol has started are dropped (a protocol of the contract recovers from loss anyway).
 */
import type { NodeId } from '../core/ids.js';
import type { Protocol } from '../protocol/types.js';
import { silentLogger, type Logger } from '../platform/log.js';
import { listenAsNode, type NodePlace } from './node-transport.js';
import { WallClockHost } from '../kernel/wall-clock-host.js';

export interface TcpNodeOptions<Options, Out> {
  /** The protocol's options (`InitContext.options`). */
  readonly options: Options;
  /** Where the node and the transport log; default: nothing is logged. */
  readonly log?: Logger;
  /** Every `output` effect, in order. */
  readonly onOutput?: (value: Out) => void;
  /** Refuse a peer that comes back as a new incarnation (protocols that cannot take a restarted peer back). Default false. */
  readonly rejectRestartedPeers?: boolean;
  /** When this run began (`InitContext.startedAtMs`), e.g. `performance.timeOrigin`; default: now. */
  readonly startedAtMs?: number;
}

export interface TcpNode<Req> {
  readonly self: NodeId;
  /** A local client's command (the protocol's `request` input). */
  request(body: Req): void;
  /** The protocol's metrics and the kernel's counters. */
  metrics(): Readonly<Record<string, number | string | boolean>>;
  /** Resolves when the protocol halts (or `close` is called). */
  readonly halted: Promise<void>;
  /** Stops the protocol and closes every connection. */
  close(): Promise<void>;
}

export async function runTcpNode<State, Msg, Out, Options, Req = never, Timer extends string = string>(
  protocol: Protocol<State, Msg, Out, Options, Req, Timer>,
  place: NodePlace,
  options: TcpNodeOptions<Options, Out>,
): Promise<TcpNode<Req>> {
  const log = options.log ?? silentLogger();
  let host: WallClockHost<Msg, Out, Req> | undefined;
  let markHalted: () => void = () => {};
  const halted = new Promise<void>((resolve) => (markHalted = resolve));
  const transport = await listenAsNode(place, {
    rejectRestartedPeers: options.rejectRestartedPeers ?? false,
    log,
    onMessage: (from, msg) => host?.receive(from, msg),
  });
  const started = new WallClockHost<Msg, Out, Req>(protocol, {
    send: (to, msg) => transport.send(to, msg),
    output: (value) => options.onOutput?.(value),
    halt: () => markHalted(),
    log,
  });
  started.start(place.self.id, place.peers.map((peer) => peer.id), options.options, options.startedAtMs);
  host = started;
  let closing: Promise<void> | undefined;
  return {
    self: place.self.id,
    request: (body) => started.request(body),
    metrics: () => started.metrics(),
    halted,
    close: () => {
      closing ??= (async () => {
        started.stop();
        markHalted();
        await transport.close();
      })();
      return closing;
    },
  };
}
