/**
 * The agreement job under the simulator: a scenario drawn from one seed (cluster size, durations, network,
 * faults), run with either protocol, and checked.
 *
 * - Healing scenarios (partitions that heal at least a second into the grace period, no crashes): every node
 *   prints exactly once, before send-for + wait-for, the same line, marked complete.
 * - Crash scenarios (crash-stop nodes, plus healing partitions): every survivor prints exactly once before the
 *   deadline, and all survivors print the same line: the same cut of every crashed node's stream.
 */
import { formatResultLine } from '../../agreement/checksum.js';
import { AGREEMENT_PROTOCOLS as PROTOCOLS, type AgreementProtocolName } from '../../agreement/protocols.js';
import { PROCESS_TUNING, SIMULATION_TUNING, type StreamTuning } from '../../agreement/stream.js';
import { printMarginMs, type AgreementOptions, type AgreementOutput } from '../../agreement/types.js';
import { nodeId, type NodeId } from '../../core/ids.js';
import { Prng } from '../../core/prng.js';
import { drawStartOffsets, randomFaultSchedule, type Fault } from '../faults.js';
import { randomNetwork, type NetworkModel } from '../network.js';
import { Simulation, type SimulationReport } from '../simulation.js';

/**
 * Which stream tuning a scenario runs: `process` is what `chatterbox node` ships (large runs and windows, so a
 * scenario costs far more), `simulation` the small one that lets thousands of scenarios run in seconds.
 */
export type TuningName = 'process' | 'simulation';
export const STREAM_TUNINGS: Readonly<Record<TuningName, StreamTuning>> = { process: PROCESS_TUNING, simulation: SIMULATION_TUNING };
export const TUNING_NAMES = Object.keys(STREAM_TUNINGS) as readonly TuningName[];

export interface AgreementScenario {
  readonly seed: number;
  readonly protocol: AgreementProtocolName;
  /** The stream protocol's tuning (lockstep has none). */
  readonly tuning: TuningName;
  readonly nodes: readonly NodeId[];
  readonly sendForMs: number;
  readonly waitForMs: number;
  readonly tickMs: number;
  readonly network: NetworkModel;
  readonly faults: readonly Fault[];
  /** Nodes crashed for good. */
  readonly crashed: readonly NodeId[];
  /** When each node's process starts (virtual ms; the first at 0): nodes started apart, as people start them. */
  readonly startAtMs: ReadonlyMap<NodeId, number>;
  /** How long each process takes from its start to its first step (loading, binding): slow starts. */
  readonly initDelayMs: ReadonlyMap<NodeId, number>;
}

export interface ScenarioDraw {
  /** Cluster size; drawn in [1, 6] when absent. */
  readonly nodeCount?: number;
  /** Permanent crashes; drawn (0 in 70% of scenarios) when absent. */
  readonly crashCount?: number;
  readonly sendForMs?: number;
  readonly waitForMs?: number;
  /** An explicit fault schedule instead of a drawn one (crashes in it are for good). */
  readonly faults?: readonly Fault[];
  /** Default `simulation`. */
  readonly tuning?: TuningName;
  /** Nodes start up to this far apart; drawn (0, or half the grace period) when absent. */
  readonly maxStartSkewMs?: number;
}

export interface AgreementVerdict {
  readonly scenario: AgreementScenario;
  readonly report: SimulationReport<AgreementOutput>;
  /** Each node's printed line, for nodes that printed. */
  readonly lines: ReadonlyMap<NodeId, string>;
  readonly agreed: boolean;
  /** Violated expectations; empty when the run passed. */
  readonly problems: readonly string[];
}

/**
 * Faults end (partitions heal, pauses resume, the last crash strikes) by send-for plus a quarter of the grace
 * period, and at least REPAIR_MS before the first print deadline: the time the nodes get to repair what the
 * faults did, on links that lose up to a fifth of what they carry. That is the guarantee's "in time".
 */
const HEAL_BY_GRACE_SHARE = 0.25;
const REPAIR_MS = 750;
/** Link latency stays at or below this, so a healed cluster catches up well within the grace period. */
const MAX_LATENCY_MS = 80;
/** A slow start: up to this long from a process's start to its first step. */
const MAX_INIT_DELAY_MS = 300;
/** Pauses (SIGSTOP … SIGCONT) last this long. */
const PAUSE_LENGTH_MS = { minMs: 100, maxMs: 1000 } as const;

export function drawAgreementScenario(seed: number, protocol: AgreementProtocolName, draw: ScenarioDraw = {}): AgreementScenario {
  const prng = new Prng(seed);
  const tuning = draw.tuning ?? 'simulation';
  const nodeCount = draw.nodeCount ?? prng.pick([1, 2, 3, 3, 4, 5, 5, 6]);
  const nodes = Array.from({ length: nodeCount }, (_, i) => nodeId(`n${i + 1}`));
  // Shipped tuning moves far more data per virtual second, so its scenarios send for less time to stay cheap;
  // its grace periods include the node command's default of one second.
  const sendForMs = draw.sendForMs ?? (tuning === 'process' ? prng.int(2, 8) : prng.int(5, 25)) * 100;
  const waitForMs = draw.waitForMs ?? (tuning === 'process' ? prng.pick([1000, 2000, 4000]) : prng.pick([2000, 3000, 4000]));
  const crashCount = draw.crashCount ?? (nodeCount > 2 && prng.chance(0.3) ? prng.int(1, nodeCount - 2) : 0);
  const network = randomNetwork(prng.fork(), { nodes, maxLatencyMs: MAX_LATENCY_MS });
  const healByMs = sendForMs + Math.max(1, Math.floor(Math.min(waitForMs * HEAL_BY_GRACE_SHARE, waitForMs - printMarginMs(waitForMs) - REPAIR_MS)));
  const drawnFaults =
    draw.faults !== undefined || nodeCount < 2
      ? (draw.faults ?? [])
      : randomFaultSchedule(prng.fork(), {
          nodes,
          fromMs: 0,
          toMs: healByMs,
          healByMs,
          maxPartitions: 3,
          crashCount,
          allowRestarts: false,
          maxPauses: 2,
          pauseLengthMs: PAUSE_LENGTH_MS,
        });
  const maxSkewMs = draw.maxStartSkewMs ?? (prng.chance(0.5) ? Math.floor(waitForMs / 2) : 0);
  const skews = drawStartOffsets(prng.fork(), nodes, maxSkewMs);
  const firstStart = Math.min(...skews.values());
  const startAtMs = new Map(nodes.map((node) => [node, (skews.get(node) as number) - firstStart]));
  const initDelayMs = drawStartOffsets(prng.fork(), nodes, prng.chance(0.3) ? MAX_INIT_DELAY_MS : 0);
  // A drawn crash strikes a node that is up: a crash before its start would do nothing, yet count it as crashed.
  // One that would then fall after healByMs is dropped, since the guarantee needs faults over in time.
  const upAtMs = (node: NodeId): number => (startAtMs.get(node) as number) + (initDelayMs.get(node) as number);
  const faults =
    draw.faults !== undefined
      ? drawnFaults
      : drawnFaults.flatMap((f): Fault[] => {
          if (f.kind !== 'crash') return [f];
          const atMs = Math.max(f.atMs, upAtMs(f.node) + 1);
          return atMs > healByMs ? [] : [{ ...f, atMs }];
        });
  const crashed = faults.flatMap((f) => (f.kind === 'crash' ? [f.node] : []));
  return { seed, protocol, tuning, nodes, sendForMs, waitForMs, tickMs: 100, network, faults, crashed, startAtMs, initDelayMs };
}

/** `observe` sees the simulation before it runs (to record its trace for a picture: src/sim/trace.ts). */
export function runAgreementScenario(scenario: AgreementScenario, observe?: (sim: Simulation<unknown, unknown, AgreementOutput, AgreementOptions & { tuning?: StreamTuning }>) => void): AgreementVerdict {
  const options: AgreementOptions & { tuning?: StreamTuning } = {
    seed: scenario.seed,
    sendForMs: scenario.sendForMs,
    waitForMs: scenario.waitForMs,
    tickMs: scenario.tickMs,
    ...(scenario.protocol === 'stream' ? { tuning: STREAM_TUNINGS[scenario.tuning] } : {}),
  };
  const lastStart = Math.max(...scenario.startAtMs.values());
  const simulation = new Simulation<unknown, unknown, AgreementOutput, typeof options>(PROTOCOLS[scenario.protocol], {
    seed: scenario.seed,
    nodes: scenario.nodes,
    optionsFor: () => options,
    network: scenario.network,
    faults: scenario.faults,
    startAtMs: (node) => scenario.startAtMs.get(node) ?? 0,
    initDelayMs: (node) => scenario.initDelayMs.get(node) ?? 0,
    untilMs: lastStart + scenario.sendForMs + scenario.waitForMs + 1000,
  });
  observe?.(simulation);
  return judge(scenario, simulation.run());
}

function judge(scenario: AgreementScenario, report: SimulationReport<AgreementOutput>): AgreementVerdict {
  const problems: string[] = [];
  const lines = new Map<NodeId, string>();
  const crashed = new Set(scenario.crashed);
  for (const node of scenario.nodes) {
    const outputs = report.outputs.get(node) ?? [];
    if (outputs.length > 1) problems.push(`${node} printed ${outputs.length} lines`);
    const first = outputs[0];
    if (first === undefined) {
      if (!crashed.has(node)) problems.push(`${node} printed nothing`);
      continue;
    }
    // Each node's deadline counts from its own start.
    const deadlineMs = (scenario.startAtMs.get(node) ?? 0) + scenario.sendForMs + scenario.waitForMs;
    if (first.atMs >= deadlineMs) problems.push(`${node} printed at ${first.atMs} ms, after its deadline ${deadlineMs} ms`);
    lines.set(node, formatResultLine(first.value));
    if (!crashed.has(node) && crashed.size === 0 && !first.value.complete) problems.push(`${node} printed an unconfirmed result (${first.value.unconfirmed.join(', ')})`);
  }
  const survivors = [...lines].filter(([node]) => !crashed.has(node)).map(([, line]) => line);
  const agreed = survivors.every((line) => line === survivors[0]);
  if (!agreed) problems.push(`live nodes disagree: ${[...lines].filter(([node]) => !crashed.has(node)).map(([n, l]) => `${n} ${l}`).join('; ')}`);
  return { scenario, report, lines, agreed, problems };
}
