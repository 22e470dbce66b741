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
import type { AgreementOptions, AgreementOutput } from '../../agreement/types.js';
import { nodeId, type NodeId } from '../../core/ids.js';
import { Prng } from '../../core/prng.js';
import { randomFaultSchedule, type Fault } from '../faults.js';
import { randomNetwork, type NetworkModel } from '../network.js';
import { Simulation, type SimulationReport } from '../simulation.js';

/**
 * Which stream tuning a scenario runs: `process` is what `chatterbox node` ships (large runs and windows, so a
 * scenario costs far more), `simulation` the small one that lets thousands of scenarios run in seconds.
 */
export type TuningName = 'process' | 'simulation';
export const STREAM_TUNINGS: Readonly<Record<TuningName, StreamTuning>> = { process: PROCESS_TUNING, simulation: SIMULATION_TUNING };

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

/** Partitions heal at least this long before the end of sending + this much, so the grace period can repair them. */
const HEAL_INTO_GRACE_MS = 1000;
/** Link latency stays at or below this, so a healed cluster catches up well within the grace period. */
const MAX_LATENCY_MS = 80;

export function drawAgreementScenario(seed: number, protocol: AgreementProtocolName, draw: ScenarioDraw = {}): AgreementScenario {
  const prng = new Prng(seed);
  const nodeCount = draw.nodeCount ?? prng.pick([1, 2, 3, 3, 4, 5, 5, 6]);
  const nodes = Array.from({ length: nodeCount }, (_, i) => nodeId(`n${i + 1}`));
  const sendForMs = draw.sendForMs ?? prng.int(5, 25) * 100;
  const waitForMs = draw.waitForMs ?? 4000;
  const crashCount = draw.crashCount ?? (nodeCount > 2 && prng.chance(0.3) ? prng.int(1, nodeCount - 2) : 0);
  const network = randomNetwork(prng.fork(), { nodes, maxLatencyMs: MAX_LATENCY_MS });
  const faults =
    draw.faults !== undefined
      ? draw.faults
      : nodeCount < 2
      ? []
      : randomFaultSchedule(prng.fork(), {
          nodes,
          fromMs: 0,
          toMs: sendForMs + HEAL_INTO_GRACE_MS,
          healByMs: sendForMs + HEAL_INTO_GRACE_MS,
          maxPartitions: 3,
          crashCount,
          allowRestarts: false,
        });
  const crashed = faults.flatMap((f) => (f.kind === 'crash' ? [f.node] : []));
  return { seed, protocol, tuning: draw.tuning ?? 'simulation', nodes, sendForMs, waitForMs, tickMs: 100, network, faults, crashed };
}

export function runAgreementScenario(scenario: AgreementScenario): AgreementVerdict {
  const options: AgreementOptions & { tuning?: StreamTuning } = {
    seed: scenario.seed,
    sendForMs: scenario.sendForMs,
    waitForMs: scenario.waitForMs,
    tickMs: scenario.tickMs,
    ...(scenario.protocol === 'stream' ? { tuning: STREAM_TUNINGS[scenario.tuning] } : {}),
  };
  const deadlineMs = scenario.sendForMs + scenario.waitForMs;
  const simulation = new Simulation<unknown, unknown, AgreementOutput, typeof options>(PROTOCOLS[scenario.protocol], {
    seed: scenario.seed,
    nodes: scenario.nodes,
    optionsFor: () => options,
    network: scenario.network,
    faults: scenario.faults,
    untilMs: deadlineMs + 1000,
  });
  return judge(scenario, simulation.run(), deadlineMs);
}

function judge(scenario: AgreementScenario, report: SimulationReport<AgreementOutput>, deadlineMs: number): AgreementVerdict {
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
    if (first.atMs >= deadlineMs) problems.push(`${node} printed at ${first.atMs} ms, after the deadline ${deadlineMs} ms`);
    lines.set(node, formatResultLine(first.value));
    if (!crashed.has(node) && crashed.size === 0 && !first.value.complete) problems.push(`${node} printed an unconfirmed result (${first.value.unconfirmed.join(', ')})`);
  }
  const survivors = [...lines].filter(([node]) => !crashed.has(node)).map(([, line]) => line);
  const agreed = survivors.every((line) => line === survivors[0]);
  if (!agreed) problems.push(`live nodes disagree: ${[...lines].filter(([node]) => !crashed.has(node)).map(([n, l]) => `${n} ${l}`).join('; ')}`);
  return { scenario, report, lines, agreed, problems };
}
