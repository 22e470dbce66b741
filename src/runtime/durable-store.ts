/**
 * A node's durable store in processes: a tiny key → bytes map in SQLite (better-sqlite3), behind the `persist`
 * effect; it implements the `DurableStore` interface (kernel/durable-store.ts) every driver's store shares.
 *
 * One file, `<data dir>/chatterbox.sqlite`, with the table `kv(key TEXT PRIMARY KEY, value BLOB)` for what the
 * protocol persists and the table `identity(name TEXT PRIMARY KEY, value TEXT)` for whose store it is. The journal
 * is a write-ahead log with `synchronous = FULL`, so `put` returns only once its write is on disk: a crash right
 * after it (even of the whole machine) keeps the write.
 *
 * The store belongs to one node of one cluster: the first open records the node id and cluster id, and a later
 * open with another one fails with StoreError('identity-mismatch') instead of handing one node's registrations
 * and counters to another. The file is also locked for as long as it is open (`locking_mode = EXCLUSIVE`), so a
 * second process on the same data dir fails with StoreError('in-use') instead of corrupting the first one's
 * numbering. The lock is the operating system's, so a killed process leaves none behind.
 */
import { statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { StoreError, type DurableStore } from '../kernel/durable-store.js';
import { makeDirectory } from './make-directory.js';

// The errors belong to the interface every store shares; re-exported for the process side's callers.
export { StoreError, type StoreErrorCode } from '../kernel/durable-store.js';

export const STORE_FILE = 'chatterbox.sqlite';

export interface StoreIdentity {
  readonly nodeId: string;
  readonly clusterId: string;
}

const SCHEMA_VERSION = 1;

function sqliteCode(error: unknown): string {
  return typeof error === 'object' && error !== null && 'code' in error ? String((error as { code: unknown }).code) : '';
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** SQLITE_NOTADB (not a database) and SQLITE_CORRUPT with its extended codes (a malformed page, index, ...). */
function isDamage(error: unknown): boolean {
  const code = sqliteCode(error);
  return code === 'SQLITE_NOTADB' || code.startsWith('SQLITE_CORRUPT');
}

/** How to start over from a store that cannot be read: what it held is lost to this node, not to its peers. */
const START_OVER = 'move its data dir away to start this node empty under a new replica id';

/** A damaged store: its data cannot be trusted, so only starting over helps. */
function damaged(path: string, error: unknown): StoreError {
  return new StoreError('damaged', `store ${path} is damaged (${errorText(error)}); ${START_OVER}`, { cause: error });
}

/** The `DurableStore` of processes (kernel/durable-store.ts states what every store guarantees). */
export class SqliteStore implements DurableStore {
  private readonly db: Database.Database;
  private readonly upsert: Database.Statement<[string, Buffer]>;
  private readonly remove: Database.Statement<[string]>;
  private closed = false;

  private constructor(
    /** The SQLite file. */
    readonly path: string,
    readonly identity: StoreIdentity,
    /** True when this open created the store (a node's first start with this data dir). */
    readonly created: boolean,
    db: Database.Database,
  ) {
    this.db = db;
    this.upsert = db.prepare('INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value');
    this.remove = db.prepare('DELETE FROM kv WHERE key = ?');
  }

  /**
   * Opens (creating if needed) the store in `dir` for `identity`. Throws StoreError: 'identity-mismatch' when the
   * dir belongs to another node or cluster, 'in-use' when another process has it open, 'damaged' when the file is
   * not SQLite or is corrupt, 'unusable' otherwise. `file` names the store in `dir` (one dir may hold the stores
   * of a whole cluster, as `chatterbox maelstrom --data-dir` does: `<node id>.sqlite`).
   */
  static open(dir: string, identity: StoreIdentity, file: string = STORE_FILE): SqliteStore {
    const absolute = resolve(dir);
    try {
      makeDirectory(absolute);
      if (!statSync(absolute).isDirectory()) throw new StoreError('unusable', `data dir ${absolute} is not a directory`);
    } catch (error) {
      if (error instanceof StoreError) throw error;
      throw new StoreError('unusable', `data dir ${absolute} cannot be created: ${errorText(error)}`, { cause: error });
    }
    const path = join(absolute, file);
    let db: Database.Database;
    try {
      // timeout 0: a store locked by another process fails at once rather than after a wait.
      db = new Database(path, { timeout: 0 });
    } catch (error) {
      throw new StoreError('unusable', `store ${path} cannot be opened: ${errorText(error)}`, { cause: error });
    }
    try {
      // Exclusive before WAL: no shared-memory index, and the lock taken by the first write is held until close.
      db.pragma('locking_mode = EXCLUSIVE');
      const mode = db.pragma('journal_mode = WAL', { simple: true });
      if (mode !== 'wal') throw new StoreError('unusable', `store ${path}: cannot switch to write-ahead logging (journal mode ${String(mode)})`);
      db.pragma('synchronous = FULL');
      const created = db
        .transaction(() => {
          const version = db.pragma('user_version', { simple: true });
          if (version !== 0 && version !== SCHEMA_VERSION) {
            throw new StoreError('unusable', `store ${path} has schema version ${String(version)}; this chatterbox knows ${SCHEMA_VERSION}: use that version, or ${START_OVER}`);
          }
          db.exec('CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value BLOB NOT NULL)');
          db.exec('CREATE TABLE IF NOT EXISTS identity (name TEXT PRIMARY KEY, value TEXT NOT NULL)');
          db.pragma(`user_version = ${SCHEMA_VERSION}`);
          const rows = db.prepare('SELECT name, value FROM identity').all() as { name: string; value: string }[];
          const stored = new Map(rows.map((row) => [row.name, row.value]));
          if (stored.size === 0) {
            const insert = db.prepare('INSERT INTO identity (name, value) VALUES (?, ?)');
            insert.run('node-id', identity.nodeId);
            insert.run('cluster-id', identity.clusterId);
            return true;
          }
          const nodeId = stored.get('node-id');
          const clusterId = stored.get('cluster-id');
          if (nodeId !== identity.nodeId || clusterId !== identity.clusterId) {
            throw new StoreError(
              'identity-mismatch',
              `data dir ${absolute} belongs to node ${JSON.stringify(nodeId)} of cluster ${JSON.stringify(clusterId)}, ` +
                `not to node ${JSON.stringify(identity.nodeId)} of cluster ${JSON.stringify(identity.clusterId)}; ` +
                'give each node its own data dir',
            );
          }
          return false;
        })
        .immediate();
      return new SqliteStore(path, identity, created, db);
    } catch (error) {
      db.close();
      if (error instanceof StoreError) throw error;
      if (sqliteCode(error) === 'SQLITE_BUSY') {
        throw new StoreError('in-use', `store ${path} is in use by another process (is this node already running?)`, { cause: error });
      }
      if (isDamage(error)) throw damaged(path, error);
      throw new StoreError('unusable', `store ${path}: ${errorText(error)}`, { cause: error });
    }
  }

  /** Every key and its bytes (copies, owned by the caller). */
  loadAll(): Map<string, Uint8Array> {
    this.checkOpen();
    let rows: { key: string; value: Buffer }[];
    try {
      rows = this.db.prepare('SELECT key, value FROM kv').all() as { key: string; value: Buffer }[];
    } catch (error) {
      // Opening reads only the first pages; damage further in shows here.
      if (isDamage(error)) throw damaged(this.path, error);
      throw error;
    }
    return new Map(rows.map((row) => [row.key, new Uint8Array(row.value)]));
  }

  /** Writes `value` under `key` (null deletes it); durable when it returns. */
  put(key: string, value: Uint8Array | null): void {
    this.checkOpen();
    if (value === null) this.remove.run(key);
    else this.upsert.run(key, Buffer.from(value.buffer, value.byteOffset, value.byteLength));
  }

  /** Closes the file and releases its lock. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.db.close();
  }

  get isOpen(): boolean {
    return !this.closed;
  }

  private checkOpen(): void {
    if (this.closed) throw new StoreError('closed', `store ${this.path} is closed`);
  }
}
