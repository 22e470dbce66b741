/**
 * A linearizability checker for Maelstrom's lin-kv workload: a map of independent compare-and-set registers.
 *
 * Theory. A history is linearizable when every operation can be given a point, between its invocation and its
 * completion, at which it takes effect atomically, such that the points, in order, are a legal run of the
 * sequential model (Herlihy & Wing, 1990). Registers of different keys are independent, so the history splits
 * per key and each key is checked alone (Knossos' `independent`, Porcupine's partitions): the search is
 * exponential in the concurrency, not in the length of the run.
 *
 * Per key, the search is Wing & Gong's (1993) with Lowe's memoization (2017), as Porcupine implements it: the
 * invocations and completions of the key's operations, in time order, form a linked list; the search walks it,
 * and at an invocation tries to linearize that operation now (the model accepts it from the current state),
 * lifting it out of the list; at a completion whose operation is not linearized yet, every order tried so far
 * is a dead end and it backtracks. A (set of linearized operations, register state) pair seen before is never
 * explored twice: the rest of the search depends on nothing else. Invocations sort before completions at the
 * same millisecond, so operations that touch at a boundary count as concurrent (the lenient reading: a clock
 * this coarse cannot order them).
 *
 * Operations, as Knossos reads them:
 * - `ok`: happened, between invocation and completion.
 * - `fail` (a definite error: 20 key does not exist, 22 precondition failed, …): did not happen, ignored.
 * - `info` (a timeout, an indefinite error): may take effect at any point after its invocation, or never. Its
 *   completion is at +∞, so it may be linearized anywhere later; once the walk reaches the first completion at
 *   +∞, every `ok` operation is linearized and whatever `info` operations are left simply never happened. An
 *   `info` read constrains nothing (its value is unknown) and is dropped.
 *
 * The model: a register that holds a value or is missing (a key never written). `write v` sets it; `cas [from,
 * to]` needs it to hold `from` and sets `to`; an `ok` read must return what it holds, where `null` (or an
 * absent value) stands for a missing key. (Knossos lets a nil read match anything; a Maelstrom node answers a
 * missing key with error 20, so a null it returns claims the key is missing, and is checked as such.)
 *
 * Bounds. The search takes at most `maxStepsPerKey` steps per key (a step is one visit of a list entry; a
 * deterministic count, not wall time, so a verdict is a function of the history), and its memo holds at most
 * MAX_MEMO_WORDS words of bitmaps. A key that hits either bound is
 * `unknown`, never `valid` or `invalid`: the bound can only withhold a verdict. The whole history is `invalid` if
 * any key is, else `unknown` if any key is, else `valid`.
 *
 * Witness. For an invalid key, the search remembers the deepest point it reached (the most operations
 * linearized): the operation whose completion it could not get past there, the register values it could have
 * held at that point, and the operations concurrent with it; the report prints them.
 */
import { canonicalKey } from './client.js';
import type { LinKvCheck, Op } from './types.js';

/** Steps per key before the verdict is `unknown`: 0.3 to 2 million steps a second here, so a few seconds at most per key. */
export const DEFAULT_MAX_STEPS_PER_KEY = 2_000_000;
/**
 * The memo's size per key, in 32-bit words of linearized-set bitmaps (64 MiB): each step can add an entry of
 * n/32 words, so for long keys the step bound alone would allow gigabytes. Reaching it is `unknown` too.
 */
export const MAX_MEMO_WORDS = 16 * 1024 * 1024;
/** Register values listed in a witness. */
const WITNESS_STATES = 8;
/** Concurrent operations listed in a witness. */
const WITNESS_CONCURRENT = 12;
/** Invalid keys whose witness is kept in full; the rest are counted. */
const WITNESS_KEYS = 5;

export type Verdict = true | false | 'unknown';

/** One register operation of one key, as the search sees it. */
export interface RegisterOp {
  /** The operation's index in the history, for the report. */
  readonly index: number;
  readonly f: 'read' | 'write' | 'cas';
  /** write: the value; cas: [from, to]; read: the value read (null: the key is missing). */
  readonly value: unknown;
  readonly type: 'ok' | 'info';
  readonly invokeMs: number;
  /** +∞ for `info`. */
  readonly completeMs: number;
  readonly client: string;
  readonly node: string;
}

export interface KeyVerdict {
  readonly key: unknown;
  readonly valid: Verdict;
  /** Operations of this key the search considered (ok, and info writes and cas). */
  readonly ops: number;
  readonly steps: number;
  /** For an invalid key: what could not be linearized, readable. */
  readonly witness?: Witness;
}

export interface Witness {
  /** The operation the search could not get past, at its deepest. */
  readonly op: RegisterOp;
  /** What the register could hold just before (`missing` for a key never written). */
  readonly states: readonly string[];
  /** Operations whose interval overlaps the stuck one's. */
  readonly concurrent: readonly RegisterOp[];
  /** How many operations of the key were linearized at that point. */
  readonly linearized: number;
}

export interface LinearizabilityResult {
  readonly valid: Verdict;
  readonly keys: readonly KeyVerdict[];
  /** Operations considered over all keys, and search steps taken. */
  readonly ops: number;
  readonly steps: number;
}

const MISSING = 'missing';

/** The register's state as a canonical string (so that equal JSON values compare equal). */
function stateOf(value: unknown): string {
  return value === null || value === undefined ? MISSING : canonicalKey(value);
}

/** The model's step: the state after `op` from `state`, or undefined when `op` cannot happen there. */
function step(state: string, op: RegisterOp): string | undefined {
  switch (op.f) {
    case 'write':
      return stateOf(op.value);
    case 'cas': {
      const [from, to] = op.value as readonly [unknown, unknown];
      return state !== MISSING && state === stateOf(from) ? stateOf(to) : undefined;
    }
    case 'read':
      return state === stateOf(op.value) ? state : undefined;
  }
}

/**
 * Checks one key's operations (ok and info; failed ones must be left out, info reads may be). Exported for the
 * fixtures and the property tests; the harness calls `checkLinearizableKv`.
 */
export function checkRegister(key: unknown, input: readonly RegisterOp[], maxSteps: number = DEFAULT_MAX_STEPS_PER_KEY): KeyVerdict {
  const ops = input.filter((op) => !(op.type === 'info' && op.f === 'read'));
  const n = ops.length;
  if (n === 0) return { key, valid: true, ops: 0, steps: 0 };
  // The entry list: entry 2i is op i's invocation, 2i+1 its completion; index 2n is the head sentinel.
  const times = ops.flatMap((op, i) => [
    { entry: 2 * i, at: op.invokeMs, call: 0 },
    { entry: 2 * i + 1, at: op.type === 'info' ? Infinity : op.completeMs, call: 1 },
  ]);
  times.sort((a, b) => a.at - b.at || a.call - b.call || a.entry - b.entry);
  const head = 2 * n;
  const next = new Int32Array(2 * n + 1).fill(-1);
  const prev = new Int32Array(2 * n + 1).fill(-1);
  let last = head;
  for (const t of times) {
    next[last] = t.entry;
    prev[t.entry] = last;
    last = t.entry;
  }
  const lift = (call: number): void => {
    const ret = call + 1;
    next[prev[call] as number] = next[call] as number;
    if (next[call] !== -1) prev[next[call] as number] = prev[call] as number;
    next[prev[ret] as number] = next[ret] as number;
    if (next[ret] !== -1) prev[next[ret] as number] = prev[ret] as number;
  };
  const unlift = (call: number): void => {
    const ret = call + 1;
    if (next[ret] !== -1) prev[next[ret] as number] = ret;
    next[prev[ret] as number] = ret;
    if (next[call] !== -1) prev[next[call] as number] = call;
    next[prev[call] as number] = call;
  };

  // The linearized set as a bitmap, with an incremental 2×32-bit Zobrist hash for the memo's buckets (entries in a
  // bucket are compared exactly, so a hash collision costs time, never a verdict).
  const words = Math.ceil(n / 32);
  const bits = new Uint32Array(words);
  const zobrist = new Uint32Array(2 * n);
  let seed = 0x9e3779b9;
  for (let i = 0; i < zobrist.length; i++) {
    seed = (Math.imul(seed ^ (seed >>> 15), 0x2c1b3c6d) + 0x6a09e667) | 0;
    zobrist[i] = (seed ^ (seed >>> 12)) >>> 0;
  }
  let h1 = 0;
  let h2 = 0;
  const memo = new Map<number, Array<{ h2: number; state: string; bits: Uint32Array }>>();
  let memoWords = 0;
  const remember = (state: string): boolean => {
    const bucket = memo.get(h1);
    if (bucket === undefined) {
      memo.set(h1, [{ h2, state, bits: bits.slice() }]);
      memoWords += words;
      return true;
    }
    for (const seen of bucket) if (seen.h2 === h2 && seen.state === state && sameBits(seen.bits, bits)) return false;
    bucket.push({ h2, state, bits: bits.slice() });
    memoWords += words;
    return true;
  };
  const toggle = (i: number): void => {
    bits[i >>> 5] = (bits[i >>> 5] as number) ^ (1 << (i & 31));
    h1 ^= zobrist[2 * i] as number;
    h2 ^= zobrist[2 * i + 1] as number;
  };

  const stack: Array<{ call: number; state: string }> = [];
  let state = MISSING;
  let entry = next[head] as number;
  let steps = 0;
  // The deepest point: the stuck completion there and the states seen at that depth.
  let deepest = -1;
  let stuck = -1;
  const deepStates = new Set<string>();
  while (entry !== -1) {
    if (++steps > maxSteps || memoWords > MAX_MEMO_WORDS) return { key, valid: 'unknown', ops: n, steps: steps - 1 };
    const i = entry >> 1;
    const op = ops[i] as RegisterOp;
    if ((entry & 1) === 0) {
      const after = step(state, op);
      if (after !== undefined) {
        toggle(i);
        if (remember(after)) {
          stack.push({ call: entry, state });
          state = after;
          lift(entry);
          entry = next[head] as number;
          continue;
        }
        toggle(i);
      }
      entry = next[entry] as number;
      continue;
    }
    // A completion of an operation not linearized yet.
    if (op.type === 'info') return { key, valid: true, ops: n, steps }; // every ok op is linearized: see the module comment
    if (stack.length > deepest) {
      deepest = stack.length;
      stuck = i;
      deepStates.clear();
    }
    if (stack.length === deepest && deepStates.size < WITNESS_STATES) deepStates.add(state);
    const top = stack.pop();
    if (top === undefined) break;
    toggle(top.call >> 1);
    state = top.state;
    unlift(top.call);
    entry = next[top.call] as number;
  }
  if (entry === -1) return { key, valid: true, ops: n, steps };
  const stuckOp = ops[stuck] as RegisterOp;
  const concurrent = ops.filter((o, j) => j !== stuck && o.invokeMs <= stuckOp.completeMs && o.completeMs >= stuckOp.invokeMs).slice(0, WITNESS_CONCURRENT);
  return { key, valid: false, ops: n, steps, witness: { op: stuckOp, states: [...deepStates], concurrent, linearized: deepest } };
}

function sameBits(a: Uint32Array, b: Uint32Array): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * The harness's lin-kv operations (value `[key, v]` for write, `[key, [from, to]]` for cas, `[key, null]` for
 * read, with the value read as `result`) grouped per key, failed ones left out. Pending operations count as info.
 */
export function registerOpsByKey(history: readonly Op[]): Map<string, { key: unknown; ops: RegisterOp[] }> {
  const byKey = new Map<string, { key: unknown; ops: RegisterOp[] }>();
  for (const op of history) {
    if (op.probe || op.type === 'fail') continue;
    if (op.f !== 'read' && op.f !== 'write' && op.f !== 'cas') continue;
    const [key, arg] = op.value as readonly [unknown, unknown];
    const type = op.type === 'ok' ? 'ok' : 'info';
    const k = canonicalKey(key);
    let group = byKey.get(k);
    if (group === undefined) byKey.set(k, (group = { key, ops: [] }));
    group.ops.push({
      index: op.index,
      f: op.f,
      value: op.f === 'read' ? (op.result ?? null) : arg,
      type,
      invokeMs: op.invokeMs,
      completeMs: type === 'info' ? Infinity : (op.completeMs as number),
      client: op.client,
      node: op.node,
    });
  }
  return byKey;
}

/** Checks every key of a lin-kv history. */
export function checkLinearizable(history: readonly Op[], maxStepsPerKey: number = DEFAULT_MAX_STEPS_PER_KEY): LinearizabilityResult {
  const keys: KeyVerdict[] = [];
  for (const { key, ops } of registerOpsByKey(history).values()) keys.push(checkRegister(key, ops, maxStepsPerKey));
  keys.sort((a, b) => (canonicalKey(a.key) < canonicalKey(b.key) ? -1 : 1));
  const valid: Verdict = keys.some((k) => k.valid === false) ? false : keys.some((k) => k.valid === 'unknown') ? 'unknown' : true;
  return { valid, keys, ops: keys.reduce((s, k) => s + k.ops, 0), steps: keys.reduce((s, k) => s + k.steps, 0) };
}

/** One operation, readable: `cas 1→3 ok by c4 on n2, 1203.5–1250 ms`. */
export function describeRegisterOp(op: RegisterOp): string {
  const what =
    op.f === 'write'
      ? `write ${JSON.stringify(op.value)}`
      : op.f === 'cas'
        ? `cas ${JSON.stringify((op.value as readonly unknown[])[0])}→${JSON.stringify((op.value as readonly unknown[])[1])}`
        : `read → ${op.value === null ? 'missing' : JSON.stringify(op.value)}`;
  const ms = (t: number): number => Math.round(t * 10) / 10;
  const end = op.completeMs === Infinity ? '…' : `${ms(op.completeMs)}`;
  return `#${op.index} ${what} ${op.type === 'ok' ? 'ok' : 'indefinite'} by ${op.client} on ${op.node}, ${ms(op.invokeMs)}–${end} ms`;
}

/** The problem lines of a result: one per invalid key (the first few with their witness), one for unknown keys. */
export function linearizabilityProblems(result: LinearizabilityResult): string[] {
  const lines: string[] = [];
  const invalid = result.keys.filter((k) => k.valid === false);
  for (const k of invalid.slice(0, WITNESS_KEYS)) {
    const w = k.witness;
    if (w === undefined) continue;
    const concurrent = w.concurrent.length === 0 ? 'none' : w.concurrent.map(describeRegisterOp).join('; ');
    lines.push(
      `key ${JSON.stringify(k.key)} is not linearizable: after ${w.linearized} of its ${k.ops} operations, ${describeRegisterOp(w.op)} cannot take effect ` +
        `(the register could hold only ${w.states.join(' or ')}); concurrent with it: ${concurrent}`,
    );
  }
  if (invalid.length > WITNESS_KEYS) lines.push(`${invalid.length - WITNESS_KEYS} more keys are not linearizable`);
  return lines;
}

/** The harness's lin-kv checker: every key of the history, per-key verdicts and the total. */
export function checkLinKv(history: readonly Op[], maxStepsPerKey: number = DEFAULT_MAX_STEPS_PER_KEY): LinKvCheck {
  const result = checkLinearizable(history, maxStepsPerKey);
  return {
    kind: 'lin-kv',
    valid: result.valid,
    problems: linearizabilityProblems(result),
    keys: result.keys.map(({ key, valid, ops, steps }) => ({ key, valid, ops, steps })),
    ops: result.ops,
    steps: result.steps,
    maxStepsPerKey,
  };
}
