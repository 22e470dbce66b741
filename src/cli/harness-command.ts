/**
 * `chatterbox harness`: a Maelstrom-like test harness (Maelstrom itself needs a JVM). Runs any Maelstrom node
 * binary, by default this chatterbox's own `maelstrom` command, and checks it as `maelstrom test` would. Flags
 * mirror `maelstrom test`; the logic lives in src/harness/.
 */
import { accessSync, constants, mkdtempSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Command } from 'commander';
import { formatReport } from '../harness/format.js';
import { MessageRecorder } from '../harness/message-record.js';
import { reportDirectory, writeHarnessReport } from './harness-report.js';
import { DATA_DIR_PLACEHOLDER, HARNESS_DEFAULTS, runHarness, type HarnessInput } from '../harness/runner.js';
import { CONSISTENCY_MODELS, DEFAULT_CONSISTENCY_MODELS, type ConsistencyModel } from '../harness/txn.js';
import { HARNESS_WORKLOADS, LATENCY_DISTS, TOPOLOGIES, type HarnessWorkload, type LatencyDist, type Report, type TopologyName } from '../harness/types.js';
import { makeDirectory } from '../runtime/make-directory.js';
import { MAX_NEMESIS_PARTITIONS, MAX_PROCESS_FAULTS } from '../sim/faults.js';
import { configureCommand, untilInterrupted, type OptionValues } from './command.js';
import { EXIT_UNKNOWN, UsageError, quote } from '../platform/user-errors.js';

export { EXIT_UNKNOWN };
import { oneOf, parseSeconds, pathOption, stringOption, wholeNumber } from './flags.js';

const MAX_NODES = 256;
const MAX_CONCURRENCY = 4096;
const MAX_MS = 600_000;
const MAX_RATE = 100_000;
/** `--nemesis` faults: Maelstrom's partition, and Jepsen's kill and pause, which Maelstrom 0.2.4 lacks. */
const NEMESES: readonly string[] = ['partition', 'kill', 'pause'];

export interface HarnessArgs {
  readonly input: HarnessInput;
  readonly json: boolean;
  /** `--report DIR`: write the run's picture there (src/cli/harness-report.ts). */
  readonly report?: string;
}

function decimal(flag: string, raw: string, max: number, what: string): number {
  if (!/^(?:\d+(?:\.\d*)?|\.\d+)$/.test(raw) || Number(raw) > max) throw new UsageError(`${flag}: expected ${what} 0..${max} (fractions allowed), got ${quote(raw)}`);
  return Number(raw);
}

function executable(flag: string, path: string): string {
  try {
    if (!statSync(path).isFile()) throw new Error('not a file');
    accessSync(path, constants.X_OK);
  } catch {
    throw new UsageError(`${flag}: ${quote(path)} is not an executable file`);
  }
  // Absolute, so that `--bin my-node` runs the file checked here rather than one of that name on PATH.
  return resolve(path);
}

/** Creates the directory if needed; one that cannot be made is the flag's fault, named in one line. */
function usableDirectory(flag: string, dir: string): string {
  try {
    makeDirectory(dir);
    if (!statSync(dir).isDirectory()) throw new UsageError(`${flag} ${dir}: not a directory`);
    accessSync(dir, constants.W_OK);
  } catch (error) {
    if (error instanceof UsageError) throw error;
    // The system's own words name the step that failed (`mkdir '/proc/x'`), which a short reason would hide.
    throw new UsageError(`${flag} ${dir}: cannot be created or written (${error instanceof Error ? error.message : String(error)})`);
  }
  return dir;
}

/**
 * The data dir is usable and holds no node's state yet: a previous run's state would leak into this one (nodes
 * restoring values no client of this run wrote).
 */
function freshNodeDirs(dir: string, nodeCount: number): void {
  usableDirectory('--node-data-dir', dir);
  for (let i = 1; i <= nodeCount; i++) {
    const nodeDir = join(dir, `n${i}`);
    let entries: string[];
    try {
      entries = readdirSync(nodeDir);
    } catch {
      continue; // absent: made at the node's start
    }
    if (entries.length > 0) throw new UsageError(`--node-data-dir ${dir}: ${nodeDir} is not empty (state of an earlier run?); give each run a new directory`);
  }
}

/** Validates commander's option values (and the trailing arguments for the node binary). */
/** A fraction in [0, 1], as `--availability` takes besides `total`. */
function fraction(flag: string, raw: string): number {
  const value = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(value) || value < 0 || value > 1) throw new UsageError(`${flag}: expected total or a fraction from 0 to 1, got ${quote(raw)}`);
  return value;
}

export function harnessArgsFromOptions(opts: OptionValues, binArgs: readonly string[]): HarnessArgs {
  const workload = stringOption(opts, 'workload', '-w/--workload');
  if (workload === undefined) throw new UsageError(`-w/--workload is required: one of ${HARNESS_WORKLOADS.join(', ')}`);
  const bin = stringOption(opts, 'bin', '--bin');
  const nodeCount = stringOption(opts, 'nodeCount', '--node-count');
  const timeLimit = stringOption(opts, 'timeLimit', '--time-limit');
  const rate = stringOption(opts, 'rate', '--rate');
  const concurrency = stringOption(opts, 'concurrency', '--concurrency');
  const latency = stringOption(opts, 'latency', '--latency');
  const latencyDist = stringOption(opts, 'latencyDist', '--latency-dist');
  const topology = stringOption(opts, 'topology', '--topology');
  const nemesis = stringOption(opts, 'nemesis', '--nemesis');
  const nemesisInterval = stringOption(opts, 'nemesisInterval', '--nemesis-interval');
  const recovery = stringOption(opts, 'recovery', '--recovery');
  const timeout = stringOption(opts, 'timeout', '--timeout');
  const initTimeout = stringOption(opts, 'initTimeout', '--init-timeout');
  const probeMs = stringOption(opts, 'probeMs', '--probe-ms');
  const seed = stringOption(opts, 'seed', '--seed');
  const logDir = pathOption(opts, 'logDir', '--log-dir', 'directory');
  const models = stringOption(opts, 'consistencyModels', '--consistency-models');
  const availability = stringOption(opts, 'availability', '--availability');
  const nodeDataDir = pathOption(opts, 'nodeDataDir', '--node-data-dir', 'directory');

  const faults = nemesis === undefined ? [] : nemesis.split(/\s*,\s*/).filter((f) => f.length > 0);
  for (const f of faults) if (!NEMESES.includes(f)) throw new UsageError(`--nemesis: expected ${NEMESES.join(', ')} (comma-separated), got ${quote(f)}`);
  const input: HarnessInput = {
    workload: oneOf<HarnessWorkload>('-w/--workload', workload, HARNESS_WORKLOADS),
    ...(bin === undefined ? {} : { bin: executable('--bin', bin) }),
    binArgs,
    ...(nodeCount === undefined ? {} : { nodeCount: wholeNumber('--node-count', nodeCount, 1, MAX_NODES) }),
    ...(timeLimit === undefined ? {} : { timeLimitMs: parseSeconds('--time-limit', timeLimit, false) }),
    ...(rate === undefined ? {} : { rate: decimal('--rate', rate, MAX_RATE, 'operations per second') }),
    ...(concurrency === undefined ? {} : { concurrency: wholeNumber('--concurrency', concurrency, 1, MAX_CONCURRENCY) }),
    ...(latency === undefined ? {} : { latencyMs: wholeNumber('--latency', latency, 0, MAX_MS, ' of milliseconds') }),
    ...(latencyDist === undefined ? {} : { latencyDist: oneOf<LatencyDist>('--latency-dist', latencyDist, LATENCY_DISTS) }),
    ...(topology === undefined ? {} : { topology: oneOf<TopologyName>('--topology', topology, TOPOLOGIES) }),
    partition: faults.includes('partition'),
    ...(faults.includes('kill') ? { kill: true } : {}),
    ...(faults.includes('pause') ? { pause: true } : {}),
    ...(nemesisInterval === undefined ? {} : { nemesisIntervalMs: parseSeconds('--nemesis-interval', nemesisInterval, false) }),
    ...(recovery === undefined ? {} : { recoveryMs: parseSeconds('--recovery', recovery, true) }),
    ...(timeout === undefined ? {} : { timeoutMs: wholeNumber('--timeout', timeout, 1, MAX_MS, ' of milliseconds') }),
    ...(initTimeout === undefined ? {} : { initTimeoutMs: parseSeconds('--init-timeout', initTimeout, false) }),
    ...(probeMs === undefined ? {} : { probeMs: wholeNumber('--probe-ms', probeMs, 0, MAX_MS, ' of milliseconds') }),
    ...(seed === undefined ? {} : { seed: wholeNumber('--seed', seed, 0, 0xffffffff) }),
    ...(logDir === undefined ? {} : { logDir }),
    ...(availability === undefined ? {} : { availability: availability === 'total' ? ('total' as const) : fraction('--availability', availability) }),
    ...(models === undefined ? {} : { consistencyModels: models.split(/\s*,\s*/).map((m) => oneOf<ConsistencyModel>('--consistency-models', m, CONSISTENCY_MODELS)) }),
    ...(nodeDataDir === undefined ? {} : { nodeDataDir: resolve(nodeDataDir) }),
  };
  // Our lin-kv and kafka are Raft: a node killed without its disk forgets its vote and log, and one such node can
  // lose a committed write (it votes for a leader that lacks it). That is a broken set-up, not a finding.
  if (faults.includes('kill') && bin === undefined && nodeDataDir === undefined && (input.workload === 'lin-kv' || input.workload === 'kafka')) {
    throw new UsageError(`--nemesis kill with ${input.workload}: add --node-data-dir DIR; a Raft node killed without its disk forgets its vote and log, and can lose committed writes`);
  }
  if (nodeDataDir !== undefined && bin !== undefined && !binArgs.some((a) => a.includes(DATA_DIR_PLACEHOLDER))) {
    throw new UsageError(`--node-data-dir: put ${DATA_DIR_PLACEHOLDER} in the node's arguments (after --) where it takes its directory`);
  }
  // Each partition with its heal takes two staggers of the interval on average; refuse a schedule the nemesis
  // would have to cut short (with room to spare, so the random staggers never reach the bound).
  const interval = input.nemesisIntervalMs ?? HARNESS_DEFAULTS.nemesisIntervalMs;
  const limit = input.timeLimitMs ?? HARNESS_DEFAULTS.timeLimitMs;
  if (faults.length > 0 && limit / interval > Math.min(MAX_NEMESIS_PARTITIONS, MAX_PROCESS_FAULTS)) {
    const what = [...new Set(faults)].map((f) => (f === 'partition' ? 'partitions' : `${f}s`)).join(' and ');
    throw new UsageError(`--nemesis-interval ${interval / 1000} s with --time-limit ${limit / 1000} s makes too many ${what} (at most ${Math.min(MAX_NEMESIS_PARTITIONS, MAX_PROCESS_FAULTS) / 2} on average): lengthen the interval or shorten the run`);
  }
  const report = pathOption(opts, 'report', '--report');
  return report === undefined ? { input, json: opts['json'] === true } : { input, json: opts['json'] === true, report };
}

export function defineHarnessCommand(): Command {
  const d = HARNESS_DEFAULTS;
  return configureCommand(new Command('harness'))
    .description(
      'Test a Maelstrom node binary the way `maelstrom test` does: start N node processes, route their messages through a simulated network, play client operations, check the history.',
    )
    .usage('-w <workload> [options] [-- <arguments for the node binary>]')
    .argument('[bin-args...]', 'arguments for the node binary (put them after --)')
    .option('-w, --workload <name>', `required: ${HARNESS_WORKLOADS.join(', ')}`)
    .option('--bin <path>', "node executable; arguments after -- go to it (default: this chatterbox's `maelstrom` command, arguments appended)")
    .option('--node-count <n>', `nodes n1..nN, 1..${MAX_NODES} (default ${d.nodeCount})`)
    .option('--time-limit <seconds>', `how long clients issue operations (default ${d.timeLimitMs / 1000})`)
    .option('--rate <ops/s>', `operations per second over all clients, Jepsen-staggered (default ${d.rate})`)
    .option('--concurrency <n>', 'client slots, each with one request in flight, bound to nodes round-robin (default: the node count; lin-kv twice that)')
    .option('--latency <ms>', `mean delay of each server-to-server message; client messages are not delayed, as in Maelstrom (default ${d.latencyMs})`)
    .option('--latency-dist <dist>', `${LATENCY_DISTS.join(', ')}: constant = the mean, uniform over [0, 2·mean], exponential with that mean (default ${d.latencyDist})`)
    .option('--topology <name>', `what broadcast nodes are told in topology: ${TOPOLOGIES.join(', ')} (default ${d.topology})`)
    .option(
      '--nemesis <faults>',
      'faults to inject, comma-separated: partition (server-to-server messages are dropped between sides), kill (SIGKILL a node, later start it afresh with a new init), pause (SIGSTOP a node, later SIGCONT); kills and pauses strike one node at a time',
    )
    .option(
      '--node-data-dir <dir>',
      `give each node its own directory <dir>/<node id> (new or empty) for its state: the default node gets --data-dir; a --bin node gets it wherever its arguments say ${DATA_DIR_PLACEHOLDER}. Answers then survive a kill; without it, an answer from a node killed later is indefinite`,
    )
    .option('--nemesis-interval <seconds>', `mean seconds between nemesis actions (default ${d.nemesisIntervalMs / 1000})`)
    .option('--recovery <seconds>', `wait after the final heal before the final reads (default ${d.recoveryMs / 1000}, as Maelstrom)`)
    .option('--timeout <ms>', `a request unanswered this long is indefinite (default ${d.timeoutMs}; lin-kv max(10 × latency, ${d.timeoutMs}), as Maelstrom)`)
    .option('--init-timeout <seconds>', `how long each node gets from its start to answer init; longer for a slow-starting node or a busy machine (default ${d.initTimeoutMs / 1000}, as Maelstrom)`)
    .option('--probe-ms <ms>', `probe reads on every node this often to time visibility; not counted as operations; 0 = none (default ${d.probeMs})`)
    .option('--seed <integer>', 'seed 0..4294967295 for latencies, operations and the nemesis (default: random, printed in the report)')
    .option('--availability <a>', "Maelstrom's availability check: total (every operation must be ok) or the least fraction ok, 0..1 (default: none)")
    .option('--consistency-models <models>', `txn-rw-register: models the history must satisfy, comma-separated: ${CONSISTENCY_MODELS.join(', ')} (default ${DEFAULT_CONSISTENCY_MODELS.join(',')}, as Maelstrom)`)
    .option('--log-dir <dir>', 'where node stderr logs, history.jsonl and report.json go (default: a new temporary directory)')
    .option('--json', 'print the report as one JSON object')
    .option('--report <dir>', "write the run's picture to <dir>/index.html, one self-contained page (latency, throughput, every operation on a timeline with the nemesis shaded, a Lamport diagram of the messages, the verdict with its anomalies linked to their operations), with report.json beside it")
    .addHelpText(
      'after',
      [
        '',
        'Checks, after Maelstrom: echo answers match; unique-ids never repeat; broadcast and g-set: every acknowledged',
        "or observed value is in every node's final read, and reads hold only added values, each once; g-counter and",
        'pn-counter: every final read is the acknowledged sum plus the deltas of any subset of the indefinite adds;',
        'lin-kv: the history is linearizable, key by key (Wing-Gong-Lowe search, bounded: a key that hits the bound is',
        "unknown, never passed or failed); kafka: jepsen.tests.kafka's checks (inconsistent or duplicate offsets, lost or",
        'unseen writes, skipped or nonmonotonic polls and sends, aborted and future reads), messages never sent and',
        'committed offsets that go back or were never committed, after final polls of every key;',
        'txn-rw-register: Elle-style dependency cycles and anomalies (G0, G1a, G1b, G1c, and for serializable models',
        'G-single, G2-item, internal, lost-update, realtime cycles) forbidden by the models (a history without',
        'dependencies is unknown).',
        'Every workload: an operation kind tried and never ok leaves the run unknown (Jepsen\'s stats); with',
        '--availability, the fraction of operations ok is checked too (total: all of them), as Maelstrom does. Node',
        'logs, history.jsonl and report.json are kept in the log directory.',
        '',
        'Reported: operations ok/failed/indefinite; msgs-per-op (server-to-server messages / operations; probes and',
        'setup are not operations); for broadcast and g-set the time from a write to its visibility on every node',
        "(lower and upper bounds, resolution about --probe-ms) and Maelstrom's stable-latencies; for workloads with",
        'reads, how long after the final heal (writes stopped, network whole) every node reached its final value; every',
        "partition, kill and pause; the CPU the harness and the nodes spent.",
        '',
        'Examples:',
        '  chatterbox harness -w echo --node-count 1 --time-limit 5',
        '  chatterbox harness -w broadcast --node-count 25 --time-limit 20 --rate 100 --latency 100',
        '  chatterbox harness -w unique-ids --bin ./my-node -- --verbose',
        '  chatterbox harness -w txn-rw-register --node-count 2 --concurrency 4 --rate 1000 --consistency-models read-committed --nemesis partition',
        '  chatterbox harness -w g-set --nemesis partition,kill,pause --nemesis-interval 1 --node-data-dir /tmp/run1',
        '  chatterbox harness -w lin-kv --node-count 3 --nemesis kill --nemesis-interval 2 --node-data-dir /tmp/run2',
        '',
        'Under kill, a request in flight to the killed node is indefinite and one for a node that is down is not sent',
        '(a definite failure); without --node-data-dir, an answer from a node that is killed later is indefinite too.',
        '',
        'Exit status: 0 valid, 1 invalid (a checker failed or a node misbehaved), 2 usage error, 4 unknown (no problem',
        'found, but a checker could not decide: an operation kind never succeeded, the lin-kv search bound, a txn history',
        'without dependencies; the report says which), 130 interrupted.',
      ].join('\n'),
    );
}

/** 0 valid, 1 invalid, EXIT_UNKNOWN when nothing was found wrong but a checker could not decide. */
export function exitStatus(report: Pick<Report, 'valid' | 'unknown'>): number {
  return report.valid ? 0 : report.unknown ? EXIT_UNKNOWN : 1;
}

export function harnessCommand(): Command {
  return defineHarnessCommand().action(async (binArgs: string[], opts: OptionValues) => {
    const args = harnessArgsFromOptions(opts, binArgs);
    const logDir = args.input.logDir === undefined ? mkdtempSync(join(tmpdir(), 'chatterbox-harness-')) : usableDirectory('--log-dir', args.input.logDir);
    if (args.input.nodeDataDir !== undefined) freshNodeDirs(args.input.nodeDataDir, args.input.nodeCount ?? HARNESS_DEFAULTS.nodeCount);
    const reportDir = args.report === undefined ? undefined : reportDirectory(args.report);
    const recorder = reportDir === undefined ? undefined : new MessageRecorder();
    process.stderr.write(`chatterbox harness: node logs in ${logDir}\n`);
    process.exitCode = await untilInterrupted(async (interrupt) => {
      try {
        const report = await runHarness({ ...args.input, logDir, signal: interrupt, ...(recorder === undefined ? {} : { onMessage: recorder.record }) });
        process.stdout.write(args.json ? `${JSON.stringify(report)}\n` : formatReport(report));
        if (reportDir !== undefined && recorder !== undefined) process.stderr.write(`chatterbox harness: report in ${writeHarnessReport(reportDir, report, recorder)}\n`);
        return exitStatus(report);
      } catch (error) {
        if (!interrupt.aborted) throw error;
        process.stderr.write('chatterbox harness: interrupted; nodes stopped\n');
        return 130;
      }
    });
  });
}
