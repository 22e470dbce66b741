import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { nodeId } from '../src/core/ids.js';
import { buildOverlay, isConnected, type TopologySpec } from '../src/replication/topology.js';

const nodes = (n: number) => Array.from({ length: n }, (_, i) => nodeId(`n${i + 1}`));

describe('overlays', () => {
  it('are reused for the same inputs and rebuilt for others (a simulation asks once per node)', () => {
    const list = nodes(40);
    const spec: TopologySpec = { kind: 'regular', degree: 4 };
    const first = buildOverlay(list, spec, 3);
    assert.equal(buildOverlay(list, spec, 3), first, 'the same objects: the same overlay object');
    assert.deepEqual(buildOverlay([...list], { ...spec }, 3), first, 'equal inputs: an equal overlay');
    assert.notDeepEqual(buildOverlay(list, spec, 4), first, 'another seed: another overlay');
    assert.notDeepEqual(buildOverlay(list.slice(1), spec, 3), first, 'other nodes: another overlay');
  });

  it('are connected, symmetric and the same on every node, for every kind and size', () => {
    const specs: TopologySpec[] = [{ kind: 'full' }, { kind: 'tree', fanout: 1 }, { kind: 'tree', fanout: 4 }, { kind: 'regular', degree: 3 }, { kind: 'regular', degree: 6 }];
    for (const spec of specs) {
      for (const n of [1, 2, 3, 10, 57]) {
        const overlay = buildOverlay(nodes(n), spec, 7);
        assert.ok(isConnected(overlay), `${spec.kind} of ${n}`);
        for (const [a, neighbours] of overlay) for (const b of neighbours) assert.ok(overlay.get(b)!.includes(a), `${spec.kind}: ${a}–${b} one-way`);
        // Input order does not matter: every node derives the same graph.
        assert.deepEqual(buildOverlay([...nodes(n)].reverse(), spec, 7), overlay);
      }
    }
  });

  it('bounds degrees: a regular overlay never exceeds its degree, a tree its fanout plus a parent', () => {
    for (const [a, ns] of buildOverlay(nodes(200), { kind: 'regular', degree: 6 }, 3)) assert.ok(ns.length <= 6 && ns.length >= 2, `${a}: ${ns.length}`);
    for (const [a, ns] of buildOverlay(nodes(200), { kind: 'tree', fanout: 4 }, 3)) assert.ok(ns.length <= 5, `${a}: ${ns.length}`);
  });

  it('takes a given adjacency list, made symmetric, and detects a split graph', () => {
    const overlay = buildOverlay(nodes(4), { kind: 'given', neighbours: { n1: ['n2'], n3: ['n4'] } });
    assert.deepEqual(overlay.get(nodeId('n2')), ['n1']);
    assert.equal(isConnected(overlay), false);
  });

  it('refuses a fanout or degree that is not a positive integer', () => {
    assert.throws(() => buildOverlay(nodes(3), { kind: 'tree', fanout: 0 }), /fanout must be a positive integer/);
    assert.throws(() => buildOverlay(nodes(3), { kind: 'regular', degree: 1.5 }), /degree must be a positive integer/);
  });
});
