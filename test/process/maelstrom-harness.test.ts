import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Prng } from '../../src/core/prng.js';
import { UsageError } from '../../src/platform/user-errors.js';
import { harnessArgsFromOptions } from '../../src/cli/harness-command.js';
import {
  acceptableRanges,
  checkCounter,
  checkEcho,
  checkSet,
  checkUniqueIds,
  quantile,
  statsProblems,
} from '../../src/harness/checkers.js';
import { canonicalKey, interpretReply, operationGenerator } from '../../src/harness/client.js';
import { formatReport } from '../../src/harness/format.js';
import { runHarness } from '../../src/harness/runner.js';
import { gridTopology, topology, type Topology } from '../../src/harness/topology.js';
import type { Op, Report } from '../../src/harness/types.js';
import { NAIVE_BROADCAST, PATIENT, naiveBroadcastUnderPartitions } from './helpers/harness.js';
import { HUNG_AFTER_MS, MAIN } from './helpers/processes.js';

// ---------------------------------------------------------------------------------------------------------
// History builders

let nextIndex = 0;

/** An op that completed 1 ms after its invocation, ok, unless told otherwise. */
function op(p: Partial<Op> & Pick<Op, 'f' | 'node' | 'invokeMs'>): Op {
  return { index: nextIndex++, value: null, client: 'c1', completeMs: p.invokeMs + 1, type: 'ok', final: false, probe: false, ...p };
}

const add = (value: unknown, node: string, invokeMs: number, type: Op['type'] = 'ok'): Op =>
  op({ f: 'add', value, node, invokeMs, type, ...(type === 'info' ? { error: { kind: 'timeout' } as const } : {}) });
const read = (node: string, invokeMs: number, result: unknown, extra: Partial<Op> = {}): Op => op({ f: 'read', node, invokeMs, result, ...extra });
const finalRead = (node: string, result: unknown): Op => read(node, 100, result, { final: true });

const NODES = ['n1', 'n2'];

// ---------------------------------------------------------------------------------------------------------
// Checkers

describe('set checker (broadcast, g-set)', () => {
  test('valid history: exact visibility bounds, Maelstrom stable latency and convergence', () => {
    const history = [
      add(1, 'n1', 0), // ok at 1
      read('n1', 2, [1]),
      read('n2', 2, []),
      read('n2', 10, []), // the last read that missed it: invoked at 10
      read('n2', 20, [1], { completeMs: 22 }), // first read on n2 that had it after that: completed at 22
      finalRead('n1', [1]),
      finalRead('n2', [1]),
    ];
    const r = checkSet(history, NODES, { probeMs: 25, healAtMs: 5 });
    assert.equal(r.valid, true, r.problems.join('; '));
    assert.deepEqual([r.attempted, r.acknowledged, r.stableCount, r.lostCount], [1, 1, 1, 0]);
    assert.ok(r.visibility !== null);
    assert.deepEqual([r.visibility.lower.max, r.visibility.upper.max, r.visibility.medianGapMs, r.visibility.resolutionMs], [10, 22, 12, 25]);
    // Maelstrom counts from when the element was known (acknowledged at 1): 10 - 1.
    assert.equal(r.stableLatencies?.['1'], 9);
    assert.deepEqual(r.convergence, { healAtMs: 5, afterHealMs: 5, afterHealUpperMs: 17 });
  });

  test('an acknowledged element missing from one final read is lost', () => {
    const r = checkSet([add(1, 'n1', 0), add(2, 'n1', 1), finalRead('n1', [1, 2]), finalRead('n2', [2])], NODES, { probeMs: 25, healAtMs: 50 });
    assert.equal(r.valid, false);
    assert.deepEqual([r.lostCount, r.lost], [1, [1]]);
    assert.match(r.problems.join('\n'), /lost 1 .*final reads of n2.*: 1$/m);
    assert.equal(r.convergence?.afterHealMs, null, 'disagreeing final reads never converged');
  });

  test('an indefinite add may be missing if never seen, but once seen it must stay', () => {
    const unseen = checkSet([add(1, 'n1', 0, 'info'), finalRead('n1', []), finalRead('n2', [])], NODES, { probeMs: 25, healAtMs: null });
    assert.equal(unseen.valid, true, unseen.problems.join('; '));
    assert.equal(unseen.neverReadCount, 1);
    const seen = checkSet([add(1, 'n1', 0, 'info'), read('n1', 5, [1]), finalRead('n1', [1]), finalRead('n2', [])], NODES, { probeMs: 25, healAtMs: null });
    assert.equal(seen.valid, false);
    assert.equal(seen.lostCount, 1);
    const recovered = checkSet([add(1, 'n1', 0, 'info'), finalRead('n1', [1]), finalRead('n2', [1])], NODES, { probeMs: 25, healAtMs: null });
    assert.deepEqual([recovered.valid, recovered.recoveredCount], [true, 1]);
  });

  test('values nobody added, values read twice, and a missing final read are invalid', () => {
    const unexpected = checkSet([add(1, 'n1', 0), read('n2', 3, [1, 99]), finalRead('n1', [1]), finalRead('n2', [1])], NODES, { probeMs: 25, healAtMs: null });
    assert.deepEqual([unexpected.valid, unexpected.unexpected], [false, [99]]);
    const twice = checkSet([add(1, 'n1', 0), read('n2', 3, [1, 1]), finalRead('n1', [1]), finalRead('n2', [1])], NODES, { probeMs: 25, healAtMs: null });
    assert.deepEqual([twice.valid, twice.duplicatedCount], [false, 1]);
    const missing = checkSet([add(1, 'n1', 0), finalRead('n1', [1]), read('n2', 100, null, { final: true, type: 'info' })], NODES, { probeMs: 25, healAtMs: null });
    assert.deepEqual([missing.valid, missing.missingFinalReads], [false, ['n2']]);
  });

  test('elements compare as JSON values, whatever the key order', () => {
    const r = checkSet([add({ a: 1, b: [2] }, 'n1', 0), finalRead('n1', [{ b: [2], a: 1 }]), finalRead('n2', [{ a: 1, b: [2] }])], NODES, { probeMs: 25, healAtMs: null });
    assert.equal(r.valid, true, r.problems.join('; '));
    assert.equal(canonicalKey({ b: [2], a: 1 }), canonicalKey({ a: 1, b: [2] }));
  });
});

describe('counter checker (g-counter, pn-counter)', () => {
  test('acceptable values: the definite sum plus any subset of the indefinite deltas, as merged ranges', () => {
    assert.deepEqual(acceptableRanges(5, []), [[5, 5]]);
    assert.deepEqual(acceptableRanges(10, [2, 3]), [[10, 10], [12, 13], [15, 15]]);
    assert.deepEqual(acceptableRanges(0, [-1, 1]), [[-1, 1]]);
    assert.deepEqual(acceptableRanges(0, [4, 0, -5]), [[-5, -5], [-1, 0], [4, 4]]);
  });

  const adds = [add(3, 'n1', 0), add(4, 'n2', 1), add(2, 'n1', 2, 'info'), add(100, 'n2', 3, 'fail')];

  test('final reads in the acceptable set are valid; failed adds did not happen', () => {
    const r = checkCounter([...adds, finalRead('n1', 7), finalRead('n2', 9)], NODES, { healAtMs: null });
    assert.equal(r.valid, true, r.problems.join('; '));
    assert.deepEqual([r.definiteSum, r.indefiniteAdds, r.acceptable], [7, 1, [[7, 7], [9, 9]]]);
  });

  test('a final read outside the set, or a missing one, is invalid', () => {
    const wrong = checkCounter([...adds, finalRead('n1', 7), finalRead('n2', 8)], NODES, { healAtMs: null });
    assert.equal(wrong.valid, false);
    assert.match(wrong.problems.join('\n'), /n2's final read is 8, outside the acceptable 7, 9/);
    const missing = checkCounter([...adds, finalRead('n1', 7)], NODES, { healAtMs: null });
    assert.deepEqual([missing.valid, missing.missingFinalReads], [false, ['n2']]);
  });

  test('convergence: from the heal to the last read that disagreed with the final value', () => {
    const history = [...adds, read('n1', 10, 3), read('n1', 20, 7), read('n2', 15, 7), finalRead('n1', 7), finalRead('n2', 7)];
    const r = checkCounter(history, NODES, { healAtMs: 12 });
    // n1 last disagreed in the read invoked at 10 (before the heal); the next read completed at 21.
    assert.deepEqual(r.convergence, { healAtMs: 12, afterHealMs: 0, afterHealUpperMs: 9 });
  });
});

describe('echo, unique-ids and stats checkers', () => {
  test('echo: every echo must come back ok and equal', () => {
    const good = op({ f: 'echo', node: 'n1', invokeMs: 0, value: 'Please echo 3', result: 'Please echo 3' });
    assert.equal(checkEcho([good]).valid, true);
    const wrong = op({ f: 'echo', node: 'n1', invokeMs: 0, value: 'Please echo 3', result: 'Please echo 4' });
    assert.deepEqual([checkEcho([good, wrong]).valid, checkEcho([good, wrong]).mismatched], [false, 1]);
    const lost = op({ f: 'echo', node: 'n1', invokeMs: 0, value: 'Please echo 3', type: 'info', error: { kind: 'timeout' } });
    assert.deepEqual([checkEcho([good, lost]).valid, checkEcho([good, lost]).notOk], [false, 1]);
  });

  test('unique-ids: an id acknowledged twice (as JSON values) is invalid; failed ones do not count', () => {
    const gen = (result: unknown, type: Op['type'] = 'ok'): Op => op({ f: 'generate', node: 'n1', invokeMs: 0, result, type });
    assert.equal(checkUniqueIds([gen('n1-1'), gen('n2-1'), gen('n1-1', 'fail')]).valid, true);
    const dup = checkUniqueIds([gen({ a: 1, b: 2 }), gen({ b: 2, a: 1 }), gen(3)]);
    assert.deepEqual([dup.valid, dup.duplicatedCount, dup.acknowledged], [false, 1, 3]);
  });

  test('stats: an operation kind that never succeeded is a problem', () => {
    const ok = op({ f: 'add', node: 'n1', invokeMs: 0 });
    const failedRead = op({ f: 'read', node: 'n1', invokeMs: 1, type: 'fail', error: { kind: 'code', code: 11 } });
    assert.deepEqual(statsProblems([ok]), []);
    assert.deepEqual(statsProblems([ok, failedRead]), ['none of the 1 read operations succeeded']);
    assert.deepEqual(statsProblems([ok, { ...failedRead, probe: true }]), [], 'probes are not operations');
  });

  test("quantiles are Jepsen's: the element at floor(n·p)", () => {
    assert.deepEqual([0, 0.5, 0.95, 1].map((p) => quantile([1, 2, 3, 4], p)), [1, 3, 4, 4]);
  });
});

// ---------------------------------------------------------------------------------------------------------
// Pure pieces of the harness

function assertSymmetricConnected(t: Topology, nodes: readonly string[]): void {
  assert.deepEqual(Object.keys(t).sort(), [...nodes].sort());
  for (const [n, ns] of Object.entries(t)) for (const m of ns) assert.ok(t[m]?.includes(n), `${n}–${m} is not symmetric`);
  const seen = new Set([nodes[0] as string]);
  const queue = [nodes[0] as string];
  while (queue.length > 0) for (const m of t[queue.shift() as string] ?? []) if (!seen.has(m) && seen.add(m)) queue.push(m);
  assert.equal(seen.size, nodes.length, 'connected');
}

describe('harness topology, clients', () => {
  const names = (n: number): string[] => Array.from({ length: n }, (_, i) => `n${i + 1}`);

  test("topologies are Maelstrom's: grid, line, total, trees", () => {
    // A 3x3 grid with two rows used: n1 n2 n3 / n4 n5, neighbours in Maelstrom's order (down, up, right, left).
    assert.deepEqual(gridTopology(names(5)), { n1: ['n4', 'n2'], n2: ['n5', 'n3', 'n1'], n3: ['n2'], n4: ['n1', 'n5'], n5: ['n2', 'n4'] });
    assert.deepEqual(topology('line', names(3)), { n1: ['n2'], n2: ['n1', 'n3'], n3: ['n2'] });
    for (const name of ['grid', 'line', 'total', 'tree2', 'tree3', 'tree4'] as const) {
      for (const n of [1, 2, 5, 25]) assertSymmetricConnected(topology(name, names(n)), names(n));
    }
    const tree = topology('tree4', names(25));
    const edges = Object.values(tree).reduce((s, ns) => s + ns.length, 0) / 2;
    assert.equal(edges, 24, 'a spanning tree');
    assert.ok(Object.values(tree).every((ns) => ns.length <= 5), 'at most a parent and 4 children');
  });

  test("operation streams follow Maelstrom's generators", () => {
    const take = (w: Parameters<typeof operationGenerator>[0], n: number) => {
      const g = operationGenerator(w, new Prng(3));
      return Array.from({ length: n }, () => g());
    };
    const gc = take('g-counter', 3000);
    const gcAdds = gc.filter((o) => o.f === 'add');
    assert.ok(gcAdds.every((o) => typeof o.value === 'number' && o.value >= 0 && o.value <= 4));
    assert.ok(gcAdds.length > 800 && gcAdds.length < 1200, `about a third adds, got ${gcAdds.length}`);
    assert.ok(take('pn-counter', 200).some((o) => o.f === 'add' && (o.value as number) < 0));
    const b = take('broadcast', 200).filter((o) => o.f === 'broadcast');
    assert.deepEqual(b.map((o) => o.value), b.map((_, i) => i));
    assert.deepEqual(b[0]?.body, { type: 'broadcast', message: 0 });
    assert.match(String(take('echo', 1)[0]?.value), /^Please echo \d+$/);
  });

  test('replies: definite errors fail, others and schema breaks are indefinite', () => {
    assert.deepEqual(interpretReply('g-set', 'read', { type: 'read_ok', value: [1, 2] }), { type: 'ok', result: [1, 2] });
    assert.deepEqual(interpretReply('broadcast', 'read', { type: 'read_ok', messages: [3] }), { type: 'ok', result: [3] });
    assert.equal(interpretReply('g-counter', 'read', { type: 'read_ok', value: 1.5 }).type, 'info');
    assert.equal(interpretReply('g-set', 'read', { type: 'read_ok', messages: [1] }).type, 'info', 'g-set reads return value');
    assert.deepEqual(interpretReply('g-set', 'add', { type: 'error', code: 11 }), { type: 'fail', error: { kind: 'code', code: 11 } });
    assert.equal(interpretReply('g-set', 'add', { type: 'error', code: 0 }).type, 'info');
    assert.equal(interpretReply('g-set', 'add', { type: 'error', code: 13, text: 'crash' }).type, 'info');
    assert.equal(interpretReply('unique-ids', 'generate', { type: 'generate_ok' }).type, 'info', 'an id is required');
  });

  test('command-line flags: validation and defaults', () => {
    const usage = (opts: Record<string, unknown>, pattern: RegExp): void =>
      assert.throws(() => harnessArgsFromOptions(opts, []), (e: unknown) => e instanceof UsageError && pattern.test(e.message));
    usage({}, /-w\/--workload is required/);
    usage({ workload: 'no-such-workload' }, /expected one of echo, unique-ids/);
    usage({ workload: 'echo', nemesis: 'partition,crash' }, /--nemesis: expected partition, kill, pause \(comma-separated\), got "crash"/);
    usage({ workload: 'lin-kv', nemesis: 'kill' }, /--nemesis kill with lin-kv: add --node-data-dir DIR/);
    usage({ workload: 'kafka', nemesis: 'partition,kill' }, /--nemesis kill with kafka: add --node-data-dir DIR/);
    usage({ workload: 'echo', seed: '4294967296' }, /--seed/);
    usage({ workload: 'echo', latency: '1.5' }, /--latency/);
    usage({ workload: 'echo', bin: '/nonexistent/node' }, /--bin: "\/nonexistent\/node" is not an executable file/);
    usage({ workload: 'echo', initTimeout: '0' }, /^--init-timeout: expected a number of seconds > 0/);
    assert.equal(harnessArgsFromOptions({ workload: 'echo', initTimeout: '2.5' }, []).input.initTimeoutMs, 2500);
    const args = harnessArgsFromOptions({ workload: 'broadcast', timeLimit: '2.5', rate: '0.5', nemesis: 'partition', topology: 'tree4', json: true }, ['--x']);
    assert.deepEqual(args, {
      input: { workload: 'broadcast', binArgs: ['--x'], timeLimitMs: 2500, rate: 0.5, topology: 'tree4', partition: true },
      json: true,
    });
  });
});

// ---------------------------------------------------------------------------------------------------------
// Real runs: real node processes, real pipes.

const BAD_NODE = `
// Deliberately wrong nodes, by mode: dup-ids hands out the same id; stubborn refuses init and ignores EOF.
import { createInterface } from 'node:readline';
const mode = process.argv[2];
let self = '', next = 0;
const reply = (m, body) => process.stdout.write(JSON.stringify({ src: self, dest: m.src, body: { ...body, msg_id: ++next, in_reply_to: m.body.msg_id } }) + '\\n');
if (mode === 'stubborn') setInterval(() => {}, 1000);
createInterface({ input: process.stdin }).on('line', (line) => {
  const m = JSON.parse(line), b = m.body;
  if (b.type === 'init') { self = b.node_id; reply(m, mode === 'stubborn' ? { type: 'error', code: 11, text: 'not today' } : { type: 'init_ok' }); }
  else if (b.type === 'generate') reply(m, { type: 'generate_ok', id: 7 });
});
`;

const STATE_COUNTER = `
// A state-based pn-counter node: sends its own running total to every peer after each add (FIFO links needed).
import { createInterface } from 'node:readline';
let self = '', peers = [], next = 0;
const totals = {};
const send = (dest, body) => process.stdout.write(JSON.stringify({ src: self, dest, body }) + '\\n');
const reply = (m, body) => send(m.src, { ...body, msg_id: ++next, in_reply_to: m.body.msg_id });
createInterface({ input: process.stdin }).on('line', (line) => {
  const m = JSON.parse(line), b = m.body;
  if (b.type === 'init') { self = b.node_id; peers = b.node_ids.filter((n) => n !== self); reply(m, { type: 'init_ok' }); }
  else if (b.type === 'add') {
    totals[self] = (totals[self] ?? 0) + b.delta;
    for (const p of peers) send(p, { type: 'state', node: self, total: totals[self] });
    reply(m, { type: 'add_ok' });
  } else if (b.type === 'state') totals[b.node] = b.total;
  else if (b.type === 'read') reply(m, { type: 'read_ok', value: Object.values(totals).reduce((a, c) => a + c, 0) });
});
`;

let fixtures = '';
const logDirs: string[] = [];

before(() => {
  fixtures = mkdtempSync(join(tmpdir(), 'chatterbox-harness-test-'));
  writeFileSync(join(fixtures, 'naive-broadcast.mjs'), NAIVE_BROADCAST);
  writeFileSync(join(fixtures, 'bad-node.mjs'), BAD_NODE);
  writeFileSync(join(fixtures, 'state-counter.mjs'), STATE_COUNTER);
});

after(() => {
  rmSync(fixtures, { recursive: true, force: true });
  for (const dir of logDirs) rmSync(dir, { recursive: true, force: true });
});

function kept(report: Report): Report {
  logDirs.push(report.logDir);
  assert.ok(existsSync(join(report.logDir, 'n1.log')), 'node stderr goes to a log file');
  assert.ok(existsSync(join(report.logDir, 'report.json')));
  return report;
}

function explain(report: Report): string {
  return formatReport(report);
}

// One run at a time (node:test's default): each starts its own processes, and the file runs alone (tools/run-tests.mjs).
describe('harness runs against real processes', () => {
  test('echo against chatterbox maelstrom: valid, no server traffic', async () => {
    const r = kept(await runHarness({ ...PATIENT, workload: 'echo', nodeCount: 3, timeLimitMs: 1500, rate: 40, seed: 1 }));
    assert.equal(r.valid, true, explain(r));
    assert.equal(r.check?.kind, 'echo');
    assert.ok(r.ops.total >= 20 && r.ops.ok === r.ops.total, explain(r));
    assert.deepEqual([r.net.serverMessages, r.net.msgsPerOp, r.net.allMsgsPerOp], [0, 0, 2]);
    assert.ok(r.nodes.every((n) => n.exit === 0 && n.crashedAtMs === null), 'nodes exit 0 when stdin closes');
  });

  test('unique-ids against chatterbox maelstrom, under partitions: valid', async () => {
    const r = kept(await runHarness({ ...PATIENT, workload: 'unique-ids', nodeCount: 3, timeLimitMs: 1500, rate: 100, partition: true, nemesisIntervalMs: 200, seed: 2 }));
    assert.equal(r.valid, true, explain(r));
    assert.ok(r.check?.kind === 'unique-ids' && r.check.acknowledged >= 50, explain(r));
    assert.ok((r.nemesis?.partitions.length ?? 0) > 0, 'the nemesis partitioned the network');
    // The nemesis is a sim/faults.ts schedule, cut where the operations ended: the final heal follows every partition.
    for (const p of r.nemesis?.partitions ?? []) assert.ok(p.startMs <= p.endMs && p.endMs <= (r.nemesis?.finalHealMs ?? 0), JSON.stringify(p));
  });

  test('the CLI exits 1 with a JSON report when a node hands out duplicate ids', async () => {
    const { code, stdout, stderr } = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile(
        process.execPath,
        [
          MAIN, 'harness', '-w', 'unique-ids', '--node-count', '2', '--time-limit', '1', '--rate', '20', '--json',
          '--init-timeout', String(HUNG_AFTER_MS / 1000), '--timeout', String(HUNG_AFTER_MS),
          '--bin', process.execPath, '--', join(fixtures, 'bad-node.mjs'), 'dup-ids',
        ],
        { timeout: 3 * HUNG_AFTER_MS },
        (error, stdout, stderr) => resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : -1, stdout, stderr }),
      );
    });
    assert.equal(code, 1, stderr);
    const r = kept(JSON.parse(stdout) as Report);
    assert.equal(r.valid, false);
    assert.ok(r.check?.kind === 'unique-ids' && r.check.duplicatedCount === 1, stdout);
    assert.match(r.problems.join('\n'), /handed out more than once: 7/);
    assert.match(stderr, /node logs in /);
  });

  test('a node that refuses init is a setup problem; nodes that ignore EOF are killed', async () => {
    const r = kept(await runHarness({ ...PATIENT, workload: 'echo', nodeCount: 2, timeLimitMs: 1000, bin: process.execPath, binArgs: [join(fixtures, 'bad-node.mjs'), 'stubborn'] }));
    assert.equal(r.valid, false);
    assert.match(r.problems.join('\n'), /n\d answered init with .*"code":11.*expected init_ok/);
    assert.equal(r.check, null);
    assert.ok(r.nodes.every((n) => n.exit === 'SIGKILL'), JSON.stringify(r.nodes));
  });

  test('a state-based pn-counter on a healthy network: every final read is the sum', async () => {
    const r = kept(
      await runHarness({
        ...PATIENT,
        workload: 'pn-counter',
        nodeCount: 3,
        latencyMs: 20,
        timeLimitMs: 1500,
        rate: 40,
        seed: 6,
        bin: process.execPath,
        binArgs: [join(fixtures, 'state-counter.mjs')],
      }),
    );
    assert.equal(r.valid, true, explain(r));
    assert.ok(r.check?.kind === 'counter', explain(r));
    const finals = Object.values(r.check.finalReads);
    assert.deepEqual(finals, [r.check.definiteSum, r.check.definiteSum, r.check.definiteSum]);
    assert.ok(r.ops.byF['add'] !== undefined && r.ops.byF['add'].ok > 0 && r.net.serverMessages === 2 * r.ops.byF['add'].ok, explain(r));
    assert.ok(r.check.convergence?.afterHealMs !== null);
    assert.equal(r.recovery?.endedBy, 'convergence', 'the recovery wait ends once every node holds the sum');
  });

  test('naive broadcast on a healthy network: valid, with visibility and msgs-per-op', async () => {
    const r = kept(
      await runHarness({
        ...PATIENT,
        workload: 'broadcast',
        nodeCount: 5,
        topology: 'line',
        latencyMs: 10,
        timeLimitMs: 1500,
        rate: 40,
        seed: 4,
        bin: process.execPath,
        binArgs: [join(fixtures, 'naive-broadcast.mjs')],
      }),
    );
    assert.equal(r.valid, true, explain(r));
    assert.ok(r.check?.kind === 'set' && r.check.visibility !== null, explain(r));
    const v = r.check.visibility;
    assert.ok(v.lower.max <= v.upper.max);
    // On a line of 5 with 10 ms per hop, some write needs more than one hop to reach every node.
    assert.ok(v.upper.max >= 10, explain(r));
    // Each broadcast crosses each of the 4 links once; reads cause no server traffic.
    assert.ok(r.net.msgsPerOp !== null && r.net.msgsPerOp > 0 && r.net.msgsPerOp <= 4, explain(r));
    assert.ok((r.probes?.reads ?? 0) > 0 && r.check.convergence?.afterHealMs !== null);
    assert.equal(r.recovery?.endedBy, 'convergence', 'the recovery wait ends once every node holds every write');
  });

  test('naive broadcast under partitions loses messages, and the harness says so', async () => {
    const r = kept(await runHarness(naiveBroadcastUnderPartitions(join(fixtures, 'naive-broadcast.mjs'))));
    assert.ok(r.net.droppedByPartition > 0, explain(r));
    assert.equal(r.valid, false, explain(r));
    assert.ok(r.check?.kind === 'set' && r.check.lostCount > 0);
    assert.equal(r.check.convergence?.afterHealMs, null);
    assert.equal(r.recovery?.endedBy, 'time', 'what never converges waits out the recovery');
  });
});
