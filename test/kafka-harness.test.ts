/**
 * The harness's kafka workload (src/harness/kafka.ts): its checker on fixture histories, each valid case valid and
 * each invalid case showing exactly the anomalies it was written for; its clients as Maelstrom's behave; and under
 * the simulator, the correct sequencer node (test/fixtures/kafka-sequencer.ts) valid over many seeds with loss,
 * duplication, partitions, pauses and crashes, while each deliberately broken node fails within a few seeds.
 *
 * Replay one seed with `CHATTERBOX_SEED=N node --test dist/test/kafka-harness.test.js`.
 */
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Prng } from '../src/core/prng.js';
import { interpretReply } from '../src/harness/client.js';
import { History } from '../src/harness/history.js';
import { KAFKA_KEY_COUNT, KAFKA_MAX_WRITES_PER_KEY, KafkaClients, checkKafka, type KafkaErrorKind } from '../src/harness/kafka.js';
import { drawMaelstromScenario, runMaelstromScenario, sweepMaelstrom } from '../src/harness/simulated.js';
import type { Op } from '../src/harness/types.js';
import { testSeeds, withSeed } from '../src/sim/simulation.js';
import { kafkaSequencerWorkload, type KafkaBug } from './fixtures/kafka-sequencer.js';
import { raftProtocol } from '../src/consensus/raft.js';
import { KAFKA_MACHINE, KAFKA_REQUESTS, KAFKA_WORKLOAD } from '../src/maelstrom/kafka.js';
import type { Body, Workload } from '../src/maelstrom/service.js';

const FIXTURES = fileURLToPath(new URL('../../test/fixtures/histories/kafka/', import.meta.url));
/** Seeds for the correct node; MAELSTROM_SIM_SEEDS sets a longer sweep. */
const SEEDS = Number(process.env.MAELSTROM_SIM_SEEDS ?? 60);
/** A deliberate bug must show within this many seeds. */
const FEW_SEEDS = 5;

interface Fixture {
  readonly description: string;
  readonly ops: ReadonlyArray<Omit<Op, 'index' | 'final' | 'probe'>>;
  readonly expect: { readonly valid: boolean; readonly errors: readonly KafkaErrorKind[] };
}

describe("the kafka checker on fixture histories", () => {
  const files = readdirSync(FIXTURES).filter((f) => f.endsWith('.json')).sort();
  it('has valid and invalid fixtures', () => {
    assert.ok(files.some((f) => f.startsWith('valid-')) && files.some((f) => !f.startsWith('valid-')));
  });
  for (const file of files) {
    const fixture = JSON.parse(readFileSync(`${FIXTURES}${file}`, 'utf8')) as Fixture;
    it(`${file}: ${fixture.description}`, () => {
      const ops: Op[] = fixture.ops.map((op, index) => ({ ...op, index, final: false, probe: false }));
      const check = checkKafka(ops);
      assert.equal(check.valid, fixture.expect.valid, check.problems.join('\n'));
      assert.deepEqual(Object.keys(check.errors).sort(), [...fixture.expect.errors].sort(), check.problems.join('\n'));
      // Every kind found comes with an example that names its key.
      for (const e of Object.values(check.errors)) assert.ok(e.examples.length > 0 && e.examples.every((x) => /key/.test(x)), JSON.stringify(e));
    });
  }
});

describe("the harness's kafka clients", () => {
  it("draw Elle's keys (exponential over 10, retired after 32 writes) with values 1, 2, 3, … per key", () => {
    const clients = new KafkaClients(new Prng(1), 0);
    const perKey = new Map<string, number[]>();
    let sends = 0;
    for (let i = 0; i < 4000; i++) {
      const spec = clients.next('c1');
      if (spec.f !== 'send') continue;
      sends++;
      const { key, msg } = spec.value as { key: string; msg: number };
      perKey.set(key, [...(perKey.get(key) ?? []), msg]);
    }
    assert.ok(sends > 1800 && sends < 2200, `about half are sends: ${sends}`);
    for (const [key, msgs] of perKey) {
      assert.deepEqual(msgs, msgs.map((_, i) => i + 1), `key ${key}`);
      assert.ok(msgs.length <= KAFKA_MAX_WRITES_PER_KEY);
    }
    assert.ok(perKey.size > KAFKA_KEY_COUNT, 'keys were retired for fresh ones');
  });

  it('poll with their own offsets, advance them past what came back, commit it next, and assign from committed offsets', () => {
    const clients = new KafkaClients(new Prng(3), 0);
    const history = new History('kafka', ['n1'], 0);
    let at = 0;
    // Until it assigns, a client polls nothing.
    let spec;
    for (;;) {
      spec = clients.next('c1');
      if (spec.f === 'poll') break;
    }
    assert.deepEqual(spec.body, { type: 'poll', offsets: {} });
    // A poll result moves the client on, and its next operation commits what it polled.
    const poll = history.invoke(spec, 'c1', 'n1', at++, { final: false, probe: false });
    history.complete(poll, at++, { body: { type: 'poll_ok', msgs: { '3': [[4, 1], [6, 2]] } } });
    clients.completed(poll);
    assert.deepEqual(clients.next('c1').body, { type: 'commit_offsets', offsets: { '3': 6 } });
    for (;;) {
      spec = clients.next('c1');
      if (spec.f === 'poll') break;
    }
    assert.deepEqual(spec.body, { type: 'poll', offsets: { '3': 7 } });
    // An assign keeps the offsets the client has, else starts at the committed offset, else at 0, and drops the rest.
    const assigning = new KafkaClients(new Prng(5), 0.5);
    let assigned: string[] | null = null;
    for (let i = 0; i < 200; i++) {
      const next = assigning.next('c2');
      if (next.f === 'poll' && assigned !== null) {
        const [first, ...rest] = assigned;
        assert.deepEqual(next.body, { type: 'poll', offsets: { [first as string]: 9, ...Object.fromEntries(rest.map((k) => [k, 0])) } });
        return;
      }
      const op = history.invoke(next, 'c2', 'n1', at++, { final: false, probe: false });
      if (next.f === 'list_committed_offsets') assigned = [...(next.value as { keys: string[] }).keys];
      const body =
        next.f === 'list_committed_offsets'
          ? { type: 'list_committed_offsets_ok', offsets: { [(assigned as string[])[0] as string]: 9 } }
          : next.f === 'send'
            ? { type: 'send_ok', offset: i }
            : { type: 'poll_ok', msgs: {} };
      history.complete(op, at++, { body });
      assigning.completed(op);
    }
    assert.fail('no assign followed by a poll in 200 operations');
  });

  it('poll at the end from 0 on every key seen, until each key is caught up', () => {
    const clients = new KafkaClients(new Prng(7), 0);
    const history = new History('kafka', ['n1'], 0);
    let sent = 0;
    for (let i = 0; sent < 3; i++) {
      const spec = clients.next('c1');
      if (spec.f !== 'send') continue;
      const op = history.invoke(spec, 'c1', 'n1', i, { final: false, probe: false });
      history.complete(op, i + 1, { body: { type: 'send_ok', offset: sent++ } });
      clients.completed(op);
    }
    clients.beginFinalPolls();
    assert.equal(clients.finalDone(), false);
    const spec = clients.finalPoll('f1');
    const offsets = (spec.value as { offsets: Record<string, number> }).offsets;
    assert.ok(Object.values(offsets).every((o) => o === 0) && Object.keys(offsets).length > 0);
    const msgs = Object.fromEntries(Object.keys(offsets).map((k) => [k, [[0, 1], [1, 2], [2, 3]]]));
    const op = history.invoke(spec, 'f1', 'n1', 100, { final: true, probe: false });
    history.complete(op, 101, { body: { type: 'poll_ok', msgs } });
    clients.completed(op);
    assert.equal(clients.finalDone(), true);
  });

  it("read replies by Maelstrom's schemas", () => {
    assert.deepEqual(interpretReply('kafka', 'send', { type: 'send_ok', offset: 3 }), { type: 'ok', result: 3 });
    assert.equal(interpretReply('kafka', 'send', { type: 'send_ok', offset: -1 }).type, 'info');
    assert.equal(interpretReply('kafka', 'poll', { type: 'poll_ok', msgs: { a: [[0]] } }).type, 'info');
    assert.deepEqual(interpretReply('kafka', 'poll', { type: 'poll_ok', msgs: { a: [[0, { x: 1 }]] } }), { type: 'ok', result: { a: [[0, { x: 1 }]] } });
    assert.deepEqual(interpretReply('kafka', 'list_committed_offsets', { type: 'list_committed_offsets_ok', offsets: {} }), { type: 'ok', result: {} });
    assert.equal(interpretReply('kafka', 'commit_offsets', { type: 'error', code: 22 }).type, 'fail');
  });
});

describe('kafka nodes under the simulator', () => {
  it('the correct sequencer node is valid over many seeds through loss, duplication, partitions, pauses and crashes', () => {
    const seen = { crashes: 0, partitions: 0, pauses: 0, polled: 0, indefinite: 0 };
    for (const seed of testSeeds(SEEDS)) {
      withSeed(seed, 'kafka sequencer', () => {
        const v = runMaelstromScenario(drawMaelstromScenario(seed, 'kafka', { hosted: kafkaSequencerWorkload() }));
        assert.deepEqual(v.problems, [], `seed ${seed}`);
        assert.ok(v.check?.kind === 'kafka');
        seen.crashes += v.scenario.faults.filter((f) => f.kind === 'crash').length;
        seen.partitions += v.scenario.faults.filter((f) => f.kind === 'partition').length;
        seen.pauses += v.scenario.faults.filter((f) => f.kind === 'pause').length;
        seen.polled += v.check.polls.messages;
        seen.indefinite += v.ops.indefinite;
      });
    }
    if (process.env.CHATTERBOX_SEED === undefined) for (const [kind, n] of Object.entries(seen)) assert.ok(n > 0, `no ${kind} in ${SEEDS} seeds`);
  });

  const broken: Array<[KafkaBug, KafkaErrorKind]> = [
    ['lose-send', 'lost-write'],
    ['duplicate-offset', 'inconsistent-offsets'],
  ];
  for (const [bug, kind] of broken) {
    it(`a node with the ${bug} bug fails within ${FEW_SEEDS} seeds, with ${kind}`, () => {
      const sweep = sweepMaelstrom('kafka', 1, FEW_SEEDS, { hosted: kafkaSequencerWorkload(bug) }, { stopAtFirstFailure: true });
      const failure = sweep.failures[0];
      assert.ok(failure !== undefined, `${bug} passed ${sweep.runs} seeds`);
      assert.ok(failure.problems.some((p) => p.startsWith(`${kind}:`)), failure.problems.join('\n'));
    });
  }
});

/**
 * The shipped kafka node on Raft with one change: every third message of a key (msg 3, 6, 9, …; the harness's
 * clients send 1, 2, 3, … per key) is acknowledged from the local replica with the offset it would get, and never
 * proposed. The acknowledged message is lost, and its offset goes to the next message sent.
 */
const LOSES_SENDS: Workload = {
  ...KAFKA_WORKLOAD,
  protocol: raftProtocol(
    KAFKA_MACHINE,
    {
      ...KAFKA_REQUESTS,
      classify: (req) => (losesSend(req.body) ? { kind: 'local' } : KAFKA_REQUESTS.classify(req)),
      read: (req, state) =>
        losesSend(req.body) ? { token: req.token, body: { type: 'send_ok', offset: state.logs.get(req.body['key'] as string)?.length ?? 0 } } : KAFKA_REQUESTS.read(req, state),
    },
    'kafka (loses sends)',
  ),
};

function losesSend(body: Body): boolean {
  return body.type === 'send' && typeof body['key'] === 'string' && typeof body['msg'] === 'number' && body['msg'] % 3 === 0;
}

describe('the shipped kafka node on Raft under the simulator', () => {
  it('acknowledging a send it never commits fails within a few seeds, with the acknowledged message unseen or its offset reused', () => {
    const sweep = sweepMaelstrom('kafka', 1, FEW_SEEDS, { hosted: LOSES_SENDS }, { stopAtFirstFailure: true });
    const failure = sweep.failures[0];
    assert.ok(failure !== undefined, `the send-losing node passed ${sweep.runs} seeds`);
    assert.ok(failure.problems.some((p) => /^(unseen|lost-write|inconsistent-offsets):/.test(p)), failure.problems.join('\n'));
    // The same seed with the shipped node passes: the change is the difference.
    assert.deepEqual(runMaelstromScenario(drawMaelstromScenario(failure.seed, 'kafka')).problems, []);
  });
});
