/**
 * `chatterbox chat`: one node of a chat room over causal broadcast. Lines typed on stdin go to every node;
 * every node prints every line as `<origin>: <text>` in causal order.
 *
 * Same layers and flags as `chatterbox node` (node-command.ts), whose parsers it reuses: argv → ChatArgs (pure,
 * UsageError), ChatArgs → ChatNodeConfig (reads the peers and key files), then the process.
 */
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import type { GossipPreset } from '../broadcast/gossip.js';
import type { ChatNodeConfig } from '../runtime/chat-node.js';
import { createLogger } from '../runtime/log.js';
import { UsageError } from './errors.js';
import {
  CLUSTER_KEY_ENV,
  MIN_CLUSTER_KEY_BYTES,
  clusterKeyFileFrom,
  configureCommand,
  parseClusterId,
  parseHost,
  parsePort,
  parseSeconds,
  type Env,
  type NodeArgs,
  type OptionValues,
  parseGossipPreset,
  resolveClusterPlace,
  stringOption,
} from './node-command.js';
import type { ReadFile } from './peers-file.js';

export const CHAT_DEFAULTS = {
  host: '127.0.0.1',
  port: 3000,
  peersFile: 'peers.json',
  gossip: 'latency',
  lingerSeconds: 3,
} as const satisfies Record<string, unknown> & { gossip: GossipPreset };

export interface ChatArgs {
  readonly host: string;
  readonly port: number;
  readonly peersFile: string;
  readonly clusterKeyFile: NodeArgs['clusterKeyFile'];
  readonly clusterId: string | undefined;
  readonly gossip: GossipPreset;
  readonly lingerMs: number;
  readonly verbose: boolean;
}

export function defineChatCommand(): Command {
  return configureCommand(new Command('chat'))
    .description('Chat over causal broadcast: every line typed here goes to every node, and every node prints every line as "<origin>: <text>" in causal order.')
    .option('-h, --host <host>', `host to listen on; must match this node's entry in the peers file (default ${CHAT_DEFAULTS.host})`)
    .option('-p, --port <port>', `port to listen on, 1..65535 (default ${CHAT_DEFAULTS.port})`)
    .option('--peer-config-file <path>', `JSON file listing every node of the cluster, this one included (default ${CHAT_DEFAULTS.peersFile})`)
    .option(
      '--cluster-key-file <path>',
      `file holding the shared cluster key (≥ ${MIN_CLUSTER_KEY_BYTES} bytes after trimming surrounding whitespace); also read from env ${CLUSTER_KEY_ENV}, the flag wins (default: no key)`,
    )
    .option('--cluster-id <id>', 'cluster identity checked in handshakes (default: derived from the sorted node ids)')
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
        'Every node of the peers file runs `chatterbox chat` with its own -p (and -h). Lines are read from stdin,',
        'one message per line (empty lines are skipped); chat lines go to stdout, logs (JSON) to stderr.',
        '',
        'Exit status: 0 when stdin has ended and the other nodes have acknowledged this node\'s lines (or --linger',
        'has passed), or on Ctrl-C; 2 for a usage error (bad flag, peers or key file); 1 when the node failed',
        '(a port in use, say).',
      ].join('\n'),
    );
}

/** Validates commander's option values for `chat`. Pure: reads no files. */
export function chatArgsFromOptions(opts: OptionValues, env: Env = {}): ChatArgs {
  const host = stringOption(opts, 'host', '-h/--host');
  const port = stringOption(opts, 'port', '-p/--port');
  const peersFile = stringOption(opts, 'peerConfigFile', '--peer-config-file');
  const clusterId = stringOption(opts, 'clusterId', '--cluster-id');
  const gossip = stringOption(opts, 'gossip', '--gossip');
  const linger = stringOption(opts, 'linger', '--linger');
  if (peersFile === '') throw new UsageError('--peer-config-file: expected a file name, got ""');
  return {
    host: host === undefined ? CHAT_DEFAULTS.host : parseHost('-h/--host', host),
    port: port === undefined ? CHAT_DEFAULTS.port : parsePort('-p/--port', port),
    peersFile: peersFile ?? CHAT_DEFAULTS.peersFile,
    clusterKeyFile: clusterKeyFileFrom(opts, env),
    clusterId: clusterId === undefined ? undefined : parseClusterId('--cluster-id', clusterId),
    gossip: gossip === undefined ? CHAT_DEFAULTS.gossip : parseGossipPreset('--gossip', gossip),
    lingerMs: linger === undefined ? CHAT_DEFAULTS.lingerSeconds * 1000 : parseSeconds('--linger', linger, true),
    verbose: opts.verbose === true,
  };
}

/** Parses `chatterbox chat` arguments (those after `chat`) without touching the process. Throws UsageError. */
export function parseChatArgv(argv: readonly string[], env: Env = {}): ChatArgs {
  const cmd = defineChatCommand().configureOutput({ writeOut: () => {}, writeErr: () => {}, outputError: () => {} });
  cmd.parse([...argv], { from: 'user' });
  return chatArgsFromOptions(cmd.opts(), env);
}

/** Reads the peers and key files and assembles the runtime's config. Throws UsageError. */
export function buildChatConfig(args: ChatArgs, readFile: ReadFile = (path) => readFileSync(path)): ChatNodeConfig {
  return {
    ...resolveClusterPlace(args, readFile),
    preset: args.gossip,
    lingerMs: args.lingerMs,
  };
}

/** The side-effecting part. Resolves with the process exit code. */
export async function runChatCommand(args: ChatArgs): Promise<number> {
  const config = buildChatConfig(args);
  const log = createLogger({ verbose: args.verbose, name: config.self.id });
  const interrupt = new AbortController();
  const onSignal = (): void => interrupt.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    // Loaded only now: help and usage errors need not load the TCP stack.
    const { runChatNode } = await import('../runtime/chat-node.js');
    return await runChatNode(config, { stdin: process.stdin, stdout: process.stdout, log, interrupt: interrupt.signal });
  } catch (error) {
    log.fatal({ err: error }, 'chat node failed');
    return 1;
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  }
}

/** `chatterbox chat`, ready to add to the program. Sets process.exitCode; main exits after flushing. */
export function chatCommand(): Command {
  return defineChatCommand().action(async (_options: unknown, cmd: Command) => {
    process.exitCode = await runChatCommand(chatArgsFromOptions(cmd.opts(), process.env));
  });
}
