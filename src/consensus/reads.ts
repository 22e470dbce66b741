/**
 * Linearizable reads by read index (Raft paper §8; etcd's ReadOnlySafe), with no clock assumption:
 *
 * 1. The leader waits until an entry of its own term is committed (its no-op), so that its commit index covers
 *    every entry committed by any earlier leader (Leader Completeness).
 * 2. It records the commit index as the read index and starts a confirmation round: a heartbeat to every
 *    follower carrying the round's number. A majority acknowledging it (in this term) proves that no other leader
 *    of a later term had been elected when the round began, so no write outside the read index had completed.
 * 3. Once its replica has applied the read index, the read is served from the local state.
 *
 * Followers serve reads the same way: they ask the leader for a read index (`readIndex`), then apply up to it
 * and read locally. Rounds batch: reads arriving while one round is in flight wait for the next (the one in
 * flight recorded its index before they arrived), so one heartbeat round answers any number of reads.
 * No lease is used: a lease would need a bound on clock drift, which neither Maelstrom nor a paused process keeps.
 */
import type { NodeId } from '../core/ids.js';
import { serveReads, advanceCommit } from './apply.js';
import { termAt } from './log.js';
import { contact } from './replication.js';
import { MAX_REMOTE_READS, type RaftEffects, type RaftEnv, type RaftMsg, type RaftState, type ReadWaiter } from './types.js';

/** Min(commit, the follower's match): what a follower may take as committed without a log check (etcd). */
export function safeCommitFor<S, C, Req>(s: RaftState<S, C, Req>, peer: NodeId): number {
  const p = s.progress.get(peer);
  return p === undefined ? 0 : Math.min(s.commitIndex, p.match);
}

export function enqueueRead<S, C, R, Req, Out>(env: RaftEnv<S, C, R, Req, Out>, s: RaftState<S, C, Req>, waiter: ReadWaiter, now: number, effects: RaftEffects<C, Out>): void {
  s.readQueue.push(waiter);
  startRoundIfReady(env, s, now, effects);
}

/** Starts the next round when none is in flight, reads wait, and an entry of this term is committed. */
export function startRoundIfReady<S, C, R, Req, Out>(env: RaftEnv<S, C, R, Req, Out>, s: RaftState<S, C, Req>, now: number, effects: RaftEffects<C, Out>): void {
  if (s.role !== 'leader' || s.readRound !== null || s.readQueue.length === 0) return;
  if (termAt(s, s.commitIndex) !== s.term) return;
  s.round++;
  s.stats.readRounds++;
  s.readRound = { round: s.round, index: s.commitIndex, waiters: s.readQueue };
  s.readQueue = [];
  for (const [peer, p] of s.progress) contact(s, peer, p, now, effects);
  checkReadRound(env, s, now, effects);
}

/** Resolves the round in flight once a majority (self included) acknowledged it. */
export function checkReadRound<S, C, R, Req, Out>(env: RaftEnv<S, C, R, Req, Out>, s: RaftState<S, C, Req>, now: number, effects: RaftEffects<C, Out>): void {
  const round = s.readRound;
  if (round === null) return;
  let acks = 1;
  for (const p of s.progress.values()) if (p.acked >= round.round) acks++;
  if (acks < s.quorum) return;
  s.readRound = null;
  for (const w of round.waiters) {
    if (w.from === null) {
      const read = s.reads.get(w.id);
      if (read !== undefined) read.index = round.index;
    } else {
      const msg: RaftMsg<C> = { t: 'readIndexReply', id: w.id, index: round.index, term: s.term, commit: safeCommitFor(s, w.from) };
      effects.push({ kind: 'send', to: w.from, msg });
    }
  }
  serveReads(env, s, effects);
  startRoundIfReady(env, s, now, effects);
}

/** A leader leaving office: its rounds cannot finish. A read changes nothing, so refusing it is definite. */
export function failReads<S, C, R, Req, Out>(env: RaftEnv<S, C, R, Req, Out>, s: RaftState<S, C, Req>, effects: RaftEffects<C, Out>): void {
  const waiters = [...(s.readRound?.waiters ?? []), ...s.readQueue];
  s.readRound = null;
  s.readQueue = [];
  for (const w of waiters) {
    if (w.from === null) {
      const read = s.reads.get(w.id);
      if (read === undefined) continue;
      s.reads.delete(w.id);
      effects.push({ kind: 'output', value: env.requests.error(read.req, 'unavailable', 'leadership lost before the read was confirmed') });
    } else {
      effects.push({ kind: 'send', to: w.from, msg: { t: 'readIndexReply', id: w.id, index: null, term: s.term, commit: 0 } });
    }
  }
}

export function onReadIndex<S, C, R, Req, Out>(env: RaftEnv<S, C, R, Req, Out>, s: RaftState<S, C, Req>, from: NodeId, id: string, now: number, effects: RaftEffects<C, Out>): void {
  if (s.role !== 'leader' || s.readQueue.length >= MAX_REMOTE_READS) {
    effects.push({ kind: 'send', to: from, msg: { t: 'readIndexReply', id, index: null, term: s.term, commit: 0 } });
    return;
  }
  enqueueRead(env, s, { from, id }, now, effects);
}

export function onReadIndexReply<S, C, R, Req, Out>(
  env: RaftEnv<S, C, R, Req, Out>,
  s: RaftState<S, C, Req>,
  from: NodeId,
  msg: Extract<RaftMsg<C>, { t: 'readIndexReply' }>,
  effects: RaftEffects<C, Out>,
): void {
  const read = s.reads.get(msg.id);
  if (read === undefined || read.index !== null) return;
  if (msg.index === null) {
    s.reads.delete(msg.id);
    effects.push({ kind: 'output', value: env.requests.error(read.req, 'unavailable', `${from} does not lead; no read index`) });
    return;
  }
  read.index = msg.index;
  // The leader's safe commit for us, as in a heartbeat: lets the read be served without waiting for the next one.
  if (msg.term === s.term && from === s.leader && s.role === 'follower') advanceCommit(env, s, Math.min(msg.commit, s.log.length), effects);
  serveReads(env, s, effects);
}
