/**
 * `chatterbox ranges`: key-range ownership as real processes.
 *
 * - `chatterbox ranges serve …` runs one node (src/runtime/ranges-node.ts): the TCP transport and peers file of
 *   `chatterbox node`, a data dir for its SQLite store, and a local HTTP API.
 * - The other subcommands are clients of a running node's API: `join`, `leave`, `register`, `release`,
 *   `increase`, `decrease`, `groups`, `members`, `nodes`, `forget`, `leave-cluster`, `topology`, `lookup`. Each sends one request and prints the
 *   result as JSON on stdout (writes print nothing).
 *
 * Same layers as node-command.ts: argv → args (pure, UsageError), args → config (reads files), then the process.
 */
import { Command } from 'commander';
import type { RangesNodeConfig } from '../runtime/ranges-node.js';
import { createLogger } from '../platform/log.js';
import { configureCommand, parseQuietly, untilInterrupted, type Env, type OptionValues } from './command.js';
import { RunError, UsageError, oneLine, quote, systemErrorOf } from '../platform/user-errors.js';
import { flagOption, parseHost, parsePort, pathOption, stringOption, wholeNumber } from './flags.js';
import { PLACE_DEFAULTS, addPlaceOptions, nodeFailed, placeArgsFromOptions, resolveClusterPlace, type PlaceArgs } from './place-flags.js';
import { JOIN_DEFAULT_CLUSTER_IDS, addJoinOptions, joinArgsFromOptions, resolveJoinPlace, type JoinArgs } from './join-flags.js';
import { readInputFile, type ReadFile } from '../platform/peers-file.js';
import { isLoopbackBind } from '../runtime/ranges-http.js';
import { LEAVE_DRAIN_MAX_MS } from '../membership/compose.js';

export const RANGES_API_ENV = 'CHATTERBOX_RANGES_API';

export const RANGES_DEFAULTS = {
  ...PLACE_DEFAULTS,
  apiHost: '127.0.0.1',
  apiPort: 7000,
  fanout: 3,
  intervalMs: 200,
  api: 'http://127.0.0.1:7000',
  timeoutMs: 10_000,
} as const;

const MAX_FANOUT = 64;
const MAX_INTERVAL_MS = 60_000;

// ------------------------------------------------------------------------------------------------- serve

export interface RangesServeArgs extends PlaceArgs, JoinArgs {
  readonly dataDir: string;
  readonly apiHost: string;
  readonly apiPort: number;
  readonly fanout: number;
  readonly intervalMs: number;
  readonly verbose: boolean;
  /** `--ui`: the live page at /ui on the API (loopback API hosts only). */
  readonly ui?: boolean;
}

export function defineServeCommand(): Command {
  const cmd = configureCommand(new Command('serve'))
    .summary('run a node: gossip with its peers, keep its state in --data-dir, serve the HTTP API')
    .description('Run one node of key-range ownership: gossip with the other nodes (those of the peers file, or the members found through --join), keep this node\'s state in --data-dir, and serve the local HTTP API.');
  return addJoinOptions(addPlaceOptions(cmd), 'ranges')
    .option('--data-dir <dir>', 'directory of this node\'s store (created if missing); required. It belongs to this node id and cluster from its first use on')
    .option('--api-host <host>', `address the HTTP API listens on (default ${RANGES_DEFAULTS.apiHost}). The API has no authentication: anyone who can reach it acts as this node`)
    .option('--api-port <port>', `port of the HTTP API, 1..65535 (default ${RANGES_DEFAULTS.apiPort})`)
    .option('--fanout <n>', `each node sends its changes to about 2×n others, 1..${MAX_FANOUT}; the same on every node (default ${RANGES_DEFAULTS.fanout})`)
    .option('--interval-ms <ms>', `changes are batched and sent every this many milliseconds, 1..${MAX_INTERVAL_MS} (default ${RANGES_DEFAULTS.intervalMs})`)
    .option('-v, --verbose', 'debug logs on stderr (one line per API request, among others)')
    .option('--ui', 'serve a live page of this node\'s key ranges and members at /ui on the API (its URL is in the "ranges node started" line); needs a loopback --api-host')
    .addHelpText(
      'after',
      [
        '',
        'Every node of the peers file runs `chatterbox ranges serve` with its own -p, --data-dir and --api-port.',
        `Or, without a peers file, nodes join through seeds: --join 10.0.0.5:3000 (cluster id "${JOIN_DEFAULT_CLUSTER_IDS.ranges}" unless`,
        '--cluster-id says otherwise); `chatterbox ranges nodes` then lists every node with its state (alive,',
        'suspect, dead, left), and a dead node\'s registrations stay until it returns or `chatterbox ranges forget`.',
        'Logs (JSON) go to stderr; the line "ranges node started" carries the API\'s URL. Use the other',
        '`chatterbox ranges` subcommands, or the HTTP API directly, to join groups and register ranges.',
        '',
        'A node restarted with the same --data-dir keeps its registrations and its write counters. A data dir',
        'used by another node id or cluster, or by a running node, is refused.',
        '',
        'Exit status: 0 after SIGINT or SIGTERM; 2 for a usage error (bad flag, peers or key file, a data dir of',
        'another node); 1 when the node failed (a port in use; a data dir in use, unwritable, damaged, or holding',
        'a state this version cannot read). Errors are one line on stderr.',
      ].join('\n'),
    );
}

/** Validates commander's option values for `ranges serve`. Pure: reads no files. */
export function serveArgsFromOptions(opts: OptionValues, env: Env = {}): RangesServeArgs {
  const dataDir = pathOption(opts, 'dataDir', '--data-dir', 'directory');
  const apiHost = stringOption(opts, 'apiHost', '--api-host');
  const apiPort = stringOption(opts, 'apiPort', '--api-port');
  const fanout = stringOption(opts, 'fanout', '--fanout');
  const interval = stringOption(opts, 'intervalMs', '--interval-ms');
  const place = placeArgsFromOptions(opts, env);
  if (dataDir === undefined) throw new UsageError('--data-dir is required: the directory where this node keeps its state');
  const join = joinArgsFromOptions(opts);
  const args: RangesServeArgs = {
    ...place,
    dataDir,
    // A bracketed IPv6 literal ([::1], as in URLs) is listened on without its brackets.
    apiHost: apiHost === undefined ? RANGES_DEFAULTS.apiHost : parseHost('--api-host', apiHost).replace(/^\[(.*)\]$/, '$1'),
    apiPort: apiPort === undefined ? RANGES_DEFAULTS.apiPort : parsePort('--api-port', apiPort),
    fanout: fanout === undefined ? RANGES_DEFAULTS.fanout : wholeNumber('--fanout', fanout, 1, MAX_FANOUT),
    intervalMs: interval === undefined ? RANGES_DEFAULTS.intervalMs : wholeNumber('--interval-ms', interval, 1, MAX_INTERVAL_MS),
    verbose: flagOption(opts, 'verbose'),
    ...join,
    ...(flagOption(opts, 'ui') ? { ui: true } : {}),
  };
  // The page has no authentication either, and shows the whole cluster's state: loopback only.
  if (args.ui === true && !isLoopbackBind(args.apiHost)) {
    throw new UsageError(`--ui: the page is served on loopback only, and --api-host is ${args.apiHost}; use 127.0.0.1, ::1 or localhost`);
  }
  // Equal ports collide whenever the hosts overlap (localhost and 127.0.0.1, a wildcard): refuse them outright.
  if (args.apiPort === args.port) {
    throw new UsageError(`--api-port: ${args.apiPort} is also the node's -p/--port; give the API a port of its own`);
  }
  return args;
}


/** Parses `chatterbox ranges serve` arguments (those after `serve`) without touching the process. */
export function parseServeArgv(argv: readonly string[], env: Env = {}): RangesServeArgs {
  return serveArgsFromOptions(parseQuietly(defineServeCommand(), argv).opts(), env);
}

/** Reads the peers and key files and assembles the runtime's config. Throws UsageError. */
export function buildServeConfig(args: RangesServeArgs, readFile: ReadFile = readInputFile): RangesNodeConfig {
  const rest = { dataDir: args.dataDir, apiHost: args.apiHost, apiPort: args.apiPort, fanout: args.fanout, intervalMs: args.intervalMs };
  const joining = resolveJoinPlace(args, 'ranges', readFile);
  if (joining !== undefined) return { ...joining, ...rest };
  return {
    ...resolveClusterPlace(args, readFile),
    dataDir: args.dataDir,
    apiHost: args.apiHost,
    apiPort: args.apiPort,
    fanout: args.fanout,
    intervalMs: args.intervalMs,
    ...(args.ui === true ? { ui: true } : {}),
  };
}

/** The side-effecting part of `serve`. Resolves with the process exit code. */
export async function runServeCommand(args: RangesServeArgs): Promise<number> {
  const config = buildServeConfig(args);
  const log = createLogger({ verbose: args.verbose, name: config.self.id });
  return untilInterrupted(async (interrupt) => {
    // Loaded only now: help, usage errors and the client subcommands need not load SQLite or the TCP stack.
    const [{ runRangesNode }, { StoreError }] = await Promise.all([import('../runtime/ranges-node.js'), import('../runtime/durable-store.js')]);
    try {
      return await runRangesNode(config, { log, interrupt });
    } catch (error) {
      // Another node's data dir is a mistake in how the node was started, like a wrong peers file: exit 2.
      if (error instanceof StoreError && error.code === 'identity-mismatch') throw new UsageError(`--data-dir: ${error.message}`);
      // The store's other errors (in use, unwritable, damaged) say all there is to say; a stack would only hide it.
      if (error instanceof StoreError) throw new RunError(`--data-dir: ${error.message}`);
      // The two listeners have different ports (checked above), so the port, or else the host name, says which flags to name.
      const facts = systemErrorOf(error);
      const apiListen = facts?.port === config.apiPort || (facts?.hostname === config.apiHost && facts.hostname !== config.self.host);
      return nodeFailed(error, log, 'ranges node failed', apiListen ? '--api-host, --api-port' : '-h/--host, -p/--port');
    }
  });
}

// ------------------------------------------------------------------------------------------------ client

/** One request to a node's API, as the client subcommands build it. */
export interface ApiCall {
  readonly method: 'GET' | 'POST' | 'DELETE';
  /** Path and query, e.g. `/groups/users/lookup?key=alice`. */
  readonly path: string;
  readonly body?: unknown;
  /** Whether the result is printed (reads) or not (writes). */
  readonly prints: boolean;
}

export interface ClientArgs {
  /** The API's base URL, without a trailing slash. */
  readonly api: string;
  readonly call: ApiCall;
  readonly timeoutMs: number;
}

/** `--api`, else the environment, else the default; an http:// URL with nothing after the host but a slash. */
export function parseApi(opts: OptionValues, env: Env): string {
  const flag = stringOption(opts, 'api', '--api');
  const fromEnv = env[RANGES_API_ENV];
  const [raw, source] = flag !== undefined ? [flag, '--api'] : fromEnv !== undefined && fromEnv !== '' ? [fromEnv, RANGES_API_ENV] : [RANGES_DEFAULTS.api, '--api'];
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UsageError(`${source}: expected a URL like ${RANGES_DEFAULTS.api}, got ${quote(raw)}`);
  }
  if (url.protocol !== 'http:') throw new UsageError(`${source}: only http:// URLs are served by a node, got ${quote(raw)}`);
  if ((url.pathname !== '/' && url.pathname !== '') || url.search !== '' || url.hash !== '' || url.username !== '' || url.password !== '') {
    throw new UsageError(`${source}: expected just the scheme, host and port (e.g. ${RANGES_DEFAULTS.api}), got ${quote(raw)}`);
  }
  return url.origin;
}

/** A whole number from the command line: decimal or 0x hex, at most 2^53 − 1. Signs are left to the node. */
export function parseNumberArg(name: string, raw: string): number {
  const value = /^\d{1,16}$/.test(raw) ? Number(raw) : /^0x[0-9a-f]{1,14}$/i.test(raw) ? Number.parseInt(raw.slice(2), 16) : NaN;
  if (!Number.isSafeInteger(value)) throw new UsageError(`<${name}>: expected a whole number (decimal, or hex as 0x…), got ${quote(raw)}`);
  return value;
}

function groupPath(group: string, rest: string): string {
  if (group === '') throw new UsageError('<group>: expected a group name, got ""');
  return `/groups/${encodeURIComponent(group)}/${rest}`;
}

function rangeOf(start: string, end: string): { start: number; end: number } {
  return { start: parseNumberArg('start', start), end: parseNumberArg('end', end) };
}

function parseMeta(raw: string | undefined): { meta?: unknown } {
  if (raw === undefined) return {};
  try {
    return { meta: JSON.parse(raw) as unknown };
  } catch (error) {
    throw new UsageError(`--meta: expected JSON (e.g. '{"host":"10.0.0.1","port":7000}' or '"text"'), got ${quote(raw)} (${error instanceof Error ? error.message : String(error)})`);
  }
}

interface ClientSpec {
  readonly name: string;
  readonly args: string;
  /** One line, for the list of `chatterbox ranges --help`. */
  readonly summary: string;
  readonly description: string;
  readonly build: (positional: readonly string[], opts: OptionValues) => ApiCall;
  readonly options?: (cmd: Command) => Command;
}

const CLIENT_COMMANDS: readonly ClientSpec[] = [
  {
    name: 'join',
    summary: 'join a group',
    args: '<group>',
    description: 'Make the node a member of <group> (creating the group). Prints nothing.',
    build: ([group]) => ({ method: 'POST', path: groupPath(group!, 'join'), prints: false }),
  },
  {
    name: 'leave',
    summary: 'leave a group, releasing its ranges',
    args: '<group>',
    description: 'Leave <group>, releasing every range the node registered there. Idempotent. Prints nothing.',
    build: ([group]) => ({ method: 'POST', path: groupPath(group!, 'leave'), prints: false }),
  },
  {
    name: 'register',
    summary: 'register a range (or update its meta)',
    args: '<group> <start> <end>',
    description: 'Register the node for the range [start, end) of <group> (priority 1), or update its meta if it has it. Prints nothing.',
    options: (cmd) => cmd.option('--meta <json>', 'JSON describing how to reach the node for this range, e.g. \'{"host":"10.0.0.1","port":7000}\' (default null)'),
    build: ([group, start, end], opts) => ({
      method: 'POST',
      path: groupPath(group!, 'ranges'),
      body: { ...rangeOf(start!, end!), ...parseMeta(stringOption(opts, 'meta', '--meta')) },
      prints: false,
    }),
  },
  {
    name: 'release',
    summary: 'release a range',
    args: '<group> <start> <end>',
    description: 'Release the node\'s registration of [start, end) in <group>. Prints nothing; a range the node does not hold is an error (not-found).',
    build: ([group, start, end]) => {
      const range = rangeOf(start!, end!);
      return { method: 'DELETE', path: `${groupPath(group!, 'ranges')}?start=${range.start}&end=${range.end}`, prints: false };
    },
  },
  {
    name: 'increase',
    summary: 'raise the priority of a range',
    args: '<group> <start> <end> <by>',
    description: 'Raise the priority of the node\'s registration of [start, end) by <by> (registering it if needed). Prints nothing.',
    build: ([group, start, end, by]) => ({ method: 'POST', path: groupPath(group!, 'ranges/increase'), body: { ...rangeOf(start!, end!), by: parseNumberArg('by', by!) }, prints: false }),
  },
  {
    name: 'decrease',
    summary: 'lower the priority of a range (released at 0)',
    args: '<group> <start> <end> <by>',
    description: 'Lower the priority of the node\'s registration of [start, end) by <by>; at zero or below it is released. Prints nothing.',
    build: ([group, start, end, by]) => ({ method: 'POST', path: groupPath(group!, 'ranges/decrease'), body: { ...rangeOf(start!, end!), by: parseNumberArg('by', by!) }, prints: false }),
  },
  {
    name: 'groups',
    summary: 'list the groups',
    args: '',
    description: 'Print the groups the node knows, as a JSON array.',
    build: () => ({ method: 'GET', path: '/groups', prints: true }),
  },
  {
    name: 'members',
    summary: 'list the members of a group',
    args: '<group>',
    description: 'Print the members of <group>, as a JSON array of node ids.',
    build: ([group]) => ({ method: 'GET', path: groupPath(group!, 'members'), prints: true }),
  },
  {
    name: 'leave-cluster',
    summary: 'leave the cluster gracefully and stop the node',
    args: '',
    description:
      `The node releases every registration it holds, waits until its neighbours have that (at most ${LEAVE_DRAIN_MAX_MS / 1000} s), announces that it leaves (state left in \`ranges nodes\` elsewhere), and stops (exit 0). Prints {left}. Unlike SIGTERM, which stops the node and keeps its registrations for when it returns.`,
    build: () => ({ method: 'POST', path: '/leave', prints: true }),
  },
  {
    name: 'nodes',
    summary: "list the cluster's members and their state",
    args: '',
    description: "Print every node this node knows with its membership state, as JSON: [{node, address, incarnation, state}], state one of alive, suspect, dead, left.",
    build: () => ({ method: 'GET', path: '/members', prints: true }),
  },
  {
    name: 'forget',
    summary: "release a dead node's registrations",
    args: '<node>',
    description: 'Release every registration and group membership of <node>, which the node asked must see as dead or left (else the error not-dead). Prints {node, released}.',
    build: ([node]) => {
      if (node === '') throw new UsageError('<node>: expected a node id, got ""');
      return { method: 'POST', path: `/members/${encodeURIComponent(node!)}/forget`, prints: true };
    },
  },
  {
    name: 'topology',
    summary: 'show the subranges of a group and who serves each',
    args: '<group>',
    description: 'Print the subranges of <group> and who serves each, best first, as JSON: [{start, end, nodes: [{node, start, end, priority, meta}]}].',
    build: ([group]) => ({ method: 'GET', path: groupPath(group!, 'topology'), prints: true }),
  },
  {
    name: 'lookup',
    summary: 'show who serves a key',
    args: '<group> <key>',
    description: 'Print who serves <key> in <group>, best first, as JSON: {position, nodes: [{node, start, end, priority, meta}]}. The key is hashed to a position (MurmurHash3 of its UTF-8 bytes).',
    options: (cmd) => cmd.option('--position', '<key> is a raw position in [0, 2^32) (decimal or 0x hex), not a key to hash'),
    build: ([group, key], opts) => {
      const query = opts.position === true ? `position=${parseNumberArg('key', key!)}` : `key=${encodeURIComponent(key!)}`;
      return { method: 'GET', path: `${groupPath(group!, 'lookup')}?${query}`, prints: true };
    },
  },
];

function defineClientCommand(spec: ClientSpec): Command {
  const cmd = configureCommand(new Command(spec.name)).summary(spec.summary).description(spec.description);
  if (spec.args !== '') cmd.arguments(spec.args);
  spec.options?.(cmd);
  return cmd.option('--api <url>', `the node's HTTP API; also read from env ${RANGES_API_ENV}, the flag wins (default ${RANGES_DEFAULTS.api})`).addHelpText(
    'after',
    [
      '',
      'Exit status: 0 on success; 1 when the node answered with an error (its message is printed) or could not',
      'be reached; 2 for a usage error.',
    ].join('\n'),
  );
}

/** Parses a client subcommand's arguments (e.g. `['lookup', 'users', 'alice']`) without touching the process. */
export function parseClientArgv(argv: readonly string[], env: Env = {}): ClientArgs {
  const [name, ...rest] = argv;
  const spec = CLIENT_COMMANDS.find((s) => s.name === name);
  if (spec === undefined) throw new UsageError(`unknown ranges command ${quote(name ?? '')}`);
  const cmd = parseQuietly(defineClientCommand(spec), rest);
  return clientArgsFrom(spec, cmd.args, cmd.opts(), env);
}

function clientArgsFrom(spec: ClientSpec, positional: readonly string[], opts: OptionValues, env: Env): ClientArgs {
  return { api: parseApi(opts, env), call: spec.build(positional, opts), timeoutMs: RANGES_DEFAULTS.timeoutMs };
}

/** Why a fetch failed, in a few words (fetch hides the socket error in `cause`). */
function connectionProblem(error: unknown): string {
  const cause = error instanceof Error && error.cause !== undefined ? error.cause : error;
  const code = typeof cause === 'object' && cause !== null && 'code' in cause ? String((cause as { code: unknown }).code) : '';
  if (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')) return 'no answer in time';
  switch (code) {
    case 'ECONNREFUSED':
      return 'connection refused';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'unknown host';
    case 'ECONNRESET':
      return 'connection reset';
    default:
      return cause instanceof Error ? cause.message : String(cause);
  }
}

export interface ClientIo {
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
}

/** Sends the call and prints the outcome. Resolves with the exit code. */
export async function runClientCommand(args: ClientArgs, io: ClientIo = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  const { call } = args;
  let response: Response;
  let text: string;
  try {
    response = await fetch(`${args.api}${call.path}`, {
      method: call.method,
      headers: call.method === 'POST' ? { 'content-type': 'application/json' } : {},
      ...(call.method === 'POST' ? { body: call.body === undefined ? '' : JSON.stringify(call.body) } : {}),
      signal: AbortSignal.timeout(args.timeoutMs),
    });
    text = await response.text();
  } catch (error) {
    io.stderr.write(`chatterbox: cannot reach the node's API at ${args.api} (${connectionProblem(error)}); is \`chatterbox ranges serve\` running with that --api-port?\n`);
    return 1;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    io.stderr.write(`chatterbox: ${args.api} answered HTTP ${response.status} with a body that is not JSON; is it a chatterbox ranges node?\n`);
    return 1;
  }
  if (!response.ok) {
    const error = typeof json === 'object' && json !== null && 'error' in json ? (json as { error: { code?: unknown; message?: unknown } }).error : undefined;
    const message = typeof error?.message === 'string' ? error.message : `HTTP ${response.status}`;
    const code = typeof error?.code === 'string' ? error.code : `http-${response.status}`;
    io.stderr.write(`chatterbox: ${code}: ${oneLine(message)}\n`);
    return 1;
  }
  if (call.prints) {
    const result = typeof json === 'object' && json !== null && 'result' in json ? (json as { result: unknown }).result : json;
    io.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  }
  return 0;
}

// ----------------------------------------------------------------------------------------------- program

export function defineRangesCommand(): Command {
  const ranges = configureCommand(new Command('ranges'))
    .description('Key-range ownership: run a node (serve), or ask a running node to join groups, register ranges and look keys up.')
    .addHelpText(
      'after',
      [
        '',
        'Positions are integers in [0, 2^32); ranges are half-open, [start, end) with start < end ≤ 2^32 = 4294967296.',
        'Numbers may be written in decimal or as 0x hex. Keys are hashed to positions with MurmurHash3 (seed 0).',
        '',
        'Example (one node):',
        '  echo \'[{"id":"n1","host":"127.0.0.1","port":3000}]\' > peers.json',
        '  chatterbox ranges serve -p 3000 --peer-config-file peers.json --data-dir data/n1 --api-port 7000 &',
        '  chatterbox ranges join users',
        '  chatterbox ranges register users 0 0x80000000 --meta \'{"host":"10.0.0.1"}\'',
        '  chatterbox ranges lookup users alice',
      ].join('\n'),
    );
  ranges.addCommand(
    defineServeCommand().action(async (_options: unknown, cmd: Command) => {
      process.exitCode = await runServeCommand(serveArgsFromOptions(cmd.opts(), process.env));
    }),
  );
  for (const spec of CLIENT_COMMANDS) {
    ranges.addCommand(
      defineClientCommand(spec).action(async (...params: unknown[]) => {
        const cmd = params[params.length - 1] as Command;
        process.exitCode = await runClientCommand(clientArgsFrom(spec, cmd.args, cmd.opts(), process.env));
      }),
    );
  }
  return ranges;
}

/** `chatterbox ranges`, ready to add to the program. Sets process.exitCode; main exits after flushing. */
export function rangesCommand(): Command {
  return defineRangesCommand();
}
