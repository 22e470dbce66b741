/**
 * The harness's process nemeses as a model: the kill and pause schedule (src/sim/faults.ts, one model for the
 * process harness and the simulator) and the rules that judge an answer when its node may be killed
 * (src/harness/process-nemesis.ts, history.ts).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { nodeId, type NodeId } from '../src/core/ids.js';
import { Prng } from '../src/core/prng.js';
import { History } from '../src/harness/history.js';
import { AnswerBook, drawProcessNemesis } from '../src/harness/process-nemesis.js';
import { drawMaelstromScenario, runMaelstromScenario } from '../src/harness/simulated.js';
import { faultEndMs, processNemesisSchedule, validateNodeFaults, type Fault, type ProcessFaultKind } from '../src/sim/faults.js';
import { testSeeds, withSeed } from '../src/sim/simulation.js';

const NODES: NodeId[] = ['n1', 'n2', 'n3', 'n4', 'n5'].map(nodeId);

describe('process nemesis schedule', () => {
  test('one node at a time, whole ms, every fault over by the end, only the kinds asked for', () => {
    for (let seed = 1; seed <= 200; seed++) {
      const kinds: readonly ProcessFaultKind[] = seed % 3 === 0 ? ['kill'] : seed % 3 === 1 ? ['pause'] : ['kill', 'pause'];
      const untilMs = 500 + seed * 37;
      const schedule = processNemesisSchedule(new Prng(seed), NODES, kinds, 100 + seed, untilMs);
      let previousEnd = -1;
      for (const f of schedule) {
        assert.ok(f.kind === 'crash' || f.kind === 'pause');
        assert.ok(kinds.includes(f.kind === 'crash' ? 'kill' : 'pause'), `seed ${seed}: ${f.kind} was not asked for`);
        if (f.kind === 'crash') assert.equal(f.loseDurableState, undefined, 'a kill keeps the disk');
        const end = faultEndMs(f);
        assert.ok(Number.isInteger(f.atMs) && Number.isInteger(end), JSON.stringify(f));
        assert.ok(f.atMs > previousEnd || (previousEnd === -1 && f.atMs >= 0), `seed ${seed}: overlaps the previous fault: ${JSON.stringify(schedule)}`);
        assert.ok(f.atMs < end && end <= untilMs, `seed ${seed}: ${JSON.stringify(f)}`);
        previousEnd = end;
      }
      // The simulator takes the same schedule as it is (pauses of a node never touch).
      validateNodeFaults(schedule, (n) => NODES.includes(n));
    }
  });

  test('deterministic in the seed; about one fault per two intervals; nothing without kinds or nodes', () => {
    const a = processNemesisSchedule(new Prng(7), NODES, ['kill', 'pause'], 100, 10_000);
    const b = processNemesisSchedule(new Prng(7), NODES, ['kill', 'pause'], 100, 10_000);
    assert.deepEqual(a, b);
    // Each fault takes a stagger to strike and one to end, 100 ms on average each: about 50 in 10 s.
    assert.ok(a.length > 30 && a.length < 70, `${a.length} faults`);
    assert.ok(a.some((f) => f.kind === 'crash') && a.some((f) => f.kind === 'pause'));
    assert.deepEqual(processNemesisSchedule(new Prng(7), NODES, [], 100, 10_000), []);
    assert.deepEqual(processNemesisSchedule(new Prng(7), [], ['kill'], 100, 10_000), []);
    assert.throws(() => processNemesisSchedule(new Prng(7), NODES, ['kill'], 0, 1000), RangeError);
    assert.throws(() => processNemesisSchedule(new Prng(7), NODES, ['kill'], 100, Infinity), RangeError);
    assert.throws(() => processNemesisSchedule(new Prng(7), NODES, ['kill'], 0.001, 100_000), /more than 10000 kills and pauses/);
  });

  test('the same schedule runs under the simulator: a g-set keeps every acknowledged element through kills and pauses', () => {
    for (const seed of testSeeds(10)) {
      withSeed(seed, 'g-set under the process nemesis', () => {
        const base = drawMaelstromScenario(seed, 'g-set', { nodeCount: 3 });
        const faults: Fault[] = drawProcessNemesis(new Prng(seed), base.nodes, ['kill', 'pause'], 400, base.timeLimitMs);
        assert.ok(faults.length > 0);
        const v = runMaelstromScenario({ ...base, faults });
        assert.deepEqual(v.problems, []);
        assert.ok(v.ops.ok > 0);
      });
    }
  });
});

describe('judging answers under kills', () => {
  const crash = (node: string, atMs: number): Fault & { kind: 'crash' } => ({ kind: 'crash', node: nodeId(node), atMs, restartAtMs: atMs + 10 });

  test('without kept state: an answer is indefinite while a kill of its node is to come, or when its incarnation is dead', () => {
    const book = new AnswerBook(['n1', 'n2'], [crash('n1', 100), crash('n1', 300)], false);
    assert.equal(book.standing('n2', 0), 'definite', 'n2 is never killed');
    assert.equal(book.standing('n1', 0), 'forgotten', 'n1 will be killed');
    book.killed('n1');
    assert.equal(book.incarnation('n1'), 1);
    assert.equal(book.standing('n1', 0), 'forgotten', 'a line of the dead incarnation, read after the kill');
    assert.equal(book.standing('n1', 1), 'forgotten', 'n1 will be killed once more');
    book.killed('n1');
    assert.equal(book.standing('n1', 2), 'definite', 'no kill is left');
    assert.equal(book.standing('n1', 1), 'forgotten');
    assert.throws(() => book.killed('n1'), /more often than the schedule says/);
  });

  test('kills the run never made (it ended first) stop counting once the nemesis stops', () => {
    const book = new AnswerBook(['n1'], [crash('n1', 5000)], false);
    assert.equal(book.standing('n1', 0), 'forgotten');
    book.noMoreKills();
    assert.equal(book.standing('n1', 0), 'definite', 'final reads count');
  });

  test('with kept state (data dirs) every answer is definite', () => {
    const book = new AnswerBook(['n1'], [crash('n1', 100)], true);
    assert.equal(book.standing('n1', 0), 'definite');
    book.killed('n1');
    assert.equal(book.standing('n1', 0), 'definite');
  });

  test('a request in flight at a kill is indefinite; one for a node that is down was never sent and failed', () => {
    const history = new History('g-set', ['n1'], 0);
    const spec = { f: 'add' as const, value: 1, body: { type: 'add', element: 1 } };
    const inFlight = history.invoke(spec, 'c1', 'n1', 0, { final: false, probe: false });
    history.complete(inFlight, 5, { killed: 'in-flight' });
    assert.deepEqual([inFlight.type, inFlight.error?.kind === 'code' && inFlight.error.code], ['info', 13]);
    const down = history.invoke({ ...spec, value: 2, body: { type: 'add', element: 2 } }, 'c1', 'n1', 6, { final: false, probe: false });
    history.complete(down, 6, { killed: 'down' });
    assert.deepEqual([down.type, down.error?.kind === 'code' && down.error.code], ['fail', 11]);
    const forgotten = history.invoke({ ...spec, value: 3, body: { type: 'add', element: 3 } }, 'c1', 'n1', 7, { final: false, probe: false });
    history.complete(forgotten, 8, { forgotten: true });
    assert.equal(forgotten.type, 'info');
  });
});
