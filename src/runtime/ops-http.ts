/**
 * The operator's endpoints of a long-running node: `/metrics`, `/healthz`, `/readyz`. `ranges serve` answers them
 * on its HTTP API (ranges-node.ts); `node` and `chat` serve them on `--metrics-port` (`startOpsServer`).
 *
 * - `/metrics`: Prometheus' text exposition format, from the node's registry (metrics.ts).
 * - `/healthz`: 200 while the process answers at all. An answer is itself the proof that the event loop turns (a
 *   node whose loop is stuck cannot answer, and the probe's timeout says so), so nothing else is checked: a
 *   liveness probe that also failed on a missing peer would restart healthy nodes during a partition.
 * - `/readyz`: 200 once every condition the node named has been marked (its store open, its transport listening,
 *   its protocol started, and with `--join` its join done), and 503 before and from the moment it begins to stop.
 *   The body says which conditions it still waits for.
 *
 * GET and HEAD only; every answer is `no-store`.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { NodeId } from '../core/ids.js';
import type { Logger } from '../platform/log.js';
import { formatHostPort } from '../transport/host-port.js';
import { NodeMetrics } from './metrics.js';

export type OpsEndpoint = 'metrics' | 'healthz' | 'readyz';

const ENDPOINTS: Readonly<Record<string, OpsEndpoint>> = { '/metrics': 'metrics', '/healthz': 'healthz', '/readyz': 'readyz' };

/** Conditions a node names at most: a handful in practice (store, transport, protocol, joined). */
export const MAX_READY_CONDITIONS = 16;

/** Which operator endpoint a request target names (its query ignored, as Prometheus may add one), if any. */
export function opsEndpointOf(url: string): OpsEndpoint | undefined {
  const path = url.split('?', 1)[0]!;
  return Object.hasOwn(ENDPOINTS, path) ? ENDPOINTS[path] : undefined;
}

/** What `/readyz` answers: ready once every required condition is marked, and never again once stopping. */
export class Readiness {
  private readonly waiting = new Set<string>();
  private stopped = false;

  constructor(conditions: readonly string[] = []) {
    for (const condition of conditions) this.require(condition);
  }

  /** Adds a condition to wait for (e.g. `joined` for a node started with `--join`); before it is marked, not ready. */
  require(condition: string): void {
    if (this.waiting.size >= MAX_READY_CONDITIONS) throw new RangeError(`at most ${MAX_READY_CONDITIONS} readiness conditions`);
    this.waiting.add(condition);
  }

  /** The condition holds from now on. Marking one never required is harmless. */
  mark(condition: string): void {
    this.waiting.delete(condition);
  }

  /** The node is stopping: not ready, whatever was marked. */
  stopping(): void {
    this.stopped = true;
  }

  get ready(): boolean {
    return !this.stopped && this.waiting.size === 0;
  }

  status(): { readonly ready: boolean; readonly stopping: boolean; readonly waitingFor: readonly string[] } {
    return { ready: this.ready, stopping: this.stopped, waitingFor: [...this.waiting].sort() };
  }
}

/** A node's metrics and readiness: what its endpoints answer from, and what its driver feeds. */
export interface NodeOps {
  readonly metrics: NodeMetrics;
  readonly readiness: Readiness;
}

export interface NodeOpsOptions {
  readonly protocol: string;
  readonly self: NodeId;
  readonly nodes: readonly NodeId[];
  /** What `/readyz` waits for before it answers 200. */
  readonly conditions: readonly string[];
  readonly defaultMetrics?: boolean;
}

export function createNodeOps(options: NodeOpsOptions): NodeOps {
  return {
    metrics: new NodeMetrics({
      protocol: options.protocol,
      self: options.self,
      nodes: options.nodes,
      ...(options.defaultMetrics === undefined ? {} : { defaultMetrics: options.defaultMetrics }),
    }),
    readiness: new Readiness(options.conditions),
  };
}

function write(res: ServerResponse, method: string, status: number, contentType: string, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store', ...headers });
  res.end(method === 'HEAD' ? undefined : body);
}

const JSON_TYPE = 'application/json; charset=utf-8';

/**
 * Answers `req` if it names an operator endpoint; false (nothing written) otherwise, for the caller's own routes.
 * The request's body, if any, is left for the caller to drain.
 */
export async function answerOps(ops: NodeOps, req: IncomingMessage, res: ServerResponse): Promise<boolean> {
  const endpoint = opsEndpointOf(req.url ?? '/');
  if (endpoint === undefined) return false;
  const method = (req.method ?? 'GET').toUpperCase();
  if (method !== 'GET' && method !== 'HEAD') {
    write(res, method, 405, JSON_TYPE, `${JSON.stringify({ error: { code: 'method-not-allowed', message: `${method} is not allowed here; use GET` } })}\n`, { allow: 'GET, HEAD' });
    return true;
  }
  switch (endpoint) {
    case 'metrics':
      write(res, method, 200, ops.metrics.contentType, await ops.metrics.text());
      break;
    case 'healthz':
      write(res, method, 200, JSON_TYPE, `${JSON.stringify({ status: 'ok' })}\n`);
      break;
    case 'readyz': {
      const status = ops.readiness.status();
      write(res, method, status.ready ? 200 : 503, JSON_TYPE, `${JSON.stringify(status)}\n`);
      break;
    }
  }
  return true;
}

export interface OpsServer {
  /** e.g. http://127.0.0.1:9100 */
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

export interface OpsListen {
  readonly host: string;
  /** 0 picks a free port (see `OpsServer.port`). */
  readonly port: number;
}

/** Serves the three endpoints alone (for `node` and `chat`, which have no HTTP API of their own). Rejects if it cannot listen. */
export async function startOpsServer(listen: OpsListen, ops: NodeOps, log: Logger): Promise<OpsServer> {
  const server: Server = createServer((req, res) => {
    req.resume();
    answerOps(ops, req, res)
      .then((answered) => {
        if (!answered) write(res, req.method ?? 'GET', 404, JSON_TYPE, `${JSON.stringify({ error: { code: 'not-found', message: 'try /metrics, /healthz or /readyz' } })}\n`);
      })
      .catch((error: unknown) => {
        log.error({ err: error }, 'metrics endpoint failed');
        if (!res.headersSent) write(res, 'GET', 500, JSON_TYPE, `${JSON.stringify({ error: { code: 'internal', message: 'internal error' } })}\n`);
        else res.destroy();
      });
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: listen.host, port: listen.port }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (error) => log.error({ err: error }, 'metrics endpoint error'));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : listen.port;
  const url = `http://${formatHostPort(listen.host, port)}`;
  let closing: Promise<void> | undefined;
  return {
    url,
    port,
    close: () => {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

/** A node's ops with their endpoints served on their own port (`--metrics-port` of `node` and `chat`). */
export interface ServedOps {
  readonly ops: NodeOps;
  readonly server: OpsServer;
}

/**
 * Creates the node's ops and serves them at `listen`; undefined (nothing created) when `listen` is. The caller
 * marks its conditions ready, calls `readiness.stopping()` when it begins to stop, and closes the server last.
 */
export async function serveNodeOps(listen: OpsListen | undefined, options: NodeOpsOptions, log: Logger): Promise<ServedOps | undefined> {
  if (listen === undefined) return undefined;
  const ops = createNodeOps(options);
  const server = await startOpsServer(listen, ops, log);
  log.info({ url: server.url }, 'metrics endpoints listening (/metrics, /healthz, /readyz)');
  return { ops, server };
}
