import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { nodeId, type NodeId } from '../src/core/ids.js';
import { Prng } from '../src/core/prng.js';
import { rangesProtocol, rangesSyncOptions, type RangesReply, type RangesRequest, type RangesState } from '../src/ranges/protocol.js';
import { KEY_SPACE_SIZE } from '../src/ranges/key-space.js';
import type { SyncOptions } from '../src/replication/delta-sync.js';
import { randomFaultSchedule, type Fault } from '../src/sim/faults.js';
import { perfectNetwork, randomNetwork } from '../src/sim/network.js';
import { Simulation, testSeeds, withSeed } from '../src/sim/simulation.js';

type RangesSim = Simulation<unknown, unknown, RangesReply, SyncOptions, RangesRequest>;

function simulate(seed: number, nodes: readonly NodeId[], faults: readonly Fault[], untilMs: number, network = perfectNetwork(5)): RangesSim {
  return new Simulation(rangesProtocol, {
    seed,
    nodes,
    optionsFor: () => rangesSyncOptions({ fanout: 2, intervalMs: 100, seed }),
    network,
    faults,
    untilMs,
  }) as RangesSim;
}

/** Every node's answers to the same reads, injected at `atMs`; resolved once the run has passed that time. */
function readAll(sim: RangesSim, atMs: number, nodes: readonly NodeId[], keys: readonly (string | number)[]): () => Map<NodeId, string> {
  const answers = new Map<NodeId, string[]>();
  let id = 1_000_000;
  const ids = new Map<number, NodeId>();
  for (const node of nodes) {
    answers.set(node, []);
    const reqs: RangesRequest[] = [{ id: id++, op: 'groups' }, { id: id++, op: 'topology', group: 'g' }, ...keys.map((key) => ({ id: id++, op: 'lookup' as const, group: 'g', key }))];
    for (const req of reqs) {
      ids.set(req.id, node);
      sim.inject(atMs, node, { kind: 'request', body: req });
    }
  }
  sim.onOutput((node, _at, reply) => {
    // Compared without the request id, which differs per node.
    if (ids.get(reply.id) === node) answers.get(node)!.push(JSON.stringify({ ...reply, id: undefined }));
  });
  return () => new Map([...answers].map(([node, lines]) => [node, lines.join('\n')]));
}

describe('key ranges under the simulator', () => {
  it('after joins, registrations, priority changes, releases, crashes with restarts (some losing their store) and partitions, every node answers every lookup identically', () => {
    for (const seed of testSeeds(Number(process.env.RANGES_SEEDS ?? 60))) {
      withSeed(seed, 'ranges convergence', () => {
        const prng = new Prng(seed);
        const nodes = Array.from({ length: prng.int(2, 8) }, (_, i) => nodeId(`n${i + 1}`));
        const faults = randomFaultSchedule(prng.fork(), { nodes, fromMs: 0, toMs: 3000, healByMs: 4000, maxPartitions: 3, crashCount: prng.int(0, 2), allowRestarts: true, durableLossChance: 0.3 });
        const sim = simulate(seed, nodes, faults, 20_000, randomNetwork(prng.fork(), { nodes }));
        let id = 1;
        const at = (): number => prng.int(0, 3500);
        for (const node of nodes) {
          const joinAt = prng.int(0, 500);
          sim.inject(joinAt, node, { kind: 'request', body: { id: id++, op: 'join', group: 'g' } });
          for (let k = prng.int(0, 3); k > 0; k--) {
            const start = prng.int(0, 1000) * 1_000_000;
            const end = Math.min(KEY_SPACE_SIZE, start + prng.int(1, 2000) * 1_000_000);
            const t = Math.max(joinAt + 1, at());
            sim.inject(t, node, { kind: 'request', body: { id: id++, op: 'register', group: 'g', start, end, meta: { port: 4000 + k } } });
            if (prng.chance(0.5)) sim.inject(t + prng.int(1, 500), node, { kind: 'request', body: { id: id++, op: 'increase', group: 'g', start, end, by: prng.int(1, 5) } });
            if (prng.chance(0.3)) sim.inject(t + prng.int(1, 800), node, { kind: 'request', body: { id: id++, op: 'release', group: 'g', start, end } });
          }
        }
        const keys = ['alice', 'bob', 0, 123_456_789, KEY_SPACE_SIZE - 1, ...Array.from({ length: 10 }, () => prng.int(0, KEY_SPACE_SIZE - 1))];
        const answers = readAll(sim, 19_000, nodes, keys);
        sim.run();
        const byNode = answers();
        const distinct = new Set(byNode.values());
        assert.equal(distinct.size, 1, `nodes disagree; faults ${JSON.stringify(faults)}\n${describeDisagreement(byNode)}`);
      });
    }
  });

  it('a restarted node keeps its registrations, and its new writes win over its old ones', () => {
    const nodes = [nodeId('n1'), nodeId('n2'), nodeId('n3')];
    const sim = simulate(1, nodes, [{ kind: 'crash', atMs: 1000, node: nodes[0]!, restartAtMs: 1500 }], 5000);
    const send = (atMs: number, node: NodeId, body: RangesRequest): void => sim.inject(atMs, node, { kind: 'request', body });
    send(0, nodes[0]!, { id: 1, op: 'join', group: 'g' });
    send(10, nodes[0]!, { id: 2, op: 'register', group: 'g', start: 0, end: 100, meta: 'old' });
    send(20, nodes[0]!, { id: 3, op: 'register', group: 'g', start: 100, end: 200, meta: 'kept' });
    // After the restart: the same range again, with new meta and more priority.
    send(1600, nodes[0]!, { id: 4, op: 'register', group: 'g', start: 0, end: 100, meta: 'new' });
    send(1600, nodes[0]!, { id: 5, op: 'increase', group: 'g', start: 0, end: 100, by: 4 });
    const answers = readAll(sim, 4000, nodes, [50, 150]);
    sim.run();
    const byNode = answers();
    assert.equal(new Set(byNode.values()).size, 1, [...byNode.values()].join('\n---\n'));
    const lines = byNode.get(nodes[1]!)!.split('\n').map((l) => JSON.parse(l) as RangesReply);
    const lookups = lines.filter((r): r is Extract<RangesReply, { ok: true }> => r.ok && typeof r.result === 'object' && r.result !== null && 'position' in r.result);
    const [at50, at150] = lookups.map((r) => (r.result as { nodes: Array<{ node: string; meta: unknown; priority: number }> }).nodes);
    assert.deepEqual(at50, [{ node: 'n1', start: 0, end: 100, meta: 'new', priority: 5 }]);
    assert.deepEqual(at150, [{ node: 'n1', start: 100, end: 200, meta: 'kept', priority: 1 }]);
    // It wrote under the replica id it had before: restarts with a store add no version-vector entries.
    for (const node of nodes) assert.deepEqual([...replicaState(sim, node).value.crdt.context.versionVector().keys()], ['n1']);
  });

  it('a node restarted without its store writes under a new replica id, and its new writes still count', () => {
    const nodes = [nodeId('n1'), nodeId('n2')];
    // The disk is gone with the crash: n1 restarts empty and relearns its registration from n2.
    const sim = simulate(1, nodes, [{ kind: 'crash', atMs: 1000, node: nodes[0]!, restartAtMs: 1500, loseDurableState: true }], 5000);
    const send = (atMs: number, node: NodeId, body: RangesRequest): void => sim.inject(atMs, node, { kind: 'request', body });
    send(0, nodes[0]!, { id: 1, op: 'join', group: 'g' });
    send(10, nodes[0]!, { id: 2, op: 'register', group: 'g', start: 0, end: 100, meta: 'old' });
    send(2000, nodes[0]!, { id: 3, op: 'increase', group: 'g', start: 0, end: 100, by: 2 });
    sim.run();
    for (const node of nodes) {
      const state = replicaState(sim, node).value;
      assert.deepEqual([...state.crdt.context.versionVector().keys()].sort(), ['n1', 'n1~1500']);
      assert.equal(state.registration('g', 'n1', 0, 100)?.priority, 3);
    }
  });

  it('answers bad ranges and unknown groups with typed errors', () => {
    const nodes = [nodeId('n1')];
    const sim = simulate(1, nodes, [], 100);
    const replies: RangesReply[] = [];
    sim.onOutput((_n, _t, r) => replies.push(r));
    const send = (body: RangesRequest): void => sim.inject(1, nodes[0]!, { kind: 'request', body });
    send({ id: 1, op: 'register', group: 'nope', start: 0, end: 10 });
    send({ id: 2, op: 'join', group: 'g' });
    send({ id: 3, op: 'register', group: 'g', start: 10, end: 5 });
    send({ id: 4, op: 'register', group: 'g', start: 0, end: KEY_SPACE_SIZE + 1 });
    send({ id: 5, op: 'lookup', group: 'nope', key: 'x' });
    sim.run();
    const codes = Object.fromEntries(replies.map((r) => [r.id, r.ok ? 'ok' : r.error.code]));
    assert.deepEqual(codes, { 1: 'unknown-group', 2: 'ok', 3: 'bad-range', 4: 'bad-range', 5: 'unknown-group' });
  });
});

function replicaState(sim: RangesSim, node: NodeId): RangesState {
  return sim.state(node) as RangesState;
}

/** For each node whose answers differ from the first node's: the first answer that differs, both ways. */
function describeDisagreement(byNode: ReadonlyMap<NodeId, string>): string {
  const [[first, reference]] = [...byNode] as [[NodeId, string]];
  const ref = reference.split('\n');
  const out: string[] = [];
  for (const [node, answers] of byNode) {
    const lines = answers.split('\n');
    const k = lines.findIndex((line, i) => line !== ref[i]);
    if (k >= 0) out.push(`${node} vs ${first}, answer ${k}:\n  ${lines[k]?.slice(0, 1500)}\n  ${ref[k]?.slice(0, 1500)}`);
  }
  return out.join('\n');
}
