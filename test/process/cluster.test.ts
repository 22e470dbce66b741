/**
 * The agreement job as users run it: real `chatterbox node` processes talking TCP on loopback.
 * Durations are short but real; every wait is on an event (a line printed, a process exiting).
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { localCluster, startChatterbox, startNodes } from './helpers/processes.js';

const RESULT_LINE = /^\(\d+, \d+\.\d{10}\)$/;

describe('a cluster of real processes over TCP', { timeout: 120_000 }, () => {
  for (const protocol of ['stream', 'lockstep']) {
    test(`four ${protocol} nodes print the same line and exit 0`, async () => {
      const cluster = await localCluster(4);
      // Deadlines count from process start, so a loaded machine's slow start-up eats into send-for: keep some left.
      const nodes = startNodes(cluster, ['--send-for', '3', '--wait-for', '2', '--with-seed', '42', '--protocol', protocol]);
      const codes = await Promise.all(nodes.map((n) => n.exited));
      assert.deepEqual(codes, [0, 0, 0, 0], nodes.map((n) => n.stderrLines.slice(-3).join('\n')).join('\n'));
      const lines = nodes.map((n) => n.stdoutLines);
      for (const printed of lines) assert.equal(printed.length, 1, 'exactly one line on stdout');
      assert.match(lines[0]![0]!, RESULT_LINE);
      assert.ok(Number(/^\((\d+)/.exec(lines[0]![0]!)![1]) > 0, 'messages were exchanged');
      assert.deepEqual(new Set(lines.map((l) => l[0])).size, 1, `all agree: ${lines.join(' | ')}`);
    });
  }

  test('the cluster command runs, shows progress and reports agreement', async () => {
    const run = startChatterbox(['cluster', '--nodes', '3', '--send-for', '1', '--wait-for', '2', '--with-seed', '5']);
    assert.equal(await run.exited, 0, run.stderrLines.join('\n'));
    assert.ok(run.stderrLines.some((l) => /progress/.test(l)), 'progress was shown');
    const verdict = run.stdoutLines.at(-1) ?? '';
    assert.match(verdict, /^agreement: all 3 nodes printed \(\d+, \d+\.\d{10}\)$/);
  });

  test('a node killed mid-run: the survivors still print before the deadline and name it', async () => {
    const cluster = await localCluster(3);
    const started = performance.now();
    const flags = ['--send-for', '2', '--wait-for', '2', '--with-seed', '9', '--progress'];
    const nodes = startNodes(cluster, flags);
    const victim = nodes[2]!;
    // Kill it once it is really sending, not at a guessed moment.
    await victim.stderrMatching(/^(?=.*"msg":"progress")(?=.*"phase":"sending")(?=.*"sent":[1-9])/);
    victim.proc.kill('SIGKILL');
    const [a, b] = await Promise.all([nodes[0]!.exited, nodes[1]!.exited]);
    const elapsedMs = performance.now() - started;
    assert.deepEqual([a, b], [0, 0]);
    assert.equal(await victim.exited, 'SIGKILL');
    assert.ok(elapsedMs < 4000 + 1000, `survivors finished in ${elapsedMs.toFixed(0)} ms (deadline 4 s after each start)`);
    for (const survivor of nodes.slice(0, 2)) {
      assert.equal(survivor.stdoutLines.length, 1);
      assert.match(survivor.stdoutLines[0]!, RESULT_LINE);
      assert.ok(survivor.stderrLines.some((l) => /could not confirm|without the whole stream/.test(l) && l.includes('n3')), 'stderr names the lost peer');
    }
  });

  test('with a cluster key: the cluster agrees, and a process without the key is refused', async () => {
    const cluster = await localCluster(3);
    const keyFile = join(cluster.dir, 'cluster.key');
    writeFileSync(keyFile, 'correct horse battery staple, a shared secret\n');
    const nodes = startNodes(cluster, ['--send-for', '1', '--wait-for', '2', '--with-seed', '3', '--progress'], { CHATTERBOX_CLUSTER_KEY_FILE: keyFile });
    await nodes[0]!.stderrMatching(/"msg":"progress"/);
    // An intruder speaks the plaintext handshake as node n2 would, without the key.
    const intruder = connect(cluster.ports[0]!, '127.0.0.1');
    // Read (and ignore) what the node says, so the socket sees the node's close.
    intruder.on('error', () => {}).resume();
    await new Promise<void>((resolve) => intruder.once('connect', () => resolve()));
    const hello = Buffer.from(JSON.stringify({ v: 1, node: 'n2' }));
    const frame = Buffer.alloc(4 + hello.length);
    frame.writeUInt32BE(hello.length, 0);
    hello.copy(frame, 4);
    intruder.write(frame);
    await new Promise<void>((resolve) => intruder.once('close', () => resolve()));
    const codes = await Promise.all(nodes.map((n) => n.exited));
    assert.deepEqual(codes, [0, 0, 0]);
    assert.equal(new Set(nodes.map((n) => n.stdoutLines[0])).size, 1, 'keyed nodes agree');
    assert.ok(nodes[0]!.stderrLines.some((l) => /"level":40/.test(l)), 'the refused connection is logged');
  });

  test('garbage and oversized frames close that connection only; the node still agrees', async () => {
    const cluster = await localCluster(2);
    const nodes = startNodes(cluster, ['--send-for', '1', '--wait-for', '2', '--with-seed', '4', '--progress']);
    await nodes[1]!.stderrMatching(/"msg":"progress"/);
    for (const payload of [Buffer.from('GET / HTTP/1.1\r\n\r\n'), Buffer.from([0xff, 0xff, 0xff, 0xff, 1, 2, 3])]) {
      const socket = connect(cluster.ports[1]!, '127.0.0.1');
      socket.on('error', () => {}).resume();
      await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
      socket.write(payload);
      await new Promise<void>((resolve) => socket.once('close', () => resolve()));
    }
    const codes = await Promise.all(nodes.map((n) => n.exited));
    assert.deepEqual(codes, [0, 0]);
    assert.equal(nodes[0]!.stdoutLines[0], nodes[1]!.stdoutLines[0]);
    assert.ok(Number(/^\((\d+)/.exec(nodes[0]!.stdoutLines[0] ?? '')?.[1]) > 0);
  });
});
