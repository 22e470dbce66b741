/**
 * A run's client history, Jepsen style, and its verdict: operations are invoked, completed with their reply (or
 * a timeout), and judged by the workload's checker (checkers.ts) plus Jepsen's stats checker. Pure: whoever
 * drives the clients owns the clock and the transport. The harness (runner.ts, real processes on the wall clock)
 * and the simulated Maelstrom runs (simulated.ts, virtual time) both record through this, so
 * a history means the same and is checked the same way in both.
 *
 * Set reads are folded into the set analysis as they complete, so probe results need not be kept; counter probes
 * are numbers and are kept for the convergence measure.
 */
import { MaelstromError } from '../maelstrom/service.js';
import { interpretReply, type OpSpec } from './client.js';
import { SetAnalysis, checkCounter, checkEcho, checkUniqueIds, statsProblems } from './checkers.js';
import { checkLinKv } from './linearizability.js';
import { checkKafka } from './kafka.js';
import { checkTxn, DEFAULT_CONSISTENCY_MODELS, type ConsistencyModel } from './txn.js';
import { isCounterWorkload, isSetWorkload, type CheckResult, type HarnessWorkload, type Op } from './types.js';

/** How an operation ended. */
export type Outcome =
  /** A reply came: its body, classified by the workload's schema. */
  | { readonly body: unknown }
  /** No reply within the client's timeout: indefinite. */
  | { readonly timeout: true }
  /**
   * The node that answered crashed afterwards, and it keeps nothing on disk: what it acknowledged may have died
   * with it before it reached anyone, so the answer is indefinite (Maelstrom's `crash`, code 13).
   */
  | { readonly forgotten: true }
  /**
   * The process nemesis killed the node with the request in flight (`in-flight`: indefinite, Maelstrom's crash),
   * or the node was down when the request was to go out, so it was never sent (`down`: a definite failure, as a
   * refused connection is to Jepsen's clients; Maelstrom's temporarily-unavailable).
   */
  | { readonly killed: 'in-flight' | 'down' };

/** Examples of malformed replies kept for the report. */
const EXAMPLES = 5;

export class History {
  /** Client operations in invocation order (probes are not operations). */
  readonly ops: Op[] = [];
  /** Counter probe reads, for the convergence measure. */
  private readonly probeOps: Op[] = [];
  private readonly setAnalysis: SetAnalysis | undefined;
  private nextIndex = 0;
  private malformedReplies = 0;
  private readonly malformedExamples: string[] = [];
  probeReads = 0;
  probeFailed = 0;

  constructor(
    readonly workload: HarnessWorkload,
    readonly nodes: readonly string[],
    probeMs: number,
    /** txn-rw-register: the models its checker holds the history to. */
    readonly consistencyModels: readonly ConsistencyModel[] = DEFAULT_CONSISTENCY_MODELS,
  ) {
    this.setAnalysis = isSetWorkload(workload) ? new SetAnalysis(nodes, probeMs) : undefined;
  }

  /** Records the invocation of `spec` by `client` on `node` at `invokeMs`; complete it with `complete`. */
  invoke(spec: OpSpec, client: string, node: string, invokeMs: number, kind: { readonly final: boolean; readonly probe: boolean }): Op {
    const op: Op = {
      index: this.nextIndex++,
      f: spec.f,
      value: spec.value,
      client,
      node,
      invokeMs,
      completeMs: null,
      type: null,
      final: kind.final,
      probe: kind.probe,
    };
    if (!kind.probe) this.ops.push(op);
    else if (isCounterWorkload(this.workload)) this.probeOps.push(op);
    this.setAnalysis?.invoke(op);
    return op;
  }

  complete(op: Op, completeMs: number, outcome: Outcome): void {
    op.completeMs = completeMs;
    if ('timeout' in outcome) {
      op.type = 'info';
      op.error = { kind: 'timeout' };
    } else if ('killed' in outcome) {
      const inFlight = outcome.killed === 'in-flight';
      op.type = inFlight ? 'info' : 'fail';
      op.error = inFlight
        ? { kind: 'code', code: MaelstromError.crash, text: 'the node was killed with the request in flight' }
        : { kind: 'code', code: MaelstromError.temporarilyUnavailable, text: 'the node was down (killed, not started again yet); not sent' };
    } else if ('forgotten' in outcome) {
      op.type = 'info';
      op.error = { kind: 'code', code: MaelstromError.crash, text: 'answered by a node that crashed later and keeps nothing on disk' };
    } else {
      const r = interpretReply(this.workload, op.f, outcome.body);
      op.type = r.type;
      if (r.type === 'ok') op.result = r.result;
      else {
        op.error = r.error;
        if (r.error.kind === 'malformed') {
          this.malformedReplies++;
          if (this.malformedExamples.length < EXAMPLES) this.malformedExamples.push(`${op.node}: ${r.error.text}`);
        }
      }
    }
    this.setAnalysis?.complete(op);
    if (op.probe) {
      this.probeReads++;
      if (op.type !== 'ok') this.probeFailed++;
    }
  }

  /**
   * Closes operations still pending as indefinite, then checks. `healAtMs`: when writes had stopped and the
   * network was whole, for the convergence measure (null: none). `problems` are the workload checker's;
   * `undecided` the reasons a run without problems is neither valid nor invalid (Jepsen's `:unknown`): the stats
   * checker's (an operation kind that never succeeded says nothing either way: a short run may see no cas succeed)
   * and a checker that hit its search bound.
   */
  check(healAtMs: number | null): { readonly check: CheckResult; readonly problems: string[]; readonly undecided: string[] } {
    for (const op of this.ops) if (op.type === null) op.type = 'info';
    const check = this.checkWorkload(healAtMs);
    return { check, problems: [...check.problems], undecided: [...statsProblems(this.ops), ...History.undecided(check)] };
  }

  /** Why a checker could not decide (lin-kv's search hit its bound on some keys, txn's graph has no edges); empty when it decided. */
  static undecided(check: CheckResult | null): string[] {
    if (check?.kind === 'txn' && check.verdict === 'unknown') {
      return ["the transactions' dependency graph has no edges (no transaction read another's write): the history says nothing about isolation (Elle's :unknown)"];
    }
    if (check?.kind !== 'lin-kv' || check.valid !== 'unknown') return [];
    const keys = check.keys.filter((k) => k.valid === 'unknown').length;
    return [`the linearizability search hit its bound (${check.maxStepsPerKey} steps or its memory) on ${keys} key${keys === 1 ? '' : 's'}`];
  }

  /** Replies that broke the workload's schema, as one problem line (none: empty). */
  malformedProblems(): string[] {
    return this.malformedReplies === 0 ? [] : [`${this.malformedReplies} replies broke the workload's schema, e.g. ${this.malformedExamples.join('; ')}`];
  }

  private checkWorkload(healAtMs: number | null): CheckResult {
    if (this.setAnalysis !== undefined) return this.setAnalysis.result(healAtMs);
    if (isCounterWorkload(this.workload)) return checkCounter([...this.ops, ...this.probeOps], this.nodes, { healAtMs });
    if (this.workload === 'echo') return checkEcho(this.ops);
    if (this.workload === 'lin-kv') return checkLinKv(this.ops);
    if (this.workload === 'kafka') return checkKafka(this.ops);
    if (this.workload === 'txn-rw-register') return checkTxn(this.ops, this.consistencyModels);
    return checkUniqueIds(this.ops);
  }
}
