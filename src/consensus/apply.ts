/**
 * Applying committed entries (figure 2: "If commitIndex > lastApplied: increment lastApplied, apply
 * log[lastApplied] to state machine"). Entries apply in log order on every replica; a command whose origin was
 * already applied (a forward the network duplicated, proposed twice) applies as a no-op, so each client command
 * takes effect at most once (§8's client sessions, keyed by origin). The node that holds the client's request
 * answers it with the result of its own replica's application: the same on every replica.
 */
import { assert } from '../core/assert.js';
import type { RaftEffects, RaftEnv, RaftState } from './types.js';

export function advanceCommit<S, C, R, Req, Out>(env: RaftEnv<S, C, R, Req, Out>, s: RaftState<S, C, Req>, index: number, effects: RaftEffects<C, Out>): void {
  if (index <= s.commitIndex) return;
  assert(index <= s.log.length, `raft: commit ${index} beyond the log (${s.log.length})`);
  s.commitIndex = index;
  applyCommitted(env, s, effects);
}

function applyCommitted<S, C, R, Req, Out>(env: RaftEnv<S, C, R, Req, Out>, s: RaftState<S, C, Req>, effects: RaftEffects<C, Out>): void {
  while (s.lastApplied < s.commitIndex) {
    const entry = s.log[s.lastApplied]!;
    s.lastApplied++;
    if (entry.command === null) continue;
    if (entry.origin !== null) {
      if (s.appliedOrigins.has(entry.origin)) continue;
      s.appliedOrigins.add(entry.origin);
    }
    const result = env.machine.apply(s.machine, entry.command);
    s.stats.applied++;
    if (entry.origin === null) continue;
    const pending = s.commands.get(entry.origin);
    if (pending === undefined) continue;
    s.commands.delete(entry.origin);
    effects.push({ kind: 'output', value: env.requests.result(pending.req, result) });
  }
  serveReads(env, s, effects);
}

/** Reads whose confirmed index is applied are answered from this replica's state (linearizable: reads.ts). */
export function serveReads<S, C, R, Req, Out>(env: RaftEnv<S, C, R, Req, Out>, s: RaftState<S, C, Req>, effects: RaftEffects<C, Out>): void {
  for (const [id, read] of s.reads) {
    if (read.index === null || read.index > s.lastApplied) continue;
    s.reads.delete(id);
    effects.push({ kind: 'output', value: env.requests.read(read.req, s.machine) });
  }
}
