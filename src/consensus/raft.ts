/**
 * Raft (Ongaro & Ousterhout, "In Search of an Understandable Consensus Algorithm", 2014) as one pure `Protocol`,
 * split by concern as etcd/raft is: log.ts (the log), election.ts (votes, randomized timeouts in role.ts),
 * replication.ts (appends, commitment, heartbeats), reads.ts (read index), clients.ts (proposals, forwarding,
 * time-outs), apply.ts (the state machine), persistence.ts, invariants.ts and cluster-check.ts (figure 3).
 *
 * `raftProtocol(machine, requests)` replicates any deterministic `StateMachine`; `requests` says what a client
 * request is (a command, a read, or an immediate reply) and how results become replies, so the same Raft serves
 * lin-kv and kafka. Timers: `election` (followers and candidates) and `tick` (every node, every
 * heartbeat: the leader's heartbeats and every node's request time-outs).
 *
 * A restart rebuilds term, vote and log from `restored`, starts as a follower with nothing applied, and replays
 * committed entries into a fresh machine as it learns again that they are committed.
 */
import { assert, unreachable } from '../core/assert.js';
import { isCount, isRecord } from '../core/guards.js';
import type { NodeId } from '../core/ids.js';
import { hash32, hashString32, Prng } from '../core/prng.js';
import type { InitContext, Input, Protocol } from '../protocol/types.js';
import { onRequest, onForward, onForwardRefused, tendRequests } from './clients.js';
import { onVote, onVoteReply, startElection } from './election.js';
import { checkRaftInvariants } from './invariants.js';
import { isEntry, persistIncarnation, restore } from './persistence.js';
import { onReadIndex, onReadIndexReply } from './reads.js';
import { heartbeat, onAppend, onAppendReply, onBeat, onBeatReply } from './replication.js';
import { resetElectionTimer } from './role.js';
import type { StateMachine } from './state-machine.js';
import { MAX_BATCH_ENTRIES, type RaftEffects, type RaftEnv, type RaftMsg, type RaftOptions, type RaftRequests, type RaftState, type RaftTimer } from './types.js';

/** Defaults for a LAN or Maelstrom's default latencies: elections in 0.6–1.2 s after a leader fails. */
export const DEFAULT_RAFT_TIMING = { heartbeatMs: 100, electionMs: 600, requestTimeoutMs: 2_000 } as const;

export type RaftProtocol<S, C, Req, Out> = Protocol<RaftState<S, C, Req>, RaftMsg<C>, Out, RaftOptions, Req, RaftTimer>;

function validateOptions(o: RaftOptions): void {
  assert(Number.isFinite(o.heartbeatMs) && o.heartbeatMs > 0, `raft: heartbeatMs must be positive, got ${o.heartbeatMs}`);
  assert(Number.isSafeInteger(o.electionMs) && o.electionMs >= 2 * o.heartbeatMs, `raft: electionMs must be a whole number of at least two heartbeats, got ${o.electionMs}`);
  assert(Number.isFinite(o.requestTimeoutMs) && o.requestTimeoutMs > 0, `raft: requestTimeoutMs must be positive, got ${o.requestTimeoutMs}`);
}

export function raftProtocol<S, C, R, Req, Out>(machine: StateMachine<S, C, R>, requests: RaftRequests<S, C, R, Req, Out>, name = `raft/${machine.name}`): RaftProtocol<S, C, Req, Out> {
  const env: RaftEnv<S, C, R, Req, Out> = { machine, requests };
  const isNode = (v: unknown): v is NodeId => typeof v === 'string' && v.length > 0;
  const isTerm = isCount;

  function isMessage(value: unknown): value is RaftMsg<C> {
    if (!isRecord(value) || !isTerm(value['term'] ?? 0)) return false;
    const v = value;
    switch (v['t']) {
      case 'vote':
        return isTerm(v['term']) && isCount(v['lastIndex']) && isTerm(v['lastTerm']);
      case 'voteReply':
        return isTerm(v['term']) && typeof v['granted'] === 'boolean';
      case 'append': {
        const entries = v['entries'];
        return (
          isTerm(v['term']) &&
          isCount(v['prevIndex']) &&
          isTerm(v['prevTerm']) &&
          isCount(v['commit']) &&
          isCount(v['round']) &&
          Array.isArray(entries) &&
          entries.length <= MAX_BATCH_ENTRIES &&
          entries.every((e) => isEntry(e, machine.isCommand))
        );
      }
      case 'appendReply':
        return isTerm(v['term']) && typeof v['ok'] === 'boolean' && isCount(v['index']) && isCount(v['round']);
      case 'beat':
        return isTerm(v['term']) && isCount(v['commit']) && isCount(v['round']);
      case 'beatReply':
        return isTerm(v['term']) && isCount(v['round']);
      case 'forward':
        return typeof v['origin'] === 'string' && machine.isCommand(v['command']);
      case 'forwardRefused':
        return typeof v['origin'] === 'string' && (v['leader'] === null || isNode(v['leader']));
      case 'readIndex':
        return typeof v['id'] === 'string';
      case 'readIndexReply':
        return typeof v['id'] === 'string' && (v['index'] === null || isCount(v['index'])) && isTerm(v['term']) && isCount(v['commit']);
      default:
        return false;
    }
  }

  function receive(s: RaftState<S, C, Req>, from: NodeId, msg: RaftMsg<C>, now: number, effects: RaftEffects<C, Out>): void {
    // Only cluster members take part; the guard cannot know the membership, the state does.
    if (!s.peers.includes(from)) return;
    switch (msg.t) {
      case 'vote':
        return onVote(env, s, from, msg, now, effects);
      case 'voteReply':
        return onVoteReply(env, s, from, msg, now, effects);
      case 'append':
        return onAppend(env, s, from, msg, now, effects);
      case 'appendReply':
        return onAppendReply(env, s, from, msg, now, effects);
      case 'beat':
        return onBeat(env, s, from, msg, now, effects);
      case 'beatReply':
        return onBeatReply(env, s, from, msg, now, effects);
      case 'forward':
        return onForward(env, s, from, msg, now, effects);
      case 'forwardRefused':
        return onForwardRefused(env, s, from, msg, now, effects);
      case 'readIndex':
        return onReadIndex(env, s, from, msg.id, now, effects);
      case 'readIndexReply':
        return onReadIndexReply(env, s, from, msg, effects);
      default:
        unreachable(msg);
    }
  }

  return {
    name,
    init(ctx: InitContext<RaftOptions>) {
      const options = ctx.options;
      validateOptions(options);
      const restored = restore(ctx.restored, options.codec, machine);
      const incarnation = restored.incarnation + 1;
      const peers = ctx.nodes.filter((n) => n !== ctx.self);
      const state: RaftState<S, C, Req> = {
        self: ctx.self,
        peers,
        quorum: Math.floor(ctx.nodes.length / 2) + 1,
        options,
        // Each node, and each of its runs, draws its own timeouts: a shared sequence would split votes for ever.
        prng: new Prng(hash32(options.seed ^ hashString32(ctx.self) ^ hash32(incarnation) ^ hash32(Math.floor(ctx.now) | 0))),
        incarnation,
        startedAt: Math.floor(ctx.now),
        nextSeq: 0,
        term: restored.term,
        votedFor: restored.votedFor,
        log: restored.log,
        role: 'follower',
        leader: null,
        commitIndex: 0,
        lastApplied: 0,
        machine: machine.init(),
        appliedOrigins: new Set(),
        votes: new Set(),
        progress: new Map(),
        round: 0,
        readRound: null,
        readQueue: [],
        commands: new Map(),
        proposedThisTerm: new Set(),
        reads: new Map(),
        stats: { elections: 0, proposed: 0, applied: 0, forwarded: 0, refused: 0, timedOut: 0, readRounds: 0 },
      };
      const effects: RaftEffects<C, Out> = [];
      persistIncarnation(options.codec, incarnation, effects);
      effects.push({ kind: 'timer', name: 'tick', at: ctx.now + options.heartbeatMs });
      resetElectionTimer(state, ctx.now, effects);
      return { state, effects };
    },
    step(s, input: Input<RaftMsg<C>, Req, RaftTimer>, now) {
      const effects: RaftEffects<C, Out> = [];
      switch (input.kind) {
        case 'receive':
          receive(s, input.from, input.msg, now, effects);
          break;
        case 'request':
          onRequest(env, s, input.body, now, effects);
          break;
        case 'timer':
          if (input.name === 'election') startElection(env, s, now, effects);
          else {
            heartbeat(env, s, now, effects);
            tendRequests(env, s, now, effects);
            effects.push({ kind: 'timer', name: 'tick', at: now + s.options.heartbeatMs });
          }
          break;
        default:
          unreachable(input);
      }
      return effects;
    },
    isMessage,
    metrics(s) {
      return {
        role: s.role,
        term: s.term,
        leader: s.leader ?? '',
        lastIndex: s.log.length,
        commitIndex: s.commitIndex,
        pendingCommands: s.commands.size,
        pendingReads: s.reads.size,
        ...Object.fromEntries(Object.entries(s.stats).map(([k, v]) => [`raft.${k}`, v])),
      };
    },
    invariants: checkRaftInvariants,
  };
}
