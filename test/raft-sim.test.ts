/**
 * Raft under the simulator: lin-kv clusters through loss, duplication, reordering, partitions, pauses and crashes
 * with restarts, figure 3's properties checked after every step (test/raft-fixture.ts), every acknowledged write
 * in the committed sequence, and the cluster serving again once the faults are over. Deliberately broken Rafts
 * must fail within a few seeds. Replay one seed with `CHATTERBOX_SEED=N node --test dist/test/raft-sim.test.js`.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RaftState } from '../src/consensus/types.js';
import type { LinKvCommand, LinKvState } from '../src/maelstrom/lin-kv.js';
import { LIN_KV_PROTOCOL } from '../src/maelstrom/lin-kv.js';
import type { ClientRequest } from '../src/maelstrom/service.js';
import { testSeeds, withSeed } from '../src/sim/simulation.js';
import { runLinKv, type LinKvProtocol, type LinKvRunConfig } from './raft-fixture.js';

/** Seeds per cluster size; RAFT_SIM_SEEDS sets a longer sweep. */
const SEEDS = Number(process.env.RAFT_SIM_SEEDS ?? 100);
/** A deliberate bug must show within this many seeds. */
const FEW_SEEDS = 10;

const sweep = (nodeCount: number, seed: number): LinKvRunConfig => ({ seed, nodeCount, rate: 100, activeMs: 4_000, settleMs: 1_500, faults: true, keys: 3 });

/** Runs `config` and names what failed (a property the checker threw on, or a problem found at the end). */
function failure(config: LinKvRunConfig): string | undefined {
  try {
    const run = runLinKv(config);
    if (run.problems.length > 0) return run.problems.join('; ');
    if (run.probesOk < config.nodeCount) return `only ${run.probesOk} of ${config.nodeCount} probes succeeded after the faults`;
    return undefined;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

describe('raft lin-kv under the simulator', () => {
  it('without faults every request is answered, definitely, and the only refusals come before the first election', () => {
    const run = runLinKv({ seed: 1, nodeCount: 3, rate: 50, activeMs: 3_000, settleMs: 1_000, faults: false, keys: 3 });
    assert.deepEqual(run.problems, []);
    assert.equal(run.probesOk, 3);
    const elected = Math.min(...run.history.filter((op) => op.type === 'ok').map((op) => op.completeMs!));
    for (const op of run.history) {
      assert.notEqual(op.completeMs, null, `${JSON.stringify(op.body)} at ${op.invokeMs}ms was never answered`);
      assert.notEqual(op.type, 'info', `indefinite without faults: ${JSON.stringify(op.reply)}`);
      const code = op.reply?.['code'];
      if (code === 11) assert.ok(op.invokeMs < elected, `refused at ${op.invokeMs}ms, after the first answer (${elected}ms)`);
      else if (op.type === 'fail') assert.ok(code === 20 || code === 22, `unexpected error ${JSON.stringify(op.reply)}`);
    }
    assert.ok(run.history.filter((op) => op.type === 'ok').length > run.history.length / 2);
  });

  for (const nodeCount of [3, 5]) {
    it(`${nodeCount} nodes: election safety, log matching, leader completeness, state machine safety and no lost acknowledged write, through every fault (${SEEDS} seeds)`, () => {
      const seen = { crashes: 0, partitions: 0, pauses: 0, ok: 0, indefinite: 0, elections: 0 };
      for (const seed of testSeeds(SEEDS)) {
        withSeed(seed, `raft-sim ${nodeCount} nodes`, () => {
          const run = runLinKv(sweep(nodeCount, seed));
          assert.deepEqual(run.problems, []);
          assert.equal(run.probesOk, nodeCount, 'every node serves a write once the faults are over');
          for (const f of run.faults) seen[f.kind === 'crash' ? 'crashes' : f.kind === 'pause' ? 'pauses' : 'partitions']++;
          seen.ok += run.history.filter((op) => op.type === 'ok').length;
          seen.indefinite += run.history.filter((op) => op.type === 'info').length;
          seen.elections += new Set(run.checker.committedEntries.map((c) => c.entry.term)).size;
        });
      }
      if (process.env.CHATTERBOX_SEED === undefined) for (const [kind, count] of Object.entries(seen)) assert.ok(count > 0, `no ${kind} in ${SEEDS} seeds`);
    });
  }

  it('a run is a function of its seed', () => {
    const fingerprint = (): number => runLinKv(sweep(5, 7)).report.fingerprint;
    assert.equal(fingerprint(), fingerprint());
  });
});

type LinKvRaftState = RaftState<LinKvState, LinKvCommand, ClientRequest>;

/** A Raft whose nodes write nothing to disk: a restart forgets votes and acknowledged entries. */
const AMNESIAC: LinKvProtocol = {
  ...LIN_KV_PROTOCOL,
  name: 'raft (forgets its disk)',
  init: (ctx) => {
    const { state, effects } = LIN_KV_PROTOCOL.init({ ...ctx, restored: new Map() });
    return { state, effects: effects.filter((e) => e.kind !== 'persist') };
  },
  step: (state, input, now) => LIN_KV_PROTOCOL.step(state, input, now).filter((e) => e.kind !== 'persist'),
};

/** A Raft that counts itself a majority: it commits on its own and wins elections with its own vote. */
const MINORITY_COMMIT: LinKvProtocol = {
  ...LIN_KV_PROTOCOL,
  name: 'raft (commits on a minority)',
  init: (ctx) => {
    const started = LIN_KV_PROTOCOL.init(ctx);
    (started.state as { quorum: number } & LinKvRaftState).quorum = 1;
    return started;
  },
};

describe('deliberately broken Rafts fail the sweep within a few seeds', () => {
  for (const [protocol, crashCount] of [[AMNESIAC, 3], [MINORITY_COMMIT, 2]] as const) {
    it(protocol.name, () => {
      const failures: string[] = [];
      for (const seed of testSeeds(FEW_SEEDS)) {
        const why = failure({ ...sweep(3, seed), protocol, crashCount });
        if (why !== undefined) failures.push(`seed ${seed}: ${why}`);
      }
      assert.ok(failures.length > 0, `${protocol.name} passed ${FEW_SEEDS} seeds`);
      if (process.env.RAFT_SHOW_FAILURES) console.log(failures.map((f) => f.slice(0, 220)).join("\n"));
      assert.match(failures[0]!, /seed=\d+/, 'the failure names its seed');
    });
  }
});
