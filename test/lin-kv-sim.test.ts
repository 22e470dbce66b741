/**
 * The harness's lin-kv side under the simulator (src/harness/simulated.ts): Maelstrom's lin-kv clients against the
 * fixture nodes (test/fixtures/lin-kv-nodes.ts), with drawn loss, duplication, reordering, partitions, pauses and
 * follower crashes, each history judged by the linearizability checker. The correct single-leader node must pass
 * every seed; the node that serves follower reads must fail within a few of the same seeds, named by the checker.
 *
 * The fixture's leader keeps its map in memory only, so a crash of the leader loses acknowledged writes (a true
 * violation): the drawn crashes of the leader are left out, those of followers kept.
 *
 * Replay one seed with `CHATTERBOX_SEED=N node --test dist/test/lin-kv-sim.test.js`.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { drawMaelstromScenario, runMaelstromScenario, type MaelstromScenario, type MaelstromVerdict } from '../src/harness/simulated.js';
import { testSeeds, withSeed } from '../src/sim/simulation.js';
import { raftProtocol } from '../src/consensus/raft.js';
import { LIN_KV_MACHINE, LIN_KV_REQUESTS, LIN_KV_WORKLOAD } from '../src/maelstrom/lin-kv.js';
import type { Workload } from '../src/maelstrom/service.js';
import { linKvFixture, type Mode } from './fixtures/lin-kv-nodes.js';

/** Seeds for the correct node; LIN_KV_SIM_SEEDS sets a longer sweep. */
const SEEDS = Number(process.env.LIN_KV_SIM_SEEDS ?? 150);
/** The broken node must fail within this many seeds. */
const FEW_SEEDS = 5;

function scenario(seed: number, mode: Mode): MaelstromScenario {
  const s = drawMaelstromScenario(seed, 'lin-kv', { hosted: linKvFixture(mode) });
  const leader = s.nodes[0];
  return { ...s, faults: s.faults.filter((f) => !(f.kind === 'crash' && f.node === leader)) };
}

function describeVerdict(v: MaelstromVerdict): string {
  return `seed ${v.scenario.seed}: ${v.scenario.nodes.length} nodes, ${v.ops.total} ops, faults ${JSON.stringify(v.scenario.faults)}\n${v.problems.join('\n')}`;
}

describe('lin-kv under the simulator, judged by the linearizability checker', () => {
  it('the correct single-leader node is linearizable through loss, duplication, partitions, pauses and follower crashes', () => {
    const seen = { partitions: 0, pauses: 0, crashes: 0, indefinite: 0, failed: 0, keys: 0, multiNode: 0 };
    const noCas = { noCasSucceeded: 0 };
    for (const seed of testSeeds(SEEDS)) {
      withSeed(seed, 'lin-kv-sim correct', () => {
        const v = runMaelstromScenario(scenario(seed, 'correct'));
        // Jepsen's stats checker leaves a run in which some kind of operation never succeeded undecided; in a short
        // run every cas may meet another value than it expects (values are 0..4). That is the only reason allowed.
        assert.deepEqual(v.problems, [], describeVerdict(v));
        const others = v.undecided.filter((p) => !/^none of the \d+ cas operations succeeded$/.test(p));
        assert.deepEqual(others, [], describeVerdict(v));
        if (v.unknown) noCas.noCasSucceeded++;
        assert.ok(v.check?.kind === 'lin-kv' && v.check.valid === true, describeVerdict(v));
        assert.ok(v.ops.ok > 0, 'some operations succeeded');
        assert.ok(v.history.every((op) => !op.final && Array.isArray(op.value)), 'no final reads: every operation names its key');
        seen.partitions += v.scenario.faults.filter((f) => f.kind === 'partition').length;
        seen.pauses += v.scenario.faults.filter((f) => f.kind === 'pause').length;
        seen.crashes += v.scenario.faults.filter((f) => f.kind === 'crash').length;
        seen.indefinite += v.ops.indefinite;
        seen.failed += v.ops.failed;
        seen.keys += v.check.keys.length > 1 ? 1 : 0;
        seen.multiNode += v.scenario.nodes.length > 1 ? 1 : 0;
      });
    }
    if (process.env.CHATTERBOX_SEED === undefined) {
      // The sweep exercised what the checker must handle: faults, indefinite and failed operations, key rotation.
      for (const [what, count] of Object.entries(seen)) assert.ok(count > 0, `no ${what} in ${SEEDS} seeds`);
      assert.ok(noCas.noCasSucceeded <= SEEDS / 10, `${noCas.noCasSucceeded} runs where no cas succeeded`);
    }
  });

  it('the node that serves follower reads from a lazily updated copy fails within a few seeds, naming a stale read', () => {
    let caught: MaelstromVerdict | undefined;
    for (let seed = 1; seed <= FEW_SEEDS && caught === undefined; seed++) {
      const v = runMaelstromScenario(scenario(seed, 'follower-reads'));
      if (!v.valid) caught = v;
    }
    assert.ok(caught !== undefined, `the follower-read node passed ${FEW_SEEDS} seeds`);
    assert.ok(caught.check?.kind === 'lin-kv' && caught.check.valid === false, describeVerdict(caught));
    assert.ok(caught.problems.some((p) => /^key \d+ is not linearizable: .* read → .* cannot take effect/.test(p)), describeVerdict(caught));
    // The same seed with the correct node passes: the bug is the difference.
    const correct = runMaelstromScenario(scenario(caught.scenario.seed, 'correct'));
    assert.equal(correct.valid, true, describeVerdict(correct));
    // The seed replays the failure.
    assert.deepEqual(runMaelstromScenario(scenario(caught.scenario.seed, 'follower-reads')).problems, caught.problems);
  });
});

/**
 * The shipped Raft lin-kv with one line changed: a read is answered from the replica's applied state ('local', as
 * kafka's polls are) instead of by read index. A follower, or a deposed leader that has not heard of its successor,
 * then answers from a state behind the committed log: a stale read.
 */
const FOLLOWER_READ_RAFT: Workload = {
  ...LIN_KV_WORKLOAD,
  protocol: raftProtocol(
    LIN_KV_MACHINE,
    { ...LIN_KV_REQUESTS, classify: (req) => (req.body.type === 'read' && Number.isSafeInteger(req.body['key']) ? { kind: 'local' } : LIN_KV_REQUESTS.classify(req)) },
    'lin-kv (follower reads)',
  ),
};

describe('the shipped Raft lin-kv, judged by the linearizability checker under the simulator', () => {
  it('with reads served from the local replica instead of by read index, fails within a few seeds, naming a stale read', () => {
    let caught: MaelstromVerdict | undefined;
    for (let seed = 1; seed <= FEW_SEEDS && caught === undefined; seed++) {
      const v = runMaelstromScenario(drawMaelstromScenario(seed, 'lin-kv', { hosted: FOLLOWER_READ_RAFT }));
      if (!v.valid) caught = v;
    }
    assert.ok(caught !== undefined, `the follower-read Raft passed ${FEW_SEEDS} seeds`);
    assert.ok(caught.check?.kind === 'lin-kv' && caught.check.valid === false, describeVerdict(caught));
    assert.ok(caught.problems.some((p) => /^key \d+ is not linearizable: .* read → .* cannot take effect/.test(p)), describeVerdict(caught));
    // The same seed with the shipped node passes: the one line is the difference.
    const shipped = runMaelstromScenario(drawMaelstromScenario(caught.scenario.seed, 'lin-kv'));
    assert.equal(shipped.problems.length, 0, describeVerdict(shipped));
    // The seed replays the failure.
    assert.deepEqual(runMaelstromScenario(drawMaelstromScenario(caught.scenario.seed, 'lin-kv', { hosted: FOLLOWER_READ_RAFT })).problems, caught.problems);
  });
});
