/**
 * `chatterbox chat`: one node of a chat room over causal broadcast. Lines typed on stdin go to every node;
 * every node prints every line as `<origin>: <text>` in causal order.
 *
 * Same layers and place flags as `chatterbox node` (place-flags.ts): argv → ChatArgs (pure, UsageError),
 * ChatArgs → ChatNodeConfig (reads the peers and key files), then the process.
 */
import { Command } from 'commander';
import type { GossipPreset } from '../broadcast/gossip.js';
import type { ChatNodeConfig } from '../runtime/chat-node.js';
import { createLogger } from '../platform/log.js';
import { checkStdin } from '../platform/stdin.js';
import { configureCommand, parseQuietly, untilInterrupted, type Env, type OptionValues } from './command.js';
import { flagOption, parseGossipPreset, parseSeconds, stringOption } from './flags.js';
import { PLACE_DEFAULTS, addPlaceOptions, nodeFailed, placeArgsFromOptions, resolveClusterPlace, type PlaceArgs } from './place-flags.js';
import { addJoinOptions, joinArgsFromOptions, resolveJoinPlace, type JoinArgs } from './join-flags.js';
import { readInputFile, type ReadFile } from '../platform/peers-file.js';

export const CHAT_DEFAULTS = {
  ...PLACE_DEFAULTS,
  gossip: 'latency',
  lingerSeconds: 3,
} as const satisfies Record<string, unknown> & { gossip: GossipPreset };

export interface ChatArgs extends PlaceArgs, JoinArgs {
  readonly gossip: GossipPreset;
  readonly lingerMs: number;
  readonly verbose: boolean;
}

export function defineChatCommand(): Command {
  const cmd = configureCommand(new Command('chat')).description(
    'Chat over causal broadcast: every line typed here goes to every node, and every node prints every line as "<origin>: <text>" in causal order.',
  );
  return addJoinOptions(addPlaceOptions(cmd), 'chat')
    .option('--gossip <preset>', `gossip preset: latency (everyone sends to everyone at once) or messages (a tree, batched) (default ${CHAT_DEFAULTS.gossip})`)
    .option(
      '--linger <seconds>',
      `when stdin ends, wait at most this long for the other nodes to acknowledge this node's lines, then exit; fractions allowed (default ${CHAT_DEFAULTS.lingerSeconds})`,
    )
    .option('-v, --verbose', 'debug logs on stderr')
    .addHelpText(
      'after',
      [
        '',
        'Every node of the peers file runs `chatterbox chat` with its own -p (and -h); or, without one, nodes join',
        'through seeds with --join (a joiner prints the history first; at the end of stdin such a node leaves',
        'gracefully instead of lingering). Lines are read from stdin,',
        // The figure is chat-node.ts's MAX_CHAT_LINE_CHARS, kept literal so help need not load the TCP stack (a test ties them).
        'one message per line; empty lines are skipped, and a line over 16384 characters is not sent (a warning',
        'is logged). Chat lines go to stdout, logs (JSON) to stderr.',
        '',
        'Exit status: 0 when stdin has ended and the other nodes have acknowledged this node\'s lines (or --linger',
        'has passed), or on Ctrl-C; 2 for a usage error (bad flag, peers or key file, stdin a directory); 1 when',
        'the node failed (a port in use, say). Errors are one line on stderr.',
      ].join('\n'),
    );
}

/** Validates commander's option values for `chat`. Pure: reads no files. */
export function chatArgsFromOptions(opts: OptionValues, env: Env = {}): ChatArgs {
  const gossip = stringOption(opts, 'gossip', '--gossip');
  const linger = stringOption(opts, 'linger', '--linger');
  return {
    ...placeArgsFromOptions(opts, env),
    gossip: gossip === undefined ? CHAT_DEFAULTS.gossip : parseGossipPreset('--gossip', gossip),
    lingerMs: linger === undefined ? CHAT_DEFAULTS.lingerSeconds * 1000 : parseSeconds('--linger', linger, true),
    verbose: flagOption(opts, 'verbose'),
    ...joinArgsFromOptions(opts),
  };
}

/** Parses `chatterbox chat` arguments (those after `chat`) without touching the process. Throws UsageError. */
export function parseChatArgv(argv: readonly string[], env: Env = {}): ChatArgs {
  return chatArgsFromOptions(parseQuietly(defineChatCommand(), argv).opts(), env);
}

/** Reads the peers and key files and assembles the runtime's config. Throws UsageError. */
export function buildChatConfig(args: ChatArgs, readFile: ReadFile = readInputFile): ChatNodeConfig {
  return {
    ...(resolveJoinPlace(args, 'chat', readFile) ?? resolveClusterPlace(args, readFile)),
    preset: args.gossip,
    lingerMs: args.lingerMs,
  };
}

/** The side-effecting part. Resolves with the process exit code. */
export async function runChatCommand(args: ChatArgs): Promise<number> {
  const config = buildChatConfig(args);
  checkStdin();
  const log = createLogger({ verbose: args.verbose, name: config.self.id });
  return untilInterrupted(async (interrupt) => {
    try {
      // Loaded only now: help and usage errors need not load the TCP stack.
      const { runChatNode } = await import('../runtime/chat-node.js');
      return await runChatNode(config, { stdin: process.stdin, stdout: process.stdout, log, interrupt });
    } catch (error) {
      return nodeFailed(error, log, 'chat node failed');
    }
  });
}

/** `chatterbox chat`, ready to add to the program. Sets process.exitCode; main exits after flushing. */
export function chatCommand(): Command {
  return defineChatCommand().action(async (_options: unknown, cmd: Command) => {
    process.exitCode = await runChatCommand(chatArgsFromOptions(cmd.opts(), process.env));
  });
}
