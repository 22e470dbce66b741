/**
 * The join flags: how a long-running node finds its cluster without a peers file. `ranges serve` and `chat` take
 * the same three (`--join`, `--advertise`, `--node-id`), declared, validated and resolved here once, as the place
 * flags are in place-flags.ts; `--join` excludes `--peer-config-file`.
 */
import type { Command } from 'commander';
import { nodeId } from '../core/ids.js';
import type { PeerAddress } from '../transport/tcp-transport.js';
import { MAX_HELLO_TEXT_CHARS, helloTextProblem } from '../transport/hello-text.js';
import { formatHostPort, parseHostPort, type HostPort } from '../transport/host-port.js';
import { parseJoinList, SRV_PREFIX, type SeedEntry } from '../runtime/join-seeds.js';
import { UsageError, quote } from '../platform/user-errors.js';
import { readInputFile, type ReadFile } from '../platform/peers-file.js';
import type { OptionValues } from './command.js';
import { pathOption, stringOption } from './flags.js';
import { loadClusterKey, type PlaceArgs } from './place-flags.js';

/**
 * The cluster ids of `--join` nodes without `--cluster-id` (there is no peers file to derive one from): one per
 * command, so a chat node given a key-range node's address is refused at the handshake instead of joining its
 * membership.
 */
export const JOIN_DEFAULT_CLUSTER_IDS = { ranges: 'chatterbox-ranges', chat: 'chatterbox-chat' } as const;
export type JoiningCommand = keyof typeof JOIN_DEFAULT_CLUSTER_IDS;

export interface JoinArgs {
  /** `--join`: seeds instead of a peers file. */
  readonly join?: readonly SeedEntry[];
  /** `--advertise`: where the other nodes dial this one (default -h:-p). */
  readonly advertise?: HostPort;
  /** `--node-id` (with --join; default the advertised host:port). */
  readonly nodeId?: string;
}

/** Where a `--join` node stands: itself alone, the seeds, and the address it is dialed at. */
export interface JoinPlace {
  readonly self: PeerAddress;
  readonly peers: readonly PeerAddress[];
  readonly clusterId: string;
  readonly clusterKey?: Buffer;
  readonly join: readonly SeedEntry[];
  readonly advertise: string;
}

export function addJoinOptions(cmd: Command, command: JoiningCommand): Command {
  const idKeptBy = command === 'ranges' ? ', kept by its data dir' : '';
  return cmd
    .option(
      '--join <seeds>',
      `join a cluster through seeds instead of a peers file: host:port[,host:port…] (a host name stands for all its A/AAAA records; IPv6 as [addr]:port), or a DNS name without a port whose SRV records list the seeds (${SRV_PREFIX}<name>, or the name as given if it starts with "_"). Retried until a seed answers; seeds that are only this node start a new cluster. Cluster id "${JOIN_DEFAULT_CLUSTER_IDS[command]}" unless --cluster-id. Not with --peer-config-file`,
    )
    .option('--advertise <host:port>', 'with --join: the address the other nodes dial this node at, when -h is not it (e.g. -h 0.0.0.0) (default -h:-p)')
    .option('--node-id <id>', `with --join: this node's id${idKeptBy} (default the advertised host:port); at most ${MAX_HELLO_TEXT_CHARS} characters`);
}

/** `--join`, `--advertise`, `--node-id`: validated, and exclusive of the peers file. Pure. */
export function joinArgsFromOptions(opts: OptionValues): JoinArgs {
  const join = stringOption(opts, 'join', '--join');
  const advertise = stringOption(opts, 'advertise', '--advertise');
  const id = stringOption(opts, 'nodeId', '--node-id');
  if (join === undefined) {
    if (advertise !== undefined) throw new UsageError('--advertise goes with --join (a peers file already says where each node is)');
    if (id !== undefined) throw new UsageError('--node-id goes with --join (a peers file already names each node)');
    return {};
  }
  if (pathOption(opts, 'peerConfigFile', '--peer-config-file') !== undefined) {
    throw new UsageError('--join and --peer-config-file exclude each other: join through seeds, or list every node in a peers file');
  }
  const address = advertise === undefined ? undefined : parseHostPort(advertise);
  if (advertise !== undefined && (address === undefined || helloTextProblem(advertise) !== undefined)) {
    throw new UsageError(`--advertise: expected host:port (IPv6 as [addr]:port, port 1..65535), got ${quote(advertise)}`);
  }
  if (id !== undefined && (id.length === 0 || helloTextProblem(id) !== undefined || /[\u0000-\u001f\u007f]/.test(id))) {
    throw new UsageError(`--node-id: expected a non-empty id of at most ${MAX_HELLO_TEXT_CHARS} characters without control characters, got ${quote(id)}`);
  }
  return { join: parseJoinList('--join', join), ...(address === undefined ? {} : { advertise: address }), ...(id === undefined ? {} : { nodeId: id }) };
}

/** The place of a `--join` node (reads the key file, if any); undefined without `--join`. Throws UsageError. */
export function resolveJoinPlace(args: PlaceArgs & JoinArgs, command: JoiningCommand, readFile: ReadFile = readInputFile): JoinPlace | undefined {
  if (args.join === undefined) return undefined;
  const advertise = args.advertise ?? { host: args.host, port: args.port };
  const self = { id: nodeId(args.nodeId ?? formatHostPort(advertise.host, advertise.port)), host: args.host, port: args.port };
  const clusterKey = args.clusterKeyFile === undefined ? undefined : loadClusterKey(args.clusterKeyFile, readFile);
  return {
    self,
    peers: [self],
    clusterId: args.clusterId ?? JOIN_DEFAULT_CLUSTER_IDS[command],
    ...(clusterKey === undefined ? {} : { clusterKey }),
    join: args.join,
    advertise: formatHostPort(advertise.host, advertise.port),
  };
}
