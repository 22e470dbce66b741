/**
 * The harness's kafka workload: Maelstrom's clients (src/maelstrom/workload/kafka.clj over jepsen.tests.kafka and
 * Elle's list-append generator) and the checks of jepsen.tests.kafka's checker, pure.
 *
 * Clients. Operations come from Elle's `wr-txns` with one micro-op per transaction: half reads, half writes; keys
 * from a pool of 10 active keys drawn exponentially (base 2: the first key twice as likely as the second, …),
 * a key retired for a fresh one after 32 writes; the values written to a key are 1, 2, 3, …; keys travel as
 * strings ("0", "1", …). A write is `send {key, msg}`. A read is `poll` with the client's own offsets: every client
 * keeps a map of the keys it is assigned to the offset it reads next, empty at first. With probability `subP`
 * (Jepsen's default 1/64) an operation is replaced by an `assign` of its key, a third of the time joined by every
 * key with sent messages no poll has returned yet: `list_committed_offsets {keys}`, after which the client keeps
 * its offsets of those keys, or else starts at the committed offset, or else at 0, and forgets the other keys. A
 * poll advances the client's offset of every key it returned past the highest offset returned, and a poll that
 * returned messages is followed by `commit_offsets` of the highest offsets it returned. A client whose request
 * times out is replaced by a fresh one (the backends do that, as Maelstrom does), with no offsets.
 *
 * Where this differs from Maelstrom: Maelstrom's client commits inside the poll operation (one operation, two
 * requests); here the commit is the client's next operation, so msgs-per-op counts it as an operation of its own
 * (polls that return messages are then about two operations instead of one). Maelstrom's periodic client crashes
 * (one per 30 s per client) are left out: timeouts already replace clients.
 *
 * Final polls (jepsen.tests.kafka `final-polls`): after the recovery wait, a fresh client per node assigns every key
 * seen, from offset 0, and polls every `FINAL_POLL_INTERVAL_MS` until, for every key, some poll has reached the
 * highest offset any operation saw for it, or `FINAL_POLL_LIMIT_MS` passed (Maelstrom clips them to 10 s).
 *
 * Checks (jepsen.tests.kafka `analysis`), each a kind of error with examples in the verdict:
 * - `inconsistent-offsets`: one offset of a key holds different messages (by acknowledged sends and polls).
 * - `duplicate`: one message appears at more than one offset of its key.
 * - `lost-write`: an acknowledged message was never polled although a message at a later offset of its key was.
 * - `unseen`: an acknowledged message no poll ever returned, not even the final polls.
 * - `G1a` (aborted read): a poll returned a message whose send failed definitely.
 * - `int-poll-skip` / `int-nonmonotonic-poll`: one poll skipped a known message of a key, or went backwards.
 * - `poll-skip` / `nonmonotonic-poll`: a client's poll did not start right after where its previous poll of the
 *   key ended (skipping known messages, or reading again), unless an assign in between reset that key.
 * - `nonmonotonic-send`: a client's sends to a key got offsets that do not increase.
 * - `future-read`: a poll returned a message whose send began after the poll had completed (Elle's G1c-realtime,
 *   which with only write-read and real-time edges reduces to this).
 * - `unknown-message`: a poll returned a message no client sent.
 * - `committed-offset-backwards`: a client listed a key's committed offset lower than its previous list did
 *   (committed offsets only grow); `committed-offset-invented`: a listed committed offset no client committed.
 *   Maelstrom does not check committed offsets at all.
 * Offsets are compared by their index in each key's known order (offsets may be sparse), as Jepsen does.
 */
import type { Prng } from '../core/prng.js';
import { canonicalKey, type OpSpec } from './client.js';
import type { Op } from './types.js';

/** Elle's defaults for `wr-txns`: 10 active keys, exponential distribution of base 2, 32 writes per key. */
export const KAFKA_KEY_COUNT = 10;
const KEY_DIST_BASE = 2;
export const KAFKA_MAX_WRITES_PER_KEY = 32;
/** jepsen.tests.kafka's default `sub-p`: the chance that an operation is replaced by an assign. */
export const MAELSTROM_SUB_P = 1 / 64;
/** The chance that an assign also takes every key with messages sent and not yet polled (PollUnseen). */
const POLL_UNSEEN_P = 1 / 3;
/** Final polls: Jepsen's `(gen/stagger 1/5)`, and Maelstrom's 10 s clip. */
export const FINAL_POLL_INTERVAL_MS = 200;
export const FINAL_POLL_LIMIT_MS = 10_000;
/** Examples kept per kind of error. */
const EXAMPLES = 5;

export type KafkaF = 'send' | 'poll' | 'commit_offsets' | 'list_committed_offsets';

export function isKafkaF(f: string): f is KafkaF {
  return f === 'send' || f === 'poll' || f === 'commit_offsets' || f === 'list_committed_offsets';
}

type Pairs = ReadonlyArray<readonly [number, unknown]>;
type MsgsByKey = Readonly<Record<string, Pairs>>;

interface ClientState {
  /** Keys assigned (or seen in a poll) to the offset read next. */
  offsets: Map<string, number>;
  /** The highest offsets the last poll returned, to commit next. */
  pendingCommit: Record<string, number> | null;
}

/**
 * Maelstrom's kafka clients, for both backends: `next(client)` is that client's next operation; every completed
 * operation goes to `completed`, which advances the client's offsets as the Maelstrom client does.
 */
export class KafkaClients {
  private readonly clients = new Map<string, ClientState>();
  /** Elle's key pool and per-key write counts. */
  private activeKeys: number[] = Array.from({ length: KAFKA_KEY_COUNT }, (_, i) => i);
  private readonly writes = new Map<number, number>();
  /** Highest offsets acknowledged and polled per key (PollUnseen), and the highest seen at all (final polls). */
  private readonly sent = new Map<string, number>();
  private readonly polled = new Map<string, number>();
  private readonly maxSeen = new Map<string, number>();
  /** Keys whose target the final polls have not reached yet; null until the final polls begin. */
  private finalTargets: Map<string, number> | null = null;

  constructor(
    private readonly prng: Prng,
    private readonly subP: number = MAELSTROM_SUB_P,
  ) {}

  next(client: string): OpSpec {
    const state = this.client(client);
    if (state.pendingCommit !== null) {
      const offsets = state.pendingCommit;
      state.pendingCommit = null;
      return { f: 'commit_offsets', value: { offsets }, body: { type: 'commit_offsets', offsets } };
    }
    const write = this.prng.chance(0.5);
    const key = this.drawKey(write);
    if (this.prng.chance(this.subP)) {
      const keys = new Set([String(key)]);
      if (this.prng.chance(POLL_UNSEEN_P)) for (const [k, o] of this.sent) if ((this.polled.get(k) ?? -1) < o) keys.add(k);
      const list = [...keys];
      return { f: 'list_committed_offsets', value: { keys: list }, body: { type: 'list_committed_offsets', keys: list } };
    }
    if (!write) return this.pollSpec(state);
    const msg = (this.writes.get(key) ?? 0) + 1;
    this.writes.set(key, msg);
    return { f: 'send', value: { key: String(key), msg }, body: { type: 'send', key: String(key), msg } };
  }

  completed(op: Op): void {
    if (!isKafkaF(op.f) || op.type !== 'ok') return;
    const state = this.client(op.client);
    switch (op.f) {
      case 'send': {
        const { key } = op.value as { key: string };
        const offset = op.result as number;
        this.sent.set(key, Math.max(this.sent.get(key) ?? -1, offset));
        this.see(key, offset);
        return;
      }
      case 'poll': {
        const msgs = op.result as MsgsByKey;
        const commit: Record<string, number> = {};
        for (const [key, pairs] of Object.entries(msgs)) {
          let max = -1;
          for (const [offset] of pairs) max = Math.max(max, offset);
          if (max < 0) continue;
          state.offsets.set(key, Math.max(state.offsets.get(key) ?? 0, max + 1));
          commit[key] = max;
          this.polled.set(key, Math.max(this.polled.get(key) ?? -1, max));
          this.see(key, max);
          if (this.finalTargets !== null && (this.finalTargets.get(key) ?? Infinity) <= max) this.finalTargets.delete(key);
        }
        if (Object.keys(commit).length > 0 && !op.final) state.pendingCommit = commit;
        return;
      }
      case 'list_committed_offsets': {
        const { keys } = op.value as { keys: readonly string[] };
        const committed = op.result as Readonly<Record<string, number>>;
        const offsets = new Map<string, number>();
        for (const key of keys) offsets.set(key, state.offsets.get(key) ?? committed[key] ?? 0);
        state.offsets = offsets;
        return;
      }
      case 'commit_offsets':
        return;
    }
  }

  /**
   * Starts the final polls: from now on `finalPoll` serves fresh clients that read every key seen from offset 0,
   * and `finalDone` says when every key's highest offset seen so far has been polled.
   */
  beginFinalPolls(): void {
    this.finalTargets = new Map(this.maxSeen);
  }

  finalDone(): boolean {
    return this.finalTargets !== null && this.finalTargets.size === 0;
  }

  /** The next final poll of `client` (a client the final polls own). */
  finalPoll(client: string): OpSpec {
    let state = this.clients.get(client);
    if (state === undefined) {
      // Assigned every key, seeking to the beginning: no request (Jepsen's `:seek-to-beginning? true`).
      state = { offsets: new Map([...this.maxSeen.keys()].map((k) => [k, 0])), pendingCommit: null };
      this.clients.set(client, state);
    }
    return this.pollSpec(state);
  }

  private pollSpec(state: ClientState): OpSpec {
    const offsets = Object.fromEntries(state.offsets);
    return { f: 'poll', value: { offsets }, body: { type: 'poll', offsets } };
  }

  private see(key: string, offset: number): void {
    this.maxSeen.set(key, Math.max(this.maxSeen.get(key) ?? -1, offset));
  }

  private client(id: string): ClientState {
    let state = this.clients.get(id);
    if (state === undefined) {
      state = { offsets: new Map(), pendingCommit: null };
      this.clients.set(id, state);
    }
    return state;
  }

  /** Elle's `rand-key` (exponential) with key rotation after `KAFKA_MAX_WRITES_PER_KEY` writes. */
  private drawKey(write: boolean): number {
    for (;;) {
      const scale = ((KEY_DIST_BASE ** KAFKA_KEY_COUNT - 1) * KEY_DIST_BASE) / (KEY_DIST_BASE - 1);
      const i = Math.floor(Math.log(this.prng.float() * scale + KEY_DIST_BASE) / Math.log(KEY_DIST_BASE) - 1);
      const index = Math.min(Math.max(i, 0), this.activeKeys.length - 1);
      const key = this.activeKeys[index] as number;
      if (!write || (this.writes.get(key) ?? 0) < KAFKA_MAX_WRITES_PER_KEY) return key;
      this.activeKeys[index] = Math.max(...this.activeKeys) + 1;
    }
  }
}

// ---------------------------------------------------------------------------------------------------------
// The checker

export const KAFKA_ERROR_KINDS = [
  'inconsistent-offsets',
  'duplicate',
  'lost-write',
  'unseen',
  'G1a',
  'int-poll-skip',
  'int-nonmonotonic-poll',
  'poll-skip',
  'nonmonotonic-poll',
  'nonmonotonic-send',
  'future-read',
  'unknown-message',
  'committed-offset-backwards',
  'committed-offset-invented',
] as const;
export type KafkaErrorKind = (typeof KAFKA_ERROR_KINDS)[number];

export interface KafkaCheck {
  readonly kind: 'kafka';
  readonly valid: boolean;
  /** One line per kind of error found, with examples. */
  readonly problems: readonly string[];
  readonly sends: { readonly attempted: number; readonly acknowledged: number };
  readonly polls: { readonly ok: number; readonly messages: number };
  readonly keys: number;
  /** Per kind of error found: how many, and a few examples. */
  readonly errors: Readonly<Partial<Record<KafkaErrorKind, { readonly count: number; readonly examples: readonly string[] }>>>;
}

interface KeyOrder {
  /** offset → the messages (canonical keys) seen there. */
  readonly log: Map<number, Set<string>>;
  /** Dense index of each message (first offset it was seen at, in offset order). */
  readonly byValue: Map<string, number>;
  /** Messages in dense order. */
  readonly byIndex: string[];
}

function sendOf(op: Op): { key: string; msg: unknown } {
  return op.value as { key: string; msg: unknown };
}

function pollMsgs(op: Op): MsgsByKey {
  return op.type === 'ok' && op.f === 'poll' ? (op.result as MsgsByKey) : {};
}

/** jepsen.tests.kafka's analysis over a completed history (pending operations count as indefinite). */
export function checkKafka(ops: readonly Op[]): KafkaCheck {
  const errors = new Map<KafkaErrorKind, { count: number; examples: string[] }>();
  const report = (kind: KafkaErrorKind, example: () => string): void => {
    let e = errors.get(kind);
    if (e === undefined) errors.set(kind, (e = { count: 0, examples: [] }));
    e.count++;
    if (e.examples.length < EXAMPLES) e.examples.push(example());
  };
  const kafkaOps = ops.filter((op) => isKafkaF(op.f));
  const sends = kafkaOps.filter((op) => op.f === 'send');
  const okPolls = kafkaOps.filter((op) => op.f === 'poll' && op.type === 'ok');

  // Who sent what, and what ok polls read (per key, by canonical message).
  const writerOf = new Map<string, Map<string, Op>>();
  for (const op of sends) {
    const { key, msg } = sendOf(op);
    let m = writerOf.get(key);
    if (m === undefined) writerOf.set(key, (m = new Map()));
    m.set(canonicalKey(msg), op);
  }
  const read = new Map<string, Set<string>>();
  for (const op of okPolls) {
    for (const [key, pairs] of Object.entries(pollMsgs(op))) {
      let s = read.get(key);
      if (s === undefined) read.set(key, (s = new Set()));
      for (const [, msg] of pairs) s.add(canonicalKey(msg));
    }
  }
  const wasRead = (key: string, value: string): boolean => read.get(key)?.has(value) ?? false;
  /** Jepsen's must-have-committed?: ok, or indefinite with its message seen by an ok poll. */
  const mustHaveCommitted = (op: Op): boolean => op.type === 'ok' || (op.type !== 'fail' && wasRead(sendOf(op).key, canonicalKey(sendOf(op).msg)));

  // Version orders: every offset's messages, from sends known to have happened and from every ok poll.
  const logs = new Map<string, Map<number, Set<string>>>();
  const note = (key: string, offset: number, value: string): void => {
    let log = logs.get(key);
    if (log === undefined) logs.set(key, (log = new Map()));
    let at = log.get(offset);
    if (at === undefined) log.set(offset, (at = new Set()));
    at.add(value);
  };
  for (const op of sends) if (op.type === 'ok' && typeof op.result === 'number') note(sendOf(op).key, op.result, canonicalKey(sendOf(op).msg));
  for (const op of okPolls) for (const [key, pairs] of Object.entries(pollMsgs(op))) for (const [offset, msg] of pairs) note(key, offset, canonicalKey(msg));
  const orders = new Map<string, KeyOrder>();
  for (const [key, log] of logs) {
    const byValue = new Map<string, number>();
    const byIndex: string[] = [];
    for (const offset of [...log.keys()].sort((a, b) => a - b)) {
      const values = log.get(offset) as Set<string>;
      if (values.size > 1) report('inconsistent-offsets', () => `key ${key} offset ${offset} holds ${[...values].join(' and ')}`);
      for (const v of values) if (!byValue.has(v)) byValue.set(v, byIndex.length);
      byIndex.push([...values][0] as string);
    }
    orders.set(key, { log, byValue, byIndex });
    // duplicate: one message at several offsets.
    const offsetsOf = new Map<string, number[]>();
    for (const [offset, values] of log) for (const v of values) offsetsOf.set(v, [...(offsetsOf.get(v) ?? []), offset]);
    for (const [v, offsets] of offsetsOf) if (offsets.length > 1) report('duplicate', () => `key ${key} message ${v} at offsets ${offsets.sort((a, b) => a - b).join(', ')}`);
  }
  const indexOf = (key: string, value: string): number | undefined => orders.get(key)?.byValue.get(value);

  // Messages read that nobody sent; aborted reads; reads from the future.
  for (const op of okPolls) {
    for (const [key, pairs] of Object.entries(pollMsgs(op))) {
      for (const [offset, msg] of pairs) {
        const value = canonicalKey(msg);
        const writer = writerOf.get(key)?.get(value);
        if (writer === undefined) {
          report('unknown-message', () => `${op.client} polled ${value} at key ${key} offset ${offset}, which no client sent`);
          continue;
        }
        if (writer.type === 'fail') report('G1a', () => `${op.client} polled ${value} at key ${key} offset ${offset}, whose send failed (${errorText(writer)})`);
        if (op.completeMs !== null && writer.invokeMs > op.completeMs) {
          report('future-read', () => `${op.client} polled ${value} at key ${key} (${op.invokeMs}–${op.completeMs} ms), sent only at ${writer.invokeMs} ms`);
        }
      }
    }
  }

  // Lost writes: below the highest index any ok poll read, every message that must have been sent must have been read.
  for (const [key, values] of read) {
    const order = orders.get(key);
    if (order === undefined) continue;
    let bound = -1;
    let maxValue = '';
    for (const v of values) {
      const i = order.byValue.get(v);
      if (i !== undefined && i > bound) [bound, maxValue] = [i, v];
    }
    // The last index each message was seen at: a message is owed if it last appears at or below the bound.
    const lastIndex = new Map<string, number>();
    let dense = 0;
    for (const offset of [...order.log.keys()].sort((a, b) => a - b)) {
      for (const v of order.log.get(offset) as Set<string>) lastIndex.set(v, dense);
      dense++;
    }
    for (const [v, i] of lastIndex) {
      if (i > bound || values.has(v)) continue;
      const writer = writerOf.get(key)?.get(v);
      if (writer === undefined || !mustHaveCommitted(writer)) continue;
      report('lost-write', () => `key ${key}: ${v} (sent by ${writer.client}, ${writer.type}, at index ${i}) was never polled, though ${maxValue} at index ${bound} was`);
    }
  }

  // Unseen: acknowledged and never polled.
  for (const op of sends) {
    if (op.type !== 'ok') continue;
    const { key, msg } = sendOf(op);
    if (!wasRead(key, canonicalKey(msg))) report('unseen', () => `key ${key}: ${canonicalKey(msg)} acknowledged at offset ${String(op.result)} by ${op.node}, never polled`);
  }

  // Within one poll: consecutive messages of a key must be neighbours in the key's order.
  for (const op of okPolls) {
    for (const [key, pairs] of Object.entries(pollMsgs(op))) {
      for (let j = 1; j < pairs.length; j++) {
        const a = canonicalKey((pairs[j - 1] as readonly [number, unknown])[1]);
        const b = canonicalKey((pairs[j] as readonly [number, unknown])[1]);
        const ia = indexOf(key, a);
        const ib = indexOf(key, b);
        const delta = ia !== undefined && ib !== undefined ? ib - ia : 1;
        if (delta > 1) report('int-poll-skip', () => `${op.client} polled ${a} then ${b} at key ${key}, skipping ${skipped(orders.get(key), ia, ib)}`);
        if (delta < 1) report('int-nonmonotonic-poll', () => `${op.client} polled ${a} then ${b} at key ${key} in one poll (index ${ia} then ${ib})`);
      }
    }
  }

  // Across one client's polls, and its sends.
  const byClient = new Map<string, Op[]>();
  for (const op of kafkaOps) byClient.set(op.client, [...(byClient.get(op.client) ?? []), op]);
  for (const [client, clientOps] of byClient) {
    const lastRead = new Map<string, string>();
    const lastSent = new Map<string, string>();
    const lastListed = new Map<string, number>();
    for (const op of [...clientOps].sort((a, b) => a.invokeMs - b.invokeMs || a.index - b.index)) {
      if (op.f === 'list_committed_offsets') {
        if (op.type === 'fail') continue;
        // An assign keeps only the keys it names (Jepsen keeps the last reads of those).
        const keys = new Set((op.value as { keys: readonly string[] }).keys);
        for (const k of [...lastRead.keys()]) if (!keys.has(k)) lastRead.delete(k);
        if (op.type === 'ok') {
          for (const [key, offset] of Object.entries(op.result as Record<string, number>)) {
            const before = lastListed.get(key);
            if (before !== undefined && offset < before) report('committed-offset-backwards', () => `${client} listed key ${key} committed at ${offset} after ${before}`);
            lastListed.set(key, Math.max(before ?? -1, offset));
          }
        }
      } else if (op.f === 'poll' && op.type === 'ok') {
        for (const [key, pairs] of Object.entries(pollMsgs(op))) {
          const first = pairs[0];
          const last = pairs[pairs.length - 1];
          if (first === undefined || last === undefined) continue;
          const prev = lastRead.get(key);
          if (prev !== undefined) {
            const v = canonicalKey(first[1]);
            const i = indexOf(key, prev);
            const j = indexOf(key, v);
            const delta = i !== undefined && j !== undefined ? j - i : 1;
            if (delta > 1) report('poll-skip', () => `${client} polled key ${key} up to ${prev}, then from ${v}, skipping ${skipped(orders.get(key), i, j)}`);
            if (delta < 1) report('nonmonotonic-poll', () => `${client} polled key ${key} up to ${prev} (index ${i}), then from ${v} (index ${j})`);
          }
          lastRead.set(key, canonicalKey(last[1]));
        }
      } else if (op.f === 'send' && op.type !== 'fail') {
        const { key, msg } = sendOf(op);
        const v = canonicalKey(msg);
        const prev = lastSent.get(key);
        if (prev !== undefined) {
          const i = indexOf(key, prev);
          const j = indexOf(key, v);
          if (i !== undefined && j !== undefined && j - i < 1) report('nonmonotonic-send', () => `${client} sent ${prev} (index ${i}) then ${v} (index ${j}) to key ${key}`);
        }
        lastSent.set(key, v);
      }
    }
  }

  // Committed offsets listed must be offsets some client asked to commit (commits only take the maximum).
  const committedAsked = new Map<string, Set<number>>();
  for (const op of kafkaOps) {
    if (op.f !== 'commit_offsets' || op.type === 'fail') continue;
    for (const [key, offset] of Object.entries((op.value as { offsets: Record<string, number> }).offsets)) {
      let s = committedAsked.get(key);
      if (s === undefined) committedAsked.set(key, (s = new Set()));
      s.add(offset);
    }
  }
  for (const op of kafkaOps) {
    if (op.f !== 'list_committed_offsets' || op.type !== 'ok') continue;
    for (const [key, offset] of Object.entries(op.result as Record<string, number>)) {
      if (!(committedAsked.get(key)?.has(offset) ?? false)) report('committed-offset-invented', () => `${op.client} listed key ${key} committed at ${offset}, which no client committed`);
    }
  }

  const problems = KAFKA_ERROR_KINDS.filter((k) => errors.has(k)).map((k) => {
    const e = errors.get(k) as { count: number; examples: string[] };
    return `${k}: ${e.count} (${e.examples.join('; ')}${e.count > e.examples.length ? '; …' : ''})`;
  });
  return {
    kind: 'kafka',
    valid: problems.length === 0,
    problems,
    sends: { attempted: sends.length, acknowledged: sends.filter((op) => op.type === 'ok').length },
    polls: { ok: okPolls.length, messages: okPolls.reduce((n, op) => n + Object.values(pollMsgs(op)).reduce((m, p) => m + p.length, 0), 0) },
    keys: orders.size,
    errors: Object.fromEntries(errors),
  };
}

function skipped(order: KeyOrder | undefined, from: number | undefined, to: number | undefined): string {
  if (order === undefined || from === undefined || to === undefined) return 'known messages';
  const gap = order.byIndex.slice(from + 1, to);
  return gap.length <= EXAMPLES ? gap.join(', ') : `${gap.slice(0, EXAMPLES).join(', ')}, … (${gap.length})`;
}

function errorText(op: Op): string {
  const e = op.error;
  if (e === undefined) return op.type ?? 'pending';
  return e.kind === 'code' ? `error ${e.code}` : e.kind;
}
