/**
 * Live pages over server-sent events: one `SnapshotChannel` per page pushes JSON snapshots of what it shows to
 * every connected browser, and keeps the last one so a page that (re)connects draws at once.
 *
 * Bounded on every side: at most MAX_SSE_CLIENTS browsers (one more gets 503), at most one snapshot per
 * SNAPSHOT_INTERVAL_MS (the owner samples on that interval; nothing else sends), and a browser that stops
 * reading is dropped once MAX_CLIENT_BACKLOG_BYTES wait for it, rather than buffering without end. The browser's
 * EventSource reconnects on its own (after RECONNECT_MS, the `retry` field); when the run ends, `finish` sends the
 * final snapshot (marked finished by its owner) and the stream stays open, so the final picture stays in place.
 *
 * Loopback only: the pages have no authentication, so a server refuses to listen anywhere else, and answers
 * only requests whose Host header names loopback (a page that rebinds its DNS name to 127.0.0.1 still sends
 * its own name), as the ranges API does.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isLoopbackHost } from '../ranges-http.js';

/** Browsers connected at once to one page's events; more get 503. A dashboard is watched by a person or two. */
export const MAX_SSE_CLIENTS = 16;
/** Snapshots at most this often: a person cannot read faster, and a busy cluster must not pay for its picture. */
export const SNAPSHOT_INTERVAL_MS = 250;
/** Bytes waiting for one browser beyond which it is dropped (it reconnects and gets the latest snapshot). */
export const MAX_CLIENT_BACKLOG_BYTES = 4 * 1024 * 1024;
/** EventSource's reconnection delay after the stream breaks. */
export const RECONNECT_MS = 1_000;

/** Whether a request is addressed to loopback (its Host header), as a loopback-only server requires. */
export function isLoopbackRequest(req: IncomingMessage): boolean {
  return isLoopbackHost(req.headers.host);
}

export class SnapshotChannel {
  private readonly clients = new Set<ServerResponse>();
  private last: string | undefined;
  private finished = false;
  private markWatched: () => void = () => {};
  /** Resolves when the first browser connects (`cluster --dashboard-wait` starts its nodes then). */
  readonly watched = new Promise<void>((resolve) => (this.markWatched = resolve));

  /** Browsers connected now. */
  get clientCount(): number {
    return this.clients.size;
  }

  get isFinished(): boolean {
    return this.finished;
  }

  /** Answers a GET of the events URL: the stream, starting with the last snapshot; 503 past MAX_SSE_CLIENTS. */
  accept(res: ServerResponse): void {
    if (this.clients.size >= MAX_SSE_CLIENTS) {
      res.writeHead(503, { 'content-type': 'text/plain; charset=utf-8', 'retry-after': '5' });
      res.end(`at most ${MAX_SSE_CLIENTS} pages may watch at once\n`);
      return;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive' });
    res.write(`retry: ${RECONNECT_MS}\n\n`);
    if (this.last !== undefined) res.write(this.last);
    this.clients.add(res);
    this.markWatched();
    // The response's close, not the request's: a request closes as soon as its (empty) body is read.
    res.on('close', () => this.clients.delete(res));
  }

  /** Sends a snapshot to every browser (the owner calls this at most once per SNAPSHOT_INTERVAL_MS). Ignored once finished. */
  publish(snapshot: unknown): void {
    if (this.finished) return;
    this.send(snapshot);
  }

  /** Sends the final snapshot; later publishes are ignored, and later browsers get this one. */
  finish(snapshot: unknown): void {
    if (this.finished) return;
    this.send(snapshot);
    this.finished = true;
  }

  /** Ends every stream (the server is closing). */
  close(): void {
    for (const res of this.clients) res.end();
    this.clients.clear();
  }

  private send(snapshot: unknown): void {
    // One `data:` line: JSON.stringify never emits a raw newline.
    this.last = `data: ${JSON.stringify(snapshot)}\n\n`;
    for (const res of this.clients) {
      if (res.writableLength > MAX_CLIENT_BACKLOG_BYTES) {
        this.clients.delete(res);
        res.destroy();
        continue;
      }
      res.write(this.last);
    }
  }
}
