/**
 * The agreement job as users run it: real `chatterbox node` processes talking TCP on loopback, started apart,
 * killed and paused. The simulator proves agreement over thousands of schedules (test/agreement-sim.test.ts);
 * these are smoke runs of what only processes show. Every step waits on an event (a line printed, a process
 * exiting); the only clock is the one-second gap between starts, which the guarantee covers many times over.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { HUNG_AFTER_MS, localCluster, startChatterbox, type LocalCluster, type Running } from './helpers/processes.js';

const RESULT_LINE = /^\(\d+, \d+\.\d{10}\)$/;
const SENDING = /^(?=.*"msg":"progress")(?=.*"phase":"sending")(?=.*"sent":[1-9])/;
const NODE_STARTED = /"msg":"node started"/;
const SENDING_ENDED = /"msg":"sending ended"/;

function startNode(cluster: LocalCluster, index: number, flags: readonly string[], env: NodeJS.ProcessEnv = {}): Running {
  return startChatterbox(['node', '-p', String(cluster.ports[index]), '--peer-config-file', cluster.peersFile, ...flags], env);
}

/** Every node exited 0 and printed one result line, the same on all of them; returns it. */
async function assertOneLine(nodes: readonly Running[]): Promise<string> {
  const codes = await Promise.all(nodes.map((n) => n.exited));
  assert.deepEqual(codes, nodes.map(() => 0), nodes.map((n) => n.stderrLines.slice(-3).join('\n')).join('\n'));
  for (const node of nodes) {
    assert.equal(node.stdoutLines.length, 1, 'exactly one line on stdout');
    assert.match(node.stdoutLines[0]!, RESULT_LINE);
  }
  const lines = new Set(nodes.map((n) => n.stdoutLines[0]));
  assert.equal(lines.size, 1, `all agree: ${[...lines].join(' | ')}`);
  return nodes[0]!.stdoutLines[0]!;
}

function count(line: string): number {
  return Number(/^\((\d+)/.exec(line)?.[1]);
}

/** A raw TCP connection to a node that is still running (it is, for seconds after its first progress line). */
function connectTo(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => resolve(socket));
    socket.once('error', reject);
  });
}

function closed(socket: Socket): Promise<void> {
  return new Promise((resolve) => socket.once('close', () => resolve()));
}

describe('a cluster of real processes over TCP', { timeout: HUNG_AFTER_MS }, () => {
  for (const protocol of ['stream', 'lockstep']) {
    test(`four ${protocol} nodes print the same line and exit 0`, async () => {
      const cluster = await localCluster(4);
      const nodes = [0, 1, 2, 3].map((i) => startNode(cluster, i, ['--send-for', '3', '--wait-for', '2', '--with-seed', '42', '--protocol', protocol]));
      const line = await assertOneLine(nodes);
      // Lockstep sends only once every node is up, which on a loaded machine may be after the send window.
      if (protocol === 'stream') assert.ok(count(line) > 0, 'messages were exchanged');
    });
  }

  test('the cluster command runs, shows progress and reports agreement', async () => {
    const run = startChatterbox(['cluster', '--nodes', '3', '--send-for', '1', '--wait-for', '2', '--with-seed', '5']);
    assert.equal(await run.exited, 0, run.stderrLines.join('\n'));
    assert.ok(run.stderrLines.some((l) => /progress/.test(l)), 'progress was shown');
    const verdict = run.stdoutLines.at(-1) ?? '';
    assert.match(verdict, /^agreement: all 3 nodes printed \(\d+, \d+\.\d{10}\)$/);
  });

  test('nodes started a second apart, as from three terminals, print the same line', async () => {
    const cluster = await localCluster(3);
    const flags = ['--send-for', '2', '--wait-for', '4', '--with-seed', '1'];
    const nodes: Running[] = [];
    for (let i = 0; i < 3; i++) {
      if (i > 0) {
        await nodes[i - 1]!.stderrMatching(NODE_STARTED);
        await delay(1000);
      }
      nodes.push(startNode(cluster, i, flags));
    }
    const line = await assertOneLine(nodes);
    assert.ok(count(line) > 0);
  });

  test('a node killed after one peer got part of its stream, before the others started: all survivors print the same line', async () => {
    const cluster = await localCluster(4);
    const flags = ['--send-for', '3', '--wait-for', '3', '--with-seed', '9', '--progress'];
    // n4 and n1 first; n4 dies once n1 holds part of its stream, and only then do n2 and n3 start: they never
    // hear from n4, so only relays from n1 can give them the same cut of its stream.
    const victim = startNode(cluster, 3, flags);
    const first = startNode(cluster, 0, flags);
    await first.stderrMatching(/^(?=.*"msg":"progress")(?=.*"held":[1-9])/);
    victim.proc.kill('SIGKILL');
    assert.equal(await victim.exited, 'SIGKILL');
    const survivors = [first, ...[1, 2].map((i) => startNode(cluster, i, flags))];
    const line = await assertOneLine(survivors);
    assert.ok(count(line) > 0);
    for (const survivor of survivors) {
      assert.ok(survivor.stderrLines.some((l) => /could not confirm|without the whole stream/.test(l) && l.includes('n4')), 'stderr names the lost peer');
    }
  });

  test('a node stopped mid-run and resumed in the grace period prints the same line as the others', async () => {
    const cluster = await localCluster(3);
    const flags = ['--send-for', '2', '--wait-for', '4', '--with-seed', '11', '--progress'];
    const nodes = [0, 1, 2].map((i) => startNode(cluster, i, flags));
    const paused = nodes[1]!;
    await paused.stderrMatching(SENDING);
    paused.proc.kill('SIGSTOP');
    // Resumed once the others' sending has ended: it missed the rest of the send window.
    await Promise.all([nodes[0]!.stderrMatching(SENDING_ENDED), nodes[2]!.stderrMatching(SENDING_ENDED)]);
    paused.proc.kill('SIGCONT');
    await assertOneLine(nodes);
  });

  test('a node stopped while its peers start, then resumed, is reached at once and agrees', async () => {
    const cluster = await localCluster(3);
    const flags = ['--send-for', '2', '--wait-for', '4', '--with-seed', '12', '--progress'];
    // n1 dials everyone: stopped, it sits out its reconnection backoff unless its peers wake it up.
    const paused = startNode(cluster, 0, flags);
    await paused.stderrMatching(NODE_STARTED);
    paused.proc.kill('SIGSTOP');
    const others = [1, 2].map((i) => startNode(cluster, i, flags));
    await Promise.all(others.map((n) => n.stderrMatching(SENDING)));
    paused.proc.kill('SIGCONT');
    await assertOneLine([paused, ...others]);
  });

  test('with a cluster key: the cluster agrees, and a process without the key is refused', async () => {
    const cluster = await localCluster(3);
    const keyFile = join(cluster.dir, 'cluster.key');
    writeFileSync(keyFile, 'correct horse battery staple, a shared secret\n');
    const env = { CHATTERBOX_CLUSTER_KEY_FILE: keyFile };
    const nodes = [0, 1, 2].map((i) => startNode(cluster, i, ['--send-for', '3', '--wait-for', '3', '--with-seed', '3', '--progress'], env));
    await nodes[0]!.stderrMatching(/"msg":"progress"/);
    // An intruder speaks the plaintext handshake as node n2 would, without the key.
    const intruder = await connectTo(cluster.ports[0]!);
    // Read (and ignore) what the node says, so the socket sees the node's close.
    intruder.on('error', () => {}).resume();
    const hello = Buffer.from(JSON.stringify({ v: 1, node: 'n2' }));
    const frame = Buffer.alloc(4 + hello.length);
    frame.writeUInt32BE(hello.length, 0);
    hello.copy(frame, 4);
    intruder.write(frame);
    await closed(intruder);
    await assertOneLine(nodes);
    assert.ok(nodes[0]!.stderrLines.some((l) => /"level":40/.test(l)), 'the refused connection is logged');
  });

  test('garbage and oversized frames close that connection only; the node still agrees', async () => {
    const cluster = await localCluster(2);
    const nodes = [0, 1].map((i) => startNode(cluster, i, ['--send-for', '3', '--wait-for', '3', '--with-seed', '4', '--progress']));
    await nodes[1]!.stderrMatching(/"msg":"progress"/);
    for (const payload of [Buffer.from('GET / HTTP/1.1\r\n\r\n'), Buffer.from([0xff, 0xff, 0xff, 0xff, 1, 2, 3])]) {
      const socket = await connectTo(cluster.ports[1]!);
      socket.on('error', () => {}).resume();
      socket.write(payload);
      await closed(socket);
    }
    assert.ok(count(await assertOneLine(nodes)) > 0);
  });
});
