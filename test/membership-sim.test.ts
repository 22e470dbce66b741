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
import { decodeMessage, encodeMessage } from '../src/transport/codec.js';
import { randomFaultSchedule, type Fault } from '../src/sim/faults.js';
import { perfectNetwork, randomNetwork, type NetworkModel } from '../src/sim/network.js';
import { withAddressBook } from '../src/sim/address-book.js';
import { swimOptions } from '../src/membership/types.js';
import { joinerIds, lastFaultEndMs, runMembershipScenario, staticNodeIds, type MembershipScenario } from '../src/sim/scenarios/membership.js';
import { testSeeds, withSeed } from '../src/sim/simulation.js';

const SEEDS = Number(process.env['MEMBERSHIP_SEEDS'] ?? 60);
/** Fixed seeds for the checks that a weakened protocol fails (not replaced by CHATTERBOX_SEED, which replays one run). */
const MUTANT_SEEDS = [5000, 5001, 5002, 5003, 5004];
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
    // Every message through the wire codec: the guard must accept what msgpack gives back.
    codec: { encode: encodeMessage, decode: decodeMessage },
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

  it('two sides of a 20 s partition declare each other dead, then reunite after it heals (reconnects and full syncs)', () => {
    const halves = (reconnectIntervalMs: number, seed: number, protocol = swimProtocol) =>
      runMembershipScenario({
        seed,
        protocol,
        staticCount: 6,
        options: { reconnectIntervalMs },
        network: lossy(0.05),
        faults: [{ kind: 'partition', atMs: 2000, healAtMs: 22_000, groups: [staticNodeIds(3), staticNodeIds(6).slice(3)] }],
        untilMs: 60_000,
      });
    for (const seed of testSeeds(5, 6000)) {
      withSeed(seed, 'membership partition', () => {
        const v = halves(5000, seed);
        assert.ok(v.changes.some((c) => c.state === 'dead' && c.atMs < 22_000), 'the halves declared each other dead');
        assert.deepEqual(v.problems, []);
      });
    }
    // Without full syncs (push/pulls: reconnects, periodic ones, answers to unknown probers) some of these runs
    // stay split: the check can fail.
    const noSync: typeof swimProtocol = {
      ...swimProtocol,
      step: (state, input, now) => swimProtocol.step(state, input, now).filter((e) => !(e.kind === 'send' && e.msg.t === 'push-pull')),
    };
    assert.ok(MUTANT_SEEDS.some((seed) => halves(5000, seed + 1000, noSync).problems.length > 0), 'without push/pulls every run still reunited');
  });

  // Reviewer findings 1 and 3: the simulator now sends only to members a node holds an address for (as the driver
  // keeps a peer until `forgotten`), and the partitions below outlast both the suspicion timeout and
  // GossipToTheDeadTime (30 s), after which the table has forgotten the other side: only the reconnect list,
  // the static peers and the join seeds can bring the halves together again.
  const longSplit = (seed: number, groups: readonly (readonly NodeId[])[], staticCount: number, joiners: MembershipScenario['joiners'], healAtMs: number) =>
    runMembershipScenario({
      seed,
      staticCount,
      options: {},
      network: lossy(0.02),
      ...(joiners === undefined ? {} : { joiners }),
      faults: [{ kind: 'partition', atMs: 2000, healAtMs, groups }],
      untilMs: healAtMs + SETTLE_MS,
    });

  it('--join nodes (knowing only a seed) split for 70 s, past the suspicion timeout and GossipToTheDeadTime, reunite once healed', () => {
    const [n1] = staticNodeIds(1);
    const [j1, j2] = joinerIds(2);
    for (const seed of testSeeds(4, 7000)) {
      withSeed(seed, 'membership long split, --join', () => {
        for (const groups of [[[n1!], [j1!, j2!]], [[n1!, j1!], [j2!]]]) {
          const v = longSplit(seed, groups, 1, [{ atMs: 0, seed: n1! }, { atMs: 500, seed: n1! }], 70_000);
          assert.ok(v.changes.some((c) => c.state === 'dead' && c.atMs < 70_000), 'the sides declared each other dead');
          assert.deepEqual(v.problems, [], `split ${groups.map((g) => g.join('+')).join(' | ')}`);
        }
      });
    }
  });

  it('a peers-file cluster split from 2 s to 80 s reunites (the reviewer\'s seed 7 first)', () => {
    for (const seed of [7, ...testSeeds(3, 7100)]) {
      withSeed(seed, 'membership long split, peers file', () => {
        const v = longSplit(seed, [staticNodeIds(2), staticNodeIds(5).slice(2)], 5, undefined, 80_000);
        assert.ok(v.changes.some((c) => c.state === 'dead' && c.atMs < 80_000), 'the sides declared each other dead');
        assert.deepEqual(v.problems, []);
      });
    }
  });

  it('a seed that restarts after its joiners forgot it (a new cluster of one) merges with them again', () => {
    const [n1] = staticNodeIds(1);
    for (const seed of testSeeds(4, 7200)) {
      withSeed(seed, 'membership seed restart', () => {
        const v = runMembershipScenario({
          seed,
          staticCount: 1,
          options: {},
          network: lossy(0.02),
          joiners: [{ atMs: 0, seed: n1! }, { atMs: 500, seed: n1! }],
          faults: [{ kind: 'crash', atMs: 3000, node: n1!, restartAtMs: 70_000 }],
          untilMs: 70_000 + SETTLE_MS,
        });
        assert.deepEqual(v.problems, []);
      });
    }
  });

  it('joiners whose seed crashed for good, split for 70 s, reunite through the reconnect list alone (and not without it)', () => {
    const [n1] = staticNodeIds(1);
    const [j1, j2] = joinerIds(2);
    const run = (seed: number, reconnectTimeoutMs?: number) =>
      runMembershipScenario({
        seed,
        staticCount: 1,
        options: reconnectTimeoutMs === undefined ? {} : { reconnectTimeoutMs },
        network: lossy(0.02),
        joiners: [{ atMs: 0, seed: n1! }, { atMs: 500, seed: n1! }],
        faults: [
          { kind: 'crash', atMs: 3000, node: n1! },
          { kind: 'partition', atMs: 5000, healAtMs: 70_000, groups: [[n1!, j1!], [j2!]] },
        ],
        untilMs: 70_000 + SETTLE_MS,
      });
    for (const seed of testSeeds(4, 7300)) {
      withSeed(seed, 'membership long split, reconnect list', () => {
        assert.deepEqual(run(seed).problems, []);
      });
    }
    // A reconnect list that forgets at once (the table's reaping only: the bug) leaves the two apart.
    assert.ok(MUTANT_SEEDS.every((seed) => run(seed, 0).problems.length > 0), 'without the reconnect list a run still reunited');
  });

  it('the address book drops sends to a member never heard of or forgotten, and keeps a dead one reachable', () => {
    const { protocol, book } = withAddressBook(swimProtocol, { memberEvent: (e) => e, seedsOf: (r) => (r.op === 'join' ? r.seeds : []) });
    const [a, b] = [nodeId('a'), nodeId('b')];
    const opts = swimOptions('a:1', { seed: 1, gossipToTheDeadTimeMs: 1000, reconnectTimeoutMs: 2000 });
    const { state } = protocol.init({ self: a, nodes: [a], options: opts, now: 0, startedAtMs: 0, restored: new Map() });
    protocol.step(state, { kind: 'receive', from: nodeId('c'), msg: { t: 'gossip', g: [{ k: 'alive', node: b, inc: 0, addr: 'b:1' }] } }, 20);
    assert.ok(book.canSend(a, b), 'an alive with an address makes b reachable');
    protocol.step(state, { kind: 'receive', from: nodeId('c'), msg: { t: 'gossip', g: [{ k: 'dead', node: b, inc: 0, from: nodeId('c') }] } }, 30);
    assert.ok(book.canSend(a, b), 'a dead member stays reachable');
    const fx = protocol.step(state, { kind: 'timer', name: 'gossip' }, 2100);
    assert.ok(fx.some((e) => e.kind === 'output' && e.value.kind === 'forgotten' && e.value.id === b), 'b is forgotten after ReconnectTimeout');
    assert.ok(!book.canSend(a, b), 'a forgotten member is unreachable');
    const stranger = nodeId('x');
    assert.ok(!book.canSend(a, stranger), 'a node never heard of is unreachable');
    const before = book.dropped();
    protocol.step(state, { kind: 'receive', from: nodeId('c'), msg: { t: 'ping-req', seq: 9, node: stranger, nack: false, g: [] } }, 2200);
    assert.equal(book.dropped(), before + 1, 'the relayed ping to a node never heard of was dropped');
    assert.ok(book.canSend(a, nodeId('c')), 'a node that reached us can be answered (the transport keeps its inbound slot)');
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
    const caught = MUTANT_SEEDS.filter((seed) => runMembershipScenario({ ...pausedTooLong(seed), protocol: mutant }).problems.length > 0);
    assert.ok(caught.length > 0, 'the no-refutation mutant passed every seed');
  });

  it('suspicions that never time out: a crashed node stays suspect forever', () => {
    const mutant: typeof swimProtocol = {
      ...swimProtocol,
      step: (state, input, now) => swimProtocol.step(state, input, now).filter((e) => !(e.kind === 'timer' && e.name === 'suspicion')),
    };
    const caught = MUTANT_SEEDS.filter(
      (seed) =>
        runMembershipScenario({ seed, staticCount: 5, options: {}, network: perfectNetwork(2), faults: [{ kind: 'crash', atMs: 3000, node: nodeId('n4') }], untilMs: 40_000, protocol: mutant })
          .problems.length > 0,
    );
    assert.ok(caught.length > 0, 'the never-timing-out mutant passed every seed');
  });
});
