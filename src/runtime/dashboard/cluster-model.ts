/**
 * What `chatterbox cluster --dashboard` shows, worked out from the nodes' own `progress` lines (JSON on their
 * stderr, every 250 ms, and once more as they stop): each node's phase and counters, who has confirmed its
 * result, and per link (from the sender's counters) messages and bytes. Pure: time comes in as an argument.
 *
 * Rates are differences of counters over the last RATE_WINDOW_MS of samples, so they read steadily although
 * progress lines arrive at their own pace. History for the throughput chart is one point per sample, the
 * oldest dropped past MAX_HISTORY_POINTS.
 */
import { assert } from '../../core/assert.js';

/** Rates span about this much time (four samples of 250 ms): steady to read, still live. */
export const RATE_WINDOW_MS = 1_000;
/** Samples kept per node for rates: enough to cover RATE_WINDOW_MS at the sampling interval, with room. */
const MAX_RATE_SAMPLES = 16;
/** Points of the throughput chart: 10 minutes at one per 250 ms; older points are dropped. */
export const MAX_HISTORY_POINTS = 2_400;
/** Nodes a dashboard tracks: `cluster` starts at most 64. */
export const MAX_DASHBOARD_NODES = 64;
/** The text of one node's result line kept (a node prints one short line). */
const MAX_LINE_CHARS = 200;

export interface LinkCounters {
  readonly framesOut: number;
  readonly bytesOut: number;
  readonly framesIn: number;
  readonly bytesIn: number;
}

export interface NodeView {
  readonly id: string;
  readonly phase: string;
  /** 'running', or how the process ended ('exit 0', 'SIGKILL', 'killed (--kill)', …). */
  readonly state: string;
  readonly sent: number | null;
  readonly committed: number | null;
  readonly pending: number | null;
  /** Hybrid-clock µs the ledger is folded up to (the stream protocol), null before its first commit. */
  readonly watermarkUs: number | null;
  /** Peers whose done report matches this node's result. */
  readonly confirmedBy: readonly string[];
  readonly sentPerSec: number;
  readonly committedPerSec: number;
  /** The line the node printed, once it has. */
  readonly line: string | null;
}

export interface LinkView {
  readonly from: string;
  readonly to: string;
  readonly msgs: number;
  readonly bytes: number;
  readonly msgsPerSec: number;
  readonly bytesPerSec: number;
}

export interface ClusterSnapshot {
  readonly kind: 'cluster';
  readonly protocol: string;
  readonly elapsedMs: number;
  readonly plannedMs: number;
  readonly nodes: readonly NodeView[];
  readonly links: readonly LinkView[];
  /** Seconds since the start, and the whole cluster's values sent and committed per second, per sample. */
  readonly history: { readonly t: readonly number[]; readonly sentPerSec: readonly number[]; readonly committedPerSec: readonly number[] };
  /** Set once the run is over: the verdict's lines and the command's exit status. */
  readonly finished: { readonly exitCode: number; readonly verdict: readonly string[] } | null;
}

interface Sample {
  readonly atMs: number;
  readonly sent: number;
  readonly committed: number;
  readonly links: Readonly<Record<string, LinkCounters>>;
}

interface NodeRecord {
  phase: string;
  state: string;
  sent: number | null;
  committed: number | null;
  pending: number | null;
  watermarkUs: number | null;
  confirmedBy: string[];
  links: Record<string, LinkCounters>;
  line: string | null;
  /** Counters at each sample, oldest first, for rates. */
  samples: Sample[];
}

const NO_TRAFFIC: LinkCounters = { framesOut: 0, bytesOut: 0, framesIn: 0, bytesIn: 0 };

function finite(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

function linkCounters(value: unknown): LinkCounters | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const v = value as Record<string, unknown>;
  const framesOut = finite(v['framesOut']);
  const bytesOut = finite(v['bytesOut']);
  const framesIn = finite(v['framesIn']);
  const bytesIn = finite(v['bytesIn']);
  if (framesOut === null || bytesOut === null || framesIn === null || bytesIn === null) return undefined;
  return { framesOut, bytesOut, framesIn, bytesIn };
}

function perSec(now: number, then: number, ms: number): number {
  return ms <= 0 ? 0 : Math.max(0, ((now - then) * 1000) / ms);
}

export class ClusterDashboardModel {
  private readonly nodes = new Map<string, NodeRecord>();
  private readonly history = { t: [] as number[], sentPerSec: [] as number[], committedPerSec: [] as number[] };
  private finished: ClusterSnapshot['finished'] = null;

  constructor(
    private readonly protocol: string,
    private readonly plannedMs: number,
    private startedAtMs: number,
  ) {}

  /** The run starts now (`cluster --dashboard-wait` waited for a page first). */
  begin(nowMs: number): void {
    this.startedAtMs = nowMs;
  }

  /** A node the page shows from now on (in the order added). */
  addNode(id: string): void {
    if (this.nodes.has(id)) return;
    assert(this.nodes.size < MAX_DASHBOARD_NODES, `a dashboard tracks at most ${MAX_DASHBOARD_NODES} nodes`);
    this.nodes.set(id, { phase: 'starting', state: 'running', sent: null, committed: null, pending: null, watermarkUs: null, confirmedBy: [], links: {}, line: null, samples: [] });
  }

  /** A node's `progress` record (its JSON log line, parsed). Fields it lacks keep their last value. */
  progress(id: string, record: Readonly<Record<string, unknown>>): void {
    const node = this.nodes.get(id);
    if (node === undefined) return;
    if (typeof record['phase'] === 'string') node.phase = record['phase'];
    node.sent = finite(record['sent']) ?? node.sent;
    node.committed = finite(record['committed']) ?? node.committed;
    node.pending = finite(record['pending']) ?? node.pending;
    node.watermarkUs = finite(record['watermarkUs']) ?? node.watermarkUs;
    if (typeof record['confirmed'] === 'string') node.confirmedBy = record['confirmed'].split(',').filter((p) => p.length > 0 && this.nodes.has(p));
    const links = record['links'];
    if (typeof links === 'object' && links !== null) {
      for (const [peer, value] of Object.entries(links as Record<string, unknown>)) {
        const counters = linkCounters(value);
        if (counters !== undefined && this.nodes.has(peer) && peer !== id) node.links[peer] = counters;
      }
    }
  }

  /** How the node's process stands: 'running' or how it ended. */
  setState(id: string, state: string): void {
    const node = this.nodes.get(id);
    if (node !== undefined) node.state = state;
  }

  /** The line the node printed on stdout. */
  setLine(id: string, line: string): void {
    const node = this.nodes.get(id);
    if (node !== undefined && line.trim().length > 0) node.line = line.trim().slice(0, MAX_LINE_CHARS);
  }

  /** Takes a sample (rates and one chart point) and returns the snapshot; call once per interval. */
  sample(nowMs: number): ClusterSnapshot {
    let sentPerSec = 0;
    let committedPerSec = 0;
    for (const node of this.nodes.values()) {
      node.samples.push({ atMs: nowMs, sent: node.sent ?? 0, committed: node.committed ?? 0, links: { ...node.links } });
      while (node.samples.length > MAX_RATE_SAMPLES || (node.samples.length > 2 && nowMs - node.samples[1]!.atMs >= RATE_WINDOW_MS)) node.samples.shift();
      const rate = this.rates(node);
      sentPerSec += rate.sent;
      committedPerSec += rate.committed;
    }
    // No points before the first node starts (a page may be watching before the run begins: --dashboard-wait).
    if (this.finished === null && this.nodes.size > 0) {
      this.history.t.push(Math.round(nowMs - this.startedAtMs) / 1000);
      this.history.sentPerSec.push(Math.round(sentPerSec));
      this.history.committedPerSec.push(Math.round(committedPerSec));
      if (this.history.t.length > MAX_HISTORY_POINTS) {
        this.history.t.shift();
        this.history.sentPerSec.shift();
        this.history.committedPerSec.shift();
      }
    }
    return this.snapshot(nowMs);
  }

  /** The run is over: the final snapshot carries the verdict. */
  finish(exitCode: number, verdict: readonly string[], nowMs: number): ClusterSnapshot {
    const last = this.sample(nowMs);
    this.finished = { exitCode, verdict: [...verdict] };
    return { ...last, finished: this.finished };
  }

  private rates(node: NodeRecord): { sent: number; committed: number } {
    const first = node.samples[0];
    const last = node.samples[node.samples.length - 1];
    if (first === undefined || last === undefined) return { sent: 0, committed: 0 };
    const ms = last.atMs - first.atMs;
    return { sent: perSec(last.sent, first.sent, ms), committed: perSec(last.committed, first.committed, ms) };
  }

  private snapshot(nowMs: number): ClusterSnapshot {
    const nodes: NodeView[] = [];
    const links: LinkView[] = [];
    for (const [id, node] of this.nodes) {
      const rate = this.rates(node);
      nodes.push({
        id,
        phase: node.phase,
        state: node.state,
        sent: node.sent,
        committed: node.committed,
        pending: node.pending,
        watermarkUs: node.watermarkUs,
        confirmedBy: [...node.confirmedBy],
        sentPerSec: Math.round(rate.sent),
        committedPerSec: Math.round(rate.committed),
        line: node.line,
      });
      const first = node.samples[0];
      const last = node.samples[node.samples.length - 1];
      const ms = first === undefined || last === undefined ? 0 : last.atMs - first.atMs;
      for (const [to, counters] of Object.entries(node.links)) {
        // A link absent from the window's first sample had carried nothing yet: its counters start at 0.
        const then = first?.links[to] ?? NO_TRAFFIC;
        links.push({
          from: id,
          to,
          msgs: counters.framesOut,
          bytes: counters.bytesOut,
          msgsPerSec: Math.round(perSec(counters.framesOut, then.framesOut, ms)),
          bytesPerSec: Math.round(perSec(counters.bytesOut, then.bytesOut, ms)),
        });
      }
    }
    return {
      kind: 'cluster',
      protocol: this.protocol,
      elapsedMs: Math.round(nowMs - this.startedAtMs),
      plannedMs: this.plannedMs,
      nodes,
      links,
      history: { t: [...this.history.t], sentPerSec: [...this.history.sentPerSec], committedPerSec: [...this.history.committedPerSec] },
      finished: this.finished,
    };
  }
}
