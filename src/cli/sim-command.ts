/**
 * `chatterbox sim`: the agreement job in the deterministic simulator. One seed replays one scenario in full
 * (schedule, lines, verdict, metrics); `--runs N` sweeps seeds and lists the failing ones with their replay.
 * With `--workload`, a shipped Maelstrom workload instead, judged by the harness's checkers
 * (src/harness/simulated.ts).
 */
import { Command } from 'commander';
import * as z from 'zod';
import { nodeId } from '../core/ids.js';
import { describePartition, ringRadius, validateNodeFaults, type Fault } from '../sim/faults.js';
import type { AgreementProtocolName } from '../agreement/protocols.js';
import { seed32 } from '../core/prng.js';
import { drawAgreementScenario, runAgreementScenario, TUNING_NAMES, type AgreementVerdict, type ScenarioDraw } from '../sim/scenarios/agreement.js';
import { SIM_WORKLOADS, sweepMaelstrom, type MaelstromDraw, type MaelstromVerdict, type SimWorkload } from '../harness/simulated.js';
import { formatCheck, formatCounts } from '../harness/format.js';
import { CONSISTENCY_MODELS, type ConsistencyModel } from '../harness/txn.js';
import { hasReads } from '../harness/types.js';
import { PROTOCOLS } from './agreement-flags.js';
import { configureCommand, type OptionValues } from './command.js';
import { EXIT_UNKNOWN, UsageError, fileErrorText } from '../platform/user-errors.js';
import { readInputFile } from '../platform/peers-file.js';
import { agreementPicture, workloadPicture, writeSimReport } from './sim-report.js';
import { oneOf, parseGossipPreset, parseSeconds, parseSeed, pathOption, stringOption, wholeNumber } from './flags.js';

export interface SimArgs {
  readonly protocols: readonly AgreementProtocolName[];
  readonly seed: number;
  readonly runs: number;
  readonly draw: ScenarioDraw;
  /** `--workload`: run this Maelstrom workload instead of the agreement job. */
  readonly maelstrom?: { readonly workload: SimWorkload; readonly draw: MaelstromDraw };
  /** `--report FILE`: one seed's picture (src/cli/sim-report.ts). */
  readonly report?: string;
}

/** The agreement job's own flags, which mean nothing to a Maelstrom workload. */
const AGREEMENT_ONLY_FLAGS: ReadonlyArray<readonly [key: string, flag: string]> = [
  ['protocol', '--protocol'],
  ['crashes', '--crashes'],
  ['sendFor', '--send-for'],
  ['waitFor', '--wait-for'],
  ['tuning', '--tuning'],
  ['startSkew', '--start-skew'],
];

const MAX_RUNS = 1_000_000;

const nodeName = z.string().regex(/^n[1-9][0-9]*$/, 'node names are n1, n2, …');
const ms = z.number().int().nonnegative();
const faultSchema = z.array(
  z.discriminatedUnion('kind', [
    // Groups, or a majorities ring (every node once, in ring order); which one is checked below, with a clearer word.
    z.object({ kind: z.literal('partition'), atMs: ms, healAtMs: ms, groups: z.array(z.array(nodeName).min(1)).min(1).optional(), ring: z.array(nodeName).optional() }).strict(),
    z.object({ kind: z.literal('crash'), atMs: ms, node: nodeName, restartAtMs: ms.optional(), loseDurableState: z.boolean().optional() }).strict(),
    z.object({ kind: z.literal('pause'), atMs: ms, resumeAtMs: ms, node: nodeName }).strict(),
  ]),
);

/** Keys the simulator knows but the agreement job cannot take: each with why, for a message better than "unknown key". */
const CRASH_STOP_KEYS: Readonly<Record<string, string>> = {
  restartAtMs: 'crashes in an agreement schedule are for good: the job is crash-stop (peers refuse a restarted node, which would send its stream again)',
  loseDurableState: 'agreement nodes keep nothing on disk, and their crashes are for good',
};

/** A zod issue as "entry 2, atMs: expected a number", numbering entries as the file holds them (from 0). */
function issueText(issue: { readonly path: readonly PropertyKey[]; readonly message: string }): string {
  const [entry, ...rest] = issue.path;
  const where = entry === undefined ? 'the schedule' : `entry ${String(entry)}${rest.length === 0 ? '' : `, ${rest.map(String).join('.')}`}`;
  // zod says a missing key is "expected number, received undefined".
  return `${where}: ${/received undefined$/.test(issue.message) ? 'missing' : issue.message}`;
}

/**
 * A JSON fault schedule: `[{"kind":"partition","atMs":100,"healAtMs":900,"groups":[["n1"],["n2","n3"]]},
 * {"kind":"crash","atMs":500,"node":"n2"}, {"kind":"pause","atMs":200,"resumeAtMs":1700,"node":"n3"}]`; a
 * partition may be a majorities ring instead (`"ring":["n1","n3","n5","n2","n4"]`). Crashes restart
 * (`restartAtMs`, `loseDurableState`) only where the run is crash-recovery (`restarts`: the Maelstrom workloads);
 * the agreement job is crash-stop. Every problem is a UsageError naming the file and the entry.
 */
export function readFaultsFile(path: string, nodeCount: number | undefined, restarts = false): Fault[] {
  let text: string;
  try {
    text = readInputFile(path).toString('utf8');
  } catch (error) {
    throw new UsageError(`--faults ${path}: ${fileErrorText(error)}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new UsageError(`--faults ${path}: not JSON (${error instanceof Error ? error.message : String(error)})`);
  }
  if (Array.isArray(json) && !restarts) {
    json.forEach((entry: unknown, i) => {
      if (typeof entry !== 'object' || entry === null || (entry as { kind?: unknown }).kind !== 'crash') return;
      const key = Object.keys(CRASH_STOP_KEYS).find((k) => k in entry);
      if (key !== undefined) throw new UsageError(`--faults ${path}: entry ${i}, ${key}: ${CRASH_STOP_KEYS[key]}`);
    });
  }
  const parsed = faultSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new UsageError(`--faults ${path}: ${issue === undefined ? 'invalid' : issueText(issue)}`);
  }
  const faults: Fault[] = [];
  for (const [i, f] of parsed.data.entries()) {
    if (f.kind === 'partition' && (f.groups === undefined) === (f.ring === undefined)) {
      throw new UsageError(`--faults ${path}: entry ${i} gives ${f.groups === undefined ? 'neither' : 'both'} groups ${f.groups === undefined ? 'nor' : 'and'} a ring; a partition is one of them`);
    }
    const named = f.kind === 'partition' ? (f.groups?.flat() ?? f.ring ?? []) : [f.node];
    const unknown = named.find((n) => nodeCount !== undefined && Number(n.slice(1)) > nodeCount);
    if (unknown !== undefined) throw new UsageError(`--faults ${path}: entry ${i} names ${unknown}, but the cluster has ${nodeCount} nodes`);
    if (f.kind === 'partition') {
      if (f.healAtMs < f.atMs) throw new UsageError(`--faults ${path}: entry ${i} heals before it starts`);
      // The simulator's PartitionTable refuses this too, but as a bug would be: say it here as the user's mistake.
      const twice = named.find((n, k) => named.indexOf(n) !== k);
      if (twice !== undefined) {
        throw new UsageError(`--faults ${path}: entry ${i} lists ${twice} twice; ${f.ring === undefined ? 'a node is in one group of a partition' : 'a ring lists every node once'}`);
      }
      if (f.ring !== undefined && nodeCount !== undefined && f.ring.length !== nodeCount) {
        throw new UsageError(`--faults ${path}: entry ${i}: a ring lists every node once (${nodeCount}), got ${f.ring.length}`);
      }
      if (f.ring !== undefined && ringRadius(f.ring.length) === undefined) {
        throw new UsageError(`--faults ${path}: entry ${i}: a majorities ring needs at least 4 nodes (with fewer, every node sees every other)`);
      }
    }
    switch (f.kind) {
      case 'partition':
        faults.push(
          f.groups !== undefined
            ? { kind: 'partition', atMs: f.atMs, healAtMs: f.healAtMs, groups: f.groups.map((g) => g.map(nodeId)) }
            : { kind: 'partition', atMs: f.atMs, healAtMs: f.healAtMs, ring: (f.ring ?? []).map(nodeId) },
        );
        break;
      case 'crash':
        faults.push({
          kind: 'crash',
          atMs: f.atMs,
          node: nodeId(f.node),
          ...(f.restartAtMs === undefined ? {} : { restartAtMs: f.restartAtMs }),
          ...(f.loseDurableState === undefined ? {} : { loseDurableState: f.loseDurableState }),
        });
        break;
      case 'pause':
        faults.push({ kind: 'pause', atMs: f.atMs, resumeAtMs: f.resumeAtMs, node: nodeId(f.node) });
        break;
    }
  }
  // The simulator's own rules for crashes and pauses (a pause resumes after it starts, one node's pauses apart).
  try {
    validateNodeFaults(faults, () => true, (k) => `entry ${k}`);
  } catch (error) {
    throw new UsageError(`--faults ${path}: ${error instanceof Error ? error.message : String(error)}`);
  }
  return faults;
}

/** One line of the scenario printout per fault. */
export function describeFault(f: Fault): string {
  switch (f.kind) {
    case 'partition':
      return `partition ${f.atMs}–${f.healAtMs} ms: ${describePartition(f)}`;
    case 'crash':
      return `crash ${f.node} at ${f.atMs} ms${f.loseDurableState === true ? ' losing its store' : ''}${f.restartAtMs === undefined ? ', for good' : `, restart at ${f.restartAtMs} ms`}`;
    case 'pause':
      return `pause ${f.node} at ${f.atMs} ms, resume at ${f.resumeAtMs} ms`;
  }
}
const MAX_SIM_NODES = 32;

/** Seeds are 32-bit in the simulator; larger or negative ones are folded, so any integer replays something. */
function simSeed(seed: bigint): number {
  return seed >= 0n && seed <= 0xffffffffn ? Number(seed) : seed32(seed);
}

export function simArgsFromOptions(opts: OptionValues): SimArgs {
  const args = simArgsWithoutReport(opts);
  const report = pathOption(opts, 'report', '--report');
  if (report === undefined) return args;
  if (args.runs !== 1) throw new UsageError('--report: pictures one seed; drop --runs');
  if (args.maelstrom === undefined && args.protocols.length !== 1) {
    // Without --protocol the agreement job runs both; a picture is of one run, the default protocol's.
    if (stringOption(opts, 'protocol', '--protocol') !== undefined) throw new UsageError('--report: pictures one run; give --protocol stream or lockstep');
    return { ...args, protocols: ['stream'], report };
  }
  return { ...args, report };
}

function simArgsWithoutReport(opts: OptionValues): SimArgs {
  const str = (name: string): string | undefined => stringOption(opts, name, `--${name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`);
  const workload = str('workload');
  if (workload !== undefined) return maelstromArgs(opts, workload, str);
  if (str('preset') !== undefined) throw new UsageError('--preset: applies only with --workload');
  if (str('consistencyModels') !== undefined) throw new UsageError('--consistency-models: applies only with --workload txn-rw-register');
  const protocol = oneOf<AgreementProtocolName | 'both'>('--protocol', str('protocol') ?? 'both', ['both', ...PROTOCOLS]);
  const protocols: AgreementProtocolName[] = protocol === 'both' ? ['stream', 'lockstep'] : [protocol];
  const rawSeed = str('seed');
  const nodes = str('nodes');
  const crashes = str('crashes');
  const sendFor = str('sendFor');
  const waitFor = str('waitFor');
  const tuning = str('tuning');
  const startSkew = str('startSkew');
  const draw: ScenarioDraw = {
    ...(tuning === undefined ? {} : { tuning: oneOf('--tuning', tuning, TUNING_NAMES) }),
    ...(startSkew === undefined ? {} : { maxStartSkewMs: parseSeconds('--start-skew', startSkew, true) }),
    ...(nodes === undefined ? {} : { nodeCount: wholeNumber('--nodes', nodes, 1, MAX_SIM_NODES) }),
    ...(crashes === undefined ? {} : { crashCount: wholeNumber('--crashes', crashes, 0, MAX_SIM_NODES) }),
    ...(sendFor === undefined ? {} : { sendForMs: parseSeconds('--send-for', sendFor, true) }),
    ...(waitFor === undefined ? {} : { waitForMs: parseSeconds('--wait-for', waitFor, false) }),
  };
  if (draw.nodeCount !== undefined && draw.crashCount !== undefined && draw.crashCount > draw.nodeCount) {
    throw new UsageError(`--crashes: at most --nodes (${draw.nodeCount}), got ${draw.crashCount}`);
  }
  const faultsFile = pathOption(opts, 'faults', '--faults');
  if (faultsFile !== undefined && draw.nodeCount === undefined) throw new UsageError('--faults: give --nodes too, so the schedule names nodes that exist');
  if (faultsFile !== undefined && draw.crashCount !== undefined) throw new UsageError('--faults: crashes come from the schedule; drop --crashes');
  // Without --nodes the cluster size is drawn from the seed, and may be smaller than the crashes asked for.
  if (draw.crashCount !== undefined && draw.crashCount > 0 && draw.nodeCount === undefined) throw new UsageError('--crashes: give --nodes too, so that there are that many nodes to crash');
  return {
    protocols,
    seed: rawSeed === undefined ? 1 : simSeed(parseSeed('--seed', rawSeed)),
    runs: wholeNumber('--runs', str('runs') ?? '1', 1, MAX_RUNS),
    draw: faultsFile === undefined ? draw : { ...draw, faults: readFaultsFile(faultsFile, draw.nodeCount) },
  };
}

function maelstromArgs(opts: OptionValues, raw: string, str: (name: string) => string | undefined): SimArgs {
  // Only workloads with a shipped node: a scenario of any other needs its node passed in (the library's `hosted`).
  const workload = oneOf<SimWorkload>('--workload', raw, SIM_WORKLOADS);
  for (const [key, flag] of AGREEMENT_ONLY_FLAGS) {
    if (str(key) !== undefined) throw new UsageError(`${flag}: applies to the agreement job, not with --workload`);
  }
  const nodes = str('nodes');
  const preset = str('preset');
  const faultsFile = pathOption(opts, 'faults', '--faults');
  if (faultsFile !== undefined && nodes === undefined) throw new UsageError('--faults: give --nodes too, so the schedule names nodes that exist');
  const nodeCount = nodes === undefined ? undefined : wholeNumber('--nodes', nodes, 1, MAX_SIM_NODES);
  const models = str('consistencyModels');
  if (models !== undefined && workload !== 'txn-rw-register') throw new UsageError('--consistency-models: applies only with --workload txn-rw-register');
  const draw: MaelstromDraw = {
    ...(models === undefined ? {} : { consistencyModels: models.split(/\s*,\s*/).map((m) => oneOf<ConsistencyModel>('--consistency-models', m, CONSISTENCY_MODELS)) }),
    ...(nodeCount === undefined ? {} : { nodeCount }),
    ...(preset === undefined ? {} : { preset: parseGossipPreset('--preset', preset) }),
    // Workloads are crash-recovery: a crash in the file may restart the node (with its durable state or without).
    ...(faultsFile === undefined ? {} : { faults: readFaultsFile(faultsFile, nodeCount, true) }),
  };
  const rawSeed = str('seed');
  return {
    protocols: [],
    seed: rawSeed === undefined ? 1 : simSeed(parseSeed('--seed', rawSeed)),
    runs: wholeNumber('--runs', str('runs') ?? '1', 1, MAX_RUNS),
    draw: {},
    maelstrom: { workload, draw },
  };
}

function describeVerdict(v: AgreementVerdict, out: (line: string) => void): void {
  const s = v.scenario;
  const tuning = s.protocol === 'stream' ? `, ${s.tuning} tuning` : '';
  out(`seed ${s.seed}, protocol ${s.protocol}${tuning}: ${s.nodes.length} nodes, send-for ${s.sendForMs} ms, wait-for ${s.waitForMs} ms, tick ${s.tickMs} ms`);
  const starts = s.nodes.map((n) => `${n} ${s.startAtMs.get(n) ?? 0}${(s.initDelayMs.get(n) ?? 0) > 0 ? `+${s.initDelayMs.get(n)}` : ''}`);
  if (s.nodes.some((n) => (s.startAtMs.get(n) ?? 0) > 0 || (s.initDelayMs.get(n) ?? 0) > 0)) out(`  starts (ms, +start-up): ${starts.join(', ')}`);
  const link = s.network.defaultLink;
  out(`  network: latency ${JSON.stringify(link.latency)}, loss ${link.lossRate}, duplication ${link.duplicateRate}, ${s.network.linkOverrides?.length ?? 0} links different`);
  if (s.faults.length === 0) out('  faults: none');
  for (const f of s.faults) out(`  ${describeFault(f)}`);
  for (const node of s.nodes) {
    const first = v.report.outputs.get(node)?.[0];
    const note = first === undefined ? 'printed nothing' : `at ${first.atMs.toFixed(0)} ms${first.value.complete ? '' : `, unconfirmed: ${first.value.unconfirmed.join(' ')}`}`;
    out(`  ${node}: ${v.lines.get(node) ?? '—'} (${note})`);
  }
  const st = v.report.stats;
  out(`  messages: ${st.sent} sent, ${st.delivered} delivered, ${st.lost} lost, ${st.duplicated} duplicated, ${st.droppedByPartition} cut by partitions; ${st.steps} events, ended at ${v.report.endedAtMs.toFixed(0)} ms`);
  out(`  verdict: ${v.problems.length === 0 ? 'every live node printed the same line' : `FAILED: ${v.problems.join('; ')}`}`);
}

function describeMaelstromVerdict(v: MaelstromVerdict, out: (line: string) => void): void {
  const s = v.scenario;
  // The gossip preset tunes the delta anti-entropy workloads only; Raft's (lin-kv, kafka) ignore it.
  const tuned = s.workload === 'lin-kv' || s.workload === 'kafka' ? '' : ` (preset ${s.preset})`;
  out(`seed ${s.seed}, workload ${s.workload}${tuned}: ${s.nodes.length} nodes, ${s.timeLimitMs / 1000} s at ${s.rate} ops/s from ${s.concurrency} clients`);
  const link = s.network.defaultLink;
  out(`  network: latency ${JSON.stringify(link.latency)}, loss ${link.lossRate}, duplication ${link.duplicateRate}, ${s.network.linkOverrides?.length ?? 0} links different`);
  if (s.faults.length === 0) out('  faults: none');
  for (const f of s.faults) out(`  ${describeFault(f)}`);
  out(`  ops: ${formatCounts(v.ops)}`);
  for (const [f, c] of Object.entries(v.ops.byF)) out(`    ${f}: ${formatCounts(c)}`);
  const st = v.stats;
  if (st !== null) {
    out(
      `  net: ${v.serverMessages} server-to-server messages, msgs-per-op ${v.msgsPerOp ?? '-'}; ${st.lost} lost, ${st.duplicated} duplicated, ${st.droppedByPartition} cut by partitions` +
        (v.lateReplies > 0 ? `, ${v.lateReplies} late replies` : ''),
    );
  }
  out(`  final heal at ${v.finalHealMs.toFixed(0)} ms${hasReads(s.workload) ? `, final reads ${s.recoveryMs} ms later` : ' (no final reads in this workload)'}`);
  if (v.check !== null) for (const line of formatCheck(v.check, s.faults.length > 0)) out(`  ${line}`);
  out(`  verdict: ${v.valid ? 'valid' : v.unknown ? `UNKNOWN (the checkers could not decide): ${v.undecided.join('; ')}` : `INVALID: ${v.problems.join('; ')}`}`);
}

function runMaelstromCommand(args: SimArgs, workload: SimWorkload, draw: MaelstromDraw, out: (line: string) => void): number {
  const { failures, undecided } = sweepMaelstrom(workload, args.seed, args.runs, draw, {
    onVerdict: (verdict) => {
      if (args.runs === 1) describeMaelstromVerdict(verdict, out);
      else if (verdict.unknown) out(`seed ${verdict.scenario.seed} (${workload}) UNKNOWN: ${verdict.undecided.join('; ')}`);
      else if (!verdict.valid) out(`seed ${verdict.scenario.seed} (${workload}) INVALID: ${verdict.problems.join('; ')}`);
    },
  });
  const failed = failures.map((f) => f.seed);
  if (args.runs > 1) {
    const valid = args.runs - failed.length - undecided.length;
    const unknown = undecided.length === 0 ? '' : `, ${undecided.length} undecided (Jepsen's unknown: neither invalid nor proof)`;
    out(`${workload}: ${args.runs} runs from seed ${args.seed}: ${valid} valid, ${failed.length} invalid${unknown}`);
  }
  const flags = maelstromFlags(draw);
  for (const seed of failed.slice(0, 20)) out(`replay: chatterbox sim --workload ${workload} --seed ${seed}${flags}`);
  // As the harness: 1 for any invalid run; 4 (unknown) when no run could be decided, so nothing was shown.
  return failed.length > 0 ? 1 : undecided.length === args.runs ? EXIT_UNKNOWN : 0;
}

export function runSimCommand(args: SimArgs, out: (line: string) => void = (l) => process.stdout.write(`${l}\n`)): number {
  if (args.report !== undefined) return runSimReport(args, args.report, out);
  if (args.maelstrom !== undefined) return runMaelstromCommand(args, args.maelstrom.workload, args.maelstrom.draw, out);
  const failures: string[] = [];
  for (const protocol of args.protocols) {
    let agreed = 0;
    let failed = 0;
    for (let i = 0; i < args.runs; i++) {
      const seed = (args.seed + i) >>> 0;
      const verdict = runAgreementScenario(drawAgreementScenario(seed, protocol, args.draw));
      if (args.runs === 1) describeVerdict(verdict, out);
      if (verdict.agreed) agreed++;
      if (verdict.problems.length > 0) {
        failed++;
        failures.push(`chatterbox sim --protocol ${protocol} --seed ${seed}${drawFlags(args.draw)}`);
        if (args.runs > 1) out(`seed ${seed} (${protocol}) FAILED: ${verdict.problems.join('; ')}`);
      }
    }
    if (args.runs > 1) out(`${protocol}: ${args.runs} scenarios from seed ${args.seed}: ${agreed} agreed, ${failed} failed`);
  }
  for (const replay of failures.slice(0, 20)) out(`replay: ${replay}`);
  return failures.length === 0 ? 0 : 1;
}

/** One seed run with its trace and written as a page; the run is described as without --report. */
function runSimReport(args: SimArgs, file: string, out: (line: string) => void): number {
  const printed: string[] = [];
  const both = (line: string): void => {
    printed.push(line);
    out(line);
  };
  if (args.maelstrom !== undefined) {
    const { workload, draw } = args.maelstrom;
    const replay = `chatterbox sim --workload ${workload} --seed ${args.seed}${maelstromFlags(draw)}`;
    return writeSimReport(workloadPicture(args.seed, workload, draw, replay, (v) => describeMaelstromVerdict(v, both)), file, printed, out);
  }
  const protocol = args.protocols[0]!;
  const replay = `chatterbox sim --protocol ${protocol} --seed ${args.seed}${drawFlags(args.draw)}`;
  return writeSimReport(agreementPicture(args.seed, protocol, args.draw, replay, (v) => describeVerdict(v, both)), file, printed, out);
}

function maelstromFlags(draw: MaelstromDraw): string {
  return (draw.nodeCount === undefined ? '' : ` --nodes ${draw.nodeCount}`) + (draw.preset === undefined ? '' : ` --preset ${draw.preset}`) + (draw.faults === undefined ? '' : ' --faults <same file>');
}

function drawFlags(draw: ScenarioDraw): string {
  return (
    (draw.nodeCount === undefined ? '' : ` --nodes ${draw.nodeCount}`) +
    (draw.crashCount === undefined ? '' : ` --crashes ${draw.crashCount}`) +
    (draw.sendForMs === undefined ? '' : ` --send-for ${draw.sendForMs / 1000}`) +
    (draw.waitForMs === undefined ? '' : ` --wait-for ${draw.waitForMs / 1000}`) +
    (draw.tuning === undefined ? '' : ` --tuning ${draw.tuning}`) +
    (draw.maxStartSkewMs === undefined ? '' : ` --start-skew ${draw.maxStartSkewMs / 1000}`) +
    (draw.faults === undefined ? '' : ' --faults <same file>')
  );
}

export function simCommand(): Command {
  return configureCommand(new Command('sim'))
    .description(
      'Run the agreement job in the deterministic simulator: a scenario (cluster size, network, partitions, crashes) drawn from each seed, checked for agreement. One run prints everything that happened; --runs sweeps seeds. With --workload, a Maelstrom workload as chatterbox maelstrom runs it, with the harness\'s clients and checkers.',
    )
    .option(
      '--workload <name>',
      `simulate a Maelstrom workload instead: ${SIM_WORKLOADS.join(', ')}; the nodes run what chatterbox maelstrom ships, clients issue what the harness's do, faults end by the time limit, and after 10 virtual seconds of recovery the history goes to the harness's checkers; lin-kv and kafka draw 3 to 5 nodes; exit 1 if a run is invalid, 4 if no run could be decided (takes --seed, --runs, --nodes, --preset, --consistency-models, --faults)`,
    )
    .option('--preset <name>', 'with --workload: the gossip preset, latency or messages (default: drawn from the seed; lin-kv and kafka, on Raft, ignore it)')
    .option('--consistency-models <models>', `with --workload txn-rw-register: models the history must satisfy, comma-separated: ${CONSISTENCY_MODELS.join(', ')} (default read-committed, what the shipped node gives)`)
    .option('--protocol <name>', 'stream, lockstep or both (default both)')
    .option('--seed <integer>', 'first seed; the same seed replays the same run (default 1)')
    .option('--report <file>', 'write a self-contained HTML picture of the one seed run (every node\'s events on a time axis, its messages, and for a failing seed the assertion and where it failed); with the agreement job, one protocol (default stream)')
    .option('--runs <count>', 'how many consecutive seeds to run (default 1)')
    .option('--nodes <count>', `cluster size 1..${MAX_SIM_NODES} (default: drawn from the seed)`)
    .option('--crashes <count>', 'nodes that crash for good, 0..--nodes; more than 0 needs --nodes (default: drawn from the seed)')
    .option('--send-for <seconds>', 'virtual seconds of sending (default: drawn from the seed)')
    .option('--wait-for <seconds>', 'virtual grace period in seconds (default: drawn, 2 to 4, or 1 to 4 with --tuning process)')
    .option('--tuning <name>', `the stream protocol's tuning: ${TUNING_NAMES.join(' or ')} (default simulation: small runs, so sweeps are fast; process is what chatterbox node runs)`)
    .option('--start-skew <seconds>', 'nodes start up to this far apart (default: drawn, none or half the grace period)')
    .option(
      '--faults <path>',
      'JSON fault schedule instead of a drawn one (needs --nodes): partitions (as groups, or "ring": every node once, each hearing a majority around it), crashes (for good in the agreement job; with --workload a crash may restart: "restartAtMs", "loseDurableState"), and pauses (the node is stopped, as by SIGSTOP, and resumed; nothing sent to it is lost), e.g. [{"kind":"partition","atMs":100,"healAtMs":900,"groups":[["n1"],["n2","n3"]]},{"kind":"crash","atMs":500,"node":"n3"},{"kind":"pause","atMs":200,"resumeAtMs":1700,"node":"n2"}]',
    )
    .addHelpText('after', ['', 'Exit status: 0 when every scenario passed, 1 when one failed (its replay command is printed), 2 for a usage error,',
          '4 with --workload when no run could be decided (each was unknown to the checkers).'].join('\n'))
    .action((opts: OptionValues) => {
      process.exitCode = runSimCommand(simArgsFromOptions(opts));
    });
}
