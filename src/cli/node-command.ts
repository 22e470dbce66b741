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
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { seed32 } from '../core/prng.js';
import { AGREEMENT_PROTOCOLS, type AgreementProtocolName } from '../agreement/protocols.js';
import { MAX_AGREEMENT_NODES } from '../agreement/types.js';
import type { AgreementNodeConfig, PeerAddress } from '../runtime/agreement-node.js';
import { createLogger, type Logger } from '../runtime/log.js';
import { MAX_HELLO_TEXT_CHARS, helloTextProblem } from '../transport/hello-text.js';
import { configureCommand, type Env, type OptionValues } from './command.js';
import { UsageError, quote } from './errors.js';
import { deriveClusterId, fileErrorText, findSelf, readPeersFile, type ReadFile } from './peers-file.js';

export const CLUSTER_KEY_ENV = 'CHATTERBOX_CLUSTER_KEY_FILE';

/**
 * Set by `chatterbox cluster` for its children, whose stdin is then a pipe from the parent: when it closes the
 * parent is gone (even if it was SIGKILLed and could not clean up), and the child exits instead of lingering.
 */
export const PARENT_PIPE_ENV = 'CHATTERBOX_PARENT_PIPE';

/** A key shorter than this is too easy to guess to authenticate a cluster. */
export const MIN_CLUSTER_KEY_BYTES = 16;

/** Durations above a day are certainly mistakes, and timers overflow at 2^31 ms (24.8 days) anyway. */
const MAX_SECONDS = 86_400;
const MAX_TICK_MS = 60_000;

// From the one registry of protocols (pure modules, cheap to load; the runtime itself stays lazily imported).
export const PROTOCOLS = Object.keys(AGREEMENT_PROTOCOLS) as readonly AgreementProtocolName[];

export interface RunDefaults {
  readonly sendForSeconds: number;
  readonly waitForSeconds: number;
  readonly tickMs: number;
  readonly protocol: AgreementProtocolName;
}

export const NODE_DEFAULTS = {
  host: '127.0.0.1',
  port: 3000,
  peersFile: 'peers.json',
  sendForSeconds: 3,
  waitForSeconds: 1,
  tickMs: 100,
  protocol: 'stream',
} as const satisfies RunDefaults & Record<string, unknown>;

/** The validated flags of `chatterbox node`; files are not read yet. */
export interface NodeArgs {
  readonly host: string;
  readonly port: number;
  readonly peersFile: string;
  readonly sendForMs: number;
  readonly waitForMs: number;
  /** As given (any size, may be negative); undefined → a random seed. Folded with seed32 later. */
  readonly seed: bigint | undefined;
  readonly tickMs: number;
  readonly verbose: boolean;
  readonly protocol: AgreementProtocolName;
  readonly json: boolean;
  /** Where the key file name came from decides how messages name it. */
  readonly clusterKeyFile: { readonly path: string; readonly source: '--cluster-key-file' | typeof CLUSTER_KEY_ENV } | undefined;
  readonly clusterId: string | undefined;
  readonly progress: boolean;
}

// Moved to command.ts so that main and `maelstrom` can use them without this module's imports; re-exported for
// the other subcommands and the tests, which take every flag helper from here.
export { commandPath, configureCommand, isHelpOrVersion, parseGossipPreset, type Env, type OptionValues } from './command.js';

// ---------------------------------------------------------------------------------------------------------
// Flag validators, shared with `chatterbox cluster`. Each takes the raw string and names the flag on failure.

export function stringOption(opts: OptionValues, key: string, flag: string): string | undefined {
  const value = opts[key];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw new UsageError(`${flag}: expected a value`);
  return value;
}

function flagOption(opts: OptionValues, key: string): boolean {
  return opts[key] === true;
}

export function parsePort(flag: string, raw: string): number {
  if (!/^\d{1,5}$/.test(raw) || Number(raw) < 1 || Number(raw) > 65535) {
    throw new UsageError(`${flag}: expected a port number 1..65535, got ${quote(raw)}`);
  }
  return Number(raw);
}

export function parseHost(flag: string, raw: string): string {
  if (raw.length === 0 || /[\s\u0000-\u001f\u007f]/.test(raw)) {
    throw new UsageError(`${flag}: expected a host name or IP address, got ${quote(raw)}`);
  }
  return raw;
}

/** Seconds as a decimal number (fractions allowed, no exponents), returned in whole milliseconds. */
export function parseSeconds(flag: string, raw: string, allowZero: boolean): number {
  const expected = `expected a number of seconds ${allowZero ? '≥ 0' : '> 0'} and ≤ ${MAX_SECONDS} (e.g. 3 or 0.5)`;
  if (!/^(?:\d+(?:\.\d*)?|\.\d+)$/.test(raw)) throw new UsageError(`${flag}: ${expected}, got ${quote(raw)}`);
  const seconds = Number(raw);
  if (seconds > MAX_SECONDS || (!allowZero && seconds <= 0)) throw new UsageError(`${flag}: ${expected}, got ${quote(raw)}`);
  const ms = Math.round(seconds * 1000);
  // 0.0001 s is > 0 but rounds to 0 ms, which would make a positive grace period vanish.
  return !allowZero && ms === 0 ? 1 : ms;
}

/** Any integer, of any size (it is folded to 32 bits with seed32, which treats negative values two's-complement). */
export function parseSeed(flag: string, raw: string): bigint {
  if (!/^-?\d+$/.test(raw)) throw new UsageError(`${flag}: expected an integer, got ${quote(raw)}`);
  return BigInt(raw);
}

export function parseTickMs(flag: string, raw: string): number {
  if (!/^\d+$/.test(raw) || Number(raw) < 1 || Number(raw) > MAX_TICK_MS) {
    throw new UsageError(`${flag}: expected a whole number of milliseconds 1..${MAX_TICK_MS}, got ${quote(raw)}`);
  }
  return Number(raw);
}

export function parseProtocol(flag: string, raw: string): AgreementProtocolName {
  const found = PROTOCOLS.find((name) => name === raw);
  if (found === undefined) throw new UsageError(`${flag}: expected one of ${PROTOCOLS.join(', ')}, got ${quote(raw)}`);
  return found;
}

/** A cluster id travels in every handshake hello, so it must be one the hello can carry. */
export function parseClusterId(flag: string, raw: string): string {
  if (raw.length === 0 || helloTextProblem(raw) !== undefined || /[\u0000-\u001f\u007f]/.test(raw)) {
    throw new UsageError(`${flag}: expected a non-empty id of at most ${MAX_HELLO_TEXT_CHARS} characters without control characters, got ${quote(raw)}`);
  }
  return raw;
}

/** `--cluster-key-file` wins over the environment variable; an empty variable counts as unset. */
export function clusterKeyFileFrom(opts: OptionValues, env: Env): NodeArgs['clusterKeyFile'] {
  const flag = stringOption(opts, 'clusterKeyFile', '--cluster-key-file');
  if (flag !== undefined) {
    if (flag.length === 0) throw new UsageError('--cluster-key-file: expected a file name, got ""');
    return { path: flag, source: '--cluster-key-file' };
  }
  const fromEnv = env[CLUSTER_KEY_ENV];
  return fromEnv === undefined || fromEnv === '' ? undefined : { path: fromEnv, source: CLUSTER_KEY_ENV };
}

const KEY_WHITESPACE = new Set([0x20, 0x09, 0x0a, 0x0b, 0x0c, 0x0d]);

/**
 * The key is the file's bytes with surrounding ASCII whitespace removed (an editor's trailing newline must not
 * change the key). Trimming bytes, not decoded text, keeps binary keys intact. The key never appears in a message.
 */
export function loadClusterKey(keyFile: NonNullable<NodeArgs['clusterKeyFile']>, readFile: ReadFile = (path) => readFileSync(path)): Buffer {
  const name = `${keyFile.source} ${keyFile.path}`;
  let bytes: Buffer;
  try {
    bytes = readFile(keyFile.path);
  } catch (error) {
    throw new UsageError(`${name}: ${fileErrorText(error)}`);
  }
  let start = 0;
  let end = bytes.length;
  while (start < end && KEY_WHITESPACE.has(bytes[start] as number)) start++;
  while (end > start && KEY_WHITESPACE.has(bytes[end - 1] as number)) end--;
  if (end - start < MIN_CLUSTER_KEY_BYTES) {
    throw new UsageError(`${name}: the key is ${end - start} bytes after trimming whitespace; at least ${MIN_CLUSTER_KEY_BYTES} are needed`);
  }
  return Buffer.from(bytes.subarray(start, end));
}

/** The run options `node` and `cluster` share, validated. */
export interface RunArgs {
  readonly sendForMs: number;
  readonly waitForMs: number;
  readonly seed: bigint | undefined;
  readonly tickMs: number;
  readonly protocol: AgreementProtocolName;
  readonly verbose: boolean;
  readonly clusterKeyFile: NodeArgs['clusterKeyFile'];
}

export function runArgsFromOptions(opts: OptionValues, env: Env, defaults: RunDefaults): RunArgs {
  const sendFor = stringOption(opts, 'sendFor', '--send-for');
  const waitFor = stringOption(opts, 'waitFor', '--wait-for');
  const seed = stringOption(opts, 'withSeed', '--with-seed');
  const tick = stringOption(opts, 'tickDuration', '--tick-duration');
  const protocol = stringOption(opts, 'protocol', '--protocol');
  return {
    sendForMs: sendFor === undefined ? defaults.sendForSeconds * 1000 : parseSeconds('--send-for', sendFor, true),
    waitForMs: waitFor === undefined ? defaults.waitForSeconds * 1000 : parseSeconds('--wait-for', waitFor, false),
    seed: seed === undefined ? undefined : parseSeed('--with-seed', seed),
    tickMs: tick === undefined ? defaults.tickMs : parseTickMs('--tick-duration', tick),
    protocol: protocol === undefined ? defaults.protocol : parseProtocol('--protocol', protocol),
    verbose: flagOption(opts, 'verbose'),
    clusterKeyFile: clusterKeyFileFrom(opts, env),
  };
}

// ---------------------------------------------------------------------------------------------------------
// Commander definitions. Defaults live in the descriptions, not in commander, so that validation sees exactly
// what the user typed and the help shows `(default 3000)` rather than commander's quoted `(default: "3000")`.

/** The options `node` and `cluster` share; `defaults` differ between the two and are shown in the help. */
export function addRunOptions(cmd: Command, defaults: RunDefaults, verboseHelp = 'debug logs on stderr'): Command {
  return cmd
    .option('--send-for <seconds>', `seconds of sending messages, ≥ 0, fractions allowed (default ${defaults.sendForSeconds})`)
    .option('--wait-for <seconds>', `grace period in seconds after sending stops, > 0, fractions allowed (default ${defaults.waitForSeconds})`)
    .option('--with-seed <integer>', 'seed of the message values, any integer (default: a random seed, logged so the run can be repeated)')
    .option('--protocol <name>', `agreement protocol: ${PROTOCOLS.join(' or ')} (default ${defaults.protocol})`)
    .option('--tick-duration <ms>', `protocol tick in whole milliseconds, 1..${MAX_TICK_MS} (default ${defaults.tickMs})`)
    .option(
      '--cluster-key-file <path>',
      `file holding the shared cluster key (≥ ${MIN_CLUSTER_KEY_BYTES} bytes after trimming surrounding whitespace); also read from env ${CLUSTER_KEY_ENV}, the flag wins (default: no key)`,
    )
    .option('-v, --verbose', verboseHelp);
}

export function defineNodeCommand(): Command {
  const cmd = configureCommand(new Command('node'))
    .description('Run one node of the agreement job: send random messages for --send-for seconds, then print the agreed (count, sum) line.')
    .option('-h, --host <host>', `host to listen on; must match this node's entry in the peers file (default ${NODE_DEFAULTS.host})`)
    .option('-p, --port <port>', `port to listen on, 1..65535 (default ${NODE_DEFAULTS.port})`)
    .option(
      '--peer-config-file <path>',
      `JSON file listing every node of the cluster, this one included (default ${NODE_DEFAULTS.peersFile})`,
    );
  addRunOptions(cmd, NODE_DEFAULTS)
    .option('--cluster-id <id>', 'cluster identity checked in handshakes (default: derived from the sorted node ids)')
    .option('--json', 'print the result as one JSON object instead of the (count, sum) line')
    .option('--progress', 'log a JSON "progress" line on stderr every 250 ms (used by chatterbox cluster)')
    .addHelpText(
      'after',
      [
        '',
        'Peers file forms:',
        '  ["127.0.0.1:3000:0", "127.0.0.1:3001:0"]                 (original chatterbox; id = "host:port")',
        '  [{"id": "n1", "host": "10.0.0.5", "port": 3000}, ...]     ("id" optional, default "host:port")',
        `Ids travel in the handshake: at most ${MAX_HELLO_TEXT_CHARS} characters, no control characters.`,
        '',
        'Exit status: 0 when the node printed its result, 2 for a usage error (bad flag, peers or key file),',
        'another non-zero status when the run failed.',
      ].join('\n'),
    );
  return cmd;
}

/** Validates commander's option values for `node`. Pure: reads no files. */
export function nodeArgsFromOptions(opts: OptionValues, env: Env = {}): NodeArgs {
  const host = stringOption(opts, 'host', '-h/--host');
  const port = stringOption(opts, 'port', '-p/--port');
  const peersFile = stringOption(opts, 'peerConfigFile', '--peer-config-file');
  const clusterId = stringOption(opts, 'clusterId', '--cluster-id');
  if (peersFile === '') throw new UsageError('--peer-config-file: expected a file name, got ""');
  const run = runArgsFromOptions(opts, env, NODE_DEFAULTS);
  return {
    host: host === undefined ? NODE_DEFAULTS.host : parseHost('-h/--host', host),
    port: port === undefined ? NODE_DEFAULTS.port : parsePort('-p/--port', port),
    peersFile: peersFile ?? NODE_DEFAULTS.peersFile,
    ...run,
    json: flagOption(opts, 'json'),
    clusterId: clusterId === undefined ? undefined : parseClusterId('--cluster-id', clusterId),
    progress: flagOption(opts, 'progress'),
  };
}

/**
 * Parses `chatterbox node` arguments (those after `node`) without touching the process: no output, no exit.
 * Throws UsageError for every bad or unknown flag; `--help` surfaces as commander's CommanderError
 * (see isHelpOrVersion).
 */
export function parseNodeArgv(argv: readonly string[], env: Env = {}): NodeArgs {
  const cmd = defineNodeCommand().configureOutput({ writeOut: () => {}, writeErr: () => {}, outputError: () => {} });
  cmd.parse([...argv], { from: 'user' });
  return nodeArgsFromOptions(cmd.opts(), env);
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

/** A random 32-bit seed: it is folded to 32 bits anyway, and short numbers are easier to copy into a re-run. */
export function randomSeed(): bigint {
  return BigInt(randomBytes(4).readUInt32BE(0));
}

/** Where a node process stands in its cluster: what every long-running command needs from its flags. */
export interface ClusterPlace {
  readonly self: PeerAddress;
  readonly peers: readonly PeerAddress[];
  readonly clusterId: string;
  readonly clusterKey?: Buffer;
}

/** Reads the peers file and the key file named by the flags. Throws UsageError. */
export function resolveClusterPlace(
  args: Pick<NodeArgs, 'peersFile' | 'host' | 'port' | 'clusterKeyFile' | 'clusterId'>,
  readFile: ReadFile = (path) => readFileSync(path),
): ClusterPlace {
  const peers = readPeersFile(args.peersFile, readFile);
  const self = findSelf(peers, args.host, args.port, args.peersFile);
  const clusterKey = args.clusterKeyFile === undefined ? undefined : loadClusterKey(args.clusterKeyFile, readFile);
  return {
    self,
    peers,
    clusterId: args.clusterId ?? deriveClusterId(peers.map((peer) => peer.id)),
    ...(clusterKey === undefined ? {} : { clusterKey }),
  };
}

/** Reads the peers and key files and assembles the runtime's config. Throws UsageError. */
export function buildNodeConfig(args: NodeArgs, sources: ConfigSources = {}): ResolvedNode {
  const place = resolveClusterPlace(args, sources.readFile);
  if (place.peers.length > MAX_AGREEMENT_NODES) {
    throw new UsageError(`peers file ${args.peersFile}: ${place.peers.length} nodes; the agreement job takes at most ${MAX_AGREEMENT_NODES}`);
  }
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
  if (env[PARENT_PIPE_ENV] === '1') exitWithParent(log);
  try {
    // Loaded only now: help and usage errors need not load (or be broken by) the protocol and TCP stack.
    const { runAgreementNode } = await import('../runtime/agreement-node.js');
    return await runAgreementNode(config, { stdout: process.stdout, log });
  } catch (error) {
    // Operational failures (a port in use, say) end up here: one fatal JSON log line, which cluster passes on.
    log.fatal({ err: error }, 'node failed');
    return 1;
  }
}

/** `chatterbox node`, ready to add to the program. Sets process.exitCode; main exits after flushing. */
export function nodeCommand(): Command {
  return defineNodeCommand().action(async (_options: unknown, cmd: Command) => {
    process.exitCode = await runNodeCommand(nodeArgsFromOptions(cmd.opts(), process.env));
  });
}
