/**
 * SWIM + Lifeguard under the simulator (src/sim/scenarios/membership.ts): seeded sweeps with loss, duplication,
 * reordering, partitions that heal, crashes, restarts, pauses of 1–3 s, start skew, late joiners and leaves. Every
 * run must end with every live node seeing every live member alive, every crashed member dead (or forgotten)
 * and every leaver left; Lifeguard must declare no live node dead at 10% loss; mutants that never refute or
 * never time a suspicion out must fail. A failing run names its seed (replay with CHATTERBOX_SEED=N).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { nodeId, type NodeId } from '../src/core/ids.js';
import { Prng } from '../src/core/prng.js';
import { swimProtocol } from '../src/membership/swim.js';
import { randomFaultSchedule, type Fault } from '../src/sim/faults.js';
import { perfectNetwork, randomNetwork, type NetworkModel } from '../src/sim/network.js';
import { joinerIds, lastFaultEndMs, runMembershipScenario, staticNodeIds, type MembershipScenario } from '../src/sim/scenarios/membership.js';
import { testSeeds, withSeed } from '../src/sim/simulation.js';

const SEEDS = Number(process.env['MEMBERSHIP_SEEDS'] ?? 60);
/** Past the last fault: crash detection (a probe round plus a suspicion of at most 6 × 4 s) and a partition's reunion (reconnects every 5 s). */
const SETTLE_MS = 40_000;

function lossy(lossRate: number, opts: { duplicateRate?: number; maxLatencyMs?: number } = {}): NetworkModel {
  const maxMs = opts.maxLatencyMs ?? 20;
  return { defaultLink: { latency: { kind: 'uniform', minMs: 1, maxMs }, lossRate, duplicateRate: opts.duplicateRate ?? 0 } };
}

/** A random scenario: static nodes with start skew, late joiners, faults of every kind, a leave after the faults. */
function drawScenario(seed: number): MembershipScenario {
  const prng = new Prng(seed);
  const staticCount = prng.int(3, 8);
  const statics = staticNodeIds(staticCount);
  const joinerCount = prng.int(0, 2);
  const joiners = joinerIds(joinerCount);
  const all = [...statics, ...joiners];
  const faults = randomFaultSchedule(prng.fork(), {
    nodes: all,
    fromMs: 1000,
    toMs: 10_000,
    healByMs: 15_000,
    maxPartitions: 2,
    crashCount: prng.int(0, 1),
    allowRestarts: prng.chance(0.5),
    maxPauses: 2,
    pauseLengthMs: { minMs: 1000, maxMs: 3000 },
  });
  const troubled = new Set<NodeId>();
  const crashedForGood = new Set<NodeId>();
  for (const f of faults) {
    if (f.kind === 'crash') {
      troubled.add(f.node);
      if (f.restartAtMs === undefined) crashedForGood.add(f.node);
    } else if (f.kind === 'pause') troubled.add(f.node);
  }
  const seeds = statics.filter((s) => !crashedForGood.has(s));
  const skew = new Map(statics.map((s) => [s, prng.chance(0.3) ? prng.int(0, 2000) : 0]));
  const leaveCandidates = statics.filter((s) => !troubled.has(s) && skew.get(s) === 0);
  const leaves = leaveCandidates.length > 2 && prng.chance(0.4) ? [{ node: prng.pick(leaveCandidates), atMs: prng.int(16_000, 20_000) }] : [];
  const network = randomNetwork(prng.fork(), { nodes: all, maxLossRate: 0.1, maxDuplicateRate: 0.1, maxLatencyMs: 100 });
  return {
    seed,
    staticCount,
    options: {},
    network,
    faults,
    startAtMs: (n) => skew.get(n) ?? 0,
    joiners: joiners.map(() => ({ atMs: prng.int(0, 8000), seed: prng.pick(seeds.length > 0 ? seeds : statics) })),
    leaves,
    untilMs: Math.max(20_000, lastFaultEndMs(faults)) + SETTLE_MS,
  };
}

function describeRun(s: MembershipScenario): string {
  return `statics=${s.staticCount} joiners=${JSON.stringify(s.joiners)} leaves=${JSON.stringify(s.leaves)} faults=${JSON.stringify(s.faults)}`;
}

describe('SWIM membership under the simulator', () => {
  it(`random faults (${SEEDS} seeds): every live node sees the live alive, the crashed dead, the leavers left`, () => {
    for (const seed of testSeeds(SEEDS)) {
      withSeed(seed, 'membership sweep', () => {
        const scenario = drawScenario(seed);
        const v = runMembershipScenario(scenario);
        assert.deepEqual(v.problems, [], describeRun(scenario));
        assert.ok(v.live.length > 0);
      });
    }
  });

  it('Lifeguard declares no live node dead at 10% loss with reordering and duplication (16 nodes, 60 s)', () => {
    for (const seed of testSeeds(8, 1000)) {
      withSeed(seed, 'membership false positives', () => {
        const v = runMembershipScenario({ seed, staticCount: 16, options: {}, network: lossy(0.1, { duplicateRate: 0.05 }), untilMs: 60_000 });
        assert.deepEqual(v.problems, []);
        assert.deepEqual(v.falsePositives, [], 'a live node was declared dead');
      });
    }
  });

  it('a graceful leave is seen as left, never dead, through 10% loss', () => {
    for (const seed of testSeeds(10, 2000)) {
      withSeed(seed, 'membership leave', () => {
        const v = runMembershipScenario({
          seed,
          staticCount: 6,
          options: {},
          network: lossy(0.1),
          leaves: [{ node: nodeId('n2'), atMs: 5000 }, { node: nodeId('n5'), atMs: 9000 }],
          untilMs: 30_000,
        });
        assert.deepEqual(v.problems, []);
        const seenLeft = new Set(v.changes.filter((c) => c.state === 'left' && c.observer !== c.node).map((c) => `${c.observer}/${c.node}`));
        for (const o of v.live) for (const l of ['n2', 'n5']) assert.ok(seenLeft.has(`${o}/${l}`), `${o} never saw ${l} leave`);
      });
    }
  });

  it('a restarted node is a new incarnation: declared dead meanwhile, it rejoins and refutes', () => {
    for (const seed of testSeeds(10, 3000)) {
      withSeed(seed, 'membership restart', () => {
        const v = runMembershipScenario({
          seed,
          staticCount: 5,
          options: {},
          network: lossy(0.05),
          faults: [{ kind: 'crash', atMs: 3000, node: nodeId('n3'), restartAtMs: 20_000 }],
          untilMs: 40_000,
        });
        assert.deepEqual(v.problems, []);
        assert.ok(v.changes.some((c) => c.node === nodeId('n3') && c.state === 'dead' && c.atMs < 20_000), 'n3 was declared dead while down');
        const back = v.changes.filter((c) => c.node === nodeId('n3') && c.observer !== c.node && c.state === 'alive' && c.atMs > 20_000);
        assert.ok(back.length >= 4 && back.every((c) => c.incarnation >= 1), 'every live node saw n3 back at a new incarnation');
      });
    }
  });

  it('late joiners with nodes = [self] join through one seed; the others learn of them', () => {
    for (const seed of testSeeds(10, 4000)) {
      withSeed(seed, 'membership late joiners', () => {
        const v = runMembershipScenario({
          seed,
          staticCount: 4,
          options: {},
          network: lossy(0.1),
          joiners: [{ atMs: 2000, seed: nodeId('n1') }, { atMs: 6000, seed: nodeId('n4') }, { atMs: 6500, seed: nodeId('n2') }],
          // Past one PushPullInterval: a broadcast that missed a node (each is sent only RetransmitMult·log n times) arrives by a full sync.
          untilMs: 45_000,
        });
        assert.deepEqual(v.problems, []);
        assert.equal(v.live.length, 7);
      });
    }
  });

  it('is deterministic: the same seed gives the same history', () => {
    const a = runMembershipScenario(drawScenario(42));
    const b = runMembershipScenario(drawScenario(42));
    assert.deepEqual(a.changes, b.changes);
    assert.deepEqual(a.stats, b.stats);
  });
});

describe('mutants the membership tests must catch', () => {
  /** A node paused for 8 s is declared dead meanwhile; it must refute when it resumes. */
  const pausedTooLong = (seed: number): MembershipScenario => {
    const faults: Fault[] = [{ kind: 'pause', atMs: 3000, node: nodeId('n2'), resumeAtMs: 11_000 }];
    return { seed, staticCount: 5, options: {}, network: perfectNetwork(2), faults, untilMs: 40_000 };
  };

  it('the unmutated protocol passes the scenarios the mutants fail', () => {
    for (const seed of testSeeds(3, 5000)) {
      assert.deepEqual(runMembershipScenario(pausedTooLong(seed)).problems, []);
      const crash = runMembershipScenario({ seed, staticCount: 5, options: {}, network: perfectNetwork(2), faults: [{ kind: 'crash', atMs: 3000, node: nodeId('n4') }], untilMs: 40_000 });
      assert.deepEqual(crash.problems, []);
    }
  });

  it('no refutation: a node that ignores accusations of itself stays dead after it resumes', () => {
    // The mutant strips every suspect or dead about the receiver before the protocol sees it.
    const mutant: typeof swimProtocol = {
      ...swimProtocol,
      step: (state, input, now) => {
        if (input.kind === 'receive') {
          const self = state.self;
          const msg = input.msg;
          const strip = msg.t === 'push-pull'
            ? { ...msg, states: msg.states.filter((s) => s.node !== self || s.state === 'alive') }
            : { ...msg, g: msg.g.filter((u) => u.node !== self || u.k === 'alive') };
          return swimProtocol.step(state, { ...input, msg: strip }, now);
        }
        return swimProtocol.step(state, input, now);
      },
    };
    const caught = testSeeds(3, 5000).filter((seed) => runMembershipScenario({ ...pausedTooLong(seed), protocol: mutant }).problems.length > 0);
    assert.ok(caught.length > 0, 'the no-refutation mutant passed every seed');
  });

  it('suspicions that never time out: a crashed node stays suspect forever', () => {
    const mutant: typeof swimProtocol = {
      ...swimProtocol,
      step: (state, input, now) => swimProtocol.step(state, input, now).filter((e) => !(e.kind === 'timer' && e.name === 'suspicion')),
    };
    const caught = testSeeds(3, 5000).filter(
      (seed) =>
        runMembershipScenario({ seed, staticCount: 5, options: {}, network: perfectNetwork(2), faults: [{ kind: 'crash', atMs: 3000, node: nodeId('n4') }], untilMs: 40_000, protocol: mutant })
          .problems.length > 0,
    );
    assert.ok(caught.length > 0, 'the never-timing-out mutant passed every seed');
  });
});
