import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { nodeId, type NodeId } from '../src/core/ids.js';
import { Prng } from '../src/core/prng.js';
import type { Effect, Input, Protocol } from '../src/protocol/types.js';
import {
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
};

const valueOf = (node: NodeId): number => 100 + node.charCodeAt(node.length - 1);

/** A random scenario: network, faults, clock skew, all drawn from the seed. */
function floodScenario(seed: number): { config: SimulationConfig<FloodOptions, FloodMsg>; expectedSum: number } {
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
  });
  const skew = new Map(nodes.map((n) => [n, root.int(-50, 50)]));
  return {
    config: {
      seed,
      nodes,
      network,
      faults,
      optionsFor: (n) => ({ value: valueOf(n), retransmitMs: 20, haltNotBeforeMs: healByMs + 1000 }),
      clockOffsetMs: (n) => skew.get(n) ?? 0,
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
  readonly received: Array<{ from: NodeId; seq: number; sentAt: number; at: number }>;
  readonly timers: Array<{ name: string; at: number }>;
  seq: number;
}

const probe: Protocol<ProbeState, ProbeMsg, string, ProbeOptions> = {
  name: 'probe',
  init({ self, nodes, options, now }) {
    const effects: Effect<ProbeMsg, string>[] = [];
    if (options.pingEveryMs !== undefined) effects.push({ kind: 'timer', name: 'ping', at: now });
    if (options.onceAfterMs !== undefined) effects.push({ kind: 'timer', name: 'once', at: now + options.onceAfterMs });
    if (options.haltAtMs !== undefined) effects.push({ kind: 'timer', name: 'halt', at: options.haltAtMs });
    return { state: { self, nodes, options, initAt: now, received: [], timers: [], seq: 0 }, effects };
  },
  step(s, input, now) {
    if (input.kind === 'receive') {
      s.received.push({ from: input.from, seq: input.msg.seq, sentAt: input.msg.sentAt, at: now });
      return [];
    }
    s.timers.push({ name: input.name, at: now });
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
};

function probeConfig(
  nodes: readonly NodeId[],
  options: (n: NodeId) => ProbeOptions,
  extra: Partial<SimulationConfig<ProbeOptions, ProbeMsg>> = {},
): SimulationConfig<ProbeOptions, ProbeMsg> {
  return { seed: 7, nodes, optionsFor: options, network: perfectNetwork(10), untilMs: 1000, ...extra };
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
    for (const seed of [1, 2, 3, 99, 4_000_000_000]) {
      withSeed(seed, 'determinism', () => {
        const first = runSimulation(flood, floodScenario(seed).config);
        const second = runSimulation(flood, floodScenario(seed).config);
        assert.deepStrictEqual(second, first);
        // Stepping the same run in chunks must not change anything either.
        const sim = new Simulation(flood, floodScenario(seed).config);
        for (let t = 0; t <= 20_000; t += 137) sim.runUntil(t);
        const chunked = sim.run();
        assert.deepStrictEqual(chunked, first);
      });
    }
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
    const dropped = s.lost + s.droppedByPartition + s.droppedAtCrashedNode + s.droppedAtHaltedNode;
    assert.equal(s.sent + s.duplicated, s.delivered + dropped + s.inFlight);
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
    sim.inject(30, B, { kind: 'timer', name: 'once' });
    sim.runUntil(100);
    assert.deepEqual(probeState(sim, A).received, [{ from: 'client', seq: 9, sentAt: 0, at: 40 }]);
    assert.deepEqual(sim.report().outputs.get(B), [{ atMs: 30, value: 'once@30' }]);
    assert.throws(() => sim.inject(50, A, { kind: 'timer', name: 'x' }), SimulationError);
  });

  test('the run stops early once every live node has halted and nothing is pending', () => {
    const report = runSimulation(probe, probeConfig([A, B], () => ({ pingEveryMs: 5, haltAtMs: 50 }), { untilMs: 10_000 }));
    // Both halt at 50 (the halt timers were set at init, before the deliveries due at 50, so they go first).
    // The pings sent at 40 and 45 arrive at 50 and 55 and are dropped; then nothing is left to do.
    assert.equal(report.endedAtMs, 55);
    assert.equal(report.stats.inFlight, 0);
    assert.equal(report.stats.droppedAtHaltedNode, 4);
  });
});

describe('liveness under random networks and faults', () => {
  test('every node outputs the right sum after partitions heal and crashed nodes restart', () => {
    const seeds = testSeeds(200);
    let stoppedEarly = 0;
    const exercised = { lost: 0, duplicated: 0, droppedByPartition: 0, droppedAtCrashedNode: 0 };
    for (const seed of seeds) {
      withSeed(seed, 'flood liveness', () => {
        const { config, expectedSum } = floodScenario(seed);
        const report: SimulationReport<FloodOut> = runSimulation(flood, config);
        for (const node of config.nodes) {
          const outs = report.outputs.get(node) ?? [];
          assert.ok(outs.length >= 1, `${node} never output`);
          for (const o of outs) assert.deepEqual(o.value, { count: config.nodes.length, sum: expectedSum });
        }
        assert.equal(report.crashed.size, 0);
        assert.equal(report.halted.size, config.nodes.length, 'every node halts');
        if (report.endedAtMs < config.untilMs) stoppedEarly++;
        for (const k of Object.keys(exercised) as Array<keyof typeof exercised>) if (report.stats[k] > 0) exercised[k]++;
      });
    }
    assert.equal(stoppedEarly, seeds.length);
    // Not vacuous: the faults actually bit in a good share of the runs (skipped when replaying one seed).
    if (seeds.length > 1) {
      for (const [k, runs] of Object.entries(exercised)) assert.ok(runs > seeds.length / 10, `only ${runs} runs had ${k}`);
    }
  });
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
      (e: unknown) => e instanceof Error && e.message.startsWith(`my check failed with seed=17 (replay: ${REPLAY_SEED_ENV}=17)`) && e.cause === cause,
    );
    assert.equal(withSeed(3, 'ok', () => 42), 42);
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
        (seed, count, allowRestarts) => {
          const nodes = Array.from({ length: count }, (_, i) => nodeId(`n${i}`));
          const crashCount = seed % (count + 1);
          const faults = randomFaultSchedule(new Prng(seed), {
            nodes,
            fromMs: 100,
            toMs: 900,
            healByMs: 1200,
            maxPartitions: 4,
            crashCount,
            allowRestarts,
          });
          const crashes = faults.filter((f) => f.kind === 'crash');
          assert.equal(crashes.length, crashCount);
          assert.equal(new Set(crashes.map((f) => f.node)).size, crashCount);
          for (let i = 1; i < faults.length; i++) assert.ok(faults[i - 1]!.atMs <= faults[i]!.atMs);
          for (const f of faults) {
            assert.ok(f.atMs >= 100 && f.atMs < 900);
            if (f.kind === 'partition') {
              assert.ok(f.healAtMs > f.atMs && f.healAtMs <= 1200);
              assert.ok(f.groups.length >= 2 && f.groups.every((g) => g.length > 0));
              assert.equal(f.groups.flat().length, new Set(f.groups.flat()).size);
            } else if (allowRestarts) {
              assert.ok(f.restartAtMs !== undefined && f.restartAtMs > f.atMs && f.restartAtMs <= 1200);
            } else {
              assert.equal(f.restartAtMs, undefined);
            }
          }
          // Same prng state, same schedule.
          assert.deepEqual(
            randomFaultSchedule(new Prng(seed), { nodes, fromMs: 100, toMs: 900, healByMs: 1200, maxPartitions: 4, crashCount, allowRestarts }),
            faults,
          );
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
