/**
 * The Maelstrom workloads as `chatterbox maelstrom` ships them, under the simulator (src/harness/simulated.ts):
 * seeded sweeps per workload and preset, each run's history judged by the harness's own checkers after the faults
 * are over, a recovery wait and a final read on every node. Then deliberate bugs, built through the same factory
 * as the shipped workloads, must make a sweep fail within a few seeds, in-process, naming the seed.
 *
 * Replay one seed with `CHATTERBOX_SEED=N node --test dist/test/maelstrom-sim.test.js`, or
 * `chatterbox sim --workload <name> --seed N`.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GOSSIP_PRESETS } from '../src/broadcast/gossip.js';
import type { Workload } from '../src/maelstrom/service.js';
import { GSET_SERVICE, WORKLOADS, hostedWorkload } from '../src/maelstrom/workloads.js';
import { TXN_SERVICE, claimsTxn } from '../src/maelstrom/txn.js';
import type { SyncOptions } from '../src/replication/delta-sync.js';
import {
  SIM_WORKLOADS,
  drawMaelstromScenario,
  runMaelstromScenario,
  shippedWorkload,
  sweepMaelstrom,
  type MaelstromVerdict,
} from '../src/harness/simulated.js';
import { testSeeds, withSeed } from '../src/sim/simulation.js';

/** Seeds per workload and preset; MAELSTROM_SIM_SEEDS sets a longer sweep. */
const SEEDS_PER_CASE = Number(process.env.MAELSTROM_SIM_SEEDS ?? 50);
/** A deliberate bug must show within this many seeds. */
const FEW_SEEDS = 5;

function replay(v: MaelstromVerdict): string {
  return `chatterbox sim --workload ${v.scenario.workload} --seed ${v.scenario.seed} --preset ${v.scenario.preset}`;
}

describe('the shipped Maelstrom workloads under the simulator', () => {
  const seen = { crashes: 0, partitions: 0, pauses: 0, lost: 0, indefinite: 0 };
  // The delta-sync workloads, which the gossip presets tune (lin-kv and kafka have their own tests).
  for (const workload of SIM_WORKLOADS.filter((w) => w !== 'lin-kv' && w !== 'kafka')) {
    for (const preset of GOSSIP_PRESETS) {
      it(`${workload}, preset ${preset}: valid by the harness's checker through loss, duplication, reordering, partitions, pauses and crashes`, () => {
        for (const seed of testSeeds(SEEDS_PER_CASE)) {
          withSeed(seed, `maelstrom-sim ${workload}/${preset}`, () => {
            const v = runMaelstromScenario(drawMaelstromScenario(seed, workload, { preset }));
            assert.deepEqual(v.problems, [], `replay: ${replay(v)}`);
            assert.ok(v.ops.total > 0, 'no operations');
            assert.ok(v.check !== null);
            seen.crashes += v.scenario.faults.filter((f) => f.kind === 'crash').length;
            seen.partitions += v.scenario.faults.filter((f) => f.kind === 'partition').length;
            seen.pauses += v.scenario.faults.filter((f) => f.kind === 'pause').length;
            seen.lost += v.stats?.lost ?? 0;
            seen.indefinite += v.ops.indefinite;
          }, `chatterbox sim --workload ${workload} --seed ${seed} --preset ${preset}`);
        }
      });
    }
  }

  it('the sweeps above drew every kind of fault, and some operations ended indefinite', { skip: process.env.CHATTERBOX_SEED !== undefined }, () => {
    for (const [kind, count] of Object.entries(seen)) assert.ok(count > 0, `no ${kind} in ${SEEDS_PER_CASE} seeds per case`);
  });

  it('a run is a function of its seed', () => {
    const run = (): unknown => {
      const v = runMaelstromScenario(drawMaelstromScenario(7, 'g-set', { probeMs: 50 }));
      return { problems: v.problems, check: v.check, ops: v.ops, stats: v.stats };
    };
    assert.deepEqual(run(), run());
  });

  it('an answer from a node that later crashes and loses its disk is indefinite; the restarted node catches up', () => {
    const base = drawMaelstromScenario(3, 'g-set', { nodeCount: 3, preset: 'latency' });
    const n1 = base.nodes[0]!;
    const v = runMaelstromScenario({ ...base, faults: [{ kind: 'crash', atMs: 1500, node: n1, restartAtMs: 1600, loseDurableState: true }] });
    assert.deepEqual(v.problems, [], `replay: ${replay(v)}`);
    const forgotten = v.history.filter((op) => op.node === n1 && op.error?.kind === 'code' && op.error.code === 13);
    assert.ok(forgotten.length > 0, 'some answers of n1 before its crash are indefinite');
    assert.ok(forgotten.every((op) => (op.completeMs ?? Infinity) <= 1500));
    assert.ok(v.history.some((op) => op.node === n1 && op.type === 'ok' && op.invokeMs > 1600), 'the restarted n1 answers');
    const check = v.check;
    assert.ok(check?.kind === 'set' && check.missingFinalReads.length === 0);
  });

  it('every workload the simulated backend offers runs what chatterbox maelstrom ships', () => {
    for (const workload of SIM_WORKLOADS) assert.ok(WORKLOADS.includes(shippedWorkload(workload)), workload);
  });

  it('an answer from a durable node whose disk survives its crash stays definite, as under the process backend with data dirs', () => {
    for (const workload of ['g-set', 'lin-kv', 'kafka', 'txn-rw-register'] as const) {
      assert.equal(shippedWorkload(workload).durable, true, workload);
      const base = drawMaelstromScenario(3, workload, { nodeCount: 3, preset: 'latency' });
      const n1 = base.nodes[0]!;
      const v = runMaelstromScenario({ ...base, faults: [{ kind: 'crash', atMs: 2500, node: n1, restartAtMs: 2600 }] });
      assert.deepEqual(v.problems, [], `replay: ${replay(v)}`);
      assert.ok(v.history.some((op) => op.node === n1 && op.type === 'ok' && (op.completeMs ?? Infinity) < 2500), `${workload}: n1 answered before its crash`);
      const forgotten = v.history.filter((op) => op.error?.kind === 'code' && op.error.code === 13 && /crashed later/.test(op.error.text ?? ''));
      assert.deepEqual(forgotten, [], `${workload}: nothing is forgotten while the disk survives`);
    }
    // A workload that keeps nothing on disk (here txn-rw-register made not durable): a crash still makes answers indefinite.
    const volatileTxn = hostedWorkload({ ...TXN_SERVICE, durable: false }, claimsTxn);
    assert.notEqual(volatileTxn.durable, true);
    const txn = drawMaelstromScenario(3, 'txn-rw-register', { nodeCount: 3, preset: 'latency', hosted: volatileTxn });
    const v = runMaelstromScenario({ ...txn, faults: [{ kind: 'crash', atMs: 1500, node: txn.nodes[0]!, restartAtMs: 1600 }] });
    assert.deepEqual(v.problems, [], `replay: ${replay(v)}`);
    assert.ok(v.history.some((op) => op.error?.kind === 'code' && op.error.code === 13 && /crashed later/.test(op.error.text ?? '')), 'its answers before the crash are indefinite');
  });

  it('g-set adds that make no delta (the add is acknowledged but never applied) fail fast, in-process, naming a seed', () => {
    // The shipped g-set with one mutation: `add` answers add_ok and returns no delta.
    const mutant = hostedWorkload(
      {
        ...GSET_SERVICE,
        request: (ctx, req) => (req.body.type === 'add' ? { outputs: [{ token: req.token, body: { type: 'add_ok' } }] } : GSET_SERVICE.request(ctx, req)),
      },
      shippedWorkload('g-set').claims,
    );
    expectCaught('g-set', mutant, /lost \d+ acknowledged or observed values/);
  });

  it('a broadcast node that never retransmits (and runs no anti-entropy) fails fast, naming a seed', () => {
    const shipped = shippedWorkload('broadcast');
    const mutant: Workload = {
      ...shipped,
      options: (flags) => ({ ...(shipped.options(flags) as SyncOptions), retransmitMs: 1e12, maxRetransmitMs: 1e12, antiEntropyMs: null }),
    };
    expectCaught('broadcast', mutant, /lost \d+ acknowledged or observed values/);
  });
});

function expectCaught(workload: 'g-set' | 'broadcast', mutant: Workload, problem: RegExp): void {
  const sweep = sweepMaelstrom(workload, 1, FEW_SEEDS, { hosted: mutant }, { stopAtFirstFailure: true });
  const failure = sweep.failures[0];
  assert.ok(failure !== undefined, `the mutant passed ${FEW_SEEDS} seeds`);
  assert.ok(failure.seed >= 1 && failure.seed <= FEW_SEEDS);
  assert.ok(failure.problems.some((p) => problem.test(p)), failure.problems.join('\n'));
  // The seed replays the failure.
  const again = runMaelstromScenario(drawMaelstromScenario(failure.seed, workload, { hosted: mutant }));
  assert.deepEqual(again.problems, failure.problems);
}
