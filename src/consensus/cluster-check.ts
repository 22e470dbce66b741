/**
 * Figure 3's safety properties over a whole cluster, for the simulator (which shows test code every node's state
 * after every step): feed it each state with `observe`; it throws on the first violation.
 *
 * - Election Safety: at most one leader per term, over the whole run (restarts included).
 * - Log Matching: two logs holding an entry of the same index and term are identical up to it. Entries are
 *   identified by (term, origin) — an origin is unique and a term has one no-op — and each prefix by a running
 *   hash of those, so the check costs what changed since the node's last step.
 * - State Machine Safety: every node's committed prefix is a prefix of one sequence (hence so is what it applied,
 *   since applying is eager and deterministic).
 * - Leader Completeness: a leader of a term holds every entry committed in an earlier term. "Committed in" is
 *   over-approximated by the term of the node that first reported the commit, which keeps the check sound.
 */
import { assert } from '../core/assert.js';
import type { NodeId } from '../core/ids.js';
import { hash32, hashString32 } from '../core/prng.js';
import type { Entry, RaftState } from './types.js';

interface NodeCache<C> {
  entries: Entry<C>[];
  hashes: number[];
  /** Entries up to here were checked against the committed sequence (and have not changed since). */
  checkedCommit: number;
  /** The term this node last led, and how much of the committed sequence its log was checked against. */
  leaderTerm: number;
  leaderChecked: number;
}

export interface CommittedEntry<C> {
  readonly index: number;
  readonly entry: Entry<C>;
  /** The term of the node that first reported it committed (at or after the term it was committed in). */
  readonly seenInTerm: number;
}

export class RaftClusterChecker<C> {
  private readonly leaders = new Map<number, NodeId>();
  /** index → term → prefix hash, for Log Matching. */
  private readonly prefixes = new Map<number, Map<number, number>>();
  private readonly caches = new Map<NodeId, NodeCache<C>>();
  private readonly committed: CommittedEntry<C>[] = [];
  private readonly committedHashes: number[] = [];

  /** The committed sequence as far as any node has reported it. */
  get committedEntries(): readonly CommittedEntry<C>[] {
    return this.committed;
  }

  observe<S, Req>(node: NodeId, s: RaftState<S, C, Req>): void {
    if (s.role === 'leader') {
      const other = this.leaders.get(s.term);
      assert(other === undefined || other === node, `election safety: ${other} and ${node} both led term ${s.term}`);
      this.leaders.set(s.term, node);
    }
    const cache = this.cacheOf(node);
    const same = this.rehash(cache, s.log);
    const hashes = cache.hashes;
    // Entries kept since the last step were checked then; only the changed tail is new.
    for (let i = same + 1; i <= s.log.length; i++) {
      const term = s.log[i - 1]!.term;
      let byTerm = this.prefixes.get(i);
      if (byTerm === undefined) this.prefixes.set(i, (byTerm = new Map()));
      const known = byTerm.get(term);
      if (known === undefined) byTerm.set(term, hashes[i - 1]!);
      else assert(known === hashes[i - 1], `log matching: ${node}'s log differs before index ${i} from another log holding the same entry (term ${term})`);
    }
    for (let i = Math.min(cache.checkedCommit, same) + 1; i <= s.commitIndex; i++) {
      const h = hashes[i - 1]!;
      if (i <= this.committed.length) {
        assert(this.committedHashes[i - 1] === h, `state machine safety: ${node} committed a different entry at ${i} than another node`);
      } else {
        this.committed.push({ index: i, entry: s.log[i - 1]!, seenInTerm: s.term });
        this.committedHashes.push(h);
      }
    }
    cache.checkedCommit = s.commitIndex;
    if (s.role === 'leader') {
      // A leader's log only grows during its term, so what was checked stays checked.
      if (cache.leaderTerm !== s.term) {
        cache.leaderTerm = s.term;
        cache.leaderChecked = 0;
      }
      for (; cache.leaderChecked < this.committed.length; cache.leaderChecked++) {
        const c = this.committed[cache.leaderChecked]!;
        if (c.seenInTerm >= s.term) continue;
        assert(c.index <= s.log.length && hashes[c.index - 1] === this.committedHashes[c.index - 1], `leader completeness: leader ${node} of term ${s.term} lacks entry ${c.index} committed by term ${c.seenInTerm}`);
      }
    }
  }

  private cacheOf(node: NodeId): NodeCache<C> {
    let cache = this.caches.get(node);
    if (cache === undefined) this.caches.set(node, (cache = { entries: [], hashes: [], checkedCommit: 0, leaderTerm: 0, leaderChecked: 0 }));
    return cache;
  }

  /** Brings the prefix hashes up to `log`, from the first entry that changed; returns how many stayed. */
  private rehash(cache: NodeCache<C>, log: readonly Entry<C>[]): number {
    const n = Math.min(cache.entries.length, log.length);
    // Logs change only at their tail (a truncation, then appends): when the last cached entry is still in place,
    // so is everything before it, and the scan is skipped (the common step, which leaves the log alone).
    let same = n > 0 && cache.entries[n - 1] === log[n - 1] ? n : 0;
    while (same < n && cache.entries[same] === log[same]) same++;
    cache.entries.length = same;
    cache.hashes.length = same;
    for (let i = same; i < log.length; i++) {
      const e = log[i]!;
      const previous = i === 0 ? 0x9e3779b9 : cache.hashes[i - 1]!;
      cache.entries.push(e);
      cache.hashes.push(hash32(previous ^ hash32(e.term) ^ hashString32(e.origin ?? `noop@${e.term}`)));
    }
    return same;
  }
}
