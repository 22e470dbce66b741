/**
 * Durability, for services marked `durable`: the replica's value and the replica id its writes are numbered
 * under live in the node's durable store (the `persist` effect).
 *
 * Every request that changed the value persists the whole value before anything of that step is sent, so no
 * neighbour can hold a write a crash then loses here. The writer id is persisted with the first write, before
 * the value: a value on disk without its writer is numbered under a new id after a restart, which is safe, while
 * a writer reused without its value could issue a dot twice. At start the restored value is offered to the
 * neighbours as our first delta, since writes made just before a crash may never have left this node.
 */
import type { NodeId } from '../../core/ids.js';
import { nodeOfReplica } from '../replica-id.js';
import type { SyncState } from './state.js';
import type { SyncEffects, SyncEnv } from './types.js';

/** The durable store's keys for the value and the replica id its writes are numbered under. */
export const DURABLE_KEY = 'replica';
export const WRITER_KEY = 'writer';

/** Whether this start restores a value written by an earlier incarnation. */
export function restoresValue<T, Req, Out>(env: SyncEnv<T, Req, Out>, restored: ReadonlyMap<string, Uint8Array>): boolean {
  return env.service.durable === true && restored.has(DURABLE_KEY);
}

export function restoreValue<T, Req, Out>(env: SyncEnv<T, Req, Out>, restored: ReadonlyMap<string, Uint8Array>): T {
  const bytes = env.service.durable === true ? restored.get(DURABLE_KEY) : undefined;
  // A store that does not decode is a bug or a corrupted disk: refuse to start rather than forget writes.
  return bytes === undefined ? env.lattice.empty() : env.lattice.decode(bytes);
}

/** The writer id saved with a restored value, if it is one of this node's replica ids; see `ServiceContext.writer`. */
export function restoreWriter<T, Req, Out>(env: SyncEnv<T, Req, Out>, self: NodeId, restored: ReadonlyMap<string, Uint8Array>): string | undefined {
  if (!restoresValue(env, restored)) return undefined;
  const bytes = restored.get(WRITER_KEY);
  if (bytes === undefined) return undefined;
  const writer = new TextDecoder().decode(bytes);
  return writer === self || nodeOfReplica(writer) === self ? writer : undefined;
}

/** After a request changed the value: persist it (and the writer id, the first time), before anything is sent. */
export function persistWrite<T, Req, Out>(env: SyncEnv<T, Req, Out>, state: SyncState<T>, effects: SyncEffects<Out>): void {
  if (env.service.durable !== true) return;
  if (!state.writerPersisted) {
    effects.push({ kind: 'persist', key: WRITER_KEY, value: new TextEncoder().encode(state.writer) });
    state.writerPersisted = true;
  }
  effects.push({ kind: 'persist', key: DURABLE_KEY, value: env.lattice.encode(state.value) });
}
