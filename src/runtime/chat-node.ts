/**
 * `chatterbox chat` as an OS process: causal broadcast over the TCP transport, lines from stdin in, lines in
 * causal order out.
 *
 * Every line typed at any node is broadcast; every node prints every line as `<origin>: <text>`, its own
 * included, in an order that respects happens-before: a line typed after reading another is printed after it
 * on every node. When stdin ends the node keeps running until every neighbour has acknowledged its lines (so
 * its last lines are out) or `lingerMs` passes, then exits 0; an interrupt exits 0 at once.
 * Logs go to stderr; stdout carries chat lines only.
 */
import { createInterface } from 'node:readline';
import type { NodeId } from '../core/ids.js';
import type { PlainData } from '../crdt/data.js';
import type { GossipMsg, GossipPreset } from '../broadcast/gossip.js';
import { causalBroadcast, causalOptions, type CausalOutput, type CausalRequest } from '../causal/causal-broadcast.js';
import type { PeerAddress, TcpTransport } from '../transport/tcp-transport.js';
import type { Logger } from '../platform/log.js';
import { listenAsNode } from './node-transport.js';
import { WallClockHost } from '../kernel/wall-clock-host.js';
import type { OpsListen } from './ops-http.js';

export interface ChatNodeConfig {
  readonly self: PeerAddress;
  /** Every node of the cluster, self included, in peers-file order. */
  readonly peers: readonly PeerAddress[];
  readonly clusterId: string;
  readonly clusterKey?: Buffer;
  readonly preset: GossipPreset;
  /** After stdin ends, how long at most to wait for the neighbours' acknowledgements. */
  readonly lingerMs: number;
  /** Serve /metrics, /healthz and /readyz here (`--metrics-port`); default: not served. */
  readonly metrics?: OpsListen;
}

export interface ChatIo {
  readonly stdin: NodeJS.ReadableStream;
  readonly stdout: NodeJS.WritableStream;
  readonly log: Logger;
  /** Aborted on SIGINT/SIGTERM: the node stops at once. */
  readonly interrupt?: AbortSignal;
}

/** A longer line is refused with a warning: it would make one oversized message for every node. */
export const MAX_CHAT_LINE_CHARS = 16 * 1024;

// C0 and C1 controls (but tab) and DEL: a peer's line must not move the cursor, clear the screen or retitle the terminal.
const CONTROL = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f]/g;

/** The printed form of a delivered line. Non-string payloads (from other clients) are shown as JSON. */
export function formatChatLine(origin: NodeId, payload: PlainData): string {
  let text: string;
  if (typeof payload === 'string') text = payload;
  else {
    try {
      text = JSON.stringify(payload, (_key, value: unknown) => (typeof value === 'bigint' ? value.toString() : value)) ?? String(payload);
    } catch {
      text = String(payload);
    }
  }
  return `${origin}: ${text.replace(CONTROL, '\ufffd')}`;
}

/** Resolves with the exit code once the node has stopped. */
export async function runChatNode(config: ChatNodeConfig, io: ChatIo): Promise<number> {
  const startedAtMs = performance.timeOrigin;
  const { log } = io;
  let host: WallClockHost<GossipMsg, CausalOutput, CausalRequest> | undefined;
  let finish: (code: number) => void = () => {};
  const finished = new Promise<number>((resolve) => (finish = resolve));

  // Loaded only with --metrics-port: a node without it need not load prom-client (start-up time, bench:startup).
  const opsOptions = { protocol: causalBroadcast.name, self: config.self.id, nodes: config.peers.map((p) => p.id), conditions: ['transport', 'protocol'] };
  const served = config.metrics === undefined ? undefined : await (await import('./ops-http.js')).serveNodeOps(config.metrics, opsOptions, log);
  let transport: TcpTransport;
  try {
    transport = await listenAsNode(config, {
      // Chat nodes come and go: a restarted peer is taken back, and gossip sends it the whole history.
      rejectRestartedPeers: false,
      log,
      onMessage: (from, msg) => host?.receive(from, msg as GossipMsg),
      ...(served === undefined ? {} : { onFrame: served.ops.metrics.frameObserver }),
    });
  } catch (error) {
    await served?.server.close();
    throw error;
  }
  served?.ops.readiness.mark('transport');

  host = new WallClockHost<GossipMsg, CausalOutput, CausalRequest>(causalBroadcast, {
    send: (to, msg) => transport.send(to, msg),
    output: (out) => {
      switch (out.kind) {
        case 'deliver':
          io.stdout.write(`${formatChatLine(out.origin, out.payload)}\n`);
          break;
        case 'accepted':
          log.debug({ clock: out.clock.toString() }, 'line broadcast');
          break;
        case 'rejected':
          log.warn({ reason: out.reason }, 'line not sent');
          break;
      }
    },
    halt: () => finish(0),
    log,
  });
  host.start(config.self.id, config.peers.map((p) => p.id), causalOptions(config.preset), startedAtMs);
  const started = host;
  served?.ops.metrics.setSnapshotSource(() => started.metrics());
  served?.ops.readiness.mark('protocol');
  log.info({ peers: config.peers.length, port: config.self.port, gossip: config.preset }, 'chat node started; type lines to send them');

  const lines = createInterface({ input: io.stdin, crlfDelay: Infinity, terminal: false });
  lines.on('line', (raw) => {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line.length === 0) return;
    if (line.length > MAX_CHAT_LINE_CHARS) {
      log.warn({ chars: line.length, max: MAX_CHAT_LINE_CHARS }, 'line too long; not sent');
      return;
    }
    host?.request({ kind: 'broadcast', payload: line });
  });
  lines.on('close', () => {
    log.debug({ lingerMs: config.lingerMs }, 'input ended; waiting for the neighbours to acknowledge');
    host?.request({ kind: 'drain', withinMs: config.lingerMs });
  });
  // A closed stdout (`chatterbox chat | head -1`) ends the chat like an interrupt rather than crashing it.
  io.stdout.on('error', () => finish(0));
  const onInterrupt = (): void => finish(0);
  if (io.interrupt?.aborted === true) finish(0);
  io.interrupt?.addEventListener('abort', onInterrupt, { once: true });

  const code = await finished;
  served?.ops.readiness.stopping();
  io.interrupt?.removeEventListener('abort', onInterrupt);
  lines.removeAllListeners('close');
  lines.close();
  host.stop();
  log.info({ ...host.metrics() }, 'chat node stopping');
  await transport.close();
  await served?.server.close();
  return code;
}
