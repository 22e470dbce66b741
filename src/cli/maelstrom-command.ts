/**
 * `chatterbox maelstrom`: a Maelstrom node binary (JSON messages, one per line, on stdin and stdout; logs on
 * stderr). The logic lives in src/maelstrom/node.ts; this file parses flags and wires the process.
 */
import { Command } from 'commander';
import { GOSSIP_PRESETS, TOPOLOGY_MODES, type TopologyMode } from '../broadcast/gossip-presets.js';
import { HOSTED_WORKLOAD_NAMES } from '../maelstrom/service.js';
import { createLogger } from '../platform/log.js';
import { configureCommand, type OptionValues } from './command.js';
import { oneOf, parseGossipPreset, stringOption } from './flags.js';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type MaelstromLogLevel = (typeof LOG_LEVELS)[number];

export const MAELSTROM_DEFAULTS = { preset: 'latency', logLevel: 'info', topology: 'own' } as const;

export interface MaelstromArgs {
  readonly preset: string;
  readonly logLevel: MaelstromLogLevel;
  readonly topology: TopologyMode;
}

export function maelstromArgsFromOptions(opts: OptionValues): MaelstromArgs {
  const preset = stringOption(opts, 'preset', '--preset');
  const level = stringOption(opts, 'logLevel', '--log-level');
  const topology = stringOption(opts, 'topology', '--topology');
  return {
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
      `replication tuning: ${GOSSIP_PRESETS.join(' or ')} (default ${MAELSTROM_DEFAULTS.preset}); latency sends every update to every node at once, messages batches over a star (see the README's figures)`,
    )
    .option(
      '--topology <mode>',
      `broadcast's overlay: ${TOPOLOGY_MODES.join(' or ')} (default ${MAELSTROM_DEFAULTS.topology}); own is the preset's, follow relays over the neighbours Maelstrom's topology message names (see the README for what each costs)`,
    )
    .option('--log-level <level>', `stderr log level: ${LOG_LEVELS.join(', ')} (default ${MAELSTROM_DEFAULTS.logLevel})`)
    .addHelpText(
      'after',
      [
        '',
        'Handles init, echo (workload echo) and generate (workload unique-ids, ids "<node>-<n>").',
        `Hosted replicated workloads: ${hosted} (pn-counter also serves g-counter). The first client request one of them claims fixes the node's`,
        'workload; requests no workload claims get error 10 (not-supported), requests several could claim before one',
        'is fixed get 11 (temporarily-unavailable), as does anything before init; malformed requests get 12.',
        'Nodes exchange their protocol messages as {"type":"chatterbox","workload":…,"m":<base64 msgpack>}.',
        '',
        'Try it: chatterbox harness -w echo (the bundled Maelstrom-like test harness runs this command by default).',
        '',
        'Exit status: 0 when stdin closes, 2 for a usage error (a bad flag, stdin a directory).',
      ].join('\n'),
    );
}

export function maelstromCommand(): Command {
  return defineMaelstromCommand().action(async (opts: OptionValues) => {
    const args = maelstromArgsFromOptions(opts);
    const log = createLogger({ level: args.logLevel });
    const { runMaelstromStdio } = await import('../maelstrom/stdio.js');
    process.exitCode = await runMaelstromStdio({ preset: args.preset, topology: args.topology, log });
  });
}
