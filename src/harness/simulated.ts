/**
 * The harness's in-process backend: the Maelstrom workloads as they ship, under the simulator, judged by the
 * harness's own checkers (runner.ts is the other backend: any node binary as real processes on the wall clock).
 *
 * A run hosts one workload of src/maelstrom/workloads.ts on n simulated nodes: its protocol, with the options
 * `chatterbox maelstrom --preset P` runs, every protocol message through the wire codec the process uses. The
 * network and faults are the simulator's (src/sim/network.ts, src/sim/faults.ts): drawn latency, loss,
 * duplication and reordering, partitions that heal, pauses, and crashes with restart. The clients are the
 * harness's (client.ts, history.ts): its operation generator, Jepsen's stagger at `rate`, one request in flight
 * per client slot with slots bound to the nodes round-robin, a timeout that makes an operation indefinite; for
 * broadcast a `topology` to every node first. Every fault is over by the time limit (the final heal); after a
 * recovery wait every node is read once more, and the history goes to the harness's checkers. A run is a
 * function of its seed.
 *
 * What a process adds that a run leaves out: JSON lines and the driver's routing (src/maelstrom/node.ts; a
 * request no workload claims gets not-supported here as there). Client messages are not delayed, as in Maelstrom.
 *
 * Crashes: the simulator's disk survives a crash, and a workload that says it is `durable` persists what it
 * acknowledges before it answers (Raft's term, vote and log; a delta-sync service with `durable`), as `chatterbox
 * maelstrom --data-dir` does under the process backend's kill nemesis. Its answers stay definite through a later
 * crash, by the process backend's rule (process-nemesis.ts, AnswerBook: with kept state, answers stay definite).
 * A crash that loses the durable store (`loseDurableState`, a lost disk), or any crash of a workload that keeps
 * nothing, may take with it what the node acknowledged and had not passed on yet: an answer given by a node that
 * such a crash hits afterwards is recorded as indefinite (history.ts, `forgotten`), as Jepsen records an
 * operation whose node crashed. The rest is checked in full, and the restarted node must catch up with everything
 * its peers hold.
 */
import { assert } from '../core/assert.js';
import { GOSSIP_PRESETS, type GossipPreset } from '../broadcast/gossip-presets.js';
import { hash32, Prng } from '../core/prng.js';
import { nodeId, type NodeId } from '../core/ids.js';
import { countOps } from './checkers.js';
import { READ, clientModel, type OpSpec } from './client.js';
import { FINAL_POLL_INTERVAL_MS, FINAL_POLL_LIMIT_MS } from './kafka.js';
import { History } from './history.js';
import { staggerMs } from '../sim/faults.js';
import { topology } from './topology.js';
import { hasProbes, hasReads, type CheckResult, type OpCounts, type Op, type TopologyName } from './types.js';
import type { ConsistencyModel } from './txn.js';
import { MaelstromError, type ClientReply, type ClientRequest, type Workload } from '../maelstrom/service.js';
import { WORKLOADS } from '../maelstrom/workloads.js';
import type { Protocol } from '../protocol/types.js';
import { decodeMessage, encodeMessage } from '../transport/codec.js';
import { faultEndMs, randomFaultSchedule, type Fault } from '../sim/faults.js';
import { randomNetwork, type NetworkModel } from '../sim/network.js';
import { Simulation, SimulationError, type SimulationStats } from '../sim/simulation.js';

/**
 * The harness workloads the simulated backend runs (pn-counter also serves g-counter; lin-kv and kafka are the Raft
 * workloads registered under those names in src/maelstrom/workloads.ts).
 */
export const SIM_WORKLOADS = ['broadcast', 'g-set', 'g-counter', 'pn-counter', 'lin-kv', 'kafka', 'txn-rw-register'] as const;
export type SimWorkload = (typeof SIM_WORKLOADS)[number];

/** The shipped workload that serves `workload` (every one of SIM_WORKLOADS has one; a test checks it). */
export function shippedWorkload(workload: SimWorkload): Workload {
  const name = workload === 'g-counter' ? 'pn-counter' : workload;
  const found = WORKLOADS.find((w) => w.name === name);
  assert(found !== undefined, `no shipped workload serves ${workload}`);
  return found;
}

export interface MaelstromScenario {
  readonly seed: number;
  /** What the clients ask and the checker expects. */
  readonly workload: SimWorkload;
  /** What the nodes run: the shipped workload, or a variant of it (a test's deliberate bug). */
  readonly hosted: Workload;
  /** Passed to `hosted.options`, as `chatterbox maelstrom --preset` does. */
  readonly preset: GossipPreset;
  readonly nodes: readonly NodeId[];
  readonly network: NetworkModel;
  /** Every fault should be over by `timeLimitMs`; the final heal waits for the last one anyway. */
  readonly faults: readonly Fault[];
  /** How long clients issue operations (virtual ms). */
  readonly timeLimitMs: number;
  /** Operations per second over all clients. */
  readonly rate: number;
  /** Client slots, bound to the nodes round-robin. */
  readonly concurrency: number;
  /** A request unanswered this long is indefinite. */
  readonly timeoutMs: number;
  /** Wait between the final heal and the final reads (Maelstrom's is 10 s). */
  readonly recoveryMs: number;
  /** Probe reads on every node every this many ms, for visibility figures (0: none); not operations. */
  readonly probeMs: number;
  /** txn-rw-register: the models the history must satisfy (default: read-committed, what the shipped node gives). */
  readonly consistencyModels: readonly ConsistencyModel[];
  /** What broadcast nodes are told in `topology` at setup; absent: Maelstrom's default, the grid. */
  readonly topology?: TopologyName;
}

export interface MaelstromDraw {
  /** Cluster size; drawn in [1, MAX_DRAWN_NODES] when absent ([3, MAX_DRAWN_NODES] for lin-kv and kafka). */
  readonly nodeCount?: number;
  /** Drawn from the gossip presets when absent. */
  readonly preset?: GossipPreset;
  /** Default: the shipped workload. */
  readonly hosted?: Workload;
  /** An explicit fault schedule instead of a drawn one. */
  readonly faults?: readonly Fault[];
  /** Default 0 (no probes). */
  readonly probeMs?: number;
  /** Default read-committed. */
  readonly consistencyModels?: readonly ConsistencyModel[];
}

/** What the shipped txn-rw-register node promises, so what its simulated runs are held to by default. */
export const SIM_CONSISTENCY_MODELS: readonly ConsistencyModel[] = ['read-committed'];
/** Drawn clusters are small, so that a sweep of many seeds stays fast; every fault shape still fits. */
const MAX_DRAWN_NODES = 5;
const MIN_DRAWN_CONSENSUS_NODES = 3;
/** Drawn time limits, in whole seconds. */
const TIME_LIMIT_S = { min: 2, max: 5 } as const;
/** Consensus runs are longer: the first second or so goes to the first election, when every request is refused. */
const CONSENSUS_TIME_LIMIT_S = { min: 4, max: 10 } as const;
/** Drawn client rates, operations per second. */
const RATE = { min: 10, max: 50 } as const;
/** The harness's default client timeout. */
const TIMEOUT_MS = 1000;
/** Maelstrom's recovery wait before the final reads. */
const RECOVERY_MS = 10_000;
/** Drawn links' latencies stay under this (Maelstrom's challenge settings use 100 ms). */
const MAX_LATENCY_MS = 100;
const CRASH_CHANCE = 0.3;
const MAX_PARTITIONS = 3;
const MAX_PAUSES = 2;
/** Pauses outlast the client timeout at most a little, so that a paused node's clients time out sometimes. */
const PAUSE_LENGTH_MS = { minMs: 100, maxMs: 1500 } as const;
/** While every client slot is busy, time advances in steps this long until one frees (Jepsen then issues at once). */
const SLOT_WAIT_STEP_MS = 1;
/**
 * kafka clients' chance of an assign in simulated runs. Jepsen's 1/64 suits its 1,000 ops/s for 20 s; a run here
 * has about a hundred operations, where 1/64 would leave most clients unassigned, polling nothing until the
 * final polls.
 */
const SIM_KAFKA_SUB_P = 1 / 8;
/** Salts the scenario's draws away from the simulator's own streams, which start from the bare seed. */
const DRAW_SALT = 0x4d41454c;
const CLIENT_SALT = 0x636c6e74;

/** A scenario drawn from `seed`. Every draw happens whatever `draw` fixes, so fixing one leaves the rest as drawn. */
export function drawMaelstromScenario(seed: number, workload: SimWorkload, draw: MaelstromDraw = {}): MaelstromScenario {
  const prng = new Prng(hash32(seed ^ DRAW_SALT));
  // Consensus needs a majority: a one- or two-node Raft cluster answers nothing while one node is down or cut off,
  // and a run in which no operation succeeds proves nothing (it is undecided), so consensus runs draw 3 or more.
  const consensus = workload === 'lin-kv' || workload === 'kafka';
  const nodeCount = pickFixed(draw.nodeCount, prng.int(consensus ? MIN_DRAWN_CONSENSUS_NODES : 1, MAX_DRAWN_NODES));
  const preset = pickFixed(draw.preset, prng.pick(GOSSIP_PRESETS));
  const limits = consensus ? CONSENSUS_TIME_LIMIT_S : TIME_LIMIT_S;
  const timeLimitMs = prng.int(limits.min, limits.max) * 1000;
  const rate = prng.int(RATE.min, RATE.max);
  // One node crashed leaves the others to answer, so some operations succeed (Jepsen's stats checker wants that).
  const crashDrawn = prng.chance(CRASH_CHANCE);
  const crashCount = crashDrawn && nodeCount >= 2 ? 1 : 0;
  const nodes = Array.from({ length: nodeCount }, (_, i) => nodeId(`n${i + 1}`));
  const network = randomNetwork(prng.fork(), { nodes, maxLatencyMs: MAX_LATENCY_MS });
  const drawnFaults = randomFaultSchedule(prng.fork(), {
    nodes,
    fromMs: 0,
    toMs: timeLimitMs,
    healByMs: timeLimitMs,
    maxPartitions: MAX_PARTITIONS,
    crashCount,
    allowRestarts: true,
    maxPauses: MAX_PAUSES,
    pauseLengthMs: PAUSE_LENGTH_MS,
  });
  return {
    seed,
    workload,
    hosted: draw.hosted ?? shippedWorkload(workload),
    preset,
    nodes,
    network,
    faults: draw.faults ?? drawnFaults,
    timeLimitMs,
    rate,
    // lin-kv's generator gives each key 2n clients (Maelstrom's docs run it with --concurrency 2n).
    concurrency: workload === 'lin-kv' ? 2 * nodeCount : nodeCount,
    timeoutMs: TIMEOUT_MS,
    // Recovery leads to final reads, which lin-kv does not make.
    recoveryMs: workload === 'lin-kv' ? 0 : RECOVERY_MS,
    probeMs: draw.probeMs ?? 0,
    consistencyModels: draw.consistencyModels ?? SIM_CONSISTENCY_MODELS,
  };
}

function pickFixed<T>(fixed: T | undefined, drawn: T): T {
  return fixed ?? drawn;
}

export interface MaelstromVerdict {
  readonly scenario: MaelstromScenario;
  /** No problem, and the checker reached a verdict. */
  readonly valid: boolean;
  /** No problem, but the checkers could not decide (`undecided` says why); such a run is not valid. */
  readonly unknown: boolean;
  /** Why the checkers could not decide: Jepsen's stats checker (a kind of operation never succeeded), a search bound. */
  readonly undecided: readonly string[];
  /** Every reason the run is invalid, one line each; each names the seed's replay through `scenario.seed`. */
  readonly problems: readonly string[];
  /** null when the simulation itself failed (a protocol threw, an invariant or message guard failed). */
  readonly check: CheckResult | null;
  /** The client operations (probes are not operations), as the harness writes them to history.jsonl. */
  readonly history: readonly Op[];
  readonly ops: OpCounts & { readonly byF: Readonly<Record<string, OpCounts>> };
  /** Server-to-server messages sent (Maelstrom's `:servers`), and per operation. */
  readonly serverMessages: number;
  readonly msgsPerOp: number | null;
  /** Replies that came after their request timed out. */
  readonly lateReplies: number;
  /** When writes had stopped and every fault was over. */
  readonly finalHealMs: number;
  readonly stats: SimulationStats | null;
}

type Role = 'setup' | 'op' | 'probe' | 'final';

interface Slot {
  readonly node: NodeId;
  client: string;
  busy: boolean;
}

interface Pending {
  readonly node: NodeId;
  readonly role: Role;
  /** null for setup requests, which are not operations. */
  readonly op: Op | null;
  readonly slot: Slot | null;
  readonly deadline: number;
  readonly expect: string;
}

type WorkloadProtocol = Protocol<unknown, unknown, ClientReply, unknown, ClientRequest>;

/** `observe` sees the simulation before it runs (to record its trace for a picture: src/sim/trace.ts). */
export function runMaelstromScenario(s: MaelstromScenario, observe?: (sim: Simulation<unknown, unknown, ClientReply, unknown, ClientRequest>) => void): MaelstromVerdict {
  const names: readonly string[] = s.nodes;
  const history = new History(s.workload, names, s.probeMs, s.consistencyModels);
  const problems: string[] = [];
  // The workload's protocol is typed for any state and message; its requests and replies are these.
  const protocol = s.hosted.protocol as WorkloadProtocol;
  const options = s.hosted.options({ preset: s.preset });
  const lastFaultMs = s.faults.reduce((end, f) => Math.max(end, faultEndMs(f)), 0);
  // Crashes that may unmake an answer: those that lose the node's disk, or any of a workload that keeps nothing.
  const diskLossesOf = new Map<NodeId, number[]>();
  for (const f of s.faults) {
    if (f.kind === 'crash' && (f.loseDurableState === true || s.hosted.durable !== true)) diskLossesOf.set(f.node, [...(diskLossesOf.get(f.node) ?? []), f.atMs]);
  }
  const sim = new Simulation<unknown, unknown, ClientReply, unknown, ClientRequest>(protocol, {
    seed: s.seed,
    nodes: s.nodes,
    optionsFor: () => options,
    network: s.network,
    faults: s.faults,
    untilMs: Math.max(s.timeLimitMs, lastFaultMs) + 2 * s.timeoutMs + s.recoveryMs + (s.workload === 'kafka' ? FINAL_POLL_LIMIT_MS : 0),
    // What a process does to every peer message: msgpack out, msgpack in (node.ts adds base64 around it).
    copyMessage: (msg) => decodeMessage(encodeMessage(msg)),
  });
  observe?.(sim);

  const clientRoot = new Prng(hash32(s.seed ^ CLIENT_SALT));
  const opPrng = clientRoot.fork();
  const model = clientModel(s.workload, opPrng, { shape: { nodeCount: s.nodes.length, concurrency: s.concurrency }, kafkaSubP: SIM_KAFKA_SUB_P });
  const slotPrng = clientRoot.fork();
  const pending = new Map<number, Pending>();
  let nextToken = 0;
  let nextClient = 0;
  let lateReplies = 0;
  const newClient = (): string => `c${++nextClient}`;
  /**
   * The clients' clock: where `runTo` last stopped. The simulation's own clock stays behind it once nothing is left
   * to happen (every node down for good), so clients never read it.
   */
  let clock = 0;

  /** Sends `body` to `node` now, as client `client`; the reply (or the timeout) completes `op`. */
  const request = (node: NodeId, client: string, role: Role, spec: OpSpec, slot: Slot | null, expect: string): void => {
    const now = clock;
    const op = role === 'setup' ? null : history.invoke(spec, client, node, now, { final: role === 'final', probe: role === 'probe' });
    const token = ++nextToken;
    pending.set(token, { node, role, op, slot, deadline: now + s.timeoutMs, expect });
    if (slot !== null) slot.busy = true;
    const body = { ...spec.body, msg_id: token };
    // As the driver does: a request the workload does not claim never reaches its protocol.
    if (!s.hosted.claims(body)) {
      answer(token, node, now, { type: 'error', code: MaelstromError.notSupported, text: `${body.type} is not supported by ${s.hosted.name}` });
      return;
    }
    sim.inject(now, node, { kind: 'request', body: { token, body } });
  };

  const answer = (token: number, node: NodeId, atMs: number, body: unknown): void => {
    const p = pending.get(token);
    if (p === undefined) {
      lateReplies++;
      return;
    }
    pending.delete(token);
    if (p.slot !== null) p.slot.busy = false;
    if (p.op === null) {
      const type = typeof body === 'object' && body !== null ? (body as { type?: unknown }).type : undefined;
      if (type !== p.expect) problems.push(`${node} answered setup with ${JSON.stringify(body)}, expected ${p.expect}`);
      return;
    }
    // An answer the node may forget: see the module comment.
    const forgotten = (diskLossesOf.get(node) ?? []).some((crashAt) => crashAt >= atMs);
    history.complete(p.op, atMs, forgotten ? { forgotten: true } : { body });
    model.completed(p.op);
  };

  sim.onOutput((node, atMs, reply) => answer(reply.token, node, atMs, reply.body));

  /** Requests unanswered by `atMs` time out: indefinite, and their slot gets a fresh client (as Maelstrom's does). */
  const expire = (atMs: number): void => {
    for (const [token, p] of pending) {
      if (p.deadline > atMs) continue;
      pending.delete(token);
      if (p.op === null) {
        problems.push(`${p.node} did not answer setup within ${s.timeoutMs} ms`);
        continue;
      }
      history.complete(p.op, p.deadline, { timeout: true });
      model.completed(p.op);
      if (p.slot !== null) {
        p.slot.busy = false;
        p.slot.client = newClient();
      }
    }
  };

  let probing = s.probeMs > 0 && hasProbes(s.workload);
  let nextProbeAt = s.probeMs;
  const probeTick = (): void => {
    const inFlight = new Set([...pending.values()].filter((p) => p.role === 'probe').map((p) => p.node));
    for (const node of s.nodes) {
      // One probe in flight per node.
      if (inFlight.has(node)) continue;
      request(node, `probe-${node}`, 'probe', READ, null, 'read_ok');
    }
  };

  /**
   * Runs the simulation to `untilMs` (or stays, if the clients' clock is past it already), stopping at every client
   * deadline and probe tick on the way.
   */
  const runTo = (target: number): void => {
    const untilMs = Math.max(target, clock);
    for (;;) {
      let next = probing ? nextProbeAt : Infinity;
      for (const p of pending.values()) next = Math.min(next, p.deadline);
      if (next > untilMs) break;
      sim.runUntil(next);
      clock = next;
      expire(next);
      if (probing && nextProbeAt <= next) {
        probeTick();
        nextProbeAt += s.probeMs;
      }
    }
    sim.runUntil(untilMs);
    clock = untilMs;
    expire(untilMs);
  };

  let finalHealMs = 0;
  try {
    // Setup, as Maelstrom's broadcast clients do: every node is told a topology (the grid, its default).
    if (s.workload === 'broadcast') {
      const told = topology(s.topology ?? 'grid', names);
      for (const node of s.nodes) request(node, newClient(), 'setup', { f: 'read', value: null, body: { type: 'topology', topology: told } }, null, 'topology_ok');
    }
    // Operations until the time limit, at Jepsen's stagger; an operation waits for a free slot.
    const slots: Slot[] = Array.from({ length: s.concurrency }, (_, i) => ({ node: s.nodes[i % s.nodes.length] as NodeId, client: newClient(), busy: false }));
    if (s.rate > 0) {
      for (let at = 0; ; ) {
        at += staggerMs(opPrng, 1000 / s.rate);
        if (at >= s.timeLimitMs) break;
        runTo(at);
        let free = slots.filter((slot) => !slot.busy);
        const waited = free.length === 0;
        while (free.length === 0 && clock < s.timeLimitMs) {
          runTo(clock + SLOT_WAIT_STEP_MS);
          free = slots.filter((slot) => !slot.busy);
        }
        if (free.length === 0 || clock >= s.timeLimitMs) break;
        // Jepsen's stagger counts from when the operation went out.
        if (waited) at = Math.max(at, clock);
        const slot = slotPrng.pick(free);
        request(slot.node, slot.client, 'op', model.next({ slot: slots.indexOf(slot), client: slot.client }), slot, '');
      }
    }
    // Outstanding operations end by their deadlines; the last fault is over by then or is waited for.
    let outstanding = Math.max(s.timeLimitMs, lastFaultMs);
    for (const p of pending.values()) if (p.role === 'op') outstanding = Math.max(outstanding, p.deadline);
    runTo(outstanding);
    finalHealMs = clock;
    // Workloads without whole-state reads (lin-kv, txn-rw-register) get no recovery wait and no final reads, as in
    // Maelstrom: their checkers judge the whole history.
    if (hasReads(s.workload)) {
      runTo(finalHealMs + s.recoveryMs);
      probing = false;
      const kafka = model.kafka;
      if (kafka !== undefined) {
        // kafka's final polls (kafka.ts): a fresh client per node polls every key from 0 until all are caught up.
        kafka.beginFinalPolls();
        const endMs = clock + FINAL_POLL_LIMIT_MS;
        const finals: Slot[] = s.nodes.map((node) => ({ node, client: newClient(), busy: false }));
        while (!kafka.finalDone() && clock < endMs) {
          for (const slot of finals) if (!slot.busy) request(slot.node, slot.client, 'final', kafka.finalPoll(slot.client), slot, '');
          runTo(Math.min(clock + FINAL_POLL_INTERVAL_MS, endMs));
        }
      } else {
        for (const node of s.nodes) request(node, newClient(), 'final', READ, null, 'read_ok');
      }
      runTo(clock + s.timeoutMs);
    }
  } catch (error) {
    if (!(error instanceof SimulationError)) throw error;
    problems.push(`the simulation failed: ${error.message}`);
    return verdict(s, problems, null, history, lateReplies, finalHealMs, null);
  }
  const checked = history.check(finalHealMs);
  problems.push(...checked.problems, ...history.malformedProblems());
  return verdict(s, problems, checked.check, history, lateReplies, finalHealMs, sim.report().stats, checked.undecided);
}

function verdict(
  scenario: MaelstromScenario,
  problems: readonly string[],
  check: CheckResult | null,
  history: History,
  lateReplies: number,
  finalHealMs: number,
  stats: SimulationStats | null,
  undecided: readonly string[] = [],
): MaelstromVerdict {
  const ops = countOps(history.ops);
  const serverMessages = stats?.sent ?? 0;
  const unknown = problems.length === 0 && undecided.length > 0;
  return {
    scenario,
    valid: problems.length === 0 && !unknown,
    unknown,
    problems,
    undecided,
    check,
    history: history.ops,
    ops,
    serverMessages,
    msgsPerOp: ops.total === 0 ? null : Math.round((serverMessages / ops.total) * 1000) / 1000,
    lateReplies,
    finalHealMs,
    stats,
  };
}

export interface MaelstromSweep {
  readonly runs: number;
  /** The invalid runs. */
  readonly failures: ReadonlyArray<{ readonly seed: number; readonly problems: readonly string[] }>;
  /** Runs the checkers could not decide (Jepsen's `:unknown`): neither failures nor proof. */
  readonly undecided: ReadonlyArray<{ readonly seed: number; readonly reasons: readonly string[] }>;
}

/**
 * Runs `runs` consecutive seeds from `firstSeed`; with `stopAtFirstFailure`, stops at the first invalid run
 * (a deliberate bug must show fast).
 */
export function sweepMaelstrom(
  workload: SimWorkload,
  firstSeed: number,
  runs: number,
  draw: MaelstromDraw = {},
  opts: { readonly stopAtFirstFailure?: boolean; readonly onVerdict?: (v: MaelstromVerdict) => void } = {},
): MaelstromSweep {
  const failures: Array<{ seed: number; problems: readonly string[] }> = [];
  const undecided: Array<{ seed: number; reasons: readonly string[] }> = [];
  let done = 0;
  for (let i = 0; i < runs; i++) {
    const seed = (firstSeed + i) >>> 0;
    const v = runMaelstromScenario(drawMaelstromScenario(seed, workload, draw));
    done++;
    opts.onVerdict?.(v);
    if (v.unknown) undecided.push({ seed, reasons: v.undecided });
    else if (!v.valid) {
      failures.push({ seed, problems: v.problems });
      if (opts.stopAtFirstFailure === true) break;
    }
  }
  return { runs: done, failures, undecided };
}
