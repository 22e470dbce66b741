/**
 * The replicated log (figure 2, "AppendEntries RPC", receiver rules 2–4, and the election restriction of §5.4.1).
 * Entries are 1-based; index 0 is the empty prefix of term 0. Every change is persisted in the same step.
 */
import { assert } from '../core/assert.js';
import { forgetEntry, persistEntry } from './persistence.js';
import type { Entry, RaftEffects, RaftState } from './types.js';

export function lastIndex<S, C, Req>(s: RaftState<S, C, Req>): number {
  return s.log.length;
}

/** The term of the entry at `index` (0 for index 0); the index must be in the log. */
export function termAt<S, C, Req>(s: RaftState<S, C, Req>, index: number): number {
  if (index === 0) return 0;
  const entry = s.log[index - 1];
  assert(entry !== undefined, `raft: no entry at ${index} (last ${s.log.length})`);
  return entry.term;
}

export function lastTerm<S, C, Req>(s: RaftState<S, C, Req>): number {
  return termAt(s, s.log.length);
}

/** §5.4.1: a candidate's log is at least as up-to-date as ours (later last term, or same term and as long). */
export function isUpToDate<S, C, Req>(s: RaftState<S, C, Req>, candidateLastIndex: number, candidateLastTerm: number): boolean {
  const term = lastTerm(s);
  return candidateLastTerm > term || (candidateLastTerm === term && candidateLastIndex >= s.log.length);
}

/** A leader appends its own entry (Leader Append-Only). */
export function appendOwn<S, C, Req, Out>(s: RaftState<S, C, Req>, entry: Entry<C>, effects: RaftEffects<C, Out>): number {
  assert(entry.term === s.term, 'raft: a leader appends entries of its own term only');
  s.log.push(entry);
  persistEntry(s.options.codec, s.log.length, entry, effects);
  return s.log.length;
}

/**
 * Receiver rules 3 and 4: entries following `prevIndex` (which matches) are merged; an existing entry that
 * conflicts (same index, other term) is deleted with all that follow it; entries already present are kept, so a
 * reordered, older append never shortens the log. Returns the last index the append proves to match.
 */
export function mergeEntries<S, C, Req, Out>(s: RaftState<S, C, Req>, prevIndex: number, entries: readonly Entry<C>[], effects: RaftEffects<C, Out>): number {
  for (let k = 0; k < entries.length; k++) {
    const index = prevIndex + 1 + k;
    const entry = entries[k] as Entry<C>;
    if (index <= s.log.length) {
      if (termAt(s, index) === entry.term) continue;
      truncateFrom(s, index, effects);
    }
    s.log.push(entry);
    persistEntry(s.options.codec, index, entry, effects);
  }
  return prevIndex + entries.length;
}

function truncateFrom<S, C, Req, Out>(s: RaftState<S, C, Req>, index: number, effects: RaftEffects<C, Out>): void {
  // A committed entry is never replaced (Leader Completeness makes every later leader hold it).
  assert(index > s.commitIndex, `raft: truncating at ${index} would drop committed entries (commit ${s.commitIndex})`);
  for (let i = s.log.length; i >= index; i--) forgetEntry(i, effects);
  s.log.length = index - 1;
}
