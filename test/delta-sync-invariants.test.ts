/**
 * delta-sync's invariants (src/replication/delta-sync/invariants.ts) checked after every init and step of seeded
 * simulated runs of everything built on it: a CRDT over every overlay (Plumtree and Maelstrom's given topology
 * included), gossip broadcast, causal broadcast (its inner gossip state) and key ranges; through loss,
 * duplication, reordering, partitions, pauses and crashes with restarts (ranges' sometimes losing their store).
 * Until the simulator calls `invariants` itself, a step listener does.
 *
 * Replay one failing seed with `CHATTERBOX_SEED=N node --test dist/test/delta-sync-invariants.test.js`.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GOSSIP_PRESETS, gossipBroadcast, gossipOptions, type GossipOptions, type GossipState } from '../src/broadcast/gossip.js';
import type { BroadcastRequest, Delivery } from '../src/broadcast/types.js';
import { causalBroadcast, causalOptions, type CausalOptions, type CausalRequest, type CausalState } from '../src/causal/causal-broadcast.js';
import { nodeId, type NodeId } from '../src/core/ids.js';
import { Prng } from '../src/core/prng.js';
import { PNCounter } from '../src/crdt/index.js';
import { KEY_SPACE_SIZE } from '../src/ranges/key-space.js';
import { rangesProtocol, rangesSyncOptions, type RangesRequest, type RangesState } from '../src/ranges/protocol.js';
import { deltaSync, type SyncOptions } from '../src/replication/delta-sync.js';
import { randomFaultSchedule, type Fault } from '../src/sim/faults.js';
import { randomNetwork } from '../src/sim/network.js';
import { Simulation, testSeeds, withSeed } from '../src/sim/simulation.js';
import { counterService } from './delta-sync-fixture.js';

const SEEDS = Number(process.env.DELTA_SYNC_INVARIANT_SEEDS ?? 12);
const DURATION_MS = 3000;

const TOPOLOGIES: Record<string, Partial<GossipOptions>> = {
  full: { topology: { kind: 'full' } },
  tree2: { topology: { kind: 'tree', fanout: 2 } },
  regular3: { topology: { kind: 'regular', degree: 3 } },
  plumtree: { topology: { kind: 'tree', fanout: 2 }, lazy: { kind: 'regular', degree: 3 } },
  given: { topology: { kind: 'given', neighbours: {} } },
};

function cluster(prng: Prng, max: number): NodeId[] {
  return Array.from({ length: prng.int(2, max) }, (_, i) => nodeId(`n${i + 1}`));
}

function faultsFor(prng: Prng, nodes: readonly NodeId[], durableLossChance = 0): Fault[] {
  return randomFaultSchedule(prng.fork(), {
    nodes,
    fromMs: 0,
    toMs: DURATION_MS,
    healByMs: DURATION_MS + 2000,
    maxPartitions: 3,
    maxPauses: 1,
    crashCount: prng.int(0, Math.min(2, nodes.length)),
    allowRestarts: true,
    durableLossChance,
  });
}

/** Maelstrom's usual grid-like topology, told to every node by a request, as Maelstrom does. */
function givenTopology(nodes: readonly NodeId[]): Record<string, string[]> {
  const neighbours: Record<string, string[]> = {};
  nodes.forEach((n, i) => (neighbours[n] = [nodes[(i + 1) % nodes.length]!, nodes[(i + 2) % nodes.length]!].filter((m) => m !== n)));
  return neighbours;
}

describe('delta-sync invariants hold after every step', () => {
  for (const preset of GOSSIP_PRESETS) {
    for (const [name, overrides] of Object.entries(TOPOLOGIES)) {
      it(`a counter, ${preset} preset over ${name}`, () => {
        for (const seed of testSeeds(SEEDS)) {
          withSeed(seed, `counter ${preset}/${name}`, () => {
            const prng = new Prng(seed);
            const nodes = cluster(prng, 7);
            const options: SyncOptions = gossipOptions(preset, { ...overrides, maxBufferedDeltas: 8, seed });
            const given = options.topology.kind === 'given';
            // A service that also takes Maelstrom's topology message, applied when the options say 'given'.
            const protocol = deltaSync<PNCounter, number | 'topology', number>({
              ...counterService,
              request: (ctx, body) => (body === 'topology' ? { topology: { kind: 'given', neighbours: givenTopology(nodes) } } : counterService.request(ctx, body)),
            });
            const faults = faultsFor(prng, nodes);
            const sim = new Simulation(protocol, {
              seed,
              nodes,
              optionsFor: () => options,
              network: randomNetwork(prng.fork(), { nodes }),
              faults,
              untilMs: DURATION_MS + 2000 + 10 * options.maxRetransmitMs + 3 * nodes.length * (options.antiEntropyMs ?? 0),
            });
            let steps = 0;
            sim.onStep((_n, _at, state) => {
              protocol.invariants!(state);
              steps++;
            });
            if (given) for (const n of nodes) sim.inject(1, n, { kind: 'request', body: 'topology' });
            for (let k = 0; k < 60; k++) sim.inject(Math.floor((k * DURATION_MS) / 60), prng.pick(nodes), { kind: 'request', body: 1 + (k % 3) });
            sim.run();
            assert.ok(steps > 20, `only ${steps} steps`);
            // A sanity check that the run did its work; the other suites judge convergence through crashes (and
            // Maelstrom tells a given topology once, so a node restarted there has no eager edges).
            if (!given && !faults.some((f) => f.kind === 'crash')) {
              const values = nodes.map((n) => sim.state(n)!.value.value());
              assert.ok(values.every((v) => v === values[0]), `replicas disagree: ${values}`);
            }
          });
        }
      });
    }
  }

  it('gossip broadcast and causal broadcast', () => {
    for (const seed of testSeeds(SEEDS)) {
      withSeed(seed, 'gossip and causal', () => {
        const prng = new Prng(seed);
        const nodes = cluster(prng, 8);
        const preset = prng.pick(GOSSIP_PRESETS);
        const overrides = TOPOLOGIES[prng.pick(['full', 'tree2', 'regular3', 'plumtree'])]!;
        const network = randomNetwork(prng.fork(), { nodes });
        const faults = faultsFor(prng, nodes);
        const untilMs = DURATION_MS + 6000;

        const gossip = new Simulation<unknown, unknown, Delivery, GossipOptions, BroadcastRequest>(gossipBroadcast, {
          seed,
          nodes,
          optionsFor: () => gossipOptions(preset, { ...overrides, maxBufferedDeltas: 16, seed }),
          network,
          faults,
          untilMs,
        });
        gossip.onStep((_n, _at, state) => gossipBroadcast.invariants!(state as GossipState));
        const causal = new Simulation<unknown, unknown, unknown, CausalOptions, CausalRequest>(causalBroadcast, {
          seed,
          nodes,
          optionsFor: () => causalOptions(preset, { gossip: { ...overrides, maxBufferedDeltas: 16, seed } }),
          network,
          faults,
          untilMs,
        });
        causal.onStep((_n, _at, state) => gossipBroadcast.invariants!((state as CausalState).inner));
        for (let k = 0; k < 80; k++) {
          const atMs = Math.floor((k * DURATION_MS) / 80);
          const node = prng.pick(nodes);
          gossip.inject(atMs, node, { kind: 'request', body: { kind: 'broadcast', payload: k } });
          causal.inject(atMs, node, { kind: 'request', body: { kind: 'broadcast', payload: k } });
        }
        gossip.run();
        causal.run();
      });
    }
  });

  it('key ranges, with restarts that sometimes lose the store', () => {
    for (const seed of testSeeds(SEEDS)) {
      withSeed(seed, 'ranges', () => {
        const prng = new Prng(seed);
        const nodes = cluster(prng, 8);
        const sim = new Simulation<unknown, unknown, unknown, SyncOptions, RangesRequest>(rangesProtocol, {
          seed,
          nodes,
          optionsFor: () => rangesSyncOptions({ fanout: 2, intervalMs: 100, seed }),
          network: randomNetwork(prng.fork(), { nodes }),
          faults: faultsFor(prng, nodes, 0.3),
          untilMs: 12_000,
        });
        sim.onStep((_n, _at, state) => rangesProtocol.invariants!(state as RangesState));
        let id = 1;
        for (const node of nodes) {
          sim.inject(prng.int(0, 500), node, { kind: 'request', body: { id: id++, op: 'join', group: 'g' } });
          for (let k = prng.int(1, 4); k > 0; k--) {
            const start = prng.int(0, 1000) * 1_000_000;
            const end = Math.min(KEY_SPACE_SIZE, start + prng.int(1, 2000) * 1_000_000);
            sim.inject(prng.int(600, 3500), node, { kind: 'request', body: { id: id++, op: 'register', group: 'g', start, end } });
          }
        }
        sim.run();
      });
    }
  });
});
