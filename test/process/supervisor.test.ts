/**
 * The process supervisor (src/supervisor/supervisor.ts) with real children: output as lines, waits on events,
 * signals, stop with a grace, the bound on running children, and no orphans when the parent exits.
 * Every wait is on an event (a line, an exit, a pipe's end), bounded by HUNG_AFTER_MS only to turn a hang into a
 * failure; the grace periods only decide how a child ends, never whether the test passes.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ChildSet, MAX_LINE_CHARS } from '../../src/supervisor/supervisor.js';
import { HUNG_AFTER_MS } from './helpers/processes.js';

const SUPERVISOR_URL = pathToFileURL(fileURLToPath(new URL('../../src/supervisor/supervisor.js', import.meta.url))).href;
const children = new ChildSet();

/** `promise`, or a failure naming `what` once HUNG_AFTER_MS has passed without it. */
async function unlessHung<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`hung: ${what} did not happen within ${HUNG_AFTER_MS} ms`)), HUNG_AFTER_MS);
  });
  try {
    return await Promise.race([promise, hung]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * A wrapper script without `exec`: a shell running a node grandchild running `script`, the grandchild inheriting
 * the shell's stdin and stdout (the `; true` keeps the shell from exec'ing its last command). `ownGroup`: the
 * grandchild leaves the shell's process group (setsid), as a daemonizing one would.
 */
function wrapper(script: string, ownGroup = false): ReturnType<ChildSet['start']> {
  return children.start({
    command: '/bin/sh',
    args: ['-c', `${ownGroup ? 'setsid ' : ''}"$WRAPPED_NODE" --input-type=module -e "$WRAPPED_SCRIPT"; true`],
    env: { ...process.env, WRAPPED_NODE: process.execPath, WRAPPED_SCRIPT: script },
  });
}

/** A node child running `script` (an ES module's text). */
function node(script: string, stdin: 'pipe' | 'ignore' = 'ignore'): ReturnType<ChildSet['start']> {
  return children.start({ command: process.execPath, args: ['--input-type=module', '-e', script], stdin });
}

test('lines come as events, CRLF and a last line without a newline included; the exit waits for them', async () => {
  const child = node(`process.stdout.write('one\\r\\ntwo\\nthree'); process.stderr.write('err\\n');`);
  const out: string[] = [];
  const err: string[] = [];
  child.onLine('stdout', (l) => out.push(l)).onLine('stderr', (l) => err.push(l));
  assert.deepEqual(await child.exited, { code: 0, signal: null });
  assert.deepEqual(out, ['one', 'two', 'three']);
  assert.deepEqual(err, ['err']);
  assert.equal(child.running, false);
});

test('a line past the cap is cut there and the rest of it dropped', async () => {
  const child = node(`process.stdout.write('x'.repeat(${MAX_LINE_CHARS + 10}) + '\\nnext\\n');`);
  const lengths: number[] = [];
  child.onLine('stdout', (l) => lengths.push(l.length));
  await child.exited;
  assert.deepEqual(lengths, [MAX_LINE_CHARS, 4]);
});

test('waiting for a line: resolves on the match, rejects when the child exits first', async () => {
  const child = node(`process.stdin.on('data', (d) => process.stdout.write('got ' + d)); process.stdout.write('ready\\n');`, 'pipe');
  await child.lineMatching('stdout', (l) => l === 'ready');
  const echoed = child.lineMatching('stdout', (l) => l.startsWith('got'));
  child.write('ping\n');
  assert.equal(await echoed, 'got ping');
  const never = child.lineMatching('stdout', (l) => l === 'never');
  child.endInput();
  await assert.rejects(never, /exited \(0\) before printing the line awaited on stdout/);
});

test('a command that cannot start resolves with its error, never hangs', async () => {
  const child = children.start({ command: '/nonexistent/chatterbox-test-binary', args: [] });
  const status = await child.exited;
  assert.match(status.spawnError ?? '', /ENOENT/);
  assert.equal(child.running, false);
  assert.equal(child.signal('SIGTERM'), false, 'no signal to a child that never ran');
});

test('SIGSTOP and SIGCONT pause a child; stop() ends a child that ignores SIGTERM with SIGKILL after the grace', async () => {
  const child = node(`process.on('SIGTERM', () => console.log('ignored')); process.on('SIGCONT', () => console.log('continued')); console.log('ready'); setInterval(() => {}, 1000);`);
  await child.lineMatching('stdout', (l) => l === 'ready');
  assert.equal(child.signal('SIGSTOP'), true);
  const continued = child.lineMatching('stdout', (l) => l === 'continued');
  assert.equal(child.signal('SIGCONT'), true);
  await continued;
  const ignored = child.lineMatching('stdout', (l) => l === 'ignored');
  child.signal('SIGTERM');
  await ignored;
  assert.deepEqual(await child.stop('SIGTERM', 200), { code: null, signal: 'SIGKILL' });
});

test('stop() by end of input lets a well-behaved child exit by itself', async () => {
  const child = node(`process.stdin.resume(); process.stdin.on('end', () => process.exit(7));`, 'pipe');
  assert.deepEqual(await child.stop('end-input', 60_000), { code: 7, signal: null });
});

test('a set bounds the children running at once', async () => {
  const set = new ChildSet(1);
  const first = set.start({ command: process.execPath, args: ['-e', 'setInterval(() => {}, 1000)'] });
  assert.throws(() => set.start({ command: process.execPath, args: ['-e', ''] }), /more than 1 children running at once/);
  set.close();
  assert.equal((await first.exited).signal, 'SIGKILL');
  const second = set.start({ command: process.execPath, args: ['-e', ''] });
  assert.equal((await second.exited).code, 0);
  set.close();
});

test('no orphans: the children of a process that exits are killed with it', async () => {
  // The parent starts a child that would run for ever, prints its pid, and exits (as on an uncaught exception).
  const parent = node(
    `import { ChildSet } from ${JSON.stringify(SUPERVISOR_URL)};
     const set = new ChildSet();
     const child = set.start({ command: process.execPath, args: ['-e', 'console.log("up"); setInterval(() => {}, 1000)'], stderr: 2 });
     await child.lineMatching('stdout', (l) => l === 'up');
     console.log(child.proc.pid);
     throw new Error('the parent fails');`,
  );
  const stderrEnd = once(parent.proc.stderr!, 'end');
  const pid = Number(await parent.lineMatching('stdout', (l) => /^\d+$/.test(l)));
  assert.notEqual((await parent.exited).code, 0);
  // Gone: SIGKILL was sent in the parent's exit. The grandchild's stderr is the parent's, the pipe to this test:
  // it reaches its end (an 'end', never emitted when the stream is only destroyed) once both have exited.
  await unlessHung(stderrEnd, `the end of the parent's stderr, which its child (pid ${pid}) held`);
});

test('a force stop of a wrapper script ends: its grandchild gets the end of its input at the exit and closes stdout', async () => {
  const child = wrapper(`process.stdin.resume(); process.stdin.on('end', () => process.exit(0)); console.log('up');`, true);
  const stdoutEnd = once(child.proc.stdout!, 'end');
  await unlessHung(child.lineMatching('stdout', (l) => l === 'up'), "the grandchild's first line");
  assert.deepEqual(await unlessHung(child.stop('SIGKILL', 0), 'the stop'), { code: null, signal: 'SIGKILL' });
  await unlessHung(stdoutEnd, 'the end of stdout (the grandchild exited)');
});

test("a signal goes to the child's process group: a wrapper script's grandchild is stopped with it", async () => {
  const child = wrapper(`console.log('up'); setInterval(() => {}, 1000);`);
  const stdoutEnd = once(child.proc.stdout!, 'end');
  await unlessHung(child.lineMatching('stdout', (l) => l === 'up'), "the grandchild's first line");
  assert.deepEqual(await unlessHung(child.stop('SIGKILL', 0), 'the stop'), { code: null, signal: 'SIGKILL' });
  await unlessHung(stdoutEnd, 'the end of stdout (the grandchild was killed with the group)');
});

test('a grandchild that holds the output open past the exit delays the exit by OUTPUT_DRAIN_AFTER_EXIT_MS at most', async () => {
  const child = wrapper(`process.stdin.resume(); console.log(process.pid); setInterval(() => {}, 1000);`, true);
  const pid = Number(await unlessHung(child.lineMatching('stdout', (l) => /^\d+$/.test(l)), "the grandchild's pid"));
  try {
    assert.deepEqual(await unlessHung(child.stop('SIGKILL', 0), 'the stop'), { code: null, signal: 'SIGKILL' });
    assert.equal(child.proc.stdout?.destroyed, true);
  } finally {
    process.kill(pid, 'SIGKILL');
  }
});
