/** The SQLite store behind the `persist` effect: round trip, reopen, delete, identity and lock checks. */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SqliteStore, STORE_FILE, StoreError } from '../src/runtime/durable-store.js';

const dirs: string[] = [];
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'chatterbox-store-'));
  dirs.push(dir);
  return dir;
}

const N1 = { nodeId: 'n1', clusterId: 'c1' };

describe('SqliteStore', () => {
  test('round trip: put, overwrite and loadAll give the bytes back', () => {
    const store = SqliteStore.open(join(tempDir(), 'data'), N1);
    try {
      assert.equal(store.created, true);
      assert.deepEqual(store.loadAll(), new Map());
      const big = new Uint8Array(100_000).map((_, i) => i % 251);
      store.put('a', new Uint8Array([1, 2, 3]));
      store.put('empty', new Uint8Array(0));
      store.put('big', big);
      // A view into a larger buffer: only its own bytes are written.
      store.put('view', new Uint8Array([9, 8, 7, 6, 5]).subarray(1, 3));
      store.put('a', new Uint8Array([4]));
      const all = store.loadAll();
      assert.deepEqual([...all.keys()].sort(), ['a', 'big', 'empty', 'view']);
      assert.deepEqual(all.get('a'), new Uint8Array([4]));
      assert.deepEqual(all.get('empty'), new Uint8Array(0));
      assert.deepEqual(all.get('big'), big);
      assert.deepEqual(all.get('view'), new Uint8Array([8, 7]));
      assert.ok(all.get('a') instanceof Uint8Array);
    } finally {
      store.close();
    }
  });

  test('survives close and reopen; null deletes', () => {
    const dir = tempDir();
    const first = SqliteStore.open(dir, N1);
    first.put('replica', new Uint8Array([1, 2]));
    first.put('other', new Uint8Array([3]));
    first.put('gone', new Uint8Array([4]));
    first.put('gone', null);
    first.put('never-there', null);
    first.close();
    first.close(); // idempotent
    assert.throws(() => first.put('x', new Uint8Array(1)), /closed/);

    const second = SqliteStore.open(dir, N1);
    try {
      assert.equal(second.created, false);
      assert.deepEqual(second.loadAll(), new Map([['replica', new Uint8Array([1, 2])], ['other', new Uint8Array([3])]]));
      second.put('replica', null);
      assert.deepEqual([...second.loadAll().keys()], ['other']);
    } finally {
      second.close();
    }
  });

  test('a write is on disk when put returns: a process killed right after it keeps it', () => {
    const dir = tempDir();
    const module = fileURLToPath(new URL('../src/runtime/durable-store.js', import.meta.url));
    // The child writes and dies at once by SIGKILL, without closing the store: no clean shutdown, no checkpoint.
    const script = `
      const { SqliteStore } = await import(${JSON.stringify(module)});
      const store = SqliteStore.open(${JSON.stringify(dir)}, { nodeId: 'n1', clusterId: 'c1' });
      store.put('replica', new Uint8Array([42, 43]));
      process.kill(process.pid, 'SIGKILL');
    `;
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    assert.equal(child.signal, 'SIGKILL', child.stderr);
    const store = SqliteStore.open(dir, N1);
    try {
      assert.deepEqual(store.loadAll().get('replica'), new Uint8Array([42, 43]));
    } finally {
      store.close();
    }
  });

  test('a data dir of another node or cluster is refused with a clear error, and left as it was', () => {
    const dir = tempDir();
    const store = SqliteStore.open(dir, N1);
    store.put('replica', new Uint8Array([7]));
    store.close();
    for (const other of [{ nodeId: 'n2', clusterId: 'c1' }, { nodeId: 'n1', clusterId: 'c2' }]) {
      assert.throws(
        () => SqliteStore.open(dir, other),
        (error: unknown) =>
          error instanceof StoreError &&
          error.code === 'identity-mismatch' &&
          error.message.includes('belongs to node "n1" of cluster "c1"') &&
          error.message.includes(`not to node ${JSON.stringify(other.nodeId)} of cluster ${JSON.stringify(other.clusterId)}`),
      );
    }
    const again = SqliteStore.open(dir, N1);
    try {
      assert.deepEqual(again.loadAll(), new Map([['replica', new Uint8Array([7])]]));
    } finally {
      again.close();
    }
  });

  test('a store open in one place cannot be opened again until it is closed', () => {
    const dir = tempDir();
    const first = SqliteStore.open(dir, N1);
    try {
      assert.throws(() => SqliteStore.open(dir, N1), (error: unknown) => error instanceof StoreError && error.code === 'in-use' && /in use by another process/.test(error.message));
    } finally {
      first.close();
    }
    SqliteStore.open(dir, N1).close();
  });

  test('a data dir that is a file is unusable; a store that is not SQLite is damaged, and the error says how to start over', () => {
    const dir = tempDir();
    const file = join(dir, 'file');
    writeFileSync(file, 'x');
    assert.throws(() => SqliteStore.open(file, N1), (error: unknown) => error instanceof StoreError && error.code === 'unusable');
    const junk = join(dir, 'junk');
    SqliteStore.open(junk, N1).close();
    writeFileSync(join(junk, STORE_FILE), 'this is not a database, but it is long enough to look like one to a careless reader '.repeat(20));
    rmSync(join(junk, `${STORE_FILE}-wal`), { force: true });
    assert.throws(
      () => SqliteStore.open(junk, N1),
      (error: unknown) => error instanceof StoreError && error.code === 'damaged' && /is damaged .*move its data dir away/.test(error.message),
    );
  });
});
