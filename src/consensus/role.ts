/**
 * Terms and roles (figure 2, "Rules for Servers", all servers): a message of a later term makes any server a
 * follower in that term with no vote yet; a leader that leaves office fails what only a leader could finish (its
 * read rounds) and arms the election timer it did not need while leading.
 */
import { assert } from '../core/assert.js';
import type { NodeId } from '../core/ids.js';
import { persistHard } from './persistence.js';
import { failReads } from './reads.js';
import type { RaftEffects, RaftEnv, RaftState } from './types.js';

/** §5.2: a timeout drawn uniformly from [electionMs, 2·electionMs), from the node's seeded PRNG. */
export function resetElectionTimer<S, C, Req, Out>(s: RaftState<S, C, Req>, now: number, effects: RaftEffects<C, Out>): void {
  const base = s.options.electionMs;
  effects.push({ kind: 'timer', name: 'election', at: now + base + s.prng.int(0, base - 1) });
}

/**
 * Follow `leader` (null: not known yet) in `term`, which is at least ours. A later term clears the vote, and
 * both are persisted in this step, before anything the caller sends.
 */
export function becomeFollower<S, C, R, Req, Out>(
  env: RaftEnv<S, C, R, Req, Out>,
  s: RaftState<S, C, Req>,
  term: number,
  leader: NodeId | null,
  now: number,
  effects: RaftEffects<C, Out>,
): void {
  assert(term >= s.term, `raft: following term ${term} below ours (${s.term})`);
  if (term > s.term) {
    s.term = term;
    s.votedFor = null;
    persistHard(s.options.codec, s.term, s.votedFor, effects);
  }
  if (s.role === 'leader') leaveOffice(env, s, now, effects);
  s.role = 'follower';
  s.leader = leader;
  s.votes.clear();
}

function leaveOffice<S, C, R, Req, Out>(env: RaftEnv<S, C, R, Req, Out>, s: RaftState<S, C, Req>, now: number, effects: RaftEffects<C, Out>): void {
  failReads(env, s, effects);
  s.progress.clear();
  s.proposedThisTerm.clear();
  s.round = 0;
  // Commands proposed here stay pending: they may still commit under the next leader, or time out (indefinite).
  resetElectionTimer(s, now, effects);
}
