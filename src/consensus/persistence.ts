/**
 * Figure 2's persistent state (currentTerm, votedFor, log[]) on the node's durable store, through the `persist`
 * effect. The kernel makes a write durable before any later effect of the same step is carried out (protocol
 * rule 6), so a vote is on disk before the reply granting it leaves, and an entry before the reply acknowledging
 * it: a restarted node never votes twice in a term nor forgets an entry it acknowledged.
 *
 * Layout: `raft/hard` {term, votedFor}; `raft/log/<i>` one entry per key (appends write only what is new;
 * a truncation deletes the keys it drops); `raft/incarnation` bumped at every start (origins must be unique
 * across restarts). A node whose disk was lost restarts empty, as a node that never voted, and that alone can
 * break Raft: it may vote for a candidate that lacks an entry it had acknowledged, and with the others that lack
 * it elect a leader that overwrites a committed entry. Raft assumes stable storage; so do our sweeps (disks are
 * kept), and `chatterbox harness` refuses to kill our lin-kv or kafka nodes without `--node-data-dir`.
 */
import { assert } from '../core/assert.js';
import { isCount, isRecord } from '../core/guards.js';
import type { NodeId } from '../core/ids.js';
import type { StateMachine } from './state-machine.js';
import type { Entry, RaftCodec, RaftEffects } from './types.js';

export const HARD_KEY = 'raft/hard';
export const INCARNATION_KEY = 'raft/incarnation';
export const ENTRY_KEY_PREFIX = 'raft/log/';

export const entryKey = (index: number): string => `${ENTRY_KEY_PREFIX}${index}`;

export function persistHard<C, Out>(codec: RaftCodec, term: number, votedFor: NodeId | null, effects: RaftEffects<C, Out>): void {
  effects.push({ kind: 'persist', key: HARD_KEY, value: codec.encode({ term, votedFor }) });
}

export function persistEntry<C, Out>(codec: RaftCodec, index: number, entry: Entry<C>, effects: RaftEffects<C, Out>): void {
  effects.push({ kind: 'persist', key: entryKey(index), value: codec.encode(entry) });
}

export function forgetEntry<C, Out>(index: number, effects: RaftEffects<C, Out>): void {
  effects.push({ kind: 'persist', key: entryKey(index), value: null });
}

export function persistIncarnation<C, Out>(codec: RaftCodec, incarnation: number, effects: RaftEffects<C, Out>): void {
  effects.push({ kind: 'persist', key: INCARNATION_KEY, value: codec.encode(incarnation) });
}

export interface Restored<C> {
  readonly term: number;
  readonly votedFor: NodeId | null;
  readonly log: Entry<C>[];
  /** The incarnation of the last run (0 on a first start). */
  readonly incarnation: number;
}

export function isEntry<C>(value: unknown, isCommand: (v: unknown) => v is C): value is Entry<C> {
  return (
    isRecord(value) &&
    isCount(value['term']) &&
    (value['term'] as number) >= 1 &&
    (value['command'] === null || isCommand(value['command'])) &&
    (value['origin'] === null || typeof value['origin'] === 'string')
  );
}

/**
 * What the last run persisted. A store that does not decode, or a log with a gap, is a bug or a damaged disk:
 * refuse to start (throw) rather than forget a vote or an acknowledged entry.
 */
export function restore<S, C, R>(restored: ReadonlyMap<string, Uint8Array>, codec: RaftCodec, machine: StateMachine<S, C, R>): Restored<C> {
  let term = 0;
  let votedFor: NodeId | null = null;
  const hard = restored.get(HARD_KEY);
  if (hard !== undefined) {
    const value = codec.decode(hard);
    assert(isRecord(value) && isCount(value['term']) && (value['votedFor'] === null || typeof value['votedFor'] === 'string'), 'raft: the persisted term and vote do not decode');
    term = value['term'] as number;
    votedFor = value['votedFor'] as NodeId | null;
  }
  let incarnation = 0;
  const inc = restored.get(INCARNATION_KEY);
  if (inc !== undefined) {
    const value = codec.decode(inc);
    assert(isCount(value), 'raft: the persisted incarnation does not decode');
    incarnation = value;
  }
  const log: Entry<C>[] = [];
  for (let index = 1; ; index++) {
    const bytes = restored.get(entryKey(index));
    if (bytes === undefined) break;
    const entry = codec.decode(bytes);
    assert(isEntry(entry, machine.isCommand), `raft: persisted entry ${index} does not decode`);
    log.push(entry);
  }
  let keys = 0;
  for (const key of restored.keys()) if (key.startsWith(ENTRY_KEY_PREFIX)) keys++;
  assert(keys === log.length, `raft: the persisted log has a gap after entry ${log.length} (${keys} entries stored)`);
  return { term, votedFor, log, incarnation };
}
