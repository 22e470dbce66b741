/**
 * Serving one live page: its HTML at `pagePath` and its snapshots at `eventsPath` (sse.ts). `handleDashboard`
 * answers those two paths inside any HTTP server (the ranges node mounts it on its API at /ui); `serveDashboard`
 * is a server of its own on loopback (`chatterbox cluster --dashboard`).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { isLoopbackBind } from '../ranges-http.js';
import { isLoopbackRequest, type SnapshotChannel } from './sse.js';
import { formatHostPort } from '../../transport/host-port.js';

export interface DashboardRoutes {
  /** e.g. '/' or '/ui'. */
  readonly pagePath: string;
  /** e.g. '/events' or '/ui/events'. */
  readonly eventsPath: string;
  /** The whole self-contained page. */
  readonly page: string;
  readonly channel: SnapshotChannel;
}

function plain(res: ServerResponse, status: number, text: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store', ...headers });
  res.end(`${text}\n`);
}

/** Answers the page or its events and returns true; false when the path is neither (the caller routes it). */
export function handleDashboard(req: IncomingMessage, res: ServerResponse, routes: DashboardRoutes): boolean {
  const path = new URL(req.url ?? '/', 'http://localhost').pathname;
  if (path !== routes.pagePath && path !== routes.eventsPath) return false;
  req.resume();
  if (!isLoopbackRequest(req)) {
    plain(res, 403, 'this page is served on loopback and answers only requests addressed to localhost or a loopback address');
  } else if (req.method !== 'GET' && req.method !== 'HEAD') {
    plain(res, 405, 'only GET', { allow: 'GET, HEAD' });
  } else if (path === routes.eventsPath) {
    routes.channel.accept(res);
  } else {
    res.writeHead(200, {
      'content-type': 'text/html; charset=utf-8',
      'cache-control': 'no-store',
      // Everything is inline; the page may connect only back to this server (its events).
      'content-security-policy': "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:; connect-src 'self'",
    });
    res.end(req.method === 'HEAD' ? undefined : routes.page);
  }
  return true;
}

export interface DashboardServer {
  /** http://host:port/ */
  readonly url: string;
  readonly port: number;
  /** Ends the event streams and closes the server. */
  close(): Promise<void>;
}

/** A server on `host` (loopback only: anything else throws) for one page; port 0 picks a free one. */
export async function serveDashboard(host: string, port: number, routes: DashboardRoutes): Promise<DashboardServer> {
  if (!isLoopbackBind(host)) throw new Error(`a dashboard listens on loopback only, not ${host}`);
  const server: Server = createServer((req, res) => {
    if (!handleDashboard(req, res, routes)) plain(res, 404, 'not found');
  });
  server.headersTimeout = 10_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  const bound = typeof address === 'object' && address !== null ? address.port : port;
  return {
    url: `http://${formatHostPort(host, bound)}${routes.pagePath}`,
    port: bound,
    close: () =>
      new Promise<void>((resolve) => {
        routes.channel.close();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
