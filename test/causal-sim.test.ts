/**
 * Causal broadcast under the deterministic simulator: hundreds of seeded runs with loss, duplication,
 * reordering and partitions that heal. Every node must deliver every message exactly once, in an order that
 * respects happens-before, including replies sent by clients that carry their own vector clock from one node
 * to another. A failure names its seed; replay one with CHATTERBOX_SEED=N node --test dist/test/causal-sim.test.js.
 *
 * Happens-before is computed here from what the run did, not from the protocol's clocks: a broadcast at node X
 * at time t depends on everything X delivered before t; a client's reply depends on everything the client read;
 * and dependence is transitive. The protocol's clocks are then checked against it too.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { AssertionError } from '../src/core/assert.js';
import { nodeId, type NodeId } from '../src/core/ids.js';
import { Prng } from '../src/core/prng.js';
import { causalBroadcast, causalOptions, type CausalOptions, type CausalOutput, type CausalRequest, type CausalState } from '../src/causal/causal-broadcast.js';
import { VectorClock } from '../src/causal/vector-clock.js';
import type { GossipMsg, GossipPreset } from '../src/broadcast/gossip.js';
import { randomFaultSchedule, type Fault } from '../src/sim/faults.js';
import { perfectNetwork, randomNetwork, type NetworkModel } from '../src/sim/network.js';
import { Simulation, testSeeds, withSeed } from '../src/sim/simulation.js';
import { decodeMessage, encodeMessage } from '../src/transport/codec.js';

const SEEDS = 500;
/** Faults and broadcasts happen before this; partitions heal by HEAL_BY_MS. */
const ACTIVE_MS = 3000;
const HEAL_BY_MS = 4000;
/** Time after healing for anti-entropy and retransmission to repair everything. */
const SETTLE_MS = 8000;

type Sim = Simulation<CausalState, GossipMsg, CausalOutput, CausalOptions, CausalRequest>;

interface Scenario {
  readonly seed: number;
  /** Gossip's preset: full mesh at once, or a batched tree (different paths, different reorderings). */
  readonly preset: GossipPreset;
  readonly nodes: readonly NodeId[];
  readonly network: NetworkModel;
  readonly faults: readonly Fault[];
  /** Broadcasts by the nodes themselves (a user typing at a node). */
  readonly broadcasts: ReadonlyArray<{ readonly id: string; readonly atMs: number; readonly node: NodeId }>;
  /** Client conversations: read `question` at `readAt`, then reply through `replyVia` after `thinkMs`. */
  readonly replies: ReadonlyArray<{ readonly id: string; readonly client: number; readonly question: string; readonly readAt: NodeId; readonly replyVia: NodeId; readonly thinkMs: number }>;
}

function drawScenario(seed: number): Scenario {
  const prng = new Prng(seed);
  const preset: GossipPreset = seed % 2 === 0 ? 'latency' : 'messages';
  const nodeCount = prng.pick([1, 2, 3, 3, 4, 5]);
  const nodes = Array.from({ length: nodeCount }, (_, i) => nodeId(`n${i + 1}`));
  const network = randomNetwork(prng.fork(), { nodes, maxLatencyMs: 80, maxLossRate: 0.3, maxDuplicateRate: 0.2 });
  const faults =
    nodeCount < 2
      ? []
      : randomFaultSchedule(prng.fork(), { nodes, fromMs: 0, toMs: ACTIVE_MS, healByMs: HEAL_BY_MS, maxPartitions: 3, crashCount: 0, allowRestarts: false });
  const broadcasts = Array.from({ length: prng.int(3, 25) }, (_, i) => ({ id: `m${i}`, atMs: prng.int(0, ACTIVE_MS - 1), node: prng.pick(nodes) }));
  const clients = prng.int(1, 3);
  const replies = Array.from({ length: prng.int(1, 8) }, (_, i) => {
    const readAt = prng.pick(nodes);
    const others = nodes.filter((n) => n !== readAt);
    return {
      id: `r${i}`,
      client: prng.int(0, clients - 1),
      question: prng.pick(broadcasts).id,
      readAt,
      replyVia: others.length === 0 ? readAt : prng.pick(others),
      thinkMs: prng.int(0, 30),
    };
  });
  return { seed, preset, nodes, network, faults, broadcasts, replies };
}

interface Verdict {
  readonly problems: string[];
  /** Nodes where a reply came out before its question (the anomaly the client clock prevents). */
  readonly replyBeforeQuestion: number;
  readonly held: number;
}

/** Runs a scenario; `carryClock: false` sends replies without the client's clock (the control experiment). */
function runScenario(scenario: Scenario, carryClock = true): Verdict {
  const options = causalOptions(scenario.preset);
  const sim: Sim = new Simulation(causalBroadcast, {
    seed: scenario.seed,
    nodes: scenario.nodes,
    optionsFor: () => options,
    network: scenario.network,
    faults: scenario.faults,
    untilMs: 10 * 60_000, // runUntil below decides
    // The real codec on every copy: the envelope must survive msgpack, and nothing may alias a sent message.
    copyMessage: (m) => decodeMessage(encodeMessage(m)) as GossipMsg,
  });
  const problems: string[] = [];
  /** What each node delivered, in order, with times. */
  const log = new Map<NodeId, Array<{ id: string; atMs: number; clock: VectorClock }>>(scenario.nodes.map((n) => [n, []]));
  /** When and where each message was broadcast, and what it depends on directly (beyond its origin's past). */
  const sent = new Map<string, { node: NodeId; atMs: number; extra: Set<string> }>();
  const clients = new Map<number, { clock: VectorClock; read: Set<string> }>();
  const pendingReads = new Map<string, Scenario['replies'][number][]>();
  for (const reply of scenario.replies) pendingReads.set(`${reply.readAt}|${reply.question}`, [...(pendingReads.get(`${reply.readAt}|${reply.question}`) ?? []), reply]);

  /** Requests not yet processed, per node: the simulator takes them in (time, injection) order. */
  const pending = new Map<NodeId, Array<{ atMs: number; order: number; id: string }>>();
  let injections = 0;
  /** Which client sent each reply. */
  const sentBy = new Map<string, number>();
  const broadcast = (atMs: number, node: NodeId, id: string, clock: VectorClock | undefined, extra: Set<string>): void => {
    sent.set(id, { node, atMs, extra });
    pending.set(node, [...(pending.get(node) ?? []), { atMs, order: injections++, id }]);
    sim.inject(atMs, node, { kind: 'request', body: clock === undefined ? { kind: 'broadcast', payload: id } : { kind: 'broadcast', payload: id, clock } });
  };
  for (const b of scenario.broadcasts) broadcast(b.atMs, b.node, b.id, undefined, new Set());

  sim.onOutput((node, atMs, out) => {
    if (out.kind === 'rejected') {
      problems.push(`${node} rejected a request: ${out.reason}`);
      return;
    }
    if (out.kind === 'accepted') {
      const queue = pending.get(node)!;
      queue.sort((x, y) => x.atMs - y.atMs || x.order - y.order);
      const { id } = queue.shift()!;
      const client = sentBy.get(id);
      // A client learns the clock of its own write: its later writes, through any node, follow it.
      if (client !== undefined && carryClock) {
        const c = clients.get(client)!;
        c.clock = c.clock.merge(out.clock);
        c.read.add(id);
      }
      return;
    }
    const id = out.payload as string;
    log.get(node)!.push({ id, atMs, clock: out.clock });
    // A client reading this message here: it learns the clock, then replies elsewhere.
    for (const reply of pendingReads.get(`${node}|${id}`) ?? []) {
      const client = clients.get(reply.client) ?? { clock: VectorClock.ZERO, read: new Set<string>() };
      clients.set(reply.client, client);
      client.clock = client.clock.merge(out.clock);
      client.read.add(id);
      sentBy.set(reply.id, reply.client);
      broadcast(atMs + reply.thinkMs, reply.replyVia, reply.id, carryClock ? client.clock : undefined, carryClock ? new Set(client.read) : new Set());
    }
    pendingReads.delete(`${node}|${id}`);
  });
  // Replies go out when their question is read, which after a long partition can be late: give the last one
  // as long to spread as the partitions had to heal.
  for (let until = HEAL_BY_MS + SETTLE_MS; ; ) {
    sim.runUntil(until);
    const lastSent = Math.max(...[...sent.values()].map((x) => x.atMs));
    if (lastSent + SETTLE_MS <= until) break;
    until = lastSent + SETTLE_MS;
  }

  // Ground truth: deps(m) = what m's origin delivered strictly before m was sent, what its client had read, and,
  // transitively, their dependencies. Messages are processed in send order; dependencies were sent earlier.
  const deps = new Map<string, Set<string>>();
  const bySendTime = [...sent].sort((a, b) => a[1].atMs - b[1].atMs);
  for (const [id, s] of bySendTime) {
    const direct = new Set(s.extra);
    for (const d of log.get(s.node)!) if (d.atMs < s.atMs) direct.add(d.id);
    const closure = new Set<string>();
    for (const d of direct) {
      closure.add(d);
      for (const dd of deps.get(d) ?? []) closure.add(dd);
    }
    deps.set(id, closure);
  }

  let replyBeforeQuestion = 0;
  const clockOf = new Map<string, VectorClock>();
  for (const [node, delivered] of log) {
    const position = new Map<string, number>();
    delivered.forEach((d, i) => {
      if (position.has(d.id)) problems.push(`${node} delivered ${d.id} twice`);
      position.set(d.id, i);
      const known = clockOf.get(d.id);
      if (known === undefined) clockOf.set(d.id, d.clock);
      else if (!known.equals(d.clock)) problems.push(`${d.id} has clock ${d.clock} at ${node} but ${known} elsewhere`);
    });
    for (const id of sent.keys()) if (!position.has(id)) problems.push(`${node} never delivered ${id}`);
    for (const [id, before] of deps) {
      const at = position.get(id);
      if (at === undefined) continue;
      for (const d of before) {
        const dAt = position.get(d);
        if (dAt === undefined || dAt > at) problems.push(`${node} delivered ${id} before ${d}, which happened before it`);
      }
    }
    for (const reply of scenario.replies) {
      const r = position.get(reply.id);
      const q = position.get(reply.question);
      if (r !== undefined && (q === undefined || q > r)) replyBeforeQuestion++;
    }
  }
  // The protocol's clocks agree with the ground truth: a dependency's clock is strictly before.
  for (const [id, before] of deps) {
    for (const d of before) {
      const [a, b] = [clockOf.get(d), clockOf.get(id)];
      if (a !== undefined && b !== undefined && a.compare(b) !== 'before') problems.push(`${d} ${a} happened before ${id} ${b} but the clocks say ${a.compare(b)}`);
    }
  }
  let held = 0;
  for (const node of scenario.nodes) held += sim.state(node)?.buffer.heldCount ?? 0;
  if (held !== 0) problems.push(`${held} messages still held at the end`);
  return { problems: problems.slice(0, 10), replyBeforeQuestion, held };
}

describe('causal broadcast under simulation', () => {
  test(`${SEEDS} seeds with loss, duplication, reordering and healing partitions: every node delivers every message once, in causal order`, () => {
    let messages = 0;
    let partitioned = 0;
    for (const seed of testSeeds(SEEDS)) {
      withSeed(seed, 'causal broadcast scenario', () => {
        const scenario = drawScenario(seed);
        const verdict = runScenario(scenario);
        assert.deepEqual(verdict.problems, []);
        assert.equal(verdict.replyBeforeQuestion, 0);
        messages += scenario.broadcasts.length + scenario.replies.length;
        if (scenario.faults.length > 0) partitioned++;
      });
    }
    if (testSeeds(2).length > 1) assert.ok(partitioned > SEEDS / 3, `only ${partitioned} scenarios had partitions`);
    console.log(`causal broadcast: ${SEEDS} scenarios (${partitioned} with partitions), up to ${messages} messages checked`);
  });

  test('the client clock matters: without it, replies overtake their questions on some seeds', () => {
    // The control experiment: the same conversations with replies sent without the client's clock.
    let anomalies = 0;
    for (const seed of testSeeds(60, 10_000)) anomalies += runScenario(drawScenario(seed), false).replyBeforeQuestion;
    if (testSeeds(2).length > 1) assert.ok(anomalies > 0, 'no reply ever overtook its question: the scenario does not exercise the client clock');
  });

  test('a client reads at A and replies via B while B is cut off from A: B holds the reply until the question arrives', () => {
    const [a, b, c] = ['a', 'b', 'c'].map(nodeId) as [NodeId, NodeId, NodeId];
    const sim: Sim = new Simulation(causalBroadcast, {
      seed: 1,
      nodes: [a, b, c],
      optionsFor: () => causalOptions('latency'),
      network: perfectNetwork(5),
      // b hears nothing from a or c until 2 s.
      faults: [{ kind: 'partition', atMs: 0, healAtMs: 2000, groups: [[a, c], [b]] }],
      untilMs: 10_000,
    });
    const outputs: Array<{ node: NodeId; atMs: number; payload: string }> = [];
    let question: VectorClock | undefined;
    sim.onOutput((node, atMs, out) => {
      if (out.kind !== 'deliver') return;
      outputs.push({ node, atMs, payload: out.payload as string });
      if (node === a && out.payload === 'question?') question = out.clock;
    });
    sim.inject(10, a, { kind: 'request', body: { kind: 'broadcast', payload: 'question?' } });
    sim.runUntil(100);
    assert.ok(question !== undefined, 'the client read the question at a');
    sim.inject(100, b, { kind: 'request', body: { kind: 'broadcast', payload: 'answer!', clock: question } });
    sim.runUntil(1000);
    // b has the answer (its own) but not the question: it holds its own message back.
    assert.equal(sim.state(b)?.buffer.heldCount, 1);
    assert.deepEqual(outputs.filter((o) => o.node === b), []);
    sim.runUntil(10_000);
    for (const node of [a, b, c]) {
      assert.deepEqual(outputs.filter((o) => o.node === node).map((o) => o.payload), ['question?', 'answer!'], `${node}`);
    }
    assert.ok(outputs.find((o) => o.node === b)!.atMs >= 2000, 'b delivered only after the partition healed');
  });

  test('bad client clocks are rejected, and a drain halts once everything is acknowledged', () => {
    const [a, b] = ['a', 'b'].map(nodeId) as [NodeId, NodeId];
    const sim: Sim = new Simulation(causalBroadcast, { seed: 2, nodes: [a, b], optionsFor: () => causalOptions('latency'), network: perfectNetwork(5), untilMs: 60_000 });
    const outputs: CausalOutput[] = [];
    sim.onOutput((_node, _at, out) => outputs.push(out));
    sim.inject(0, a, { kind: 'request', body: { kind: 'broadcast', payload: 'x', clock: VectorClock.fromObject({ z: 1 }) } });
    sim.inject(0, a, { kind: 'request', body: { kind: 'broadcast', payload: 'x', clock: VectorClock.fromObject({ a: 1 }) } });
    sim.runUntil(10);
    assert.deepEqual(
      outputs.map((o) => o.kind),
      ['rejected', 'rejected'],
    );
    assert.match((outputs[0] as { reason: string }).reason, /names "z", which is not a node/);
    assert.match((outputs[1] as { reason: string }).reason, /counts 1 messages from a, which has sent 0/);
    sim.inject(20, a, { kind: 'request', body: { kind: 'broadcast', payload: 'last words' } });
    sim.inject(20, a, { kind: 'request', body: { kind: 'drain', withinMs: 30_000 } });
    sim.runUntil(60_000);
    assert.ok(sim.isHalted(a), 'a halted');
    assert.ok(!sim.isHalted(b), 'b did not');
    const report = sim.report();
    const haltedAt = report.halted.get(a)!;
    assert.ok(haltedAt < 5000, `a halted at ${haltedAt} ms, once b acknowledged, not at the deadline`);
    assert.deepEqual(
      report.outputs.get(b)!.map((o) => (o.value.kind === 'deliver' ? o.value.payload : o.value.kind)),
      ['last words'],
    );
  });

  test('timer names are typed: the drain deadline and gossip\'s own pass, any other name does not compile', () => {
    const [a, b] = ['a', 'b'].map(nodeId) as [NodeId, NodeId];
    const { state } = causalBroadcast.init({ self: a, nodes: [a, b], options: causalOptions('latency', { gossip: { flushMs: 1 } }), now: 0, startedAtMs: 0, restored: new Map() });
    causalBroadcast.step(state, { kind: 'request', body: { kind: 'broadcast', payload: 'x' } }, 1);
    causalBroadcast.step(state, { kind: 'request', body: { kind: 'drain', withinMs: 100 } }, 2);
    // Gossip's timer reaches gossip (the batched broadcast goes to b at its flush); the drain deadline halts the node.
    const flushed = causalBroadcast.step(state, { kind: 'timer', name: 'flush' }, 3);
    assert.ok(flushed.some((e) => e.kind === 'send' && e.to === b));
    const halted = causalBroadcast.step(state, { kind: 'timer', name: 'causal:drain' }, 102);
    assert.ok(halted.some((e) => e.kind === 'halt'));
    // @ts-expect-error 'nonsense' is neither causal broadcast's timer nor gossip's.
    assert.throws(() => causalBroadcast.step(state, { kind: 'timer', name: 'nonsense' }, 103), AssertionError);
  });
});
