/**
 * The harness's lin-kv side: the linearizability checker on histories with known verdicts
 * (test/fixtures/histories/lin-kv.ts), on histories a sequential model generates (always valid) and the same with one
 * read corrupted (never valid); Maelstrom's lin-kv client (key rotation, readers and writers, reply schemas); and the
 * History's dispatch to the checker.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { EXIT_UNKNOWN, exitStatus } from '../src/cli/harness-command.js';
import { Prng } from '../src/core/prng.js';
import { interpretReply, operationGenerator } from '../src/harness/client.js';
import { History } from '../src/harness/history.js';
import { LIN_KV_PROCESS_LIMIT, linKvGenerator } from '../src/harness/lin-kv-client.js';
import { checkLinKv, checkLinearizable, DEFAULT_MAX_STEPS_PER_KEY } from '../src/harness/linearizability.js';
import type { Op, OpType } from '../src/harness/types.js';
import { LIN_KV_FIXTURES } from './fixtures/histories/lin-kv.js';

describe('the linearizability checker on known histories', () => {
  for (const fixture of LIN_KV_FIXTURES) {
    it(`${fixture.name}: ${String(fixture.expected)}`, () => {
      const check = checkLinKv(fixture.ops, fixture.maxStepsPerKey ?? DEFAULT_MAX_STEPS_PER_KEY);
      assert.equal(check.valid, fixture.expected, JSON.stringify(check, null, 1));
      if (fixture.expected === false) {
        // The witness names the key, the operation that cannot take effect, and what the register could hold.
        assert.equal(check.problems.length, 1, check.problems.join('\n'));
        assert.match(check.problems[0] ?? '', new RegExp(`^key ${fixture.invalidKey} is not linearizable: after \\d+ of its \\d+ operations, #\\d+ \\w+ .* cannot take effect \\(the register could hold only `));
      } else {
        assert.deepEqual(check.problems, []);
      }
      if (fixture.expected === 'unknown') assert.ok(check.steps <= (fixture.maxStepsPerKey ?? 0), 'the bound is kept');
    });
  }

  it('the witness of a stale read names the stale read, the value the register held, and the concurrent operations', () => {
    const stale = LIN_KV_FIXTURES.find((f) => f.name.startsWith('new-old inversion'));
    assert.ok(stale !== undefined);
    const [line] = checkLinKv(stale.ops).problems;
    assert.match(line ?? '', /#3 read → 0 ok by c3 on n1, 40–50 ms cannot take effect \(the register could hold only 1\); concurrent with it: #1 write 1 ok by c1 on n1, 10–100 ms/);
  });

  it('a history the bound stops is unknown: not a problem, not valid, and the harness exits 4', () => {
    const bounded = LIN_KV_FIXTURES.find((f) => f.expected === 'unknown');
    assert.ok(bounded !== undefined);
    const check = checkLinKv(bounded.ops, bounded.maxStepsPerKey);
    assert.equal(check.valid, 'unknown');
    assert.equal(History.undecided(check).length, 1);
    assert.match(History.undecided(check)[0] ?? '', /the linearizability search hit its bound/);
    assert.deepEqual(History.undecided(checkLinKv(bounded.ops)), []);
    assert.equal(EXIT_UNKNOWN, 4);
    assert.equal(exitStatus({ valid: false, unknown: true }), EXIT_UNKNOWN);
    assert.equal(exitStatus({ valid: false, unknown: false }), 1);
    assert.equal(exitStatus({ valid: true, unknown: false }), 0);
  });

  it('a verdict is a function of the history: the same steps every time, and the bound only ever withholds one', () => {
    for (const fixture of LIN_KV_FIXTURES) {
      const a = checkLinearizable(fixture.ops);
      assert.deepEqual(checkLinearizable(fixture.ops), a);
      // Any bound gives either the same verdict or unknown.
      for (const bound of [1, 10, 100, 1000]) {
        const v = checkLinearizable(fixture.ops, bound).valid;
        assert.ok(v === 'unknown' || v === a.valid, `${fixture.name} at bound ${bound}: ${String(v)}, unbounded ${String(a.valid)}`);
      }
    }
  });
});

/**
 * A history from a sequential model: clients issue operations back to back; each takes effect at a point drawn in
 * its interval, in the order of those points, on a map of registers. Some end indefinite (taking effect or not).
 */
function modelRun(seed: number, opCount: number, keyCount: number, clientCount: number): Op[] {
  const prng = new Prng(seed);
  const cursor = Array.from({ length: clientCount }, () => 0);
  const drafts: Array<{ op: Op; at: number; happens: boolean }> = [];
  for (let i = 0; i < opCount; i++) {
    const c = prng.int(0, clientCount - 1);
    const invokeMs = (cursor[c] as number) + prng.int(0, 5);
    const indefinite = prng.chance(0.1);
    const duration = prng.int(1, 50);
    const completeMs = indefinite ? invokeMs + 1000 : invokeMs + duration;
    cursor[c] = completeMs;
    const key = prng.int(0, keyCount - 1);
    const kind = prng.int(0, 2);
    const value = kind === 0 ? [key, null] : kind === 1 ? [key, prng.int(0, 4)] : [key, [prng.int(0, 4), prng.int(0, 4)]];
    const op: Op = { index: i, f: kind === 0 ? 'read' : kind === 1 ? 'write' : 'cas', value, client: `c${c}`, node: 'n1', invokeMs, completeMs, type: indefinite ? 'info' : 'ok', final: false, probe: false };
    drafts.push({ op, at: invokeMs + prng.int(0, duration), happens: !indefinite || prng.chance(0.5) });
  }
  const map = new Map<number, number>();
  for (const { op, happens } of [...drafts].sort((a, b) => a.at - b.at)) {
    if (!happens) continue;
    const [key, arg] = op.value as [number, unknown];
    if (op.f === 'read') {
      op.result = map.get(key) ?? null;
      // Half the reads of a missing key answer error 20, as Maelstrom nodes do; the rest answer null.
      if (op.result === null && op.type === 'ok' && prng.chance(0.5)) setType(op, 'fail');
    } else if (op.f === 'write') map.set(key, arg as number);
    else {
      const [from, to] = arg as [number, number];
      if (map.get(key) === from) map.set(key, to);
      else if (op.type === 'ok') setType(op, 'fail');
    }
  }
  return drafts.map((d) => d.op);
}

function setType(op: Op, type: OpType): void {
  op.type = type;
  delete op.result;
}

describe('the linearizability checker on generated histories', () => {
  const shape = fc.record({ seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }), ops: fc.integer({ min: 1, max: 120 }), keys: fc.integer({ min: 1, max: 3 }), clients: fc.integer({ min: 1, max: 6 }) });

  it('a history a sequential model produced is linearizable', () => {
    fc.assert(
      fc.property(shape, ({ seed, ops, keys, clients }) => {
        const check = checkLinKv(modelRun(seed, ops, keys, clients));
        assert.equal(check.valid, true, check.problems.join('\n'));
      }),
      { numRuns: 300 },
    );
  });

  it('the same history with one read answering a value nobody wrote is not', () => {
    fc.assert(
      fc.property(shape, fc.nat(), ({ seed, ops, keys, clients }, pick) => {
        const history = modelRun(seed, ops, keys, clients);
        const reads = history.filter((op) => op.f === 'read' && op.type === 'ok');
        fc.pre(reads.length > 0);
        const read = reads[pick % reads.length] as Op;
        read.result = 99;
        const check = checkLinKv(history);
        assert.equal(check.valid, false);
        assert.ok(check.problems.some((p) => p.startsWith(`key ${JSON.stringify((read.value as [number])[0])} is not linearizable`)), check.problems.join('\n'));
      }),
      { numRuns: 300 },
    );
  });
});

describe("Maelstrom's lin-kv client", () => {
  it('groups of 2n clients share a key; the first n of a group read, the rest write and cas values 0..4', () => {
    const next = linKvGenerator(new Prng(5), { nodeCount: 3, concurrency: 12 });
    const specs = Array.from({ length: 1200 }, (_, i) => ({ slot: i % 12, spec: next({ slot: i % 12, client: `c${i % 12}` }) }));
    for (const { slot, spec } of specs) {
      const [key] = spec.value as [number];
      assert.equal(key, slot < 6 ? 0 : 1, 'two groups, keys 0 and 1');
      assert.equal(spec.f === 'read', slot % 6 < 3, `slot ${slot}: ${spec.f}`);
    }
    const writes = specs.filter((s) => s.spec.f === 'write');
    const cas = specs.filter((s) => s.spec.f === 'cas');
    assert.ok(cas.length > 1.5 * writes.length && cas.length < 2.5 * writes.length, `a third writes, two thirds cas: ${writes.length} / ${cas.length}`);
    for (const { spec } of [...writes, ...cas]) {
      const values = spec.f === 'write' ? [spec.body['value']] : [spec.body['from'], spec.body['to']];
      assert.ok(values.every((v) => Number.isInteger(v) && (v as number) >= 0 && (v as number) <= 4));
    }
    assert.deepEqual(specs[0]?.spec.body, { type: 'read', key: 0 });
  });

  it(`a key takes at most ${LIN_KV_PROCESS_LIMIT} distinct clients; then the group moves to the next key`, () => {
    const next = linKvGenerator(new Prng(5), { nodeCount: 2, concurrency: 4 });
    const keys: number[] = [];
    // Slot 3's client times out every time: a fresh client per operation.
    for (let i = 0; i < 40; i++) keys.push((next({ slot: 3, client: `fresh${i}` }).value as [number])[0]);
    assert.deepEqual(keys.slice(0, LIN_KV_PROCESS_LIMIT), Array(LIN_KV_PROCESS_LIMIT).fill(0));
    assert.deepEqual(keys.slice(LIN_KV_PROCESS_LIMIT), Array(40 - LIN_KV_PROCESS_LIMIT).fill(1));
  });

  it('a single slot both reads and writes', () => {
    const next = operationGenerator('lin-kv', new Prng(1));
    const fs = new Set(Array.from({ length: 50 }, () => next().f));
    assert.deepEqual([...fs].sort(), ['cas', 'read', 'write']);
  });

  it('replies: read_ok needs a value; 20 and 22 are definite failures, timeouts and crashes indefinite', () => {
    assert.deepEqual(interpretReply('lin-kv', 'read', { type: 'read_ok', value: 3 }), { type: 'ok', result: 3 });
    assert.deepEqual(interpretReply('lin-kv', 'read', { type: 'read_ok', value: null }), { type: 'ok', result: null });
    assert.equal(interpretReply('lin-kv', 'read', { type: 'read_ok' }).type, 'info');
    assert.deepEqual(interpretReply('lin-kv', 'write', { type: 'write_ok' }), { type: 'ok', result: null });
    assert.deepEqual(interpretReply('lin-kv', 'cas', { type: 'cas_ok' }), { type: 'ok', result: null });
    assert.equal(interpretReply('lin-kv', 'cas', { type: 'write_ok' }).type, 'info');
    assert.equal(interpretReply('lin-kv', 'read', { type: 'error', code: 20 }).type, 'fail');
    assert.equal(interpretReply('lin-kv', 'cas', { type: 'error', code: 22 }).type, 'fail');
    assert.equal(interpretReply('lin-kv', 'write', { type: 'error', code: 11 }).type, 'fail');
    assert.equal(interpretReply('lin-kv', 'write', { type: 'error', code: 13 }).type, 'info');
    assert.equal(interpretReply('lin-kv', 'write', { type: 'error', code: 0 }).type, 'info');
  });

  it('History judges lin-kv with the checker: a stale read makes it invalid, with the witness as a problem', () => {
    const history = new History('lin-kv', ['n1', 'n2'], 0);
    const run = (spec: { f: Op['f']; value: unknown; body: { type: string } & Record<string, unknown> }, node: string, at: number, reply: unknown): void => {
      history.complete(history.invoke(spec, `c-${node}`, node, at, { final: false, probe: false }), at + 5, { body: reply });
    };
    run({ f: 'write', value: [0, 1], body: { type: 'write', key: 0, value: 1 } }, 'n1', 0, { type: 'write_ok' });
    run({ f: 'read', value: [0, null], body: { type: 'read', key: 0 } }, 'n2', 10, { type: 'read_ok', value: 1 });
    run({ f: 'cas', value: [0, [1, 2]], body: { type: 'cas', key: 0, from: 1, to: 2 } }, 'n1', 20, { type: 'cas_ok' });
    assert.deepEqual(history.check(null).problems, []);
    run({ f: 'read', value: [0, null], body: { type: 'read', key: 0 } }, 'n2', 30, { type: 'read_ok', value: 1 });
    const { check, problems } = history.check(null);
    assert.equal(check.kind, 'lin-kv');
    assert.equal(check.valid, false);
    assert.equal(problems.length, 1);
    assert.match(problems[0] ?? '', /^key 0 is not linearizable: .*#3 read → 1 ok by c-n2 on n2, 30–35 ms cannot take effect \(the register could hold only 2\)/);
  });
});
