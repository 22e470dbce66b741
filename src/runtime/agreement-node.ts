/**
 * Runs one agreement-job node as an OS process: the chosen protocol over the TCP transport, on the wall clock.
 * Deadlines count from the process start, so slow start-up eats into the run, never past its end.
 */
import { formatFixed10, formatResultLine } from '../agreement/checksum.js';
import { AGREEMENT_PROTOCOLS, type AgreementProtocolName } from '../agreement/protocols.js';
import { PROCESS_TUNING, type StreamOptions } from '../agreement/stream.js';
import type { AgreementOptions, AgreementOutput } from '../agreement/types.js';
import type { PeerAddress, TcpTransport } from '../transport/tcp-transport.js';

export type { PeerAddress };
import type { Logger } from '../platform/log.js';
import { LinkCounters } from './link-counters.js';
import { listenAsNode } from './node-transport.js';
import { WallClockHost } from '../kernel/wall-clock-host.js';
import type { OpsListen } from './ops-http.js';


export interface AgreementNodeConfig {
  readonly self: PeerAddress;
  /** Every node of the cluster, self included, in peers-file order. */
  readonly peers: readonly PeerAddress[];
  /** Identifies the cluster in handshakes; derived from the sorted node ids unless given. */
  readonly clusterId: string;
  readonly clusterKey?: Buffer;
  readonly protocol: AgreementProtocolName;
  readonly sendForMs: number;
  readonly waitForMs: number;
  readonly tickMs: number;
  /** Already folded to 32 bits (core/prng.ts seed32). */
  readonly seed: number;
  /** Print the result as one JSON object instead of the `(count, sum)` line. */
  readonly json: boolean;
  /** Log a `progress` line (JSON, on stderr) every 250 ms, for `chatterbox cluster`. */
  readonly progress: boolean;
  /** Serve /metrics, /healthz and /readyz here (`--metrics-port`); default: not served. */
  readonly metrics?: OpsListen;
}

export interface NodeIo {
  readonly stdout: NodeJS.WritableStream;
  readonly log: Logger;
  /** Called once the node listens: what the command logs about its run waits for it, so a failure to listen is the only line. */
  readonly listening?: () => void;
}

const PROGRESS_EVERY_MS = 250;

export function formatAgreementOutput(result: AgreementOutput, json: boolean): string {
  if (!json) return formatResultLine(result);
  return JSON.stringify({ count: result.count, sum: formatFixed10(result.weighted), complete: result.complete, unconfirmed: result.unconfirmed });
}

/** Resolves with the process exit code once the node has printed its line and stopped. */
export async function runAgreementNode(config: AgreementNodeConfig, io: NodeIo): Promise<number> {
  const startedAtMs = performance.timeOrigin;
  const { log } = io;
  const protocol = AGREEMENT_PROTOCOLS[config.protocol];
  const options: AgreementOptions | StreamOptions = {
    seed: config.seed,
    sendForMs: config.sendForMs,
    waitForMs: config.waitForMs,
    tickMs: config.tickMs,
    ...(config.protocol === 'stream' ? { tuning: PROCESS_TUNING } : {}),
  };
  let host: WallClockHost<unknown, AgreementOutput> | undefined;
  let printed = false;
  let finish: (code: number) => void = () => {};
  const finished = new Promise<number>((resolve) => (finish = resolve));

  // Loaded only with --metrics-port: a node without it need not load prom-client (start-up time, bench:startup).
  const opsOptions = { protocol: protocol.name, self: config.self.id, nodes: config.peers.map((p) => p.id), conditions: ['transport', 'protocol'] };
  const served = config.metrics === undefined ? undefined : await (await import('./ops-http.js')).serveNodeOps(config.metrics, opsOptions, log);
  // Per-link counters for the progress lines (`cluster --dashboard` draws link rates from them).
  const links = config.progress ? new LinkCounters(config.peers.map((p) => p.id).filter((id) => id !== config.self.id)) : undefined;
  const observers = [links?.observe, served?.ops.metrics.frameObserver].filter((o) => o !== undefined);
  let transport: TcpTransport;
  try {
    transport = await listenAsNode(config, {
      // A restarted peer would send its stream again from the start: it cannot rejoin a run in progress.
      rejectRestartedPeers: true,
      log,
      onMessage: (from, msg) => host?.receive(from, msg),
      ...(observers.length === 0 ? {} : { onFrame: (direction, peer, msg, bytes) => observers.forEach((observe) => observe(direction, peer, msg, bytes)) }),
    });
  } catch (error) {
    await served?.server.close();
    throw error;
  }
  served?.ops.readiness.mark('transport');
  io.listening?.();

  host = new WallClockHost<unknown, AgreementOutput>(protocol, {
    send: (to, msg) => transport.send(to, msg),
    output: (result) => {
      printed = true;
      io.stdout.write(`${formatAgreementOutput(result, config.json)}\n`);
      log.info({ count: result.count, complete: result.complete, unconfirmed: result.unconfirmed }, 'result printed');
    },
    halt: () => finish(0),
    log,
  });
  log.info({ protocol: config.protocol, peers: config.peers.length, port: config.self.port }, 'node started');
  const progressFields = (): Record<string, unknown> => ({ ...host?.metrics(), links: links?.snapshot() ?? {} });
  const progress = config.progress ? setInterval(() => log.info(progressFields(), 'progress'), PROGRESS_EVERY_MS) : undefined;
  host.start(config.self.id, config.peers.map((p) => p.id), options, startedAtMs);
  const started = host;
  served?.ops.metrics.setSnapshotSource(() => started.metrics());
  served?.ops.readiness.mark('protocol');

  const code = await finished;
  served?.ops.readiness.stopping();
  if (progress !== undefined) clearInterval(progress);
  if (config.progress) log.info(progressFields(), 'progress');
  host.stop();
  await transport.close();
  // Peak resident memory, for the benchmark's "memory does not grow with the length of the run".
  log.info({ ...transport.stats(), maxRssKb: process.resourceUsage().maxRSS }, 'node stopped');
  await served?.server.close();
  return printed ? code : 1;
}
