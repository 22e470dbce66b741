/**
 * The harness's process nemeses, as a model: which kills and pauses a run makes (a src/sim/faults.ts schedule,
 * one model for both backends) and how an answer is judged when the node that gave it may be killed. Pure: the
 * process backend (runner.ts) carries the schedule out with signals and asks `AnswerBook` about every answer.
 *
 * Judging, after Jepsen: an operation in flight to a node when it is killed is indefinite (it may or may not
 * have happened), and so is one whose reply never came from a paused node (the client's timeout). A request for
 * a node that is down is never sent, a definite failure (a refused connection to Jepsen's clients). A node that
 * keeps nothing on disk may take to its grave what it acknowledged and had not passed on yet, so an answer given
 * by an incarnation that is killed later is indefinite too (`forgotten`, as the simulated backend records it).
 * A node that keeps its state in a data dir answers for good: its answers are definite.
 */
import { assert } from '../core/assert.js';
import type { NodeId } from '../core/ids.js';
import type { Prng } from '../core/prng.js';
import { processNemesisSchedule, type Fault, type ProcessFaultKind } from '../sim/faults.js';

export type ProcessFault = Extract<Fault, { kind: 'crash' | 'pause' }>;

/** The kills and pauses of a run over [0, timeLimitMs), every one over by then (the final heal). */
export function drawProcessNemesis(prng: Prng, nodes: readonly NodeId[], kinds: readonly ProcessFaultKind[], intervalMs: number, timeLimitMs: number): ProcessFault[] {
  return processNemesisSchedule(prng, nodes, kinds, intervalMs, timeLimitMs) as ProcessFault[];
}

/** How an answer from a node's incarnation counts. */
export type AnswerStanding = 'definite' | 'forgotten';

/**
 * Per node: its incarnation (0 at the first start, +1 at every restart) and the kills still to come. Without
 * kept state, an answer is forgotten when its incarnation is already dead (its line was read after the kill) or
 * a kill of the node is still to come (the schedule is drawn up front, so this is known when the answer
 * arrives). Kills cut by an early end of the run count as to come: that only makes answers indefinite, never
 * makes a wrong one definite.
 */
export class AnswerBook {
  private readonly incarnations = new Map<string, number>();
  private readonly killsToCome = new Map<string, number>();

  constructor(
    nodes: readonly string[],
    faults: readonly ProcessFault[],
    /** Whether nodes keep what they acknowledged across a kill (they were given a data dir). */
    readonly keepsState: boolean,
  ) {
    for (const node of nodes) {
      this.incarnations.set(node, 0);
      this.killsToCome.set(node, 0);
    }
    for (const f of faults) {
      if (f.kind !== 'crash') continue;
      const count = this.killsToCome.get(f.node);
      assert(count !== undefined, `a kill of ${f.node}, which is not a node of the run`);
      this.killsToCome.set(f.node, count + 1);
    }
  }

  /** The node's running (or next) incarnation. */
  incarnation(node: string): number {
    const i = this.incarnations.get(node);
    assert(i !== undefined, `unknown node ${node}`);
    return i;
  }

  /** The node's current incarnation was killed; the next start is a new one. */
  killed(node: string): void {
    const toCome = this.killsToCome.get(node) ?? 0;
    assert(toCome > 0, `${node} was killed more often than the schedule says`);
    this.killsToCome.set(node, toCome - 1);
    this.incarnations.set(node, this.incarnation(node) + 1);
  }

  /** The process nemesis has stopped: kills it had not made yet never will be. */
  noMoreKills(): void {
    for (const node of this.killsToCome.keys()) this.killsToCome.set(node, 0);
  }

  /** How an answer by `node`'s incarnation `incarnation`, read now, counts. */
  standing(node: string, incarnation: number): AnswerStanding {
    if (this.keepsState) return 'definite';
    if (incarnation < this.incarnation(node)) return 'forgotten';
    return (this.killsToCome.get(node) ?? 0) > 0 ? 'forgotten' : 'definite';
  }
}
