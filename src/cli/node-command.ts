/**
 * `chatterbox node`: runs one node of the agreement job.
 *
 * Three layers, so that everything but the last is testable without a process:
 * 1. `parseNodeArgv` / `nodeArgsFromOptions`: argv (or commander's option values) → NodeArgs, validating every
 *    flag; pure, throws UsageError.
 * 2. `buildNodeConfig`: NodeArgs → AgreementNodeConfig, reading the peers and key files through an injectable
 *    reader and drawing a random seed through an injectable source; throws UsageError.
 * 3. `runNodeCommand`: logger, parent watch, `runAgreementNode`; returns the exit code.
 *
 * Flag names follow the original Haskell chatterbox, which is why -h is the host and help is `--help` only.
 */
import { Command } from 'commander';
import { seed32 } from '../core/prng.js';
import { MAX_AGREEMENT_NODES } from '../agreement/types.js';
import type { AgreementNodeConfig } from '../runtime/agreement-node.js';
import { createLogger, type Logger } from '../platform/log.js';
import { PARENT_PIPE_ENV, addRunOptions, randomSeed, runArgsFromOptions, type RunArgs, type RunDefaults } from './agreement-flags.js';
import { configureCommand, parseQuietly, type Env, type OptionValues } from './command.js';
import { flagOption } from './flags.js';
import { PLACE_DEFAULTS, addPlaceOptions, nodeFailed, placeArgsFromOptions, resolveClusterPlace, type PlaceArgs } from './place-flags.js';
import { MAX_PEERS, type ReadFile } from '../platform/peers-file.js';
import { assert } from '../core/assert.js';
import { addMetricsOptions, metricsArgsFromOptions, nodeOrMetricsFailed, type MetricsArgs } from './ops-flags.js';

// The peers file's cap is the only one a user meets: the agreement job must take every cluster it lets through.
assert(MAX_PEERS <= MAX_AGREEMENT_NODES, 'the peers file admits clusters larger than the agreement job takes');

export const NODE_DEFAULTS = {
  ...PLACE_DEFAULTS,
  sendForSeconds: 3,
  waitForSeconds: 1,
  tickMs: 100,
  protocol: 'stream',
} as const satisfies RunDefaults & Record<string, unknown>;

/** The validated flags of `chatterbox node`; files are not read yet. */
export interface NodeArgs extends PlaceArgs, RunArgs, MetricsArgs {
  readonly json: boolean;
  readonly progress: boolean;
}

export function defineNodeCommand(): Command {
  const cmd = configureCommand(new Command('node')).description(
    'Run one node of the agreement job: send random messages for --send-for seconds, then print the agreed (count, sum) line.',
  );
  addPlaceOptions(cmd);
  addMetricsOptions(addRunOptions(cmd, NODE_DEFAULTS))
    .option('--json', 'print the result as one JSON object instead of the (count, sum) line')
    .option('--progress', 'log a JSON "progress" line on stderr every 250 ms (used by chatterbox cluster)')
    .addHelpText(
      'after',
      [
        '',
        'Exit status: 0 when the node printed its result; 2 for a usage error (a bad flag, or a peers or key file',
        'that is missing, unreadable, not valid or does not list this node); 1 when the run failed (a port in use,',
        'say). Errors are one line on stderr.',
      ].join('\n'),
    );
  return cmd;
}

/** Validates commander's option values for `node`. Pure: reads no files. */
export function nodeArgsFromOptions(opts: OptionValues, env: Env = {}): NodeArgs {
  const place = placeArgsFromOptions(opts, env);
  return {
    ...place,
    ...runArgsFromOptions(opts, NODE_DEFAULTS),
    ...metricsArgsFromOptions(opts, place.port),
    json: flagOption(opts, 'json'),
    progress: flagOption(opts, 'progress'),
  };
}

/**
 * Parses `chatterbox node` arguments (those after `node`) without touching the process: no output, no exit.
 * Throws UsageError for every bad or unknown flag; `--help` surfaces as commander's CommanderError
 * (see isHelpOrVersion).
 */
export function parseNodeArgv(argv: readonly string[], env: Env = {}): NodeArgs {
  return nodeArgsFromOptions(parseQuietly(defineNodeCommand(), argv).opts(), env);
}

export interface ResolvedNode {
  readonly config: AgreementNodeConfig;
  /** The seed as given or drawn, before folding, for the log line that lets a run be repeated. */
  readonly seed: { readonly value: bigint; readonly random: boolean };
}

export interface ConfigSources {
  readonly readFile?: ReadFile;
  readonly randomSeed?: () => bigint;
}

/** Reads the peers and key files and assembles the runtime's config. Throws UsageError. */
export function buildNodeConfig(args: NodeArgs, sources: ConfigSources = {}): ResolvedNode {
  const place = resolveClusterPlace(args, sources.readFile);
  const seed = args.seed ?? (sources.randomSeed ?? randomSeed)();
  const config: AgreementNodeConfig = {
    ...place,
    protocol: args.protocol,
    sendForMs: args.sendForMs,
    waitForMs: args.waitForMs,
    tickMs: args.tickMs,
    seed: seed32(seed),
    json: args.json,
    progress: args.progress,
    ...(args.metrics === undefined ? {} : { metrics: args.metrics }),
  };
  return { config, seed: { value: seed, random: args.seed === undefined } };
}

/** Exit when the parent's pipe on stdin closes (see PARENT_PIPE_ENV). */
function exitWithParent(log: Logger): void {
  const parentGone = (): void => {
    log.warn('the parent chatterbox cluster is gone; stopping');
    process.exit(1);
  };
  process.stdin.on('end', parentGone);
  process.stdin.on('error', parentGone);
  process.stdin.resume(); // flowing mode, so that EOF is noticed; the data (there is none) is dropped
}

/** The side-effecting part: everything above has been validated. Resolves with the process exit code. */
export async function runNodeCommand(args: NodeArgs, env: Env = process.env): Promise<number> {
  const { config, seed } = buildNodeConfig(args);
  const log = createLogger({ verbose: args.verbose, name: config.self.id });
  // Logged once the node listens: a node that cannot (a port in use) says only that, in one line.
  const listening = (): void => {
    if (seed.random) log.info({ seed: seed.value.toString() }, 'no --with-seed given: chose a random seed (pass it as --with-seed to repeat the run)');
    log.debug(
      {
        self: `${config.self.host}:${config.self.port}`,
        nodes: config.peers.length,
        clusterId: config.clusterId,
        keyed: config.clusterKey !== undefined, // whether there is a key, never the key
        protocol: config.protocol,
        sendForMs: config.sendForMs,
        waitForMs: config.waitForMs,
        tickMs: config.tickMs,
        seed32: config.seed,
      },
      'starting node',
    );
  };
  if (env[PARENT_PIPE_ENV] === '1') exitWithParent(log);
  try {
    // Loaded only now: help and usage errors need not load (or be broken by) the protocol and TCP stack.
    const { runAgreementNode } = await import('../runtime/agreement-node.js');
    return await runAgreementNode(config, { stdout: process.stdout, log, listening });
  } catch (error) {
    return nodeOrMetricsFailed(error, log, 'node failed', args.metrics);
  }
}

/** `chatterbox node`, ready to add to the program. Sets process.exitCode; main exits after flushing. */
export function nodeCommand(): Command {
  return defineNodeCommand().action(async (_options: unknown, cmd: Command) => {
    process.exitCode = await runNodeCommand(nodeArgsFromOptions(cmd.opts(), process.env));
  });
}
