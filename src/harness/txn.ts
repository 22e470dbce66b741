/**
 * The `txn-rw-register` checker, after Elle's rw-register (Kingsbury and Alvaro, "Elle: Inferring Isolation
 * Anomalies from Experimental Observations", VLDB 2020; elle.rw-register, elle.txn, elle.consistency-model) and
 * Adya's anomalies ("Weak Consistency", 1999). Pure: a function of the completed operations.
 *
 * A transaction (an op of f `txn`) is its micro-operations ["r", k, v] / ["w", k, v]; writes are unique per key
 * (the generator's promise). Of each transaction we use its external reads (the first read of a key it had not
 * written yet) and external writes (its last write of each key); for an indefinite (`info`) transaction only
 * its writes (it may have happened; what it read is unknown); a failed one happened not at all.
 *
 * Dependencies, between transactions that happened (ok, and info ones whose writes were read):
 * - wr: Ti wrote x = v and Tj read x = v (values are unique, so Ti is known).
 * - ww, rw: from a version order per key, which registers do not show, so it is inferred as Elle does: the
 *   initial nil comes before every value, and (Maelstrom's `:wfr-keys? true`) a transaction that read x = v and
 *   then wrote x = v' puts v before v'. For each edge v → v' of that graph, the writer of v → the writer of v'
 *   (ww) and every reader of v → the writer of v' (rw). A key whose inferred versions form a cycle is reported
 *   (cyclic-versions) and only the initial-nil part of its order is used.
 * - realtime (strict serializability only): Ti completed ok before Tj was invoked, as Elle's realtime graph
 *   (transitively reduced: each op links from the frontier of ops completed before its invocation).
 * Elle uses only ok transactions as writers; we also take info ones, which is sound: an edge out of one exists
 * only when another transaction read what it wrote, so it happened.
 *
 * Anomalies, each reported with the transactions involved:
 * - G0 (write cycle): a cycle of ww edges. G1c (circular information flow): a cycle of ww and wr edges with at
 *   least one wr. G-single / G2-item: a cycle with one / several rw edges. `-realtime`: one using realtime edges.
 *   Found per strongly connected component (Tarjan) of the subgraph of the edge kinds in question: a component
 *   holding an edge of the required kind has a cycle through it, and a breadth-first search from its head back
 *   to its tail finds the shortest. One search per component and kind, each linear in the graph: the search is
 *   bounded by construction and never times out, so the verdict is never `unknown` for want of time.
 * - G1a (aborted read): an ok transaction read a value written by a failed one.
 * - G1b (intermediate read): an ok transaction read a value another transaction overwrote itself.
 * - internal: a transaction's read disagrees with its own earlier write or read of that key.
 * - lost-update: two ok transactions read the same x = v and both wrote x.
 * - garbage-read: a read of a value no transaction wrote (Elle's rw-register ignores these; any model forbids them).
 *
 * The consistency models (Maelstrom's `--consistency-models`, a list that must all hold) decide which anomalies
 * make a history invalid, as elle.consistency-model does: read-uncommitted (PL-1) forbids G0 and cyclic
 * versions; read-committed (PL-2) adds G1a, G1b, G1c; serializable (PL-3) adds internal, lost-update, G-single
 * and G2-item; strict-serializable adds their realtime variants. Anomalies a model does not forbid are not
 * searched for. A history with none of them whose dependency graph has no edge at all says nothing: `unknown`.
 */
import { canonicalKey } from './client.js';
import type { Op } from './types.js';

export const CONSISTENCY_MODELS = ['read-uncommitted', 'read-committed', 'serializable', 'strict-serializable'] as const;
export type ConsistencyModel = (typeof CONSISTENCY_MODELS)[number];
/** Maelstrom's default `--consistency-models`. */
export const DEFAULT_CONSISTENCY_MODELS: readonly ConsistencyModel[] = ['strict-serializable'];

export const TXN_ANOMALIES = [
  'G0',
  'G1a',
  'G1b',
  'G1c',
  'cyclic-versions',
  'garbage-read',
  'internal',
  'lost-update',
  'G-single',
  'G2-item',
  'G0-realtime',
  'G1c-realtime',
  'G-single-realtime',
  'G2-item-realtime',
] as const;
export type TxnAnomalyType = (typeof TXN_ANOMALIES)[number];

/** Anomalies each model forbids beyond the weaker models it implies (elle.consistency-model, restricted). */
const FORBIDS: Readonly<Record<ConsistencyModel, readonly TxnAnomalyType[]>> = {
  'read-uncommitted': ['G0', 'cyclic-versions', 'garbage-read'],
  'read-committed': ['G1a', 'G1b', 'G1c'],
  serializable: ['internal', 'lost-update', 'G-single', 'G2-item'],
  'strict-serializable': ['G0-realtime', 'G1c-realtime', 'G-single-realtime', 'G2-item-realtime'],
};

/** The anomalies that make a history invalid under every one of `models`. */
export function prohibitedAnomalies(models: readonly ConsistencyModel[]): Set<TxnAnomalyType> {
  const strongest = Math.max(-1, ...models.map((m) => CONSISTENCY_MODELS.indexOf(m)));
  const out = new Set<TxnAnomalyType>();
  for (let i = 0; i <= strongest; i++) for (const a of FORBIDS[CONSISTENCY_MODELS[i] as ConsistencyModel]) out.add(a);
  return out;
}

/** Examples kept per anomaly type (all are counted). */
export const MAX_TXN_EXAMPLES = 8;

export interface TxnAnomaly {
  readonly type: TxnAnomalyType;
  /** History indices of the transactions involved (a cycle in order). */
  readonly ops: readonly number[];
  readonly text: string;
}

export interface TxnCheck {
  readonly kind: 'txn';
  /** Jepsen's :valid? — true, false or unknown; `valid` is true only for 'valid'. */
  readonly verdict: 'valid' | 'invalid' | 'unknown';
  readonly valid: boolean;
  readonly problems: readonly string[];
  readonly models: readonly ConsistencyModel[];
  /** Every anomaly type found that the models forbid, with how many of each. */
  readonly counts: Readonly<Partial<Record<TxnAnomalyType, number>>>;
  readonly anomalies: Readonly<Partial<Record<TxnAnomalyType, readonly TxnAnomaly[]>>>;
  readonly txns: { readonly ok: number; readonly failed: number; readonly indefinite: number };
  readonly edges: { readonly ww: number; readonly wr: number; readonly rw: number; readonly realtime: number };
}

// ---------------------------------------------------------------------------------------------------------
// Transactions

type Value = number | string;
type Mop = readonly [f: 'r' | 'w', k: Value, v: Value | null];

/** A transaction of the history, as the checker sees it. */
interface Txn {
  readonly node: number;
  readonly index: number;
  readonly type: 'ok' | 'fail' | 'info';
  readonly mops: readonly Mop[];
  readonly invokeMs: number;
  readonly completeMs: number;
  /** key slot → first value read before any write of it (ok only). */
  readonly extReads: Map<string, Value | null>;
  /** key slot → last value written. */
  readonly extWrites: Map<string, Value>;
}

/** The micro-operations of a txn value, or null if it is not one (the client's schema checks replies). */
export function asMops(value: unknown): Mop[] | null {
  if (!Array.isArray(value)) return null;
  const out: Mop[] = [];
  for (const m of value as unknown[]) {
    if (!Array.isArray(m) || m.length !== 3) return null;
    const [f, k, v] = m as unknown[];
    if ((f !== 'r' && f !== 'w') || !isValue(k) || !(v === null || isValue(v))) return null;
    if (f === 'w' && v === null) return null;
    out.push([f, k, v as Value | null]);
  }
  return out;
}

function isValue(x: unknown): x is Value {
  return typeof x === 'number' || typeof x === 'string';
}

const slot = (k: Value): string => canonicalKey(k);
const NIL = 'nil';
const vslot = (v: Value | null): string => (v === null ? NIL : canonicalKey(v));

function externals(mops: readonly Mop[], withReads: boolean): Pick<Txn, 'extReads' | 'extWrites'> {
  const extReads = new Map<string, Value | null>();
  const extWrites = new Map<string, Value>();
  for (const [f, k, v] of mops) {
    const s = slot(k);
    if (f === 'w') extWrites.set(s, v as Value);
    else if (withReads && !extWrites.has(s) && !extReads.has(s)) extReads.set(s, v);
  }
  return { extReads, extWrites };
}

/** The transactions of the history: ok ones as completed, the others as invoked. */
function transactions(ops: readonly Op[], problems: string[]): Txn[] {
  const txns: Txn[] = [];
  for (const op of ops) {
    if (op.type === null || op.probe) continue;
    const invoked = asMops(op.value);
    if (invoked === null) {
      problems.push(`op ${op.index} is not a transaction: ${JSON.stringify(op.value)}`);
      continue;
    }
    let mops = invoked;
    if (op.type === 'ok') {
      const completed = asMops(op.result);
      if (completed === null || !sameShape(invoked, completed)) {
        problems.push(`op ${op.index} (${op.node}) completed ${JSON.stringify(op.result)}, which does not answer ${JSON.stringify(op.value)}`);
        continue;
      }
      mops = completed;
    }
    txns.push({
      node: txns.length,
      index: op.index,
      type: op.type,
      mops,
      invokeMs: op.invokeMs,
      completeMs: op.completeMs ?? Infinity,
      ...externals(mops, op.type === 'ok'),
    });
  }
  return txns;
}

/** A completion answers an invocation: the same micro-operations in order, writes unchanged. */
function sameShape(invoked: readonly Mop[], completed: readonly Mop[]): boolean {
  return invoked.length === completed.length && invoked.every((m, i) => {
    const c = completed[i] as Mop;
    return m[0] === c[0] && slot(m[1]) === slot(c[1]) && (m[0] === 'r' || vslot(m[2]) === vslot(c[2]));
  });
}

// ---------------------------------------------------------------------------------------------------------
// The dependency graph

const WW = 1;
const WR = 2;
const RW = 4;
const RT = 8;
const KIND_NAMES: Readonly<Record<number, string>> = { [WW]: 'ww', [WR]: 'wr', [RW]: 'rw', [RT]: 'realtime' };

/** Transactions as vertices 0..n-1, each edge a bit set of kinds. */
class DepGraph {
  readonly out: Map<number, number>[];
  readonly counts = { ww: 0, wr: 0, rw: 0, realtime: 0 };

  constructor(n: number) {
    this.out = Array.from({ length: n }, () => new Map<number, number>());
  }

  link(from: number, to: number, kind: number): void {
    if (from === to) return;
    const edges = this.out[from] as Map<number, number>;
    const had = edges.get(to) ?? 0;
    if ((had & kind) !== 0) return;
    edges.set(to, had | kind);
    this.counts[KIND_NAMES[kind] as keyof DepGraph['counts']]++;
  }

  get empty(): boolean {
    const c = this.counts;
    return c.ww + c.wr + c.rw + c.realtime === 0;
  }
}

/** Tarjan's strongly connected components of the edges whose kinds meet `mask`, iteratively; only those of 2+. */
function components(g: DepGraph, mask: number): number[][] {
  const n = g.out.length;
  const index = new Int32Array(n).fill(-1);
  const low = new Int32Array(n);
  const onStack = new Uint8Array(n);
  const stack: number[] = [];
  const result: number[][] = [];
  let next = 0;
  for (let root = 0; root < n; root++) {
    if (index[root] !== -1) continue;
    const work: Array<{ v: number; it: Iterator<[number, number]> }> = [];
    const open = (v: number): void => {
      index[v] = low[v] = next++;
      stack.push(v);
      onStack[v] = 1;
      work.push({ v, it: (g.out[v] as Map<number, number>).entries() });
    };
    open(root);
    while (work.length > 0) {
      const top = work[work.length - 1] as { v: number; it: Iterator<[number, number]> };
      const step = top.it.next();
      if (!step.done) {
        const [w, kinds] = step.value;
        if ((kinds & mask) === 0) continue;
        if (index[w] === -1) open(w);
        else if (onStack[w] === 1) low[top.v] = Math.min(low[top.v] as number, index[w] as number);
        continue;
      }
      work.pop();
      const v = top.v;
      const parent = work[work.length - 1];
      if (parent !== undefined) low[parent.v] = Math.min(low[parent.v] as number, low[v] as number);
      if (low[v] === index[v]) {
        const scc: number[] = [];
        for (;;) {
          const w = stack.pop() as number;
          onStack[w] = 0;
          scc.push(w);
          if (w === v) break;
        }
        if (scc.length > 1) result.push(scc);
      }
    }
  }
  return result;
}

/** The shortest path from `from` to `to` inside `members` over edges meeting `mask`, as vertices, or null. */
function shortestPath(g: DepGraph, members: ReadonlySet<number>, mask: number, from: number, to: number): number[] | null {
  const parent = new Map<number, number>([[from, from]]);
  const queue = [from];
  for (let head = 0; head < queue.length; head++) {
    const v = queue[head] as number;
    if (v === to) {
      const path = [to];
      for (let at = to; at !== from; ) path.push((at = parent.get(at) as number));
      return path.reverse();
    }
    for (const [w, kinds] of g.out[v] as Map<number, number>) {
      if ((kinds & mask) === 0 || !members.has(w) || parent.has(w)) continue;
      parent.set(w, v);
      queue.push(w);
    }
  }
  return null;
}

// ---------------------------------------------------------------------------------------------------------
// The check

interface Indexes {
  /** key → value → the transaction that wrote it finally (ok or info). */
  readonly writers: Map<string, Map<string, number>>;
  /** key → value → ok transactions that read it externally. */
  readonly readers: Map<string, Map<string, number[]>>;
  /** key → version graph (value → later values). */
  readonly versions: Map<string, Map<string, Set<string>>>;
}

export function checkTxn(ops: readonly Op[], models: readonly ConsistencyModel[]): TxnCheck {
  const problems: string[] = [];
  const txns = transactions(ops, problems);
  const prohibited = prohibitedAnomalies(models);
  const found = new Map<TxnAnomalyType, TxnAnomaly[]>();
  const counts = new Map<TxnAnomalyType, number>();
  const report = (a: TxnAnomaly): void => {
    if (!prohibited.has(a.type)) return;
    counts.set(a.type, (counts.get(a.type) ?? 0) + 1);
    const list = found.get(a.type) ?? [];
    if (list.length < MAX_TXN_EXAMPLES) list.push(a);
    found.set(a.type, list);
  };
  const name = (t: Txn): string => `T${t.index}`;
  const ok = txns.filter((t) => t.type === 'ok');

  // Non-cyclic anomalies, from indexes of all writes.
  const failedWrites = new Map<string, Txn>();
  const intermediate = new Map<string, Txn>();
  const written = new Map<string, Txn>();
  for (const t of txns) {
    const seen = new Map<string, string>();
    for (const [f, k, v] of t.mops) {
      if (f !== 'w') continue;
      const at = `${slot(k)}=${vslot(v)}`;
      if (t.type === 'fail') failedWrites.set(at, t);
      else written.set(at, t);
      const previous = seen.get(slot(k));
      if (previous !== undefined) intermediate.set(previous, t);
      seen.set(slot(k), at);
    }
  }
  // One report per transaction and value read, however often it read it.
  const reported = new Set<string>();
  for (const t of ok) {
    const expected = new Map<string, Value | null>();
    for (const [f, k, v] of t.mops) {
      const s = slot(k);
      if (f === 'w') {
        expected.set(s, v);
        continue;
      }
      const at = `${s}=${vslot(v)}`;
      const want = expected.get(s);
      if (want !== undefined && want !== null && vslot(want) !== vslot(v)) {
        report({ type: 'internal', ops: [t.index], text: `${name(t)} read key ${k} = ${vslot(v)} after its own write or read of ${vslot(want)}` });
      } else expected.set(s, v);
      if (v === null || reported.has(`${t.index}:${at}`)) continue;
      reported.add(`${t.index}:${at}`);
      const aborted = failedWrites.get(at);
      if (aborted !== undefined) report({ type: 'G1a', ops: [aborted.index, t.index], text: `${name(t)} read key ${k} = ${v}, written by ${name(aborted)}, which failed` });
      const mid = intermediate.get(at);
      if (mid !== undefined && mid !== t) report({ type: 'G1b', ops: [mid.index, t.index], text: `${name(t)} read key ${k} = ${v}, which ${name(mid)} overwrote itself` });
      if (aborted === undefined && !written.has(at)) report({ type: 'garbage-read', ops: [t.index], text: `${name(t)} read key ${k} = ${v}, which no transaction wrote` });
    }
  }
  lostUpdates(ok, report, name);

  // The dependency graph.
  const ix = indexes(txns, problems, report);
  const g = new DepGraph(txns.length);
  for (const [k, byValue] of ix.readers) {
    const writers = ix.writers.get(k);
    for (const [v, readers] of byValue) {
      const w = v === NIL ? undefined : writers?.get(v);
      if (w !== undefined) for (const r of readers) g.link(w, r, WR);
    }
  }
  const needRw = prohibited.has('G-single');
  for (const [k, graph] of ix.versions) {
    const writers = ix.writers.get(k);
    const readers = ix.readers.get(k);
    for (const [v1, later] of graph) {
      for (const v2 of later) {
        const w2 = writers?.get(v2);
        if (w2 === undefined) continue;
        const w1 = v1 === NIL ? undefined : writers?.get(v1);
        if (w1 !== undefined) g.link(w1, w2, WW);
        if (needRw) for (const r of readers?.get(v1) ?? []) g.link(r, w2, RW);
      }
    }
  }
  if (prohibited.has('G0-realtime')) realtimeEdges(txns, g);

  // Cycles: one search per kind of cycle the models forbid, in every component of its subgraph.
  const searches: Array<{ mask: number; required: number }> = [{ mask: WW, required: WW }];
  if (prohibited.has('G1c')) searches.push({ mask: WW | WR, required: WR });
  if (needRw) searches.push({ mask: WW | WR | RW, required: RW });
  if (prohibited.has('G0-realtime')) searches.push({ mask: WW | WR | RW | RT, required: RT });
  const cycles = new Set<string>();
  for (const { mask, required } of searches) {
    for (const scc of components(g, mask)) {
      const members = new Set(scc);
      let cycle: number[] | null = null;
      for (const a of scc) {
        for (const [b, kinds] of g.out[a] as Map<number, number>) {
          if ((kinds & required) === 0 || !members.has(b)) continue;
          const back = shortestPath(g, members, mask, b, a);
          if (back !== null) cycle = [a, ...back];
          break;
        }
        if (cycle !== null) break;
      }
      if (cycle === null) continue;
      const anomaly = explainCycle(cycle.slice(0, -1), g, mask, txns, ix);
      // A cycle a weaker search found already (a G0 is in the G1c search's components too) is one anomaly.
      const key = `${anomaly.type}:${[...anomaly.ops].sort((x, y) => x - y).join(',')}`;
      if (cycles.has(key)) continue;
      cycles.add(key);
      report(anomaly);
    }
  }

  const bad = [...counts.keys()].filter((a) => prohibited.has(a));
  const verdict = bad.length > 0 || problems.length > 0 ? 'invalid' : g.empty ? 'unknown' : 'valid';
  const lines = [...problems];
  for (const type of TXN_ANOMALIES) {
    const list = found.get(type);
    if (list === undefined) continue;
    lines.push(`${type} (${counts.get(type)}, forbidden by ${models.join(', ')}): ${list.slice(0, 3).map((a) => a.text).join('; ')}`);
  }
  return {
    kind: 'txn',
    verdict,
    valid: verdict === 'valid',
    problems: lines,
    models,
    counts: Object.fromEntries(counts),
    anomalies: Object.fromEntries(found),
    txns: { ok: ok.length, failed: txns.filter((t) => t.type === 'fail').length, indefinite: txns.filter((t) => t.type === 'info').length },
    edges: { ...g.counts },
  };
}

function indexes(txns: readonly Txn[], problems: string[], report: (a: TxnAnomaly) => void): Indexes {
  const writers = new Map<string, Map<string, number>>();
  const readers = new Map<string, Map<string, number[]>>();
  const versions = new Map<string, Map<string, Set<string>>>();
  const initial = new Map<string, Map<string, Set<string>>>();
  const link = (into: Map<string, Map<string, Set<string>>>, k: string, from: string, to: string): void => {
    if (from === to) return;
    let graph = into.get(k);
    if (graph === undefined) into.set(k, (graph = new Map()));
    let later = graph.get(from);
    if (later === undefined) graph.set(from, (later = new Set()));
    later.add(to);
  };
  let duplicates = 0;
  for (const t of txns) {
    if (t.type === 'fail') continue;
    for (const [k, v] of t.extWrites) {
      const byValue = writers.get(k) ?? new Map<string, number>();
      writers.set(k, byValue);
      const s = vslot(v);
      if (byValue.has(s) && byValue.get(s) !== t.node) duplicates++;
      else byValue.set(s, t.node);
      link(initial, k, NIL, s);
      link(versions, k, NIL, s);
    }
    for (const [k, v] of t.extReads) {
      const byValue = readers.get(k) ?? new Map<string, number[]>();
      readers.set(k, byValue);
      const s = vslot(v);
      byValue.set(s, [...(byValue.get(s) ?? []), t.node]);
      link(initial, k, NIL, s);
      link(versions, k, NIL, s);
      // Writes follow reads: what it read of k comes before what it wrote of k.
      const w = t.extWrites.get(k);
      if (w !== undefined && v !== null) link(versions, k, s, vslot(w));
    }
  }
  if (duplicates > 0) problems.push(`${duplicates} values were written by more than one transaction: writes must be unique per key`);
  // A key whose versions form a cycle keeps only the initial-state order (Elle drops the inference that broke it).
  for (const [k, graph] of versions) {
    const cycle = versionCycle(graph);
    if (cycle === null) continue;
    report({ type: 'cyclic-versions', ops: [], text: `key ${k}: inferred versions form a cycle ${[...cycle, cycle[0]].join(' < ')}` });
    versions.set(k, initial.get(k) ?? new Map());
  }
  return { writers, readers, versions };
}

/** Some cycle of a version graph, or null (a colouring depth-first search, iterative). */
function versionCycle(graph: Map<string, Set<string>>): string[] | null {
  const state = new Map<string, 1 | 2>();
  for (const root of graph.keys()) {
    if (state.has(root)) continue;
    const path: string[] = [];
    const work: Array<{ v: string; it: Iterator<string> }> = [];
    const open = (v: string): void => {
      state.set(v, 1);
      path.push(v);
      work.push({ v, it: (graph.get(v) ?? new Set<string>()).values() });
    };
    open(root);
    while (work.length > 0) {
      const top = work[work.length - 1] as { v: string; it: Iterator<string> };
      const step = top.it.next();
      if (step.done) {
        state.set(top.v, 2);
        work.pop();
        path.pop();
        continue;
      }
      const w = step.value;
      if (state.get(w) === 1) return path.slice(path.indexOf(w));
      if (!state.has(w)) open(w);
    }
  }
  return null;
}

/** Elle's lost-update: two ok transactions read the same x = v and both wrote x. */
function lostUpdates(ok: readonly Txn[], report: (a: TxnAnomaly) => void, name: (t: Txn) => string): void {
  const groups = new Map<string, Txn[]>();
  for (const t of ok) {
    for (const [k, v] of t.extReads) {
      if (!t.extWrites.has(k)) continue;
      const at = `${k}=${vslot(v)}`;
      groups.set(at, [...(groups.get(at) ?? []), t]);
    }
  }
  for (const [at, group] of groups) {
    if (group.length < 2) continue;
    report({ type: 'lost-update', ops: group.map((t) => t.index), text: `${group.map(name).join(', ')} all read ${at} and wrote that key` });
  }
}

/** Elle's realtime graph: each transaction from the ok ones completed before its invocation, transitively reduced. */
function realtimeEdges(txns: readonly Txn[], g: DepGraph): void {
  // Invocations before completions at equal times: an op completed at t does not precede one invoked at t.
  const events: Array<{ at: number; complete: boolean; t: Txn }> = [];
  for (const t of txns) {
    if (t.type === 'fail') continue;
    events.push({ at: t.invokeMs, complete: false, t });
    if (t.type === 'ok') events.push({ at: t.completeMs, complete: true, t });
  }
  events.sort((a, b) => a.at - b.at || Number(a.complete) - Number(b.complete));
  const frontier = new Set<number>();
  const before = new Map<number, number[]>();
  for (const e of events) {
    if (!e.complete) {
      before.set(e.t.node, [...frontier]);
      for (const a of frontier) g.link(a, e.t.node, RT);
    } else {
      for (const a of before.get(e.t.node) ?? []) frontier.delete(a);
      frontier.add(e.t.node);
    }
  }
}

/** Names a cycle by its edge kinds, as Elle's cycle explainer does, and says why each edge is there. */
function explainCycle(cycle: readonly number[], g: DepGraph, mask: number, txns: readonly Txn[], ix: Indexes): TxnAnomaly {
  let wr = 0;
  let rw = 0;
  let rt = 0;
  const steps: string[] = [];
  for (let i = 0; i < cycle.length; i++) {
    const a = txns[cycle[i] as number] as Txn;
    const b = txns[cycle[(i + 1) % cycle.length] as number] as Txn;
    const kinds = ((g.out[a.node] as Map<number, number>).get(b.node) ?? 0) & mask;
    // Prefer the weakest kind an edge has: a cycle is classed by the kinds it needs.
    const kind = (kinds & WW) !== 0 ? WW : (kinds & WR) !== 0 ? WR : (kinds & RW) !== 0 ? RW : RT;
    if (kind === WR) wr++;
    else if (kind === RW) rw++;
    else if (kind === RT) rt++;
    steps.push(`T${a.index} -${KIND_NAMES[kind]}${why(kind, a, b, ix)}-> T${b.index}`);
  }
  const base = rw === 1 ? 'G-single' : rw > 1 ? 'G2-item' : wr > 0 ? 'G1c' : 'G0';
  const type = (rt > 0 ? `${base}-realtime` : base) as TxnAnomalyType;
  return { type, ops: cycle.map((v) => (txns[v] as Txn).index), text: `${type} cycle ${steps.join(' ')}` };
}

function why(kind: number, a: Txn, b: Txn, ix: Indexes): string {
  if (kind === RT) return '';
  if (kind === WR) {
    for (const [k, v] of a.extWrites) if (b.extReads.has(k) && vslot(b.extReads.get(k) as Value | null) === vslot(v)) return `(${k}=${vslot(v)})`;
    return '';
  }
  const from = kind === WW ? a.extWrites : a.extReads;
  for (const [k, v1] of from) {
    const v2 = b.extWrites.get(k);
    if (v2 !== undefined && ix.versions.get(k)?.get(vslot(v1 as Value | null))?.has(vslot(v2)) === true) return `(${k}: ${vslot(v1 as Value | null)} < ${vslot(v2)})`;
  }
  return '';
}

// ---------------------------------------------------------------------------------------------------------
// The generator

/** Elle's wr-txns as Maelstrom configures it (txn_rw_register.clj, maelstrom.core's defaults). */
export interface TxnGenOptions {
  /** Keys in play at once (`--key-count`; Elle's default for the exponential distribution is 10). */
  readonly keyCount: number;
  readonly minTxnLength: number;
  /** `--max-txn-length` (Maelstrom's default 4). */
  readonly maxTxnLength: number;
  /** `--max-writes-per-key` (Maelstrom's default 16): a key written this often is retired for a fresh one. */
  readonly maxWritesPerKey: number;
}

export const TXN_GEN_DEFAULTS: TxnGenOptions = { keyCount: 10, minTxnLength: 1, maxTxnLength: 4, maxWritesPerKey: 16 };

/** What the generator needs of a PRNG (core/prng.ts's Prng). */
interface Draws {
  float(): number;
  int(min: number, max: number): number;
  chance(probability: number): boolean;
}

/**
 * An endless stream of transactions: each of min..max micro-operations, half reads and half writes, keys drawn
 * from the active keys with Elle's exponential distribution (base 2: each key twice as likely as the one before
 * it), writes of 1, 2, 3, … per key, a key retired for a fresh one once written `maxWritesPerKey` times.
 */
export function txnGenerator(prng: Draws, o: TxnGenOptions = TXN_GEN_DEFAULTS): () => Array<['r' | 'w', number, number | null]> {
  const base = 2;
  const active = Array.from({ length: o.keyCount }, (_, i) => i);
  const scale = ((base ** o.keyCount - 1) * base) / (base - 1);
  const nextValue = new Map<number, number>();
  const pickKey = (): number => {
    const ki = Math.floor(Math.log(prng.float() * scale + base) / Math.log(base) - 1);
    return active[Math.min(Math.max(ki, 0), active.length - 1)] as number;
  };
  return () => {
    const txn: Array<['r' | 'w', number, number | null]> = [];
    for (let length = prng.int(o.minTxnLength, o.maxTxnLength); txn.length < length; ) {
      const write = prng.chance(0.5);
      const k = pickKey();
      if (!write) {
        txn.push(['r', k, null]);
        continue;
      }
      const v = nextValue.get(k) ?? 1;
      if (v > o.maxWritesPerKey) {
        // Retire the key: a fresh one, above every key so far, takes its place.
        active[active.indexOf(k)] = Math.max(...active) + 1;
        continue;
      }
      nextValue.set(k, v + 1);
      txn.push(['w', k, v]);
    }
    return txn;
  };
}
