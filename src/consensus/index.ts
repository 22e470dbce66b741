/** Consensus: a pure, generic Raft replicating any deterministic state machine (raft.ts). */
export type { StateMachine } from './state-machine.js';
export { raftProtocol, DEFAULT_RAFT_TIMING, type RaftProtocol } from './raft.js';
export { RaftClusterChecker, type CommittedEntry } from './cluster-check.js';
export {
  MAX_BATCH_ENTRIES,
  MAX_FORWARD_ATTEMPTS,
  MAX_INFLIGHT_APPENDS,
  MAX_LOG_ENTRIES,
  MAX_PENDING_REQUESTS,
  MAX_REMOTE_READS,
  type Classified,
  type Entry,
  type RaftCodec,
  type RaftMsg,
  type RaftOptions,
  type RaftRequests,
  type RaftState,
  type RaftTimer,
} from './types.js';
