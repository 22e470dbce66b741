import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { nodeId, type NodeId } from '../src/core/ids.js';
import { Prng } from '../src/core/prng.js';
import type { Effect, Input, Protocol } from '../src/protocol/types.js';
import {
  drawStartOffsets,
  EventQueue,
  perfectNetwork,
  randomFaultSchedule,
  randomNetwork,
  REPLAY_SEED_ENV,
  runSimulation,
  Simulation,
  SimulationError,
  testSeeds,
  withSeed,
  type Fault,
  type NetworkModel,
  type SimulationConfig,
  type SimulationReport,
} from '../src/sim/index.js';
import { jepsenPartition, MAX_NEMESIS_PARTITIONS, nemesisSchedule, PartitionTable, partitionTargets, validateNodeFaults } from '../src/sim/faults.js';
import { drawLatencyMs, latencyWithMean, type MeanLatencyShape } from '../src/sim/network.js';

const ids = (...names: string[]): NodeId[] => names.map(nodeId);
const [A, B, C] = ids('a', 'b', 'c') as [NodeId, NodeId, NodeId];

// ---- toy protocol 1: flood ------------------------------------------------------------------------------------
// Every node sends its number to every other node until each has acknowledged it; acks carry the acker's own
// number, so a node that restarted with amnesia relearns everything. A node outputs the sum once it knows every
// number, and halts once it is done, everyone has acked it, and `haltNotBeforeMs` has passed (it lingers so
// that nodes restarting with amnesia still find peers to answer them).

interface FloodOptions {
  readonly value: number;
  readonly retransmitMs: number;
  readonly haltNotBeforeMs: number;
}
type FloodMsg = { readonly kind: 'num' | 'ack'; readonly value: number };
interface FloodOut {
  readonly count: number;
  readonly sum: number;
}
interface FloodState {
  readonly self: NodeId;
  readonly nodes: readonly NodeId[];
  readonly options: FloodOptions;
  readonly known: Map<NodeId, number>;
  readonly acked: Set<NodeId>;
  output: boolean;
}

function floodKnowAll(s: FloodState, effects: Effect<FloodMsg, FloodOut>[]): void {
  if (s.output || s.known.size < s.nodes.length) return;
  s.output = true;
  let sum = 0;
  for (const v of s.known.values()) sum += v;
  effects.push({ kind: 'output', value: { count: s.known.size, sum } });
}

const flood: Protocol<FloodState, FloodMsg, FloodOut, FloodOptions> = {
  name: 'flood',
  init({ self, nodes, options, now }) {
    const state: FloodState = { self, nodes, options, known: new Map([[self, options.value]]), acked: new Set(), output: false };
    const effects: Effect<FloodMsg, FloodOut>[] = [];
    for (const n of nodes) if (n !== self) effects.push({ kind: 'send', to: n, msg: { kind: 'num', value: options.value } });
    effects.push({ kind: 'timer', name: 'tick', at: now + options.retransmitMs });
    floodKnowAll(state, effects);
    return { state, effects };
  },
  step(s, input, now) {
    const effects: Effect<FloodMsg, FloodOut>[] = [];
    if (input.kind === 'receive') {
      s.known.set(input.from, input.msg.value);
      if (input.msg.kind === 'num') effects.push({ kind: 'send', to: input.from, msg: { kind: 'ack', value: s.options.value } });
      else s.acked.add(input.from);
      floodKnowAll(s, effects);
      return effects;
    }
    if (s.output && s.acked.size === s.nodes.length - 1 && now >= s.options.haltNotBeforeMs) {
      effects.push({ kind: 'log', level: 'debug', text: 'done' }, { kind: 'halt' });
      return effects;
    }
    for (const n of s.nodes) {
      if (n !== s.self && !s.acked.has(n)) effects.push({ kind: 'send', to: n, msg: { kind: 'num', value: s.options.value } });
    }
    effects.push({ kind: 'timer', name: 'tick', at: now + s.options.retransmitMs });
    return effects;
  },
  isMessage(v: unknown): v is FloodMsg {
    if (typeof v !== 'object' || v === null) return false;
    const m = v as Record<string, unknown>;
    return (m['kind'] === 'num' || m['kind'] === 'ack') && typeof m['value'] === 'number';
  },
  metrics: (s) => ({ known: s.known.size, acked: s.acked.size }),
  invariants: () => {},
};

const valueOf = (node: NodeId): number => 100 + node.charCodeAt(node.length - 1);

/**
 * A random scenario: network, faults, clock skew, all drawn from the seed. With `lifecycle`, also pauses, start
 * skew up to 500 ms and init delays up to 100 ms (drawn after the rest, so the plain scenario stays the same).
 */
function floodScenario(seed: number, lifecycle = false): { config: SimulationConfig<FloodOptions, FloodMsg>; expectedSum: number } {
  const root = new Prng(seed);
  const count = root.int(2, 7);
  const nodes = Array.from({ length: count }, (_, i) => nodeId(`n${i}`));
  const network = randomNetwork(root.fork(), { nodes });
  const healByMs = 1500;
  const faults = randomFaultSchedule(root.fork(), {
    nodes,
    fromMs: 0,
    toMs: 1000,
    healByMs,
    maxPartitions: 3,
    crashCount: root.int(0, Math.min(2, count)),
    allowRestarts: true,
    ...(lifecycle ? { maxPauses: 3, pauseLengthMs: { minMs: 50, maxMs: 800 } } : {}),
  });
  const skew = new Map(nodes.map((n) => [n, root.int(-50, 50)]));
  const startAt = lifecycle ? drawStartOffsets(root.fork(), nodes, 500) : new Map<NodeId, number>();
  const initDelay = lifecycle ? drawStartOffsets(root.fork(), nodes, 100) : new Map<NodeId, number>();
  return {
    config: {
      seed,
      nodes,
      network,
      faults,
      optionsFor: (n) => ({ value: valueOf(n), retransmitMs: 20, haltNotBeforeMs: healByMs + 1000 }),
      clockOffsetMs: (n) => skew.get(n) ?? 0,
      ...(lifecycle ? { startAtMs: (n: NodeId) => startAt.get(n) ?? 0, initDelayMs: (n: NodeId) => initDelay.get(n) ?? 0 } : {}),
      sizeOf: () => 16,
      untilMs: 20_000,
    },
    expectedSum: nodes.reduce((sum, n) => sum + valueOf(n), 0),
  };
}

// ---- toy protocol 2: probe ------------------------------------------------------------------------------------
// Scripted by its options; records everything it sees, for asserting what the simulator delivered and when.

interface ProbeOptions {
  /** Send a numbered ping to every other node every this many ms (from init). */
  readonly pingEveryMs?: number;
  /** A one-shot timer this long after init; it outputs when it fires. */
  readonly onceAfterMs?: number;
  /** Halt at this (node-clock) time. */
  readonly haltAtMs?: number;
}
type ProbeMsg = { readonly kind: 'ping'; readonly seq: number; readonly sentAt: number };
interface ProbeState {
  readonly self: NodeId;
  readonly nodes: readonly NodeId[];
  readonly options: ProbeOptions;
  readonly initAt: number;
  readonly startedAt: number;
  readonly received: Array<{ from: NodeId; seq: number; sentAt: number; at: number }>;
  readonly timers: Array<{ name: string; at: number }>;
  /** Every input in the order it came: `timer:name@now`, `from#seq@now`. */
  readonly order: string[];
  seq: number;
}

const probe: Protocol<ProbeState, ProbeMsg, string, ProbeOptions> = {
  name: 'probe',
  init({ self, nodes, options, now, startedAtMs }) {
    const effects: Effect<ProbeMsg, string>[] = [];
    if (options.pingEveryMs !== undefined) effects.push({ kind: 'timer', name: 'ping', at: now });
    if (options.onceAfterMs !== undefined) effects.push({ kind: 'timer', name: 'once', at: now + options.onceAfterMs });
    if (options.haltAtMs !== undefined) effects.push({ kind: 'timer', name: 'halt', at: options.haltAtMs });
    return { state: { self, nodes, options, initAt: now, startedAt: startedAtMs, received: [], timers: [], order: [], seq: 0 }, effects };
  },
  step(s, input, now) {
    if (input.kind === 'receive') {
      s.received.push({ from: input.from, seq: input.msg.seq, sentAt: input.msg.sentAt, at: now });
      s.order.push(`${input.from}#${input.msg.seq}@${now}`);
      return [];
    }
    s.timers.push({ name: input.name, at: now });
    s.order.push(`timer:${input.name}@${now}`);
    switch (input.name) {
      case 'ping': {
        const effects: Effect<ProbeMsg, string>[] = [];
        for (const n of s.nodes) if (n !== s.self) effects.push({ kind: 'send', to: n, msg: { kind: 'ping', seq: s.seq, sentAt: now } });
        s.seq++;
        effects.push({ kind: 'timer', name: 'ping', at: now + (s.options.pingEveryMs ?? 0) });
        return effects;
      }
      case 'once':
        return [{ kind: 'output', value: `once@${now}` }];
      case 'halt':
        return [{ kind: 'halt' }];
      default:
        return [];
    }
  },
  isMessage(v: unknown): v is ProbeMsg {
    return typeof v === 'object' && v !== null && (v as { kind?: unknown }).kind === 'ping';
  },
  metrics: (s) => ({ received: s.received.length }),
  invariants: () => {},
};

function probeConfig(
  nodes: readonly NodeId[],
  options: (n: NodeId) => ProbeOptions,
  extra: Partial<SimulationConfig<ProbeOptions, ProbeMsg>> = {},
): SimulationConfig<ProbeOptions, ProbeMsg> {
  return { seed: 7, nodes, optionsFor: options, network: perfectNetwork(10), untilMs: 1000, ...extra };
}

/** The stats' conservation law: every copy put on the wire is delivered, dropped for one reason, or still in flight. */
function assertConserved(report: SimulationReport<unknown>): void {
  const s = report.stats;
  const dropped = s.lost + s.droppedByPartition + s.droppedAtCrashedNode + s.droppedAtHaltedNode + s.droppedAtUnstartedNode;
  assert.equal(s.sent + s.duplicated, s.delivered + dropped + s.inFlight, JSON.stringify(s));
}

function probeState(sim: Simulation<ProbeState, ProbeMsg, string, ProbeOptions>, node: NodeId): ProbeState {
  const s = sim.state(node);
  assert.ok(s !== undefined, `${node} is down`);
  return s;
}

// ---- tests ----------------------------------------------------------------------------------------------------

describe('EventQueue', () => {
  test('pops in (time, insertion sequence) order under any interleaving of pushes and pops', () => {
    type Op = { push: number } | { pop: true };
    const op = fc.oneof(
      fc.integer({ min: 0, max: 20 }).map((t): Op => ({ push: t })),
      fc.constant<Op>({ pop: true }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 300 }), (ops) => {
        const q = new EventQueue<{ at: number; seq: number; id: number }>();
        const model: Array<{ at: number; seq: number; id: number }> = [];
        let id = 0;
        const popBoth = (): void => {
          model.sort((x, y) => x.at - y.at || x.seq - y.seq);
          const want = model.shift();
          const got = q.pop();
          assert.equal(got?.id, want?.id);
        };
        for (const o of ops) {
          if ('push' in o) {
            const item = { at: o.push, seq: -1, id: id++ };
            q.push(item);
            model.push(item);
          } else popBoth();
          assert.equal(q.size, model.length);
        }
        while (model.length > 0) popBoth();
        assert.equal(q.pop(), undefined);
      }),
    );
  });
});

describe('determinism', () => {
  test('same seed and config give identical reports; chunked runs equal one-shot runs', () => {
    for (const lifecycle of [false, true]) {
      for (const seed of [1, 2, 3, 99, 4_000_000_000]) {
        withSeed(seed, `determinism${lifecycle ? ' with late and slow starts and pauses' : ''}`, () => {
          const first = runSimulation(flood, floodScenario(seed, lifecycle).config);
          const second = runSimulation(flood, floodScenario(seed, lifecycle).config);
          assert.deepStrictEqual(second, first);
          // Stepping the same run in chunks must not change anything either.
          const sim = new Simulation(flood, floodScenario(seed, lifecycle).config);
          for (let t = 0; t <= 20_000; t += 137) sim.runUntil(t);
          const chunked = sim.run();
          assert.deepStrictEqual(chunked, first);
          if (lifecycle) assert.notEqual(first.fingerprint, runSimulation(flood, floodScenario(seed).config).fingerprint);
        });
      }
    }
  });

  test('runs that use none of start skew, init delays and pauses are what they were before those existed', () => {
    // Pinned from the simulator before it had them: flood scenarios with partitions, crashes, restarts and skew.
    assert.deepEqual(
      [1, 2, 3, 99].map((seed) => runSimulation(flood, floodScenario(seed).config).fingerprint),
      [4197728979, 687402928, 2542908964, 33612839],
    );
    const nodes = Array.from({ length: 5 }, (_, i) => nodeId(`n${i}`));
    const schedule = randomFaultSchedule(new Prng(2024), {
      nodes,
      fromMs: 0,
      toMs: 1000,
      healByMs: 1500,
      maxPartitions: 3,
      crashCount: 2,
      allowRestarts: true,
      durableLossChance: 0.5,
    });
    assert.deepEqual(schedule, [
      { kind: 'partition', atMs: 699, healAtMs: 1416, groups: [['n2', 'n3'], ['n0', 'n1', 'n4']] },
      { kind: 'partition', atMs: 700, healAtMs: 1240, groups: [['n0'], ['n2', 'n3', 'n4'], ['n1']] },
      { kind: 'crash', atMs: 813, node: 'n1', restartAtMs: 959 },
      { kind: 'crash', atMs: 936, node: 'n2', restartAtMs: 1039, loseDurableState: true },
      { kind: 'partition', atMs: 964, healAtMs: 1080, groups: [['n0', 'n2', 'n4'], ['n1', 'n3']] },
    ]);
  });

  test('different seeds give different runs', () => {
    const base = floodScenario(5).config;
    const fingerprints = new Set<number>();
    for (let seed = 1; seed <= 20; seed++) fingerprints.add(runSimulation(flood, { ...base, seed }).fingerprint);
    assert.equal(fingerprints.size, 20);
    assert.notDeepStrictEqual(runSimulation(flood, { ...base, seed: 1 }), runSimulation(flood, { ...base, seed: 2 }));
  });
});

describe('network', () => {
  test('loss and duplication happen at the configured rates, and messages are conserved', () => {
    const nodes = ids('a', 'b', 'c', 'd', 'e');
    const lossRate = 0.1;
    const duplicateRate = 0.05;
    const network: NetworkModel = { defaultLink: { latency: { kind: 'uniform', minMs: 1, maxMs: 30 }, lossRate, duplicateRate } };
    const sim = new Simulation(probe, probeConfig(nodes, () => ({ pingEveryMs: 1 }), { network, untilMs: 2000, sizeOf: () => 10 }));
    const report = sim.run();
    const s = report.stats;
    assert.ok(s.sent > 30_000, `sent ${s.sent}`);
    // ~40k trials: the standard deviation of each rate is below 0.002, so 0.01 is a 5-sigma band.
    assert.ok(Math.abs(s.lost / s.sent - lossRate) < 0.01, `loss ${s.lost / s.sent}`);
    assert.ok(Math.abs(s.duplicated / (s.sent - s.lost) - duplicateRate) < 0.01, `dup ${s.duplicated / (s.sent - s.lost)}`);
    assertConserved(report);
    const received = nodes.reduce((sum, n) => sum + probeState(sim, n).received.length, 0);
    assert.equal(received, s.delivered);
    assert.equal(s.bytesSent, s.sent * 10);
    assert.equal(s.bytesDelivered, s.delivered * 10);
    let perNodeSent = 0;
    for (const st of report.perNode.values()) perNodeSent += st.sent;
    assert.equal(perNodeSent, s.sent);
  });

  test('variable latency reorders messages; fixed latency keeps links FIFO', () => {
    const countInversions = (network: NetworkModel): number => {
      const sim = new Simulation(probe, probeConfig([A, B], () => ({ pingEveryMs: 2 }), { network, untilMs: 1000 }));
      sim.run();
      const seqs = probeState(sim, B).received.map((r) => r.seq);
      let inversions = 0;
      for (let i = 1; i < seqs.length; i++) if (seqs[i]! < seqs[i - 1]!) inversions++;
      assert.ok(seqs.length > 400);
      return inversions;
    };
    assert.ok(countInversions({ defaultLink: { latency: { kind: 'uniform', minMs: 1, maxMs: 50 }, lossRate: 0, duplicateRate: 0 } }) > 50);
    assert.equal(countInversions(perfectNetwork(7)), 0);
  });

  test('per-link overrides apply to their direction only', () => {
    const network: NetworkModel = {
      defaultLink: { latency: { kind: 'fixed', ms: 5 }, lossRate: 0, duplicateRate: 0 },
      linkOverrides: [{ from: A, to: B, link: { latency: { kind: 'fixed', ms: 40 }, lossRate: 1, duplicateRate: 0 } }],
    };
    const sim = new Simulation(probe, probeConfig([A, B], () => ({ pingEveryMs: 10 }), { network, untilMs: 200 }));
    sim.run();
    assert.equal(probeState(sim, B).received.length, 0);
    const atA = probeState(sim, A).received;
    assert.ok(atA.length > 10);
    for (const r of atA) assert.equal(r.at - r.sentAt, 5);
  });
});

describe('faults', () => {
  test('a partition blocks cross-group messages only during its window', () => {
    const faults: Fault[] = [{ kind: 'partition', atMs: 100, healAtMs: 200, groups: [[A]] }]; // b, c: the unlisted group
    const sim = new Simulation(probe, probeConfig([A, B, C], () => ({ pingEveryMs: 5 }), { faults, untilMs: 400 }));
    const report = sim.run();
    const latencyMs = 10;
    for (const [to, from] of [[B, A], [A, B], [A, C], [C, A]] as const) {
      const rs = probeState(sim, to).received.filter((r) => r.from === from);
      for (const r of rs) {
        assert.ok(r.sentAt < 100 || r.sentAt >= 200, `${from}->${to} sent at ${r.sentAt}`);
        assert.ok(r.at < 100 || r.at >= 200, `${from}->${to} delivered at ${r.at}`);
      }
      // Everything outside the window got through: sends every 5 ms up to 390 (arriving by 400, the end of the
      // run, inclusive), minus the window.
      const expected = [];
      for (let t = 0; t + latencyMs <= 400; t += 5) if (t + latencyMs < 100 || t >= 200) expected.push(t);
      assert.deepEqual(rs.map((r) => r.sentAt), expected);
    }
    // Inside one group, delivery never stops.
    const bc = probeState(sim, C).received.filter((r) => r.from === B);
    assert.ok(bc.some((r) => r.at >= 100 && r.at < 200));
    assert.equal(bc.length, 79); // sent at 0, 5, …, 390
    // Sent in [90, 100): on the wire when the partition started, so dropped at delivery; sent in [100, 200): at send.
    assert.equal(report.stats.droppedByPartition, 4 * (2 + 20));
  });

  test("a majorities ring: each node hears the nodes next to it on the ring, and only during the window", () => {
    const five = ids('n1', 'n2', 'n3', 'n4', 'n5');
    const ring = ids('n1', 'n3', 'n5', 'n2', 'n4'); // radius 1: n1 hears n4 and n3, n3 hears n1 and n5, …
    const faults: Fault[] = [{ kind: 'partition', atMs: 100, healAtMs: 200, ring }];
    const sim = new Simulation(probe, probeConfig(five, () => ({ pingEveryMs: 5 }), { faults, untilMs: 400 }));
    const report = sim.run();
    assertConserved(report);
    const neighbours = (node: NodeId): NodeId[] => {
      const at = ring.indexOf(node);
      return [ring[(at + 1) % 5]!, ring[(at + 4) % 5]!];
    };
    for (const to of five) {
      for (const from of five) {
        if (from === to) continue;
        const inWindow = probeState(sim, to).received.filter((r) => r.from === from && r.at >= 100 && r.at < 200);
        const near = neighbours(to).includes(from);
        assert.equal(inWindow.length, near ? 20 : 0, `${from} -> ${to} ${near ? 'is on the ring' : 'is cut'}`);
        // Outside the window everything arrives (sends every 5 ms, arriving by 400), but for a cut pair the two
        // sent in [90, 100), on the wire when the partition started.
        assert.equal(probeState(sim, to).received.filter((r) => r.from === from && (r.at < 100 || r.at >= 200)).length, 79 - 20 - (near ? 0 : 2));
      }
    }
  });

  test('a ring lists every node once and needs 4 of them; groups list a node once', () => {
    const four = ids('n1', 'n2', 'n3', 'n4');
    const table = (nodes: readonly NodeId[], f: Fault): PartitionTable => new PartitionTable(nodes.length, new Map(nodes.map((n, i) => [n, i])), [f]);
    assert.throws(() => table(four, { kind: 'partition', atMs: 0, healAtMs: 1, ring: ids('n1', 'n2', 'n3') }), /lists every node once/);
    assert.throws(() => table(four, { kind: 'partition', atMs: 0, healAtMs: 1, ring: ids('n1', 'n2', 'n3', 'n3') }), /n3 is on the ring twice/);
    assert.throws(() => table(four.slice(0, 3), { kind: 'partition', atMs: 0, healAtMs: 1, ring: ids('n1', 'n2', 'n3') }), /at least 4 nodes/);
    assert.throws(() => table(four, { kind: 'partition', atMs: 0, healAtMs: 1, groups: [ids('n1'), ids('n1', 'n2')] }), /n1 is in two groups/);
  });

  test("Jepsen's partition targets cut something, never a node from itself, symmetrically; rings leave every node a majority", () => {
    assert.deepEqual(partitionTargets(1), []);
    assert.deepEqual(partitionTargets(2), ['one']);
    assert.deepEqual(partitionTargets(5), ['one', 'majority', 'minority-third', 'majorities-ring']);
    const prng = new Prng(9);
    for (let n = 2; n <= 9; n++) {
      const nodes = Array.from({ length: n }, (_, i) => nodeId(`n${i + 1}`));
      for (const target of partitionTargets(n)) {
        const table = new PartitionTable(n, new Map(nodes.map((node, i) => [node, i])), [jepsenPartition(target, prng, nodes, 0, 1)]);
        let cut = 0;
        for (let a = 0; a < n; a++) {
          assert.equal(table.separated(a, a, 0), false);
          for (let b = 0; b < n; b++) {
            if (table.separated(a, b, 0)) cut++;
            assert.equal(table.separated(a, b, 0), table.separated(b, a, 0), `${target} on ${n} nodes is symmetric`);
            assert.equal(table.separated(a, b, 1), false, 'healed');
          }
          if (target === 'majorities-ring') assert.ok(nodes.filter((_, b) => !table.separated(b, a, 0)).length > n / 2);
        }
        assert.ok(cut > 0, `${target} on ${n} nodes cuts a link`);
      }
    }
  });

  test("the nemesis schedule: Jepsen's stagger, one partition at a time, every one healed by the end", () => {
    const nodes = ids('n1', 'n2', 'n3', 'n4', 'n5');
    const schedule = nemesisSchedule(new Prng(4), nodes, 100, 2000);
    assert.ok(schedule.length >= 3, `${schedule.length} partitions in 20 mean intervals`);
    for (let i = 0; i < schedule.length; i++) {
      const f = schedule[i]!.fault;
      assert.ok(f.atMs < f.healAtMs && f.healAtMs <= 2000);
      if (i > 0) assert.ok(schedule[i - 1]!.fault.healAtMs <= f.atMs, 'one at a time');
    }
    assert.deepEqual(nemesisSchedule(new Prng(4), nodes, 100, 2000), schedule, 'a function of the prng');
    assert.deepEqual(nemesisSchedule(new Prng(4), ids('n1'), 100, 2000), [], 'nothing to cut');
    // Bad settings are refused instead of looping for ever or growing without bound.
    for (const [interval, until] of [[0, 2000], [-1, 2000], [Number.NaN, 2000], [100, Infinity], [1, 4 * MAX_NEMESIS_PARTITIONS]] as const) {
      assert.throws(() => nemesisSchedule(new Prng(4), nodes, interval, until), RangeError, `interval ${interval}, until ${until}`);
    }
    // The simulator runs what the nemesis draws, rings included.
    const faults = nemesisSchedule(new Prng(11), nodes, 50, 1000).map((d) => d.fault);
    assert.ok(faults.some((f) => 'ring' in f) && faults.some((f) => 'groups' in f), 'both forms drawn');
    const report = new Simulation(probe, probeConfig(nodes, () => ({ pingEveryMs: 5 }), { faults, untilMs: 1200 })).run();
    assertConserved(report);
    assert.ok(report.stats.droppedByPartition > 0);
  });

  test('latency given by a mean: constant, uniform over [0, 2·mean], exponential with that mean', () => {
    const prng = new Prng(1);
    const draw = (meanMs: number, shape: MeanLatencyShape): number => drawLatencyMs(prng, latencyWithMean(meanMs, shape));
    assert.equal(draw(100, 'constant'), 100);
    assert.equal(draw(0, 'exponential'), 0);
    const draws = (shape: 'uniform' | 'exponential'): number[] => Array.from({ length: 20_000 }, () => draw(100, shape));
    const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
    const uniform = draws('uniform');
    assert.ok(uniform.every((x) => x >= 0 && x <= 200));
    assert.ok(Math.abs(mean(uniform) - 100) < 3);
    const exponential = draws('exponential');
    assert.ok(Math.abs(mean(exponential) - 100) < 5);
    assert.ok(exponential.some((x) => x > 400), 'a long tail');
  });

  test('a crash loses state, timers and inbound messages; a restart re-inits at the current time', () => {
    const faults: Fault[] = [
      { kind: 'crash', atMs: 50, node: A, restartAtMs: 70 },
      { kind: 'crash', atMs: 300, node: C },
    ];
    const sim = new Simulation(
      probe,
      probeConfig([A, B, C], (n) => (n === A ? { pingEveryMs: 5, onceAfterMs: 100 } : { pingEveryMs: 5 }), { faults, untilMs: 400 }),
    );
    sim.runUntil(60);
    assert.equal(sim.isUp(A), false);
    assert.equal(sim.state(A), undefined);
    sim.runUntil(160);
    const a = probeState(sim, A);
    assert.equal(a.initAt, 70);
    // The first incarnation's one-shot timer (due at 100) died with it; the new one is due at 170.
    assert.deepEqual(a.timers.filter((t) => t.name === 'once'), []);
    // Messages still on the wire at the crash (sent at 40..45, due at 50..55) are lost; those sent while A was
    // down and arriving after the restart are delivered.
    assert.ok(a.received.every((r) => r.sentAt >= 60), JSON.stringify(a.received.slice(0, 3)));
    assert.ok(a.received.some((r) => r.sentAt === 60));
    sim.runUntil(400);
    assert.deepEqual(probeState(sim, A).timers.filter((t) => t.name === 'once'), [{ name: 'once', at: 170 }]);
    const report = sim.report();
    assert.deepEqual(report.outputs.get(A), [{ atMs: 170, value: 'once@170' }]);
    // A sent nothing while down; its pings restarted from seq 0 with the new incarnation.
    const fromA = probeState(sim, B).received.filter((r) => r.from === A);
    assert.ok(fromA.every((r) => r.sentAt < 50 || r.sentAt >= 70));
    assert.equal(fromA.find((r) => r.sentAt === 70)?.seq, 0);
    assert.ok(report.stats.droppedAtCrashedNode > 0);
    assert.deepEqual([...report.crashed], [C]);
    assert.equal(sim.state(C), undefined);
    assert.ok(probeState(sim, B).received.filter((r) => r.from === C).every((r) => r.sentAt < 300));
  });

  test('halted nodes receive nothing and fire no timers', () => {
    const sim = new Simulation(probe, probeConfig([A, B, C], (n) => ({ pingEveryMs: 5, ...(n === A ? { haltAtMs: 100 } : {}) }), { untilMs: 300 }));
    sim.inject(150, A, { kind: 'receive', from: B, msg: { kind: 'ping', seq: -1, sentAt: 150 } });
    const report = sim.run();
    const a = probeState(sim, A);
    assert.ok(a.received.length > 0);
    assert.ok(a.received.every((r) => r.at <= 100));
    assert.ok(a.timers.every((t) => t.at <= 100));
    assert.equal(sim.isHalted(A), true);
    assert.deepEqual([...report.halted], [[A, 100]]);
    assert.ok(report.stats.droppedAtHaltedNode > 0);
    assert.equal(report.stats.injectedDropped, 1);
    assert.ok(probeState(sim, B).received.filter((r) => r.from === A).every((r) => r.sentAt <= 100));
  });
});

describe('timers, clocks and injection', () => {
  test('setting a name replaces it, null cancels, each setting fires at most once, past deadlines fire now', () => {
    type S = { fired: Array<[string, number]> };
    const scripted: Protocol<S, never, string, null> = {
      name: 'scripted',
      init: ({ now }) => ({
        state: { fired: [] },
        effects: [
          { kind: 'timer', name: 'x', at: now + 10 },
          { kind: 'timer', name: 'x', at: now + 100 }, // replaces the one at 10
          { kind: 'timer', name: 'y', at: now + 50 },
          { kind: 'timer', name: 'z', at: now + 70 },
        ],
      }),
      step(s, input, now) {
        assert.equal(input.kind, 'timer');
        const name = input.kind === 'timer' ? input.name : '';
        s.fired.push([name, now]);
        if (name === 'y') {
          return [
            { kind: 'timer', name: 'x', at: now + 150 }, // replaces the one at 100 with one at 200
            { kind: 'timer', name: 'z', at: null },
            { kind: 'timer', name: 'past', at: now - 30 },
          ];
        }
        return [];
      },
      isMessage: (_v: unknown): _v is never => false,
      metrics: () => ({}),
      invariants: () => {},
    };
    const sim = new Simulation(scripted, { seed: 1, nodes: [A], optionsFor: () => null, network: perfectNetwork(), untilMs: 1000 });
    const report = sim.run();
    assert.deepEqual(sim.state(A)?.fired, [['y', 50], ['past', 50], ['x', 200]]);
    assert.equal(report.stats.timersFired, 3);
    // The node never halts, so the run goes on to untilMs.
    assert.equal(report.endedAtMs, 1000);
  });

  test('clock offsets skew what a node sees, and its deadlines are read in its own clock', () => {
    const sim = new Simulation(
      probe,
      probeConfig([A, B], () => ({ onceAfterMs: 100 }), { clockOffsetMs: (n) => (n === A ? 1000 : -3), startMs: 20 }),
    );
    const report = sim.run();
    assert.equal(probeState(sim, A).initAt, 1020);
    assert.equal(probeState(sim, B).initAt, 17);
    assert.deepEqual(report.outputs.get(A), [{ atMs: 120, value: 'once@1120' }]);
    assert.deepEqual(report.outputs.get(B), [{ atMs: 120, value: 'once@117' }]);
  });

  test('injected inputs arrive at their time; injecting into the past is refused', () => {
    const sim = new Simulation(probe, probeConfig([A, B], () => ({})));
    sim.inject(40, A, { kind: 'receive', from: nodeId('client'), msg: { kind: 'ping', seq: 9, sentAt: 0 } });
    sim.inject(30, B, { kind: 'receive', from: nodeId('client'), msg: { kind: 'ping', seq: 3, sentAt: 0 } });
    sim.runUntil(100);
    assert.deepEqual(probeState(sim, A).received, [{ from: 'client', seq: 9, sentAt: 0, at: 40 }]);
    assert.deepEqual(probeState(sim, B).received, [{ from: 'client', seq: 3, sentAt: 0, at: 30 }]);
    assert.throws(() => sim.inject(50, A, { kind: 'receive', from: B, msg: { kind: 'ping', seq: 0, sentAt: 0 } }), SimulationError);
    // Timers are the protocol's own: a kernel fires only names its protocol set (protocol/types.ts, rule 4).
    assert.throws(() => sim.inject(150, A, { kind: 'timer', name: 'x' } as never), /a timer cannot be injected/);
  });

  test('the run stops early once every live node has halted and nothing is pending', () => {
    const report = runSimulation(probe, probeConfig([A, B], () => ({ pingEveryMs: 5, haltAtMs: 50 }), { untilMs: 10_000 }));
    // Both halt at 50 (the halt timers were set at init, before the deliveries due at 50, so they go first).
    // The pings sent at 40 and 45 arrive at 50 and 55 and are dropped; then nothing is left to do.
    assert.equal(report.endedAtMs, 55);
    assert.equal(report.stats.inFlight, 0);
    assert.equal(report.stats.droppedAtHaltedNode, 4);
    assert.deepEqual(report.halted, new Map([[A, 50], [B, 50]]));
    assert.ok(report.logs.some((e) => e.text === 'sim: halt'), 'the halts are in the kept log');
  });

  test('the kept log holds the newest logCapacity entries; 0 keeps none, a fraction is a config error', () => {
    const config = probeConfig([A, B], () => ({ pingEveryMs: 5, haltAtMs: 50 }), { untilMs: 10_000 });
    const all = runSimulation(probe, { ...config, logCapacity: 10_000 }).logs;
    assert.deepEqual(runSimulation(probe, { ...config, logCapacity: 2 }).logs, all.slice(-2));
    assert.deepEqual(runSimulation(probe, { ...config, logCapacity: 0 }).logs, []);
    assert.throws(() => runSimulation(probe, { ...config, logCapacity: 1.5 }), /invalid config/);
  });
});

describe('late starts, slow starts and pauses', () => {
  test('a node that starts late misses the messages sent before its start and none after', () => {
    // a pings b every 5 ms over 10 ms links; b's process starts at 100.
    const sim = new Simulation(probe, probeConfig([A, B], (n) => (n === A ? { pingEveryMs: 5 } : { pingEveryMs: 50 }), { startAtMs: (n) => (n === B ? 100 : 0), untilMs: 300 }));
    sim.inject(50, B, { kind: 'receive', from: A, msg: { kind: 'ping', seq: -1, sentAt: 50 } });
    sim.runUntil(99);
    assert.equal(sim.isUp(B), false);
    assert.equal(sim.state(B), undefined);
    const report = sim.run();
    const b = probeState(sim, B);
    assert.equal(b.initAt, 100);
    assert.equal(b.startedAt, 100);
    // Pings sent at 0..95 were refused, even those that would have arrived after 100; every later one arrived.
    const expected = [];
    for (let t = 100; t + 10 <= 300; t += 5) expected.push(t);
    assert.deepEqual(b.received.map((r) => r.sentAt), expected);
    assert.equal(report.stats.droppedAtUnstartedNode, 20);
    assert.equal(report.stats.injectedDropped, 1);
    // b's own pings start with its process, and a hears them.
    assert.deepEqual(probeState(sim, A).received.map((r) => r.sentAt), [100, 150, 200, 250]);
    assertConserved(report);
  });

  test('nodes starting at the same instant reach each other, whatever their order', () => {
    // flood sends from init: n0's numbers leave before n1 has initialised in that same instant.
    const nodes = ids('n0', 'n1', 'n2');
    const report = runSimulation(flood, {
      seed: 3,
      nodes,
      network: perfectNetwork(5),
      optionsFor: (n) => ({ value: valueOf(n), retransmitMs: 1000, haltNotBeforeMs: 0 }),
      startAtMs: () => 40,
      untilMs: 10_000,
    });
    assert.equal(report.stats.droppedAtUnstartedNode, 0);
    // Everyone knew everything from the first round, long before a retransmission at 1040.
    for (const n of nodes) assert.equal(report.outputs.get(n)?.[0]?.atMs, 45);
  });

  test('init runs after the init delay, told when its process started; restarts pay the delay again', () => {
    const faults: Fault[] = [
      { kind: 'crash', atMs: 200, node: A, restartAtMs: 300 },
      // Killed while starting up again (its init would be at 430): that init never runs.
      { kind: 'crash', atMs: 420, node: A, restartAtMs: 500 },
      // Stopped while starting up: init runs at the resume, still told the process start.
      { kind: 'pause', atMs: 510, node: A, resumeAtMs: 600 },
    ];
    const inits: Array<{ now: number; startedAtMs: number }> = [];
    const recording: typeof probe = { ...probe, init: (ctx) => (inits.push({ now: ctx.now, startedAtMs: ctx.startedAtMs }), probe.init(ctx)) };
    const sim = new Simulation(
      recording,
      probeConfig([A, B], (n) => (n === B ? { pingEveryMs: 5 } : {}), {
        startAtMs: (n) => (n === A ? 50 : 0),
        initDelayMs: (n) => (n === A ? 30 : 0),
        clockOffsetMs: (n) => (n === A ? 1000 : 0),
        faults,
        untilMs: 700,
      }),
    );
    sim.runUntil(79);
    assert.equal(sim.isUp(A), false);
    sim.runUntil(80);
    assert.equal(sim.isUp(A), true);
    sim.runUntil(425);
    assert.equal(sim.isUp(A), false);
    const report = sim.run();
    // b's own init, then a's: at 80 (process 50), 330 (restart 300), 600 (restart 500, paused 510..600).
    assert.deepEqual(inits, [
      { now: 0, startedAtMs: 0 },
      { now: 1080, startedAtMs: 1050 },
      { now: 1330, startedAtMs: 1300 },
      { now: 1600, startedAtMs: 1500 },
    ]);
    // Before a's first init, b's pings were refused (sent at 0..75); after it they flow until the crash.
    const a = probeState(sim, A);
    assert.ok(a.received.every((r) => r.sentAt >= 590), JSON.stringify(a.received[0]));
    assert.equal(report.stats.droppedAtUnstartedNode, 16);
    // Pings arriving while a was down or starting up again count as lost at a crashed node, not as refused.
    assert.ok(report.stats.droppedAtCrashedNode > 0);
    assertConserved(report);
  });

  test('a paused node gets what arrived meanwhile at resume: due timers first, then messages and injections in order', () => {
    // a pings b every 5 ms; b pings a every 20 ms and has a one-shot timer due at 150; b is paused in [85, 300).
    const faults: Fault[] = [{ kind: 'pause', atMs: 85, node: B, resumeAtMs: 300 }];
    const sim = new Simulation(probe, probeConfig([A, B], (n) => (n === A ? { pingEveryMs: 5 } : { pingEveryMs: 20, onceAfterMs: 150 }), { faults, untilMs: 400 }));
    sim.inject(200, B, { kind: 'receive', from: C, msg: { kind: 'ping', seq: 99, sentAt: 200 } });
    sim.runUntil(299);
    assert.equal(sim.isPaused(B), true);
    const before = probeState(sim, B).order.length;
    const report = sim.run();
    const b = probeState(sim, B);
    const atResume = b.order.slice(before).filter((e) => e.endsWith('@300'));
    // The ping timer (due at 100) and the one-shot (due at 150), in deadline order; then a's pings that arrived
    // in [85, 300) (sent at 75..285) in arrival order, with the injected input where it arrived (at 200, ahead
    // of the ping arriving then, which was scheduled later); then, no longer held, the ping arriving at 300.
    const fromA = (from: number, to: number): string[] => Array.from({ length: (to - from) / 5 + 1 }, (_, k) => `a#${from / 5 + k}@300`);
    assert.deepEqual(atResume.slice(0, 2), ['timer:ping@300', 'timer:once@300']);
    assert.deepEqual(atResume.slice(2), [...fromA(75, 185), 'c#99@300', ...fromA(190, 290)]);
    assert.deepEqual(report.outputs.get(B), [{ atMs: 300, value: 'once@300' }]);
    // Nothing was lost: every ping a sent arrived, in order, exactly once.
    const seqs = b.received.filter((r) => r.from === A).map((r) => r.seq);
    assert.deepEqual(seqs, Array.from({ length: seqs.length }, (_, k) => k));
    assert.equal(seqs.length, 79); // sent at 0..390, arriving by 400
    assert.equal(report.stats.heldByPause, 43);
    assert.equal(report.stats.injected, 1);
    // b sent nothing while stopped; its ping sent at 80 was already on the wire and arrived at 90.
    assert.deepEqual(probeState(sim, A).received.map((r) => r.sentAt), [0, 20, 40, 60, 80, 300, 320, 340, 360, 380]);
    assert.equal(report.stats.droppedAtCrashedNode + report.stats.droppedAtUnstartedNode + report.stats.droppedAtHaltedNode, 0);
    assertConserved(report);
  });

  test('a crash during a pause ends it: what was held is lost like anything in flight, the restart runs unpaused', () => {
    const faults: Fault[] = [
      { kind: 'pause', atMs: 100, node: B, resumeAtMs: 300 },
      { kind: 'crash', atMs: 200, node: B, restartAtMs: 250 },
    ];
    const sim = new Simulation(probe, probeConfig([A, B], (n) => (n === A ? { pingEveryMs: 5 } : { onceAfterMs: 150 }), { faults, untilMs: 500 }));
    sim.inject(150, B, { kind: 'receive', from: C, msg: { kind: 'ping', seq: -1, sentAt: 150 } });
    sim.runUntil(260);
    assert.equal(sim.isPaused(B), false);
    const report = sim.run();
    const b = probeState(sim, B);
    // The held one-shot (due at 150) died with the process; the new incarnation's fires 150 ms after its init.
    assert.deepEqual(report.outputs.get(B), [{ atMs: 400, value: 'once@400' }]);
    assert.equal(b.initAt, 250);
    // It got a's pings as soon as it was up again (sent while it was down, arriving after the restart).
    assert.equal(b.received[0]?.at, 250);
    assert.ok(b.timers.every((t) => t.at >= 250));
    // Held: the pings that arrived in [100, 200) (20) plus the injection; lost too: those arriving in [200, 250).
    assert.equal(report.stats.heldByPause, 20);
    assert.equal(report.stats.injectedDropped, 1);
    assert.equal(report.stats.droppedAtCrashedNode, 20 + 10);
    assertConserved(report);
  });

  test('what a paused node holds counts against maxQueuedEvents', () => {
    // About a dozen agenda entries at any time, but b holds one more ping every millisecond while stopped.
    const faults: Fault[] = [{ kind: 'pause', atMs: 10, node: B, resumeAtMs: 1000 }];
    const config = probeConfig([A, B], (n) => (n === A ? { pingEveryMs: 1 } : {}), { faults, maxQueuedEvents: 100 });
    assert.throws(() => runSimulation(probe, config), /seed=7 at \d+ms: more than maxQueuedEvents=100 events pending/);
    runSimulation(probe, { ...config, faults: [] });
  });

  test('faults apply literally to a node that has not started: a restart starts it early, a pause does nothing', () => {
    const faults: Fault[] = [
      { kind: 'pause', atMs: 50, node: C, resumeAtMs: 150 },
      { kind: 'crash', atMs: 100, node: C, restartAtMs: 200 },
    ];
    const sim = new Simulation(probe, probeConfig([A, C], () => ({}), { faults, startAtMs: (n) => (n === C ? 500 : 0) }));
    sim.runUntil(199);
    assert.equal(sim.isUp(C), false);
    sim.run();
    assert.equal(probeState(sim, C).initAt, 200);
    assert.equal(sim.isPaused(C), false);
  });

  test('bad starts, delays and pauses are refused', () => {
    const base = probeConfig([A, B], () => ({}));
    const refuse = (extra: Partial<SimulationConfig<ProbeOptions, ProbeMsg>>, message: RegExp): void => {
      assert.throws(() => new Simulation(probe, { ...base, ...extra }), message);
    };
    refuse({ startMs: 10, startAtMs: () => 5 }, /startAtMs\(a\) must be finite and >= startMs, got 5/);
    refuse({ startAtMs: () => NaN }, /startAtMs\(a\) must be finite/);
    refuse({ initDelayMs: () => -1 }, /initDelayMs\(a\) must be finite and >= 0/);
    refuse({ faults: [{ kind: 'pause', atMs: 10, node: A, resumeAtMs: 10 }] }, /faults\[0\]: resumeAtMs must be finite and after atMs/);
    refuse({ faults: [{ kind: 'pause', atMs: 10, node: nodeId('zz'), resumeAtMs: 20 }] }, /faults\[0\]: unknown node zz/);
    refuse({ startMs: 50, faults: [{ kind: 'pause', atMs: 10, node: A, resumeAtMs: 60 }] }, /a pause of a at 10ms is before startMs/);
    const overlapping: Fault[] = [
      { kind: 'pause', atMs: 100, node: A, resumeAtMs: 200 },
      { kind: 'pause', atMs: 10, node: B, resumeAtMs: 150 },
      { kind: 'pause', atMs: 200, node: A, resumeAtMs: 300 },
    ];
    refuse({ faults: overlapping }, /faults\[2\]: pauses of a overlap or touch faults\[0\] \(merge them into one\)/);
    // Apart, they are fine.
    new Simulation(probe, { ...base, faults: [overlapping[0]!, overlapping[1]!, { kind: 'pause', atMs: 201, node: A, resumeAtMs: 300 }] });
  });

  test('drawStartOffsets draws whole ms per node in [0, max], deterministically', () => {
    const nodes = ids('a', 'b', 'c', 'd', 'e', 'f');
    const offsets = drawStartOffsets(new Prng(9), nodes, 250);
    assert.deepEqual([...offsets.keys()], nodes);
    for (const v of offsets.values()) assert.ok(Number.isInteger(v) && v >= 0 && v <= 250);
    assert.deepEqual(drawStartOffsets(new Prng(9), nodes, 250), offsets);
    assert.ok(new Set(offsets.values()).size > 1);
    assert.deepEqual([...drawStartOffsets(new Prng(9), nodes, 0).values()], [0, 0, 0, 0, 0, 0]);
    assert.throws(() => drawStartOffsets(new Prng(9), nodes, 1.5), /whole number/);
  });
});

describe('liveness under random networks and faults', () => {
  const checkLiveness = (lifecycle: boolean): void => {
    const seeds = testSeeds(200);
    let stoppedEarly = 0;
    const exercised: Partial<Record<keyof SimulationReport<FloodOut>['stats'], number>> = { lost: 0, duplicated: 0, droppedByPartition: 0, droppedAtCrashedNode: 0 };
    if (lifecycle) Object.assign(exercised, { droppedAtUnstartedNode: 0, heldByPause: 0 });
    for (const seed of seeds) {
      withSeed(seed, `flood liveness${lifecycle ? ' with late and slow starts and pauses' : ''}`, () => {
        const { config, expectedSum } = floodScenario(seed, lifecycle);
        const report: SimulationReport<FloodOut> = runSimulation(flood, config);
        for (const node of config.nodes) {
          const outs = report.outputs.get(node) ?? [];
          assert.ok(outs.length >= 1, `${node} never output`);
          for (const o of outs) assert.deepEqual(o.value, { count: config.nodes.length, sum: expectedSum });
        }
        assert.equal(report.crashed.size, 0);
        assert.equal(report.halted.size, config.nodes.length, 'every node halts');
        assertConserved(report);
        if (report.endedAtMs < config.untilMs) stoppedEarly++;
        for (const k of Object.keys(exercised) as Array<keyof typeof exercised>) if (report.stats[k] > 0) exercised[k]! += 1;
      });
    }
    assert.equal(stoppedEarly, seeds.length);
    // Not vacuous: the faults actually bit in a good share of the runs (skipped when replaying one seed).
    if (seeds.length > 1) {
      for (const [k, runs] of Object.entries(exercised)) assert.ok(runs > seeds.length / 10, `only ${runs} runs had ${k}`);
    }
  };

  test('every node outputs the right sum after partitions heal and crashed nodes restart', () => checkLiveness(false));

  test('… also when nodes start late and slowly and are paused', () => checkLiveness(true));
});

describe('failures name their seed', () => {
  test('exceeding maxSteps throws a SimulationError with the seed', () => {
    const { config } = floodScenario(42);
    assert.throws(
      () => runSimulation(flood, { ...config, maxSteps: 100 }),
      (e: unknown) => e instanceof SimulationError && e.seed === 42 && /seed=42 .*maxSteps=100/.test(e.message),
    );
  });

  test('a protocol that throws, or a malformed message, fails with seed, time and node; the simulation stays failed', () => {
    const boom: Protocol<null, { n: number }, never, null> = {
      name: 'boom',
      init: ({ self }) => ({ state: null, effects: self === A ? [{ kind: 'send', to: B, msg: { n: 1 } }] : [] }),
      step: () => {
        throw new Error('kaboom');
      },
      isMessage: (v: unknown): v is { n: number } => typeof (v as { n?: unknown }).n === 'number',
      metrics: () => ({}),
      invariants: () => {},
    };
    const sim = new Simulation(boom, { seed: 5, nodes: [A, B], optionsFor: () => null, network: perfectNetwork(3), untilMs: 100 });
    let caught: unknown;
    try {
      sim.run();
    } catch (e) {
      caught = e;
    }
    assert.ok(caught instanceof SimulationError);
    assert.match(caught.message, /^seed=5 at 3ms node=b: boom\.step\(receive\) threw: Error: kaboom/);
    assert.equal((caught.cause as Error).message, 'kaboom');
    assert.throws(() => sim.runUntil(200), (e: unknown) => e === caught);

    const liar = { ...boom, isMessage: (_v: unknown): _v is { n: number } => false };
    assert.throws(
      () => runSimulation(liar, { seed: 6, nodes: [A, B], optionsFor: () => null, network: perfectNetwork(3), untilMs: 100 }),
      /seed=6 at 3ms node=b: a message from a fails boom\.isMessage: \{"n":1\}/,
    );
  });

  test('invalid configs are refused with the seed', () => {
    const base = probeConfig([A, B], () => ({}));
    assert.throws(() => new Simulation(probe, { ...base, nodes: [A, A] }), /seed=7: invalid config: RangeError: node a is listed twice/);
    assert.throws(
      () => new Simulation(probe, { ...base, faults: [{ kind: 'crash', atMs: 5, node: nodeId('zz') }] }),
      /seed=7: invalid config: .*unknown node zz/,
    );
    const lossy = { defaultLink: { latency: { kind: 'fixed' as const, ms: 1 }, lossRate: 1.5, duplicateRate: 0 } };
    assert.throws(() => new Simulation(probe, { ...base, network: lossy }), /lossRate must be in \[0, 1\]/);
    assert.throws(() => new Simulation(probe, { ...base, seed: -1 }), SimulationError);
  });

  test('step listeners check invariants after every step', () => {
    const sim = new Simulation(probe, probeConfig([A, B], () => ({ pingEveryMs: 5 })));
    sim.onStep((node, atMs, state) => {
      assert.ok(state.received.length < 3, `${node} received too much at ${atMs}`);
    });
    assert.throws(() => sim.run(), /seed=7 at 20ms node=b: a step listener \(invariant\) failed: AssertionError.*received too much/);
  });

  test('withSeed names the seed and the replay switch, keeps the cause, and handles promises', async () => {
    const cause = new Error('inner');
    assert.throws(
      () =>
        withSeed(17, 'my check', () => {
          throw cause;
        }),
      (e: unknown) => e instanceof Error && e.message.startsWith(`my check failed with seed=17 (replay: ${REPLAY_SEED_ENV}=17; picture: ${REPLAY_SEED_ENV}=17 CHATTERBOX_PICTURE=seed-17.html npm test -- simulator)`) && e.cause === cause,
    );
    assert.equal(withSeed(3, 'ok', () => 42), 42);
    assert.throws(
      () =>
        withSeed(
          19,
          'pictured',
          () => {
            throw cause;
          },
          'chatterbox sim --protocol stream --seed 19',
        ),
      (e: unknown) => e instanceof Error && e.message.startsWith(`pictured failed with seed=19 (replay: ${REPLAY_SEED_ENV}=19; picture: npx chatterbox sim --protocol stream --seed 19 --report seed-19.html)`),
    );
    await assert.rejects(
      withSeed(18, 'async check', async () => {
        throw cause;
      }),
      /^Error: async check failed with seed=18/,
    );
  });

  test('testSeeds honours the replay variable', () => {
    const saved = process.env[REPLAY_SEED_ENV];
    try {
      delete process.env[REPLAY_SEED_ENV];
      assert.deepEqual(testSeeds(3, 10), [10, 11, 12]);
      process.env[REPLAY_SEED_ENV] = '1234';
      assert.deepEqual(testSeeds(3, 10), [1234]);
    } finally {
      if (saved === undefined) delete process.env[REPLAY_SEED_ENV];
      else process.env[REPLAY_SEED_ENV] = saved;
    }
  });
});

describe('random schedules', () => {
  test('randomFaultSchedule stays within its bounds', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 0xffffffff }),
        fc.integer({ min: 1, max: 8 }),
        fc.boolean(),
        fc.integer({ min: 0, max: 5 }),
        (seed, count, allowRestarts, maxPauses) => {
          const nodes = Array.from({ length: count }, (_, i) => nodeId(`n${i}`));
          const crashCount = seed % (count + 1);
          const options = { nodes, fromMs: 100, toMs: 900, healByMs: 1200, maxPartitions: 4, crashCount, allowRestarts };
          const faults = randomFaultSchedule(new Prng(seed), { ...options, maxPauses, pauseLengthMs: { minMs: 50, maxMs: 400 } });
          const crashes = faults.filter((f) => f.kind === 'crash');
          assert.equal(crashes.length, crashCount);
          assert.equal(new Set(crashes.map((f) => f.node)).size, crashCount);
          for (let i = 1; i < faults.length; i++) assert.ok(faults[i - 1]!.atMs <= faults[i]!.atMs);
          for (const f of faults) {
            assert.ok(f.atMs >= 100 && f.atMs < 900);
            if (f.kind === 'partition') {
              assert.ok(f.healAtMs > f.atMs && f.healAtMs <= 1200);
              assert.ok('groups' in f, 'drawn schedules give partitions as groups');
              assert.ok(f.groups.length >= 2 && f.groups.every((g) => g.length > 0));
              assert.equal(f.groups.flat().length, new Set(f.groups.flat()).size);
            } else if (f.kind === 'pause') {
              // At least 50 ms unless cut short at healByMs.
              assert.ok(f.resumeAtMs <= 1200 && f.resumeAtMs > f.atMs && (f.resumeAtMs - f.atMs >= 50 || f.resumeAtMs === 1200));
              assert.ok(f.resumeAtMs - f.atMs <= 400);
            } else if (allowRestarts) {
              assert.ok(f.restartAtMs !== undefined && f.restartAtMs > f.atMs && f.restartAtMs <= 1200);
            } else {
              assert.equal(f.restartAtMs, undefined);
            }
          }
          const pauses = faults.filter((f) => f.kind === 'pause');
          assert.ok(pauses.length <= maxPauses);
          // A valid schedule (one node's pauses apart), accepted by the simulator's own check.
          validateNodeFaults(faults, (n) => nodes.includes(n));
          // Same prng state, same schedule; pauses come on top of what would be drawn without them.
          assert.deepEqual(randomFaultSchedule(new Prng(seed), { ...options, maxPauses, pauseLengthMs: { minMs: 50, maxMs: 400 } }), faults);
          assert.deepEqual(randomFaultSchedule(new Prng(seed), options), faults.filter((f) => f.kind !== 'pause'));
        },
      ),
    );
  });

  test('randomNetwork stays within sane ranges', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), (seed) => {
        const net = randomNetwork(new Prng(seed), { nodes: ids('a', 'b', 'c', 'd'), overrideRate: 0.5 });
        for (const link of [net.defaultLink, ...(net.linkOverrides ?? []).map((o) => o.link)]) {
          assert.ok(link.lossRate >= 0 && link.lossRate <= 0.2);
          assert.ok(link.duplicateRate >= 0 && link.duplicateRate <= 0.1);
          const l = link.latency;
          const max = l.kind === 'fixed' ? l.ms : l.maxMs;
          const min = l.kind === 'fixed' ? l.ms : l.minMs;
          assert.ok(min >= 0 && min <= max && max <= 200);
        }
      }),
    );
  });
});

describe('messages on the wire', () => {
  test('copyMessage gives every copy its own object (a codec round trip in real use)', () => {
    type M = { v: number[] };
    type S = { sent: M | null; got: M[] };
    // A buggy sender: it keeps the message it sent and mutates it while the message is still on the wire.
    const aliasing: Protocol<S, M, never, null> = {
      name: 'aliasing',
      init: ({ self, now }) => {
        if (self !== A) return { state: { sent: null, got: [] }, effects: [] };
        const msg = { v: [1] };
        return { state: { sent: msg, got: [] }, effects: [{ kind: 'send', to: B, msg }, { kind: 'timer', name: 'mutate', at: now + 1 }] };
      },
      step: (s, input: Input<M>) => {
        if (input.kind === 'receive') s.got.push(input.msg);
        else s.sent?.v.push(2);
        return [];
      },
      isMessage: (v: unknown): v is M => Array.isArray((v as { v?: unknown }).v),
      metrics: () => ({}),
      invariants: () => {},
    };
    const base = { seed: 1, nodes: [A, B], optionsFor: () => null, network: perfectNetwork(5), untilMs: 10 };
    const shared = new Simulation(aliasing, base);
    shared.run();
    assert.deepEqual(shared.state(B)?.got, [{ v: [1, 2] }]); // the bug leaks through a shared object
    const copied = new Simulation(aliasing, { ...base, copyMessage: (m: M) => JSON.parse(JSON.stringify(m)) as M });
    copied.run();
    assert.deepEqual(copied.state(B)?.got, [{ v: [1] }]); // as a real network would deliver it
  });
});
