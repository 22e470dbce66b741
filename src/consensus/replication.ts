/**
 * Log replication and commitment (figure 2, "AppendEntries RPC" and "Rules for Servers": leaders; §5.3, §5.4.2).
 *
 * - The leader keeps, per follower, the next index to send and the highest known to match (etcd's Progress).
 *   Appends are pipelined (up to MAX_INFLIGHT_APPENDS in flight, `next` advanced optimistically) and batched
 *   (entries that arrive while the window is full go together, up to MAX_BATCH_ENTRIES per message).
 * - A follower accepts an append only if its log holds `prevIndex` with `prevTerm` (the consistency check that
 *   gives Log Matching); otherwise it answers with a hint and the leader backs `next` off past the conflict.
 *   An append unanswered for two heartbeats is taken as lost: `next` falls back to `match + 1`.
 * - An index is committed once a majority match it and its entry is of the leader's current term (§5.4.2:
 *   entries of earlier terms commit only under one of the current term).
 * - Heartbeats (`beat`, etcd's MsgHeartbeat) go only to followers that got nothing else since the last tick; they
 *   carry min(commit, match), safe to take without a log check, and read-index rounds (reads.ts).
 * - Check quorum (etcd): a leader that heard from no majority for an election timeout steps down, so clients of
 *   a leader cut off in a minority hear "unavailable" instead of waiting for time-outs.
 */
import { assert } from '../core/assert.js';
import type { NodeId } from '../core/ids.js';
import { advanceCommit } from './apply.js';
import { mergeEntries, termAt } from './log.js';
import { checkReadRound, safeCommitFor, startRoundIfReady } from './reads.js';
import { becomeFollower, resetElectionTimer } from './role.js';
import { MAX_BATCH_ENTRIES, MAX_INFLIGHT_APPENDS, type Progress, type RaftEffects, type RaftEnv, type RaftMsg, type RaftState } from './types.js';

function sendAppend<S, C, Req, Out>(s: RaftState<S, C, Req>, peer: NodeId, p: Progress, now: number, effects: RaftEffects<C, Out>): void {
  const prevIndex = p.next - 1;
  const end = Math.min(s.log.length, prevIndex + MAX_BATCH_ENTRIES);
  const msg: RaftMsg<C> = { t: 'append', term: s.term, prevIndex, prevTerm: termAt(s, prevIndex), entries: s.log.slice(prevIndex, end), commit: s.commitIndex, round: s.round };
  effects.push({ kind: 'send', to: peer, msg });
  p.next = end + 1;
  p.inflight++;
  p.sentAt = now;
  p.contacted = true;
}

/** Sends one follower what it lacks, as far as its window allows; true when something went. */
export function replicateTo<S, C, Req, Out>(s: RaftState<S, C, Req>, peer: NodeId, p: Progress, now: number, effects: RaftEffects<C, Out>): boolean {
  let sent = false;
  while (p.next <= s.log.length && p.inflight < MAX_INFLIGHT_APPENDS) {
    sendAppend(s, peer, p, now, effects);
    sent = true;
  }
  return sent;
}

/**
 * Tells `peer` the current commit index and read round now: by an append when it has entries to take and room
 * in its window (the append carries both), else by a heartbeat.
 */
export function contact<S, C, Req, Out>(s: RaftState<S, C, Req>, peer: NodeId, p: Progress, now: number, effects: RaftEffects<C, Out>): void {
  if (replicateTo(s, peer, p, now, effects)) return;
  p.contacted = true;
  effects.push({ kind: 'send', to: peer, msg: { t: 'beat', term: s.term, commit: safeCommitFor(s, peer), round: s.round } });
}

export function replicate<S, C, Req, Out>(s: RaftState<S, C, Req>, now: number, effects: RaftEffects<C, Out>): void {
  if (s.role !== 'leader') return;
  for (const [peer, p] of s.progress) replicateTo(s, peer, p, now, effects);
}

/** Commits the highest index a majority match, if it is of this term; then tells the followers who wait on it. */
export function maybeCommit<S, C, R, Req, Out>(env: RaftEnv<S, C, R, Req, Out>, s: RaftState<S, C, Req>, now: number, effects: RaftEffects<C, Out>): void {
  if (s.role !== 'leader') return;
  const matches = [s.log.length];
  for (const p of s.progress.values()) matches.push(p.match);
  matches.sort((a, b) => b - a);
  const n = matches[s.quorum - 1]!;
  if (n <= s.commitIndex || termAt(s, n) !== s.term) return;
  const from = s.commitIndex + 1;
  advanceCommit(env, s, n, effects);
  // Followers that forwarded a command just committed answer their client once they learn of it: tell them now
  // rather than at the next heartbeat. Others learn with the next append or heartbeat.
  const notify = new Set<NodeId>();
  for (let i = from; i <= n; i++) {
    const origin = s.log[i - 1]!.origin;
    if (origin !== null) notify.add(originNode(origin));
  }
  for (const peer of notify) {
    const p = s.progress.get(peer);
    if (p !== undefined) contact(s, peer, p, now, effects);
  }
  startRoundIfReady(env, s, now, effects);
}

/** The node an origin (`<incarnation>.<seq>@<node>`) belongs to. */
export function originNode(origin: string): NodeId {
  return origin.slice(origin.indexOf('@') + 1) as NodeId;
}

/** A message of a current leader: follow it (a candidate of the same term steps down), and reset the timer. */
function acceptLeader<S, C, R, Req, Out>(env: RaftEnv<S, C, R, Req, Out>, s: RaftState<S, C, Req>, from: NodeId, term: number, now: number, effects: RaftEffects<C, Out>): void {
  assert(!(s.role === 'leader' && term === s.term), `raft: two leaders in term ${term} (${s.self} and ${from})`);
  if (term > s.term || s.role !== 'follower' || s.leader !== from) becomeFollower(env, s, term, from, now, effects);
  resetElectionTimer(s, now, effects);
}

export function onAppend<S, C, R, Req, Out>(
  env: RaftEnv<S, C, R, Req, Out>,
  s: RaftState<S, C, Req>,
  from: NodeId,
  msg: Extract<RaftMsg<C>, { t: 'append' }>,
  now: number,
  effects: RaftEffects<C, Out>,
): void {
  if (msg.term < s.term) {
    effects.push({ kind: 'send', to: from, msg: { t: 'appendReply', term: s.term, ok: false, index: 0, round: 0 } });
    return;
  }
  acceptLeader(env, s, from, msg.term, now, effects);
  if (msg.prevIndex > s.log.length) {
    effects.push({ kind: 'send', to: from, msg: { t: 'appendReply', term: s.term, ok: false, index: s.log.length, round: msg.round } });
    return;
  }
  if (termAt(s, msg.prevIndex) !== msg.prevTerm) {
    // Skip back over the conflicting term in one go (§5.3's optimization); committed entries always match.
    const conflicting = termAt(s, msg.prevIndex);
    let hint = msg.prevIndex - 1;
    while (hint > s.commitIndex && termAt(s, hint) === conflicting) hint--;
    effects.push({ kind: 'send', to: from, msg: { t: 'appendReply', term: s.term, ok: false, index: hint, round: msg.round } });
    return;
  }
  const matched = mergeEntries(s, msg.prevIndex, msg.entries, effects);
  advanceCommit(env, s, Math.min(msg.commit, matched), effects);
  effects.push({ kind: 'send', to: from, msg: { t: 'appendReply', term: s.term, ok: true, index: matched, round: msg.round } });
}

export function onAppendReply<S, C, R, Req, Out>(
  env: RaftEnv<S, C, R, Req, Out>,
  s: RaftState<S, C, Req>,
  from: NodeId,
  msg: Extract<RaftMsg<C>, { t: 'appendReply' }>,
  now: number,
  effects: RaftEffects<C, Out>,
): void {
  // A refusal acknowledges the round its append carried too: the sender still leads.
  const p = replyProgress(env, s, from, msg, now, effects);
  if (p === undefined) return;
  p.inflight = Math.max(0, p.inflight - 1);
  if (msg.ok) {
    if (msg.index > p.match) p.match = Math.min(msg.index, s.log.length);
    if (p.next <= p.match) p.next = p.match + 1;
    maybeCommit(env, s, now, effects);
  } else if (msg.index >= p.match) {
    // A refusal below what already matches is an old one, overtaken by later replies.
    p.next = Math.max(p.match + 1, Math.min(p.next, msg.index + 1));
    p.inflight = 0;
  }
  replicateTo(s, from, p, now, effects);
  checkReadRound(env, s, now, effects);
}

export function onBeat<S, C, R, Req, Out>(
  env: RaftEnv<S, C, R, Req, Out>,
  s: RaftState<S, C, Req>,
  from: NodeId,
  msg: Extract<RaftMsg<C>, { t: 'beat' }>,
  now: number,
  effects: RaftEffects<C, Out>,
): void {
  if (msg.term < s.term) {
    effects.push({ kind: 'send', to: from, msg: { t: 'beatReply', term: s.term, round: 0 } });
    return;
  }
  acceptLeader(env, s, from, msg.term, now, effects);
  advanceCommit(env, s, Math.min(msg.commit, s.log.length), effects);
  effects.push({ kind: 'send', to: from, msg: { t: 'beatReply', term: s.term, round: msg.round } });
}

export function onBeatReply<S, C, R, Req, Out>(
  env: RaftEnv<S, C, R, Req, Out>,
  s: RaftState<S, C, Req>,
  from: NodeId,
  msg: Extract<RaftMsg<C>, { t: 'beatReply' }>,
  now: number,
  effects: RaftEffects<C, Out>,
): void {
  if (replyProgress(env, s, from, msg, now, effects) === undefined) return;
  checkReadRound(env, s, now, effects);
}

/**
 * What every reply to a leader's append or beat does first: a newer term makes this node a follower (§5.1);
 * otherwise, if it leads the reply's term, the follower's progress, marked heard now and with the read round its
 * reply acknowledges. Undefined when the reply is stale or this node no longer leads.
 */
function replyProgress<S, C, R, Req, Out>(
  env: RaftEnv<S, C, R, Req, Out>,
  s: RaftState<S, C, Req>,
  from: NodeId,
  msg: { readonly term: number; readonly round: number },
  now: number,
  effects: RaftEffects<C, Out>,
): Progress | undefined {
  if (msg.term > s.term) {
    becomeFollower(env, s, msg.term, null, now, effects);
    return undefined;
  }
  const p = s.progress.get(from);
  if (s.role !== 'leader' || msg.term !== s.term || p === undefined) return undefined;
  p.heardAt = now;
  if (msg.round > p.acked) p.acked = msg.round;
  return p;
}

/** The leader's tick: check quorum, retransmit lost appends, heartbeat idle followers. */
export function heartbeat<S, C, R, Req, Out>(env: RaftEnv<S, C, R, Req, Out>, s: RaftState<S, C, Req>, now: number, effects: RaftEffects<C, Out>): void {
  if (s.role !== 'leader') return;
  let heard = 1;
  for (const p of s.progress.values()) if (now - p.heardAt < s.options.electionMs) heard++;
  if (heard < s.quorum) {
    effects.push({ kind: 'log', level: 'info', text: 'stepping down: no majority heard within an election timeout', fields: { term: s.term } });
    becomeFollower(env, s, s.term, null, now, effects);
    return;
  }
  for (const [peer, p] of s.progress) {
    // Sent and not known to match after two heartbeats: lost (a duplicated reply may have freed its window slot).
    if ((p.inflight > 0 || p.next > p.match + 1) && now - p.sentAt >= 2 * s.options.heartbeatMs) {
      p.inflight = 0;
      p.next = p.match + 1;
    }
    replicateTo(s, peer, p, now, effects);
    if (!p.contacted) effects.push({ kind: 'send', to: peer, msg: { t: 'beat', term: s.term, commit: safeCommitFor(s, peer), round: s.round } });
    p.contacted = false;
  }
}
