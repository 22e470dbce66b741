/**
 * `chatterbox maelstrom`: a Maelstrom node binary (JSON messages, one per line, on stdin and stdout; logs on
 * stderr). The logic lives in src/maelstrom/node.ts; this file parses flags and wires the process.
 */
import { accessSync, constants, statSync } from 'node:fs';
import { Command } from 'commander';
import { GOSSIP_PRESETS, TOPOLOGY_MODES, type TopologyMode } from '../broadcast/gossip-presets.js';
import { HOSTED_WORKLOAD_NAMES } from '../maelstrom/service.js';
import type { StoreOpener } from '../maelstrom/node.js';
import { createLogger } from '../platform/log.js';
import { RunError, UsageError } from '../platform/user-errors.js';
import { makeDirectory } from '../runtime/make-directory.js';
import { configureCommand, type OptionValues } from './command.js';
import { oneOf, parseGossipPreset, pathOption, stringOption } from './flags.js';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type MaelstromLogLevel = (typeof LOG_LEVELS)[number];

export const MAELSTROM_DEFAULTS = { preset: 'latency', logLevel: 'info', topology: 'own' } as const;

export interface MaelstromArgs {
  readonly preset: string;
  readonly logLevel: MaelstromLogLevel;
  /** Where each node keeps its store, `<dataDir>/<node id>.sqlite`; none: in memory, lost with the process. */
  readonly dataDir: string | undefined;
  readonly topology: TopologyMode;
}

/** Node ids that make a safe file name in the data dir (Maelstrom's are n1, n2, …). */
const FILE_SAFE_NODE_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/;

export function maelstromArgsFromOptions(opts: OptionValues): MaelstromArgs {
  const preset = stringOption(opts, 'preset', '--preset');
  const level = stringOption(opts, 'logLevel', '--log-level');
  const dataDir = pathOption(opts, 'dataDir', '--data-dir', 'directory');
  const topology = stringOption(opts, 'topology', '--topology');
  return {
    dataDir,
    topology: topology === undefined ? MAELSTROM_DEFAULTS.topology : oneOf('--topology', topology, TOPOLOGY_MODES),
    preset: preset === undefined ? MAELSTROM_DEFAULTS.preset : parseGossipPreset('--preset', preset),
    logLevel: level === undefined ? MAELSTROM_DEFAULTS.logLevel : oneOf('--log-level', level, LOG_LEVELS),
  };
}

export function defineMaelstromCommand(): Command {
  const hosted = HOSTED_WORKLOAD_NAMES.length === 0 ? 'none yet' : HOSTED_WORKLOAD_NAMES.join(', ');
  return configureCommand(new Command('maelstrom'))
    .description('Run as a Maelstrom node: JSON messages one per line on stdin and stdout, logs on stderr; exits when stdin closes.')
    .option(
      '--preset <name>',
      `gossip tuning of the workloads on delta anti-entropy (broadcast, g-set, pn-counter, txn-rw-register; lin-kv and kafka run on Raft): ${GOSSIP_PRESETS.join(' or ')} (default ${MAELSTROM_DEFAULTS.preset}); latency sends every update to every node at once, messages batches over a star (see the README's figures)`,
    )
    .option(
      '--topology <mode>',
      `broadcast's overlay: ${TOPOLOGY_MODES.join(' or ')} (default ${MAELSTROM_DEFAULTS.topology}); own is the preset's, follow relays over the neighbours Maelstrom's topology message names (see the README for what each costs)`,
    )
    .option('--log-level <level>', `stderr log level: ${LOG_LEVELS.join(', ')} (default ${MAELSTROM_DEFAULTS.logLevel})`)
    .option(
      '--data-dir <dir>',
      'keep what the workload persists in <dir>/<node id>.sqlite (one dir serves a whole cluster), so a node killed and started again with the same id keeps it; default: in memory, lost with the process',
    )
    .addHelpText(
      'after',
      [
        '',
        'Handles init, echo (workload echo) and generate (workload unique-ids, ids "<node>-<n>").',
        `Hosted replicated workloads: ${hosted} (pn-counter also serves g-counter).`,
        "The first client request exactly one of them claims fixes the node's workload; requests no workload claims get",
        'error 10 (not-supported), requests several could claim before one is fixed get 11 (temporarily-unavailable), as',
        'does anything before init; requests with values outside what the workload defines get 12 (malformed-request),',
        'with a text saying what is wrong; so do numbers a double would change and nesting past 64 levels.',
        'Nodes exchange their protocol messages as {"type":"chatterbox","workload":…,"m":<base64 msgpack>}.',
        '',
        'Try it: chatterbox harness -w echo (the bundled Maelstrom-like test harness runs this command by default).',
        '',
        'Exit status: 0 when stdin closes; 1 when the data dir cannot be created or written, or the node\'s store in it is in use',
        "or damaged (at init, after answering it with error 13); 2 for a usage error (a bad flag, stdin a directory, a",
        "store of another cluster in the data dir).",
      ].join('\n'),
    );
}

export function maelstromCommand(): Command {
  return defineMaelstromCommand().action(async (opts: OptionValues) => {
    const args = maelstromArgsFromOptions(opts);
    const log = createLogger({ level: args.logLevel });
    const { runMaelstromStdio } = await import('../maelstrom/stdio.js');
    const openStore = args.dataDir === undefined ? undefined : await sqliteStores(args.dataDir);
    try {
      process.exitCode = await runMaelstromStdio({ preset: args.preset, topology: args.topology, log, ...(openStore === undefined ? {} : { openStore }) });
    } catch (error) {
      const { StoreError } = await import('../kernel/durable-store.js');
      // Another cluster's store is a mistake in how the node was started (exit 2); the rest say all there is (1).
      if (error instanceof StoreError && error.code === 'identity-mismatch') throw new UsageError(`--data-dir: ${error.message}`);
      if (error instanceof StoreError) throw new RunError(`--data-dir: ${error.message}`);
      throw error;
    }
  });
}

/**
 * Each node's store in `dir`, `<node id>.sqlite`, owned by that node of that cluster (the node ids `init` names).
 * The dir is made and checked now, so that a dir that cannot be used fails at start rather than at init; SQLite is
 * loaded only with the flag, so a node without it starts as fast as ever.
 */
async function sqliteStores(dir: string): Promise<StoreOpener> {
  try {
    makeDirectory(dir);
    accessSync(dir, constants.W_OK);
    if (!statSync(dir).isDirectory()) throw new Error('not a directory');
  } catch (error) {
    throw new RunError(`--data-dir ${dir}: cannot be created or written (${error instanceof Error ? error.message : String(error)})`);
  }
  const { SqliteStore, StoreError } = await import('../runtime/durable-store.js');
  return (self, nodes) => {
    if (!FILE_SAFE_NODE_ID.test(self)) throw new StoreError('unusable', `node id ${JSON.stringify(self)} does not make a file name for its store`);
    return SqliteStore.open(dir, { nodeId: self, clusterId: `maelstrom:${nodes.join(',')}` }, `${self}.sqlite`);
  };
}
