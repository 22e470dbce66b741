/**
 * The reports' pure parts: the simulator's trace accounts for every message exactly as its stats do, the
 * simulator page names the failure and every node, the harness page links each lost element to the operation
 * that wrote it and to the final reads that miss it, and the `--report` flag's rules.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { harnessArgsFromOptions } from '../src/cli/harness-command.js';
import { reportDirectory } from '../src/cli/harness-report.js';
import { runSimCommand, simArgsFromOptions } from '../src/cli/sim-command.js';
import { harnessReportHtml, stableLatencies } from '../src/harness/report-page.js';
import type { Op, Report, SetCheck } from '../src/harness/types.js';
import { UsageError } from '../src/platform/user-errors.js';
import { simReportHtml } from '../src/sim/report.js';
import { drawAgreementScenario, runAgreementScenario } from '../src/sim/scenarios/agreement.js';
import { recordTrace, type RecordedTrace } from '../src/sim/trace.js';

test("the simulator's trace accounts for every message as its stats do", () => {
  for (const seed of [1, 2, 3, 4, 5]) {
    let trace: RecordedTrace = { events: [], total: 0 };
    const verdict = runAgreementScenario(drawAgreementScenario(seed, 'stream', { nodeCount: 4 }), (sim) => {
      trace = recordTrace(sim, Infinity);
    });
    const st = verdict.report.stats;
    const count = (kind: string, reason?: string): number => trace.events.filter((e) => e.kind === kind && (reason === undefined || (e.kind === 'drop' && e.reason === reason))).length;
    assert.equal(trace.total, trace.events.length);
    assert.equal(count('send'), st.sent, `seed ${seed}: sends`);
    assert.equal(count('receive'), st.delivered, `seed ${seed}: receipts`);
    assert.equal(count('duplicate'), st.duplicated);
    assert.equal(count('drop', 'loss'), st.lost);
    assert.equal(count('drop', 'partition'), st.droppedByPartition);
    assert.equal(count('drop', 'crashed'), st.droppedAtCrashedNode);
    assert.equal(count('drop', 'unstarted'), st.droppedAtUnstartedNode);
    assert.equal(count('drop', 'halted'), st.droppedAtHaltedNode);
    assert.equal(count('timer'), st.timersFired);
    const outputs = [...verdict.report.outputs.values()].reduce((n, list) => n + list.length, 0);
    assert.equal(count('output'), outputs);
    // Every receipt and drop names a message that was sent, and comes no earlier than its send.
    const sentAt = new Map(trace.events.flatMap((e) => (e.kind === 'send' ? [[e.id, e.atMs] as const] : [])));
    for (const e of trace.events) if (e.kind === 'receive' || e.kind === 'drop') assert.ok(e.atMs >= sentAt.get(e.id)!, `#${e.id}`);
  }
});

test('the trace keeps at most its bound of events and counts the rest', () => {
  let trace: RecordedTrace = { events: [], total: 0 };
  runAgreementScenario(drawAgreementScenario(1, 'stream', { nodeCount: 3 }), (sim) => {
    trace = recordTrace(sim, 100);
  });
  assert.equal(trace.events.length, 100);
  assert.ok(trace.total > 100);
});

test('the simulator page shows every node and, for a failure, the assertion with its node and time', () => {
  const scenario = drawAgreementScenario(2, 'lockstep', { nodeCount: 3 });
  let trace: RecordedTrace = { events: [], total: 0 };
  runAgreementScenario(scenario, (sim) => {
    trace = recordTrace(sim);
  });
  const base = { title: 't', seed: 2, nodes: scenario.nodes, faults: scenario.faults, endedAtMs: 100, trace, settings: [], problems: [], replay: 'chatterbox sim --seed 2' };
  const passed = simReportHtml(base);
  for (const n of scenario.nodes) assert.match(passed, new RegExp(`data-lane="${n}"`));
  assert.doesNotMatch(passed, /id="failure"/);
  const failed = simReportHtml({ ...base, failure: { text: 'seed=2 at 50ms node=n2: protocol invariant failed: <bad>', node: scenario.nodes[1]!, atMs: 50 } });
  assert.match(failed, /id="failure"/);
  assert.match(failed, /protocol invariant failed: &lt;bad&gt;/);
  assert.match(failed, /id="failure-mark"/);
});

function op(index: number, partial: Partial<Op> & Pick<Op, 'f' | 'node' | 'invokeMs'>): Op {
  return { index, value: null, client: `c${partial.node.slice(1)}`, completeMs: partial.invokeMs + 1, type: 'ok', final: false, probe: false, ...partial };
}

test('the harness page links a lost element to its write and to the final reads that miss it', () => {
  const ops: Op[] = [
    op(0, { f: 'broadcast', node: 'n1', invokeMs: 10, value: 7 }),
    op(1, { f: 'broadcast', node: 'n2', invokeMs: 20, value: 8 }),
    op(2, { f: 'read', node: 'n1', invokeMs: 30, result: [7, 8], probe: true }),
    op(3, { f: 'read', node: 'n2', invokeMs: 40, result: [8], probe: true }),
    op(4, { f: 'read', node: 'n1', invokeMs: 100, result: [7, 8], final: true }),
    op(5, { f: 'read', node: 'n2', invokeMs: 100, result: [8], final: true }),
  ];
  const check = { kind: 'set', valid: false, problems: ['lost 1'], lost: [7], lostCount: 1, unexpected: [], unexpectedCount: 0 } as unknown as SetCheck;
  const report = {
    valid: false,
    unknown: false,
    problems: ['lost 1'],
    undecided: [],
    config: { workload: 'broadcast', bin: 'node', binArgs: [], nodeCount: 2, timeLimitS: 1, rate: 1, concurrency: 2, latencyMs: 0, latencyDist: 'constant', topology: 'grid', nemesis: [], nemesisIntervalS: 1, recoveryS: 1, timeoutMs: 1000, probeMs: 25, seed: 1 },
    logDir: '/tmp/x',
    durationMs: 120,
    nodes: [{ id: 'n1', log: '', exit: 0, crashedAtMs: null }, { id: 'n2', log: '', exit: 0, crashedAtMs: null }],
    ops: { total: 4, ok: 4, failed: 0, indefinite: 0, byF: {} },
    net: { serverMessages: 2, clientMessages: 8, droppedByPartition: 1, msgsPerOp: 0.5, allMsgsPerOp: 2.5, lateReplies: 0, badLines: 0 },
    probes: null,
    nemesis: null,
    recovery: null,
    check,
  } as unknown as Report;
  const html = harnessReportHtml({ report, ops, messages: { kept: [], total: 0, probes: 0 }, assets: { js: 'var uPlot;', css: '' } });
  const lost = /<li class="anomaly lost"[^]*?<\/li>/.exec(html)?.[0] ?? '';
  assert.match(lost, /href="#op-0"/, 'the write');
  assert.match(lost, /href="#op-5"/, 'the final read on n2 that misses it');
  assert.doesNotMatch(lost, /href="#op-4"/, 'not the final read that has it');
  assert.match(html, /class="op ok" id="op-0"/, 'the link target is on the timeline');
  assert.doesNotMatch(html, /id="op-2"/, 'probe reads are not drawn');
  // Stable latency: 7 was never seen on n2, 8 reached both by the probe read completing at 41 ms.
  assert.deepEqual(stableLatencies(ops, ['n1', 'n2']), [{ invokeMs: 20, stableMs: 21 }]);
});

test('--report pictures one seed: not with --runs, and with the agreement job of one protocol (stream by default)', () => {
  assert.deepEqual(simArgsFromOptions({ seed: '3', report: 'x.html' }).protocols, ['stream']);
  assert.deepEqual(simArgsFromOptions({ seed: '3', protocol: 'lockstep', report: 'x.html' }).protocols, ['lockstep']);
  assert.throws(() => simArgsFromOptions({ runs: '2', report: 'x.html' }), (e: unknown) => e instanceof UsageError && /--report: pictures one seed; drop --runs/.test(e.message));
  assert.throws(() => simArgsFromOptions({ protocol: 'both', report: 'x.html' }), (e: unknown) => e instanceof UsageError && /give --protocol stream or lockstep/.test(e.message));
  assert.equal(simArgsFromOptions({ workload: 'g-set', report: 'x.html' }).report, 'x.html');
});

test('sim --report writes the page for the agreement job and for a workload, and says where', () => {
  const dir = mkdtempSync(join(tmpdir(), 'chatterbox-sim-report-'));
  for (const [opts, title] of [
    [{ seed: '5', nodes: '3', protocol: 'lockstep' }, /agreement job, protocol lockstep/],
    [{ seed: '2', nodes: '3', workload: 'g-set' }, /g-set workload/],
  ] as const) {
    const file = join(dir, `${title.source.split(' ')[0]}.html`);
    const lines: string[] = [];
    assert.equal(runSimCommand(simArgsFromOptions({ ...opts, report: file }), (l) => lines.push(l)), 0);
    assert.equal(lines[lines.length - 1], `report: ${file}`);
    const page = readFileSync(file, 'utf8');
    assert.match(page, title);
    assert.match(page, /The run as printed/, 'what the command printed is on the page');
    for (const n of ['n1', 'n2', 'n3']) assert.match(page, new RegExp(`data-lane="${n}"`));
    // A workload's page carries the harness's sections too: its verdict, charts (uPlot inlined) and operations.
    if ('workload' in opts) {
      assert.match(page, /<h2>Verdict<\/h2>/);
      assert.match(page, /data-chart="chart-latency"/);
      assert.match(page, /class="op ok" id="op-\d+"/);
      assert.match(page, /uPlot/);
    } else assert.doesNotMatch(page, /data-chart=/);
  }
  assert.throws(() => runSimCommand(simArgsFromOptions({ seed: '1', report: join(dir, 'no', 'such', 'dir', 'x.html') }), () => {}), UsageError);
});

test('harness --report takes a directory', () => {
  assert.equal(harnessArgsFromOptions({ workload: 'echo', report: 'run1' }, []).report, 'run1');
  assert.equal(harnessArgsFromOptions({ workload: 'echo' }, []).report, undefined);
  assert.throws(() => reportDirectory('/proc/no-such-place/report'), (e: unknown) => e instanceof UsageError && /^--report \/proc\/no-such-place\/report: cannot be created or written/.test(e.message));
});
