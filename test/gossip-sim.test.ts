import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GOSSIP_PRESETS, gossipOptions, type GossipOptions } from '../src/broadcast/gossip.js';
import { nodeId } from '../src/core/ids.js';
import { Prng } from '../src/core/prng.js';
import { randomFaultSchedule } from '../src/sim/faults.js';
import { perfectNetwork, randomNetwork } from '../src/sim/network.js';
import { runBroadcastScenario } from '../src/sim/scenarios/broadcast.js';
import { testSeeds, withSeed } from '../src/sim/simulation.js';

/** Scenarios per preset and topology: 1,000 each are fine but slow; a one-off sweep of 2,000 passed. */
const SEEDS_PER_CASE = Number(process.env.GOSSIP_SEEDS ?? 100);

const TOPOLOGIES: Record<string, Partial<GossipOptions>> = {
  full: { topology: { kind: 'full' } },
  star: { topology: { kind: 'tree', fanout: 32 } },
  tree3: { topology: { kind: 'tree', fanout: 3 } },
  regular3: { topology: { kind: 'regular', degree: 3 } },
  plumtree: { topology: { kind: 'tree', fanout: 3 }, lazy: { kind: 'regular', degree: 3 } },
};

describe('gossip broadcast under the simulator', () => {
  for (const preset of GOSSIP_PRESETS) {
    for (const [name, overrides] of Object.entries(TOPOLOGIES)) {
      it(`${preset} preset over ${name}: every message reaches every node exactly once through loss, duplication, reordering, partitions and crashes`, () => {
        for (const seed of testSeeds(SEEDS_PER_CASE)) {
          withSeed(seed, `gossip ${preset}/${name}`, () => {
            const prng = new Prng(seed);
            const nodeCount = prng.int(2, 9);
            const nodes = Array.from({ length: nodeCount }, (_, i) => nodeId(`n${i + 1}`));
            const durationMs = 3000;
            const faults = randomFaultSchedule(prng.fork(), {
              nodes,
              fromMs: 0,
              toMs: durationMs,
              healByMs: durationMs + 2000,
              maxPartitions: 3,
              crashCount: prng.chance(0.3) ? 1 : 0,
              allowRestarts: prng.chance(0.5),
            });
            const options = gossipOptions(preset, { ...overrides, maxBufferedDeltas: 64, seed });
            // When a crash takes out a relay (a tree's hub), only digest exchanges repair, one peer per period in
            // turn: allow a few full turns, since a lossy link can waste one.
            const settleMs = 5000 + 3 * nodeCount * (options.antiEntropyMs ?? 0);
            const verdict = runBroadcastScenario({
              seed,
              nodeCount,
              options,
              network: randomNetwork(prng.fork(), { nodes }),
              faults,
              ratePerSecond: 40,
              durationMs,
              settleMs,
            });
            assert.deepEqual(verdict.problems, [], `faults: ${JSON.stringify(faults)}`);
            assert.ok(verdict.broadcasts > 0);
          });
        }
      });
    }
  }

  it('sends each broadcast over a full mesh to each peer once, with no relaying, on a perfect network', () => {
    const verdict = runBroadcastScenario({
      seed: 7,
      nodeCount: 5,
      options: gossipOptions('latency', { antiEntropyMs: null }),
      network: perfectNetwork(10),
      ratePerSecond: 10,
      durationMs: 2000,
      settleMs: 3000,
    });
    assert.deepEqual(verdict.problems, []);
    assert.equal(verdict.broadcasts, 20);
    // 4 data messages per broadcast plus a few delayed bare acknowledgements, after one greeting per link at start
    // (without anti-entropy a node that starts empty announces itself: 5 nodes × 4 links).
    const perBroadcast = (verdict.messagesPerBroadcast * verdict.broadcasts - 5 * 4) / verdict.broadcasts;
    assert.ok(perBroadcast >= 4 && perBroadcast < 6, `${perBroadcast}`);
    assert.equal(verdict.latencyMs?.max, 10);
  });

  it('batches at the hub of a star: about one message per broadcast at a high rate', () => {
    const verdict = runBroadcastScenario({
      seed: 8,
      nodeCount: 10,
      options: gossipOptions('messages'),
      network: perfectNetwork(100),
      ratePerSecond: 200,
      durationMs: 5000,
      settleMs: 3000,
    });
    assert.deepEqual(verdict.problems, []);
    // A leaf sends each of its broadcasts to the hub (9 in 10 broadcasts here); the hub sends one batch per leaf
    // every 280 ms (9 × 3.6 a second, against 200 broadcasts a second): 0.9 + 0.16 per broadcast, and acks ride.
    assert.ok(verdict.messagesPerBroadcast < 1.15, `${verdict.messagesPerBroadcast} messages per broadcast`);
    // Leaf to hub, at most one batch at the hub, hub to leaf.
    assert.ok(verdict.latencyMs!.max <= 100 + 280 + 100, `max latency ${verdict.latencyMs!.max}`);
  });
});
