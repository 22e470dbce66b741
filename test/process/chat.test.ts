/**
 * `chatterbox chat` as real processes on loopback: lines typed at one node appear at every node, replies after
 * what they answer; stdin's end and SIGINT both exit 0. Everything waits on output, never on a sleep.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { HUNG_AFTER_MS, localCluster, startChatterbox, type LocalCluster } from './helpers/processes.js';
import { formatChatLine } from '../../src/runtime/chat-node.js';
import { nodeId } from '../../src/core/ids.js';
import { parseChatArgv } from '../../src/cli/chat-command.js';
import { UsageError } from '../../src/platform/user-errors.js';

interface ChatProcess {
  readonly proc: ChildProcess;
  readonly stdout: string[];
  readonly stderr: string[];
  /** Resolves with the exit code (or signal name) once the process has exited and its output is read. */
  readonly exited: Promise<number | string>;
  /** Resolves with the index of the first stdout line equal to `line`; rejects if the process exits first. */
  printed(line: string): Promise<number>;
  type(line: string): void;
}

function startChat(args: readonly string[]): ChatProcess {
  // stdin is a pipe: it is the chat's input.
  const chat = startChatterbox(['chat', ...args], {}, 'pipe');
  return {
    proc: chat.proc,
    stdout: chat.stdoutLines,
    stderr: chat.stderrLines,
    exited: chat.exited,
    printed: async (line) => {
      await chat.stdoutMatching((l) => l === line);
      return chat.stdoutLines.indexOf(line);
    },
    type: (line) => chat.child.write(`${line}\n`),
  };
}

const clusters: LocalCluster[] = [];
const running: ChatProcess[] = [];
after(() => {
  for (const p of running) if (p.proc.exitCode === null && p.proc.signalCode === null) p.proc.kill('SIGKILL');
  for (const c of clusters) rmSync(c.dir, { recursive: true, force: true });
});

async function startCluster(count: number, extra: readonly string[] = []): Promise<ChatProcess[]> {
  const cluster = await localCluster(count);
  clusters.push(cluster);
  const nodes = cluster.ports.map((port) => startChat(['-p', String(port), '--peer-config-file', cluster.peersFile, '--linger', '2', ...extra]));
  running.push(...nodes);
  return nodes;
}

describe('chatterbox chat', () => {
  test('three nodes: a line typed at one is printed by all, a reply after its question everywhere; stdin EOF exits 0', { timeout: 2 * HUNG_AFTER_MS }, async () => {
    const [n1, n2, n3] = (await startCluster(3)) as [ChatProcess, ChatProcess, ChatProcess];
    n1.type('hello from n1');
    await Promise.all([n1, n2, n3].map((n) => n.printed('n1: hello from n1')));
    // n2 has read the question: its reply is causally after it, so no node prints it first.
    n2.type('reply from n2');
    n3.type('and n3 rings a bell\u0007');
    const lines = ['n1: hello from n1', 'n2: reply from n2', 'n3: and n3 rings a bell\ufffd'];
    for (const node of [n1, n2, n3]) {
      const [question, reply] = await Promise.all(lines.map((line) => node.printed(line)));
      assert.ok(question! < reply!, `question before reply: ${JSON.stringify(node.stdout)}`);
    }
    for (const node of [n1, n2, n3]) node.proc.stdin!.end();
    assert.deepEqual(await Promise.all([n1, n2, n3].map((n) => n.exited)), [0, 0, 0]);
    for (const node of [n1, n2, n3]) {
      assert.deepEqual([...node.stdout].sort(), [...lines].sort(), 'each line exactly once, nothing else on stdout');
      assert.ok(node.stderr.every((l) => l.startsWith('{')), 'stderr carries JSON log lines only');
    }
  });

  test('a lone node echoes its own lines and exits 0 on SIGINT', { timeout: HUNG_AFTER_MS }, async () => {
    const [alone] = (await startCluster(1)) as [ChatProcess];
    alone.type('talking to myself');
    await alone.printed('n1: talking to myself');
    alone.proc.kill('SIGINT');
    assert.equal(await alone.exited, 0);
  });

  test('usage errors exit 2 with one line; --help exits 0 and lists the flags', { timeout: HUNG_AFTER_MS }, async () => {
    const bad = startChat(['--port', '0']);
    bad.proc.stdin!.end();
    assert.equal(await bad.exited, 2);
    assert.deepEqual(bad.stderr, ['chatterbox: -p/--port: expected a port number 1..65535, got "0"']);
    const help = startChat(['--help']);
    help.proc.stdin!.end();
    assert.equal(await help.exited, 0);
    const text = help.stdout.join('\n');
    for (const flag of ['--host', '--port', '--peer-config-file', '--cluster-key-file', '--cluster-id', '--gossip', '--linger', '--verbose']) assert.match(text, new RegExp(flag));
  });
});

describe('chat parts', () => {
  test('flags parse and validate like node', () => {
    const args = parseChatArgv(['-p', '4000', '--peer-config-file', 'x.json', '--gossip', 'messages', '--linger', '0.5']);
    assert.equal(args.port, 4000);
    assert.equal(args.host, '127.0.0.1');
    assert.equal(args.peersFile, 'x.json');
    assert.equal(args.gossip, 'messages');
    assert.equal(args.lingerMs, 500);
    assert.equal(parseChatArgv([]).lingerMs, 3000);
    assert.throws(() => parseChatArgv(['--gossip', 'fast']), (e: unknown) => e instanceof UsageError && /--gossip: expected one of latency, messages/.test(e.message));
    assert.throws(() => parseChatArgv(['--linger', '-1']), UsageError);
    assert.throws(() => parseChatArgv(['--bogus']), UsageError);
    assert.deepEqual(parseChatArgv(['--cluster-key-file', 'k']).clusterKeyFile, { path: 'k', source: '--cluster-key-file' });
  });

  test('printed lines: control characters are neutralised, other payloads shown as JSON', () => {
    const n = nodeId('n1');
    assert.equal(formatChatLine(n, 'hi'), 'n1: hi');
    assert.equal(formatChatLine(n, '\u001b[2Jgone\r\nx\ttab'), 'n1: \ufffd[2Jgone\ufffd\ufffdx\ttab');
    assert.equal(formatChatLine(n, 42), 'n1: 42');
    assert.equal(formatChatLine(n, { a: [1n] }), 'n1: {"a":["1"]}');
  });
});
