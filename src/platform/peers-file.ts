/**
 * The peers file: every node of the cluster, the reading node included, in an order all nodes share.
 *
 * Two forms are accepted, also mixed within one array:
 * - the original Haskell chatterbox's: `["127.0.0.1:3000:0", ...]` (a Cloud Haskell endpoint address; the
 *   trailing `:0` is the endpoint number, always 0 there); the node id is the `host:port` part;
 * - objects: `[{"id": "n1", "host": "10.0.0.5", "port": 3000}, ...]`, where `id` defaults to `host:port`.
 *
 * Every problem is a UsageError naming the file, so a bad file fails before any socket is opened; that includes
 * an id the handshake could not carry (longer than MAX_HELLO_TEXT_CHARS, or not valid Unicode), which would
 * otherwise only show as peers refusing each other.
 */
import { createHash } from 'node:crypto';
import { closeSync, openSync, readSync } from 'node:fs';
import * as z from 'zod';
import { compareNodeIds, nodeId, type NodeId } from '../core/ids.js';
import { helloTextProblem } from '../transport/hello-text.js';
import type { PeerAddress } from '../transport/tcp-transport.js';
import { UsageError, fileErrorText, quote } from './user-errors.js';

/** Reads raw bytes; injectable so callers and tests can stand in for the file system. */
export type ReadFile = (path: string) => Buffer;

/**
 * Input files (peers, cluster key, fault schedule) are small: more than this is the wrong file (a log, a device
 * such as /dev/zero), refused before it fills memory.
 */
export const MAX_INPUT_FILE_BYTES = 16 * 1024 * 1024;
const READ_CHUNK_BYTES = 64 * 1024;

/**
 * The most nodes a peers file may list, for every command that reads one (`node`, `chat`, `ranges serve`): each
 * node links to the others and keeps per-peer state, and the agreement job's messages carry per-node vectors
 * (MAX_AGREEMENT_NODES, which node-command.ts checks is at least this).
 */
export const MAX_PEERS = 1024;

/** The default ReadFile: reads at most MAX_INPUT_FILE_BYTES, else throws an fs-style error with code EFBIG. */
export const readInputFile: ReadFile = (path) => {
  const fd = openSync(path, 'r');
  try {
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const chunk = Buffer.allocUnsafe(READ_CHUNK_BYTES);
      const n = readSync(fd, chunk, 0, chunk.length, null);
      if (n === 0) return Buffer.concat(chunks, total);
      total += n;
      if (total > MAX_INPUT_FILE_BYTES) throw Object.assign(new Error(`${path}: over ${MAX_INPUT_FILE_BYTES} bytes`), { code: 'EFBIG' });
      chunks.push(chunk.subarray(0, n));
    }
  } finally {
    closeSync(fd);
  }
};

// Control characters in ids or hosts would make log lines and the derived cluster id ambiguous.
const CONTROL = /[\u0000-\u001f\u007f]/;
const WHITESPACE_OR_CONTROL = /[\s\u0000-\u001f\u007f]/;

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return quote(value);
  if (typeof value === 'object') return 'an object';
  return String(value);
}

const portSchema = z
  .number({ error: (iss) => (iss.input === undefined ? '"port" is missing' : `"port" must be an integer 1..65535, got ${describe(iss.input)}`) })
  .int({ error: (iss) => `"port" must be an integer 1..65535, got ${describe(iss.input)}` })
  .min(1, { error: (iss) => `"port" must be an integer 1..65535, got ${describe(iss.input)}` })
  .max(65535, { error: (iss) => `"port" must be an integer 1..65535, got ${describe(iss.input)}` });

const hostSchema = z
  .string({ error: (iss) => (iss.input === undefined ? '"host" is missing' : `"host" must be a string, got ${describe(iss.input)}`) })
  .min(1, { error: '"host" must not be empty' })
  .refine((host) => !WHITESPACE_OR_CONTROL.test(host), { error: '"host" must not contain whitespace or control characters' });

const idSchema = z
  .string({ error: (iss) => `"id" must be a string, got ${describe(iss.input)}` })
  .min(1, { error: '"id" must not be empty' })
  .refine((id) => !CONTROL.test(id), { error: '"id" must not contain control characters' });

const objectEntrySchema = z.strictObject(
  { id: idSchema.optional(), host: hostSchema, port: portSchema },
  {
    error: (iss) =>
      iss.code === 'unrecognized_keys' ? `unknown key(s) ${iss.keys.map((k) => quote(k)).join(', ')}; expected "id", "host", "port"` : undefined,
  },
);

/** `host:port:0`; the host may itself contain colons (IPv6), so port and endpoint are taken from the right. */
const ORIGINAL_FORM = /^(.+):(\d{1,5}):0$/;

const EXPECTED_ENTRY = 'expected "host:port:0" or {"id": ..., "host": ..., "port": ...}';

function parseStringEntry(entry: string): { id: string; host: string; port: number } | string {
  const match = ORIGINAL_FORM.exec(entry);
  if (match === null) return `${quote(entry)} is not of the form "host:port:0"`;
  const address = entry.slice(0, entry.length - 2); // without ":0"
  let host = match[1] as string;
  const port = Number(match[2]);
  // "[::1]:3000:0": brackets delimit an IPv6 host in the address, but sockets want the bare address.
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  if (host.length === 0 || WHITESPACE_OR_CONTROL.test(host)) return `${quote(entry)} has an empty host or one with whitespace`;
  if (port < 1 || port > 65535) return `${quote(entry)}: port must be an integer 1..65535, got ${port}`;
  return { id: address, host, port };
}

function parseEntry(entry: unknown): { id: string; host: string; port: number } | string {
  if (typeof entry === 'string') return parseStringEntry(entry);
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) return `${EXPECTED_ENTRY}, got ${describe(entry)}`;
  const parsed = objectEntrySchema.safeParse(entry);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return issue === undefined ? EXPECTED_ENTRY : issue.message;
  }
  const { host, port } = parsed.data;
  return { id: parsed.data.id ?? `${host}:${port}`, host, port };
}

/**
 * Parses the text of a peers file. `file` only names the file in messages.
 * Throws UsageError on bad JSON, a non-array, an empty list or one over MAX_PEERS, a bad entry, or a duplicate id
 * or address.
 */
export function parsePeers(text: string, file: string): PeerAddress[] {
  // Explicitly typed so that TypeScript narrows after a call (an assertion-style `never` function).
  const fail: (problem: string) => never = (problem) => {
    throw new UsageError(`peers file ${file}: ${problem}`);
  };
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text; // editors on Windows add a BOM
  if (body.trim().length === 0) fail('is empty; expected a JSON array of nodes');
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch (error) {
    fail(`is not valid JSON (${error instanceof Error ? error.message : String(error)})`);
  }
  if (!Array.isArray(json)) fail(`expected a JSON array of nodes, got ${describe(json)}`);
  if (json.length === 0) fail('lists no nodes');
  if (json.length > MAX_PEERS) fail(`lists ${json.length} nodes; a cluster has at most ${MAX_PEERS}`);

  const peers: PeerAddress[] = [];
  const entryOfId = new Map<string, number>();
  const entryOfAddress = new Map<string, number>();
  json.forEach((raw: unknown, index: number) => {
    const n = index + 1; // 1-based: "entry 3" is the third node in the file
    const entry = parseEntry(raw);
    if (typeof entry === 'string') fail(`entry ${n}: ${entry}`);
    const { id, host, port } = entry;
    // Every node sends its id in its handshake hello; one the hello cannot carry would be refused by every peer.
    const idProblem = helloTextProblem(id);
    if (idProblem !== undefined) fail(`entry ${n}: id ${quote(id)} ${idProblem}`);
    const sameId = entryOfId.get(id);
    if (sameId !== undefined) fail(`duplicate id ${quote(id)} (entries ${sameId} and ${n})`);
    // Host names are case-insensitive; two spellings of one address would be two ids for one socket.
    const address = `${host.toLowerCase()}:${port}`;
    const sameAddress = entryOfAddress.get(address);
    if (sameAddress !== undefined) fail(`duplicate address ${host}:${port} (entries ${sameAddress} and ${n})`);
    entryOfId.set(id, n);
    entryOfAddress.set(address, n);
    peers.push({ id: nodeId(id), host, port });
  });
  return peers;
}

/** Reads and parses a peers file; unreadable files are UsageErrors naming the file, like every other problem. */
export function readPeersFile(file: string, readFile: ReadFile = readInputFile): PeerAddress[] {
  let bytes: Buffer;
  try {
    bytes = readFile(file);
  } catch (error) {
    throw new UsageError(`peers file ${file}: ${fileErrorText(error)}`);
  }
  return parsePeers(bytes.toString('utf8'), file);
}

/** The entry for the node listening at host:port (host compared case-insensitively). */
export function findSelf(peers: readonly PeerAddress[], host: string, port: number, file: string): PeerAddress {
  const wanted = host.toLowerCase();
  const self = peers.find((peer) => peer.port === port && peer.host.toLowerCase() === wanted);
  if (self !== undefined) return self;
  const listed = peers.slice(0, 4).map((peer) => `${peer.host}:${peer.port}`);
  if (peers.length > 4) listed.push('…');
  throw new UsageError(
    `peers file ${file}: does not list this node, ${host}:${port} (from -h/--host and -p/--port; hosts must match as written); it lists ${listed.join(', ')}`,
  );
}

/** The object form, one node per line, as `chatterbox cluster` writes it. Parses back to the same list. */
export function formatPeersFile(peers: readonly PeerAddress[]): string {
  const lines = peers.map((peer) => `  ${JSON.stringify({ id: peer.id, host: peer.host, port: peer.port })}`);
  return `[\n${lines.join(',\n')}\n]\n`;
}

/**
 * The default cluster id: the first 16 hex digits of sha256 over the sorted node ids joined by '\n'.
 * Nodes started from different peers files get different ids and so refuse each other's handshakes.
 * Ids cannot contain '\n' (control characters are rejected), so the joined text is unambiguous.
 */
export function deriveClusterId(ids: readonly NodeId[]): string {
  const sorted = [...ids].sort(compareNodeIds);
  return createHash('sha256').update(sorted.join('\n'), 'utf8').digest('hex').slice(0, 16);
}
