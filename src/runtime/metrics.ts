/**
 * A node process's Prometheus metrics (prom-client), one registry per node: what `/metrics` serves (ops-http.ts).
 *
 * What is measured, and where it comes from (the README's "Running in production" lists every name):
 * - Members by state (`chatterbox_members{state}`), suspicions and refutations: from membership's `MemberEvent`
 *   outputs, handed in with `observeMemberEvent`. A node on a static peers file starts with every listed node
 *   alive, as membership itself does at init (src/membership/'s contract), so the gauge is right before any event.
 * - Messages and bytes in and out by kind: from the TCP transport's frame hook (`frameObserver`). The kind is the
 *   protocol message's tag (`messageKind`), so a handful of label values per protocol.
 * - Probe round-trip times and store write latency (`timeStoreWrite`): histograms. Probes come from membership's
 *   snapshot counters at each scrape (`followProbeRtt`), or from a driver through `observeProbeRtt`.
 * - The protocol's `metrics(state)` snapshot and the kernel's counters, each numeric entry a gauge named
 *   `chatterbox_<protocol>_<metric>` (delta-sync's buffer size, membership's own counters, `kernel.*`), read at
 *   scrape time: a snapshot is cheap and never used for decisions (protocol/types.ts), so scraping is its only cost.
 * - prom-client's default process metrics (CPU, memory, event loop lag, GC, file descriptors).
 *
 * Label values are bounded (MAX_MESSAGE_KINDS, MAX_TRACKED_MEMBERS, MAX_SNAPSHOT_GAUGES): a peer cannot grow a
 * node's registry by sending odd tags, since a message reaches the frame hook before the protocol's guard.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { NodeId } from '../core/ids.js';
import { MAX_TRACKED_MEMBERS, MemberTable, type MembershipEvent, type MemberStateName } from './member-table.js';

/** Distinct message kinds counted per direction; later new ones are counted as OTHER_KIND. */
export const MAX_MESSAGE_KINDS = 64;
/** A kind longer than this is a peer's garbage, not a tag: counted as OTHER_KIND. */
export const MAX_KIND_CHARS = 32;
export const OTHER_KIND = 'other';
export { MAX_TRACKED_MEMBERS } from './member-table.js';
/** Gauges made from the protocol's snapshot at most; a snapshot with more keys has the rest left out. */
export const MAX_SNAPSHOT_GAUGES = 256;
/** Probe round trips turned into observations in one scrape at most (a probe a second per node: hours of them). */
export const MAX_PROBES_PER_SCRAPE = 100_000;

/** Round trips of a probe on a LAN are around a millisecond; memberlist's default probe timeout is 500 ms. */
const PROBE_RTT_BUCKETS_SECONDS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];
/** A SQLite write with synchronous = FULL is one or two fsyncs: tens of microseconds to tens of milliseconds. */
const STORE_WRITE_BUCKETS_SECONDS = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];

export type { MemberStateName } from './member-table.js';

/** What this module reads of membership's `MemberEvent` (member-table.ts): a state, or a member SWIM forgot. */
export type ObservedMemberEvent = MembershipEvent;

export type Snapshot = Readonly<Record<string, number | string | boolean>>;
export type FrameDirection = 'in' | 'out';

export interface NodeMetricsOptions {
  /** The protocol's name (`Protocol.name`), the middle of every snapshot gauge's name. */
  readonly protocol: string;
  readonly self: NodeId;
  /** The members known at start (a peers file's nodes, self included): alive until an event says otherwise. */
  readonly nodes: readonly NodeId[];
  /** prom-client's process metrics; default true. Tests of many nodes in one process may leave them out. */
  readonly defaultMetrics?: boolean;
}

/** The message's tag: delta-sync's and the agreement job's `t`, a composition's `p` and its inner tag (`m.ping`). */
export function messageKind(msg: unknown): string {
  return kindOf(msg, 2);
}

function kindOf(msg: unknown, depth: number): string {
  if (typeof msg !== 'object' || msg === null) return OTHER_KIND;
  const record = msg as Record<string, unknown>;
  // The composition's envelope (src/membership/compose.ts): which half, then the inner message's own tag.
  if (typeof record['p'] === 'string' && depth > 0 && 'm' in record) return `${record['p']}.${kindOf(record['m'], depth - 1)}`;
  for (const field of ['t', 'type', 'kind']) {
    const tag = record[field];
    if (typeof tag === 'string') return tag;
  }
  return OTHER_KIND;
}

/** `kernel.guardFailures` → `kernel_guard_failures`: a valid Prometheus name part, snake case as Prometheus names are. */
export function metricNamePart(raw: string): string {
  const snake = raw
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/[^A-Za-z0-9_]+/g, '_')
    .replace(/_+/g, '_')
    .replace(/^_|_$/g, '')
    .toLowerCase();
  return snake === '' ? 'unnamed' : /^[0-9]/.test(snake) ? `_${snake}` : snake;
}

/** Bounded label values: the first MAX_MESSAGE_KINDS kinds seen are kept, later ones counted as OTHER_KIND. */
class KindLabels {
  private readonly seen = new Set<string>();

  label(kind: string): string {
    if (this.seen.has(kind)) return kind;
    if (kind.length > MAX_KIND_CHARS || !/^[A-Za-z0-9_.:-]+$/.test(kind) || this.seen.size >= MAX_MESSAGE_KINDS) return OTHER_KIND;
    this.seen.add(kind);
    return kind;
  }
}

export class NodeMetrics {
  readonly registry = new Registry();
  private readonly protocolPart: string;
  private snapshot: () => Snapshot = () => ({});
  private readonly snapshotGauges = new Map<string, Gauge>();
  /** Snapshot keys left out at MAX_SNAPSHOT_GAUGES or for a name another key already took. */
  private readonly skippedKeys = new Set<string>();
  /** Each member's last state and incarnation, as SWIM's table has it (member-table.ts). */
  private readonly members = new MemberTable<{ id: NodeId; state: MemberStateName; incarnation: number }>();
  private readonly kinds = new KindLabels();
  /** The probe counters of the last snapshot read (followProbeRtt). */
  private probeRttSeen = { count: 0, sum: 0 };
  private readonly sent: Counter<'kind'>;
  private readonly received: Counter<'kind'>;
  private readonly bytesSent: Counter<'kind'>;
  private readonly bytesReceived: Counter<'kind'>;
  private readonly suspicions: Counter;
  private readonly refutations: Counter;
  private readonly untracked: Counter;
  private readonly probeRtt: Histogram;
  private readonly storeWrite: Histogram;

  constructor(options: NodeMetricsOptions) {
    this.protocolPart = metricNamePart(options.protocol);
    const registers = [this.registry];
    if (options.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry });
    new Gauge({ name: 'chatterbox_node_info', help: 'Always 1; labels name this node and the protocol it runs.', labelNames: ['node', 'protocol'], registers }).set(
      { node: options.self, protocol: options.protocol },
      1,
    );
    const members = this.members;
    new Gauge({
      name: 'chatterbox_members',
      help: 'Members of the cluster as this node sees them, by state (alive, suspect, dead, left); self included.',
      labelNames: ['state'],
      registers,
      collect() {
        for (const [state, count] of members.countByState()) this.set({ state }, count);
      },
    });
    this.suspicions = new Counter({ name: 'chatterbox_membership_suspicions_total', help: 'Times this node saw a member become suspect.', registers });
    this.refutations = new Counter({
      name: 'chatterbox_membership_refutations_total',
      help: 'Times this node saw a suspect member refute (alive again with a higher incarnation); its own refutations included.',
      registers,
    });
    this.untracked = new Counter({
      name: 'chatterbox_membership_untracked_events_total',
      help: `Member events about a new member while ${MAX_TRACKED_MEMBERS} live ones were already tracked (left out of chatterbox_members).`,
      registers,
    });
    const labelNames = ['kind'] as const;
    this.sent = new Counter({ name: 'chatterbox_messages_sent_total', help: 'Messages written to peers, by the message tag.', labelNames, registers });
    this.received = new Counter({ name: 'chatterbox_messages_received_total', help: 'Messages read from peers (before the protocol guard), by the message tag.', labelNames, registers });
    this.bytesSent = new Counter({ name: 'chatterbox_message_bytes_sent_total', help: 'Bytes of messages written to peers (frame header and encryption included), by the message tag.', labelNames, registers });
    this.bytesReceived = new Counter({ name: 'chatterbox_message_bytes_received_total', help: 'Bytes of messages read from peers (frame header and encryption included), by the message tag.', labelNames, registers });
    this.probeRtt = new Histogram({ name: 'chatterbox_probe_rtt_seconds', help: 'Round-trip times of membership probes (ping to ack).', buckets: PROBE_RTT_BUCKETS_SECONDS, registers });
    this.storeWrite = new Histogram({ name: 'chatterbox_store_write_seconds', help: 'Duration of durable writes to the SQLite store (each is on disk when it returns).', buckets: STORE_WRITE_BUCKETS_SECONDS, registers });
    for (const id of new Set([...options.nodes, options.self])) this.members.apply({ kind: 'member', member: { id, state: 'alive', incarnation: 0 } });
  }

  /** Where the protocol's and kernel's metrics come from (e.g. `WallClockHost.metrics`); read at each scrape. */
  setSnapshotSource(source: () => Snapshot): void {
    this.snapshot = source;
  }

  /** One membership event (a `MemberEvent` output): the members gauge, suspicions and refutations follow it. */
  observeMemberEvent(event: ObservedMemberEvent): void {
    if (event.kind === 'forgotten') {
      this.members.apply(event);
      return;
    }
    const { id, state, incarnation } = event.member;
    const { before, tracked } = this.members.apply({ kind: 'member', member: { id, state, incarnation } });
    if (!tracked) {
      this.untracked.inc();
      return;
    }
    if (state === 'suspect' && before?.state !== 'suspect') this.suspicions.inc();
    if (state === 'alive' && before?.state === 'suspect' && incarnation > before.incarnation) this.refutations.inc();
  }

  /** A membership probe's round trip, in milliseconds. */
  observeProbeRtt(ms: number): void {
    if (Number.isFinite(ms) && ms >= 0) this.probeRtt.observe(ms / 1000);
  }

  /** Runs one durable write and records how long it took (also when it throws: a failed write took time too). */
  timeStoreWrite<T>(write: () => T): T {
    const began = performance.now();
    try {
      return write();
    } finally {
      this.storeWrite.observe((performance.now() - began) / 1000);
    }
  }

  /** One message through the transport (the TCP transport's `onFrame` hook). */
  observeFrame(direction: FrameDirection, msg: unknown, bytes: number): void {
    const kind = this.kinds.label(messageKind(msg));
    if (direction === 'out') {
      this.sent.inc({ kind });
      this.bytesSent.inc({ kind }, bytes);
    } else {
      this.received.inc({ kind });
      this.bytesReceived.inc({ kind }, bytes);
    }
  }

  /** `observeFrame` bound, to hand to the transport. */
  readonly frameObserver = (direction: FrameDirection, _peer: NodeId, msg: unknown, bytes: number): void => this.observeFrame(direction, msg, bytes);

  /** The Content-Type of `text()`: Prometheus' text exposition format. */
  get contentType(): string {
    return this.registry.contentType;
  }

  /** Every metric in Prometheus' text format, the snapshot read now. */
  async text(): Promise<string> {
    this.refreshSnapshot();
    return this.registry.metrics();
  }

  private refreshSnapshot(): void {
    const snapshot = this.snapshot();
    this.followProbeRtt(snapshot);
    for (const [key, value] of Object.entries(snapshot)) {
      const numeric = typeof value === 'number' ? value : typeof value === 'boolean' ? (value ? 1 : 0) : undefined;
      if (numeric === undefined || !Number.isFinite(numeric)) continue;
      this.snapshotGauge(key)?.set(numeric);
    }
  }

  private snapshotGauge(key: string): Gauge | undefined {
    const known = this.snapshotGauges.get(key);
    if (known !== undefined || this.skippedKeys.has(key)) return known;
    const name = `chatterbox_${this.protocolPart}_${metricNamePart(key)}`;
    if (this.snapshotGauges.size >= MAX_SNAPSHOT_GAUGES || this.registry.getSingleMetric(name) !== undefined) {
      if (this.skippedKeys.size < MAX_SNAPSHOT_GAUGES) this.skippedKeys.add(key);
      return undefined;
    }
    const gauge = new Gauge({ name, help: `The ${JSON.stringify(key)} entry of the ${this.protocolPart} protocol's metrics snapshot (kernel.* are the node kernel's counters).`, registers: [this.registry] });
    this.snapshotGauges.set(key, gauge);
    return gauge;
  }

  /**
   * Membership's snapshot counts probe round trips (`…probeRttCount`, `…probeRttSumMs`, `…probeRttLastMs`, under
   * whatever prefix a composition gives them): each scrape turns the probes since the last one into histogram
   * observations. `_count` and `_sum` are exact; a single new probe lands in its own bucket, several in the bucket
   * of their mean (the snapshot keeps no more). A driver that sees each round trip calls `observeProbeRtt` instead.
   */
  private followProbeRtt(snapshot: Snapshot): void {
    const find = (suffix: string): number | undefined => {
      for (const [key, value] of Object.entries(snapshot)) if (key.endsWith(suffix) && typeof value === 'number' && Number.isFinite(value)) return value;
      return undefined;
    };
    const count = find('probeRttCount');
    const sum = find('probeRttSumMs');
    if (count === undefined || sum === undefined) return;
    const newCount = count - this.probeRttSeen.count;
    const newSum = sum - this.probeRttSeen.sum;
    // A restarted protocol starts its counters again: begin from there.
    if (newCount < 0 || newSum < 0) {
      this.probeRttSeen = { count, sum };
      return;
    }
    if (newCount === 0) return;
    const last = find('probeRttLastMs');
    const each = newCount === 1 && last !== undefined ? last : newSum / newCount;
    // Bounded work per scrape; the rest of a huge backlog is left out rather than looped over.
    for (let i = 0; i < Math.min(newCount, MAX_PROBES_PER_SCRAPE); i++) this.observeProbeRtt(each);
    this.probeRttSeen = { count, sum };
  }
}
