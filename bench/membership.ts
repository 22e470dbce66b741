/**
 * `npm run bench:membership`: SWIM + Lifeguard in the simulator (virtual time, so the figures do not depend on
 * this machine's load), at 100 and 1,000 nodes, probing every 200 ms (ProbeTimeout 100 ms) and gossiping to 3
 * members every 200 ms, on a LAN-like network (1–10 ms one way, uniform, so messages reorder).
 *
 * 1. Dissemination: a node started with nodes = [self] joins through one seed; later a node crashes. Times
 *    until every live node knows of the join (and until 99.9% do, HashiCorp's convergence figure), and until
 *    every live node holds the crashed node dead (detection plus dissemination), over several seeds.
 * 2. False positives: live nodes declared dead, at 5% and 10% loss and with 10% of the nodes paused once for
 *    1–3 s (then a declaration about a node that was never paused is false), for plain SWIM, memberlist's
 *    Lifeguard, and ours (Lifeguard with stale answers and a longer refutation budget, the default). Reported
 *    per run and per node-hour of distinct nodes falsely declared.
 *
 * Anchors: HashiCorp's convergence model for Serf's defaults reaches 99.9% of 1,000 nodes in about 1.8 s;
 * Lifeguard cut false positives about 50× against plain SWIM. Targets: full dissemination at 1,000 nodes
 * within 2 s of virtual time; no false positives at 10% loss with Lifeguard.
 *
 * Prints tables and writes bench-results/membership.json. BENCH_SEEDS (default 3) seeds per cell;
 * BENCH_QUICK=1 runs 100 nodes only.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { nodeId, type NodeId } from '../src/core/ids.js';
import { Prng } from '../src/core/prng.js';
import type { SwimOptions } from '../src/membership/types.js';
import type { Fault } from '../src/sim/faults.js';
import type { NetworkModel } from '../src/sim/network.js';
import { runMembershipScenario, staticNodeIds, type MemberChange } from '../src/sim/scenarios/membership.js';

const OUT_DIR = fileURLToPath(new URL('../../bench-results/', import.meta.url));
const SEEDS = Number(process.env['BENCH_SEEDS'] ?? 3);
const SIZES = process.env['BENCH_QUICK'] === '1' ? [100] : [100, 1000];
const KNOBS: Partial<Omit<SwimOptions, 'address' | 'seed'>> = { probeIntervalMs: 200, probeTimeoutMs: 100, gossipNodes: 3, gossipIntervalMs: 200 };
/** Enough steps for 1,000 nodes over a minute of virtual time. */
const MAX_STEPS = 50_000_000;

function lan(lossRate: number): NetworkModel {
  return { defaultLink: { latency: { kind: 'uniform', minMs: 1, maxMs: 10 }, lossRate, duplicateRate: 0 } };
}

function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
}

const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
const s = (ms: number): string => (Number.isFinite(ms) ? (ms / 1000).toFixed(2) : '—');

// ---- 1. dissemination ------------------------------------------------------------------------------------------

interface DisseminationRun {
  readonly seed: number;
  /** Join to the last live node knowing it alive, and to 99.9% of them (ms). */
  readonly joinAllMs: number;
  readonly join999Ms: number;
  /** Crash to the first suspicion, the first death declared, and every live node holding it dead (ms). */
  readonly crashFirstSuspectMs: number;
  readonly crashFirstDeadMs: number;
  readonly crashAllDeadMs: number;
  readonly crashDead999Ms: number;
  readonly messages: number;
  readonly cpuMs: number;
}

function dissemination(n: number, seed: number): DisseminationRun {
  const joinAt = 5000;
  const crashAt = 10_000;
  const victim = nodeId('n2');
  const joiner = nodeId('j1');
  const knowsJoiner = new Map<NodeId, number>();
  const holdsDead = new Map<NodeId, number>();
  let firstSuspect = Infinity;
  const onChange = (c: MemberChange): void => {
    if (c.node === joiner && c.state === 'alive' && c.observer !== joiner && !knowsJoiner.has(c.observer)) knowsJoiner.set(c.observer, c.atMs);
    if (c.node === victim && c.atMs >= crashAt) {
      if (c.state === 'suspect') firstSuspect = Math.min(firstSuspect, c.atMs);
      if (c.state === 'dead' && !holdsDead.has(c.observer)) holdsDead.set(c.observer, c.atMs);
    }
  };
  const started = performance.now();
  const v = runMembershipScenario({
    seed,
    staticCount: n,
    options: KNOBS,
    network: lan(0),
    joiners: [{ atMs: joinAt, seed: nodeId('n1') }],
    faults: [{ kind: 'crash', atMs: crashAt, node: victim }],
    untilMs: 30_000,
    checkInvariants: false,
    record: false,
    judge: false,
    maxSteps: MAX_STEPS,
    onChange,
  });
  const cpuMs = performance.now() - started;
  const others = v.live.filter((x) => x !== joiner);
  const joinTimes = others.map((o) => (knowsJoiner.get(o) ?? Infinity) - joinAt).sort((a, b) => a - b);
  const deadTimes = v.live.map((o) => (holdsDead.get(o) ?? Infinity) - crashAt).sort((a, b) => a - b);
  return {
    seed,
    joinAllMs: joinTimes.at(-1)!,
    join999Ms: quantile(joinTimes, 0.999),
    crashFirstSuspectMs: firstSuspect - crashAt,
    crashFirstDeadMs: deadTimes[0]!,
    crashAllDeadMs: deadTimes.at(-1)!,
    crashDead999Ms: quantile(deadTimes, 0.999),
    messages: v.stats.sent,
    cpuMs,
  };
}

// ---- 2. false positives ----------------------------------------------------------------------------------------

type Condition = 'loss 5%' | 'loss 10%' | 'pauses 1-3 s';
const CONDITIONS: readonly Condition[] = ['loss 5%', 'loss 10%', 'pauses 1-3 s'];

/** Plain SWIM, memberlist's Lifeguard, and ours (Lifeguard plus stale answers and a longer refutation budget). */
type Variant = 'SWIM' | 'Lifeguard' | 'Lifeguard+';
const VARIANTS: ReadonlyArray<readonly [Variant, Partial<SwimOptions>]> = [
  ['SWIM', { lifeguard: false, answerStaleAccusations: false, refutationRetransmitMult: 1 }],
  ['Lifeguard', { lifeguard: true, answerStaleAccusations: false, refutationRetransmitMult: 1 }],
  ['Lifeguard+', {}],
];

interface FalsePositiveCell {
  readonly nodes: number;
  readonly condition: Condition;
  readonly variant: Variant;
  readonly runs: number;
  readonly virtualSeconds: number;
  /** Dead declarations (observer, node) about live, never-paused nodes, summed over the runs. */
  readonly falsePositives: number;
  /** Distinct live nodes declared dead by someone, summed over runs. */
  readonly nodesFalselyDeclared: number;
  readonly perNodeHour: number;
  /** Paused nodes declared dead (true detections of an unresponsive node, for context). */
  readonly pausedDeclaredDead: number;
}

function pauseFaults(prng: Prng, nodes: readonly NodeId[], untilMs: number): Fault[] {
  const faults: Fault[] = [];
  for (const node of nodes) {
    if (!prng.chance(0.1)) continue;
    const atMs = prng.int(2000, untilMs - 5000);
    faults.push({ kind: 'pause', atMs, node, resumeAtMs: atMs + prng.int(1000, 3000) });
  }
  return faults;
}

function falsePositiveCell(n: number, condition: Condition, variant: Variant, knobs: Partial<SwimOptions>, seeds: readonly number[], untilMs: number): FalsePositiveCell {
  let falsePositives = 0;
  let nodesFalselyDeclared = 0;
  let pausedDeclaredDead = 0;
  for (const seed of seeds) {
    const nodes = staticNodeIds(n);
    const faults = condition === 'pauses 1-3 s' ? pauseFaults(new Prng(seed), nodes, untilMs) : [];
    const paused = new Set(faults.map((f) => (f.kind === 'pause' ? f.node : '')));
    const pausedDead = new Set<NodeId>();
    const v = runMembershipScenario({
      seed,
      staticCount: n,
      options: { ...KNOBS, ...knobs },
      network: lan(condition === 'loss 5%' ? 0.05 : condition === 'loss 10%' ? 0.1 : 0),
      faults,
      untilMs,
      checkInvariants: false,
      record: false,
      judge: false,
      maxSteps: MAX_STEPS,
      onChange: (c) => {
        if (c.state === 'dead' && paused.has(c.node)) pausedDead.add(c.node);
      },
    });
    falsePositives += v.falsePositives.length;
    nodesFalselyDeclared += new Set(v.falsePositives.map((f) => f.node)).size;
    pausedDeclaredDead += pausedDead.size;
  }
  const nodeHours = (n * seeds.length * untilMs) / 3_600_000;
  return {
    nodes: n,
    condition,
    variant,
    runs: seeds.length,
    virtualSeconds: untilMs / 1000,
    falsePositives,
    nodesFalselyDeclared,
    perNodeHour: nodesFalselyDeclared / nodeHours,
    pausedDeclaredDead,
  };
}

// ---- run -------------------------------------------------------------------------------------------------------

const seeds = Array.from({ length: SEEDS }, (_, i) => i + 1);
const disseminationRows: Array<{ nodes: number; runs: DisseminationRun[] }> = [];
console.log(`SWIM + Lifeguard, simulated: probe 200 ms (timeout 100 ms), gossip to 3 every 200 ms, LAN 1-10 ms; ${SEEDS} seeds per cell\n`);
console.log('1. dissemination (seconds of virtual time; a join, then a crash)');
console.log('| nodes | join: 99.9% know | join: all know | crash: first suspect | crash: first dead | crash: 99.9% hold dead | crash: all hold dead | msgs/node/s | cpu s/run |');
console.log('|---|---|---|---|---|---|---|---|---|');
for (const n of SIZES) {
  const runs = seeds.map((seed) => dissemination(n, seed));
  disseminationRows.push({ nodes: n, runs });
  const worst = (f: (r: DisseminationRun) => number): string => `${s(mean(runs.map(f)))} (max ${s(Math.max(...runs.map(f)))})`;
  const msgs = mean(runs.map((r) => r.messages)) / n / 30;
  console.log(
    `| ${n} | ${worst((r) => r.join999Ms)} | ${worst((r) => r.joinAllMs)} | ${worst((r) => r.crashFirstSuspectMs)} | ${worst((r) => r.crashFirstDeadMs)} | ${worst((r) => r.crashDead999Ms)} | ${worst((r) => r.crashAllDeadMs)} | ${msgs.toFixed(1)} | ${(mean(runs.map((r) => r.cpuMs)) / 1000).toFixed(1)} |`,
  );
}

console.log('\n2. false positives (live, never-paused nodes declared dead)');
console.log('| nodes | condition | protocol | runs × virtual s | declarations | nodes declared | per node-hour | paused nodes declared dead |');
console.log('|---|---|---|---|---|---|---|---|');
const cells: FalsePositiveCell[] = [];
for (const n of SIZES) {
  // 1,000 nodes cost about 20 times 100 nodes per virtual second: fewer, shorter runs there.
  const untilMs = n >= 1000 ? 30_000 : 120_000;
  const cellSeeds = n >= 1000 ? seeds.slice(0, 1) : seeds;
  for (const condition of CONDITIONS) {
    for (const [variant, knobs] of VARIANTS) {
      const c = falsePositiveCell(n, condition, variant, knobs, cellSeeds, untilMs);
      cells.push(c);
      console.log(
        `| ${n} | ${condition} | ${variant} | ${c.runs} × ${c.virtualSeconds} | ${c.falsePositives} | ${c.nodesFalselyDeclared} | ${c.perNodeHour.toFixed(2)} | ${condition === 'pauses 1-3 s' ? c.pausedDeclaredDead : '—'} |`,
      );
    }
  }
}

mkdirSync(OUT_DIR, { recursive: true });
writeFileSync(
  `${OUT_DIR}membership.json`,
  `${JSON.stringify({ knobs: KNOBS, network: 'uniform 1-10 ms', seeds: SEEDS, dissemination: disseminationRows, falsePositives: cells }, null, 2)}\n`,
);
console.log('\nwritten to bench-results/membership.json');
