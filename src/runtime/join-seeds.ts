/**
 * `--join`: from a list of seeds to the node ids a new node joins through.
 *
 * Entries (comma-separated):
 * - `host:port`: `host` a DNS name, an IPv4 address or a bracketed IPv6 one; a name stands for all its A and
 *   AAAA records (as the system resolver gives them, /etc/hosts included).
 * - a bare DNS name, no port: its SRV records give targets and ports (Kubernetes' headless service). The name
 *   looked up is `_chatterbox._tcp.<name>`, or the name as given when it already starts with `_` (e.g.
 *   `_peer._tcp.chatterbox.default.svc.cluster.local`, the name of a named port). Targets are then resolved as
 *   host names.
 *
 * The node keeps trying: each round resolves every entry afresh (pods come and go, and so do their records),
 * asks each address found who is there (`identify`, a TCP handshake), and ends once some node answers. A round
 * in which nothing answered logs one line and waits a capped exponential backoff (JOIN_RETRY_INITIAL_MS doubling
 * to JOIN_RETRY_MAX_MS). An address that turns out to be this node is skipped; a list whose every address is
 * this node means "start a new cluster" (the first node of a StatefulSet finds only itself).
 *
 * Parsing and resolution are pure given a `SeedResolver`, so they are tested without a DNS server.
 */
import { isIP } from 'node:net';
import type { NodeId } from '../core/ids.js';
import { formatHostPort, parseHostPort, type HostPort } from '../transport/host-port.js';
import { UsageError, quote } from '../platform/user-errors.js';

/** Entries in one `--join` at most. */
export const MAX_JOIN_ENTRIES = 64;
/** Addresses tried in one round at most (entries can expand to many records): the first ones, in order. */
export const MAX_SEED_ADDRESSES = 64;
/** The wait after the first round in which no seed answered; it doubles each round... */
export const JOIN_RETRY_INITIAL_MS = 250;
/** ...up to this. */
export const JOIN_RETRY_MAX_MS = 8_000;
/** The SRV service a bare name is looked up under: `_chatterbox._tcp.<name>`. */
export const SRV_PREFIX = '_chatterbox._tcp.';

export type SeedEntry = { readonly kind: 'address'; readonly host: string; readonly port: number } | { readonly kind: 'srv'; readonly name: string };

export interface SrvRecord {
  readonly name: string;
  readonly port: number;
  readonly priority: number;
  readonly weight: number;
}

/** What resolution needs from DNS; `dnsSeedResolver` is node:dns's. */
export interface SeedResolver {
  /** Every address of a host name (A and AAAA). */
  lookupAll(host: string): Promise<readonly string[]>;
  resolveSrv(name: string): Promise<readonly SrvRecord[]>;
}

const DNS_NAME = /^(?=.{1,253}$)[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,62})(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,62}))*\.?$/;

/** Parses a `--join` value. Throws UsageError (one line) on a bad entry, naming it. */
export function parseJoinList(flag: string, raw: string): SeedEntry[] {
  const parts = raw.split(',').map((part) => part.trim());
  if (parts.length > MAX_JOIN_ENTRIES) throw new UsageError(`${flag}: ${parts.length} entries; at most ${MAX_JOIN_ENTRIES} are taken`);
  return parts.map((part) => parseJoinEntry(flag, part));
}

function parseJoinEntry(flag: string, part: string): SeedEntry {
  const expected = 'expected host:port, [ipv6]:port or a DNS name whose SRV records list the seeds';
  if (part === '') throw new UsageError(`${flag}: an empty entry; ${expected}`);
  const port = /:(\d+)$/.exec(part);
  if (port !== null && !part.startsWith('[') && part.indexOf(':') !== part.lastIndexOf(':')) {
    throw new UsageError(`${flag}: ${quote(part)} looks like an IPv6 address: write it in brackets, [addr]:port`);
  }
  if (port !== null) {
    const number = Number(port[1]);
    if (number < 1 || number > 65_535) throw new UsageError(`${flag}: port ${port[1]} of ${quote(part)} is out of range 1..65535`);
    const address = parseHostPort(part);
    if (address === undefined || !(isIP(address.host) !== 0 || DNS_NAME.test(address.host))) throw new UsageError(`${flag}: ${quote(part)}: ${expected}`);
    if (part.startsWith('[') && isIP(address.host) !== 6) throw new UsageError(`${flag}: ${quote(part)}: brackets hold an IPv6 address`);
    return { kind: 'address', host: address.host, port: address.port };
  }
  if (part.includes(':') || part.includes('[')) throw new UsageError(`${flag}: ${quote(part)}: ${expected}`);
  if (isIP(part) !== 0) throw new UsageError(`${flag}: ${quote(part)} is an address without a port; write ${part}:<port>`);
  if (!DNS_NAME.test(part)) throw new UsageError(`${flag}: ${quote(part)}: ${expected}`);
  return { kind: 'srv', name: part };
}

/** The SRV name a bare entry is looked up under (see the top of the file). */
export function srvName(name: string): string {
  return name.startsWith('_') ? name : `${SRV_PREFIX}${name}`;
}

/** SRV records in the order to try them: lowest priority first, then highest weight (RFC 2782's preference). */
export function orderSrv(records: readonly SrvRecord[]): SrvRecord[] {
  return [...records].sort((a, b) => a.priority - b.priority || b.weight - a.weight || a.name.localeCompare(b.name) || a.port - b.port);
}

export interface ResolvedSeeds {
  /** Distinct addresses, in entry order, at most MAX_SEED_ADDRESSES. */
  readonly addresses: HostPort[];
  /** One text per entry that resolved to nothing, for the round's log line. */
  readonly problems: string[];
}

/** Resolves every entry once; a failed lookup is a problem of that entry, never an exception. */
export async function resolveSeeds(entries: readonly SeedEntry[], resolver: SeedResolver): Promise<ResolvedSeeds> {
  const addresses: HostPort[] = [];
  const seen = new Set<string>();
  const problems: string[] = [];
  const add = (host: string, port: number): void => {
    const key = formatHostPort(host, port);
    if (seen.has(key) || addresses.length >= MAX_SEED_ADDRESSES) return;
    seen.add(key);
    addresses.push({ host, port });
  };
  const hostsOf = async (host: string): Promise<readonly string[]> => (isIP(host) !== 0 ? [host] : resolver.lookupAll(host));
  const results = await Promise.all(
    entries.map(async (entry): Promise<HostPort[] | string> => {
      try {
        if (entry.kind === 'address') {
          const hosts = await hostsOf(entry.host);
          return hosts.length === 0 ? `${entry.host}: no address records` : hosts.map((host) => ({ host, port: entry.port }));
        }
        const name = srvName(entry.name);
        const found: HostPort[] = [];
        for (const record of orderSrv(await resolver.resolveSrv(name))) {
          for (const host of await hostsOf(record.name)) found.push({ host, port: record.port });
        }
        return found.length === 0 ? `${name}: no SRV records with addresses` : found;
      } catch (error) {
        const what = entry.kind === 'address' ? entry.host : srvName(entry.name);
        return `${what}: ${error instanceof Error ? ((error as NodeJS.ErrnoException).code ?? error.message) : String(error)}`;
      }
    }),
  );
  for (const result of results) {
    if (typeof result === 'string') problems.push(result);
    else for (const { host, port } of result) add(host, port);
  }
  return { addresses, problems };
}

/** node:dns's resolver: `lookup` (getaddrinfo, so /etc/hosts counts) for names, `resolveSrv` for SRV. */
export async function dnsSeedResolver(): Promise<SeedResolver> {
  const dns = await import('node:dns/promises');
  return {
    lookupAll: async (host) => (await dns.lookup(host, { all: true })).map((a) => a.address),
    resolveSrv: (name) => dns.resolveSrv(name),
  };
}

export interface Seed extends HostPort {
  readonly id: NodeId;
}

export interface FindSeedsIo {
  readonly resolver: SeedResolver;
  /** Who listens at host:port (TcpTransport.identify). */
  identify(host: string, port: number): Promise<NodeId>;
  readonly self: NodeId;
  /** One line per round in which no seed answered. */
  onFailedRound(round: number, reasons: readonly string[], retryInMs: number): void;
  /** Waits `ms`; resolves false when the node is stopping instead (then the search ends with []). */
  sleep(ms: number): Promise<boolean>;
}

/** The backoff after `round` failed rounds (1-based): JOIN_RETRY_INITIAL_MS doubling, capped at JOIN_RETRY_MAX_MS. */
export function joinRetryDelayMs(round: number): number {
  return Math.min(JOIN_RETRY_MAX_MS, JOIN_RETRY_INITIAL_MS * 2 ** Math.min(round - 1, 16));
}

/**
 * Rounds until some seed other than this node answers: its seeds (id and address), every one that answered in
 * that round. [] when every address found is this node (a new cluster) or the node is stopping.
 */
export async function findSeeds(entries: readonly SeedEntry[], io: FindSeedsIo): Promise<Seed[]> {
  for (let round = 1; ; round++) {
    const { addresses, problems } = await resolveSeeds(entries, io.resolver);
    const answers = await Promise.all(
      addresses.map(async (a): Promise<Seed | string> => {
        try {
          return { ...a, id: await io.identify(a.host, a.port) };
        } catch (error) {
          return `${formatHostPort(a.host, a.port)}: ${error instanceof Error ? error.message : String(error)}`;
        }
      }),
    );
    const seeds = answers.filter((a): a is Seed => typeof a !== 'string');
    const others = seeds.filter((s) => s.id !== io.self);
    if (others.length > 0) return others;
    if (seeds.length > 0 && seeds.length === addresses.length && problems.length === 0) return []; // only ourselves
    const delay = joinRetryDelayMs(round);
    io.onFailedRound(round, [...problems, ...answers.filter((a): a is string => typeof a === 'string')], delay);
    if (!(await io.sleep(delay))) return [];
  }
}
