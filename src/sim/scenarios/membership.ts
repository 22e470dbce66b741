/**
 * SWIM membership under the simulator: a cluster of static nodes (they know each other from the start, as from
 * a peers file), joiners that start late with `nodes = [self]` and a `join` to one seed, graceful leaves, and the
 * simulator's faults (loss, duplication, reordering, partitions, crashes, restarts, pauses, start skew).
 *
 * It records every member event, and at the end judges every node that is up and has not left:
 * - it sees every other such node alive (or suspect: live, about to refute);
 * - it sees no crashed-for-good node alive or suspect (dead, or forgotten);
 * - it sees every node that left as left (or has forgotten it), and no node ever saw a leaver dead after it left.
 * False positives (a node declared dead while its process ran unpaused and never crashed, partitioned or left)
 * are returned for the caller to judge: under partitions and pauses such declarations are the protocol working.
 *
 * Tests and `npm run bench:membership` both run it; the bench reads the timings (join and crash spread).
 */
import { nodeId, type NodeId } from '../../core/ids.js';
import { hashString32 } from '../../core/prng.js';
import type { InitContext, Protocol } from '../../protocol/types.js';
import { membersOf, swimProtocol, type SwimState } from '../../membership/swim.js';
import { swimOptions, type MemberEvent, type MemberState, type SwimMsg, type SwimOptions, type SwimRequest, type SwimTimer } from '../../membership/types.js';
import { faultEndMs, type Fault } from '../faults.js';
import type { NetworkModel } from '../network.js';
import { Simulation, type SimulationStats } from '../simulation.js';

export interface MembershipScenario {
  readonly seed: number;
  /** Static nodes n1…nN, started at the epoch (or at `startAtMs`). */
  readonly staticCount: number;
  /** Knobs other than the address (each node's is "n<i>:7946"); a per-node seed is derived from the run's. */
  readonly options: Partial<Omit<SwimOptions, 'address' | 'seed'>>;
  readonly network: NetworkModel;
  readonly faults?: readonly Fault[];
  /** Start skew of static nodes (virtual ms from the epoch). */
  readonly startAtMs?: (node: NodeId) => number;
  /** Joiners j1…jM: started at `atMs` with nodes = [self] and a join to `seed`. */
  readonly joiners?: ReadonlyArray<{ readonly atMs: number; readonly seed: NodeId }>;
  /** Graceful leaves. */
  readonly leaves?: ReadonlyArray<{ readonly node: NodeId; readonly atMs: number }>;
  readonly untilMs: number;
  /** Check the protocol's invariants after every step (default true; the 1,000-node bench turns it off). */
  readonly checkInvariants?: boolean;
  readonly maxSteps?: number;
  /** Keep every member event in the verdict (default true; the 1,000-node bench counts on the fly instead). */
  readonly record?: boolean;
  /** Called with every member event as it happens. */
  readonly onChange?: (change: MemberChange) => void;
  /** Judge the end state (default true). */
  readonly judge?: boolean;
  /** Another build of the protocol (tests run mutants through the same scenario). Default swimProtocol. */
  readonly protocol?: typeof swimProtocol;
}

export interface MemberChange {
  readonly observer: NodeId;
  readonly atMs: number;
  readonly node: NodeId;
  readonly state: MemberState;
  readonly incarnation: number;
}

export interface MembershipVerdict {
  readonly nodes: readonly NodeId[];
  /** Up and not left at the end. */
  readonly live: readonly NodeId[];
  readonly crashedAtEnd: readonly NodeId[];
  readonly left: readonly NodeId[];
  /** Every member event, in order. */
  readonly changes: readonly MemberChange[];
  /** Dead declarations about nodes that never crashed, paused, were partitioned or left, nor were started late. */
  readonly falsePositives: readonly MemberChange[];
  /** Empty when every end-state check passed. */
  readonly problems: readonly string[];
  readonly stats: SimulationStats;
  readonly endedAtMs: number;
}

export function staticNodeIds(count: number): NodeId[] {
  return Array.from({ length: count }, (_, i) => nodeId(`n${i + 1}`));
}

export function joinerIds(count: number): NodeId[] {
  return Array.from({ length: count }, (_, i) => nodeId(`j${i + 1}`));
}

export function addressOf(node: NodeId): string {
  return `${node}:7946`;
}

/**
 * The protocol with `ctx.nodes` replaced per node: how the simulator (which hands every node the whole list)
 * starts a node that knows only itself (a process started with `--join` instead of a peers file).
 */
export function withInitNodes<S, M, O, Opt, R, T extends string>(
  protocol: Protocol<S, M, O, Opt, R, T>,
  nodesFor: (self: NodeId) => readonly NodeId[],
): Protocol<S, M, O, Opt, R, T> {
  return { ...protocol, init: (ctx: InitContext<Opt>) => protocol.init({ ...ctx, nodes: nodesFor(ctx.self) }) };
}

export function runMembershipScenario(scenario: MembershipScenario): MembershipVerdict {
  const statics = staticNodeIds(scenario.staticCount);
  const joiners = scenario.joiners ?? [];
  const joinerNodes = joinerIds(joiners.length);
  const nodes = [...statics, ...joinerNodes];
  const faults = scenario.faults ?? [];
  const isJoiner = new Set(joinerNodes);
  const protocol = withInitNodes(scenario.protocol ?? swimProtocol, (self) => (isJoiner.has(self) ? [self] : statics));
  const startAt = new Map<NodeId, number>();
  joiners.forEach((j, i) => startAt.set(joinerNodes[i]!, j.atMs));
  const sim = new Simulation<SwimState, SwimMsg, MemberEvent, SwimOptions, SwimRequest, SwimTimer>(protocol, {
    seed: scenario.seed,
    nodes,
    optionsFor: (node) => swimOptions(addressOf(node), { ...scenario.options, seed: (scenario.seed ^ hashString32(node)) >>> 0 }),
    network: scenario.network,
    faults,
    untilMs: scenario.untilMs,
    startAtMs: (node) => startAt.get(node) ?? scenario.startAtMs?.(node) ?? 0,
    checkInvariants: scenario.checkInvariants ?? true,
    ...(scenario.maxSteps === undefined ? {} : { maxSteps: scenario.maxSteps }),
  });
  joiners.forEach((j, i) => {
    const node = joinerNodes[i]!;
    const join = { kind: 'request' as const, body: { op: 'join' as const, seeds: [j.seed] } };
    sim.inject(j.atMs, node, join);
    // A restarted joiner is a new process started with the same --join.
    for (const f of faults) if (f.kind === 'crash' && f.node === node && f.restartAtMs !== undefined) sim.inject(f.restartAtMs, node, join);
  });
  for (const l of scenario.leaves ?? []) sim.inject(l.atMs, l.node, { kind: 'request', body: { op: 'leave' } });

  // Nodes that were ever unreachable for a reason other than the network's loss.
  const leftAt = new Map<NodeId, number>();
  for (const l of scenario.leaves ?? []) if (!leftAt.has(l.node)) leftAt.set(l.node, l.atMs);
  const troubled = new Set<NodeId>([...leftAt.keys(), ...joinerNodes]);
  for (const f of faults) {
    if (f.kind === 'crash' || f.kind === 'pause') troubled.add(f.node);
    else if ('groups' in f) for (const g of f.groups) for (const n of g) troubled.add(n);
    else for (const n of f.ring) troubled.add(n);
  }
  if (scenario.startAtMs !== undefined) for (const n of statics) if (scenario.startAtMs(n) > 0) troubled.add(n);

  const changes: MemberChange[] = [];
  const falsePositives: MemberChange[] = [];
  const record = scenario.record ?? true;
  sim.onOutput((observer, atMs, ev) => {
    const c: MemberChange = { observer, atMs, node: ev.member.id, state: ev.member.state, incarnation: ev.member.incarnation };
    if (record) changes.push(c);
    if (c.state === 'dead' && !troubled.has(c.node)) falsePositives.push(c);
    scenario.onChange?.(c);
  });
  const report = sim.run();

  const left = [...leftAt.keys()];
  const crashedAtEnd = nodes.filter((n) => report.crashed.has(n));
  const live = nodes.filter((n) => !report.crashed.has(n) && !leftAt.has(n));
  const problems: string[] = [];
  if (scenario.judge ?? true) {
    for (const observer of live) {
      const view = new Map(membersOf(sim.state(observer)!).map((m) => [m.id, m]));
      for (const other of live) {
        const m = view.get(other);
        // Suspect is still live (a suspicion its subject will refute; under loss one is often under way): dead or unknown is not.
        if (m === undefined || (m.state !== 'alive' && m.state !== 'suspect')) problems.push(`${observer} sees live ${other} as ${m?.state ?? 'unknown'}`);
      }
      for (const gone of crashedAtEnd) {
        const m = view.get(gone);
        if (m !== undefined && (m.state === 'alive' || m.state === 'suspect')) problems.push(`${observer} sees crashed ${gone} as ${m.state}`);
      }
      for (const leaver of left) {
        const m = view.get(leaver);
        if (m !== undefined && m.state !== 'left' && !report.crashed.has(leaver)) problems.push(`${observer} sees ${leaver}, which left, as ${m.state}`);
      }
    }
    for (const c of changes) {
      const at = leftAt.get(c.node);
      if (at !== undefined && c.atMs >= at && c.state === 'dead') problems.push(`${c.observer} saw ${c.node} dead at ${c.atMs}ms after it left at ${at}ms`);
    }
  }
  return { nodes, live, crashedAtEnd, left, changes, falsePositives, problems, stats: report.stats, endedAtMs: report.endedAtMs };
}

/** The end of the last fault, for settling times. */
export function lastFaultEndMs(faults: readonly Fault[]): number {
  return faults.reduce((end, f) => Math.max(end, faultEndMs(f)), 0);
}
