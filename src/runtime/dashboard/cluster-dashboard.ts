/**
 * `chatterbox cluster --dashboard`, the process side: the model (cluster-model.ts) fed from the nodes' lines,
 * sampled every SNAPSHOT_INTERVAL_MS into the page's event stream, served on loopback. When the run ends the
 * final snapshot (with the verdict) stays; `linger` then keeps serving until a signal, or for a named time.
 */
import { ClusterDashboardModel } from './cluster-model.js';
import { clusterDashboardPage } from './cluster-page.js';
import { serveDashboard } from './server.js';
import { SNAPSHOT_INTERVAL_MS, SnapshotChannel } from './sse.js';

export interface ClusterDashboardOptions {
  readonly host: string;
  /** 0 picks a free port. */
  readonly port: number;
  readonly protocol: string;
  readonly plannedMs: number;
  /** Date.now() at the run's start. */
  readonly startedAtMs: number;
}

export interface ClusterDashboard {
  /** The page's URL. */
  readonly url: string;
  /** Resolves when a page first connects to the events. */
  readonly watched: Promise<void>;
  /** The run starts now (after waiting for a page): elapsed time and the chart count from here. */
  begin(nowMs: number): void;
  addNode(id: string): void;
  /** A node's stderr line that is a `progress` record (anything else is ignored). */
  progressLine(id: string, line: string): void;
  setState(id: string, state: string): void;
  setLine(id: string, line: string): void;
  /** The run is over: the final snapshot, with the verdict, is sent and stays. */
  finish(exitCode: number, verdict: readonly string[]): void;
  /** Resolves after `lingerMs`, or (undefined) never by itself; `stop` resolves it early. */
  linger(lingerMs: number | undefined): Promise<void>;
  /** Ends a linger; then `close`. */
  stop(): void;
  close(): Promise<void>;
}

export async function startClusterDashboard(options: ClusterDashboardOptions): Promise<ClusterDashboard> {
  const model = new ClusterDashboardModel(options.protocol, options.plannedMs, options.startedAtMs);
  const channel = new SnapshotChannel();
  const server = await serveDashboard(options.host, options.port, { pagePath: '/', eventsPath: '/events', page: clusterDashboardPage(), channel });
  const sampler = setInterval(() => channel.publish(model.sample(Date.now())), SNAPSHOT_INTERVAL_MS);
  let endLinger: () => void = () => {};
  let stopped = false;
  return {
    url: server.url,
    watched: channel.watched,
    begin: (nowMs) => model.begin(nowMs),
    addNode: (id) => model.addNode(id),
    progressLine: (id, line) => {
      let record: unknown;
      try {
        record = JSON.parse(line);
      } catch {
        return;
      }
      if (typeof record === 'object' && record !== null && (record as Record<string, unknown>)['msg'] === 'progress') model.progress(id, record as Record<string, unknown>);
    },
    setState: (id, state) => model.setState(id, state),
    setLine: (id, line) => model.setLine(id, line),
    finish: (exitCode, verdict) => {
      clearInterval(sampler);
      channel.finish(model.finish(exitCode, verdict, Date.now()));
    },
    linger: (lingerMs) =>
      new Promise<void>((resolve) => {
        if (stopped) return resolve();
        const timer = lingerMs === undefined ? undefined : setTimeout(resolve, lingerMs);
        endLinger = () => {
          clearTimeout(timer);
          resolve();
        };
      }),
    stop: () => {
      stopped = true;
      endLinger();
    },
    close: () => {
      clearInterval(sampler);
      return server.close();
    },
  };
}
