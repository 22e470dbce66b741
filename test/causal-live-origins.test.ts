/**
 * Chat's origins and clock compaction on a live member list (src/causal/live-origins.ts), rule by rule: an entry
 * is left out of this node's clock only when a departed member's count is already implied, by an earlier message
 * of ours or by a delivered message of a live member that the clock carries.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { nodeId } from '../src/core/ids.js';
import { LiveOrigins, MAX_UNADMITTED } from '../src/causal/live-origins.js';
import { VectorClock } from '../src/causal/vector-clock.js';

const [a, b, x, y] = [nodeId('a'), nodeId('b'), nodeId('x'), nodeId('y')];

describe('live origins: clock compaction', () => {
  it('carries a live member always, and a departed one until one of our messages carried its count', () => {
    const o = new LiveOrigins([a, b, x]);
    assert.deepEqual(o.compact(VectorClock.of([[a, 1], [b, 2], [x, 3]]), a).toEntries(), [[a, 1], [b, 2], [x, 3]]);
    o.report([x], [a, b]); // x departs
    assert.deepEqual(o.compact(VectorClock.of([[a, 2], [b, 2], [x, 3]]), a).toEntries(), [[a, 2], [b, 2]]);
    // A count of x above what we carried (delivered since) is carried once more.
    assert.deepEqual(o.compact(VectorClock.of([[a, 3], [b, 2], [x, 4]]), a).toEntries(), [[a, 3], [b, 2], [x, 4]]);
    assert.deepEqual(o.compact(VectorClock.of([[a, 4], [b, 2], [x, 4]]), a).toEntries(), [[a, 4], [b, 2]]);
  });

  it("leaves out a departed member's count that a delivered message of a live member implies, and only that", () => {
    const o = new LiveOrigins([a, b]);
    o.report([x, y], [a, b]); // x and y were members, both departed; we never spoke
    o.noteDelivered(b, VectorClock.of([[b, 5], [x, 3]]));
    // x:3 is implied by b:5, which the clock carries; y:2 by nothing.
    assert.deepEqual(o.compact(VectorClock.of([[a, 1], [b, 5], [x, 3], [y, 2]]), a).toEntries(), [[a, 1], [b, 5], [y, 2]]);
    const o2 = new LiveOrigins([a, b]);
    o2.report([x, y], [a, b]);
    o2.noteDelivered(b, VectorClock.of([[b, 5], [x, 3]]));
    o2.noteDelivered(y, VectorClock.of([[y, 2], [x, 7]])); // x:7 implied only by y, which is not live: no help
    assert.deepEqual(o2.compact(VectorClock.of([[a, 1], [b, 5], [x, 7], [y, 2]]), a).toEntries(), [[a, 1], [b, 5], [x, 7], [y, 2]]);
    // b's message implies x:3 only when the clock carries b at 5 or more (a client clock can be behind; ours is not).
    const o3 = new LiveOrigins([a, b]);
    o3.report([x], [a, b]);
    o3.noteDelivered(b, VectorClock.of([[b, 5], [x, 3]]));
    assert.deepEqual(o3.compact(VectorClock.of([[a, 1], [b, 4], [x, 3]]), a).toEntries(), [[a, 1], [b, 4], [x, 3]]);
    o3.checkInvariants();
  });
});

describe('live origins: admission', () => {
  it('takes an origin once reported or named in a taken clock at that count, and keeps at most MAX_UNADMITTED waiting', () => {
    const o = new LiveOrigins([a]);
    const line = (origin: typeof a, seq: number) => ({ kind: 'deliver' as const, origin, replica: origin, seq, payload: null });
    assert.equal(o.admits(line(x, 1)), false);
    o.hold(line(x, 1));
    o.hold(line(x, 2));
    assert.equal(o.vouch(VectorClock.of([[a, 1], [x, 1]])), true);
    assert.deepEqual(o.takeAdmitted().map((d) => d.seq), [1]); // x:2 is not in that causal past
    o.report([x]);
    assert.deepEqual(o.takeAdmitted().map((d) => d.seq), [2]);
    for (let s = 1; s <= MAX_UNADMITTED + 1; s++) o.hold(line(y, s));
    assert.equal(o.unadmittedCount, MAX_UNADMITTED);
    assert.equal(o.stats.unadmittedEvicted, 1);
    o.checkInvariants();
  });
});
