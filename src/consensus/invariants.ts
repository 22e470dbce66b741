/**
 * One node's Raft invariants, checked after every step in the simulator (protocol rule 7). The cross-node
 * properties of figure 3 (Election Safety, Log Matching, Leader Completeness, State Machine Safety) need every
 * node's state at once: `RaftClusterChecker` in cluster-check.ts.
 */
import { assert } from '../core/assert.js';
import { MAX_INFLIGHT_APPENDS, MAX_LOG_ENTRIES, MAX_PENDING_REQUESTS, MAX_REMOTE_READS, type RaftState } from './types.js';

export function checkRaftInvariants<S, C, Req>(s: RaftState<S, C, Req>): void {
  const last = s.log.length;
  assert(last <= MAX_LOG_ENTRIES + 1, `raft: log length ${last} beyond its bound`);
  assert(0 <= s.lastApplied && s.lastApplied <= s.commitIndex && s.commitIndex <= last, `raft: applied ${s.lastApplied} <= commit ${s.commitIndex} <= last ${last} fails`);
  // Applying is eager: nothing committed waits to be applied once a step is over.
  assert(s.lastApplied === s.commitIndex, `raft: committed ${s.commitIndex} but applied ${s.lastApplied}`);
  let previous = 0;
  for (let i = 0; i < last; i++) {
    const term = s.log[i]!.term;
    assert(term >= previous, `raft: entry ${i + 1} has term ${term} below its predecessor's ${previous}`);
    previous = term;
  }
  assert(previous <= s.term, `raft: the last entry's term ${previous} is beyond the current term ${s.term}`);
  assert(s.commands.size + s.reads.size <= MAX_PENDING_REQUESTS, 'raft: pending requests beyond their bound');
  assert(s.appliedOrigins.size <= s.lastApplied, 'raft: more origins applied than entries');
  switch (s.role) {
    case 'leader': {
      assert(s.votedFor === s.self && s.leader === s.self, `raft: leader of term ${s.term} did not vote for itself`);
      assert(s.progress.size === s.peers.length, 'raft: a leader tracks every peer');
      for (const [peer, p] of s.progress) {
        assert(p.match <= last && p.match < p.next && p.next <= last + 1, `raft: progress of ${peer} (match ${p.match}, next ${p.next}) outside the log (${last})`);
        assert(p.inflight >= 0 && p.inflight <= MAX_INFLIGHT_APPENDS, `raft: ${p.inflight} appends in flight to ${peer}`);
        assert(p.acked <= s.round, `raft: ${peer} acknowledged round ${p.acked} beyond ${s.round}`);
      }
      assert(s.readQueue.length <= MAX_REMOTE_READS + MAX_PENDING_REQUESTS, 'raft: read queue beyond its bound');
      break;
    }
    case 'candidate':
      assert(s.votedFor === s.self && s.votes.has(s.self) && s.leader === null, `raft: candidate of term ${s.term} did not vote for itself`);
      assert(s.progress.size === 0 && s.readRound === null && s.readQueue.length === 0, 'raft: a candidate holds leader state');
      break;
    case 'follower':
      assert(s.leader !== s.self, 'raft: a follower names itself leader');
      assert(s.proposedThisTerm.size === 0, 'raft: a follower remembers proposals of a term it led');
      assert(s.progress.size === 0 && s.readRound === null && s.readQueue.length === 0, 'raft: a follower holds leader state');
      break;
  }
}
