/**
 * `npm run bench:maelstrom`: every Gossip Glomers setting (fly.io's challenges 1–6) and Maelstrom's own consensus
 * chapter (lin-kv), each at the challenge's own flags, in two backends side by side:
 *
 * 1. Real processes: `chatterbox maelstrom` (the built binary) under the bundled harness (src/harness/runner.ts),
 *    on the wall clock, as `chatterbox harness` runs it. Its figures move with the machine's load.
 * 2. The simulated harness (src/harness/simulated.ts): the same shipped workload code, the same clients and
 *    checkers, in seeded virtual time, so its figures do not depend on load. Echo and unique-ids have no simulated
 *    backend; the partition nemesis is the same Jepsen schedule (src/sim/faults.ts `nemesisSchedule`).
 *
 * Per row: the verdict (valid / invalid / unknown), operations, server and all msgs-per-op (Maelstrom's
 * `:servers` and `:all`), latency (broadcast: Maelstrom's stable latency, from a broadcast's acknowledgement to
 * its visibility on every node; the rest: operation latency of ok operations), and for processes the harness's
 * own CPU against the nodes'.
 *
 * The default total is about 10 minutes (the challenges' own time limits plus Maelstrom's 10 s recovery
 * wait before final reads). Environment:
 * - BENCH_TIME_LIMIT=s   caps every row's time limit (default: each challenge's own);
 * - BENCH_ONLY=3d,5a     runs only those rows (ids as in the table);
 * - BENCH_SIM_ONLY=1     skips the process runs; BENCH_PROCESS_ONLY=1 skips the simulated ones;
 * - BENCH_SEED=n         the seed of every row (default 1).
 * Prints tables and writes bench-results/maelstrom.json. Exits 1 when a row is not valid: that is a finding,
 * reproduced by the row's `command` (and seed).
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { GossipPreset } from '../src/broadcast/gossip-presets.js';
import { Prng } from '../src/core/prng.js';
import { nodeId } from '../src/core/ids.js';
import { runHarness } from '../src/harness/runner.js';
import { drawMaelstromScenario, runMaelstromScenario, SIM_WORKLOADS, type SimWorkload } from '../src/harness/simulated.js';
import { nemesisSchedule } from '../src/sim/faults.js';
import { MAELSTROM_DEFAULTS } from '../src/cli/maelstrom-command.js';
import type { ConsistencyModel, HarnessWorkload, Op, Quantiles, Report } from '../src/harness/types.js';

const OUT_DIR = fileURLToPath(new URL('../../bench-results/', import.meta.url));
const TIME_CAP_S = process.env.BENCH_TIME_LIMIT === undefined ? Infinity : Number(process.env.BENCH_TIME_LIMIT);
const ONLY = process.env.BENCH_ONLY === undefined ? null : new Set(process.env.BENCH_ONLY.split(','));
const SIM_ONLY = process.env.BENCH_SIM_ONLY === '1';
const PROCESS_ONLY = process.env.BENCH_PROCESS_ONLY === '1';
const SEED = Number(process.env.BENCH_SEED ?? 1);
/** Maelstrom's defaults where a challenge gives no flag. */
const MAELSTROM_RATE = 5;
const MAELSTROM_NEMESIS_INTERVAL_S = 10;
/** Probe reads every 50 ms: 25 nodes answering reads of up to a thousand values is load enough for two cores. */
const PROBE_MS_LARGE = 50;
const LARGE_CLUSTER = 10;

/** One challenge setting: Maelstrom's flags as the challenge page (or Maelstrom's docs) gives them. */
interface Setting {
  /** The challenge: 1, 2, 3a … 6c, or lin-kv-3 / lin-kv-5 for Maelstrom's Raft chapter. */
  readonly id: string;
  readonly workload: HarnessWorkload;
  readonly nodeCount: number;
  readonly timeLimitS: number;
  readonly rate: number;
  /** Client slots per node (Maelstrom's `--concurrency Nn`); Maelstrom's default is 1n. */
  readonly perNode: number;
  readonly latencyMs: number;
  readonly partition: boolean;
  readonly nemesisIntervalS: number;
  readonly preset?: GossipPreset;
  readonly consistencyModels?: readonly ConsistencyModel[];
  readonly availability?: 'total';
}

function setting(s: Partial<Setting> & Pick<Setting, 'id' | 'workload' | 'nodeCount' | 'timeLimitS'>): Setting {
  return { rate: MAELSTROM_RATE, perNode: 1, latencyMs: 0, partition: false, nemesisIntervalS: MAELSTROM_NEMESIS_INTERVAL_S, ...s };
}

// fly.io/dist-sys/1 … 6c; Maelstrom's doc/06-raft (lin-kv). 5b and 5c are one setting (5c asks the 5b run to be
// more efficient), so one row. The 25-node broadcast runs once per preset: latency for 3d, messages for 3e.
const SETTINGS: readonly Setting[] = [
  setting({ id: '1', workload: 'echo', nodeCount: 1, timeLimitS: 10 }),
  setting({ id: '2', workload: 'unique-ids', nodeCount: 3, timeLimitS: 30, rate: 1000, availability: 'total', partition: true }),
  setting({ id: '3a', workload: 'broadcast', nodeCount: 1, timeLimitS: 20, rate: 10 }),
  setting({ id: '3b', workload: 'broadcast', nodeCount: 5, timeLimitS: 20, rate: 10 }),
  setting({ id: '3c', workload: 'broadcast', nodeCount: 5, timeLimitS: 20, rate: 10, partition: true }),
  setting({ id: '3d', workload: 'broadcast', nodeCount: 25, timeLimitS: 20, rate: 100, latencyMs: 100, preset: 'latency' }),
  setting({ id: '3e', workload: 'broadcast', nodeCount: 25, timeLimitS: 20, rate: 100, latencyMs: 100, preset: 'messages' }),
  setting({ id: '4', workload: 'g-counter', nodeCount: 3, timeLimitS: 20, rate: 100, partition: true }),
  setting({ id: '5a', workload: 'kafka', nodeCount: 1, timeLimitS: 20, rate: 1000, perNode: 2 }),
  setting({ id: '5b/5c', workload: 'kafka', nodeCount: 2, timeLimitS: 20, rate: 1000, perNode: 2 }),
  setting({ id: '6a', workload: 'txn-rw-register', nodeCount: 1, timeLimitS: 20, rate: 1000, perNode: 2, consistencyModels: ['read-uncommitted'], availability: 'total' }),
  setting({ id: '6b', workload: 'txn-rw-register', nodeCount: 2, timeLimitS: 20, rate: 1000, perNode: 2, consistencyModels: ['read-uncommitted'], availability: 'total', partition: true }),
  setting({ id: '6c', workload: 'txn-rw-register', nodeCount: 2, timeLimitS: 20, rate: 1000, perNode: 2, consistencyModels: ['read-committed'], availability: 'total', partition: true }),
  setting({ id: 'lin-kv-3', workload: 'lin-kv', nodeCount: 3, timeLimitS: 60, rate: 30, perNode: 4, partition: true }),
  setting({ id: 'lin-kv-5', workload: 'lin-kv', nodeCount: 5, timeLimitS: 30, rate: 100, perNode: 2, partition: true }),
];

function timeLimitS(s: Setting): number {
  return Math.min(s.timeLimitS, TIME_CAP_S);
}

function probeMs(s: Setting): number {
  return s.nodeCount >= LARGE_CLUSTER ? PROBE_MS_LARGE : 25;
}

/** The `chatterbox harness` command that reproduces a process row. */
function command(s: Setting): string {
  const flags = [
    `-w ${s.workload}`,
    `--node-count ${s.nodeCount}`,
    `--time-limit ${timeLimitS(s)}`,
    `--rate ${s.rate}`,
    `--concurrency ${s.perNode * s.nodeCount}`,
    ...(s.latencyMs > 0 ? [`--latency ${s.latencyMs}`] : []),
    ...(s.partition ? ['--nemesis partition', `--nemesis-interval ${s.nemesisIntervalS}`] : []),
    ...(s.consistencyModels === undefined ? [] : [`--consistency-models ${s.consistencyModels.join(',')}`]),
    ...(s.availability === undefined ? [] : [`--availability ${s.availability}`]),
    `--probe-ms ${probeMs(s)}`,
    `--seed ${SEED}`,
    ...(s.preset === undefined ? [] : [`-- --preset ${s.preset}`]),
  ];
  return `chatterbox harness ${flags.join(' ')}`;
}

interface Latency {
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
}

interface Figures {
  readonly verdict: 'valid' | 'invalid' | 'unknown';
  readonly ops: number;
  readonly okOps: number;
  readonly msgsPerOp: number | null;
  readonly allMsgsPerOp: number | null;
  /** Broadcast: Maelstrom's stable latency; the rest: ok operations' latency. */
  readonly latency: Latency | null;
  readonly latencyKind: 'stable' | 'operation';
  readonly problems: readonly string[];
  readonly undecided: readonly string[];
}

interface ProcessRow extends Figures {
  readonly cpu: { readonly harnessMs: number; readonly nodesMs: number | null } | null;
  readonly wallMs: number;
}

interface SimRow extends Figures {
  /** How long the simulation took on this machine (its figures are virtual time, this is not). */
  readonly wallMs: number;
}

interface Row {
  readonly setting: Setting;
  readonly timeLimitS: number;
  readonly seed: number;
  readonly command: string;
  readonly process: ProcessRow | null;
  readonly sim: SimRow | null;
}

/** Latency of ok client operations (not probes, not final reads), in ms. */
function opLatency(ops: readonly Op[]): Latency | null {
  const ms = ops
    .filter((op) => op.type === 'ok' && !op.probe && !op.final && op.completeMs !== null)
    .map((op) => (op.completeMs as number) - op.invokeMs)
    .sort((a, b) => a - b);
  if (ms.length === 0) return null;
  const at = (q: number): number => round(ms[Math.min(ms.length - 1, Math.floor(q * ms.length))]!);
  return { p50: at(0.5), p99: at(0.99), max: round(ms[ms.length - 1]!) };
}

function stableLatency(q: Quantiles | null | undefined): Latency | null {
  return q === null || q === undefined ? null : { p50: round(q['0.5']), p99: round(q['0.99']), max: round(q['1']) };
}

function latencyOf(s: Setting, check: Report['check'], ops: readonly Op[]): Latency | null {
  if (s.workload === 'broadcast') return stableLatency(check?.kind === 'set' ? check.stableLatencies : null);
  return opLatency(ops);
}

function verdictOf(valid: boolean, unknown: boolean): Figures['verdict'] {
  return valid ? 'valid' : unknown ? 'unknown' : 'invalid';
}

async function processRun(s: Setting): Promise<ProcessRow> {
  process.stderr.write(`process: ${s.id} (${s.workload}, ${s.nodeCount} nodes, ${timeLimitS(s)} s)…\n`);
  const started = performance.now();
  const report = await runHarness({
    workload: s.workload,
    nodeCount: s.nodeCount,
    timeLimitMs: timeLimitS(s) * 1000,
    rate: s.rate,
    concurrency: s.perNode * s.nodeCount,
    latencyMs: s.latencyMs,
    partition: s.partition,
    nemesisIntervalMs: s.nemesisIntervalS * 1000,
    probeMs: probeMs(s),
    seed: SEED,
    ...(s.consistencyModels === undefined ? {} : { consistencyModels: s.consistencyModels }),
    ...(s.availability === undefined ? {} : { availability: s.availability }),
    binArgs: s.preset === undefined ? [] : ['--preset', s.preset],
  });
  const wallMs = performance.now() - started;
  const ops = readHistory(report.logDir);
  // Keep the logs of a run that is not valid: they are the finding's evidence.
  if (report.valid) rmSync(report.logDir, { recursive: true, force: true });
  return {
    verdict: verdictOf(report.valid, report.unknown),
    ops: report.ops.total,
    okOps: report.ops.ok,
    msgsPerOp: roundOrNull(report.net.msgsPerOp),
    allMsgsPerOp: roundOrNull(report.net.allMsgsPerOp),
    latency: latencyOf(s, report.check, ops),
    latencyKind: s.workload === 'broadcast' ? 'stable' : 'operation',
    problems: report.valid ? [] : [...report.problems.slice(0, 5), `logs: ${report.logDir}`],
    undecided: report.undecided,
    cpu: report.cpu === undefined ? null : { harnessMs: Math.round(report.cpu.harnessMs), nodesMs: report.cpu.nodesMs === null ? null : Math.round(report.cpu.nodesMs) },
    wallMs: Math.round(wallMs),
  };
}

function readHistory(logDir: string): Op[] {
  try {
    return readFileSync(join(logDir, 'history.jsonl'), 'utf8')
      .split('\n')
      .filter((line) => line.length > 0)
      .map((line) => JSON.parse(line) as Op);
  } catch {
    return []; // a run that wrote no history has no latency to report
  }
}

function isSimWorkload(w: HarnessWorkload): w is SimWorkload {
  return (SIM_WORKLOADS as readonly string[]).includes(w);
}

/** Salts the nemesis draw away from the scenario's own streams. */
const NEMESIS_SALT = 0x6e656d65;

function simRun(s: Setting): SimRow | null {
  if (!isSimWorkload(s.workload)) return null;
  process.stderr.write(`simulated: ${s.id}…\n`);
  const limitMs = timeLimitS(s) * 1000;
  const nodes = Array.from({ length: s.nodeCount }, (_, i) => nodeId(`n${i + 1}`));
  // Jepsen's partition nemesis, the schedule the process harness draws, in virtual time.
  const faults = s.partition ? nemesisSchedule(new Prng(SEED ^ NEMESIS_SALT), nodes, s.nemesisIntervalS * 1000, limitMs).map((p) => p.fault) : [];
  const drawn = drawMaelstromScenario(SEED, s.workload, { nodeCount: s.nodeCount, faults, probeMs: s.workload === 'broadcast' ? probeMs(s) : 0, preset: s.preset ?? MAELSTROM_DEFAULTS.preset });
  const started = performance.now();
  const v = runMaelstromScenario({
    ...drawn,
    network: { defaultLink: { latency: { kind: 'fixed', ms: s.latencyMs }, lossRate: 0, duplicateRate: 0 } },
    timeLimitMs: limitMs,
    rate: s.rate,
    concurrency: s.perNode * s.nodeCount,
    ...(s.consistencyModels === undefined ? {} : { consistencyModels: s.consistencyModels }),
  });
  return {
    verdict: verdictOf(v.valid, v.unknown),
    ops: v.ops.total,
    okOps: v.ops.ok,
    msgsPerOp: roundOrNull(v.msgsPerOp),
    // The simulated backend counts server messages only; every operation is one request and one reply.
    allMsgsPerOp: v.msgsPerOp === null ? null : round(v.msgsPerOp + 2),
    latency: latencyOf(s, v.check, v.history),
    latencyKind: s.workload === 'broadcast' ? 'stable' : 'operation',
    problems: v.problems.slice(0, 5),
    undecided: v.undecided,
    wallMs: Math.round(performance.now() - started),
  };
}

const load = loadavg();
const rows: Row[] = [];
for (const s of SETTINGS) {
  if (ONLY !== null && !ONLY.has(s.id)) continue;
  const processRow = SIM_ONLY ? null : await processRun(s);
  const simRow = PROCESS_ONLY ? null : simRun(s);
  rows.push({ setting: s, timeLimitS: timeLimitS(s), seed: SEED, command: command(s), process: processRow, sim: simRow });
}

const fmt = (x: number | null | undefined): string => (x === null || x === undefined ? '—' : String(x));
const lat = (l: Latency | null | undefined): string => (l === null || l === undefined ? '—' : `${Math.round(l.p50)}/${Math.round(l.max)}`);
const cpu = (r: ProcessRow | null): string => (r?.cpu === null || r?.cpu === undefined ? '—' : `${(r.cpu.harnessMs / 1000).toFixed(1)}/${r.cpu.nodesMs === null ? '—' : (r.cpu.nodesMs / 1000).toFixed(1)}`);

console.log(`\nEvery Gossip Glomers setting, seed ${SEED}; load average at start ${load.map((l) => l.toFixed(2)).join(' ')} on ${cpus().length} cores`);
console.log('latency: broadcast stable latency, others ok-operation latency; median/max ms. cpu: harness/nodes s.');
console.log('row       workload          n  time  rate   | process: verdict  ops     srv/op  all/op  latency     cpu          | sim: verdict  ops     srv/op  latency');
for (const r of rows) {
  const p = r.process;
  const m = r.sim;
  console.log(
    [
      r.setting.id.padEnd(9),
      r.setting.workload.padEnd(16),
      String(r.setting.nodeCount).padStart(2),
      `${r.timeLimitS}s`.padStart(5),
      String(r.setting.rate).padStart(5),
      '  |',
      (p?.verdict ?? '—').padEnd(8),
      fmt(p?.ops).padStart(6),
      fmt(p?.msgsPerOp).padStart(7),
      fmt(p?.allMsgsPerOp).padStart(7),
      lat(p?.latency).padStart(10),
      cpu(p).padStart(11),
      '  |',
      (m?.verdict ?? '—').padEnd(8),
      fmt(m?.ops).padStart(6),
      fmt(m?.msgsPerOp).padStart(7),
      lat(m?.latency).padStart(10),
    ].join(' '),
  );
  for (const line of [...(p?.problems ?? []), ...(p?.undecided ?? [])]) console.log(`  ! process: ${line}`);
  for (const line of [...(m?.problems ?? []), ...(m?.undecided ?? [])]) console.log(`  ! sim: ${line}`);
  if (p !== null && p.verdict !== 'valid') console.log(`  reproduce: ${r.command}`);
}

mkdirSync(OUT_DIR, { recursive: true });
const summary = { date: new Date().toISOString(), seed: SEED, loadAverage: load, cores: cpus().length, timeCapS: Number.isFinite(TIME_CAP_S) ? TIME_CAP_S : null, rows };
writeFileSync(`${OUT_DIR}maelstrom.json`, `${JSON.stringify(summary, null, 2)}\n`);
console.log('written to bench-results/maelstrom.json');
if (rows.some((r) => (r.process !== null && r.process.verdict !== 'valid') || (r.sim !== null && r.sim.verdict !== 'valid'))) process.exitCode = 1;

function round(x: number): number {
  return Math.round(x * 100) / 100;
}

function roundOrNull(x: number | null): number | null {
  return x === null ? null : round(x);
}
