/**
 * Shared types of the bundled Maelstrom-like harness (`chatterbox harness`): its options, the history it
 * records, and the report it produces.
 */
import { MEAN_LATENCY_SHAPES, type MeanLatencyShape } from '../sim/network.js';
import type { KafkaCheck } from './kafka.js';
import type { ConsistencyModel, TxnCheck } from './txn.js';

export type { ConsistencyModel, TxnCheck } from './txn.js';

export const HARNESS_WORKLOADS = ['echo', 'unique-ids', 'broadcast', 'g-set', 'g-counter', 'pn-counter', 'lin-kv', 'kafka', 'txn-rw-register'] as const;
export type HarnessWorkload = (typeof HARNESS_WORKLOADS)[number];

/** Maelstrom's broadcast topologies (workload/broadcast.clj, doc/03-broadcast/02-performance.md). */
export const TOPOLOGIES = ['grid', 'line', 'total', 'tree2', 'tree3', 'tree4'] as const;
export type TopologyName = (typeof TOPOLOGIES)[number];

/** Maelstrom's `--latency-dist` values: the simulator's latency shapes given by a mean (one network model). */
export const LATENCY_DISTS = MEAN_LATENCY_SHAPES;
export type LatencyDist = MeanLatencyShape;

/**
 * Workloads with a final phase: a recovery wait after the final heal, then final reads (kafka: final polls).
 * lin-kv reads one key and its checker judges the whole history, so it has none (as Maelstrom's).
 */
export function hasReads(workload: HarnessWorkload): boolean {
  // txn-rw-register reads inside transactions; Maelstrom gives it no final reads (txn_rw_register.clj).
  return workload !== 'echo' && workload !== 'unique-ids' && workload !== 'lin-kv' && workload !== 'txn-rw-register';
}

/** Workloads whose nodes answer a bare `read`, which probes use (kafka's polls are per client, so it has none). */
export function hasProbes(workload: HarnessWorkload): boolean {
  return hasReads(workload) && workload !== 'kafka';
}

export function isSetWorkload(workload: HarnessWorkload): workload is 'broadcast' | 'g-set' {
  return workload === 'broadcast' || workload === 'g-set';
}

export function isCounterWorkload(workload: HarnessWorkload): workload is 'g-counter' | 'pn-counter' {
  return workload === 'g-counter' || workload === 'pn-counter';
}

export interface HarnessOptions {
  readonly workload: HarnessWorkload;
  /** The node executable and its arguments (Maelstrom's `--bin` plus trailing arguments). */
  readonly bin: string;
  readonly binArgs: readonly string[];
  readonly nodeCount: number;
  /** How long clients issue operations (Maelstrom's `--time-limit`). */
  readonly timeLimitMs: number;
  /** Operations per second over all clients (Maelstrom's `--rate`); 0 issues none. */
  readonly rate: number;
  /** Client slots; each has at most one request in flight and is bound to node (slot mod nodeCount). */
  readonly concurrency: number;
  /** Mean delay of every server-to-server message (Maelstrom's `--latency`); client messages get none. */
  readonly latencyMs: number;
  readonly latencyDist: LatencyDist;
  /** What `topology` tells broadcast nodes. */
  readonly topology: TopologyName;
  /** Maelstrom's `--nemesis partition`. */
  readonly partition: boolean;
  /** `--nemesis kill`: SIGKILL a node, later start it afresh (a new `init`, the same id and data dir). */
  readonly kill: boolean;
  /** `--nemesis pause`: SIGSTOP a node's process group, later SIGCONT. */
  readonly pause: boolean;
  /**
   * Each node keeps its state in `<nodeDataDir>/<node id>`, put into its arguments for every `{data-dir}` (the
   * default node gets `--data-dir {data-dir}`): its answers survive a kill, so they are definite. Undefined: nodes
   * keep nothing, and an answer from a node killed later is indefinite.
   */
  readonly nodeDataDir: string | undefined;
  /** Mean seconds between nemesis actions, in ms (Maelstrom's `--nemesis-interval`). */
  readonly nemesisIntervalMs: number;
  /** Wait after the final heal before the final reads (Maelstrom waits 10 s). */
  readonly recoveryMs: number;
  /**
   * End the recovery wait as soon as every node's latest probe read invoked after the final heal holds every
   * acknowledged write and all of them agree (so it needs probes: `probeMs` > 0); `recoveryMs` then only bounds
   * the wait. Maelstrom always waits the whole recovery. For tests, so that a healthy run need not guess how long
   * a loaded machine takes to converge: the final reads are made and checked as ever, and a run that does not
   * converge still waits the whole recovery.
   */
  readonly recoverUntilConverged: boolean;
  /** A request unanswered this long is indefinite (`info`). */
  readonly timeoutMs: number;
  /** Probe reads on every node every this many ms (0: none); not operations, not in msgs-per-op. */
  readonly probeMs: number;
  /** Folded to 32 bits; drives latencies, operations, client choice and partitions. */
  readonly seed: number;
  /** Where node stderr logs, the history and the report go; default a fresh temporary directory. */
  readonly logDir: string | undefined;
  /** How long each node gets to answer `init`, counted from its start (Maelstrom gives 10 s). */
  readonly initTimeoutMs: number;
  /** Aborts the run (nodes are killed; the promise rejects). */
  readonly signal: AbortSignal | undefined;
  /** txn-rw-register: the models the history must satisfy, all of them (Maelstrom's `--consistency-models`). */
  readonly consistencyModels: readonly ConsistencyModel[];
  /** Maelstrom's `--availability`: null none, 'total' every operation ok, or the least fraction ok. */
  readonly availability: null | 'total' | number;
  /**
   * Told of every message the harness routes, once its fate is known (for the report's Lamport diagram:
   * src/harness/message-record.ts keeps a bounded record). Undefined: nothing is told.
   */
  readonly onMessage: ((m: RoutedMessage) => void) | undefined;
}

/**
 * A message the harness routed: server to server (delayed by the network; `receivedMs` null when a partition or
 * a down node dropped it), or between a client and a node (not delayed). Times are ms since the run started.
 */
export interface RoutedMessage {
  readonly from: string;
  readonly to: string;
  readonly sentMs: number;
  readonly receivedMs: number | null;
  /** `server` between nodes; else the client's role: setup (init, topology), op, probe, final (final reads). */
  readonly kind: 'server' | 'setup' | 'op' | 'probe' | 'final';
  /** The message's line, as it went. */
  readonly line: string;
}

export type OpType = 'ok' | 'fail' | 'info';

export type OpF = 'echo' | 'generate' | 'broadcast' | 'add' | 'read' | 'write' | 'cas' | 'send' | 'poll' | 'commit_offsets' | 'list_committed_offsets' | 'txn';

/** One client operation, Jepsen style: an invocation and (once known) its completion. */
export interface Op {
  readonly index: number;
  readonly f: OpF;
  /**
   * What was asked: the echo payload, the broadcast message, the set element or counter delta, the transaction;
   * null for reads. lin-kv, Jepsen's independent tuples: `[key, v]` for write, `[key, [from, to]]` for cas,
   * `[key, null]` for read.
   */
  readonly value: unknown;
  readonly client: string;
  readonly node: string;
  /** Milliseconds since the run started. */
  readonly invokeMs: number;
  /** null while pending. */
  completeMs: number | null;
  /** null while pending. */
  type: OpType | null;
  /** What came back: the echo, the generated id, the read's elements or value, the completed transaction. */
  result?: unknown;
  /** Why it is not ok: an error code (with text) or a timeout or a malformed reply. */
  error?: OpError;
  /** A final read (after the recovery wait). */
  readonly final: boolean;
  /** A probe read: recorded for visibility, not counted as an operation. */
  readonly probe: boolean;
}

export type OpError =
  | { readonly kind: 'code'; readonly code: number; readonly text?: string }
  | { readonly kind: 'timeout' }
  | { readonly kind: 'malformed'; readonly text: string };

/** An op whose completion is known (pending ops are closed as `info` when the run ends). */
export type CompletedOp = Op & { completeMs: number; type: OpType };

export interface OpCounts {
  total: number;
  ok: number;
  failed: number;
  indefinite: number;
}

/** Maelstrom's quantile map, {0, 0.5, 0.95, 0.99, 1} → ms. */
export type Quantiles = Readonly<Record<'0' | '0.5' | '0.95' | '0.99' | '1', number>>;

export interface LatencySummary {
  readonly count: number;
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
  readonly max: number;
}

/** How long a write took to be seen by every node (broadcast, g-set). */
export interface Visibility {
  /**
   * From the write's invocation to the invocation of the last read (on any node) that did not yet show it:
   * Maelstrom's stable time, measured from the invocation instead of the acknowledgement.
   */
  readonly lower: LatencySummary;
  /** From the invocation to the completion of the first read after that one, on every node, that did show it. */
  readonly upper: LatencySummary;
  /** The true time lies between the bounds; probes make the gap at most about one probe interval. */
  readonly resolutionMs: number;
  /** Median of (upper − lower) over the writes: the resolution achieved. */
  readonly medianGapMs: number;
}

/** How long after the final heal (writes had stopped) every node's reads reached their final value. */
export interface Convergence {
  readonly healAtMs: number;
  /** null: the final reads disagree, so the nodes never converged. */
  readonly afterHealMs: number | null;
  /** Upper bound (the completion of the first read after the last divergent one, on the slowest node). */
  readonly afterHealUpperMs: number | null;
}

export interface SetCheck {
  readonly kind: 'set';
  readonly valid: boolean;
  readonly problems: readonly string[];
  /** Adds/broadcasts invoked. */
  readonly attempted: number;
  readonly acknowledged: number;
  /** Known (acknowledged or seen in a read) but missing from some node's final read. */
  readonly lost: readonly unknown[];
  readonly lostCount: number;
  /** Seen in a read but never attempted. */
  readonly unexpected: readonly unknown[];
  readonly unexpectedCount: number;
  /** Elements a single read returned more than once. */
  readonly duplicatedCount: number;
  /** Indefinite adds that showed up anyway. */
  readonly recoveredCount: number;
  /** Attempted, never acknowledged, never seen: allowed to be missing. */
  readonly neverReadCount: number;
  /** In every node's final read. */
  readonly stableCount: number;
  /** Nodes without an ok final read. */
  readonly missingFinalReads: readonly string[];
  readonly visibility: Visibility | null;
  /** Maelstrom's own `:stable-latencies` (from the acknowledgement or first sighting), with our finer reads. */
  readonly stableLatencies: Quantiles | null;
  readonly convergence: Convergence | null;
}

export interface CounterCheck {
  readonly kind: 'counter';
  readonly valid: boolean;
  readonly problems: readonly string[];
  /** Sum of acknowledged deltas. */
  readonly definiteSum: number;
  readonly indefiniteAdds: number;
  /** Closed integer ranges a final read may fall in (every subset of the indefinite adds may have happened). */
  readonly acceptable: ReadonlyArray<readonly [number, number]>;
  readonly finalReads: Readonly<Record<string, unknown>>;
  readonly missingFinalReads: readonly string[];
  readonly convergence: Convergence | null;
}

export interface EchoCheck {
  readonly kind: 'echo';
  readonly valid: boolean;
  readonly problems: readonly string[];
  readonly checked: number;
  readonly mismatched: number;
  readonly notOk: number;
}

export interface UniqueIdsCheck {
  readonly kind: 'unique-ids';
  readonly valid: boolean;
  readonly problems: readonly string[];
  readonly attempted: number;
  readonly acknowledged: number;
  readonly duplicatedCount: number;
  readonly duplicated: ReadonlyArray<{ readonly id: unknown; readonly count: number }>;
}

/** One key's verdict (src/harness/linearizability.ts). */
export interface LinKvKeyCheck {
  readonly key: unknown;
  readonly valid: boolean | 'unknown';
  /** Operations of the key the search considered: ok ones, and indefinite writes and cas. */
  readonly ops: number;
  /** Search steps taken (the bound is `maxStepsPerKey`). */
  readonly steps: number;
}

export interface LinKvCheck {
  readonly kind: 'lin-kv';
  /** false if any key is not linearizable; else 'unknown' if the search bound stopped any key; else true. */
  readonly valid: boolean | 'unknown';
  /** One line per invalid key, with its witness; the same lines are the run's problems. */
  readonly problems: readonly string[];
  readonly keys: readonly LinKvKeyCheck[];
  readonly ops: number;
  readonly steps: number;
  readonly maxStepsPerKey: number;
}

export type CheckResult = SetCheck | CounterCheck | EchoCheck | UniqueIdsCheck | LinKvCheck | KafkaCheck | TxnCheck;

/** A kill (and the restart) or a pause (and the resume) the process nemesis made, in run time. */
export interface ProcessEvent {
  readonly kind: 'kill' | 'pause';
  readonly node: string;
  /** SIGKILL or SIGSTOP sent. */
  readonly startMs: number;
  /** The fresh process started, or SIGCONT sent. */
  readonly endMs: number;
  /** kill: when the new process answered `init` (null: it did not). */
  readonly initOkMs?: number | null;
}

export interface PartitionEvent {
  /** Jepsen's partition target (src/sim/faults.ts `PartitionTarget`). */
  readonly kind: string;
  /** Who hears whom: the groups that can talk among themselves, or the ring and each node's window. */
  readonly description: string;
  readonly startMs: number;
  readonly endMs: number;
}

export interface NodeSummary {
  readonly id: string;
  readonly log: string;
  /** Exit code or signal after shutdown; `crashedAtMs` when it exited before the harness stopped it. */
  exit: number | string | null;
  crashedAtMs: number | null;
}

export interface Report {
  /** No problem found, and every checker reached a verdict. */
  readonly valid: boolean;
  /**
   * No problem found, but the checkers could not decide (`undecided` says why: an operation kind that never
   * succeeded, as Jepsen's stats checker, or lin-kv's search bound): neither valid nor invalid.
   */
  readonly unknown: boolean;
  /** Every reason the run is invalid, one line each. */
  readonly problems: readonly string[];
  /** Why the checkers could not decide, one line each (Jepsen's stats checker, a search bound); see `unknown`. */
  readonly undecided: readonly string[];
  readonly config: {
    readonly workload: HarnessWorkload;
    readonly bin: string;
    readonly binArgs: readonly string[];
    readonly nodeCount: number;
    readonly timeLimitS: number;
    readonly rate: number;
    readonly concurrency: number;
    readonly latencyMs: number;
    readonly latencyDist: LatencyDist;
    /** Only broadcast nodes are told a topology. */
    readonly topology: TopologyName | null;
    readonly nemesis: readonly string[];
    readonly nemesisIntervalS: number;
    /** Where nodes keep their state (`--node-data-dir`), or null. */
    readonly nodeDataDir?: string | null;
    readonly recoveryS: number;
    readonly timeoutMs: number;
    readonly probeMs: number;
    readonly seed: number;
    /** txn-rw-register only. */
    readonly consistencyModels?: readonly ConsistencyModel[];
    /** When asked for (`--availability`). */
    readonly availability?: 'total' | number;
  };
  readonly logDir: string;
  readonly durationMs: number;
  readonly nodes: readonly NodeSummary[];
  /** Client operations: probes and setup messages (init, topology) are not operations. */
  readonly ops: OpCounts & { readonly byF: Readonly<Record<string, OpCounts>> };
  readonly net: {
    /** Every message a node addressed to another node (dropped ones included), like Maelstrom's `:servers`. */
    readonly serverMessages: number;
    /** Requests and replies of operations (not probes, not setup). */
    readonly clientMessages: number;
    readonly droppedByPartition: number;
    /** Server-to-server messages for a node that was down (killed, not yet restarted) when they arrived. */
    readonly droppedWhileDown?: number;
    /** serverMessages / ops (Maelstrom's `:servers :msgs-per-op`); null without ops. */
    readonly msgsPerOp: number | null;
    /** (serverMessages + clientMessages) / ops (Maelstrom's `:all :msgs-per-op`). */
    readonly allMsgsPerOp: number | null;
    /** Replies that came after their request timed out. */
    readonly lateReplies: number;
    /** stdout lines that were not Maelstrom messages from that node, or went to nobody. */
    readonly badLines: number;
  };
  readonly probes: { readonly intervalMs: number; readonly reads: number; readonly failed: number } | null;
  readonly nemesis: { readonly partitions: readonly PartitionEvent[]; readonly processes?: readonly ProcessEvent[]; readonly finalHealMs: number } | null;
  /**
   * CPU time over the run, in ms: the harness process's own (user + system), and the nodes' (every process of
   * each node's process group, killed incarnations included; null where /proc cannot be read).
   */
  readonly cpu?: { readonly harnessMs: number; readonly nodesMs: number | null };
  /**
   * The wait between the final heal and the final reads (workloads with reads that got that far): the whole
   * `recoveryS`, or less when `recoverUntilConverged` saw every node converge first.
   */
  readonly recovery: { readonly waitedMs: number; readonly endedBy: 'convergence' | 'time' } | null;
  readonly check: CheckResult | null;
}
