/**
 * The harness's checkers: pure functions of the history, after Maelstrom's (which are Jepsen's):
 *
 * - echo (workload/echo.clj): every echo must come back `ok` with the same payload.
 * - unique-ids (jepsen.checker/unique-ids): no id acknowledged twice.
 * - broadcast, g-set (jepsen.checker/set-full, which broadcast.clj reuses with broadcast as add): every element
 *   that is known (acknowledged, or seen in any read) must be in every node's final read; reads may contain
 *   only elements some client tried to add, each at most once. Elements whose add was indefinite and that were
 *   never seen may be missing. On top of set-full we require a final read from every node.
 * - g-counter, pn-counter (workload/pn_counter.clj): every node's final read must equal the sum of the
 *   acknowledged deltas plus the deltas of any subset of the indefinite adds (failed adds did not happen).
 * - every workload (jepsen.checker/stats): an operation kind that was tried but never succeeded leaves the run
 *   undecided (Jepsen's :unknown; the harness exits 4), unless another check finds it invalid.
 *
 * The set analysis also measures visibility: for every element in all final reads, the time from the add's
 * invocation until it was in every node's reads. Maelstrom's "stable time" is the invocation of the last read
 * that missed the element; its `:stable-latencies` count from the acknowledgement (or first sighting). We keep
 * that number for comparison, and report the latency from the invocation with both bounds: the lower bound is
 * Maelstrom's stable time, the upper bound the completion of the first read after it, on every node, that had
 * the element. With probe reads on every node every few ms the bounds are that close.
 */
import { canonicalKey } from './client.js';
import type {
  Convergence,
  CounterCheck,
  EchoCheck,
  LatencySummary,
  Op,
  OpCounts,
  Quantiles,
  SetCheck,
  UniqueIdsCheck,
  Visibility,
} from './types.js';

const EXAMPLES = 10;

// ---------------------------------------------------------------------------------------------------------
// Statistics

/** Jepsen's frequency-distribution: the element at floor(n·p) (capped at the last) of the sorted values. */
export function quantile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] as number;
}

function sortedCopy(values: readonly number[]): number[] {
  return [...values].sort((a, b) => a - b);
}

/** Rounds to 0.1 ms: finer than that is timer noise. */
function ms(value: number): number {
  return Math.round(value * 10) / 10;
}

export function quantiles(values: readonly number[]): Quantiles | null {
  if (values.length === 0) return null;
  const s = sortedCopy(values);
  return { '0': ms(quantile(s, 0)), '0.5': ms(quantile(s, 0.5)), '0.95': ms(quantile(s, 0.95)), '0.99': ms(quantile(s, 0.99)), '1': ms(quantile(s, 1)) };
}

export function summarize(values: readonly number[]): LatencySummary {
  const s = sortedCopy(values);
  return { count: s.length, p50: ms(quantile(s, 0.5)), p95: ms(quantile(s, 0.95)), p99: ms(quantile(s, 0.99)), max: ms(quantile(s, 1)) };
}

function emptyCounts(): OpCounts {
  return { total: 0, ok: 0, failed: 0, indefinite: 0 };
}

function tally(counts: OpCounts, op: Op): void {
  counts.total++;
  if (op.type === 'ok') counts.ok++;
  else if (op.type === 'fail') counts.failed++;
  else counts.indefinite++; // info, or still pending (which the runner closes as info)
}

/** Operation counts, overall and per kind; probes are not operations. */
export function countOps(ops: readonly Op[]): OpCounts & { byF: Record<string, OpCounts> } {
  const all = emptyCounts();
  const byF: Record<string, OpCounts> = {};
  for (const op of ops) {
    if (op.probe) continue;
    tally(all, op);
    tally((byF[op.f] ??= emptyCounts()), op);
  }
  return { ...all, byF };
}

/** jepsen.checker/stats: every operation kind that was tried must have succeeded at least once. */
export function statsProblems(ops: readonly Op[]): string[] {
  const { byF } = countOps(ops);
  return Object.entries(byF)
    .filter(([, c]) => c.total > 0 && c.ok === 0)
    .map(([f, c]) => `none of the ${c.total} ${f} operations succeeded`);
}

/**
 * Maelstrom's availability checker (maelstrom.checker/availability-checker, `--availability`): null checks
 * nothing, 'total' needs every operation ok, a number in [0, 1] is the least fraction of operations that must be.
 */
export type Availability = null | 'total' | number;

export function availabilityProblems(ops: readonly Op[], availability: Availability): string[] {
  if (availability === null || ops.length === 0) return [];
  const ok = ops.filter((op) => op.type === 'ok').length;
  const fraction = ok / ops.length;
  const need = availability === 'total' ? 1 : availability;
  if (fraction >= need) return [];
  return [`availability ${availability}: ${ok} of ${ops.length} operations ok (${(fraction * 100).toFixed(2)}%), below ${(need * 100).toFixed(2)}%`];
}

function show(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 80 ? `${text.slice(0, 80)}…` : text;
}

function showList(values: readonly unknown[], total: number): string {
  return `${values.slice(0, EXAMPLES).map(show).join(', ')}${total > EXAMPLES ? `, … (${total} in all)` : ''}`;
}

// ---------------------------------------------------------------------------------------------------------
// echo, unique-ids

export function checkEcho(ops: readonly Op[]): EchoCheck {
  let checked = 0;
  let mismatched = 0;
  let notOk = 0;
  const problems: string[] = [];
  for (const op of ops) {
    if (op.f !== 'echo' || op.probe) continue;
    checked++;
    if (op.type !== 'ok') {
      notOk++;
      if (notOk <= EXAMPLES) problems.push(`echo ${show(op.value)} to ${op.node} did not succeed (${errorText(op)})`);
    } else if (canonicalKey(op.result) !== canonicalKey(op.value)) {
      mismatched++;
      if (mismatched <= EXAMPLES) problems.push(`echo ${show(op.value)} to ${op.node} came back as ${show(op.result)}`);
    }
  }
  return { kind: 'echo', valid: mismatched === 0 && notOk === 0, problems, checked, mismatched, notOk };
}

function errorText(op: Op): string {
  const e = op.error;
  if (e === undefined) return op.type ?? 'pending';
  if (e.kind === 'code') return `error ${e.code}${e.text === undefined ? '' : ` ${show(e.text)}`}`;
  if (e.kind === 'timeout') return 'timed out';
  return `malformed reply: ${e.text}`;
}

export function checkUniqueIds(ops: readonly Op[]): UniqueIdsCheck {
  let attempted = 0;
  const counts = new Map<string, { id: unknown; count: number }>();
  for (const op of ops) {
    if (op.f !== 'generate' || op.probe) continue;
    attempted++;
    if (op.type !== 'ok') continue;
    const key = canonicalKey(op.result);
    const entry = counts.get(key);
    if (entry === undefined) counts.set(key, { id: op.result, count: 1 });
    else entry.count++;
  }
  const duplicated = [...counts.values()].filter((e) => e.count > 1).sort((a, b) => b.count - a.count);
  const acknowledged = [...counts.values()].reduce((sum, e) => sum + e.count, 0);
  const problems =
    duplicated.length === 0 ? [] : [`${duplicated.length} ids were handed out more than once: ${showList(duplicated.map((d) => d.id), duplicated.length)}`];
  return { kind: 'unique-ids', valid: duplicated.length === 0, problems, attempted, acknowledged, duplicatedCount: duplicated.length, duplicated: duplicated.slice(0, EXAMPLES) };
}

// ---------------------------------------------------------------------------------------------------------
// broadcast, g-set

interface ElementState {
  readonly key: string;
  readonly value: unknown;
  readonly addInvokeMs: number;
  /** Best outcome of its adds: ok beats info beats fail; null while pending. */
  ack: 'ok' | 'info' | 'fail' | null;
  ackMs: number;
  /** Completion of the first read that showed it (Infinity: never seen). */
  firstSeenMs: number;
  /** Per node: invocation of the latest read that missed it (-Infinity: none). */
  readonly lastAbsentInv: Float64Array;
  /** Per node: the earliest read invoked after lastAbsentInv that showed it (NaN: none known). */
  readonly presentAfterInv: Float64Array;
  readonly presentAfterComp: Float64Array;
}

const RANK = { fail: 0, info: 1, ok: 2 } as const;

/**
 * Incremental set-full analysis, fed in real-time order: `invoke` when an add is sent, `complete` when any
 * operation (add or read, probes included) completes. Reads are folded in as they come, so probe results need
 * not be kept. `checkSet` feeds a whole history.
 */
export class SetAnalysis {
  private readonly nodeIndex: ReadonlyMap<string, number>;
  private readonly elements = new Map<string, ElementState>();
  private readonly list: ElementState[] = [];
  private readonly unexpected = new Map<string, unknown>();
  private readonly duplicated = new Set<string>();
  private readonly finalReads = new Map<string, { keys: Set<string>; completeMs: number }>();
  private readonly badReads: string[] = [];

  constructor(
    private readonly nodes: readonly string[],
    private readonly probeMs: number,
  ) {
    this.nodeIndex = new Map(nodes.map((n, i) => [n, i]));
  }

  invoke(op: Op): void {
    if (op.f !== 'add' && op.f !== 'broadcast') return;
    const key = canonicalKey(op.value);
    if (this.elements.has(key)) return; // the same element added again: its first add is the one that counts
    const n = this.nodes.length;
    const state: ElementState = {
      key,
      value: op.value,
      addInvokeMs: op.invokeMs,
      ack: null,
      ackMs: Infinity,
      firstSeenMs: Infinity,
      lastAbsentInv: new Float64Array(n).fill(-Infinity),
      presentAfterInv: new Float64Array(n).fill(NaN),
      presentAfterComp: new Float64Array(n).fill(NaN),
    };
    this.elements.set(key, state);
    this.list.push(state);
  }

  complete(op: Op): void {
    if (op.type === null || op.completeMs === null) return;
    if (op.f === 'add' || op.f === 'broadcast') {
      const state = this.elements.get(canonicalKey(op.value));
      if (state === undefined) return;
      if (state.ack === null || RANK[op.type] > RANK[state.ack]) state.ack = op.type;
      if (op.type === 'ok') state.ackMs = Math.min(state.ackMs, op.completeMs);
      return;
    }
    if (op.f === 'read' && op.type === 'ok') this.read(op.node, op.invokeMs, op.completeMs, op.result, op.final);
  }

  private read(node: string, inv: number, comp: number, result: unknown, final: boolean): void {
    const n = this.nodeIndex.get(node);
    if (n === undefined || !Array.isArray(result)) {
      if (this.badReads.length < EXAMPLES) this.badReads.push(`a read on ${node} returned ${show(result)}`);
      return;
    }
    const keys = new Set<string>();
    for (const value of result) {
      const key = canonicalKey(value);
      if (keys.has(key)) this.duplicated.add(key);
      keys.add(key);
      if (!this.elements.has(key) && !this.unexpected.has(key)) this.unexpected.set(key, value);
    }
    for (const e of this.list) {
      if (keys.has(e.key)) {
        if (comp < e.firstSeenMs) e.firstSeenMs = comp;
        const after = e.presentAfterInv[n] as number;
        if (inv > (e.lastAbsentInv[n] as number) && (Number.isNaN(after) || inv < after)) {
          e.presentAfterInv[n] = inv;
          e.presentAfterComp[n] = comp;
        }
      } else if (inv > (e.lastAbsentInv[n] as number)) {
        e.lastAbsentInv[n] = inv;
        // The earliest sighting after the previous miss may now be before this miss; forget it. (A sighting
        // after this miss that completed earlier is forgotten too: the final read still bounds it.)
        if ((e.presentAfterInv[n] as number) <= inv) {
          e.presentAfterInv[n] = NaN;
          e.presentAfterComp[n] = NaN;
        }
      }
    }
    if (final) this.finalReads.set(node, { keys, completeMs: comp });
  }

  /** `healAtMs`: when writes had stopped and the network was whole (null: do not measure convergence). */
  result(healAtMs: number | null): SetCheck {
    const problems: string[] = [...this.badReads];
    const missingFinalReads = this.nodes.filter((n) => !this.finalReads.has(n));
    if (missingFinalReads.length > 0) problems.push(`no successful final read from ${missingFinalReads.join(', ')}`);
    const finals = this.nodes.flatMap((n, i) => {
      const f = this.finalReads.get(n);
      return f === undefined ? [] : [{ node: n, index: i, ...f }];
    });

    const lost: ElementState[] = [];
    const missingOn = new Set<string>();
    let acknowledged = 0;
    let recovered = 0;
    let neverRead = 0;
    const stable: ElementState[] = [];
    for (const e of this.list) {
      if (e.ack === 'ok') acknowledged++;
      const known = e.ack === 'ok' || e.firstSeenMs !== Infinity;
      const absentFrom = finals.filter((f) => !f.keys.has(e.key));
      if (known && absentFrom.length > 0) {
        lost.push(e);
        for (const f of absentFrom) missingOn.add(f.node);
      }
      if (!known) neverRead++;
      if (e.ack !== 'ok' && e.firstSeenMs !== Infinity) recovered++;
      if (missingFinalReads.length === 0 && absentFrom.length === 0) stable.push(e);
    }
    if (lost.length > 0) {
      problems.push(`lost ${lost.length} acknowledged or observed values (missing from the final reads of ${[...missingOn].sort().join(', ')}): ${showList(lost.map((e) => e.value), lost.length)}`);
    }
    const unexpected = [...this.unexpected.values()];
    if (unexpected.length > 0) problems.push(`reads returned ${unexpected.length} values no client ever added: ${showList(unexpected, unexpected.length)}`);
    if (this.duplicated.size > 0) problems.push(`reads returned ${this.duplicated.size} values more than once: ${showList([...this.duplicated], this.duplicated.size)}`);

    const lower: number[] = [];
    const upper: number[] = [];
    const gaps: number[] = [];
    const maelstrom: number[] = [];
    let convergedLower = -Infinity;
    let convergedUpper = -Infinity;
    for (const e of stable) {
      let absent = -Infinity;
      let present = -Infinity;
      for (const f of finals) {
        absent = Math.max(absent, e.lastAbsentInv[f.index] as number);
        const comp = e.presentAfterComp[f.index] as number;
        present = Math.max(present, Number.isNaN(comp) ? f.completeMs : comp);
      }
      const lo = Math.max(e.addInvokeMs, absent);
      const hi = Math.max(lo, present);
      lower.push(lo - e.addInvokeMs);
      upper.push(hi - e.addInvokeMs);
      gaps.push(hi - lo);
      const knownMs = Math.min(e.ackMs, e.firstSeenMs);
      maelstrom.push(absent === -Infinity ? 0 : Math.max(0, absent - knownMs));
      convergedLower = Math.max(convergedLower, absent);
      convergedUpper = Math.max(convergedUpper, present);
    }
    const visibility: Visibility | null =
      stable.length === 0
        ? null
        : { lower: summarize(lower), upper: summarize(upper), resolutionMs: this.probeMs, medianGapMs: ms(quantile(sortedCopy(gaps), 0.5)) };

    let convergence: Convergence | null = null;
    if (healAtMs !== null) {
      const agree = missingFinalReads.length === 0 && lost.length === 0 && finals.every((f) => f.keys.size === (finals[0] as (typeof finals)[number]).keys.size);
      convergence = {
        healAtMs: ms(healAtMs),
        afterHealMs: agree ? ms(Math.max(0, convergedLower - healAtMs)) : null,
        afterHealUpperMs: agree ? ms(Math.max(0, convergedUpper - healAtMs)) : null,
      };
    }

    return {
      kind: 'set',
      valid: problems.length === 0,
      problems,
      attempted: this.list.length,
      acknowledged,
      lost: lost.slice(0, EXAMPLES).map((e) => e.value),
      lostCount: lost.length,
      unexpected: unexpected.slice(0, EXAMPLES),
      unexpectedCount: unexpected.length,
      duplicatedCount: this.duplicated.size,
      recoveredCount: recovered,
      neverReadCount: neverRead,
      stableCount: stable.length,
      missingFinalReads,
      visibility,
      stableLatencies: quantiles(maelstrom),
      convergence,
    };
  }
}

/** Real-time order of a whole history: invocations and completions interleaved by time, invocations first on ties. */
function events(ops: readonly Op[]): Array<{ at: number; kind: 'invoke' | 'complete'; op: Op }> {
  const list: Array<{ at: number; kind: 'invoke' | 'complete'; op: Op }> = [];
  for (const op of ops) {
    list.push({ at: op.invokeMs, kind: 'invoke', op });
    if (op.completeMs !== null) list.push({ at: op.completeMs, kind: 'complete', op });
  }
  return list.sort((a, b) => a.at - b.at || (a.kind === b.kind ? 0 : a.kind === 'invoke' ? -1 : 1));
}

export function checkSet(ops: readonly Op[], nodes: readonly string[], options: { probeMs: number; healAtMs: number | null }): SetCheck {
  const analysis = new SetAnalysis(nodes, options.probeMs);
  for (const e of events(ops)) {
    if (e.kind === 'invoke') analysis.invoke(e.op);
    else analysis.complete(e.op);
  }
  return analysis.result(options.healAtMs);
}

// ---------------------------------------------------------------------------------------------------------
// g-counter, pn-counter

/**
 * The values a counter may hold: `definite` plus the sum of any subset of `indefinite`, as merged closed ranges
 * (pn_counter.clj builds the same set with Guava's TreeRangeSet).
 */
export function acceptableRanges(definite: number, indefinite: readonly number[]): Array<[number, number]> {
  let ranges: Array<[number, number]> = [[definite, definite]];
  for (const delta of indefinite) {
    if (delta === 0) continue;
    const merged = [...ranges, ...ranges.map(([lo, hi]): [number, number] => [lo + delta, hi + delta])].sort((a, b) => a[0] - b[0]);
    ranges = [];
    for (const [lo, hi] of merged) {
      const last = ranges[ranges.length - 1];
      // Integer ranges that touch ([1,2] and [3,4]) merge too.
      if (last !== undefined && lo <= last[1] + 1) last[1] = Math.max(last[1], hi);
      else ranges.push([lo, hi]);
    }
  }
  return ranges;
}

export function inRanges(ranges: ReadonlyArray<readonly [number, number]>, value: number): boolean {
  return ranges.some(([lo, hi]) => value >= lo && value <= hi);
}

export function checkCounter(ops: readonly Op[], nodes: readonly string[], options: { healAtMs: number | null }): CounterCheck {
  let definiteSum = 0;
  const indefinite: number[] = [];
  const readsByNode = new Map<string, Op[]>();
  const finalReads: Record<string, unknown> = {};
  for (const op of ops) {
    if (op.f === 'add') {
      if (typeof op.value !== 'number') continue;
      if (op.type === 'ok') definiteSum += op.value;
      else if (op.type !== 'fail') indefinite.push(op.value); // info, or pending at the end
    } else if (op.f === 'read' && op.type === 'ok' && op.completeMs !== null) {
      let list = readsByNode.get(op.node);
      if (list === undefined) readsByNode.set(op.node, (list = []));
      list.push(op);
      if (op.final) finalReads[op.node] = op.result;
    }
  }
  const acceptable = acceptableRanges(definiteSum, indefinite);
  const problems: string[] = [];
  const missingFinalReads = nodes.filter((n) => !(n in finalReads));
  if (missingFinalReads.length > 0) problems.push(`no successful final read from ${missingFinalReads.join(', ')}`);
  for (const [node, value] of Object.entries(finalReads)) {
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || !inRanges(acceptable, value)) {
      problems.push(`${node}'s final read is ${show(value)}, outside the acceptable ${acceptable.map(([lo, hi]) => (lo === hi ? `${lo}` : `${lo}..${hi}`)).join(', ')}`);
    }
  }

  let convergence: Convergence | null = null;
  if (options.healAtMs !== null) {
    const values = Object.values(finalReads);
    const agree = missingFinalReads.length === 0 && values.every((v) => v === values[0]);
    let lower = -Infinity;
    let upper = -Infinity;
    if (agree) {
      for (const reads of readsByNode.values()) {
        const sorted = [...reads].sort((a, b) => a.invokeMs - b.invokeMs);
        let last = -1;
        sorted.forEach((r, i) => {
          if (r.result !== values[0]) last = i;
        });
        if (last >= 0) lower = Math.max(lower, (sorted[last] as Op).invokeMs);
        const next = sorted[last + 1];
        if (next !== undefined && next.completeMs !== null) upper = Math.max(upper, next.completeMs);
      }
    }
    convergence = {
      healAtMs: ms(options.healAtMs),
      afterHealMs: agree ? ms(Math.max(0, lower - options.healAtMs)) : null,
      afterHealUpperMs: agree ? ms(Math.max(0, upper - options.healAtMs)) : null,
    };
  }

  return {
    kind: 'counter',
    valid: problems.length === 0,
    problems,
    definiteSum,
    indefiniteAdds: indefinite.length,
    acceptable,
    finalReads,
    missingFinalReads,
    convergence,
  };
}

