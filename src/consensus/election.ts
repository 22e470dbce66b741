/**
 * Leader election (figure 2, "RequestVote RPC" and "Rules for Servers": followers and candidates; §5.2, §5.4.1).
 *
 * - A follower that hears from no leader for its election timeout (randomized, role.ts) becomes a candidate:
 *   it increments its term, votes for itself (persisted before the requests leave) and asks every peer.
 * - A server grants at most one vote per term (persisted before the grant leaves), and only to a candidate whose
 *   log is at least as up-to-date as its own (the election restriction that gives Leader Completeness).
 * - Votes from a majority make the candidate leader. It appends a no-op of its term at once (§8): committing it
 *   commits every earlier entry and opens the read path (reads.ts).
 */
import type { NodeId } from '../core/ids.js';
import { isUpToDate, lastIndex, lastTerm, appendOwn } from './log.js';
import { persistHard } from './persistence.js';
import { maybeCommit, replicate } from './replication.js';
import { becomeFollower, resetElectionTimer } from './role.js';
import type { RaftEffects, RaftEnv, RaftMsg, RaftState } from './types.js';

export function startElection<S, C, R, Req, Out>(env: RaftEnv<S, C, R, Req, Out>, s: RaftState<S, C, Req>, now: number, effects: RaftEffects<C, Out>): void {
  if (s.role === 'leader') return;
  s.role = 'candidate';
  s.term++;
  s.votedFor = s.self;
  s.leader = null;
  persistHard(s.options.codec, s.term, s.votedFor, effects);
  s.votes.clear();
  s.votes.add(s.self);
  s.stats.elections++;
  resetElectionTimer(s, now, effects);
  const msg: RaftMsg<C> = { t: 'vote', term: s.term, lastIndex: lastIndex(s), lastTerm: lastTerm(s) };
  for (const peer of s.peers) effects.push({ kind: 'send', to: peer, msg });
  if (s.votes.size >= s.quorum) becomeLeader(env, s, now, effects);
}

export function onVote<S, C, R, Req, Out>(
  env: RaftEnv<S, C, R, Req, Out>,
  s: RaftState<S, C, Req>,
  from: NodeId,
  msg: Extract<RaftMsg<C>, { t: 'vote' }>,
  now: number,
  effects: RaftEffects<C, Out>,
): void {
  if (msg.term > s.term) becomeFollower(env, s, msg.term, null, now, effects);
  const granted = msg.term === s.term && (s.votedFor === null || s.votedFor === from) && isUpToDate(s, msg.lastIndex, msg.lastTerm);
  if (granted) {
    if (s.votedFor !== from) {
      s.votedFor = from;
      persistHard(s.options.codec, s.term, s.votedFor, effects);
    }
    resetElectionTimer(s, now, effects);
  }
  effects.push({ kind: 'send', to: from, msg: { t: 'voteReply', term: s.term, granted } });
}

export function onVoteReply<S, C, R, Req, Out>(
  env: RaftEnv<S, C, R, Req, Out>,
  s: RaftState<S, C, Req>,
  from: NodeId,
  msg: Extract<RaftMsg<C>, { t: 'voteReply' }>,
  now: number,
  effects: RaftEffects<C, Out>,
): void {
  if (msg.term > s.term) {
    becomeFollower(env, s, msg.term, null, now, effects);
    return;
  }
  if (s.role !== 'candidate' || msg.term !== s.term || !msg.granted) return;
  s.votes.add(from);
  if (s.votes.size >= s.quorum) becomeLeader(env, s, now, effects);
}

function becomeLeader<S, C, R, Req, Out>(env: RaftEnv<S, C, R, Req, Out>, s: RaftState<S, C, Req>, now: number, effects: RaftEffects<C, Out>): void {
  s.role = 'leader';
  s.leader = s.self;
  s.votes.clear();
  s.round = 0;
  s.readRound = null;
  s.progress.clear();
  for (const peer of s.peers) {
    s.progress.set(peer, { next: s.log.length + 1, match: 0, inflight: 0, sentAt: now, acked: 0, heardAt: now, contacted: false });
  }
  effects.push({ kind: 'timer', name: 'election', at: null });
  effects.push({ kind: 'log', level: 'info', text: 'elected leader', fields: { term: s.term, lastIndex: s.log.length } });
  appendOwn(s, { term: s.term, command: null, origin: null }, effects);
  replicate(s, now, effects);
  maybeCommit(env, s, now, effects);
}
