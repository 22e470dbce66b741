/**
 * The ordered, compacting record of every message a node knows, shared by both agreement protocols.
 *
 * Each sender appends summarized runs (batches) in its own timestamp order. The agreed total order is
 * (timestamp, sender rank, sequence number), identical on every node. A sender's `bound` promises that all of
 * its future runs have timestamps strictly above it, so every pending run at or below the minimum bound of the
 * senders still going is final in position and is folded into the prefix (the watermark compaction of the
 * original chatterbox). Only runs above the watermark are kept, as summaries, never as values.
 */
import { assert, AssertionError } from '../core/assert.js';
import { appendSummary, emptySummary, type Summary } from './checksum.js';

export interface Run {
  readonly ts: number;
  readonly seq: number;
  readonly summary: Summary;
}

interface SenderLane {
  runs: Run[];
  head: number;
  bound: number;
  lastTs: number;
  finished: boolean;
}

export class Ledger {
  private readonly lanes: SenderLane[];
  private readonly prefixSummary: Summary = emptySummary();
  private pending = 0;
  /** The watermark of the last `commit`: it only rises (bounds only rise, and finished lanes leave the minimum). */
  private watermark = -Infinity;

  constructor(senderCount: number) {
    assert(senderCount > 0, 'a ledger needs at least one sender');
    this.lanes = Array.from({ length: senderCount }, () => ({ runs: [], head: 0, bound: -Infinity, lastTs: -Infinity, finished: false }));
  }

  /** Appends a run of `rank`; runs of one sender arrive in strictly increasing timestamp order. */
  append(rank: number, run: Run): void {
    const lane = this.lane(rank);
    // Constant messages: a template would be built on every append, and this is the hot path.
    assert(!lane.finished, 'ledger: a sender appended after it finished');
    assert(run.ts > lane.lastTs, "ledger: a sender's runs out of timestamp order");
    assert(run.ts > lane.bound, 'ledger: a sender appended a run at or below its promised bound');
    lane.lastTs = run.ts;
    // Runs of a sender come in strictly increasing timestamp order, so its own run is a bound too.
    if (run.ts > lane.bound) lane.bound = run.ts;
    lane.runs.push(run);
    this.pending += run.summary.count;
  }

  /** Every future run of `rank` has a timestamp above `ts`. Bounds only move forward. */
  raiseBound(rank: number, ts: number): void {
    const lane = this.lane(rank);
    if (ts > lane.bound) lane.bound = ts;
  }

  /** `rank` will append nothing more. */
  finish(rank: number): void {
    this.lane(rank).finished = true;
  }

  isFinished(rank: number): boolean {
    return this.lane(rank).finished;
  }

  /** Folds every run whose place in the total order is settled; returns how many messages it folded. */
  commit(): number {
    let watermark = Infinity;
    for (const lane of this.lanes) if (!lane.finished && lane.bound < watermark) watermark = lane.bound;
    // A falling watermark would fold a run after one that sorts later: a different result on another node.
    if (watermark < this.watermark) throw new AssertionError(`the watermark fell from ${this.watermark} to ${watermark}`);
    this.watermark = watermark;
    return this.foldUpTo(watermark);
  }

  /**
   * The ledger's invariants (for the protocols' `invariants`), in time linear in the lanes: every lane's head
   * within its runs, its runs ahead of the head above the last commit's watermark (folded up to it), its last
   * timestamp at or below its bound, and nothing pending but what the lanes hold.
   */
  checkInvariants(): void {
    let heads = 0;
    for (let rank = 0; rank < this.lanes.length; rank++) {
      const lane = this.lanes[rank] as SenderLane;
      const next = lane.runs[lane.head];
      if (lane.head < 0 || lane.head > lane.runs.length) throw new AssertionError(`ledger lane ${rank}: head ${lane.head} outside its ${lane.runs.length} runs`);
      if (lane.lastTs > lane.bound) throw new AssertionError(`ledger lane ${rank}: last run at ${lane.lastTs} above its bound ${lane.bound}`);
      if (next !== undefined && next.ts <= this.watermark) throw new AssertionError(`ledger lane ${rank}: a run at ${next.ts} is at or below the watermark ${this.watermark} and not folded`);
      if (next !== undefined) heads++;
    }
    if (this.pending < 0 || (this.pending > 0 && heads === 0)) throw new AssertionError(`ledger: ${this.pending} pending with no run held`);
  }

  /**
   * Folds everything pending, settled or not. Used once, when the deadline forces a result: peers that are
   * still going may yet send runs that would have sorted earlier, which is why such a result is reported as
   * unconfirmed.
   */
  commitAll(): number {
    return this.foldUpTo(Infinity);
  }

  /** Messages folded into the prefix so far, and the prefix itself. */
  /** The last commit's watermark (hybrid-clock µs): -Infinity before the first, Infinity once every lane finished. */
  get currentWatermark(): number {
    return this.watermark;
  }

  get committed(): Readonly<Summary> {
    return this.prefixSummary;
  }

  /** Messages known but not yet folded. */
  get pendingCount(): number {
    return this.pending;
  }

  private foldUpTo(watermark: number): number {
    let folded = 0;
    for (;;) {
      let best: SenderLane | undefined;
      let bestRun: Run | undefined;
      for (const lane of this.lanes) {
        const run = lane.runs[lane.head];
        if (run === undefined || run.ts > watermark) continue;
        // Lanes are scanned in rank order, so a strict `<` keeps the lower rank on equal timestamps.
        if (bestRun === undefined || run.ts < bestRun.ts) {
          best = lane;
          bestRun = run;
        }
      }
      if (best === undefined || bestRun === undefined) break;
      best.head++;
      if (best.head > 64 && best.head * 2 > best.runs.length) {
        best.runs = best.runs.slice(best.head);
        best.head = 0;
      }
      appendSummary(this.prefixSummary, bestRun.summary);
      this.pending -= bestRun.summary.count;
      folded += bestRun.summary.count;
    }
    return folded;
  }

  private lane(rank: number): SenderLane {
    const lane = this.lanes[rank];
    assert(lane !== undefined, 'ledger: no sender with that rank');
    return lane;
  }
}
