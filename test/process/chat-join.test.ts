/**
 * `chatterbox chat --join` as real processes on loopback: node 1 starts a room (its --join names only itself),
 * node 2 joins through it, node 3 joins late and prints the history first; stdin's end is a graceful leave, seen
 * as `left` by the others. Everything waits on output (chat lines on stdout, "member" log lines on stderr).
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { HUNG_AFTER_MS, startChatterbox, type Running } from './helpers/processes.js';
import { freePorts } from '../../src/supervisor/free-port.js';
import { buildChatConfig, parseChatArgv } from '../../src/cli/chat-command.js';
import { UsageError } from '../../src/platform/user-errors.js';

const running: Running[] = [];
after(() => {
  for (const p of running) if (p.proc.exitCode === null && p.proc.signalCode === null) p.proc.kill('SIGKILL');
});

function chat(id: string, port: number, seeds: string): Running {
  const proc = startChatterbox(['chat', '-p', String(port), '--join', seeds, '--node-id', id], {}, 'pipe');
  running.push(proc);
  return proc;
}

/** The first "member" log line saying `peer` is in `state`, printed already or awaited. */
function sees(node: Running, peer: string, state: string): Promise<string> {
  return node.stderrMatching(new RegExp(`"peer":"${peer}".*"state":"${state}".*"msg":"member"|"msg":"member".*"peer":"${peer}".*"state":"${state}"`));
}

describe('chatterbox chat --join', () => {
  test('a room grows by joining; a late joiner prints the history; stdin EOF leaves gracefully', { timeout: 2 * HUNG_AFTER_MS }, async () => {
    const [p1, p2, p3] = (await freePorts(3)) as [number, number, number];
    const n1 = chat('n1', p1, `127.0.0.1:${p1}`);
    const n2 = chat('n2', p2, `127.0.0.1:${p1}`);
    await Promise.all([sees(n1, 'n2', 'alive'), sees(n2, 'n1', 'alive')]);
    n1.child.write('hello from n1\n');
    await Promise.all([n1, n2].map((n) => n.stdoutMatching((l) => l === 'n1: hello from n1')));

    const n3 = chat('n3', p3, `127.0.0.1:${p2}`);
    await n3.stdoutMatching((l) => l === 'n1: hello from n1');
    n3.child.write('hi from n3\n');
    await Promise.all([n1, n2, n3].map((n) => n.stdoutMatching((l) => l === 'n3: hi from n3')));
    for (const node of [n1, n2, n3]) assert.deepEqual(node.stdoutLines, ['n1: hello from n1', 'n3: hi from n3'], 'the history first, each line once');

    n2.proc.stdin!.end();
    assert.equal(await n2.exited, 0);
    await Promise.all([sees(n1, 'n2', 'left'), sees(n3, 'n2', 'left')]);
    for (const node of [n1, n3]) node.proc.stdin!.end();
    assert.deepEqual(await Promise.all([n1.exited, n3.exited]), [0, 0]);
  });

  test('flags: --join builds a place of its own; with a peers file it is a usage error', () => {
    const config = buildChatConfig(parseChatArgv(['-p', '4005', '--join', 'seed:4001', '--node-id', 'me']), () => assert.fail('no file is read'));
    assert.deepEqual(config.self, { id: 'me', host: '127.0.0.1', port: 4005 });
    assert.deepEqual(config.join, [{ kind: 'address', host: 'seed', port: 4001 }]);
    assert.equal(config.advertise, '127.0.0.1:4005');
    assert.equal(config.clusterId, 'chatterbox-chat', 'not the key-range nodes\' default: the two never join each other');
    assert.throws(() => parseChatArgv(['--join', 'a:1', '--peer-config-file', 'p.json']), UsageError);
    assert.throws(() => parseChatArgv(['--join', 'a:0']), UsageError);
  });
});
