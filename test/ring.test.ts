/** The bounded FIFO ring (src/core/ring.ts) against a plain array doing the same pushes and drops. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AssertionError } from '../src/core/assert.js';
import { Prng } from '../src/core/prng.js';
import { Ring } from '../src/core/ring.js';

describe('Ring', () => {
  it('matches an array under random pushes, drops and writes, across growth and wrap-around', () => {
    for (const capacity of [1, 3, 16, 17, 100]) {
      const prng = new Prng(capacity);
      const ring = new Ring<number>(capacity);
      const model: number[] = [];
      for (let k = 0; k < 2000; k++) {
        const roll = prng.int(0, 9);
        if (roll < 5 && model.length < capacity) {
          ring.push(k);
          model.push(k);
        } else if (roll < 8) {
          const n = prng.int(0, model.length);
          ring.dropFront(n);
          model.splice(0, n);
        } else if (model.length > 0) {
          const i = prng.int(0, model.length - 1);
          ring.set(i, -k);
          model[i] = -k;
        }
        assert.equal(ring.length, model.length);
        assert.equal(ring.full, model.length === capacity);
        assert.deepEqual([...ring], model, `capacity ${capacity}, step ${k}`);
        assert.equal(ring.get(model.length), undefined);
        assert.equal(ring.get(-1), undefined);
      }
    }
  });

  it('refuses a push beyond its capacity and a drop or write outside its items', () => {
    const ring = new Ring<string>(2);
    ring.push('a');
    ring.push('b');
    assert.throws(() => ring.push('c'), AssertionError);
    assert.throws(() => ring.dropFront(3), AssertionError);
    assert.throws(() => ring.set(2, 'x'), AssertionError);
    assert.throws(() => new Ring(-1), AssertionError);
    assert.throws(() => new Ring(1.5), AssertionError);
    ring.dropFront(1);
    ring.push('c');
    assert.deepEqual([...ring], ['b', 'c']);
  });

  it('pushEvicting keeps the newest items; a ring of capacity 0 keeps none', () => {
    const ring = new Ring<number>(3);
    const dropped = [1, 2, 3, 4, 5].map((k) => ring.pushEvicting(k));
    assert.deepEqual(dropped, [false, false, false, true, true]);
    assert.deepEqual([...ring], [3, 4, 5]);
    const none = new Ring<number>(0);
    assert.equal(none.full, true);
    assert.equal(none.pushEvicting(1), true);
    assert.equal(none.length, 0);
    assert.throws(() => none.push(1), AssertionError);
  });
});
