/**
 * Lin-kv over Raft under the simulator, for the raft tests: a seeded run with drawn faults (partitions, crashes
 * with restarts that keep the disk, pauses), loss, duplication and reordering; Maelstrom-like client traffic
 * (read, write, cas on a few keys, each write's value unique so an acknowledgement names its command) with a
 * recorded history; figure 3's properties checked after every step of every node (RaftClusterChecker) and, at
 * the end, that every acknowledged write and cas is in the committed sequence.
 *
 * Full linearizability of the history is the harness checker's job (a Wing–Gong search); this fixture keeps the
 * history in a plain shape for it.
 */
import type { NodeId } from '../src/core/ids.js';
import { nodeId } from '../src/core/ids.js';
import { Prng } from '../src/core/prng.js';
import { RaftClusterChecker } from '../src/consensus/cluster-check.js';
import type { RaftProtocol } from '../src/consensus/raft.js';
import { LIN_KV_PROTOCOL, raftWorkloadOptions, type LinKvCommand, type LinKvState } from '../src/maelstrom/lin-kv.js';
import type { Body, ClientReply, ClientRequest } from '../src/maelstrom/service.js';
import { randomFaultSchedule, type Fault } from '../src/sim/faults.js';
import { Simulation, type SimulationReport } from '../src/sim/simulation.js';

export type LinKvProtocol = RaftProtocol<LinKvState, LinKvCommand, ClientRequest, ClientReply>;

export interface LinKvOp {
  readonly node: NodeId;
  readonly body: Body;
  readonly invokeMs: number;
  completeMs: number | null;
  /** ok, fail (a definite error), info (indefinite, or never answered). */
  type: 'ok' | 'fail' | 'info';
  reply: Body | null;
}

export interface LinKvRunConfig {
  readonly seed: number;
  readonly nodeCount: number;
  /** Client operations per second over the whole cluster. */
  readonly rate: number;
  /** Traffic and faults stop here; the run goes on for `settleMs` more, then probes that the cluster serves. */
  readonly activeMs: number;
  readonly settleMs: number;
  readonly faults: boolean;
  readonly keys: number;
  readonly protocol?: LinKvProtocol;
  readonly latency?: { readonly minMs: number; readonly maxMs: number };
  readonly lossRate?: number;
  readonly duplicateRate?: number;
  readonly crashCount?: number;
}

export interface LinKvRun {
  readonly history: LinKvOp[];
  readonly faults: readonly Fault[];
  readonly report: SimulationReport<ClientReply>;
  readonly sim: Simulation<LinKvState, unknown, ClientReply, unknown, ClientRequest>;
  readonly checker: RaftClusterChecker<LinKvCommand>;
  /** Problems found at the end (the checker throws during the run instead). */
  readonly problems: string[];
  /** Probe operations after the settle period that succeeded (liveness once the faults are over). */
  readonly probesOk: number;
}

/** Faster than the defaults, so that sweeps see many elections: simulated links are fast. */
export const SIM_TIMING = { heartbeatMs: 50, electionMs: 300, requestTimeoutMs: 1_000 } as const;

export function runLinKv(cfg: LinKvRunConfig): LinKvRun {
  const nodes = Array.from({ length: cfg.nodeCount }, (_, i) => nodeId(`n${i + 1}`));
  const root = new Prng(cfg.seed);
  const faultPrng = root.fork();
  const clientPrng = root.fork();
  const lossRate = cfg.lossRate ?? (cfg.faults ? 0.03 : 0);
  const duplicateRate = cfg.duplicateRate ?? (cfg.faults ? 0.03 : 0);
  const faults = cfg.faults
    ? randomFaultSchedule(faultPrng, {
        nodes,
        fromMs: 300,
        toMs: cfg.activeMs - 500,
        healByMs: cfg.activeMs,
        maxPartitions: 3,
        crashCount: cfg.crashCount ?? Math.min(2, cfg.nodeCount),
        allowRestarts: true,
        maxPauses: 2,
        pauseLengthMs: { minMs: 100, maxMs: 1_500 },
      })
    : [];
  const latency = cfg.latency ?? { minMs: 1, maxMs: 15 };
  const protocol = cfg.protocol ?? LIN_KV_PROTOCOL;
  const sim = new Simulation(protocol, {
    seed: cfg.seed,
    nodes,
    optionsFor: () => raftWorkloadOptions({ ...SIM_TIMING, seed: cfg.seed }),
    network: { defaultLink: { latency: { kind: 'uniform', ...latency }, lossRate, duplicateRate } },
    faults,
    untilMs: cfg.activeMs + cfg.settleMs + 2_000,
  });
  const checker = new RaftClusterChecker<LinKvCommand>();
  sim.onStep((node, _at, state) => checker.observe(node, state));

  const history: LinKvOp[] = [];
  const byToken = new Map<number, LinKvOp>();
  sim.onOutput((_node, atMs, value) => {
    const op = byToken.get(value.token);
    if (op === undefined || op.completeMs !== null) throw new Error(`a reply for an unknown or answered token ${value.token}`);
    op.completeMs = atMs;
    op.reply = value.body;
    const code = value.body['code'];
    // Maelstrom's definite errors: 11, 20, 22 (and 12, 10: never proposed); 0 and 13 are indefinite.
    op.type = value.body.type !== 'error' ? 'ok' : code === 0 || code === 13 ? 'info' : 'fail';
  });
  let token = 0;
  let nextValue = 1;
  const written = new Map<number, number[]>();
  const request = (atMs: number, node: NodeId, body: Body): void => {
    const t = ++token;
    const op: LinKvOp = { node, body, invokeMs: atMs, completeMs: null, type: 'info', reply: null };
    history.push(op);
    byToken.set(t, op);
    sim.inject(atMs, node, { kind: 'request', body: { token: t, body } });
  };
  const gapMs = 1_000 / cfg.rate;
  for (let at = 200; at < cfg.activeMs; at += gapMs * (0.5 + clientPrng.float())) {
    const node = clientPrng.pick(nodes);
    const key = clientPrng.int(0, cfg.keys - 1);
    const roll = clientPrng.float();
    const seen = written.get(key) ?? [];
    if (roll < 0.4) request(at, node, { type: 'read', key });
    else if (roll < 0.7 || seen.length === 0) {
      const value = nextValue++;
      written.set(key, [...seen.slice(-3), value]);
      request(at, node, { type: 'write', key, value });
    } else {
      const value = nextValue++;
      request(at, node, { type: 'cas', key, from: clientPrng.pick(seen), to: value });
      written.set(key, [...seen.slice(-3), value]);
    }
  }
  const probeAt = cfg.activeMs + cfg.settleMs;
  const probes: LinKvOp[] = [];
  for (const node of nodes) {
    request(probeAt, node, { type: 'write', key: 0, value: nextValue++ });
    probes.push(history[history.length - 1]!);
  }
  const report = sim.run();

  const problems: string[] = [];
  const committed = new Set<string>();
  for (const c of checker.committedEntries) {
    const cmd = c.entry.command;
    if (cmd !== null) committed.add(cmd.op === 'write' ? `${cmd.key}=${cmd.value}` : `${cmd.key}=${cmd.to}`);
  }
  const everWritten = new Map<number, Set<number>>();
  const valueOf = (op: LinKvOp): number | undefined => (op.body.type === 'write' ? op.body['value'] : op.body['to']) as number | undefined;
  for (const op of history) {
    const key = op.body['key'] as number;
    const value = valueOf(op);
    if (value === undefined) continue;
    if (!everWritten.has(key)) everWritten.set(key, new Set());
    everWritten.get(key)!.add(value);
  }
  for (const op of history) {
    const key = op.body['key'] as number;
    const value = valueOf(op);
    if (op.type !== 'ok') continue;
    if ((op.body.type === 'write' || op.body.type === 'cas') && !committed.has(`${key}=${value}`)) {
      problems.push(`acknowledged ${op.body.type} of ${key}=${value} (at ${op.completeMs}ms by ${op.node}) is not in the committed sequence`);
    }
    if (op.body.type === 'read' && !everWritten.get(key)?.has(op.reply?.['value'] as number)) {
      problems.push(`read of key ${key} returned ${String(op.reply?.['value'])}, never written`);
    }
  }
  return { history, faults, report, sim: sim as unknown as LinKvRun['sim'], checker, problems, probesOk: probes.filter((p) => p.type === 'ok').length };
}
