/**
 * `chatterbox ranges serve --ui`: a live page on the node's own API, `/ui` and its events `/ui/events`. It asks
 * the node what its API answers (groups, each group's members and topology) through the same protocol
 * requests, every SNAPSHOT_INTERVAL_MS while a page watches (nothing while none does), and adds the transport's
 * message and byte rates. The page draws each group's key space as a bar, each subrange coloured by its first
 * owner, with its owners by priority; and the members by state.
 *
 * Members' states: from `clusterMembers` (the node's membership: alive, suspect, dead or left for each), or, while
 * it knows nobody yet or when not given, every node of the peers file shown as `listed`.
 */
import type { TransportStats } from '../../transport/tcp-transport.js';
import { handleDashboard } from './server.js';
import { livePage } from './live-page.js';
import { rangesUiScript, RANGES_UI_BODY, RANGES_UI_CSS } from './ranges-page.js';
import { SNAPSHOT_INTERVAL_MS, SnapshotChannel } from './sse.js';
import type { IncomingMessage, ServerResponse } from 'node:http';

/** Groups drawn at most (the first, by name); the page says how many more there are. */
export const MAX_UI_GROUPS = 16;
/** Subranges drawn per group at most; the page says how many more there are. */
export const MAX_UI_SUBRANGES = 512;

/** One owner of a subrange, as the API's topology answers it. */
export interface OwnerView {
  readonly node: string;
  readonly priority: number;
  readonly meta: unknown;
}

export interface RangesSnapshot {
  readonly kind: 'ranges';
  readonly node: { readonly id: string; readonly clusterId: string };
  /** Every member: alive, suspect, dead or left from membership, or `listed` (peers file, no membership). */
  readonly members: readonly { readonly id: string; readonly state: string }[];
  readonly membershipStates: boolean;
  readonly groups: readonly {
    readonly name: string;
    readonly members: readonly string[];
    readonly subranges: readonly { readonly start: number; readonly end: number; readonly owners: readonly OwnerView[] }[];
    readonly moreSubranges: number;
  }[];
  readonly moreGroups: number;
  /** This node's transport, all peers together, per second. */
  readonly rates: { readonly msgsInPerSec: number; readonly msgsOutPerSec: number; readonly bytesInPerSec: number; readonly bytesOutPerSec: number };
  readonly finished: { readonly exitCode: number; readonly verdict: readonly string[] } | null;
}

/** What the UI needs of its node: a read request answered in the same step, as the API's. */
export type UiCall = (request: { readonly op: 'groups' } | { readonly op: 'members' | 'topology'; readonly group: string }) => { readonly ok: true; readonly result: unknown } | { readonly ok: false };

export interface RangesUiSources {
  readonly self: string;
  readonly clusterId: string;
  /** The nodes of the peers file. */
  readonly listed: readonly string[];
  readonly call: UiCall;
  readonly transportStats: () => TransportStats;
  /** The live member list with states, when the node runs membership (the place for alive/suspect/dead/left). */
  readonly clusterMembers?: () => readonly { readonly node: string; readonly state: string }[] | undefined;
}

export interface RangesUi {
  /** Answers /ui and /ui/events and returns true; false for any other path. */
  handle(req: IncomingMessage, res: ServerResponse): boolean;
  /** The node stops: the final snapshot stays on open pages. */
  finish(exitCode: number, reason: string): void;
  close(): void;
}

function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

function owners(value: unknown): OwnerView[] {
  if (!Array.isArray(value)) return [];
  return value.flatMap((r: unknown) => {
    if (typeof r !== 'object' || r === null) return [];
    const o = r as Record<string, unknown>;
    return typeof o['node'] === 'string' && typeof o['priority'] === 'number' ? [{ node: o['node'], priority: o['priority'], meta: o['meta'] ?? null }] : [];
  });
}

export function startRangesUi(sources: RangesUiSources): RangesUi {
  const channel = new SnapshotChannel();
  const page = livePage({
    title: `chatterbox ranges: ${sources.self}`,
    subtitle: `Key ranges as node ${sources.self} of cluster ${sources.clusterId} sees them, live.`,
    body: RANGES_UI_BODY,
    eventsUrl: '/ui/events',
    script: rangesUiScript(),
    css: RANGES_UI_CSS,
    charts: false,
  });
  let previous: { atMs: number; stats: TransportStats } | undefined;

  const snapshot = (nowMs: number): RangesSnapshot => {
    const answer = (request: Parameters<UiCall>[0]): unknown => {
      const reply = sources.call(request);
      return reply.ok ? reply.result : undefined;
    };
    const names = strings(answer({ op: 'groups' })).sort();
    const groups = names.slice(0, MAX_UI_GROUPS).map((name) => {
      const topology = answer({ op: 'topology', group: name });
      const all = Array.isArray(topology) ? topology : [];
      const subranges = all.slice(0, MAX_UI_SUBRANGES).flatMap((s: unknown) => {
        if (typeof s !== 'object' || s === null) return [];
        const v = s as Record<string, unknown>;
        return typeof v['start'] === 'number' && typeof v['end'] === 'number' ? [{ start: v['start'], end: v['end'], owners: owners(v['nodes']) }] : [];
      });
      return { name, members: strings(answer({ op: 'members', group: name })).sort(), subranges, moreSubranges: Math.max(0, all.length - MAX_UI_SUBRANGES) };
    });
    const stats = sources.transportStats();
    const ms = previous === undefined ? 0 : nowMs - previous.atMs;
    const rate = (now: number, then: number | undefined): number => (then === undefined || ms <= 0 ? 0 : Math.max(0, Math.round(((now - then) * 1000) / ms)));
    const rates = {
      msgsInPerSec: rate(stats.framesIn, previous?.stats.framesIn),
      msgsOutPerSec: rate(stats.framesOut, previous?.stats.framesOut),
      bytesInPerSec: rate(stats.bytesIn, previous?.stats.bytesIn),
      bytesOutPerSec: rate(stats.bytesOut, previous?.stats.bytesOut),
    };
    previous = { atMs: nowMs, stats };
    const live = sources.clusterMembers?.();
    return {
      kind: 'ranges',
      node: { id: sources.self, clusterId: sources.clusterId },
      members: live === undefined ? [...sources.listed].sort().map((id) => ({ id, state: 'listed' })) : [...live].sort((a, b) => (a.node < b.node ? -1 : a.node > b.node ? 1 : 0)).map((m) => ({ id: m.node, state: m.state })),
      membershipStates: live !== undefined,
      groups,
      moreGroups: Math.max(0, names.length - MAX_UI_GROUPS),
      rates,
      finished: null,
    };
  };

  let publishedAtMs = -Infinity;
  const publish = (nowMs: number): void => {
    publishedAtMs = nowMs;
    channel.publish(snapshot(nowMs));
  };
  // Sampled only while a page watches: an unwatched node pays nothing for its UI.
  const sampler = setInterval(() => {
    if (channel.clientCount > 0) publish(Date.now());
  }, SNAPSHOT_INTERVAL_MS);
  const routes = { pagePath: '/ui', eventsPath: '/ui/events', page, channel };
  return {
    handle: (req, res) => {
      const handled = handleDashboard(req, res, routes);
      // A page that connects gets a fresh picture at once, not the one from when the last page left.
      if (handled && !channel.isFinished && new URL(req.url ?? '/', 'http://localhost').pathname === routes.eventsPath && res.statusCode === 200) {
        // At once, but at most once per interval however often pages connect.
        const nowMs = Date.now();
        if (nowMs - publishedAtMs >= SNAPSHOT_INTERVAL_MS) publish(nowMs);
      }
      return handled;
    },
    finish: (exitCode, reason) => {
      clearInterval(sampler);
      channel.finish({ ...snapshot(Date.now()), finished: { exitCode, verdict: [reason] } });
    },
    close: () => {
      clearInterval(sampler);
      channel.close();
    },
  };
}
