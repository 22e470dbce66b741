/**
 * Maelstrom's `kafka` workload (Gossip Glomers 5a–5c) as a deterministic state machine, for a consensus layer to
 * replicate, plus the pure mapping from client request bodies to what the node must do with them.
 *
 * Wire format (Maelstrom's src/maelstrom/workload/kafka.clj):
 * - `send {key, msg}` → `send_ok {offset}`: appends `msg` to the log named `key`.
 * - `poll {offsets: {key: offset}}` → `poll_ok {msgs: {key: [[offset, msg], …]}}`: for each key, contiguous
 *   messages starting at the asked offset; a key with nothing to return may be left out.
 * - `commit_offsets {offsets: {key: offset}}` → `commit_offsets_ok`: the client has processed each key up to
 *   and including that offset.
 * - `list_committed_offsets {keys: [key]}` → `list_committed_offsets_ok {offsets: {key: offset}}`; keys
 *   without a committed offset are left out.
 *
 * Theory. Every replica applies the same commands in the same order, so every replica's logs are prefixes of
 * one another's: offsets are dense from 0 (an offset is the message's index in its key's log), hence unique and
 * strictly increasing per key in commit order, and a message never moves. Committed offsets only grow: a commit
 * keeps the maximum of what is there and what is asked, so a late or replayed commit cannot move a consumer back.
 *
 * What goes through the log and what is read locally. `send` and `commit_offsets` change state: they are
 * commands, answered once committed and applied. `poll` and `list_committed_offsets` are answered from the
 * local replica's applied state without a round of consensus. Why that is enough for Maelstrom's checker
 * (jepsen.tests.kafka): a replica's applied state is a prefix of the committed log, so a local poll returns
 * messages at their true offsets (no inconsistent offsets, no duplicates) and contiguous from the asked offset
 * (no internal skip); a stale replica returns fewer messages, and the workload has no recency requirement ("servers
 * are free to acknowledge a sent message, but not return it in any polls for an arbitrarily long time"). A stale
 * committed offset only makes a consumer re-read what it had processed, which is allowed after an assign. What
 * it costs: a client that sends through one node and polls another may not see its own message at once.
 *
 * The shipped node runs this machine on Raft (src/consensus/, the same as lin-kv): `KAFKA_WORKLOAD` below. There
 * `list_committed_offsets` goes through a read index rather than the local state: a restarted replica replays its
 * log from the start, and a local list could show a client an offset lower than one it had listed before.
 *
 * Inputs are checked here, not trusted: a malformed request gets error 12 with a clear text, and every size has a
 * named bound, so that one client cannot grow a replica without limit.
 */
import { raftProtocol } from '../consensus/raft.js';
import type { StateMachine } from '../consensus/state-machine.js';
import type { RaftRequests, RaftTimer } from '../consensus/types.js';
import { raftWorkloadOptions } from './lin-kv.js';
import { MaelstromError, type Body, type ClientReply, type ClientRequest, type Workload } from './service.js';

// --- bounds

/** Distinct keys (logs) one cluster holds; a send to a new key past this is refused (error 14, not applied). */
export const MAX_KEYS = 1024;
/** Messages one key's log holds; a send past this is refused (error 14, not applied). */
export const MAX_MESSAGES_PER_KEY = 100_000;
/** Characters in a key. */
export const MAX_KEY_CHARS = 256;
/** Keys one poll, commit or list may name. */
export const MAX_KEYS_PER_REQUEST = 256;
/** Messages one poll returns per key: a consumer that is far behind catches up over several polls. */
export const POLL_BATCH_PER_KEY = 256;
/** Messages one poll returns over all its keys, so a reply stays a few hundred KiB at most. */
export const POLL_BATCH_TOTAL = 2048;
/** Nesting depth of a message (JSON arrays and objects). */
export const MAX_MSG_DEPTH = 32;
/** Values (scalars, arrays, objects, object keys) in one message. */
export const MAX_MSG_NODES = 4096;
/**
 * Characters in all the strings of one message, field names included: with MAX_MESSAGES_PER_KEY and Raft's batch
 * bound this bounds memory and the size of one replication line in bytes, not only in entries.
 */
export const MAX_MSG_CHARS = 65_536;
/** The one name a JSON object may carry that a JavaScript object (and the wire codec) cannot hold as its own. */
const PROTO_KEY = '__proto__';

// --- state, commands, results

/** A message as the workload defines it: JSON (Maelstrom's `s/Any`), returned exactly as it was sent. */
export type KafkaMsg = null | boolean | number | string | readonly KafkaMsg[] | { readonly [field: string]: KafkaMsg };

export interface KafkaState {
  /** Per key, its messages; the offset of a message is its index. */
  readonly logs: Map<string, KafkaMsg[]>;
  /** Per key, the highest offset a client committed. */
  readonly committed: Map<string, number>;
}

export type KafkaCommand =
  | { readonly op: 'send'; readonly key: string; readonly msg: KafkaMsg }
  | { readonly op: 'commit'; readonly offsets: Readonly<Record<string, number>> };

/** What applying a command answered: `error` leaves the state as it was. */
export type KafkaResult =
  | { readonly ok: 'send'; readonly offset: number }
  | { readonly ok: 'commit' }
  | { readonly error: number; readonly text: string };

/** Reads served from a replica's applied state (see the module comment for why no consensus round is needed). */
export type KafkaRead =
  | { readonly op: 'poll'; readonly offsets: Readonly<Record<string, number>> }
  | { readonly op: 'list'; readonly keys: readonly string[] };

/** What a node does with a client request body. */
export type KafkaPlan =
  | { readonly kind: 'command'; readonly command: KafkaCommand }
  | { readonly kind: 'read'; readonly read: KafkaRead }
  /** Answer at once (malformed request): nothing is applied. */
  | { readonly kind: 'reply'; readonly body: Body };

// --- validation

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value) && !ArrayBuffer.isView(value);

/** Why `key` is not a key, or null. */
function keyProblem(key: unknown): string | null {
  if (typeof key !== 'string') return `a key must be a string, got ${describe(key)}`;
  if (key.length > MAX_KEY_CHARS) return `a key is at most ${MAX_KEY_CHARS} characters, got ${key.length}`;
  if (key === PROTO_KEY) return `a key may not be ${PROTO_KEY} (no JavaScript object holds it as its own key)`;
  return null;
}

/** Why `offset` is not an offset, or null. */
function offsetProblem(offset: unknown): string | null {
  if (typeof offset !== 'number' || !Number.isSafeInteger(offset) || offset < 0) return `an offset must be an integer ≥ 0 (at most 2^53 − 1), got ${describe(offset)}`;
  return null;
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : 'a number JSON cannot carry';
  if (typeof value === 'string') return 'a string';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? (value === null ? 'null' : 'an object') : typeof value;
}

/**
 * Why `msg` is not a message the workload can return unchanged, or null: JSON with finite numbers, integers
 * within 2^53 (beyond, JSON parsers round them, so what came back would not be what was acknowledged), bounded in
 * depth, size and characters, without cycles, and without a `__proto__` field (the codec would not keep it).
 */
export function msgProblem(msg: unknown): string | null {
  let nodes = 0;
  let chars = 0;
  const tooLong = (text: string): boolean => (chars += text.length) > MAX_MSG_CHARS;
  const tooLongText = `a msg holds at most ${MAX_MSG_CHARS} characters of strings, field names included`;
  const walk = (value: unknown, depth: number): string | null => {
    if (++nodes > MAX_MSG_NODES) return `a msg holds at most ${MAX_MSG_NODES} values`;
    if (value === null || typeof value === 'boolean') return null;
    if (typeof value === 'number') {
      if (!Number.isFinite(value)) return 'a msg number must be finite';
      if (Number.isInteger(value) && !Number.isSafeInteger(value)) return `a msg integer must be within ±(2^53 − 1), got ${value}`;
      return null;
    }
    if (typeof value === 'string') return tooLong(value) ? tooLongText : null;
    if (depth >= MAX_MSG_DEPTH) return `a msg nests at most ${MAX_MSG_DEPTH} levels`;
    if (Array.isArray(value)) {
      for (const item of value) {
        const p = walk(item, depth + 1);
        if (p !== null) return p;
      }
      return null;
    }
    if (isRecord(value) && Object.getPrototypeOf(value) === Object.prototype) {
      for (const [field, item] of Object.entries(value)) {
        if (tooLong(field)) return tooLongText;
        // The wire codec would not carry it as the field it is: replicas would hold different messages.
        if (field === PROTO_KEY) return `a msg object may not have a field named ${PROTO_KEY}`;
        nodes++;
        const p = walk(item, depth + 1);
        if (p !== null) return p;
      }
      return null;
    }
    return `a msg must be JSON, got ${describe(value)}`;
  };
  if (msg === undefined) return 'send needs a msg';
  return walk(msg, 0);
}

/** A map of keys to offsets (poll, commit_offsets), or why not. */
function offsetsMap(type: string, value: unknown): Record<string, number> | string {
  if (!isRecord(value)) return `${type} needs offsets: an object of keys to offsets, got ${describe(value)}`;
  const entries = Object.entries(value);
  if (entries.length > MAX_KEYS_PER_REQUEST) return `${type} names at most ${MAX_KEYS_PER_REQUEST} keys, got ${entries.length}`;
  const out: Record<string, number> = {};
  for (const [key, offset] of entries) {
    const p = keyProblem(key) ?? offsetProblem(offset);
    if (p !== null) return `${type} offsets[${JSON.stringify(key.slice(0, 40))}]: ${p}`;
    out[key] = offset as number;
  }
  return out;
}

function malformed(text: string): KafkaPlan {
  return { kind: 'reply', body: { type: 'error', code: MaelstromError.malformedRequest, text } };
}

/** The request types of the workload (for a driver's `claims`). */
export const KAFKA_REQUEST_TYPES: readonly string[] = ['send', 'poll', 'commit_offsets', 'list_committed_offsets'];

export function isKafkaRequest(body: Body): boolean {
  return KAFKA_REQUEST_TYPES.includes(body.type);
}

/** What to do with a client request body: a command for the log, a local read, or an immediate error reply. */
export function planKafkaRequest(body: Body): KafkaPlan {
  switch (body.type) {
    case 'send': {
      const key = body['key'];
      const kp = keyProblem(key);
      if (kp !== null) return malformed(`send: ${kp}`);
      const mp = msgProblem(body['msg']);
      if (mp !== null) return malformed(`send: ${mp}`);
      return { kind: 'command', command: { op: 'send', key: key as string, msg: body['msg'] as KafkaMsg } };
    }
    case 'commit_offsets': {
      const offsets = offsetsMap('commit_offsets', body['offsets']);
      if (typeof offsets === 'string') return malformed(offsets);
      return { kind: 'command', command: { op: 'commit', offsets } };
    }
    case 'poll': {
      const offsets = offsetsMap('poll', body['offsets']);
      if (typeof offsets === 'string') return malformed(offsets);
      return { kind: 'read', read: { op: 'poll', offsets } };
    }
    case 'list_committed_offsets': {
      const keys = body['keys'];
      if (!Array.isArray(keys)) return malformed(`list_committed_offsets needs keys: an array of keys, got ${describe(keys)}`);
      if (keys.length > MAX_KEYS_PER_REQUEST) return malformed(`list_committed_offsets names at most ${MAX_KEYS_PER_REQUEST} keys, got ${keys.length}`);
      for (const key of keys) {
        const p = keyProblem(key);
        if (p !== null) return malformed(`list_committed_offsets: ${p}`);
      }
      return { kind: 'read', read: { op: 'list', keys: keys as string[] } };
    }
    default:
      return { kind: 'reply', body: { type: 'error', code: MaelstromError.notSupported, text: `kafka does not handle ${body.type}` } };
  }
}

// --- the state machine

function isOffsetsRecord(value: unknown): value is Record<string, number> {
  return isRecord(value) && Object.entries(value).every(([k, o]) => keyProblem(k) === null && offsetProblem(o) === null);
}

export const KAFKA_MACHINE: StateMachine<KafkaState, KafkaCommand, KafkaResult> = {
  name: 'kafka',
  init: () => ({ logs: new Map(), committed: new Map() }),
  apply(state, command) {
    if (command.op === 'send') {
      let log = state.logs.get(command.key);
      if (log === undefined) {
        if (state.logs.size >= MAX_KEYS) return { error: MaelstromError.abort, text: `the cluster holds at most ${MAX_KEYS} keys` };
        log = [];
        state.logs.set(command.key, log);
      }
      if (log.length >= MAX_MESSAGES_PER_KEY) return { error: MaelstromError.abort, text: `a key holds at most ${MAX_MESSAGES_PER_KEY} messages` };
      log.push(command.msg);
      return { ok: 'send', offset: log.length - 1 };
    }
    // Checked in full before anything changes, so a refused commit changes nothing.
    for (const [key, offset] of Object.entries(command.offsets)) {
      const length = state.logs.get(key)?.length ?? 0;
      if (offset >= length) return { error: MaelstromError.preconditionFailed, text: `commit_offsets: key ${JSON.stringify(key)} has no offset ${offset} (its log holds ${length})` };
    }
    for (const [key, offset] of Object.entries(command.offsets)) state.committed.set(key, Math.max(state.committed.get(key) ?? -1, offset));
    return { ok: 'commit' };
  },
  isCommand(value): value is KafkaCommand {
    if (!isRecord(value)) return false;
    if (value['op'] === 'send') return keyProblem(value['key']) === null && msgProblem(value['msg']) === null;
    if (value['op'] === 'commit') return isOffsetsRecord(value['offsets']) && Object.keys(value['offsets']).length <= MAX_KEYS_PER_REQUEST;
    return false;
  },
};

/** The reply to a command, once it is applied. */
export function kafkaCommandReply(result: KafkaResult): Body {
  if ('error' in result) return { type: 'error', code: result.error, text: result.text };
  return result.ok === 'send' ? { type: 'send_ok', offset: result.offset } : { type: 'commit_offsets_ok' };
}

/** The reply to a read, from this replica's applied state. */
export function answerKafkaRead(state: KafkaState, read: KafkaRead): Body {
  if (read.op === 'list') {
    const offsets: Record<string, number> = {};
    for (const key of read.keys) {
      const committed = state.committed.get(key);
      if (committed !== undefined) offsets[key] = committed;
    }
    return { type: 'list_committed_offsets_ok', offsets };
  }
  const msgs: Record<string, Array<[number, KafkaMsg]>> = {};
  let budget = POLL_BATCH_TOTAL;
  for (const [key, from] of Object.entries(read.offsets)) {
    const log = state.logs.get(key);
    if (log === undefined || from >= log.length || budget === 0) continue;
    const to = Math.min(log.length, from + POLL_BATCH_PER_KEY, from + budget);
    const pairs: Array<[number, KafkaMsg]> = [];
    for (let offset = from; offset < to; offset++) pairs.push([offset, log[offset] as KafkaMsg]);
    budget -= pairs.length;
    msgs[key] = pairs;
  }
  return { type: 'poll_ok', msgs };
}

/**
 * The machine's invariants: every key's log within its bound, every committed offset names a message of its
 * key's log (commits are checked against the log before they apply, and logs never shrink).
 */
export function kafkaInvariants(state: KafkaState): string | null {
  if (state.logs.size > MAX_KEYS) return `${state.logs.size} keys, more than ${MAX_KEYS}`;
  for (const [key, log] of state.logs) if (log.length > MAX_MESSAGES_PER_KEY) return `key ${key} holds ${log.length} messages`;
  for (const [key, offset] of state.committed) {
    const length = state.logs.get(key)?.length ?? 0;
    if (!(Number.isSafeInteger(offset) && offset >= 0 && offset < length)) return `key ${key} committed at ${offset}, beyond its log of ${length}`;
  }
  return null;
}

// --- the shipped node: the machine on Raft

/** Plans the request again where Raft hands it back (planning is pure and cheap; Raft keeps only the request). */
function plannedRead(body: Body): KafkaRead {
  const plan = planKafkaRequest(body);
  if (plan.kind !== 'read') throw new Error(`kafka: ${body.type} was classified as a read and is not one`);
  return plan.read;
}

export const KAFKA_REQUESTS: RaftRequests<KafkaState, KafkaCommand, KafkaResult, ClientRequest, ClientReply> = {
  classify({ token, body }) {
    const plan = planKafkaRequest(body);
    if (plan.kind === 'command') return { kind: 'command', command: plan.command };
    // Polls read the local replica's applied state: see the module comment for why that suffices. A list of
    // committed offsets is a linearizable read (read index): a restarted replica replays its log from the start,
    // and a local list could then show a client an offset lower than one it listed before. Lists are rare (an
    // assign), so the round costs little.
    if (plan.kind === 'read') return plan.read.op === 'list' ? { kind: 'read' } : { kind: 'local' };
    return { kind: 'reply', out: { token, body: plan.body } };
  },
  result: ({ token }, result) => ({ token, body: kafkaCommandReply(result) }),
  read: ({ token, body }, state) => ({ token, body: answerKafkaRead(state, plannedRead(body)) }),
  error: ({ token }, kind, text) => ({
    token,
    body: { type: 'error', code: kind === 'unavailable' ? MaelstromError.temporarilyUnavailable : MaelstromError.timeout, text },
  }),
};

export const KAFKA_PROTOCOL = raftProtocol(KAFKA_MACHINE, KAFKA_REQUESTS, 'kafka');

/** Claims the four kafka requests (no other workload names them). */
export const KAFKA_WORKLOAD: Workload<RaftTimer> = {
  name: 'kafka',
  claims: isKafkaRequest,
  protocol: KAFKA_PROTOCOL,
  options: () => raftWorkloadOptions(),
  durable: true,
};
