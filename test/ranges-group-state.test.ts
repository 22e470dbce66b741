/** The group state's API and the outcome of concurrent operations, on hand-written scenarios. */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { AWORMap, AWORSet, DecodeError, encode } from '../src/crdt/index.js';
import {
  GroupState,
  InvalidRangeError,
  KEY_SPACE_SIZE,
  NotMemberError,
  type RangesCrdt,
  UnknownGroupError,
  actor,
  decodeRanges,
  emptyRanges,
  hashKey,
  isEmptyDelta,
} from '../src/ranges/index.js';

/** Ships a delta through the codec, the way replication will. */
const wire = (delta: RangesCrdt): RangesCrdt => decodeRanges(encode(delta));

/** What a lookup says, compactly: node:priority. */
const served = (state: GroupState, group: string, key: string | number): string[] =>
  state.lookup(group, key).map((r) => `${r.node}:${r.priority}`);

/** A node with its own replica that has joined `group`. */
function joined(node: string, group = 'g'): GroupState {
  const state = new GroupState();
  state.join(node, group);
  return state;
}

describe('operations', () => {
  test('join, members, groups', () => {
    const s = new GroupState();
    assert.deepStrictEqual(s.groups(), []);
    s.join('b', 'g');
    s.join('a', 'g');
    s.join('a', 'h');
    assert.deepStrictEqual(s.groups(), ['g', 'h']);
    assert.deepStrictEqual(s.members('g'), ['a', 'b']);
    assert.ok(s.isMember('h', 'a') && !s.isMember('h', 'b'));
    assert.deepStrictEqual(s.topology('g').subranges, []);
    assert.deepStrictEqual(s.lookup('g', 'anything'), []);
  });

  test('register, lookup by hashed key or raw position, topology', () => {
    const s = joined('a');
    s.join('b', 'g');
    s.register('a', 'g', 0, 2 ** 31, { host: 'a.local', port: 7000 });
    s.register('b', 'g', 2 ** 30, KEY_SPACE_SIZE, 'b:7000');
    s.increase('b', 'g', 2 ** 30, KEY_SPACE_SIZE, 2);
    assert.deepStrictEqual(served(s, 'g', 0), ['a:1']);
    assert.deepStrictEqual(served(s, 'g', 2 ** 30), ['b:3', 'a:1']);
    assert.deepStrictEqual(served(s, 'g', KEY_SPACE_SIZE - 1), ['b:3']);
    assert.deepStrictEqual(s.lookup('g', 'user:42'), s.lookup('g', hashKey('user:42')));
    assert.deepStrictEqual(s.lookup('g', 0)[0]?.meta, { host: 'a.local', port: 7000 });
    assert.deepStrictEqual(
      s.topology('g').subranges.map((x) => [x.start, x.end, x.nodes.map((r) => r.node)]),
      [
        [0, 2 ** 30, ['a']],
        [2 ** 30, 2 ** 31, ['b', 'a']],
        [2 ** 31, KEY_SPACE_SIZE, ['b']],
      ],
    );
  });

  test('registering a registered range updates its meta and keeps its priority', () => {
    const s = joined('a');
    s.register('a', 'g', 0, 10, 'old');
    s.increase('a', 'g', 0, 10, 4);
    s.register('a', 'g', 0, 10, 'new');
    assert.deepStrictEqual(s.registration('g', 'a', 0, 10), { node: 'a', start: 0, end: 10, priority: 5, meta: 'new' });
  });

  test('an increase of an unregistered range registers it with meta null', () => {
    const s = joined('a');
    s.increase('a', 'g', 5, 9, 3);
    assert.deepStrictEqual(s.registration('g', 'a', 5, 9), { node: 'a', start: 5, end: 9, priority: 3, meta: null });
  });

  test('a priority brought to zero or below releases the range', () => {
    const s = joined('a');
    s.register('a', 'g', 0, 10, 'm');
    s.increase('a', 'g', 0, 10, 2); // 3
    s.decrease('a', 'g', 0, 10, 2); // 1
    assert.equal(s.registration('g', 'a', 0, 10)?.priority, 1);
    s.decrease('a', 'g', 0, 10, 1); // 0
    assert.equal(s.registration('g', 'a', 0, 10), undefined);
    s.increase('a', 'g', 0, 10, 2);
    s.decrease('a', 'g', 0, 10, 5); // below zero
    assert.equal(s.registration('g', 'a', 0, 10), undefined);
    assert.deepStrictEqual(s.registrations('g'), []);
    assert.deepStrictEqual(s.members('g'), ['a']); // releasing every range does not leave the group
  });

  test('release and decrease of a range the node does not hold are empty deltas', () => {
    const s = joined('a');
    s.register('a', 'g', 0, 10);
    assert.ok(isEmptyDelta(s.release('a', 'g', 0, 11)));
    assert.ok(isEmptyDelta(s.decrease('a', 'g', 5, 10, 1)));
    assert.ok(isEmptyDelta(s.release('stranger', 'g', 0, 10)));
    assert.ok(!isEmptyDelta(s.release('a', 'g', 0, 10)));
    assert.ok(isEmptyDelta(s.release('a', 'g', 0, 10)));
  });

  test("a node cannot release or change another node's registration", () => {
    const s = joined('a');
    s.join('b', 'g');
    s.register('a', 'g', 0, 10, 'a');
    // Every operation acts on the acting node's own registration: b's release targets b's (absent) one.
    assert.ok(isEmptyDelta(s.release('b', 'g', 0, 10)));
    assert.ok(isEmptyDelta(s.decrease('b', 'g', 0, 10, 5)));
    s.increase('b', 'g', 0, 10, 2); // registers b's own range
    assert.deepStrictEqual(served(s, 'g', 3), ['b:2', 'a:1']);
    s.leave('b', 'g');
    assert.deepStrictEqual(served(s, 'g', 3), ['a:1']);
  });

  test('leave releases all of the node’s registrations; the last leave removes the group', () => {
    const s = joined('a');
    s.join('b', 'g');
    s.register('a', 'g', 0, 10);
    s.register('a', 'g', 20, 30);
    s.register('b', 'g', 5, 25);
    s.leave('a', 'g');
    assert.deepStrictEqual(s.members('g'), ['b']);
    assert.deepStrictEqual(
      s.registrations('g').map((r) => [r.node, r.start, r.end]),
      [['b', 5, 25]],
    );
    assert.ok(isEmptyDelta(s.leave('a', 'g'))); // idempotent
    s.leave('b', 'g');
    assert.deepStrictEqual(s.groups(), []);
    assert.ok(isEmptyDelta(s.leave('b', 'g'))); // also once the group is gone
    assert.throws(() => s.members('g'), UnknownGroupError);
    assert.equal(s.crdt.size, 0);
  });

  test('errors: unknown group, non-member, invalid input', () => {
    const s = joined('a');
    for (const read of [() => s.members('x'), () => s.topology('x'), () => s.lookup('x', 1), () => s.registrations('x')]) {
      assert.throws(read, (e: unknown) => e instanceof UnknownGroupError && e.group === 'x' && /unknown group "x"/.test(e.message));
    }
    assert.throws(() => s.register('a', 'x', 0, 1), UnknownGroupError);
    assert.throws(() => s.increase('a', 'x', 0, 1, 1), UnknownGroupError);
    assert.throws(() => s.release('a', 'x', 0, 1), UnknownGroupError);
    assert.throws(() => s.decrease('a', 'x', 0, 1, 1), UnknownGroupError);
    assert.throws(
      () => s.register('b', 'g', 0, 1),
      (e: unknown) => e instanceof NotMemberError && e.node === 'b' && /join it first/.test(e.message),
    );
    assert.throws(() => s.increase('b', 'g', 0, 1, 1), NotMemberError);
    assert.throws(() => s.register('a', 'g', 5, 1), InvalidRangeError);
    assert.throws(() => s.register('a', 'g', 0, KEY_SPACE_SIZE + 1), InvalidRangeError);
    assert.throws(() => s.release('a', 'g', 0.5, 1), InvalidRangeError);
    assert.throws(() => s.increase('a', 'g', 0, 1, 0), RangeError);
    assert.throws(() => s.decrease('a', 'g', 0, 1, -2), RangeError);
    assert.throws(() => s.increase('a', 'g', 0, 1, 1.5), RangeError);
    assert.throws(() => s.register('a', 'g', 0, 1, new Date() as never), TypeError);
    assert.throws(() => s.join('', 'g'), TypeError);
    assert.throws(() => s.join('a', ''), TypeError);
    assert.throws(() => s.join({ node: 'a', replica: '' }, 'g'), TypeError);
    assert.throws(() => s.lookup('g', -1), InvalidRangeError);
    s.increase('a', 'g', 0, 1, Number.MAX_SAFE_INTEGER - 1);
    assert.throws(() => s.increase('a', 'g', 0, 1, 5), /safe integer/);
    assert.equal(s.registration('g', 'a', 0, 1)?.priority, Number.MAX_SAFE_INTEGER - 1);
  });

  test('thousands of registrations from many nodes', () => {
    const s = new GroupState();
    const step = 2 ** 20;
    for (let n = 0; n < 50; n++) {
      const node = `n${n}`;
      s.join(node, 'g');
      for (let i = 0; i < 40; i++) {
        const start = ((n * 7919 + i * 104729) % 4096) * step;
        s.register(node, 'g', start, Math.min(KEY_SPACE_SIZE, start + 3 * step), { port: 9000 + n });
        if (i % 3 === 0) s.increase(node, 'g', start, Math.min(KEY_SPACE_SIZE, start + 3 * step), 1 + (i % 5));
      }
    }
    // How fast this is belongs in a benchmark; a timed assertion here would fail on a busy machine.
    const topology = s.topology('g');
    for (let k = 0; k < 10_000; k++) s.lookup('g', `key-${k}`);
    assert.equal(s.registrations('g').length, 2000);
    assert.ok(topology.subranges.length > 1000);
  });

  test('the cached topology follows merges and mutations', () => {
    const a = joined('a');
    const b = new GroupState();
    b.merge(wire(a.crdt));
    assert.deepStrictEqual(b.lookup('g', 5), []);
    a.register('a', 'g', 0, 10);
    b.merge(wire(a.crdt));
    assert.deepStrictEqual(served(b, 'g', 5), ['a:1']);
    a.increase('a', 'g', 0, 10, 1);
    assert.deepStrictEqual(served(a, 'g', 5), ['a:2']);
  });
});

describe('concurrency (two incarnations of one node, or two nodes)', () => {
  /** Incarnations 1 and 2 of node a, both with the state where a serves [0, 100) with priority 5. */
  function incarnations(): { a1: GroupState; a2: GroupState } {
    const a1 = new GroupState();
    a1.join(actor('a', 1), 'g');
    a1.register(actor('a', 1), 'g', 0, 100, 'a:1');
    a1.increase(actor('a', 1), 'g', 0, 100, 4);
    const a2 = new GroupState().merge(wire(a1.crdt));
    return { a1, a2 };
  }

  /** Delivers each side's delta to the other and checks that they converge. */
  function exchange(x: GroupState, dx: RangesCrdt, y: GroupState, dy: RangesCrdt): void {
    x.merge(wire(dy));
    y.merge(wire(dx));
    assert.ok(x.equals(y));
    assert.deepStrictEqual(x.groups(), y.groups());
  }

  test('increase ∥ release: the increase wins, with the increasing replica’s whole total and its meta', () => {
    const { a1, a2 } = incarnations();
    const release = a2.release(actor('a', 2), 'g', 0, 100);
    const increase = a1.increase(actor('a', 1), 'g', 0, 100, 1);
    exchange(a1, increase, a2, release);
    assert.deepStrictEqual(a1.registration('g', 'a', 0, 100), { node: 'a', start: 0, end: 100, priority: 6, meta: 'a:1' });
  });

  test('decrease to zero ∥ increase: the increase keeps the registration', () => {
    const { a1, a2 } = incarnations();
    const release = a2.decrease(actor('a', 2), 'g', 0, 100, 5);
    assert.equal(a2.registration('g', 'a', 0, 100), undefined);
    const increase = a1.increase(actor('a', 1), 'g', 0, 100, 2);
    exchange(a1, increase, a2, release);
    assert.equal(a2.registration('g', 'a', 0, 100)?.priority, 7);
  });

  test('decrease ∥ release: a decrease that keeps the priority positive keeps the registration', () => {
    const { a1, a2 } = incarnations();
    const release = a2.release(actor('a', 2), 'g', 0, 100);
    const decrease = a1.decrease(actor('a', 1), 'g', 0, 100, 2);
    exchange(a1, decrease, a2, release);
    assert.deepStrictEqual(a1.registration('g', 'a', 0, 100), { node: 'a', start: 0, end: 100, priority: 3, meta: 'a:1' });
    // A decrease to zero is itself a release: both sides removed it.
    const { a1: b1, a2: b2 } = incarnations();
    exchange(b1, b1.decrease(actor('a', 1), 'g', 0, 100, 5), b2, b2.release(actor('a', 2), 'g', 0, 100));
    assert.equal(b1.registration('g', 'a', 0, 100), undefined);
  });

  test('register ∥ release: the registration stays with the new meta and what the release had not seen', () => {
    const { a1, a2 } = incarnations();
    const release = a2.release(actor('a', 2), 'g', 0, 100);
    const register = a1.register(actor('a', 1), 'g', 0, 100, 'a:2');
    exchange(a1, register, a2, release);
    // The release saw the whole priority, so none is left; a present registration is still served.
    assert.deepStrictEqual(a1.registration('g', 'a', 0, 100), { node: 'a', start: 0, end: 100, priority: 0, meta: 'a:2' });
    assert.deepStrictEqual(served(a1, 'g', 50), ['a:0']);
    // The owner's next decrease brings it to zero or below: released.
    a1.merge(a1.decrease(actor('a', 1), 'g', 0, 100, 1));
    assert.equal(a1.registration('g', 'a', 0, 100), undefined);
  });

  test('register ∥ leave: the new registration survives, and keeps its node a member', () => {
    const { a1, a2 } = incarnations();
    const leave = a2.leave(actor('a', 2), 'g');
    assert.deepStrictEqual(a2.groups(), []);
    const register = a1.register(actor('a', 1), 'g', 200, 300, 'a:1');
    exchange(a1, register, a2, leave);
    assert.deepStrictEqual(a1.members('g'), ['a']);
    assert.deepStrictEqual(
      a1.registrations('g').map((r) => [r.start, r.end, r.priority]),
      [[200, 300, 1]],
    );
  });

  test('increase ∥ leave: the increased range survives alone', () => {
    const { a1, a2 } = incarnations();
    a1.register(actor('a', 1), 'g', 200, 300);
    a2.merge(a1.crdt);
    const leave = a2.leave(actor('a', 2), 'g');
    const increase = a1.increase(actor('a', 1), 'g', 0, 100, 1);
    exchange(a1, increase, a2, leave);
    assert.deepStrictEqual(
      a1.registrations('g').map((r) => [r.start, r.end, r.priority]),
      [[0, 100, 6]],
    );
  });

  test('an old priority change arriving after a release that saw a later write stays invisible, and is cleaned up', () => {
    const a1 = joined('a');
    const joinDelta = a1.join('a', 'g');
    const increase = a1.increase('a', 'g', 0, 10, 4); // registers with priority 4
    const reregister = a1.register('a', 'g', 0, 10, 'x'); // a later write that does not touch the priority
    // The second incarnation hears of the later write first, and releases the range.
    const a2 = new GroupState().merge(wire(joinDelta)).merge(wire(reregister));
    assert.equal(a2.registration('g', 'a', 0, 10)?.meta, 'x');
    const release = a2.release(actor('a', 2), 'g', 0, 10);
    // Everything arrives everywhere, the old increase last: the release saw the registration, so it stays gone.
    a1.merge(wire(release));
    a2.merge(wire(increase));
    assert.ok(a1.equals(a2));
    for (const s of [a1, a2]) {
      assert.equal(s.registration('g', 'a', 0, 10), undefined);
      assert.deepStrictEqual(s.lookup('g', 5), []);
      assert.deepStrictEqual(s.crdt.get('g')?.get('priorities').get('0-10@a')?.value(), 4, 'the late counter entry is there');
    }
    // A new registration of the range starts at its own priority, not on top of the stale entry.
    const again = a2.register(actor('a', 2), 'g', 0, 10);
    assert.equal(a2.registration('g', 'a', 0, 10)?.priority, 1);
    a1.merge(wire(again));
    assert.equal(a1.registration('g', 'a', 0, 10)?.priority, 1);
    // Leaving removes every trace: nothing but the causal context is left.
    a1.merge(wire(a2.leave(actor('a', 2), 'g')));
    assert.equal(a1.crdt.size, 0);
    assert.deepStrictEqual(a1.groups(), []);
  });

  test('a group whose only traces are stale entries is not listed', () => {
    const a1 = joined('a');
    const increase = a1.increase('a', 'g', 0, 10, 1);
    const reregister = a1.register('a', 'g', 0, 10, 'x');
    const a2 = new GroupState().merge(wire(reregister));
    const leave = a2.leave(actor('a', 2), 'g');
    const c = new GroupState().merge(wire(reregister)).merge(wire(leave)).merge(wire(increase));
    assert.deepStrictEqual(c.groups(), []);
    assert.equal(c.hasGroup('g'), false);
    assert.throws(() => c.members('g'), UnknownGroupError);
  });

  test('join ∥ leave: join wins', () => {
    const { a1, a2 } = incarnations();
    const leave = a2.leave(actor('a', 2), 'g');
    const join = a1.join(actor('a', 1), 'g');
    exchange(a1, join, a2, leave);
    assert.deepStrictEqual(a1.members('g'), ['a']);
    assert.deepStrictEqual(a1.registrations('g'), []); // the leave saw [0, 100)
  });

  test('concurrent registrations of one range by two incarnations: priorities add, meta is chosen the same everywhere', () => {
    const a1 = joined('a');
    const a2 = new GroupState().merge(wire(a1.crdt));
    const r1 = a1.register(actor('a', 1), 'g', 0, 10, 'one');
    const r2 = a2.register(actor('a', 2), 'g', 0, 10, 'two');
    exchange(a1, r1, a2, r2);
    const reg = a1.registration('g', 'a', 0, 10);
    assert.equal(reg?.priority, 2);
    assert.deepStrictEqual(a2.registration('g', 'a', 0, 10), reg);
    // The next write resolves the meta.
    a2.merge(a1.register(actor('a', 1), 'g', 0, 10, 'three'));
    assert.equal(a2.registration('g', 'a', 0, 10)?.meta, 'three');
  });

  test('different nodes never conflict: concurrent overlapping registrations all count', () => {
    const a = new GroupState();
    const b = new GroupState();
    const da = [a.join('a', 'g'), a.register('a', 'g', 0, 100, 'a'), a.increase('a', 'g', 0, 100, 1)];
    const db = [b.join('b', 'g'), b.register('b', 'g', 50, 150, 'b'), b.increase('b', 'g', 50, 150, 2), b.leave('b', 'g'), b.join('b', 'g')];
    for (const d of db) a.merge(wire(d));
    for (const d of [...da].reverse()) b.merge(wire(d)); // out of order
    assert.ok(a.equals(b));
    assert.deepStrictEqual(a.members('g'), ['a', 'b']);
    assert.deepStrictEqual(served(b, 'g', 60), ['a:2']);
  });
});

describe('encoding', () => {
  test('states and deltas round-trip through the library codec', () => {
    const s = joined('a');
    const deltas = [s.register('a', 'g', 0, 10, { port: 1, tags: ['x'] }), s.increase('a', 'g', 5, 15, 3), s.release('a', 'g', 0, 10)];
    for (const d of deltas) assert.ok(wire(d).equals(d));
    const copy = GroupState.decode(s.encode());
    assert.ok(copy.equals(s));
    assert.deepStrictEqual(copy.topology('g').subranges, s.topology('g').subranges);
  });

  test('decodeRanges rejects states of another shape or kind', () => {
    const malformed: [string, (state: RangesCrdt) => void][] = [
      ['an empty range', (x) => x.update('g', (g) => g.update('registrations', (s) => s.add('a', '5-5@a')))],
      ['a non-canonical key', (x) => x.update('g', (g) => g.update('registrations', (s) => s.add('a', '00-5@a')))],
      ['a key without a node', (x) => x.update('g', (g) => g.update('registrations', (s) => s.add('a', '0-5')))],
      ['a range beyond the key space', (x) => x.update('g', (g) => g.update('registrations', (s) => s.add('a', '0-4294967297@a')))],
      ['a bad priority key', (x) => x.update('g', (g) => g.update('priorities', (p) => p.update('5-0@a', (c) => c.increment('a', 1))))],
      ['a bad meta key', (x) => x.update('g', (g) => g.update('meta', (m) => m.update('x', (r) => r.write('a', 1))))],
      ['an empty member', (x) => x.update('g', (g) => g.update('members', (s) => s.add('a', '')))],
      ['a membership written by another node', (x) => x.update('g', (g) => g.update('members', (s) => s.add('b', 'a')))],
      ['a registration written by another node', (x) => x.update('g', (g) => g.update('registrations', (s) => s.add('b', '0-5@a')))],
      ['a priority written by another node', (x) => x.update('g', (g) => g.update('priorities', (p) => p.update('0-5@a', (c) => c.increment('ab', 1))))],
      ['a meta written by another node', (x) => x.update('g', (g) => g.update('meta', (m) => m.update('0-5@a', (r) => r.write('b~1', 1))))],
    ];
    for (const [what, build] of malformed) {
      const bad = emptyRanges();
      build(bad);
      assert.throws(() => decodeRanges(encode(bad)), DecodeError, what);
    }
    // Another incarnation of the node itself may write (a restarted node writes under `node~incarnation`).
    const fine = emptyRanges();
    fine.update('g', (g) => g.update('registrations', (s) => s.add('a~17', '0-5@a')));
    fine.update('g', (g) => g.update('priorities', (p) => p.update('0-5@a', (c) => c.increment('a~17', 2))));
    assert.equal(new GroupState(decodeRanges(encode(fine))).registration('g', 'a', 0, 5)?.priority, 2);
    const numeric = emptyRanges();
    numeric.update(7 as unknown as string, (g) => g.update('members', (s) => s.add('a', 'a')));
    assert.throws(() => decodeRanges(encode(numeric)), DecodeError, 'a numeric group name');
    const otherKind = new AWORMap<string, AWORSet<string>>(() => new AWORSet<string>());
    otherKind.update('g', (s) => s.add('a', 'a'));
    assert.throws(() => decodeRanges(encode(otherKind)), DecodeError, 'another kind');
    assert.throws(() => decodeRanges(Uint8Array.of(1, 2, 3)), DecodeError);
  });
});
