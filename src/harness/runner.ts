/**
 * `runHarness`: tests a Maelstrom node binary the way `maelstrom test` does, with real processes.
 *
 * 1. Starts `nodeCount` processes `n1..nN` (stderr to `<logDir>/<node>.log`, so a chatty node never blocks on a
 *    full pipe), sends each `init`, and for broadcast a `topology` (as Maelstrom's clients do in setup).
 * 2. Routes every message a node prints: to another node through the simulator's network model (seeded latency
 *    from src/sim/network.ts; the partition nemesis is a src/sim/faults.ts schedule, judged when a message would
 *    be delivered, as by the simulator's PartitionTable), to a client by `in_reply_to`.
 * 3. For `timeLimitMs`, issues operations at `rate` (Jepsen's stagger: gaps uniform in [0, 2/rate]) from
 *    `concurrency` client slots bound to the nodes round-robin; each slot has one request in flight, and a
 *    request unanswered within `timeoutMs` is indefinite and its client is replaced by a fresh one (Maelstrom
 *    reopens a crashed client). Waits for outstanding operations.
 * 4. Heals the network, waits `recoveryMs`, and reads every node once more (workloads with reads). Meanwhile
 *    probe reads hit every node every `probeMs` to time visibility and convergence; they are not operations.
 * 5. Stops the nodes (stdin closed; killed if they linger), checks the history, returns the report.
 *
 * The process nemeses (`kill`, `pause`; process-nemesis.ts says how answers are judged) run beside the partition
 * nemesis on their own schedule, one node at a time: a kill SIGKILLs the node's process group and later starts
 * a fresh process with the same id (and data dir), which gets `init` (and `topology`) again; a pause sends
 * SIGSTOP and later SIGCONT. Messages for a node that is down are dropped; a paused node's wait in its pipe.
 * The CPU the harness and the nodes spend is measured over the run (process.cpuUsage, /proc/<pid>/stat).
 *
 * The process backend is a tool at the top of the stack: wall clock and timers are fine here; all randomness
 * comes from the seed.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { nodeId, type NodeId } from '../core/ids.js';
import { Prng } from '../core/prng.js';
import { describePartition, faultEndMs, nemesisSchedule, PartitionTable, staggerMs, type PartitionFault } from '../sim/faults.js';
import { drawLatencyMs, latencyWithMean, type LatencyModel } from '../sim/network.js';
import { ChildSet, type Child } from '../supervisor/supervisor.js';
import { envelopeSchema, issueText } from '../maelstrom/wire.js';
import { READ, canonicalKey, clientModel, type ClientModel, type OpSpec, type RequestBody } from './client.js';
import { FINAL_POLL_INTERVAL_MS, FINAL_POLL_LIMIT_MS } from './kafka.js';
import { acceptableRanges, availabilityProblems, countOps, inRanges } from './checkers.js';
import { History, type Outcome } from './history.js';
import { AnswerBook, drawProcessNemesis, type ProcessFault } from './process-nemesis.js';
import { topology } from './topology.js';
import {
  hasProbes,
  hasReads,
  isCounterWorkload,
  type CheckResult,
  type HarnessOptions,
  type HarnessWorkload,
  type NodeSummary,
  type Op,
  type PartitionEvent,
  type ProcessEvent,
  type Report,
} from './types.js';
import { DEFAULT_CONSISTENCY_MODELS } from './txn.js';
import { WORKLOADS } from '../maelstrom/workloads.js';

/** dist/src/harness/runner.js → dist/src/cli/main.js */
export const CHATTERBOX_MAIN = fileURLToPath(new URL('../cli/main.js', import.meta.url));

export const HARNESS_DEFAULTS = {
  nodeCount: 5, // Jepsen's default n1..n5
  timeLimitMs: 10_000, // Maelstrom's (Jepsen's) default is 60 s; 10 s is plenty for these workloads
  rate: 5, // Maelstrom's default
  latencyMs: 0, // Maelstrom's default
  latencyDist: 'constant', // Maelstrom's default
  topology: 'grid', // Maelstrom's default
  partition: false,
  kill: false,
  pause: false,
  nemesisIntervalMs: 10_000, // Maelstrom's default
  recoveryMs: 10_000, // Maelstrom sleeps 10 s before the final reads
  recoverUntilConverged: false, // Maelstrom waits the whole recovery
  timeoutMs: 1000, // Maelstrom's client waits 5 s; 1 s keeps runs short and still flags slow nodes
  probeMs: 25,
  initTimeoutMs: 10_000, // Maelstrom's
} as const satisfies Partial<HarnessOptions>;

/** What `runHarness` takes: the workload, and any options to change from HARNESS_DEFAULTS. */
export type HarnessInput = Partial<Omit<HarnessOptions, 'workload'>> & { readonly workload: HarnessWorkload };

/**
 * Whether the nodes keep what they acknowledged across a kill: they were given data dirs, and — when the node is
 * our own `chatterbox maelstrom` — its workload persists what it acknowledges (every shipped one does). A
 * `--bin` node given a data dir is taken at its word.
 */
function keepsState(o: HarnessOptions): boolean {
  if (o.nodeDataDir === undefined) return false;
  if (o.binArgs[0] !== CHATTERBOX_MAIN || o.binArgs[1] !== 'maelstrom') return true;
  const name = o.workload === 'g-counter' ? 'pn-counter' : o.workload;
  return WORKLOADS.find((w) => w.name === name)?.durable ?? true;
}

/**
 * Fills in defaults. Without `bin`, the node is this chatterbox's own `maelstrom` command, and `binArgs` are
 * appended to it (e.g. `['--preset', 'throughput']`). Throws RangeError for values out of range.
 */
export function resolveHarnessOptions(input: HarnessInput): HarnessOptions {
  // Our own node is told where its data dir is; a node of yours says where it wants it with `{data-dir}`.
  const ownDataDir = input.nodeDataDir !== undefined ? ['--data-dir', DATA_DIR_PLACEHOLDER] : [];
  const o: HarnessOptions = {
    workload: input.workload,
    bin: input.bin ?? process.execPath,
    binArgs: input.bin === undefined ? [CHATTERBOX_MAIN, 'maelstrom', ...(input.binArgs ?? []), ...ownDataDir] : [...(input.binArgs ?? [])],
    nodeCount: input.nodeCount ?? HARNESS_DEFAULTS.nodeCount,
    timeLimitMs: input.timeLimitMs ?? HARNESS_DEFAULTS.timeLimitMs,
    rate: input.rate ?? HARNESS_DEFAULTS.rate,
    // lin-kv: Maelstrom's docs run it with `--concurrency 2n` (its generator gives each key 2n clients).
    concurrency: input.concurrency ?? (input.workload === 'lin-kv' ? 2 : 1) * (input.nodeCount ?? HARNESS_DEFAULTS.nodeCount),
    latencyMs: input.latencyMs ?? HARNESS_DEFAULTS.latencyMs,
    latencyDist: input.latencyDist ?? HARNESS_DEFAULTS.latencyDist,
    topology: input.topology ?? HARNESS_DEFAULTS.topology,
    partition: input.partition ?? HARNESS_DEFAULTS.partition,
    kill: input.kill ?? HARNESS_DEFAULTS.kill,
    pause: input.pause ?? HARNESS_DEFAULTS.pause,
    nodeDataDir: input.nodeDataDir,
    nemesisIntervalMs: input.nemesisIntervalMs ?? HARNESS_DEFAULTS.nemesisIntervalMs,
    recoveryMs: input.recoveryMs ?? HARNESS_DEFAULTS.recoveryMs,
    recoverUntilConverged: input.recoverUntilConverged ?? HARNESS_DEFAULTS.recoverUntilConverged,
    // lin-kv's client waits max(10 × latency, 1 s) (lin_kv.clj).
    timeoutMs: input.timeoutMs ?? (input.workload === 'lin-kv' ? Math.max(10 * (input.latencyMs ?? HARNESS_DEFAULTS.latencyMs), HARNESS_DEFAULTS.timeoutMs) : HARNESS_DEFAULTS.timeoutMs),
    probeMs: input.probeMs ?? HARNESS_DEFAULTS.probeMs,
    seed: (input.seed ?? randomBytes(4).readUInt32BE(0)) >>> 0,
    logDir: input.logDir,
    initTimeoutMs: input.initTimeoutMs ?? HARNESS_DEFAULTS.initTimeoutMs,
    signal: input.signal,
    consistencyModels: input.consistencyModels ?? DEFAULT_CONSISTENCY_MODELS,
    availability: input.availability ?? null,
    onMessage: input.onMessage,
  };
  const check = (ok: boolean, what: string): void => {
    if (!ok) throw new RangeError(`harness option ${what}`);
  };
  check(Number.isInteger(o.nodeCount) && o.nodeCount >= 1, 'nodeCount must be an integer ≥ 1');
  check(o.availability === null || o.availability === 'total' || (o.availability >= 0 && o.availability <= 1), 'availability must be null, total or a fraction in [0, 1]');
  check(Number.isInteger(o.concurrency) && o.concurrency >= 1, 'concurrency must be an integer ≥ 1');
  check(o.timeLimitMs > 0, 'timeLimitMs must be > 0');
  check(o.rate >= 0 && Number.isFinite(o.rate), 'rate must be ≥ 0');
  check(o.latencyMs >= 0 && Number.isFinite(o.latencyMs), 'latencyMs must be ≥ 0');
  check(o.nemesisIntervalMs > 0, 'nemesisIntervalMs must be > 0');
  check(o.recoveryMs >= 0, 'recoveryMs must be ≥ 0');
  check(o.timeoutMs > 0, 'timeoutMs must be > 0');
  check(o.probeMs >= 0, 'probeMs must be ≥ 0');
  check(o.initTimeoutMs > 0, 'initTimeoutMs must be > 0');
  check(o.nodeDataDir === undefined || o.binArgs.some((a) => a.includes(DATA_DIR_PLACEHOLDER)), `nodeDataDir needs ${DATA_DIR_PLACEHOLDER} in the node's arguments, to tell each node its directory`);
  return o;
}

/** In the node's arguments, replaced by the node's own directory under `nodeDataDir`. */
export const DATA_DIR_PLACEHOLDER = '{data-dir}';

/** Runs one test; resolves with its report (also when nodes misbehave); rejects only when aborted. */
export async function runHarness(input: HarnessInput): Promise<Report> {
  return new Run(resolveHarnessOptions(input)).execute();
}

/** The run cannot go on (a node did not start or refused init): reported as a problem, not thrown. */
class SetupFailure extends Error {}

interface NodeProc {
  readonly id: NodeId;
  /** The running incarnation's process (the last one, once it exited). */
  child: Child;
  /** Which incarnation `child` is (AnswerBook's count). */
  incarnation: number;
  /** down: killed and not started again; starting: started, `init` not answered yet. */
  state: 'up' | 'down' | 'starting' | 'paused';
  /** The harness is killing this incarnation: its exit is no problem. */
  killing: boolean;
  readonly summary: NodeSummary;
  spawnError: string | undefined;
  /** Resolves once the incarnation's process has exited and its stdout is read. */
  closed: Promise<void>;
  readonly args: readonly string[];
}

/** A node that ignores the end of its stdin gets this long to exit before SIGKILL. */
const STOP_GRACE_MS = 2000;

type Role = 'setup' | 'op' | 'probe' | 'final';

interface Client {
  readonly id: string;
  readonly node: string;
  readonly role: Role;
  nextMsgId: number;
}

interface Pending {
  readonly node: string;
  readonly resolve: (outcome: RpcOutcome) => void;
  readonly timer: NodeJS.Timeout;
}

interface Slot {
  client: Client;
  busy: boolean;
}

/** A reply (with how it counts), or why none: the timeout, the node killed with it in flight or down before. */
type RpcOutcome = { readonly body: Record<string, unknown>; readonly forgotten: boolean } | { readonly timeout: true } | { readonly killed: 'in-flight' | 'down' };

/** Linux's USER_HZ, the unit of /proc/<pid>/stat's times: 100 on every architecture Node runs on. */
const CLOCK_TICKS_PER_S = 100;

const EXAMPLES = 5;

class Run {
  private readonly t0 = performance.now();
  private readonly nodeIds: NodeId[];
  /** Node index by id, for the partition table. */
  private readonly indexOf: Map<NodeId, number>;
  private readonly latency: LatencyModel;
  private readonly nodes: NodeProc[] = [];
  private readonly nodeById = new Map<string, NodeProc>();
  private readonly clients = new Map<string, Client>();
  private readonly retired = new Set<string>();
  private readonly pending = new Map<string, Pending>();
  private readonly history: History;
  /** The clients' operations (kafka's clients keep state between them). */
  private readonly model: ClientModel;
  private readonly problems: string[] = [];
  private readonly netPrng: Prng;
  private readonly opPrng: Prng;
  private readonly slotPrng: Prng;
  private readonly nemesisPrng: Prng;
  /** Kills and pauses, in main-phase time (drawn at the start: the answer book needs the kills to come). */
  private readonly processFaults: readonly ProcessFault[];
  private readonly answers: AnswerBook;
  private readonly processEvents: ProcessEvent[] = [];
  /** Aborted when the operations end: the process nemesis brings back what it holds down and stops. */
  private readonly nemesisStop = new AbortController();
  /** What broadcast nodes are told at every init (restarts too). */
  private readonly topo: Record<string, string[]> | undefined;
  private readonly cpuStart = process.cpuUsage();
  /** CPU of node incarnations the nemesis killed, sampled just before each kill (null once /proc failed). */
  private killedCpuMs: number | null = 0;
  private cpu: Report['cpu'];
  private droppedWhileDown = 0;
  private readonly abort = new AbortController();
  private readonly logDir: string;
  private nextClient = 0;
  private stopping = false;
  private closed = false;
  /** The nemesis's partitions in run time, once the main phase has drawn them (and its targets, for the report). */
  private partitionTable: PartitionTable | undefined;
  private nemesisFaults: Array<{ readonly target: string; readonly fault: PartitionFault }> = [];
  private finalHealMs: number | null = null;
  private recovery: Report['recovery'] = null;
  private serverMessages = 0;
  private clientMessages = 0;
  private dropped = 0;
  private lateReplies = 0;
  private badLines = 0;
  private readonly badExamples: string[] = [];
  private readonly probeInFlight = new Set<Promise<unknown>>();
  private probeTimer: NodeJS.Timeout | undefined;
  /** Per node, what its latest probe read invoked after the final heal returned (a canonical key). */
  private readonly healedReads = new Map<string, string>();
  /** What a converged read must hold, worked out at the first read after the final heal (no writes come later). */
  private convergedTest: ((result: unknown) => boolean) | undefined;
  /** Aborted once every node's healed read is the same (only with `recoverUntilConverged`). */
  private readonly converged = new AbortController();
  /** The node processes; any still running when this process exits are killed. */
  private readonly children = new ChildSet();

  constructor(private readonly o: HarnessOptions) {
    this.nodeIds = Array.from({ length: o.nodeCount }, (_, i) => nodeId(`n${i + 1}`));
    this.indexOf = new Map(this.nodeIds.map((id, i) => [id, i]));
    this.latency = latencyWithMean(o.latencyMs, o.latencyDist);
    const root = new Prng(o.seed);
    this.netPrng = root.fork();
    this.opPrng = root.fork();
    this.slotPrng = root.fork();
    this.nemesisPrng = root.fork();
    // Forked after the others, so that runs without process faults draw what they always drew.
    const processPrng = root.fork();
    const kinds = [...(o.kill ? (['kill'] as const) : []), ...(o.pause ? (['pause'] as const) : [])];
    this.processFaults = drawProcessNemesis(processPrng, this.nodeIds, kinds, o.nemesisIntervalMs, o.timeLimitMs);
    this.answers = new AnswerBook(this.nodeIds, this.processFaults, keepsState(o));
    this.topo = o.workload === 'broadcast' ? topology(o.topology, this.nodeIds) : undefined;
    this.history = new History(o.workload, this.nodeIds, o.probeMs, o.consistencyModels);
    this.model = clientModel(o.workload, this.opPrng, { shape: o });
    if (o.logDir !== undefined) {
      mkdirSync(o.logDir, { recursive: true });
      this.logDir = o.logDir;
    } else {
      this.logDir = mkdtempSync(join(tmpdir(), 'chatterbox-harness-'));
    }
  }

  private now(): number {
    return performance.now() - this.t0;
  }

  async execute(): Promise<Report> {
    const external = this.o.signal;
    const onAbort = (): void => this.abort.abort(external?.reason);
    external?.addEventListener('abort', onAbort);
    if (external?.aborted === true) onAbort();
    try {
      this.startNodes();
      await this.setup();
      await this.mainPhase();
      await this.finalPhase();
      this.measureCpu();
    } catch (error) {
      if (!(error instanceof SetupFailure)) {
        await this.shutdown(true);
        throw error;
      }
      this.problems.push(error.message);
    } finally {
      external?.removeEventListener('abort', onAbort);
    }
    await this.shutdown(false);
    const report = this.report();
    this.writeFiles(report);
    return report;
  }

  // -------------------------------------------------------------------------------------------------------
  // Processes

  private startNodes(): void {
    for (const id of this.nodeIds) {
      const log = join(this.logDir, `${id}.log`);
      const args = this.argsFor(id);
      const summary: NodeSummary = { id, log, exit: null, crashedAtMs: null };
      const child = this.launch(log, args, 'w');
      const node: NodeProc = { id, child, incarnation: 0, state: 'starting', killing: false, summary, spawnError: undefined, closed: Promise.resolve(), args };
      this.watch(node);
      this.nodes.push(node);
      this.nodeById.set(id, node);
    }
  }

  /** The node's arguments, with its own data dir (made now) for every placeholder. */
  private argsFor(id: NodeId): readonly string[] {
    if (this.o.nodeDataDir === undefined) return this.o.binArgs;
    const dir = join(this.o.nodeDataDir, id);
    mkdirSync(dir, { recursive: true });
    return this.o.binArgs.map((arg) => arg.replaceAll(DATA_DIR_PLACEHOLDER, dir));
  }

  /** Starts one incarnation; `a`ppends to the node's log after a kill. */
  private launch(log: string, args: readonly string[], flags: 'w' | 'a'): Child {
    const fd = openSync(log, flags);
    try {
      return this.children.start({ command: this.o.bin, args, stderr: fd });
    } finally {
      closeSync(fd); // the child has its own copy
    }
  }

  /** Follows the node's current incarnation: its lines, and its exit (a problem unless the harness ended it). */
  private watch(node: NodeProc): void {
    const { child, incarnation, summary } = node;
    node.closed = child.exited.then(({ code, signal, spawnError }) => {
      node.spawnError = spawnError;
      summary.exit = code ?? signal;
      if (!this.stopping && !(node.killing && node.incarnation === incarnation)) {
        summary.crashedAtMs = round(this.now());
        const why = spawnError ?? `exit ${String(code ?? signal)}`;
        this.problems.push(`${node.id} stopped during the run at ${summary.crashedAtMs} ms (${why}); see ${summary.log}`);
      }
    });
    child.onLine('stdout', (line) => this.onLine(node, incarnation, line));
  }

  private async shutdown(force: boolean): Promise<void> {
    if (this.closed) return;
    this.stopping = true;
    this.closed = true;
    this.stopProbes();
    for (const [key, p] of this.pending) {
      clearTimeout(p.timer);
      this.pending.delete(key);
      p.resolve({ timeout: true });
    }
    await Promise.all(this.nodes.map((node) => (force ? node.child.stop('SIGKILL', 0) : node.child.stop('end-input', STOP_GRACE_MS))));
    await Promise.all(this.nodes.map((node) => node.closed));
    this.children.close();
  }

  private writeFiles(report: Report): void {
    try {
      const ops = this.history.ops;
      writeFileSync(join(this.logDir, 'history.jsonl'), ops.map((op) => JSON.stringify(op)).join('\n') + (ops.length > 0 ? '\n' : ''));
      writeFileSync(join(this.logDir, 'report.json'), `${JSON.stringify(report, null, 2)}\n`);
    } catch {
      // The report is returned anyway; a full disk must not turn a finished run into a crash.
    }
  }

  // -------------------------------------------------------------------------------------------------------
  // Routing

  private onLine(node: NodeProc, incarnation: number, line: string): void {
    if (line.trim().length === 0) return;
    let json: unknown;
    try {
      json = JSON.parse(line);
    } catch {
      this.bad(node, 'printed a line that is not JSON', line);
      return;
    }
    const parsed = envelopeSchema.safeParse(json);
    if (!parsed.success) {
      this.bad(node, `printed something that is not a Maelstrom message (${issueText(parsed.error)})`, line);
      return;
    }
    const msg = parsed.data;
    if (msg.src !== node.id) {
      this.bad(node, `sent a message with src ${JSON.stringify(msg.src)}`, line);
      return;
    }
    const dest = this.nodeById.get(msg.dest);
    if (dest !== undefined) {
      this.serverMessages++;
      this.route(node.id, dest, line);
      return;
    }
    const client = this.clients.get(msg.dest);
    if (client !== undefined) {
      if (client.role === 'op' || client.role === 'final') this.clientMessages++;
      if (this.o.onMessage !== undefined) {
        const at = round(this.now());
        this.o.onMessage({ from: node.id, to: client.id, sentMs: at, receivedMs: at, kind: client.role, line });
      }
      const key = msg.body.in_reply_to === undefined ? undefined : `${client.id} ${msg.body.in_reply_to}`;
      const pending = key === undefined ? undefined : this.pending.get(key);
      if (key !== undefined && pending !== undefined) {
        this.pending.delete(key);
        clearTimeout(pending.timer);
        // echo and unique-ids answer with facts, not state: an id handed out stays handed out whatever the node
        // forgets, so a restarted node that repeats it is caught (their answers are never forgotten).
        const stateless = this.o.workload === 'echo' || this.o.workload === 'unique-ids';
        pending.resolve({ body: msg.body, forgotten: !stateless && this.answers.standing(node.id, incarnation) === 'forgotten' });
      } else {
        this.lateReplies++;
      }
      return;
    }
    if (this.retired.has(msg.dest)) {
      this.lateReplies++;
      return;
    }
    this.bad(node, `sent a message to ${JSON.stringify(msg.dest)}, which is neither a node nor a client`, line);
  }

  private bad(node: NodeProc, what: string, line: string): void {
    this.badLines++;
    if (this.badExamples.length < EXAMPLES) this.badExamples.push(`${node.id} ${what}: ${line.length > 120 ? `${line.slice(0, 120)}…` : line}`);
  }

  /** Server-to-server: latency per message, dropped if a partition separates the ends when it arrives. */
  private route(src: NodeId, dest: NodeProc, line: string): void {
    const sentMs = round(this.now());
    const tell = (received: boolean): void => this.o.onMessage?.({ from: src, to: dest.id, sentMs, receivedMs: received ? round(this.now()) : null, kind: 'server', line });
    const deliver = (): void => {
      if (this.closed) return;
      if (dest.state === 'down') {
        this.droppedWhileDown++;
        tell(false);
        return;
      }
      if (this.partitionTable?.separated(this.indexOf.get(src) as number, this.indexOf.get(dest.id) as number, this.now()) === true) {
        this.dropped++;
        tell(false);
        return;
      }
      tell(true);
      this.write(dest, line);
    };
    const ms = drawLatencyMs(this.netPrng, this.latency);
    if (ms <= 0) deliver();
    else setTimeout(deliver, ms).unref(); // the nodes' pipes keep the loop alive while the run lasts
  }

  private write(node: NodeProc, line: string): void {
    if (node.state !== 'down') node.child.write(`${line}\n`);
  }

  // -------------------------------------------------------------------------------------------------------
  // Clients

  private newClient(node: string, role: Role): Client {
    const client: Client = { id: `c${++this.nextClient}`, node, role, nextMsgId: 0 };
    this.clients.set(client.id, client);
    return client;
  }

  private retire(client: Client): void {
    this.clients.delete(client.id);
    this.retired.add(client.id);
  }

  /** Sends a request (clients' messages are not delayed) and waits for its reply or the timeout. */
  private rpc(client: Client, body: RequestBody, timeoutMs: number): Promise<RpcOutcome> {
    const msgId = ++client.nextMsgId;
    const key = `${client.id} ${msgId}`;
    const node = this.nodeById.get(client.node) as NodeProc;
    // A killed node that has not answered its new init yet takes nothing but that init.
    if (client.role !== 'setup' && (node.state === 'down' || node.state === 'starting')) return Promise.resolve({ killed: 'down' });
    if (client.role === 'op' || client.role === 'final') this.clientMessages++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.pending.delete(key);
        resolve({ timeout: true });
      }, timeoutMs);
      this.pending.set(key, { node: node.id, timer, resolve });
      const line = JSON.stringify({ src: client.id, dest: client.node, body: { ...body, msg_id: msgId } });
      if (this.o.onMessage !== undefined) {
        const at = round(this.now());
        this.o.onMessage({ from: client.id, to: client.node, sentMs: at, receivedMs: at, kind: client.role, line });
      }
      this.write(node, line);
    });
  }

  /** One operation: history entry, request, classification; a timed-out client is replaced. */
  private async operate(slot: { client: Client }, spec: OpSpec, kind: { final: boolean; probe: boolean }): Promise<Op> {
    const client = slot.client;
    const op = this.history.invoke(spec, client.id, client.node, round(this.now()), kind);
    const afterFinalHeal = this.finalHealMs !== null;
    const outcome = await this.rpc(client, spec.body, this.o.timeoutMs);
    if ('timeout' in outcome || ('killed' in outcome && outcome.killed === 'in-flight')) {
      this.retire(client);
      slot.client = this.newClient(client.node, client.role);
    }
    this.history.complete(op, round(this.now()), historyOutcome(outcome));
    this.model.completed(op);
    if (kind.probe && op.type === 'ok' && afterFinalHeal) this.noteHealedRead(op);
    return op;
  }

  // -------------------------------------------------------------------------------------------------------
  // Phases

  private async setup(): Promise<void> {
    await Promise.all(
      this.nodes.map(async (node) => {
        const failure = await this.initialize(node);
        if (failure !== undefined) throw new SetupFailure(failure);
      }),
    );
  }

  /**
   * Sends the node's current incarnation `init` (and broadcast's `topology`), as Maelstrom's setup does; the node
   * is up once it answered. Resolves with why not, if it did not.
   */
  private async initialize(node: NodeProc): Promise<string | undefined> {
    const client = this.newClient(node.id, 'setup');
    const closed = node.closed;
    const ask = async (body: RequestBody, expect: string): Promise<string | undefined> => {
      const outcome = await Promise.race([this.rpc(client, body, this.o.initTimeoutMs), closed.then(() => 'exited' as const)]);
      if (outcome === 'exited') return `${node.id} exited before answering ${body.type}${node.spawnError === undefined ? '' : ` (${node.spawnError})`}; see ${node.summary.log}`;
      if ('timeout' in outcome) return `${node.id} did not answer ${body.type} within ${this.o.initTimeoutMs / 1000} s; see ${node.summary.log}`;
      if ('killed' in outcome) return `${node.id} was killed before answering ${body.type}`;
      if (outcome.body['type'] !== expect) return `${node.id} answered ${body.type} with ${JSON.stringify(outcome.body)}, expected ${expect}`;
      return undefined;
    };
    const failure =
      (await ask({ type: 'init', node_id: node.id, node_ids: this.nodeIds }, 'init_ok')) ??
      (this.topo === undefined ? undefined : await ask({ type: 'topology', topology: this.topo }, 'topology_ok'));
    this.retire(client);
    if (failure === undefined) node.state = 'up';
    return failure;
  }

  private async mainPhase(): Promise<void> {
    const startMs = this.now();
    const endMs = startMs + this.o.timeLimitMs;
    if (hasProbes(this.o.workload) && this.o.probeMs > 0) this.startProbes();
    if (this.o.partition) this.scheduleNemesis(startMs);
    const processes = this.runProcessNemesis(startMs);
    processes.catch(() => {}); // awaited below; an abort of the run rejects it meanwhile
    await this.generate(endMs);
    // Kills and pauses end with the operations too: what is down comes back now (and answers init), the rest is
    // dropped, so no answer from here on waits for a kill to come.
    this.nemesisStop.abort();
    await processes;
    this.answers.noMoreKills();
    this.finalHealMs = this.now();
    // The nemesis stops with the operations (which may end before the time limit): what is cut heals now, and
    // what would have started later never does.
    if (this.o.partition) this.healBy(this.finalHealMs);
  }

  /**
   * Jepsen's partition nemesis over the time limit, drawn up front (src/sim/faults.ts) and laid on the run's
   * clock from `startMs`: partitions start and heal at staggered times, the last by the time limit (or sooner,
   * when the operations end sooner: `healBy`).
   */
  private scheduleNemesis(startMs: number): void {
    const drawn = nemesisSchedule(this.nemesisPrng, this.nodeIds, this.o.nemesisIntervalMs, this.o.timeLimitMs);
    this.nemesisFaults = drawn.map(({ target, fault }) => ({ target, fault: { ...fault, atMs: startMs + fault.atMs, healAtMs: startMs + fault.healAtMs } }));
    this.partitionTable = new PartitionTable(this.nodeIds.length, this.indexOf, this.nemesisFaults.map((p) => p.fault));
  }

  /** Cuts the nemesis's schedule at `atMs`: a partition still on heals then, one yet to start is dropped. */
  private healBy(atMs: number): void {
    this.nemesisFaults = this.nemesisFaults.filter((p) => p.fault.atMs < atMs).map((p) => ({ ...p, fault: { ...p.fault, healAtMs: Math.min(p.fault.healAtMs, atMs) } }));
    this.partitionTable = new PartitionTable(this.nodeIds.length, this.indexOf, this.nemesisFaults.map((p) => p.fault));
  }

  /** The kills and pauses, one node at a time, on the run's clock from `startMs`; cut short by `nemesisStop`. */
  private async runProcessNemesis(startMs: number): Promise<void> {
    const stop = this.nemesisStop.signal;
    for (const f of this.processFaults) {
      if (!(await this.sleepUntil(startMs + f.atMs, stop))) return;
      const node = this.nodeById.get(f.node) as NodeProc;
      const began = this.now();
      if (f.kind === 'crash') {
        await this.killNode(node);
        await this.sleepUntil(startMs + faultEndMs(f), stop);
        const endMs = this.now();
        const initOk = await this.restartNode(node);
        this.processEvents.push({ kind: 'kill', node: node.id, startMs: round(began), endMs: round(endMs), initOkMs: initOk === null ? null : round(initOk) });
      } else {
        // A node still starting after a failed restart is no process to stop; the schedule goes on.
        const stopped = node.state === 'up' && node.child.signal('SIGSTOP');
        if (stopped) node.state = 'paused';
        await this.sleepUntil(startMs + faultEndMs(f), stop);
        if (stopped) {
          node.child.signal('SIGCONT');
          node.state = 'up';
        }
        this.processEvents.push({ kind: 'pause', node: node.id, startMs: round(began), endMs: round(this.now()) });
      }
    }
  }

  /** SIGKILL to the node's process group; what it had in flight is indefinite, and it is down until restarted. */
  private async killNode(node: NodeProc): Promise<void> {
    // Its CPU, read while the processes still exist.
    const cpu = processGroupCpuMs([node.child.proc.pid ?? -1]);
    this.killedCpuMs = cpu === null || this.killedCpuMs === null ? null : this.killedCpuMs + cpu;
    node.killing = true;
    node.state = 'down';
    this.answers.killed(node.id);
    for (const [key, p] of this.pending) {
      if (p.node !== node.id) continue;
      clearTimeout(p.timer);
      this.pending.delete(key);
      p.resolve({ killed: 'in-flight' });
    }
    await node.child.stop('SIGKILL', 0);
    await node.closed;
  }

  /** A fresh process with the same id, arguments and data dir; resolves with when it answered init (null: never). */
  private async restartNode(node: NodeProc): Promise<number | null> {
    // The run was aborted meanwhile: its nodes are stopped, and none may start after that.
    if (this.stopping) return null;
    node.incarnation = this.answers.incarnation(node.id);
    node.killing = false;
    node.state = 'starting';
    node.child = this.launch(node.summary.log, node.args, 'a');
    this.watch(node);
    const failure = await this.initialize(node);
    if (failure === undefined) return this.now();
    this.problems.push(`after its restart, ${failure}`);
    return null;
  }

  /** The harness's CPU since the run began, and every node incarnation's (the running ones read now). */
  private measureCpu(): void {
    const usage = process.cpuUsage(this.cpuStart);
    const running = processGroupCpuMs(this.nodes.map((n) => n.child.proc.pid ?? -1));
    const nodesMs = running === null || this.killedCpuMs === null ? null : round(running + this.killedCpuMs, 0);
    this.cpu = { harnessMs: round((usage.user + usage.system) / 1000, 0), nodesMs };
  }

  private partitionEvents(): PartitionEvent[] {
    return this.nemesisFaults.map(({ target, fault }) => ({ kind: target, description: describePartition(fault), startMs: round(fault.atMs), endMs: round(fault.healAtMs) }));
  }

  /** Issues operations until `endMs`, then waits for the outstanding ones. */
  private async generate(endMs: number): Promise<void> {
    const slots: Slot[] = Array.from({ length: this.o.concurrency }, (_, i) => ({
      client: this.newClient(this.nodeIds[i % this.nodeIds.length] as string, 'op'),
      busy: false,
    }));
    const waiting: Array<() => void> = [];
    const inFlight = new Set<Promise<unknown>>();
    /** A random free slot; `waited` when none was free, so the operation goes out late. */
    const acquire = async (): Promise<{ slot: Slot; waited: boolean }> => {
      for (let waited = false; ; waited = true) {
        const free = slots.filter((s) => !s.busy);
        if (free.length > 0) {
          const slot = this.slotPrng.pick(free);
          slot.busy = true;
          return { slot, waited };
        }
        await new Promise<void>((resolve) => waiting.push(resolve));
        this.throwIfAborted();
      }
    };
    try {
      if (this.o.rate <= 0) {
        await this.sleepUntil(endMs);
        return;
      }
      let at = this.now();
      for (;;) {
        at += staggerMs(this.opPrng, 1000 / this.o.rate);
        if (at >= endMs) break;
        await this.sleepUntil(at);
        const { slot, waited } = await acquire();
        if (this.now() >= endMs) {
          slot.busy = false;
          break;
        }
        // Jepsen's stagger counts from when the operation went out, so a wait for a free client delays the rest
        // (timer lateness alone does not: the schedule is kept, or the rate would sag by the timer jitter).
        if (waited) at = Math.max(at, this.now());
        const p = this.operate(slot, this.model.next({ slot: slots.indexOf(slot), client: slot.client.id }), { final: false, probe: false }).finally(() => {
          slot.busy = false;
          inFlight.delete(p);
          waiting.shift()?.();
        });
        inFlight.add(p);
      }
    } finally {
      await Promise.all(inFlight);
    }
  }

  private async finalPhase(): Promise<void> {
    if (!hasReads(this.o.workload)) {
      this.stopProbes();
      return;
    }
    const began = this.now();
    const waitedOut = this.o.recoveryMs > 0 ? await this.sleepUntil(began + this.o.recoveryMs, this.converged.signal) : true;
    this.recovery = { waitedMs: round(this.now() - began), endedBy: waitedOut ? 'time' : 'convergence' };
    this.stopProbes();
    if (this.model.kafka !== undefined) await this.finalPolls();
    else await Promise.all(this.nodeIds.map((node) => this.operate({ client: this.newClient(node, 'final') }, READ, { final: true, probe: false })));
    await Promise.all(this.probeInFlight);
  }

  /**
   * kafka's final polls (kafka.ts): a fresh client per node polls every key from offset 0, one poll in flight
   * each, a poll every `FINAL_POLL_INTERVAL_MS`, until every key's highest offset seen has been polled or
   * `FINAL_POLL_LIMIT_MS` passed.
   */
  private async finalPolls(): Promise<void> {
    const kafka = this.model.kafka;
    if (kafka === undefined) return;
    kafka.beginFinalPolls();
    const endMs = this.now() + FINAL_POLL_LIMIT_MS;
    await Promise.all(
      this.nodeIds.map(async (node) => {
        const slot = { client: this.newClient(node, 'final') };
        while (!kafka.finalDone() && this.now() < endMs) {
          const next = this.now() + FINAL_POLL_INTERVAL_MS;
          await this.operate(slot, kafka.finalPoll(slot.client.id), { final: true, probe: false });
          if (!kafka.finalDone()) await this.sleepUntil(Math.min(next, endMs));
        }
      }),
    );
  }

  /**
   * Records a probe read invoked after the final heal. Convergence: every node's latest such read holds every
   * acknowledged write, and they are all the same (so no node lacks what another has).
   */
  private noteHealedRead(op: Op): void {
    if (!this.o.recoverUntilConverged) return;
    this.convergedTest ??= this.holdsEveryAcknowledgedWrite();
    if (!this.convergedTest(op.result)) {
      this.healedReads.delete(op.node);
      return;
    }
    // A set read lists its elements in any order: compare them as a set.
    this.healedReads.set(op.node, Array.isArray(op.result) ? op.result.map(canonicalKey).sort().join('\n') : canonicalKey(op.result));
    if (this.healedReads.size < this.nodeIds.length) return;
    const first = this.healedReads.values().next().value;
    if ([...this.healedReads.values()].every((v) => v === first)) this.converged.abort();
  }

  /** Sets: every acknowledged element is in the read. Counters: the read is a value the checker accepts. */
  private holdsEveryAcknowledgedWrite(): (result: unknown) => boolean {
    const writes = this.history.ops.filter((op) => op.f === 'add' || op.f === 'broadcast');
    if (isCounterWorkload(this.o.workload)) {
      const deltas = (keep: (op: Op) => boolean): number[] => writes.filter(keep).flatMap((op) => (typeof op.value === 'number' ? [op.value] : []));
      const definite = deltas((op) => op.type === 'ok').reduce((sum, delta) => sum + delta, 0);
      const ranges = acceptableRanges(definite, deltas((op) => op.type !== 'ok' && op.type !== 'fail'));
      return (result) => typeof result === 'number' && inRanges(ranges, result);
    }
    const acknowledged = writes.filter((op) => op.type === 'ok').map((op) => canonicalKey(op.value));
    return (result) => {
      if (!Array.isArray(result)) return false;
      const held = new Set(result.map(canonicalKey));
      return acknowledged.every((key) => held.has(key));
    };
  }

  private startProbes(): void {
    const clients = new Map(this.nodeIds.map((n) => [n, { client: this.newClient(n, 'probe'), busy: false }]));
    this.probeTimer = setInterval(() => {
      for (const slot of clients.values()) {
        if (slot.busy) continue; // one probe in flight per node
        slot.busy = true;
        const p = this.operate(slot, READ, { final: false, probe: true }).finally(() => {
          slot.busy = false;
          this.probeInFlight.delete(p);
        });
        this.probeInFlight.add(p);
      }
    }, this.o.probeMs);
  }

  private stopProbes(): void {
    if (this.probeTimer !== undefined) clearInterval(this.probeTimer);
    this.probeTimer = undefined;
  }

  /** Resolves true at `atMs`, false if `stop` fires first; throws if the run is aborted. */
  private async sleepUntil(atMs: number, stop?: AbortSignal): Promise<boolean> {
    this.throwIfAborted();
    const signal = stop === undefined ? this.abort.signal : AbortSignal.any([this.abort.signal, stop]);
    try {
      await delay(Math.max(0, atMs - this.now()), undefined, { signal });
      return true;
    } catch (error) {
      this.throwIfAborted();
      if (stop?.aborted === true) return false;
      throw error;
    }
  }

  private throwIfAborted(): void {
    if (this.abort.signal.aborted) throw new Error('the harness run was aborted', { cause: this.abort.signal.reason });
  }

  // -------------------------------------------------------------------------------------------------------
  // Report

  private report(): Report {
    const problems = [...this.problems];
    let check: CheckResult | null = null;
    let undecided: string[] = [];
    // Without operations a setup failure is the whole story: no checker verdict.
    if (this.history.ops.length > 0 || this.problems.length === 0) {
      const checked = this.history.check(hasReads(this.o.workload) ? this.finalHealMs : null);
      check = checked.check;
      problems.push(...checked.problems);
      undecided = checked.undecided;
    }
    if (this.badLines > 0) problems.push(`nodes printed ${this.badLines} stdout lines that are not messages to a node or client, e.g. ${this.badExamples.join('; ')}`);
    problems.push(...this.history.malformedProblems());
    problems.push(...availabilityProblems(this.history.ops, this.o.availability));
    const ops = countOps(this.history.ops);
    const o = this.o;
    return {
      valid: problems.length === 0 && undecided.length === 0,
      unknown: problems.length === 0 && undecided.length > 0,
      problems,
      undecided,
      config: {
        workload: o.workload,
        bin: o.bin,
        binArgs: o.binArgs,
        nodeCount: o.nodeCount,
        timeLimitS: o.timeLimitMs / 1000,
        rate: o.rate,
        concurrency: o.concurrency,
        latencyMs: o.latencyMs,
        latencyDist: o.latencyDist,
        topology: o.workload === 'broadcast' ? o.topology : null,
        nemesis: [...(o.partition ? ['partition'] : []), ...(o.kill ? ['kill'] : []), ...(o.pause ? ['pause'] : [])],
        nemesisIntervalS: o.nemesisIntervalMs / 1000,
        nodeDataDir: o.nodeDataDir ?? null,
        recoveryS: hasReads(o.workload) ? o.recoveryMs / 1000 : 0,
        timeoutMs: o.timeoutMs,
        probeMs: hasProbes(o.workload) ? o.probeMs : 0,
        seed: o.seed,
        ...(o.workload === 'txn-rw-register' ? { consistencyModels: o.consistencyModels } : {}),
        ...(o.availability === null ? {} : { availability: o.availability }),
      },
      logDir: this.logDir,
      durationMs: round(this.now()),
      nodes: this.nodes.map((n) => n.summary), // started in node order
      ops,
      net: {
        serverMessages: this.serverMessages,
        clientMessages: this.clientMessages,
        droppedByPartition: this.dropped,
        droppedWhileDown: this.droppedWhileDown,
        msgsPerOp: ops.total === 0 ? null : round(this.serverMessages / ops.total, 3),
        allMsgsPerOp: ops.total === 0 ? null : round((this.serverMessages + this.clientMessages) / ops.total, 3),
        lateReplies: this.lateReplies,
        badLines: this.badLines,
      },
      probes: hasProbes(o.workload) && o.probeMs > 0 ? { intervalMs: o.probeMs, reads: this.history.probeReads, failed: this.history.probeFailed } : null,
      nemesis:
        o.partition || o.kill || o.pause
          ? { partitions: this.partitionEvents(), processes: this.processEvents, finalHealMs: round(this.finalHealMs ?? this.now()) }
          : null,
      ...(this.cpu === undefined ? {} : { cpu: this.cpu }),
      recovery: this.recovery,
      check,
    };
  }
}

/** What the history records for an RPC's outcome. */
function historyOutcome(outcome: RpcOutcome): Outcome {
  if ('body' in outcome) return outcome.forgotten ? { forgotten: true } : { body: outcome.body };
  return outcome;
}

/**
 * CPU ms spent by every process of the given process groups (a node, and whatever a wrapper of it started, with
 * their reaped children), from /proc/<pid>/stat; null where /proc cannot be read (not Linux).
 */
function processGroupCpuMs(groups: readonly number[]): number | null {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return null;
  }
  const wanted = new Set(groups);
  let ticks = 0;
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // it exited meanwhile
    }
    // After "pid (comm) ": state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime cutime cstime.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (!wanted.has(Number(fields[2]))) continue;
    ticks += Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14]);
  }
  return (ticks * 1000) / CLOCK_TICKS_PER_S;
}

function round(value: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
