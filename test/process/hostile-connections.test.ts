/**
 * A real `chatterbox node` under a flood of idle connections: it must still be reached by its peers, agree
 * with them, and keep its log short. Every wait is on an event (a line printed, a process exiting).
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { WARN_BURST_INTERVAL_MS, WARN_BURST_LINES } from '../../src/transport/rate-limited-warnings.js';
import { localCluster, startChatterbox, type Running } from './helpers/processes.js';

/** As in the issue that prompted this test: 200 idle connections, each reopened as soon as it is closed. */
const FLOOD_CONNECTIONS = 200;

test('a node flooded with idle connections before its peers start is reached by them and prints the same line', { timeout: 60_000 }, async (t) => {
  const cluster = await localCluster(3);
  const keyFile = join(cluster.dir, 'cluster.key');
  writeFileSync(keyFile, 'a shared secret of at least 16 bytes\n');
  // Printing waits for every peer's whole stream, so late peers are waited for (up to --wait-for), not missed.
  const flags = ['--peer-config-file', cluster.peersFile, '--cluster-key-file', keyFile, '--send-for', '1', '--wait-for', '8', '--with-seed', '11'];
  const start = (port: number): Running => startChatterbox(['node', '-p', String(port), ...flags]);
  const [port1, port2, port3] = cluster.ports as [number, number, number];

  // n3 accepts from both others (the lower id dials), so it is the one a flood can hurt.
  const target = start(port3);
  t.after(() => target.proc.kill('SIGKILL'));
  await target.stderrMatching(/"msg":"node started"/);
  const floodStartedMs = performance.now();
  let flooding = true;
  const sockets = new Set<Socket>();
  const open = (): void => {
    if (!flooding) return;
    const socket = connect({ host: '127.0.0.1', port: port3 });
    sockets.add(socket);
    socket.on('error', () => {});
    socket.resume(); // so that the node's close is seen, and the connection reopened
    socket.on('close', () => {
      sockets.delete(socket);
      setImmediate(open);
    });
  };
  const stopFlood = (): void => {
    flooding = false;
    for (const socket of sockets) socket.destroy();
  };
  t.after(stopFlood);
  for (let i = 0; i < FLOOD_CONNECTIONS; i++) open();
  // Over its bound before the peers start: n3 has begun closing connections of the flood.
  await target.stderrMatching(/"msg":"connection (evicted|refused)"/);

  const peers = [start(port1), start(port2)];
  for (const peer of peers) t.after(() => peer.proc.kill('SIGKILL'));
  // Once n3 has both peers the point is made; the flood, a CPU hog, stops so as not to slow other tests down.
  await Promise.all(['n1', 'n2'].map((id) => target.stderrMatching(new RegExp(`^(?=.*"msg":"peer connected")(?=.*"peer":"${id}")`))));
  stopFlood();
  const codes = await Promise.all([target, ...peers].map((node) => node.exited));
  const elapsedMs = performance.now() - floodStartedMs;
  assert.deepEqual(codes, [0, 0, 0], [target, ...peers].map((node) => node.stderrLines.slice(-3).join('\n')).join('\n'));
  const lines = [target, ...peers].map((node) => node.stdoutLines.join('|'));
  assert.equal(new Set(lines).size, 1, `all agree: ${lines.join(' / ')}`);

  // The log: at most a burst and a summary per interval about the flood, however many connections it cost.
  const warns = target.stderrLines.map((line) => JSON.parse(line) as { level: number; msg: string; total?: number }).filter((l) => l.level === 40);
  const aboutConnections = warns.filter((l) => /^connection |^more connection problems/.test(l.msg));
  const intervals = Math.floor(elapsedMs / WARN_BURST_INTERVAL_MS) + 1;
  assert.ok(aboutConnections.length <= intervals * (WARN_BURST_LINES + 1), `${aboutConnections.length} lines about connections in ${elapsedMs.toFixed(0)} ms`);
  assert.ok(aboutConnections.some((l) => (l.total ?? 0) > 0), 'a summary counts what was not logged one by one');
  assert.ok(target.stderrLines.length < 100, `${target.stderrLines.length} stderr lines`);
});
