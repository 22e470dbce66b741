/**
 * Split derivation: from registrations (node, [start, end), priority, meta) to the subranges they cut the key
 * space into, each with the nodes that serve it, best first. Pure and deterministic.
 *
 * Split points are never stored: they are every registration's start and end. Between two consecutive split
 * points the set of covering registrations is constant, so each such interval is one subrange. Subranges
 * that no registration covers (gaps) are left out; `lookup` in a gap returns no node. Adjacent subranges with
 * the same nodes are not merged (the split points are exactly the starts and ends).
 *
 * Order of the nodes of a subrange: priority descending, then node id ascending (code-unit order, the same
 * on every platform). A node listed once per subrange: if several of its registrations cover the subrange
 * (overlapping registrations of one node), the best one in (priority desc, start asc, end asc) order
 * represents it. The entries are the registration objects themselves, so `start`/`end` of an entry are its
 * registration's range, not the subrange's.
 *
 * Cost: one sort of the registrations and of their ends, then a sweep over the split points that keeps the
 * covering registrations in a sorted array, O(R log R + output), where the output is the sum of the
 * subranges' node counts. `lookup` is a binary search, O(log S + nodes).
 */
import { assert } from '../core/assert.js';
import type { PlainData } from '../crdt/index.js';
import { type KeyRange, KEY_SPACE_SIZE, checkPosition, checkRange } from './key-space.js';

/** A node serving a range with a priority; `meta` says how to reach it. */
export interface Registration {
  readonly node: string;
  readonly start: number;
  readonly end: number;
  readonly priority: number;
  readonly meta: PlainData;
}

/** A piece [start, end) of the key space that one set of registrations covers. */
export interface Subrange extends KeyRange {
  /** The registrations serving this subrange, one per node, best first. */
  readonly nodes: readonly Registration[];
}

/** Priority descending, node ascending, then start and end ascending: the order of serving registrations. */
export function compareServing(a: Registration, b: Registration): number {
  if (a.priority !== b.priority) return a.priority > b.priority ? -1 : 1;
  if (a.node !== b.node) return a.node < b.node ? -1 : 1;
  if (a.start !== b.start) return a.start - b.start;
  return a.end - b.end;
}

function checkRegistration(r: Registration): void {
  if (typeof r.node !== 'string' || r.node.length === 0) throw new TypeError('a node id must be a non-empty string');
  checkRange(r.start, r.end);
  if (typeof r.priority !== 'number' || !Number.isFinite(r.priority)) {
    throw new RangeError(`a priority must be a finite number, got ${String(r.priority)}`);
  }
}

/** The first index in `sorted` whose value is ≥ `value` (sorted ascending). */
function lowerBound(sorted: readonly number[], value: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((sorted[mid] as number) < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export class Topology {
  /** Subrange starts, for the binary search of `lookup`. */
  private readonly starts: number[];

  private constructor(readonly subranges: readonly Subrange[]) {
    this.starts = subranges.map((s) => s.start);
  }

  /** The topology of no registrations. */
  static readonly EMPTY: Topology = new Topology([]);

  /** Derives the subranges of `registrations`; throws on an invalid range, node or priority. */
  static derive(registrations: Iterable<Registration>): Topology {
    const regs = [...registrations];
    for (const r of regs) checkRegistration(r);
    if (regs.length === 0) return Topology.EMPTY;
    // Rank = position in serving order; the index breaks exact ties so that ranks are distinct.
    const ranked = regs.map((r, i) => ({ r, i })).sort((a, b) => compareServing(a.r, b.r) || a.i - b.i);
    const byRank = ranked.map((x) => x.r);
    const byStart = byRank.map((_, rank) => rank).sort((a, b) => (byRank[a] as Registration).start - (byRank[b] as Registration).start);
    const byEnd = byRank.map((_, rank) => rank).sort((a, b) => (byRank[a] as Registration).end - (byRank[b] as Registration).end);
    const points = [...new Set(regs.flatMap((r) => [r.start, r.end]))].sort((a, b) => a - b);

    const subranges: Subrange[] = [];
    const active: number[] = []; // ranks of the registrations covering the current subrange, ascending
    let nextStart = 0;
    let nextEnd = 0;
    for (let p = 0; p < points.length - 1; p++) {
      const point = points[p] as number;
      while (nextEnd < byEnd.length && (byRank[byEnd[nextEnd] as number] as Registration).end === point) {
        const rank = byEnd[nextEnd++] as number;
        const at = lowerBound(active, rank);
        // Every registration ends after it starts, so the one ending here was made active at an earlier point.
        assert(active[at] === rank, 'topology: a registration ends that was not active');
        active.splice(at, 1);
      }
      while (nextStart < byStart.length && (byRank[byStart[nextStart] as number] as Registration).start === point) {
        const rank = byStart[nextStart++] as number;
        active.splice(lowerBound(active, rank), 0, rank);
      }
      if (active.length === 0) continue;
      const nodes: Registration[] = [];
      const seen = new Set<string>();
      for (const rank of active) {
        const r = byRank[rank] as Registration;
        if (seen.has(r.node)) continue; // a better registration of this node is already listed
        seen.add(r.node);
        nodes.push(r);
      }
      subranges.push({ start: point, end: points[p + 1] as number, nodes });
    }
    // Every start is at or before the last point, so the sweep made every registration active.
    assert(nextStart === byStart.length, 'topology: the sweep skipped a registration start');
    return new Topology(subranges);
  }

  /** The registrations serving `position` (an integer of the key space), best first; empty in a gap. */
  lookup(position: number): readonly Registration[] {
    checkPosition(position);
    return this.subrangeAt(position)?.nodes ?? [];
  }

  /** The subrange containing `position`, or undefined in a gap. */
  subrangeAt(position: number): Subrange | undefined {
    // The last subrange starting at or before the position.
    const i = lowerBound(this.starts, position + 1) - 1;
    const sub = this.subranges[i];
    return sub !== undefined && position < sub.end ? sub : undefined;
  }

  /**
   * Asserts what `derive` promises: subranges non-empty, inside the key space, sorted and disjoint (gaps allowed:
   * nothing covers them); each served by at least one node, nodes distinct and in serving order, each by a
   * registration covering the subrange; and the lookup index in step. O(subranges + nodes).
   */
  checkInvariants(): void {
    assert(this.starts.length === this.subranges.length, 'topology: the lookup index and the subranges differ in length');
    let end = 0;
    for (let i = 0; i < this.subranges.length; i++) {
      const s = this.subranges[i] as Subrange;
      assert(this.starts[i] === s.start, 'topology: the lookup index is out of step');
      assert(Number.isInteger(s.start) && Number.isInteger(s.end) && s.start < s.end && s.end <= KEY_SPACE_SIZE, 'topology: a subrange that is not a non-empty range of the key space');
      assert(end <= s.start, 'topology: subranges out of order or overlapping');
      end = s.end;
      assert(s.nodes.length > 0, 'topology: a subrange nobody serves (gaps are left out)');
      const seen = new Set<string>();
      for (let k = 0; k < s.nodes.length; k++) {
        const r = s.nodes[k] as Registration;
        assert(r.start <= s.start && s.end <= r.end, 'topology: a node listed for a subrange its registration does not cover');
        assert(!seen.has(r.node), 'topology: a node listed twice for one subrange');
        seen.add(r.node);
        assert(k === 0 || compareServing(s.nodes[k - 1] as Registration, r) < 0, 'topology: nodes out of serving order');
      }
    }
  }

  /** Split points in use: the distinct bounds of the subranges, ascending. */
  splitPoints(): number[] {
    const points: number[] = [];
    for (const s of this.subranges) {
      if (points[points.length - 1] !== s.start) points.push(s.start);
      points.push(s.end);
    }
    return points;
  }
}

/** Shorthand for `Topology.derive`. */
export function deriveTopology(registrations: Iterable<Registration>): Topology {
  return Topology.derive(registrations);
}
