import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { runSimCommand, simArgsFromOptions } from '../../src/cli/sim-command.js';
import { SIM_WORKLOADS } from '../../src/harness/simulated.js';
import { MAIN } from './helpers/processes.js';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'chatterbox-sim-'));

function capture(opts: Record<string, string>): { code: number; lines: string[] } {
  const lines: string[] = [];
  const code = runSimCommand(simArgsFromOptions(opts), (l) => lines.push(l));
  return { code, lines };
}

test('one seed prints the schedule, every line and the verdict; the same seed prints the same', () => {
  const a = capture({ seed: '132', protocol: 'stream' });
  assert.equal(a.code, 0);
  assert.match(a.lines[0] ?? '', /^seed 132, protocol stream, simulation tuning: \d nodes/);
  assert.ok(a.lines.some((l) => /^ {2}partition \d+–\d+ ms/.test(l)));
  assert.ok(a.lines.some((l) => /verdict: every live node printed the same line/.test(l)));
  assert.deepEqual(capture({ seed: '132', protocol: 'stream' }).lines, a.lines);
});

test('--tuning process runs what chatterbox node ships, and --start-skew starts the nodes apart', () => {
  const { code, lines } = capture({ seed: '133', protocol: 'stream', tuning: 'process', startSkew: '1' });
  assert.equal(code, 0);
  assert.match(lines[0] ?? '', /^seed 133, protocol stream, process tuning:/);
  assert.match(lines[1] ?? '', /^ {2}starts \(ms, \+start-up\): n1 \d+/);
  assert.ok(lines.some((l) => /verdict: every live node printed the same line/.test(l)));
  assert.throws(() => simArgsFromOptions({ tuning: 'fast' }), /--tuning: expected one of process, simulation, got "fast"/);
});

test('a sweep reports per protocol', () => {
  const { code, lines } = capture({ seed: '1', runs: '40' });
  assert.equal(code, 0);
  assert.match(lines.at(-2) ?? '', /^stream: 40 scenarios from seed 1: 40 agreed, 0 failed$/);
  assert.match(lines.at(-1) ?? '', /^lockstep: 40 scenarios from seed 1: /);
});

test('an explicit fault schedule replaces the drawn one', () => {
  const file = join(dir, 'faults.json');
  writeFileSync(file, JSON.stringify([{ kind: 'crash', atMs: 300, node: 'n2' }]));
  const { code, lines } = capture({ seed: '4', protocol: 'lockstep', nodes: '3', sendFor: '1', faults: file });
  assert.equal(code, 0);
  assert.ok(lines.includes('  crash n2 at 300 ms, for good'), lines.join('\n'));
  assert.equal(lines.filter((l) => /^ {2}(partition|crash) /.test(l)).length, 1);
});

test('a schedule may pause a node; the printout shows the pause', () => {
  const file = join(dir, 'pause.json');
  writeFileSync(file, JSON.stringify([{ kind: 'pause', atMs: 300, resumeAtMs: 1500, node: 'n2' }]));
  const { lines } = capture({ seed: '4', protocol: 'stream', nodes: '3', sendFor: '1', faults: file });
  assert.ok(lines.includes('  pause n2 at 300 ms, resume at 1500 ms'), lines.join('\n'));
  assert.equal(lines.filter((l) => /^ {2}(partition|crash|pause) /.test(l)).length, 1);
  // Stopped through the end of sending, n2 printed only after its resume.
  const n2 = lines.find((l) => l.startsWith('  n2: ')) ?? '';
  const printedAt = Number(/\(at (\d+) ms/.exec(n2)?.[1]);
  assert.ok(printedAt >= 1500, n2);
});

test('a workload is crash-recovery: a crash in its schedule may restart, and such a run is valid', () => {
  const file = join(dir, 'workload-restart.json');
  writeFileSync(file, JSON.stringify([{ kind: 'crash', atMs: 800, node: 'n2', restartAtMs: 1500 }, { kind: 'crash', atMs: 900, node: 'n3', restartAtMs: 1200, loseDurableState: true }]));
  for (const workload of ['g-set', 'pn-counter', 'broadcast']) {
    const { code, lines } = capture({ workload, seed: '3', nodes: '3', faults: file });
    assert.equal(code, 0, lines.join('\n'));
    assert.ok(lines.includes('  crash n2 at 800 ms, restart at 1500 ms'), lines.join('\n'));
    assert.ok(lines.includes('  crash n3 at 900 ms losing its store, restart at 1200 ms'), lines.join('\n'));
    assert.equal(lines.at(-1), '  verdict: valid');
  }
  // The agreement job stays crash-stop.
  assert.throws(() => simArgsFromOptions({ nodes: '3', faults: file }), /entry 0, restartAtMs: crashes in an agreement schedule are for good/);
});

test('a schedule may partition as a majorities ring, in the agreement job and under a workload', () => {
  const file = join(dir, 'ring.json');
  writeFileSync(file, JSON.stringify([{ kind: 'partition', atMs: 200, healAtMs: 1500, ring: ['n1', 'n3', 'n5', 'n2', 'n4'] }]));
  const ring = '  partition 200–1500 ms: majorities ring n1 n3 n5 n2 n4, each node hears the 3 nearest';
  const job = capture({ seed: '4', protocol: 'stream', nodes: '5', sendFor: '1', faults: file });
  assert.equal(job.code, 0, job.lines.join('\n'));
  assert.ok(job.lines.includes(ring), job.lines.join('\n'));
  assert.match(job.lines.find((l) => l.startsWith('  messages: ')) ?? '', /[1-9]\d* cut by partitions/);
  const workload = capture({ workload: 'g-set', seed: '4', nodes: '5', faults: file });
  assert.equal(workload.code, 0, workload.lines.join('\n'));
  assert.ok(workload.lines.includes(ring), workload.lines.join('\n'));
  const bad = (content: unknown, nodes: string): void => {
    writeFileSync(file, JSON.stringify(content));
    assert.throws(() => simArgsFromOptions({ nodes, faults: file }), (e: Error) => e.message.includes(file) && /ring|groups/.test(e.message));
  };
  bad([{ kind: 'partition', atMs: 1, healAtMs: 2, ring: ['n1', 'n2', 'n3'] }], '3'); // fewer than 4: nothing to cut
  bad([{ kind: 'partition', atMs: 1, healAtMs: 2, ring: ['n1', 'n2', 'n3', 'n4'] }], '5'); // not every node
  bad([{ kind: 'partition', atMs: 1, healAtMs: 2, ring: ['n1', 'n2', 'n2', 'n3'] }], '4'); // a node twice
  bad([{ kind: 'partition', atMs: 1, healAtMs: 2 }], '3'); // neither form
  bad([{ kind: 'partition', atMs: 1, healAtMs: 2, groups: [['n1']], ring: ['n1', 'n2', 'n3', 'n4'] }], '4'); // both
});

test('bad --faults files are usage errors naming the file', async () => {
  const cases: Array<[string, RegExp]> = [
    ['[{"kind":"crash","atMs":1,"node":"n7"}]', /names n7, but the cluster has 3 nodes/],
    ['[{"kind":"pause","atMs":300,"resumeAtMs":300,"node":"n2"}]', /entry 0: resumeAtMs must be finite and after atMs/],
    [
      '[{"kind":"pause","atMs":300,"resumeAtMs":400,"node":"n2"},{"kind":"crash","atMs":1,"node":"n1"},{"kind":"pause","atMs":400,"resumeAtMs":500,"node":"n2"}]',
      /entry 2: pauses of n2 overlap or touch entry 0/,
    ],
    ['[{"kind":"pause","atMs":300,"node":"n2"}]', /entry 0, resumeAtMs: missing/],
    ['[{"kind":"quake","atMs":1}]', /entry 0, kind: /],
    ['{not json', /not JSON/],
  ];
  for (const [content, message] of cases) {
    const file = join(dir, `bad-${cases.findIndex((c) => c[0] === content)}.json`);
    writeFileSync(file, content);
    const failure = await run(process.execPath, [MAIN, 'sim', '--nodes', '3', '--faults', file]).then(
      () => assert.fail('expected exit 2'),
      (e: { code: number; stderr: string }) => e,
    );
    assert.equal(failure.code, 2);
    assert.match(failure.stderr, message);
    assert.ok(failure.stderr.includes(file));
    assert.equal(failure.stderr.trim().split('\n').length, 1);
  }
});

test('--workload simulates a shipped Maelstrom workload: one seed in full, the same every time, and sweeps', () => {
  const a = capture({ workload: 'g-set', seed: '7', nodes: '3', preset: 'latency' });
  assert.equal(a.code, 0, a.lines.join('\n'));
  assert.match(a.lines[0] ?? '', /^seed 7, workload g-set \(preset latency\): 3 nodes, \d+ s at \d+ ops\/s from 3 clients$/);
  // Raft's workloads take no gossip preset, so none is named.
  assert.match(capture({ workload: 'lin-kv', seed: '7' }).lines[0] ?? '', /^seed 7, workload lin-kv: \d nodes, /);
  assert.ok(a.lines.some((l) => /^ {2}set: \d+ attempted, \d+ acknowledged/.test(l)), a.lines.join('\n'));
  assert.equal(a.lines.at(-1), '  verdict: valid');
  assert.deepEqual(capture({ workload: 'g-set', seed: '7', nodes: '3', preset: 'latency' }).lines, a.lines);
  const sweep = capture({ workload: 'pn-counter', runs: '5' });
  assert.equal(sweep.code, 0, sweep.lines.join('\n'));
  assert.deepEqual(sweep.lines, ['pn-counter: 5 runs from seed 1: 5 valid, 0 invalid']);
});

test('--workload takes only the flags that apply to it', () => {
  assert.throws(() => simArgsFromOptions({ workload: 'no-such' }), new RegExp(`--workload: expected one of ${SIM_WORKLOADS.join(', ')}, got "no-such"`));
  assert.throws(() => simArgsFromOptions({ workload: 'g-set', consistencyModels: 'read-committed' }), /--consistency-models: applies only with --workload txn-rw-register/);
  assert.throws(() => simArgsFromOptions({ workload: 'txn-rw-register', consistencyModels: 'read-committed,snapshot' }), /--consistency-models: expected one of read-uncommitted, .*got "snapshot"/);
  assert.deepEqual(simArgsFromOptions({ workload: 'txn-rw-register', consistencyModels: 'read-uncommitted, read-committed' }).maelstrom?.draw.consistencyModels, ['read-uncommitted', 'read-committed']);
  assert.throws(() => simArgsFromOptions({ workload: 'g-set', protocol: 'stream' }), /--protocol: applies to the agreement job, not with --workload/);
  assert.throws(() => simArgsFromOptions({ workload: 'g-set', preset: 'fast' }), /--preset: expected one of latency, messages, got "fast"/);
  assert.throws(() => simArgsFromOptions({ preset: 'latency' }), /--preset: applies only with --workload/);
});
