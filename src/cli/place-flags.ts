/**
 * The place flags: where a long-running node stands in its cluster. `node`, `chat` and `ranges serve` take the
 * same five (host, port, peers file, cluster key file, cluster id), declared here once with one help text each,
 * validated here once, and resolved here once into a ClusterPlace (the peers file and key file read).
 */
import type { Command } from 'commander';
import type { Logger } from '../platform/log.js';
import type { PeerAddress } from '../transport/tcp-transport.js';
import { MAX_HELLO_TEXT_CHARS, helloTextProblem } from '../transport/hello-text.js';
import type { Env, OptionValues } from './command.js';
import { UsageError, fileErrorText, listenRunError, quote } from '../platform/user-errors.js';
import { parseHost, parsePort, pathOption, stringOption } from './flags.js';
import { deriveClusterId, findSelf, readInputFile, readPeersFile, type ReadFile } from '../platform/peers-file.js';

export const CLUSTER_KEY_ENV = 'CHATTERBOX_CLUSTER_KEY_FILE';

/** A key shorter than this is too easy to guess to authenticate a cluster. */
export const MIN_CLUSTER_KEY_BYTES = 16;

export const PLACE_DEFAULTS = { host: '127.0.0.1', port: 3000, peersFile: 'peers.json' } as const;

/** Where the key file name came from decides how messages name it. */
export interface ClusterKeyFile {
  readonly path: string;
  readonly source: '--cluster-key-file' | typeof CLUSTER_KEY_ENV;
}

/** The validated place flags; files are not read yet. */
export interface PlaceArgs {
  readonly host: string;
  readonly port: number;
  readonly peersFile: string;
  readonly clusterKeyFile: ClusterKeyFile | undefined;
  readonly clusterId: string | undefined;
}

/** `--cluster-key-file`, alone: `cluster` takes it for its children without the other place flags. */
export function addClusterKeyOption(cmd: Command): Command {
  return cmd.option(
    '--cluster-key-file <path>',
    `file holding the shared cluster key (≥ ${MIN_CLUSTER_KEY_BYTES} bytes after trimming surrounding whitespace): every connection is authenticated and encrypted; also read from env ${CLUSTER_KEY_ENV}, the flag wins (default: no key)`,
  );
}

/** The five place flags, and the peers file's forms after the options in `--help`. */
export function addPlaceOptions(cmd: Command): Command {
  cmd
    .option('-h, --host <host>', `address to listen on for the other nodes; must match this node's entry in the peers file (default ${PLACE_DEFAULTS.host})`)
    .option('-p, --port <port>', `port to listen on for the other nodes, 1..65535 (default ${PLACE_DEFAULTS.port})`)
    .option('--peer-config-file <path>', `JSON file listing every node of the cluster, this one included (default ${PLACE_DEFAULTS.peersFile})`);
  return addClusterKeyOption(cmd)
    .option('--cluster-id <id>', 'cluster identity checked in handshakes (default: derived from the sorted node ids)')
    .addHelpText(
      'after',
      [
        '',
        'Peers file forms:',
        '  ["127.0.0.1:3000:0", "127.0.0.1:3001:0"]                 (original chatterbox; id = "host:port")',
        '  [{"id": "n1", "host": "10.0.0.5", "port": 3000}, ...]     ("id" optional, default "host:port")',
        `A node finds itself by -h and -p. Ids travel in the handshake: at most ${MAX_HELLO_TEXT_CHARS} characters, no control characters.`,
      ].join('\n'),
    );
}

/** Validates the place flags among commander's option values. Pure: reads no files. */
export function placeArgsFromOptions(opts: OptionValues, env: Env): PlaceArgs {
  const host = stringOption(opts, 'host', '-h/--host');
  const port = stringOption(opts, 'port', '-p/--port');
  const peersFile = pathOption(opts, 'peerConfigFile', '--peer-config-file');
  const clusterId = stringOption(opts, 'clusterId', '--cluster-id');
  return {
    host: host === undefined ? PLACE_DEFAULTS.host : parseHost('-h/--host', host),
    port: port === undefined ? PLACE_DEFAULTS.port : parsePort('-p/--port', port),
    peersFile: peersFile ?? PLACE_DEFAULTS.peersFile,
    clusterKeyFile: clusterKeyFileFrom(opts, env),
    clusterId: clusterId === undefined ? undefined : parseClusterId('--cluster-id', clusterId),
  };
}

/** A cluster id travels in every handshake hello, so it must be one the hello can carry. */
function parseClusterId(flag: string, raw: string): string {
  if (raw.length === 0 || helloTextProblem(raw) !== undefined || /[\u0000-\u001f\u007f]/.test(raw)) {
    throw new UsageError(`${flag}: expected a non-empty id of at most ${MAX_HELLO_TEXT_CHARS} characters without control characters, got ${quote(raw)}`);
  }
  return raw;
}

/** `--cluster-key-file` wins over the environment variable; an empty variable counts as unset. */
export function clusterKeyFileFrom(opts: OptionValues, env: Env): ClusterKeyFile | undefined {
  const flag = pathOption(opts, 'clusterKeyFile', '--cluster-key-file');
  if (flag !== undefined) return { path: flag, source: '--cluster-key-file' };
  const fromEnv = env[CLUSTER_KEY_ENV];
  return fromEnv === undefined || fromEnv === '' ? undefined : { path: fromEnv, source: CLUSTER_KEY_ENV };
}

const KEY_WHITESPACE = new Set([0x20, 0x09, 0x0a, 0x0b, 0x0c, 0x0d]);

/**
 * The key is the file's bytes with surrounding ASCII whitespace removed (an editor's trailing newline must not
 * change the key). Trimming bytes, not decoded text, keeps binary keys intact. The key never appears in a message.
 */
export function loadClusterKey(keyFile: ClusterKeyFile, readFile: ReadFile = readInputFile): Buffer {
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

/** Where a node process stands in its cluster: what every long-running command needs from its flags. */
interface ClusterPlace {
  readonly self: PeerAddress;
  readonly peers: readonly PeerAddress[];
  readonly clusterId: string;
  readonly clusterKey?: Buffer;
}

/** Reads the peers file and the key file named by the flags. Throws UsageError. */
export function resolveClusterPlace(args: PlaceArgs, readFile: ReadFile = readInputFile): ClusterPlace {
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


/**
 * A node process failed: not listening on its place is the user's to fix (a port in use, an address this machine
 * lacks), so it becomes one line naming `listenFlags` (a RunError, exit 1); anything else is logged with its
 * stack, which a bug needs. Returns the exit status 1.
 */
export function nodeFailed(error: unknown, log: Logger, message: string, listenFlags = '-h/--host, -p/--port'): 1 {
  const listen = listenRunError(error, listenFlags);
  if (listen !== undefined) throw listen;
  log.fatal({ err: error }, message);
  return 1;
}
