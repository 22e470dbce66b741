/**
 * What survives a kill: `chatterbox maelstrom --data-dir` (each node's store, refused when it cannot be used) and
 * the harness's kill and pause nemeses against real processes, judged with and without the nodes' data dirs.
 * Every wait is for an event (a reply, an exit, a converged read), bounded only by HUNG_AFTER_MS.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { harnessArgsFromOptions } from '../../src/cli/harness-command.js';
import { formatReport } from '../../src/harness/format.js';
import { runHarness } from '../../src/harness/runner.js';
import type { Report } from '../../src/harness/types.js';
import { UsageError } from '../../src/platform/user-errors.js';
import { PATIENT } from './helpers/harness.js';
import { HUNG_AFTER_MS, MAIN, startChatterbox, type Running } from './helpers/processes.js';

const scratch: string[] = [];
after(() => {
  for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'chatterbox-nemesis-test-'));
  scratch.push(dir);
  return dir;
}

type Body = Record<string, unknown> & { type: string };

/** `chatterbox maelstrom` as n1 with stdin open; `ask` sends a request and awaits its reply by msg_id. */
function maelstrom(args: readonly string[]): Running & { ask(msgId: number, body: Body): Promise<Body> } {
  const running = startChatterbox(['maelstrom', '--log-level', 'warn', ...args], {}, 'pipe');
  return {
    ...running,
    async ask(msgId, body) {
      running.child.write(`${JSON.stringify({ src: 'c1', dest: 'n1', body: { ...body, msg_id: msgId } })}\n`);
      const line = await running.stdoutMatching((l) => (JSON.parse(l) as { body: { in_reply_to?: number } }).body.in_reply_to === msgId);
      return (JSON.parse(line) as { body: Body }).body;
    },
  };
}

describe('chatterbox maelstrom --data-dir', () => {
  test('a g-set node killed and started again on its data dir keeps what it acknowledged, and runs its workload at once', async () => {
    const dir = tempDir();
    const first = maelstrom(['--data-dir', dir]);
    assert.equal((await first.ask(1, { type: 'init', node_id: 'n1', node_ids: ['n1'] })).type, 'init_ok');
    assert.equal((await first.ask(2, { type: 'add', element: 7 })).type, 'add_ok');
    assert.equal((await first.ask(3, { type: 'add', element: 8 })).type, 'add_ok');
    first.child.signal('SIGKILL');
    assert.equal(await first.exited, 'SIGKILL');
    assert.ok(existsSync(join(dir, 'n1.sqlite')), 'the store is <dir>/<node id>.sqlite');

    const second = maelstrom(['--data-dir', dir]);
    assert.equal((await second.ask(1, { type: 'init', node_id: 'n1', node_ids: ['n1'] })).type, 'init_ok');
    // A read alone could be any workload's: the store says which one this node ran.
    const read = await second.ask(2, { type: 'read' });
    assert.equal(read.type, 'read_ok', JSON.stringify(read));
    assert.deepEqual([...(read['value'] as unknown[])].map(String).sort(), ['7', '8']);
    second.child.endInput();
    assert.equal(await second.exited, 0);
  });

  test('a node killed and started again never repeats an id it generated before', async () => {
    const first = maelstrom([]);
    await first.ask(1, { type: 'init', node_id: 'n1', node_ids: ['n1'] });
    const before = [(await first.ask(2, { type: 'generate' }))['id'], (await first.ask(3, { type: 'generate' }))['id']];
    first.child.signal('SIGKILL');
    await first.exited;
    const second = maelstrom([]);
    await second.ask(1, { type: 'init', node_id: 'n1', node_ids: ['n1'] });
    const after = [(await second.ask(2, { type: 'generate' }))['id'], (await second.ask(3, { type: 'generate' }))['id']];
    assert.equal(new Set([...before, ...after]).size, 4, `ids ${JSON.stringify([...before, ...after])}`);
    second.child.endInput();
    assert.equal(await second.exited, 0);
  });

  test('without a data dir a restarted node starts empty', async () => {
    const first = maelstrom([]);
    await first.ask(1, { type: 'init', node_id: 'n1', node_ids: ['n1'] });
    assert.equal((await first.ask(2, { type: 'add', element: 1 })).type, 'add_ok');
    first.child.signal('SIGKILL');
    await first.exited;
    const second = maelstrom([]);
    await second.ask(1, { type: 'init', node_id: 'n1', node_ids: ['n1'] });
    const read = await second.ask(2, { type: 'read' });
    assert.deepEqual([read.type, read['code']], ['error', 11], 'no workload is known yet, so a read is ambiguous');
    second.child.endInput();
    assert.equal(await second.exited, 0);
  });

  test('a store of another cluster refuses init (error 13) and exits 2; one in use exits 1; each with one line', async () => {
    const dir = tempDir();
    const owner = maelstrom(['--data-dir', dir]);
    await owner.ask(1, { type: 'init', node_id: 'n1', node_ids: ['n1'] });

    const rival = maelstrom(['--data-dir', dir]);
    const busy = await rival.ask(1, { type: 'init', node_id: 'n1', node_ids: ['n1'] });
    assert.deepEqual([busy.type, busy['code']], ['error', 13]);
    assert.match(String(busy['text']), /in use by another process/);
    assert.equal(await rival.exited, 1);
    assert.deepEqual(rival.stderrLines.filter((l) => l.startsWith('chatterbox:')).length, 1, rival.stderrLines.join('\n'));

    owner.child.endInput();
    assert.equal(await owner.exited, 0);
    const stranger = maelstrom(['--data-dir', dir]);
    const refused = await stranger.ask(1, { type: 'init', node_id: 'n1', node_ids: ['n1', 'n2'] });
    assert.deepEqual([refused.type, refused['code']], ['error', 13]);
    assert.equal(await stranger.exited, 2);
    assert.ok(stranger.stderrLines.some((l) => /^chatterbox: --data-dir: .*belongs to node "n1" of cluster "maelstrom:n1"/.test(l)), stranger.stderrLines.join('\n'));
  });

  test('a data dir that cannot be made exits 1 at start, in one line', async () => {
    const file = join(tempDir(), 'a-file');
    writeFileSync(file, 'not a directory');
    const node = maelstrom(['--data-dir', join(file, 'sub')]);
    assert.equal(await node.exited, 1);
    const lines = node.stderrLines.filter((l) => l.trim().length > 0);
    assert.equal(lines.length, 1, lines.join('\n'));
    assert.match(lines[0] ?? '', /^chatterbox: --data-dir .*: cannot be created or written/);
  });
});

describe('harness nemesis flags', () => {
  test('--nemesis takes partition, kill, pause; --node-data-dir needs {data-dir} in a --bin node\'s arguments', () => {
    const usage = (opts: Record<string, unknown>, binArgs: string[], pattern: RegExp): void =>
      assert.throws(() => harnessArgsFromOptions(opts, binArgs), (e: unknown) => e instanceof UsageError && pattern.test(e.message));
    usage({ workload: 'g-set', nemesis: 'kill,stop' }, [], /^--nemesis: expected partition, kill, pause \(comma-separated\), got "stop"$/);
    usage({ workload: 'g-set', nodeDataDir: '' }, [], /^--node-data-dir: expected a directory name/);
    usage({ workload: 'g-set', nodeDataDir: '/tmp/x', bin: process.execPath }, ['node.js'], /^--node-data-dir: put \{data-dir\} in the node's arguments/);
    usage({ workload: 'g-set', nemesis: 'kill', nemesisInterval: '0.001', timeLimit: '60' }, [], /makes too many kills \(at most 5000 on average\)/);
    const args = harnessArgsFromOptions({ workload: 'g-set', nemesis: 'pause, kill', nodeDataDir: 'rel/dir' }, []);
    assert.deepEqual([args.input.partition, args.input.kill, args.input.pause], [false, true, true]);
    assert.deepEqual([harnessArgsFromOptions({ workload: 'g-set' }, []).input.kill, harnessArgsFromOptions({ workload: 'g-set' }, []).input.pause], [undefined, undefined]);
    assert.equal(args.input.nodeDataDir, join(process.cwd(), 'rel/dir'), 'made absolute, as nodes may run elsewhere');
  });

  test('the CLI refuses a node data dir that holds an earlier run\'s state (exit 2, one line)', async () => {
    const dir = tempDir();
    mkdirSync(join(dir, 'n2'));
    writeFileSync(join(dir, 'n2', 'n2.sqlite'), '');
    const { code, stderr } = await new Promise<{ code: number; stderr: string }>((resolve) => {
      execFile(process.execPath, [MAIN, 'harness', '-w', 'g-set', '--node-count', '2', '--node-data-dir', dir], { timeout: HUNG_AFTER_MS }, (error, _stdout, stderr) =>
        resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : -1, stderr }),
      );
    });
    assert.equal(code, 2, stderr);
    assert.match(stderr, /^chatterbox: --node-data-dir .*n2 is not empty/m);
  });
});

const explain = (r: Report): string => formatReport(r);

function kept(r: Report): Report {
  scratch.push(r.logDir);
  return r;
}

interface RecordedOp {
  readonly node: string;
  readonly type: string;
  readonly completeMs: number;
  readonly error?: { readonly code?: number; readonly text?: string };
}

/** The run's history.jsonl. */
function recorded(r: Report): RecordedOp[] {
  return readFileSync(join(r.logDir, 'history.jsonl'), 'utf8').trim().split('\n').map((line) => JSON.parse(line) as RecordedOp);
}

const isForgotten = (op: RecordedOp): boolean => op.type === 'info' && /crashed later/.test(op.error?.text ?? '');

/** Operations a node completed before its last kill (each incarnation then had a kill to come). */
function beforeLastKill(r: Report, history: readonly RecordedOp[]): RecordedOp[] {
  const lastKill = new Map<string, number>();
  for (const e of r.nemesis?.processes ?? []) if (e.kind === 'kill') lastKill.set(e.node, Math.max(lastKill.get(e.node) ?? 0, e.startMs));
  return history.filter((op) => op.completeMs < (lastKill.get(op.node) ?? -Infinity));
}

/** A small g-set run under the process nemesis: short, frequent faults so that a few land in every run. */
const GSET = { ...PATIENT, workload: 'g-set', nodeCount: 3, timeLimitMs: 3000, rate: 30, nemesisIntervalMs: 400 } as const;

describe('harness kill and pause against chatterbox maelstrom', () => {
  test('kill with data dirs: valid, and answers of killed nodes stay definite', async () => {
    const dataDir = tempDir();
    const r = kept(await runHarness({ ...GSET, kill: true, nodeDataDir: dataDir, seed: 11 }));
    assert.equal(r.valid, true, explain(r));
    const kills = r.nemesis?.processes?.filter((e) => e.kind === 'kill') ?? [];
    assert.ok(kills.length > 0, explain(r));
    for (const k of kills) assert.ok(k.initOkMs !== null && k.initOkMs !== undefined && k.initOkMs >= k.endMs && k.endMs > k.startMs, JSON.stringify(k));
    assert.ok(r.nodes.every((n) => n.crashedAtMs === null), 'a kill is no crash');
    assert.ok(existsSync(join(dataDir, 'n1', 'n1.sqlite')), 'each node keeps its store in <dir>/<node id>');
    // Nodes that keep their state answer for good, killed later or not.
    assert.equal(recorded(r).filter(isForgotten).length, 0, 'nothing is forgotten with data dirs');
    assert.equal(r.config.nodeDataDir, dataDir);
    assert.ok(r.cpu !== undefined && r.cpu.harnessMs > 0 && (r.cpu.nodesMs ?? 0) > 0, JSON.stringify(r.cpu));
  });

  test('kill without data dirs: valid, with what the killed nodes answered before judged indefinite', async () => {
    const r = kept(await runHarness({ ...GSET, kill: true, seed: 11 }));
    assert.equal(r.valid, true, explain(r));
    const kills = r.nemesis?.processes?.filter((e) => e.kind === 'kill') ?? [];
    assert.ok(kills.length > 0, explain(r));
    // Every answer a node gave before a kill of it is indefinite (forgotten, or in flight at the kill); a request
    // for it while it was down failed. None of them is a definite ok.
    const early = beforeLastKill(r, recorded(r));
    assert.deepEqual(early.filter((op) => op.type === 'ok'), [], explain(r));
    assert.ok(early.every((op) => isForgotten(op) || op.type === 'fail' || op.error?.code === 13), JSON.stringify(early));
  });

  test('pause: valid; paused nodes catch up after SIGCONT', async () => {
    const r = kept(await runHarness({ ...GSET, pause: true, seed: 12 }));
    assert.equal(r.valid, true, explain(r));
    const pauses = r.nemesis?.processes?.filter((e) => e.kind === 'pause') ?? [];
    assert.ok(pauses.length > 0, explain(r));
    assert.ok(r.nodes.every((n) => n.exit === 0), 'every node exits 0 at the end: all were resumed');
    assert.equal(r.recovery?.endedBy, 'convergence', explain(r));
  });

  test('partition, kill and pause together, with data dirs: valid, all over by the final heal', async () => {
    const r = kept(await runHarness({ ...GSET, partition: true, kill: true, pause: true, nodeDataDir: tempDir(), seed: 13 }));
    assert.equal(r.valid, true, explain(r));
    assert.deepEqual(r.config.nemesis, ['partition', 'kill', 'pause']);
    const heal = r.nemesis?.finalHealMs ?? 0;
    for (const e of r.nemesis?.processes ?? []) assert.ok(e.endMs <= heal, JSON.stringify(e));
    // One node at a time: each fault ends before the next starts.
    const events = r.nemesis?.processes ?? [];
    for (let i = 1; i < events.length; i++) assert.ok(events[i]!.startMs >= events[i - 1]!.endMs, JSON.stringify(events));
  });
});

describe('harness kill and pause: the other replicated workloads', () => {
  for (const workload of ['broadcast', 'pn-counter'] as const) {
    test(`${workload}: partition, kill and pause with data dirs, and kill without them: valid`, async () => {
      const keeping = kept(await runHarness({ ...GSET, workload, partition: true, kill: true, pause: true, nodeDataDir: tempDir(), seed: 21 }));
      assert.equal(keeping.valid, true, explain(keeping));
      assert.ok((keeping.nemesis?.processes?.length ?? 0) > 0, explain(keeping));
      const forgetful = kept(await runHarness({ ...GSET, workload, kill: true, seed: 22 }));
      assert.equal(forgetful.valid, true, explain(forgetful));
      assert.deepEqual(beforeLastKill(forgetful, recorded(forgetful)).filter((op) => op.type === 'ok'), [], explain(forgetful));
    });
  }
});
