/**
 * The client path (§8, "Client interaction"): a request becomes a command proposed to the log, a read by read
 * index (reads.ts), a local read of the applied state, or an immediate reply, as the workload's `RaftRequests` classify it.
 *
 * - A leader proposes the command itself. A follower forwards it to the leader it knows and keeps the request;
 *   it answers when its own replica applies the entry with that origin (apply.ts), so no reply travels back.
 * - No leader known: refused at once as unavailable, which is definite: nothing was proposed.
 * - Once forwarded or proposed the command's fate is unknown until applied: leadership lost, a refusal (a
 *   duplicate of the forward may have been proposed before the receiver lost office), or the request timing out
 *   are all answered as indefinite, never as unavailable. A refusal naming a newer leader is followed first.
 */
import type { NodeId } from '../core/ids.js';
import { appendOwn } from './log.js';
import { enqueueRead } from './reads.js';
import { maybeCommit, replicate } from './replication.js';
import { MAX_FORWARD_ATTEMPTS, MAX_LOG_ENTRIES, MAX_PENDING_REQUESTS, type RaftEffects, type RaftEnv, type RaftMsg, type RaftState } from './types.js';

function newOrigin<S, C, Req>(s: RaftState<S, C, Req>): string {
  return `${s.incarnation}~${s.startedAt}.${++s.nextSeq}@${s.self}`;
}

export function onRequest<S, C, R, Req, Out>(env: RaftEnv<S, C, R, Req, Out>, s: RaftState<S, C, Req>, req: Req, now: number, effects: RaftEffects<C, Out>): void {
  const classified = env.requests.classify(req);
  const unavailable = (text: string): void => void effects.push({ kind: 'output', value: env.requests.error(req, 'unavailable', text) });
  if (classified.kind === 'reply') {
    effects.push({ kind: 'output', value: classified.out });
    return;
  }
  if (classified.kind === 'local') {
    effects.push({ kind: 'output', value: env.requests.read(req, s.machine) });
    return;
  }
  if (s.commands.size + s.reads.size >= MAX_PENDING_REQUESTS) return unavailable(`${MAX_PENDING_REQUESTS} requests are pending here already`);
  const leader = s.leader;
  if (leader === null) return unavailable('no leader is known');
  const origin = newOrigin(s);
  const deadline = now + s.options.requestTimeoutMs;
  if (classified.kind === 'read') {
    s.reads.set(origin, { req, deadline, index: null, askedAt: leader === s.self ? null : now });
    if (leader === s.self) enqueueRead(env, s, { from: null, id: origin }, now, effects);
    else effects.push({ kind: 'send', to: leader, msg: { t: 'readIndex', id: origin } });
    return;
  }
  if (leader === s.self) {
    if (s.log.length >= MAX_LOG_ENTRIES) return unavailable(`the log holds ${MAX_LOG_ENTRIES} entries, its bound (no compaction yet)`);
    s.commands.set(origin, { req, command: classified.command, deadline, target: null, sentAt: now, attempts: 0 });
    propose(env, s, origin, classified.command, now, effects);
    return;
  }
  s.commands.set(origin, { req, command: classified.command, deadline, target: leader, sentAt: now, attempts: 1 });
  s.stats.forwarded++;
  effects.push({ kind: 'send', to: leader, msg: { t: 'forward', origin, command: classified.command } });
}

function propose<S, C, R, Req, Out>(env: RaftEnv<S, C, R, Req, Out>, s: RaftState<S, C, Req>, origin: string, command: C, now: number, effects: RaftEffects<C, Out>): void {
  // A copy of a forward already proposed in this term is in this leader's log for good (or the term ends).
  if (s.proposedThisTerm.has(origin)) return;
  s.proposedThisTerm.add(origin);
  appendOwn(s, { term: s.term, command, origin }, effects);
  s.stats.proposed++;
  replicate(s, now, effects);
  maybeCommit(env, s, now, effects);
}

export function onForward<S, C, R, Req, Out>(
  env: RaftEnv<S, C, R, Req, Out>,
  s: RaftState<S, C, Req>,
  from: NodeId,
  msg: Extract<RaftMsg<C>, { t: 'forward' }>,
  now: number,
  effects: RaftEffects<C, Out>,
): void {
  if (s.role === 'leader' && s.log.length < MAX_LOG_ENTRIES) {
    propose(env, s, msg.origin, msg.command, now, effects);
    return;
  }
  const leader = s.role === 'leader' || s.leader === from ? null : s.leader;
  effects.push({ kind: 'send', to: from, msg: { t: 'forwardRefused', origin: msg.origin, leader } });
}

export function onForwardRefused<S, C, R, Req, Out>(
  env: RaftEnv<S, C, R, Req, Out>,
  s: RaftState<S, C, Req>,
  from: NodeId,
  msg: Extract<RaftMsg<C>, { t: 'forwardRefused' }>,
  now: number,
  effects: RaftEffects<C, Out>,
): void {
  const pending = s.commands.get(msg.origin);
  if (pending === undefined || pending.target !== from) return;
  const next = msg.leader ?? s.leader;
  if (next !== null && next !== from && pending.attempts < MAX_FORWARD_ATTEMPTS) {
    pending.attempts++;
    if (next === s.self && s.role === 'leader' && s.log.length < MAX_LOG_ENTRIES) {
      pending.target = null;
      propose(env, s, msg.origin, pending.command, now, effects);
      return;
    }
    if (next !== s.self) {
      pending.target = next;
      pending.sentAt = now;
      effects.push({ kind: 'send', to: next, msg: { t: 'forward', origin: msg.origin, command: pending.command } });
      return;
    }
  }
  s.commands.delete(msg.origin);
  s.stats.refused++;
  effects.push({ kind: 'output', value: env.requests.error(pending.req, 'indefinite', `forwarded to ${from}, which did not lead any more; it may or may not take effect`) });
}

/**
 * Every tick: answers what waited too long (a command indefinitely, as it may still commit; a read as
 * unavailable), and sends again forwards and read-index requests the network may have lost.
 */
export function tendRequests<S, C, R, Req, Out>(env: RaftEnv<S, C, R, Req, Out>, s: RaftState<S, C, Req>, now: number, effects: RaftEffects<C, Out>): void {
  const retryMs = s.options.electionMs;
  for (const [origin, pending] of s.commands) {
    if (pending.deadline <= now) {
      s.commands.delete(origin);
      s.stats.timedOut++;
      effects.push({ kind: 'output', value: env.requests.error(pending.req, 'indefinite', 'timed out waiting for the command to commit; it may or may not take effect') });
      continue;
    }
    if (pending.target === null || now - pending.sentAt < retryMs || s.leader === null) continue;
    pending.sentAt = now;
    if (s.leader === s.self) {
      if (s.role !== 'leader' || s.log.length >= MAX_LOG_ENTRIES) continue;
      pending.target = null;
      propose(env, s, origin, pending.command, now, effects);
    } else {
      pending.target = s.leader;
      effects.push({ kind: 'send', to: s.leader, msg: { t: 'forward', origin, command: pending.command } });
    }
  }
  for (const [id, read] of s.reads) {
    if (read.deadline <= now) {
      s.reads.delete(id);
      s.stats.timedOut++;
      effects.push({ kind: 'output', value: env.requests.error(read.req, 'unavailable', 'timed out waiting for a read index') });
      continue;
    }
    if (read.index !== null || read.askedAt === null || now - read.askedAt < retryMs || s.leader === null) continue;
    if (s.leader === s.self) {
      read.askedAt = null;
      enqueueRead(env, s, { from: null, id }, now, effects);
    } else {
      read.askedAt = now;
      effects.push({ kind: 'send', to: s.leader, msg: { t: 'readIndex', id } });
    }
  }
}
