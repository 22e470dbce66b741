/**
 * The durable store behind the `persist` effect (protocol/types.ts): one interface for every driver's disk, in
 * the manner of automerge-repo's storage adapters, with one acceptance suite (test/durable-store-contract.test.ts)
 * run against each implementation: SQLite in processes (runtime/durable-store.ts), a map that outlives crashes in
 * the simulator (sim/durable-store.ts).
 *
 * What every implementation guarantees:
 * - A store is a map from string keys to bytes. `put(key, bytes)` writes, `put(key, null)` deletes (deleting a
 *   key that is absent is no error); the write is durable when `put` returns: a crash right after it keeps it.
 * - `loadAll()` gives every key with its bytes as the last `put` left them, as copies the caller owns; the store
 *   keeps its own copy of what it is given, so neither side's later changes to an array reach the other.
 * - Closing and opening again (a process restart) gives back exactly what was written before the close.
 * - One open handle per store at a time: a second open while one is open fails with StoreError('in-use').
 * - `close()` is idempotent; `put` and `loadAll` on a closed handle fail with StoreError('closed') (a caller's
 *   bug, not a disk problem).
 * Beyond the floor, each implementation says how its disk fails (SQLite: 'damaged', 'unusable',
 * 'identity-mismatch'; the simulator: a crash with `loseDurableState` wipes it).
 */

/**
 * Why a store cannot be used. 'identity-mismatch': it belongs to another node or cluster; 'in-use': another handle
 * (another process) has it open; 'damaged': its data cannot be read back (the message says how to start over);
 * 'unusable': any other reason it cannot be opened; 'closed': this handle was closed.
 */
export type StoreErrorCode = 'identity-mismatch' | 'in-use' | 'unusable' | 'damaged' | 'closed';

export class StoreError extends Error {
  override readonly name = 'StoreError';
  constructor(
    readonly code: StoreErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** One open handle on a node's durable store (see the module comment for what every implementation guarantees). */
export interface DurableStore {
  /** Every key and its bytes, as copies owned by the caller. */
  loadAll(): Map<string, Uint8Array>;
  /** Writes `value` under `key` (null deletes it); durable when it returns. */
  put(key: string, value: Uint8Array | null): void;
  /** Releases the store (and its lock); idempotent. */
  close(): void;
  readonly isOpen: boolean;
}
