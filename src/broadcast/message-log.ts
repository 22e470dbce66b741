/**
 * The state gossip broadcast replicates: every message broadcast so far, each under its dot (origin, seq).
 *
 * It is a grow-only map from dots to payloads, so join is union and a delta is just some messages. What a replica
 * holds is summarised exactly by the set of its dots, which the causal context keeps as a version vector plus the
 * few dots above it (a gap left by a lost message). That summary is the digest: two replicas compare digests and
 * each ships the other exactly the messages it lacks, whatever the size of the log.
 */
import { assert } from '../core/assert.js';
import { CausalContext } from '../crdt/causal-context.js';
import { isPlainData, packr, type PlainData } from '../crdt/data.js';
import type { Lattice } from '../replication/lattice.js';

export interface LoggedMessage<P = PlainData> {
  readonly origin: string;
  readonly seq: number;
  readonly payload: P;
}

/** Bounds on decoded input, so a hostile peer cannot make us allocate without limit. */
const MAX_ORIGINS = 100_000;
const MAX_MESSAGES_PER_DECODE = 10_000_000;

export class MessageLog {
  readonly context = new CausalContext();
  private readonly byOrigin = new Map<string, Map<number, PlainData>>();
  private count = 0;

  /** Appends a message from `origin` (only the origin itself appends its own); returns the delta. */
  append(origin: string, payload: PlainData): { delta: MessageLog; seq: number } {
    const { counter } = this.context.next(origin);
    this.put(origin, counter, payload);
    const delta = new MessageLog();
    delta.insert(origin, counter, payload);
    return { delta, seq: counter };
  }

  get size(): number {
    return this.count;
  }

  has(origin: string, seq: number): boolean {
    return this.context.contains(origin, seq);
  }

  /** Every message, by origin then seq: a deterministic order. */
  messages(): LoggedMessage[] {
    const out: LoggedMessage[] = [];
    for (const origin of [...this.byOrigin.keys()].sort()) {
      const entries = [...this.byOrigin.get(origin)!].sort((a, b) => a[0] - b[0]);
      for (const [seq, payload] of entries) out.push({ origin, seq, payload });
    }
    return out;
  }

  payloads(): PlainData[] {
    const out: PlainData[] = [];
    for (const messages of this.byOrigin.values()) for (const payload of messages.values()) out.push(payload);
    return out;
  }

  /** Adds a message unless its dot is already held; true if it was new. */
  insert(origin: string, seq: number, payload: PlainData): boolean {
    if (this.context.contains(origin, seq)) return false;
    this.context.insert(origin, seq);
    this.put(origin, seq, payload);
    return true;
  }

  private put(origin: string, seq: number, payload: PlainData): void {
    let messages = this.byOrigin.get(origin);
    if (messages === undefined) {
      messages = new Map();
      this.byOrigin.set(origin, messages);
    }
    messages.set(seq, payload);
    this.count++;
  }

  forEach(fn: (origin: string, seq: number, payload: PlainData) => void): void {
    for (const [origin, messages] of this.byOrigin) for (const [seq, payload] of messages) fn(origin, seq, payload);
  }

  /**
   * Asserts that the log holds exactly the messages its context names (a grow-only log keeps every dot it saw), the
   * context is canonical, and the count is right. O(messages): for the simulator and debug runs.
   */
  checkInvariants(): void {
    this.context.checkInvariants();
    let count = 0;
    for (const [origin, messages] of this.byOrigin) {
      assert(messages.size > 0, 'message log: an origin without messages');
      count += messages.size;
      for (const seq of messages.keys()) assert(this.context.contains(origin, seq), 'message log: a message outside its context');
    }
    assert(count === this.count, 'message log: the count is off');
    // Every held dot is in the context, so equal sizes mean the context names no message the log lacks.
    assert(this.context.dotCount() === count, 'message log: its context names messages it does not hold');
  }
}

/** Wire form: [[origin, [seq, payload, seq, payload, …]], …]. */
function encodeLog(log: MessageLog): Uint8Array {
  const groups = new Map<string, unknown[]>();
  log.forEach((origin, seq, payload) => {
    let flat = groups.get(origin);
    if (flat === undefined) {
      flat = [];
      groups.set(origin, flat);
    }
    flat.push(seq, payload);
  });
  return packr.pack([...groups]);
}

function decodeLog(bytes: Uint8Array): MessageLog {
  const raw: unknown = packr.unpack(bytes);
  if (!Array.isArray(raw) || raw.length > MAX_ORIGINS) throw new TypeError('a message log is an array of origins');
  const log = new MessageLog();
  let total = 0;
  for (const group of raw) {
    if (!Array.isArray(group) || group.length !== 2 || typeof group[0] !== 'string' || !Array.isArray(group[1])) {
      throw new TypeError('a message log origin is [origin, [seq, payload, …]]');
    }
    const [origin, flat] = group as [string, unknown[]];
    if (flat.length % 2 !== 0) throw new TypeError('an odd seq/payload list');
    total += flat.length / 2;
    if (total > MAX_MESSAGES_PER_DECODE) throw new RangeError('too many messages in one log');
    for (let k = 0; k < flat.length; k += 2) {
      const seq = flat[k];
      const payload = flat[k + 1];
      if (!Number.isSafeInteger(seq) || (seq as number) < 1) throw new TypeError(`bad seq ${String(seq)}`);
      if (!isPlainData(payload)) throw new TypeError('a payload is not plain data');
      log.insert(origin, seq as number, payload as PlainData);
    }
  }
  return log;
}

/** Digest: [[origin, top, [cloud counters…]], …]: what a replica holds, compactly. */
function encodeDigest(log: MessageLog): Uint8Array {
  const cloud = new Map<string, number[]>();
  for (const dot of log.context.cloudDots()) {
    let counters = cloud.get(dot.replica);
    if (counters === undefined) {
      counters = [];
      cloud.set(dot.replica, counters);
    }
    counters.push(dot.counter);
  }
  const rows: unknown[] = [];
  for (const origin of new Set([...log.context.versionVector().keys(), ...cloud.keys()])) {
    rows.push([origin, log.context.versionVector().get(origin) ?? 0, cloud.get(origin) ?? []]);
  }
  return packr.pack(rows);
}

function decodeDigest(bytes: Uint8Array): CausalContext {
  const raw: unknown = packr.unpack(bytes);
  if (!Array.isArray(raw) || raw.length > MAX_ORIGINS) throw new TypeError('a digest is an array of origins');
  const vv: Array<[string, number]> = [];
  const cloud: Array<{ replica: string; counter: number }> = [];
  for (const row of raw) {
    if (!Array.isArray(row) || row.length !== 3 || typeof row[0] !== 'string' || !Number.isSafeInteger(row[1]) || !Array.isArray(row[2])) {
      throw new TypeError('a digest row is [origin, top, [counters…]]');
    }
    const [origin, top, counters] = row as [string, number, unknown[]];
    if (top > 0) vv.push([origin, top]);
    for (const counter of counters) cloud.push({ replica: origin, counter: counter as number });
  }
  return CausalContext.fromParts(vv, cloud); // validates the counters
}

export const messageLogLattice: Lattice<MessageLog> = {
  empty: () => new MessageLog(),
  absorb(state, delta) {
    let novel: MessageLog | null = null;
    delta.forEach((origin, seq, payload) => {
      if (state.insert(origin, seq, payload)) (novel ??= new MessageLog()).insert(origin, seq, payload);
    });
    return novel;
  },
  merge(into, delta) {
    delta.forEach((origin, seq, payload) => into.insert(origin, seq, payload));
  },
  clone(value) {
    const copy = new MessageLog();
    value.forEach((origin, seq, payload) => copy.insert(origin, seq, payload));
    return copy;
  },
  encode: encodeLog,
  decode: decodeLog,
  digest: encodeDigest,
  invariants: (value) => value.checkInvariants(),
  missing(state, digest) {
    const theirs = decodeDigest(digest);
    let diff: MessageLog | null = null;
    state.forEach((origin, seq, payload) => {
      if (!theirs.contains(origin, seq)) (diff ??= new MessageLog()).insert(origin, seq, payload);
    });
    return diff;
  },
  lacks(state, digest) {
    const theirs = decodeDigest(digest);
    const ours = state.context;
    for (const [origin, top] of theirs.versionVector()) {
      // Dots ours lacks below their top: scan only above our own contiguous prefix.
      for (let seq = (ours.versionVector().get(origin) ?? 0) + 1; seq <= top; seq++) if (!ours.contains(origin, seq)) return true;
    }
    for (const dot of theirs.cloudDots()) if (!ours.contains(dot.replica, dot.counter)) return true;
    return false;
  },
};
