/**
 * Gossip broadcast under the simulator: clients broadcast at a steady rate to random nodes while the network
 * loses, duplicates and reorders messages and partitions come and go; then everything heals and the run goes
 * quiet. The check: every node that is up at the end delivered every broadcast exactly once (the broadcasts
 * accepted by a node that was up), and nothing else.
 *
 * It also measures what the benchmark reports: server-to-server messages per broadcast and the latency from a
 * broadcast to its delivery on the last node, as the fly.io challenge counts them (there, half the operations are
 * reads, which cost no messages, so its msgs-per-op is half of our messages per broadcast).
 */
import { gossipBroadcast, type GossipOptions } from '../../broadcast/gossip.js';
import type { BroadcastRequest, Delivery } from '../../broadcast/types.js';
import { nodeId, type NodeId } from '../../core/ids.js';
import { Prng } from '../../core/prng.js';
import { faultEndMs, type Fault } from '../faults.js';
import type { NetworkModel } from '../network.js';
import { Simulation } from '../simulation.js';

export interface BroadcastScenario {
  readonly seed: number;
  readonly nodeCount: number;
  readonly options: GossipOptions;
  readonly network: NetworkModel;
  readonly faults?: readonly Fault[];
  /** Broadcasts per second over the whole cluster, spread evenly in time. */
  readonly ratePerSecond: number;
  /** Broadcasts happen in [0, durationMs). */
  readonly durationMs: number;
  /** After the last broadcast and the last fault: how long to let the cluster settle before checking. */
  readonly settleMs: number;
}

export interface BroadcastVerdict {
  readonly broadcasts: number;
  readonly serverMessages: number;
  readonly messagesPerBroadcast: number;
  /** Broadcast to delivery on every node that was up throughout, in ms; null when nothing was broadcast. */
  readonly latencyMs: { readonly median: number; readonly p95: number; readonly max: number } | null;
  /** Empty when every check passed. */
  readonly problems: readonly string[];
}

export function runBroadcastScenario(scenario: BroadcastScenario): BroadcastVerdict {
  const nodes = Array.from({ length: scenario.nodeCount }, (_, i) => nodeId(`n${i + 1}`));
  const faults = scenario.faults ?? [];
  const lastFaultMs = faults.reduce((end, f) => Math.max(end, faultEndMs(f)), 0);
  const untilMs = Math.max(scenario.durationMs, lastFaultMs) + scenario.settleMs;
  const sim = new Simulation<unknown, unknown, Delivery, GossipOptions, BroadcastRequest>(gossipBroadcast, {
    seed: scenario.seed,
    nodes,
    optionsFor: () => scenario.options,
    network: scenario.network,
    faults,
    untilMs,
  });

  // Each payload is unique, so a delivery names its broadcast.
  const prng = new Prng(scenario.seed ^ 0x5bd1e995);
  const sentAt = new Map<number, number>();
  const count = Math.floor((scenario.durationMs / 1000) * scenario.ratePerSecond);
  for (let k = 0; k < count; k++) {
    const atMs = Math.floor((k * 1000) / scenario.ratePerSecond);
    sim.inject(atMs, prng.pick(nodes), { kind: 'request', body: { kind: 'broadcast', payload: k } });
  }

  const problems: string[] = [];
  const delivered = new Map<NodeId, Set<number>>(nodes.map((n) => [n, new Set()]));
  const lastDeliveryAt = new Map<number, number>();
  const accepted = new Set<number>();
  const originOf = new Map<number, NodeId>();
  const crashedEver = new Set(faults.flatMap((f) => (f.kind === 'crash' ? [f.node] : [])));
  sim.onOutput((node, atMs, out) => {
    const payload = out.payload as number;
    const seen = delivered.get(node)!;
    // A restarted node starts afresh and delivers everything again: exactly-once holds per incarnation.
    if (seen.has(payload) && !crashedEver.has(node)) problems.push(`${node} delivered ${payload} twice`);
    seen.add(payload);
    if (out.origin === node && !sentAt.has(payload)) {
      accepted.add(payload);
      sentAt.set(payload, atMs);
      originOf.set(payload, node);
    }
    lastDeliveryAt.set(payload, Math.max(lastDeliveryAt.get(payload) ?? 0, atMs));
  });
  const report = sim.run();

  // A node that crashes loses what it had not passed on yet (nothing is stored), so only the broadcasts of nodes
  // that never crashed must reach everyone, and exactly-once is checked on those nodes.
  const mustReach = [...accepted].filter((p) => !crashedEver.has(originOf.get(p)!));
  for (const node of nodes) {
    if (crashedEver.has(node)) continue;
    const seen = delivered.get(node)!;
    for (const payload of mustReach) if (!seen.has(payload)) problems.push(`${node} never delivered ${payload}`);
    for (const payload of seen) if (!accepted.has(payload)) problems.push(`${node} delivered ${payload}, which nobody broadcast`);
    if (problems.length > 20) break;
  }

  const latencies = mustReach.map((p) => lastDeliveryAt.get(p)! - sentAt.get(p)!).sort((a, b) => a - b);
  const at = (q: number): number => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]!;
  return {
    broadcasts: accepted.size,
    serverMessages: report.stats.sent,
    messagesPerBroadcast: accepted.size === 0 ? 0 : report.stats.sent / accepted.size,
    latencyMs: latencies.length === 0 ? null : { median: at(0.5), p95: at(0.95), max: latencies[latencies.length - 1]! },
    problems,
  };
}
