import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { nodeId } from '../src/core/ids.js';
import { perfectNetwork } from '../src/sim/network.js';
import { runMembershipScenario } from '../src/sim/scenarios/membership.js';

describe('SWIM membership under the simulator', () => {
  it('smoke: a crash is detected, a joiner joins, a leaver leaves', () => {
    const v = runMembershipScenario({
      seed: 1,
      staticCount: 5,
      options: {},
      network: perfectNetwork(2),
      faults: [{ kind: 'crash', atMs: 5000, node: nodeId('n2') }],
      joiners: [{ atMs: 3000, seed: nodeId('n1') }],
      leaves: [{ node: nodeId('n3'), atMs: 8000 }],
      untilMs: 40_000,
    });
    assert.deepEqual(v.falsePositives, []);
    assert.deepEqual(v.problems, []);
  });
});
