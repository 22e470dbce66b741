/**
 * `npm run bench:broadcast`: gossip broadcast on the fly.io challenge settings (25 nodes, 100 ms per
 * server-to-server message, 100 operations per second, half of them broadcasts, 20 s).
 *
 * Two parts, side by side in one run (these machines are noisy: compare ratios, not absolute figures across runs):
 * 1. Topologies in the simulator (virtual time, so exact and fast): why the presets are what they are.
 * 2. Both presets as real `chatterbox maelstrom` processes under the bundled harness, with and without
 *    Maelstrom-style partitions: msgs-per-op and the latency from a broadcast to its visibility on all nodes.
 *
 * 3. The shipped `broadcast` workload under the harness's simulated backend (src/harness/simulated.ts: the code
 *    `chatterbox maelstrom` runs, the harness's clients and checker, virtual time, so load-independent): each
 *    preset with its own overlay over three seeds, and following Maelstrom's grid and tree4 (`--topology follow`).
 *
 * Prints tables and writes bench-results/broadcast.json. Set BENCH_TIME_LIMIT (s) for a shorter run, and
 * BENCH_SIM_ONLY=1 to skip the process runs (part 2).
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { gossipOptions, type GossipOptions } from '../src/broadcast/gossip.js';
import { runHarness } from '../src/harness/runner.js';
import { drawMaelstromScenario, runMaelstromScenario, shippedWorkload } from '../src/harness/simulated.js';
import type { TopologyName } from '../src/harness/types.js';
import { GOSSIP_PRESETS, type GossipPreset } from '../src/broadcast/gossip-presets.js';
import type { Report } from '../src/harness/types.js';
import { describeTopology } from '../src/replication/topology.js';
import { runBroadcastScenario } from '../src/sim/scenarios/broadcast.js';

const OUT_DIR = fileURLToPath(new URL('../../bench-results/', import.meta.url));
const NODES = 25;
const LATENCY_MS = 100;
const RATE = 100;
const TIME_LIMIT_S = Number(process.env.BENCH_TIME_LIMIT ?? 20);

// ---- 1. topologies in the simulator -------------------------------------------------------------------------------

const CANDIDATES: Array<[string, GossipOptions]> = [
  ['latency preset: full mesh, no batching', gossipOptions('latency')],
  ['messages preset: star, leaves at once, hub batches 280 ms', gossipOptions('messages')],
  ['star, no batching', gossipOptions('latency', { topology: { kind: 'tree', fanout: 32 } })],
  ['tree of fanout 4, no batching', gossipOptions('latency', { topology: { kind: 'tree', fanout: 4 } })],
  ['random 4-regular, no batching', gossipOptions('latency', { topology: { kind: 'regular', degree: 4 } })],
  ['Plumtree-like: tree 4 eager + 4-regular lazy', gossipOptions('latency', { topology: { kind: 'tree', fanout: 4 }, lazy: { kind: 'regular', degree: 4 } })],
  ['full mesh, 280 ms batches', gossipOptions('messages', { topology: { kind: 'full' } })],
];

interface SimRow {
  readonly name: string;
  readonly topology: string;
  readonly flushMs: number;
  readonly msgsPerOp: number;
  readonly medianMs: number;
  readonly maxMs: number;
  readonly problems: number;
}

const simRows: SimRow[] = CANDIDATES.map(([name, options]) => {
  const verdict = runBroadcastScenario({
    seed: 1,
    nodeCount: NODES,
    options,
    network: { defaultLink: { latency: { kind: 'fixed', ms: LATENCY_MS }, lossRate: 0, duplicateRate: 0 } },
    ratePerSecond: RATE / 2,
    durationMs: TIME_LIMIT_S * 1000,
    settleMs: 5000,
  });
  return {
    name,
    topology: describeTopology(options.topology) + (options.lazy === null ? '' : ` + lazy ${describeTopology(options.lazy)}`),
    flushMs: options.flushMs,
    // The challenge's operations are half reads, which cost no messages.
    msgsPerOp: round(verdict.messagesPerBroadcast / 2),
    medianMs: verdict.latencyMs?.median ?? NaN,
    maxMs: verdict.latencyMs?.max ?? NaN,
    problems: verdict.problems.length,
  };
});

console.log(`Simulator: ${NODES} nodes, ${LATENCY_MS} ms per message, ${RATE / 2} broadcasts/s + ${RATE / 2} reads/s, ${TIME_LIMIT_S} s`);
console.log('msgs-per-op  median  max     configuration');
for (const r of simRows) console.log(`${String(r.msgsPerOp).padStart(11)}  ${`${r.medianMs}`.padStart(6)}  ${`${r.maxMs}`.padStart(6)}  ${r.name}${r.problems > 0 ? `  (${r.problems} PROBLEMS)` : ''}`);

// ---- 2. the presets as real processes under the harness --------------------------------------------------------------

interface HarnessRow {
  readonly preset: string;
  readonly partition: boolean;
  readonly valid: boolean;
  readonly problems: readonly string[];
  readonly ops: number;
  readonly msgsPerOp: number | null;
  readonly visibilityMedianMs: number | null;
  readonly visibilityMaxMs: number | null;
  readonly resolutionMs: number | null;
  readonly convergedAfterHealMs: number | null;
}

async function harnessRun(preset: string, partition: boolean): Promise<HarnessRow> {
  process.stderr.write(`harness: ${preset} preset${partition ? ', partitions' : ''}…\n`);
  const report: Report = await runHarness({
    workload: 'broadcast',
    nodeCount: NODES,
    latencyMs: LATENCY_MS,
    rate: RATE,
    timeLimitMs: TIME_LIMIT_S * 1000,
    partition,
    recoveryMs: partition ? 10_000 : 3000,
    // 25 nodes answering a read of up to a thousand values every 50 ms is load enough for two cores.
    probeMs: 50,
    seed: 1,
    binArgs: ['--preset', preset],
  });
  rmSync(report.logDir, { recursive: true, force: true });
  const check = report.check?.kind === 'set' ? report.check : null;
  // The upper bound of visibility: the first read showing the value on every node completed by then.
  const visibility = check?.visibility?.upper ?? null;
  return {
    preset,
    partition,
    valid: report.valid,
    problems: report.problems,
    ops: report.ops.total,
    msgsPerOp: report.net.msgsPerOp === null ? null : round(report.net.msgsPerOp),
    visibilityMedianMs: visibility === null ? null : Math.round(visibility.p50),
    visibilityMaxMs: visibility === null ? null : Math.round(visibility.max),
    resolutionMs: check?.visibility?.resolutionMs ?? null,
    convergedAfterHealMs: check?.convergence?.afterHealUpperMs ?? null,
  };
}

const harnessRows: HarnessRow[] = [];
const SIM_ONLY = process.env.BENCH_SIM_ONLY === '1';
if (!SIM_ONLY) for (const partition of [false, true]) for (const preset of ['latency', 'messages']) harnessRows.push(await harnessRun(preset, partition));

console.log(`\nHarness: ${NODES} real processes, --latency ${LATENCY_MS} --rate ${RATE} --time-limit ${TIME_LIMIT_S}, visibility measured by reads every 50 ms`);
console.log('preset    nemesis    valid  msgs-per-op  median  max    converged after heal');
for (const r of harnessRows) {
  const converged = r.partition ? (r.convergedAfterHealMs === null ? 'never' : `${Math.round(r.convergedAfterHealMs)} ms`) : '';
  console.log(
    `${r.preset.padEnd(9)} ${(r.partition ? 'partition' : 'none').padEnd(10)} ${String(r.valid).padEnd(6)} ${String(r.msgsPerOp).padStart(11)}  ${String(r.visibilityMedianMs).padStart(6)}  ${String(r.visibilityMaxMs).padStart(5)}  ${converged}`,
  );
  for (const p of r.problems.slice(0, 5)) console.log(`  ! ${p}`);
}

// ---- 3. the shipped workload under the simulated harness ---------------------------------------------------------------

interface SimHarnessRow {
  readonly preset: GossipPreset;
  readonly overlay: string;
  readonly seed: number;
  readonly valid: boolean;
  readonly msgsPerOp: number | null;
  /** Maelstrom's stable time from the invocation (the last read that missed the write), median and max. */
  readonly medianMs: number | null;
  readonly maxMs: number | null;
}

function simHarnessRun(preset: GossipPreset, follow: TopologyName | null, seed: number): SimHarnessRow {
  const base = shippedWorkload('broadcast');
  const hosted = { ...base, options: () => base.options({ preset, topology: follow === null ? 'own' : 'follow' }) };
  const drawn = drawMaelstromScenario(seed, 'broadcast', { nodeCount: NODES, preset, faults: [], probeMs: 25, hosted });
  const v = runMaelstromScenario({
    ...drawn,
    network: { defaultLink: { latency: { kind: 'fixed', ms: LATENCY_MS }, lossRate: 0, duplicateRate: 0 } },
    timeLimitMs: TIME_LIMIT_S * 1000,
    rate: RATE,
    concurrency: NODES,
    ...(follow === null ? {} : { topology: follow }),
  });
  const lower = v.check?.kind === 'set' ? (v.check.visibility?.lower ?? null) : null;
  return {
    preset,
    overlay: follow === null ? 'own' : `follow ${follow}`,
    seed,
    valid: v.valid,
    msgsPerOp: v.msgsPerOp,
    medianMs: lower === null ? null : Math.round(lower.p50),
    maxMs: lower === null ? null : Math.round(lower.max),
  };
}

const simHarnessRows: SimHarnessRow[] = [];
for (const preset of GOSSIP_PRESETS) {
  for (const seed of [1, 2, 3]) simHarnessRows.push(simHarnessRun(preset, null, seed));
  for (const follow of ['grid', 'tree4'] as const) simHarnessRows.push(simHarnessRun(preset, follow, 1));
}
console.log(`\nSimulated harness: the shipped broadcast workload, ${NODES} nodes, --latency ${LATENCY_MS} --rate ${RATE} --time-limit ${TIME_LIMIT_S}, reads every 25 ms`);
console.log('preset    overlay       seed  valid  msgs-per-op  median  max');
for (const r of simHarnessRows) {
  console.log(`${r.preset.padEnd(9)} ${r.overlay.padEnd(13)} ${String(r.seed).padStart(4)}  ${String(r.valid).padEnd(6)} ${String(r.msgsPerOp).padStart(11)}  ${String(r.medianMs).padStart(6)}  ${String(r.maxMs).padStart(5)}`);
}

mkdirSync(OUT_DIR, { recursive: true });
const summary = { date: new Date().toISOString(), nodes: NODES, latencyMs: LATENCY_MS, rate: RATE, timeLimitS: TIME_LIMIT_S, simulator: simRows, harness: harnessRows, simulatedHarness: simHarnessRows };
writeFileSync(`${OUT_DIR}broadcast.json`, `${JSON.stringify(summary, null, 2)}\n`);
console.log('written to bench-results/broadcast.json');
if (harnessRows.some((r) => !r.valid) || simRows.some((r) => r.problems > 0) || simHarnessRows.some((r) => !r.valid)) process.exitCode = 1;

function round(x: number): number {
  return Math.round(x * 100) / 100;
}
