/**
 * One acceptance suite for every `DurableStore` (kernel/durable-store.ts), in the manner of automerge-repo's
 * storage adapter tests: `describeDurableStore` holds the cases, run once per implementation (SQLite in processes,
 * the simulator's disk). What only one implementation does (SQLite's damaged, locked or foreign files) is tested
 * beside it (durable-store.test.ts).
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StoreError, type DurableStore } from '../src/kernel/durable-store.js';
import { SqliteStore } from '../src/runtime/durable-store.js';
import { SimDisk } from '../src/sim/durable-store.js';

/** Where one store lives: `open` gives a new handle on it each time, as a new process would get. */
interface StoreHome {
  open(): DurableStore;
}

function isStoreError(code: StoreError['code']): (error: unknown) => boolean {
  return (error: unknown) => error instanceof StoreError && error.code === code;
}

function describeDurableStore(name: string, makeHome: () => StoreHome): void {
  describe(`DurableStore contract: ${name}`, () => {
    /** Runs `fn` on a fresh handle of `home` and closes it, whatever happens. */
    function withStore<T>(home: StoreHome, fn: (store: DurableStore) => T): T {
      const store = home.open();
      try {
        return fn(store);
      } finally {
        store.close();
      }
    }

    test('a new store is empty', () => {
      withStore(makeHome(), (store) => {
        assert.equal(store.isOpen, true);
        assert.deepEqual(store.loadAll(), new Map());
      });
    });

    test('what was written is read back, in the same handle and after a reopen', () => {
      const home = makeHome();
      withStore(home, (store) => {
        store.put('a', new Uint8Array([1, 2, 3]));
        store.put('b', new Uint8Array([4]));
        assert.deepEqual(store.loadAll(), new Map([['a', new Uint8Array([1, 2, 3])], ['b', new Uint8Array([4])]]));
      });
      withStore(home, (store) => {
        assert.deepEqual(store.loadAll(), new Map([['a', new Uint8Array([1, 2, 3])], ['b', new Uint8Array([4])]]));
      });
    });

    test('a put overwrites; null deletes, also a key that is not there', () => {
      const home = makeHome();
      withStore(home, (store) => {
        store.put('k', new Uint8Array([1]));
        store.put('k', new Uint8Array([2, 2]));
        store.put('gone', new Uint8Array([3]));
        store.put('gone', null);
        store.put('never-there', null);
        assert.deepEqual(store.loadAll(), new Map([['k', new Uint8Array([2, 2])]]));
      });
      withStore(home, (store) => assert.deepEqual(store.loadAll(), new Map([['k', new Uint8Array([2, 2])]])));
    });

    test('binary values come back byte for byte: empty, every byte value, large, a view into a larger buffer', () => {
      const home = makeHome();
      const everyByte = Uint8Array.from({ length: 256 }, (_, i) => i);
      const large = Uint8Array.from({ length: 200_000 }, (_, i) => (i * 31) % 251);
      withStore(home, (store) => {
        store.put('empty', new Uint8Array(0));
        store.put('bytes', everyByte);
        store.put('large', large);
        store.put('view', new Uint8Array([9, 8, 7, 6, 5]).subarray(1, 3));
        store.put('unicode key ✓', new Uint8Array([1]));
      });
      withStore(home, (store) => {
        const all = store.loadAll();
        assert.deepEqual([...all.keys()].sort(), ['bytes', 'empty', 'large', 'unicode key ✓', 'view']);
        assert.deepEqual(all.get('empty'), new Uint8Array(0));
        assert.deepEqual(all.get('bytes'), everyByte);
        assert.deepEqual(all.get('large'), large);
        assert.deepEqual(all.get('view'), new Uint8Array([8, 7]));
        for (const value of all.values()) assert.ok(value instanceof Uint8Array);
      });
    });

    test('the store keeps its own copies: changing an array after put or after loadAll changes nothing stored', () => {
      withStore(makeHome(), (store) => {
        const given = new Uint8Array([1, 2, 3]);
        store.put('k', given);
        given[0] = 99;
        const loaded = store.loadAll().get('k');
        assert.deepEqual(loaded, new Uint8Array([1, 2, 3]));
        (loaded as Uint8Array)[1] = 99;
        assert.deepEqual(store.loadAll().get('k'), new Uint8Array([1, 2, 3]));
      });
    });

    test('one handle at a time: a second open while one is open is refused as in-use, and works after the close', () => {
      const home = makeHome();
      const first = home.open();
      try {
        first.put('k', new Uint8Array([1]));
        assert.throws(() => home.open(), isStoreError('in-use'));
      } finally {
        first.close();
      }
      withStore(home, (store) => assert.deepEqual(store.loadAll(), new Map([['k', new Uint8Array([1])]])));
    });

    test('close is idempotent; a closed handle refuses put and loadAll as closed', () => {
      const store = makeHome().open();
      store.close();
      store.close();
      assert.equal(store.isOpen, false);
      assert.throws(() => store.put('k', new Uint8Array([1])), isStoreError('closed'));
      assert.throws(() => store.put('k', null), isStoreError('closed'));
      assert.throws(() => store.loadAll(), isStoreError('closed'));
    });
  });
}

const dirs: string[] = [];
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describeDurableStore('SQLite (processes)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'chatterbox-store-contract-'));
  dirs.push(dir);
  return { open: () => SqliteStore.open(join(dir, 'data'), { nodeId: 'n1', clusterId: 'c1' }) };
});

describeDurableStore('SimDisk (simulator)', () => {
  const disk = new SimDisk('n1');
  return { open: () => disk.open() };
});

describe('SimDisk beyond the floor', () => {
  test('a wipe (a crash that loses durable state) leaves the next open empty', () => {
    const disk = new SimDisk('n1');
    const store = disk.open();
    store.put('k', new Uint8Array([1]));
    store.close();
    disk.wipe();
    const again = disk.open();
    assert.deepEqual(again.loadAll(), new Map());
    again.close();
  });
});
