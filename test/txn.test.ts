/**
 * txn-rw-register end to end, in-process: the Elle-style checker on fixture histories (test/fixtures/histories/txn/,
 * each with the verdict and anomalies expected under each consistency model), the node's transactions and its
 * answers to malformed ones, the generator, seeded simulator sweeps of the shipped node through partitions,
 * crashes with restart, pauses and loss, and deliberately broken nodes that the checker must catch within a few
 * seeds.
 *
 * Replay one seed with `chatterbox sim --workload txn-rw-register --seed N`.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { Prng } from '../src/core/prng.js';
import { nodeId } from '../src/core/ids.js';
import { availabilityProblems } from '../src/harness/checkers.js';
import { interpretReply } from '../src/harness/client.js';
import { drawMaelstromScenario, runMaelstromScenario, sweepMaelstrom, type MaelstromVerdict } from '../src/harness/simulated.js';
import { CONSISTENCY_MODELS, TXN_GEN_DEFAULTS, checkTxn, prohibitedAnomalies, txnGenerator, type ConsistencyModel } from '../src/harness/txn.js';
import type { Op } from '../src/harness/types.js';
import { MaelstromError, type ClientReply, type ClientRequest } from '../src/maelstrom/service.js';
import { MAX_TXN_OPS, TXN_LATTICE, TXN_SERVICE, TxnStore, claimsTxn, txnService, type CommitMode } from '../src/maelstrom/txn.js';
import { hostedWorkload } from '../src/maelstrom/workloads.js';
import type { ServiceContext } from '../src/replication/delta-sync.js';
import { testSeeds, withSeed } from '../src/sim/simulation.js';

const FIXTURES = new URL('../../test/fixtures/histories/txn/', import.meta.url);

interface Fixture {
  readonly description: string;
  readonly history: ReadonlyArray<{ index: number; type: 'ok' | 'fail' | 'info'; value: unknown; result?: unknown; invokeMs: number; completeMs: number }>;
  readonly expect: Readonly<Record<string, { verdict: string; anomalies: string[] }>>;
}

function asOps(f: Fixture): Op[] {
  return f.history.map((h) => ({ ...h, f: 'txn', client: `c${h.index}`, node: 'n1', final: false, probe: false }));
}

describe('txn checker on fixture histories', () => {
  const files = readdirSync(FIXTURES).filter((name) => name.endsWith('.json'));
  it('there are fixtures for every anomaly the models forbid up to read committed, and valid ones', () => {
    const expected = new Set(files.flatMap((name) => Object.values((JSON.parse(readFileSync(new URL(name, FIXTURES), 'utf8')) as Fixture).expect).flatMap((e) => e.anomalies)));
    for (const a of prohibitedAnomalies(['read-committed'])) assert.ok(expected.has(a), `no fixture shows ${a}`);
    assert.ok(files.length >= 10);
  });
  for (const name of files) {
    const fixture = JSON.parse(readFileSync(new URL(name, FIXTURES), 'utf8')) as Fixture;
    it(`${name}: ${fixture.description}`, () => {
      for (const [model, want] of Object.entries(fixture.expect)) {
        assert.ok(CONSISTENCY_MODELS.includes(model as ConsistencyModel), model);
        const r = checkTxn(asOps(fixture), [model as ConsistencyModel]);
        assert.equal(r.verdict, want.verdict, `${model}: ${r.problems.join('\n')}`);
        assert.deepEqual(Object.keys(r.counts).sort(), [...want.anomalies].sort(), `${model}: ${r.problems.join('\n')}`);
        assert.equal(r.valid, want.verdict === 'valid');
        // Every anomaly names the transactions involved.
        for (const list of Object.values(r.anomalies)) for (const a of list ?? []) assert.ok(a.type === 'cyclic-versions' || a.ops.length > 0, a.text);
      }
    });
  }

  it("availability, as Maelstrom's checker: none, total, or the least fraction of operations ok", () => {
    const ops = asOps({ description: '', expect: {}, history: [{ index: 0, type: 'ok', value: [], result: [], invokeMs: 0, completeMs: 1 }, { index: 1, type: 'info', value: [], invokeMs: 0, completeMs: 1 }] });
    assert.deepEqual(availabilityProblems(ops, null), []);
    assert.match(availabilityProblems(ops, 'total').join(''), /1 of 2 operations ok \(50\.00%\), below 100\.00%/);
    assert.deepEqual(availabilityProblems(ops, 0.5), []);
    assert.equal(availabilityProblems(ops, 0.51).length, 1);
  });

  it('a list of models must all hold: the strongest decides', () => {
    const fixture = JSON.parse(readFileSync(new URL('lost-update.json', FIXTURES), 'utf8')) as Fixture;
    assert.equal(checkTxn(asOps(fixture), ['read-committed']).verdict, 'valid');
    assert.equal(checkTxn(asOps(fixture), ['read-committed', 'serializable']).verdict, 'invalid');
  });
});

// ---------------------------------------------------------------------------------------------------------
// The node

function context(store: TxnStore, writer = 'n1', now = 1): ServiceContext<TxnStore> {
  return { self: nodeId('n1'), incarnation: 0, writer, nodes: [nodeId('n1'), nodeId('n2')], value: store, now };
}

function ask(store: TxnStore, body: Record<string, unknown>, mode: CommitMode = 'atomic', writer = 'n1', now = 1): { reply: ClientReply['body']; delta: TxnStore | null } {
  const service = mode === 'atomic' ? TXN_SERVICE : txnService(mode);
  const request: ClientRequest = { token: 1, body: { type: 'txn', ...body } };
  const result = service.request(context(store, writer, now), request);
  const out = result.outputs?.[0];
  assert.ok(out !== undefined);
  return { reply: out.body, delta: result.delta ?? null };
}

describe('txn-rw-register node', () => {
  it('reads see the replica and the transaction\'s own earlier writes; unwritten keys read null', () => {
    const store = new TxnStore();
    const first = ask(store, { txn: [['r', 1, null], ['w', 1, 6], ['r', 1, null], ['w', 2, 9]] });
    assert.deepEqual(first.reply, { type: 'txn_ok', txn: [['r', 1, null], ['w', 1, 6], ['r', 1, 6], ['w', 2, 9]] });
    const second = ask(store, { txn: [['r', 1, null], ['r', 2, null], ['r', 'k', null]] }, 'atomic', 'n1', 2);
    assert.deepEqual(second.reply, { type: 'txn_ok', txn: [['r', 1, 6], ['r', 2, 9], ['r', 'k', null]] });
    assert.equal(second.delta, null, 'a read-only transaction changes nothing');
  });

  it('a transaction\'s final writes go out as one delta under one stamp, above everything the replica holds', () => {
    const store = new TxnStore();
    store.put({ key: 5, value: 1, ts: 9_000_000, writer: 'n2' });
    const { delta } = ask(store, { txn: [['w', 1, 1], ['w', 1, 2], ['w', 3, 4]] }, 'atomic', 'n1', 1);
    assert.ok(delta !== null);
    const registers = [...delta.registers.values()];
    assert.deepEqual(registers.map((r) => [r.key, r.value]), [[1, 2], [3, 4]], 'only the final write of key 1');
    assert.equal(new Set(registers.map((r) => `${r.ts}/${r.writer}`)).size, 1, 'one stamp');
    assert.ok((registers[0]?.ts ?? 0) > 9_000_000, 'above the clock');
    store.checkInvariants();
  });

  it('a peer absorbs a delta whole; a write with a smaller stamp never replaces a larger one', () => {
    const peer = new TxnStore();
    peer.put({ key: 1, value: 7, ts: 50, writer: 'n2' });
    const delta = new TxnStore();
    delta.put({ key: 1, value: 8, ts: 40, writer: 'n1' });
    delta.put({ key: 2, value: 8, ts: 40, writer: 'n1' });
    const novel = TXN_LATTICE.absorb(peer, delta);
    assert.deepEqual([...(novel?.registers.values() ?? [])].map((r) => r.key), [2]);
    assert.equal(peer.get(1)?.value, 7);
    assert.equal(peer.get(2)?.value, 8);
    assert.equal(TXN_LATTICE.absorb(peer, delta), null, 'nothing new the second time');
    const decoded = TXN_LATTICE.decode(TXN_LATTICE.encode(peer));
    assert.deepEqual([...decoded.registers.entries()], [...peer.registers.entries()]);
    assert.throws(() => TXN_LATTICE.decode(TXN_LATTICE.encode(peer).subarray(0, 3)));
  });

  it('malformed transactions get error 12 with a clear text, and change nothing', () => {
    const store = new TxnStore();
    const bad: Array<[unknown, RegExp]> = [
      [undefined, /needs a txn/],
      ['r 1', /needs a txn/],
      [[['r', 1]], /3-element/],
      [[['x', 1, null]], /f must be "r" or "w"/],
      [[['r', 1, 5]], /read's value must be null/],
      [[['w', 1, null]], /written value/],
      [[['w', 1, 1.5]], /written value/],
      [[['w', 1, 1e400]], /written value/],
      [[['w', 99999999999999999999999, 1]], /key/],
      [[['w', { a: 1 }, 1]], /key/],
      [[['w', 'x'.repeat(300), 1]], /key/],
      [Array.from({ length: MAX_TXN_OPS + 1 }, () => ['r', 1, null]), /at most/],
    ];
    for (const [txn, text] of bad) {
      const { reply, delta } = ask(store, txn === undefined ? {} : { txn });
      assert.equal(reply['type'], 'error', JSON.stringify(txn));
      assert.equal(reply['code'], MaelstromError.malformedRequest);
      assert.match(String(reply['text']), text);
      assert.equal(delta, null);
    }
    assert.equal(store.registers.size, 0);
    assert.ok(claimsTxn({ type: 'txn' }) && !claimsTxn({ type: 'read' }));
  });

  it("the harness reads txn_ok replies by the workload's schema", () => {
    assert.deepEqual(interpretReply('txn-rw-register', 'txn', { type: 'txn_ok', txn: [['r', 1, null], ['w', 1, 2]] }), { type: 'ok', result: [['r', 1, null], ['w', 1, 2]] });
    assert.equal(interpretReply('txn-rw-register', 'txn', { type: 'txn_ok', txn: [['w', 1, null]] }).type, 'info');
    assert.equal(interpretReply('txn-rw-register', 'txn', { type: 'error', code: 30 }).type, 'fail');
  });
});

describe("txn generator (Elle's wr-txns as Maelstrom configures it)", () => {
  it('lengths 1..4, writes unique per key and at most max-writes-per-key, exponential keys with retirement', () => {
    const next = txnGenerator(new Prng(5));
    const written = new Map<number, number[]>();
    const lengths = new Set<number>();
    const keyUse = new Map<number, number>();
    for (let i = 0; i < 2000; i++) {
      const txn = next();
      lengths.add(txn.length);
      for (const [f, k, v] of txn) {
        keyUse.set(k, (keyUse.get(k) ?? 0) + 1);
        if (f === 'w') written.set(k, [...(written.get(k) ?? []), v as number]);
        else assert.equal(v, null);
      }
    }
    assert.deepEqual([...lengths].sort(), [1, 2, 3, 4]);
    for (const [k, values] of written) {
      assert.deepEqual(values, values.map((_, i) => i + 1), `key ${k} writes 1, 2, 3, …`);
      assert.ok(values.length <= TXN_GEN_DEFAULTS.maxWritesPerKey);
    }
    assert.ok(written.size > TXN_GEN_DEFAULTS.keyCount, 'keys were retired for fresh ones');
  });
});

// ---------------------------------------------------------------------------------------------------------
// Under the simulator

/** Seeds of the read-committed sweep; TXN_SIM_SEEDS sets a longer one. */
const SEEDS = Number(process.env.TXN_SIM_SEEDS ?? 300);
/** A deliberate bug must show within this many seeds. */
const FEW_SEEDS = 3;

function replay(v: MaelstromVerdict): string {
  return `chatterbox sim --workload txn-rw-register --seed ${v.scenario.seed} --preset ${v.scenario.preset}`;
}

describe('txn-rw-register under the simulator', () => {
  it(`read committed (hence read uncommitted) through loss, duplication, partitions, pauses and crashes with restart: ${SEEDS} seeds`, () => {
    const seen = { crashes: 0, partitions: 0, pauses: 0, lost: 0, indefinite: 0, wr: 0, ww: 0 };
    for (const seed of testSeeds(SEEDS)) {
      withSeed(seed, 'txn-sim', () => {
        const v = runMaelstromScenario(drawMaelstromScenario(seed, 'txn-rw-register'));
        assert.deepEqual(v.problems, [], `replay: ${replay(v)}`);
        assert.ok(v.check?.kind === 'txn' && v.check.verdict === 'valid');
        assert.ok(v.ops.ok > 0);
        seen.crashes += v.scenario.faults.filter((f) => f.kind === 'crash').length;
        seen.partitions += v.scenario.faults.filter((f) => f.kind === 'partition').length;
        seen.pauses += v.scenario.faults.filter((f) => f.kind === 'pause').length;
        seen.lost += v.stats?.lost ?? 0;
        seen.indefinite += v.ops.indefinite;
        seen.wr += v.check.edges.wr;
        seen.ww += v.check.edges.ww;
      });
    }
    if (process.env.CHATTERBOX_SEED === undefined) for (const [kind, count] of Object.entries(seen)) assert.ok(count > 0, `no ${kind} in ${SEEDS} seeds`);
  });

  it('totally available: every transaction is answered ok, partitions or not, unless its node crashed after answering', () => {
    for (const seed of testSeeds(20)) {
      const v = runMaelstromScenario(drawMaelstromScenario(seed, 'txn-rw-register', { nodeCount: 3 }));
      for (const op of v.history) {
        if (op.type === 'ok') continue;
        // Indefinite only as the harness records a crashed node's earlier answers (13), or a request in flight to a
        // paused or crashed node at its timeout.
        assert.ok(op.type === 'info', `seed ${seed}: ${JSON.stringify(op)}`);
        const crashedOrPaused = v.scenario.faults.some((f) => (f.kind === 'crash' || f.kind === 'pause') && f.node === op.node);
        assert.ok(crashedOrPaused, `seed ${seed}: ${op.node} neither crashed nor paused, yet ${JSON.stringify(op)}`);
      }
    }
  });

  it('a run is a function of its seed', () => {
    const run = (): unknown => {
      const v = runMaelstromScenario(drawMaelstromScenario(9, 'txn-rw-register'));
      return { problems: v.problems, check: v.check, ops: v.ops, stats: v.stats };
    };
    assert.deepEqual(run(), run());
  });

  it('the shipped node is not serializable: the checker finds that too (it can fail)', () => {
    const sweep = sweepMaelstrom('txn-rw-register', 1, 10, { consistencyModels: ['serializable'], nodeCount: 3 }, { stopAtFirstFailure: true });
    assert.ok(sweep.failures.length === 1, 'ten runs of a read-committed store all looked serializable');
  });

  const broken: Array<[CommitMode, RegExp]> = [
    ['first-write-wins', /^G1b \(/],
    ['abort-after-write', /^G1a \(/],
  ];
  for (const [mode, problem] of broken) {
    it(`a deliberately broken node (${mode}) is caught within ${FEW_SEEDS} seeds, in-process, naming the seed`, () => {
      const hosted = hostedWorkload(txnService(mode), claimsTxn);
      const sweep = sweepMaelstrom('txn-rw-register', 1, FEW_SEEDS, { hosted }, { stopAtFirstFailure: true });
      const failure = sweep.failures[0];
      assert.ok(failure !== undefined, `the broken node passed ${FEW_SEEDS} seeds`);
      assert.ok(failure.problems.some((p) => problem.test(p)), failure.problems.join('\n'));
      const again = runMaelstromScenario(drawMaelstromScenario(failure.seed, 'txn-rw-register', { hosted }));
      assert.deepEqual(again.problems, failure.problems);
      // Under read uncommitted neither bug is forbidden: the same runs pass.
      const ru = runMaelstromScenario(drawMaelstromScenario(failure.seed, 'txn-rw-register', { hosted, consistencyModels: ['read-uncommitted'] }));
      assert.ok(!ru.problems.some((p) => problem.test(p)), ru.problems.join('\n'));
    });
  }
});
