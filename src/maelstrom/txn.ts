/**
 * Maelstrom's `txn-rw-register` (Gossip Glomers 6a–6c): totally available transactions over registers, read
 * committed, on delta anti-entropy.
 *
 * A client sends `{type: "txn", txn: [["r", k, null], ["w", k, v], …]}` and gets `{type: "txn_ok", txn: […]}` back
 * with every read filled in (null: never written). Every node answers every transaction from its own replica at
 * once, whatever the network does: no coordination on the request path, hence total availability.
 *
 * The replica is a map of last-writer-wins registers, each holding its value and the stamp of the transaction
 * that wrote it. A stamp is (ts, writer): ts a hybrid logical clock in µs, advanced past every stamp the replica
 * holds (so past every stamp it has seen: a losing write's stamp is below the winner it lost to), writer the
 * replica id of this incarnation (delta-sync's `ctx.writer`: new after a restart, since a Maelstrom node keeps
 * nothing on disk), so stamps are unique.
 *
 * A transaction runs in one protocol step, so nothing interleaves with it. Its reads see the replica and its own
 * earlier writes (a local overlay); its final write per key (never an intermediate one) is stamped with ONE stamp
 * and goes into the replica and out to peers as ONE delta. Delta-sync absorbs a delta (or an interval, a join
 * of deltas) in one step, so a peer applies a transaction's writes all at once.
 *
 * Why that is read committed (Adya's PL-2: no G0, G1a, G1b, G1c), hence read uncommitted (PL-1: no G0):
 * - G1a (aborted reads): no transaction is aborted after it wrote. A malformed one gets error 12 and a full
 *   store error 14 before anything is written.
 * - G1b (intermediate reads): only a transaction's final write per key ever leaves its step.
 * - G0, G1c (cycles of ww and wr edges): order writing transactions by stamp. The version order of each key is
 *   its writes' stamp order (LWW: a write with a smaller stamp is never read after a larger one is held), so a
 *   ww edge Ti → Tj has stamp(Ti) < stamp(Tj). A wr edge Ti → Tj means Tj read Ti's write, so Tj's replica held
 *   stamp(Ti) when Tj ran, and Tj's stamp (if it writes) is above it. A read-only transaction has no ww or wr
 *   edge out of it, so it is on no such cycle. Every edge of a cycle would go up in stamp order: there is none.
 * What it does not give: anything stronger (lost updates and fractured reads across keys written by different
 * transactions are allowed; a read may miss a write acknowledged elsewhere until it arrives). Its state is durable
 * (delta-sync's `durable`): with a data dir a crashed node keeps what it acknowledged; without one (Maelstrom's
 * nodes keep nothing) the writes it had not passed on yet are gone, and the harness counts its answers as
 * indefinite, as Jepsen does for a crashed node.
 *
 * Invariants (`TxnStore.checkInvariants`, run after every step in the simulator): every register is filed
 * under its key, holds a stamp of a non-negative integer ts and a writer id, and the store's clock is at or above
 * every stamp it holds. Bounds: MAX_TXN_OPS micro-operations per transaction, MAX_TXN_STRING characters per
 * string key or value, and MAX_TXN_KEYS keys that this node's own transactions may create (a transaction that
 * would pass it is aborted before it writes); peers' keys are joined as they come, since a lattice cannot refuse
 * them, so a cluster holds at most nodes × MAX_TXN_KEYS keys.
 */
import { assert } from '../core/assert.js';
import { packr } from '../crdt/data.js';
import type { Lattice } from '../replication/lattice.js';
import type { ReplicatedService, ServiceContext, ServiceResult } from '../replication/delta-sync.js';
import { MaelstromError, type Body, type ClientReply, type ClientRequest } from './service.js';

/** Micro-operations per transaction (Maelstrom's default `--max-txn-length` is 4). */
export const MAX_TXN_OPS = 256;
/** Keys a node lets its own transactions create; beyond, a transaction writing a new key is aborted (14). */
export const MAX_TXN_KEYS = 100_000;
/** Characters of a string key or value (Maelstrom's are integers; strings are allowed, bounded). */
export const MAX_TXN_STRING = 256;

/** A key or a written value: Maelstrom's are integers; short strings are allowed too. */
export type TxnValue = number | string;
/** A micro-operation as it comes and goes on the wire: a read's value is null in a request. */
export type MicroOp = readonly ['r', TxnValue, TxnValue | null] | readonly ['w', TxnValue, TxnValue];

/** One register: its value and the stamp of the transaction that wrote it. */
export interface Register {
  readonly key: TxnValue;
  readonly value: TxnValue;
  readonly ts: number;
  readonly writer: string;
}

/** Orders stamps: ts, then writer id. Two registers of one stamp and key are one write (stamps are unique). */
export function compareStamps(a: { readonly ts: number; readonly writer: string }, b: { readonly ts: number; readonly writer: string }): number {
  if (a.ts !== b.ts) return a.ts < b.ts ? -1 : 1;
  return a.writer < b.writer ? -1 : a.writer > b.writer ? 1 : 0;
}

function isTxnValue(value: unknown): value is TxnValue {
  return (typeof value === 'number' && Number.isSafeInteger(value)) || (typeof value === 'string' && value.length <= MAX_TXN_STRING);
}

/** Map keys: 1 and "1" are different Maelstrom keys. */
function slot(key: TxnValue): string {
  return typeof key === 'number' ? `n${key}` : `s${key}`;
}

/** The replica: a map of LWW registers, and the clock (the largest ts it holds). A join-semilattice. */
export class TxnStore {
  readonly registers = new Map<string, Register>();
  /** The largest ts of any register held (0: none): the floor of the next stamp. */
  clock = 0;

  get(key: TxnValue): Register | undefined {
    return this.registers.get(slot(key));
  }

  /** Joins one register in; true when it won (it is new here). */
  put(register: Register): boolean {
    const name = slot(register.key);
    const held = this.registers.get(name);
    if (register.ts > this.clock) this.clock = register.ts;
    if (held !== undefined && compareStamps(register, held) <= 0) return false;
    this.registers.set(name, register);
    return true;
  }

  clone(): TxnStore {
    const copy = new TxnStore();
    for (const [name, register] of this.registers) copy.registers.set(name, register);
    copy.clock = this.clock;
    return copy;
  }

  /** Runs after every step in the simulator, so the texts are built only for a failure. */
  checkInvariants(): void {
    for (const [name, r] of this.registers) {
      if (name !== slot(r.key)) assert(false, `txn store: register of ${JSON.stringify(r.key)} filed under ${name}`);
      if (!(Number.isSafeInteger(r.ts) && r.ts >= 0)) assert(false, `txn store: register ${name} has a bad ts ${r.ts}`);
      if (!(typeof r.writer === 'string' && r.writer.length > 0)) assert(false, `txn store: register ${name} has no writer`);
      if (r.ts > this.clock) assert(false, `txn store: register ${name} has ts ${r.ts} above the clock ${this.clock}`);
    }
  }
}

/** The wire form of a store: [key, value, ts, writer] per register. */
type WireRegister = [TxnValue, TxnValue, number, string];

function decodeStore(bytes: Uint8Array): TxnStore {
  const decoded: unknown = packr.unpack(bytes);
  if (!Array.isArray(decoded)) throw new TypeError('a txn store is an array of registers');
  const store = new TxnStore();
  for (const item of decoded as unknown[]) {
    if (!Array.isArray(item) || item.length !== 4) throw new TypeError('a txn register is [key, value, ts, writer]');
    const [key, value, ts, writer] = item as unknown[];
    if (!isTxnValue(key) || !isTxnValue(value)) throw new TypeError('a txn register holds an integer or short string key and value');
    if (typeof ts !== 'number' || !Number.isSafeInteger(ts) || ts < 0) throw new TypeError('a txn register has a non-negative integer ts');
    if (typeof writer !== 'string' || writer.length === 0) throw new TypeError('a txn register names its writer');
    store.put({ key, value, ts, writer });
  }
  return store;
}

/** The store as a lattice for delta-sync: a delta is a store too (one transaction's writes, or a join of several). */
export const TXN_LATTICE: Lattice<TxnStore> = {
  empty: () => new TxnStore(),
  absorb(state, delta) {
    // All of the delta in this one call: a peer applies a transaction's writes at once.
    let novel: TxnStore | null = null;
    for (const register of delta.registers.values()) {
      if (state.put(register)) (novel ??= new TxnStore()).put(register);
    }
    return novel;
  },
  merge(into, delta) {
    for (const register of delta.registers.values()) into.put(register);
  },
  clone: (value) => value.clone(),
  encode: (value) => packr.pack([...value.registers.values()].map((r): WireRegister => [r.key, r.value, r.ts, r.writer])),
  decode: decodeStore,
  invariants: (value) => value.checkInvariants(),
};

/** A request's transaction, or why it is malformed. */
export function parseTxn(body: Body): { readonly ops: MicroOp[] } | { readonly error: string } {
  const txn = body['txn'];
  if (!Array.isArray(txn)) return { error: 'txn needs a txn: an array of micro-operations ["r", key, null] or ["w", key, value]' };
  if (txn.length > MAX_TXN_OPS) return { error: `a txn holds at most ${MAX_TXN_OPS} micro-operations, got ${txn.length}` };
  const ops: MicroOp[] = [];
  for (const [i, op] of (txn as unknown[]).entries()) {
    if (!Array.isArray(op) || op.length !== 3) return { error: `micro-operation ${i} is not a 3-element array [f, key, value]` };
    const [f, key, value] = op as unknown[];
    if (!isTxnValue(key)) return { error: `micro-operation ${i}: a key is a safe integer or a string of at most ${MAX_TXN_STRING} characters` };
    if (f === 'r') {
      if (value !== null) return { error: `micro-operation ${i}: a read's value must be null in a request` };
      ops.push(['r', key, null]);
    } else if (f === 'w') {
      if (!isTxnValue(value)) return { error: `micro-operation ${i}: a written value is a safe integer or a string of at most ${MAX_TXN_STRING} characters` };
      ops.push(['w', key, value]);
    } else {
      return { error: `micro-operation ${i}: f must be "r" or "w", got ${JSON.stringify(f)}` };
    }
  }
  return { ops };
}

/**
 * How a transaction commits; the shipped node has one way, the tests' deliberately broken ones others.
 * - `atomic`: the final write per key, one stamp, one delta (the module comment's argument).
 * - `first-write-wins`: a bug that exposes intermediate writes: the first write per key is the one kept and
 *   replicated (G1b whenever a transaction writes a key twice and another reads it).
 * - `abort-after-write`: a dirty write: transactions of more than two micro-operations are applied and
 *   replicated, then answered with error 30 (txn-conflict, a definite failure), so others read writes of
 *   transactions their clients were told failed (G1a).
 */
export type CommitMode = 'atomic' | 'first-write-wins' | 'abort-after-write';

/** Transactions longer than this abort in the broken `abort-after-write` mode. */
const BROKEN_ABORT_ABOVE_OPS = 2;

type Result = ServiceResult<TxnStore, ClientReply>;

function reply(token: number, body: Body, delta: TxnStore | null = null): Result {
  return { delta, outputs: [{ token, body }] };
}

/** Runs one transaction against the replica (see the module comment) and answers it. */
export function runTxn(ctx: ServiceContext<TxnStore>, token: number, ops: readonly MicroOp[], mode: CommitMode): Result {
  const store = ctx.value;
  const overlay = new Map<string, TxnValue>();
  const finals = new Map<string, { key: TxnValue; value: TxnValue }>();
  const completed: MicroOp[] = [];
  for (const op of ops) {
    const name = slot(op[1]);
    if (op[0] === 'r') {
      completed.push(['r', op[1], overlay.get(name) ?? store.get(op[1])?.value ?? null]);
    } else {
      overlay.set(name, op[2]);
      if (mode !== 'first-write-wins' || !finals.has(name)) finals.set(name, { key: op[1], value: op[2] });
      completed.push(op);
    }
  }
  if (finals.size === 0) return reply(token, { type: 'txn_ok', txn: completed });
  let fresh = 0;
  for (const name of finals.keys()) if (!store.registers.has(name)) fresh++;
  if (fresh > 0 && store.registers.size + fresh > MAX_TXN_KEYS) {
    return reply(token, { type: 'error', code: MaelstromError.abort, text: `the store holds ${store.registers.size} keys; at most ${MAX_TXN_KEYS}` });
  }
  // One stamp for the whole transaction, above everything this replica holds (hence everything it has seen).
  const ts = Math.max(Math.floor(ctx.now * 1000), store.clock + 1);
  const delta = new TxnStore();
  for (const { key, value } of finals.values()) {
    const register: Register = { key, value, ts, writer: ctx.writer };
    store.put(register);
    delta.put(register);
  }
  if (mode === 'abort-after-write' && ops.length > BROKEN_ABORT_ABOVE_OPS) {
    return reply(token, { type: 'error', code: MaelstromError.txnConflict, text: 'transaction aborted' }, delta);
  }
  return reply(token, { type: 'txn_ok', txn: completed }, delta);
}

/** The `txn-rw-register` service; `mode` other than `atomic` only in tests (deliberate bugs). */
export function txnService(mode: CommitMode = 'atomic'): ReplicatedService<TxnStore, ClientRequest, ClientReply> {
  return {
    name: 'txn-rw-register',
    lattice: TXN_LATTICE,
    // What it acknowledged survives a restart on the node's store (`chatterbox maelstrom --data-dir`), as the
    // other hosted workloads' does.
    durable: true,
    request(ctx, { token, body }) {
      if (body.type !== 'txn') return reply(token, { type: 'error', code: MaelstromError.notSupported, text: `txn-rw-register does not handle ${body.type}` });
      const parsed = parseTxn(body);
      if ('error' in parsed) return reply(token, { type: 'error', code: MaelstromError.malformedRequest, text: parsed.error });
      return runTxn(ctx, token, parsed.ops, mode);
    },
  };
}

export const TXN_SERVICE = txnService();

/** The requests the workload claims: `txn` only (its name is its own among the hosted workloads). */
export function claimsTxn(body: Body): boolean {
  return body.type === 'txn';
}
