/**
 * What a hostile user tries, command by command: every error they can cause is one line on stderr,
 * `chatterbox: …`, naming what was wrong and where, with the documented exit status (README, "Exit status and
 * errors"), never a stack trace and never "internal error".
 *
 * Table-driven: each case builds its inputs (files, a port held by this test), runs the built CLI once, and
 * waits for it to exit; nothing here depends on how fast anything is. The cases run one at a time.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, openSync, rmSync, statSync, writeFileSync, writeSync, closeSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore, STORE_FILE } from '../../src/runtime/durable-store.js';
import { MAX_CHAT_LINE_CHARS } from '../../src/runtime/chat-node.js';
import { freePorts } from '../../src/supervisor/free-port.js';
import type { Command } from 'commander';
import { defineChatCommand } from '../../src/cli/chat-command.js';
import { spawnSync } from 'node:child_process';
import { MAIN, startChatterbox, type Running } from './helpers/processes.js';

let dir = '';
/** A port this test listens on, so that a node told to listen there finds it in use. */
let held: Server;
let heldPort = 0;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'chatterbox-user-errors-'));
  held = createServer();
  await new Promise<void>((resolve) => held.listen({ host: '127.0.0.1', port: 0 }, resolve));
  heldPort = (held.address() as { port: number }).port;
});

after(async () => {
  await new Promise<void>((resolve) => held.close(() => resolve()));
  rmSync(dir, { recursive: true, force: true });
});

function file(name: string, content: string | Buffer): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

function peers(name: string, ports: readonly number[]): string {
  return file(name, JSON.stringify(ports.map((port, i) => ({ id: `n${i + 1}`, host: '127.0.0.1', port }))));
}

/** A store of node n1 with enough rows to span many pages, then `damage` applied to its file. */
function damagedStore(name: string, damage: (path: string) => void): string {
  const dataDir = join(dir, name);
  const store = SqliteStore.open(dataDir, { nodeId: 'n1', clusterId: 'c' });
  for (let i = 0; i < 200; i++) store.put(`key-${i}`, new Uint8Array(1000).fill(i));
  store.close();
  damage(join(dataDir, STORE_FILE));
  rmSync(join(dataDir, `${STORE_FILE}-wal`), { force: true });
  return dataDir;
}

/** Overwrites every page but the first (the header, which names the format) with junk. */
function scribbleOverPages(path: string): void {
  const size = statSync(path).size;
  const fd = openSync(path, 'r+');
  try {
    for (let at = 4096; at < size; at += 4096) writeSync(fd, Buffer.alloc(512, 0xa5), 0, 512, at);
  } finally {
    closeSync(fd);
  }
}

interface Case {
  readonly name: string;
  /** Built when the case runs (files, ports), so that a case's inputs exist only for it. */
  readonly args: () => Promise<readonly string[]> | readonly string[];
  readonly exit: 1 | 2;
  readonly says: RegExp;
  /** Only where the platform has what the case needs (/proc, /dev/zero). */
  readonly when?: () => boolean;
}

const linux = (): boolean => existsSync('/proc/self') && existsSync('/dev/zero');

const CASES: readonly Case[] = [
  // Files the place flags name.
  { name: 'node: peers file missing', args: () => ['node', '--peer-config-file', join(dir, 'nope.json')], exit: 2, says: /peers file .*nope\.json: not found/ },
  { name: 'node: peers file is a directory', args: () => ['node', '--peer-config-file', dir], exit: 2, says: /peers file .*: is a directory, not a file/ },
  { name: 'node: peers file empty', args: () => ['node', '--peer-config-file', file('empty.json', '')], exit: 2, says: /peers file .*: is empty/ },
  { name: 'node: peers file garbage', args: () => ['node', '--peer-config-file', file('garbage.json', Buffer.from([0xff, 0x00, 0x13, 0x37]))], exit: 2, says: /peers file .*: is not valid JSON/ },
  { name: 'node: peers file unknown key', args: () => ['node', '--peer-config-file', file('key.json', '[{"host":"127.0.0.1","port":3000,"role":"x"}]')], exit: 2, says: /entry 1: unknown key\(s\) "role"/ },
  { name: 'node: peers file is an endless device', args: () => ['node', '--peer-config-file', '/dev/zero'], exit: 2, says: /peers file \/dev\/zero: is far larger/, when: linux },
  { name: 'chat: key file missing', args: () => ['chat', '--peer-config-file', peers('chat-peers.json', [3000]), '--cluster-key-file', join(dir, 'nokey')], exit: 2, says: /--cluster-key-file .*nokey: not found/ },
  { name: 'ranges serve: key file too short', args: () => ['ranges', 'serve', '--data-dir', join(dir, 'short-key'), '--peer-config-file', peers('rs-peers.json', [3000]), '--cluster-key-file', file('short.key', 'abc\n')], exit: 2, says: /the key is 3 bytes/ },
  { name: 'ranges serve: --data-dir missing', args: () => ['ranges', 'serve'], exit: 2, says: /--data-dir is required/ },
  { name: 'ranges serve: --data-dir empty', args: () => ['ranges', 'serve', '--data-dir', ''], exit: 2, says: /--data-dir: expected a directory name/ },
  { name: 'harness: a nemesis too frequent for the run', args: () => ['harness', '-w', 'g-set', '--nemesis', 'partition', '--nemesis-interval', '0.001', '--time-limit', '60'], exit: 2, says: /--nemesis-interval 0\.001 s with --time-limit 60 s makes too many partitions/ },
  { name: 'cluster: --peers-out in a missing directory', args: () => ['cluster', '--peers-out', join(dir, 'no', 'such', 'peers.json')], exit: 2, says: /--peers-out .*: cannot write the peers file: its directory does not exist/ },

  // Ports in use: the run fails (1), in one line naming the flags that chose the address.
  { name: 'node: port in use', args: () => ['node', '-p', String(heldPort), '--peer-config-file', peers('held.json', [heldPort]), '--with-seed', '1'], exit: 1, says: /-h\/--host, -p\/--port: cannot listen on 127\.0\.0\.1:\d+: the address is already in use/ },
  { name: 'node: an address this machine lacks', args: () => ['node', '-h', '192.0.2.1', '--peer-config-file', file('test-net.json', '["192.0.2.1:3000:0"]'), '--with-seed', '1'], exit: 1, says: /-h\/--host, -p\/--port: cannot listen on 192\.0\.2\.1:3000: no network interface of this machine has that address/ },
  // Without --with-seed the seed is logged once the node listens: the error stays the only line.
  { name: 'node: port in use, no seed given', args: () => ['node', '-p', String(heldPort), '--peer-config-file', peers('held.json', [heldPort])], exit: 1, says: /-h\/--host, -p\/--port: cannot listen on 127\.0\.0\.1:\d+: the address is already in use/ },
  { name: 'chat: port in use', args: () => ['chat', '-p', String(heldPort), '--peer-config-file', peers('held.json', [heldPort])], exit: 1, says: /-h\/--host, -p\/--port: cannot listen on 127\.0\.0\.1:\d+: the address is already in use/ },
  {
    name: 'ranges serve: port in use',
    args: async () => ['ranges', 'serve', '-p', String(heldPort), '--peer-config-file', peers('held.json', [heldPort]), '--data-dir', join(dir, 'held-node'), '--api-port', String((await freePorts(1))[0])],
    exit: 1,
    says: /-h\/--host, -p\/--port: cannot listen on 127\.0\.0\.1:\d+: the address is already in use/,
  },
  {
    name: 'ranges serve: API port in use',
    args: async () => {
      const [port] = await freePorts(1);
      return ['ranges', 'serve', '-p', String(port), '--peer-config-file', peers('api-held.json', [port!]), '--data-dir', join(dir, 'api-held-node'), '--api-port', String(heldPort)];
    },
    exit: 1,
    says: /--api-host, --api-port: cannot listen on 127\.0\.0\.1:\d+: the address is already in use/,
  },

  // Data dirs and stores.
  { name: 'ranges serve: data dir under /proc', args: () => ['ranges', 'serve', '--data-dir', '/proc/x', '--peer-config-file', peers('proc.json', [3000])], exit: 1, says: /--data-dir: data dir \/proc\/x cannot be created/, when: linux },
  { name: 'ranges serve: data dir is a file', args: () => ['ranges', 'serve', '--data-dir', file('a-file', 'x'), '--peer-config-file', peers('file-dir.json', [3000])], exit: 1, says: /--data-dir: data dir .*a-file is not a directory/ },
  {
    name: 'ranges serve: store overwritten with junk',
    args: () => ['ranges', 'serve', '--data-dir', damagedStore('junk-store', (path) => writeFileSync(path, 'not a database '.repeat(500))), '--peer-config-file', peers('n1.json', [3000]), '--cluster-id', 'c'],
    exit: 1,
    says: /is damaged \(.*\); move its data dir away to start this node empty/,
  },
  {
    name: 'ranges serve: store with damaged pages',
    args: () => ['ranges', 'serve', '--data-dir', damagedStore('scribbled-store', scribbleOverPages), '--peer-config-file', peers('n1.json', [3000]), '--cluster-id', 'c'],
    exit: 1,
    says: /is damaged \(.*\); move its data dir away to start this node empty/,
  },
  {
    name: 'ranges serve: store truncated',
    args: () => ['ranges', 'serve', '--data-dir', damagedStore('truncated-store', (path) => writeFileSync(path, Buffer.alloc(100, 0x53))), '--peer-config-file', peers('n1.json', [3000]), '--cluster-id', 'c'],
    exit: 1,
    says: /is damaged \(.*\); move its data dir away/,
  },

  // The simulator's fault schedule.
  { name: 'sim: faults file missing', args: () => ['sim', '--nodes', '3', '--faults', join(dir, 'nofaults.json')], exit: 2, says: /--faults .*nofaults\.json: not found/ },
  { name: 'sim: faults file is a directory', args: () => ['sim', '--nodes', '3', '--faults', dir], exit: 2, says: /--faults .*: is a directory/ },
  { name: 'sim: faults file garbage', args: () => ['sim', '--nodes', '3', '--faults', file('garbage-faults.json', '[{')], exit: 2, says: /--faults .*: not JSON/ },
  { name: 'sim: faults file empty name', args: () => ['sim', '--nodes', '3', '--faults', ''], exit: 2, says: /--faults: expected a file name/ },
  {
    name: 'sim: a node in two groups of a partition',
    args: () => ['sim', '--nodes', '3', '--faults', file('two-groups.json', '[{"kind":"partition","atMs":100,"healAtMs":900,"groups":[["n1","n2"],["n2","n3"]]}]')],
    exit: 2,
    says: /entry 0 lists n2 twice; a node is in one group of a partition/,
  },
  { name: 'sim: a crash with restartAtMs', args: () => ['sim', '--nodes', '3', '--faults', file('restart.json', '[{"kind":"crash","atMs":100,"node":"n2","restartAtMs":500}]')], exit: 2, says: /entry 0, restartAtMs: crashes in an agreement schedule are for good/ },
  { name: 'sim: a crash losing its store', args: () => ['sim', '--nodes', '3', '--faults', file('lose.json', '[{"kind":"crash","atMs":100,"node":"n2","loseDurableState":true}]')], exit: 2, says: /entry 0, loseDurableState: / },
  { name: 'sim: an unknown key', args: () => ['sim', '--nodes', '3', '--faults', file('unknown-key.json', '[{"kind":"pause","atMs":1,"resumeAtMs":5,"node":"n1","why":"x"}]')], exit: 2, says: /--faults .*: entry 0: .*why/ },
  { name: 'sim: a node beyond the cluster', args: () => ['sim', '--nodes', '2', '--faults', file('n9.json', '[{"kind":"crash","atMs":1,"node":"n9"}]')], exit: 2, says: /entry 0 names n9, but the cluster has 2 nodes/ },
  { name: 'sim: crashes without --nodes', args: () => ['sim', '--crashes', '5'], exit: 2, says: /--crashes: give --nodes too/ },

  // The other commands' flags.
  { name: 'harness: --log-dir under /proc', args: () => ['harness', '-w', 'echo', '--log-dir', '/proc/x'], exit: 2, says: /--log-dir \/proc\/x: cannot be created or written/, when: linux },
  { name: 'harness: --bin not executable', args: () => ['harness', '-w', 'echo', '--bin', file('not-exec.sh', 'echo')], exit: 2, says: /--bin: .* is not an executable file/ },
  { name: 'maelstrom: --log-level unknown', args: () => ['maelstrom', '--log-level', 'loud'], exit: 2, says: /--log-level: expected one of/ },
  { name: 'chat: --gossip unknown', args: () => ['chat', '--gossip', 'fast'], exit: 2, says: /--gossip: expected one of latency, messages/ },
  { name: 'ranges: client without a node', args: async () => ['ranges', 'groups', '--api', `http://127.0.0.1:${(await freePorts(1))[0]}`], exit: 1, says: /cannot reach the node's API .*connection refused/ },
  { name: 'ranges: --api not a URL', args: () => ['ranges', 'groups', '--api', 'localhost'], exit: 2, says: /--api: expected a URL/ },
];

/** Exit status as documented, nothing on stdout, and exactly one stderr line `chatterbox: …` without a stack. */
async function assertOneLine(run: Running, exit: number, says: RegExp): Promise<void> {
  const code = await run.exited;
  const stderr = run.stderrLines.join('\n');
  assert.equal(code, exit, `exit status; stderr:\n${stderr}`);
  assert.deepEqual(run.stdoutLines, [], 'nothing on stdout');
  assert.equal(run.stderrLines.length, 1, `one stderr line expected, got:\n${stderr}`);
  const line = run.stderrLines[0]!;
  assert.match(line, /^chatterbox: /);
  assert.doesNotMatch(line, /internal error|\bat .*:\d+:\d+\)?$/);
  assert.match(line, says);
}

describe('every error a user can cause is one line with the documented exit status', () => {
  for (const c of CASES) {
    test(c.name, { skip: c.when !== undefined && !c.when() ? 'not on this platform' : false }, async () => {
      await assertOneLine(startChatterbox(await c.args()), c.exit, c.says);
    });
  }
});

describe('stdin redirected from a directory', () => {
  // Node reads such a stdin as empty: without the check these commands ran on nothing and exited 0.
  for (const args of [['chat', '-p', '<port>', '--peer-config-file', '<peers>'], ['maelstrom']]) {
    test(`${args[0]}: a usage error in one line`, { skip: linux() ? false : 'not on this platform' }, () => {
      const argv = args.map((a) => (a === '<peers>' ? peers('stdin-dir.json', [heldPort]) : a === '<port>' ? String(heldPort) : a));
      const fd = openSync('/', 'r');
      try {
        // Synchronous: the check comes before the command starts anything, so the process exits at once.
        const run = spawnSync(process.execPath, [MAIN, ...argv], { stdio: [fd, 'pipe', 'pipe'], encoding: 'utf8' });
        assert.equal(run.status, 2, run.stderr);
        assert.equal(run.stdout, '');
        assert.equal(run.stderr, 'chatterbox: stdin: is a directory; give input on stdin from a terminal, a pipe or a file\n');
      } finally {
        closeSync(fd);
      }
    });
  }
});

describe('ranges against a running node', () => {
  test('joins print nothing, releasing a range the node does not hold is 404 not-found, in one line', async () => {
    const [port, apiPort] = await freePorts(2);
    const dataDir = join(dir, 'live-node');
    mkdirSync(dataDir);
    const node = startChatterbox(['ranges', 'serve', '-p', String(port), '--peer-config-file', peers('live.json', [port!]), '--data-dir', dataDir, '--api-port', String(apiPort)]);
    try {
      await node.stderrMatching(/"msg":"ranges node started"/);
      // A second process on the same data dir, as by starting a node twice.
      const twice = ['ranges', 'serve', '-p', String(port), '--peer-config-file', join(dir, 'live.json'), '--data-dir', dataDir, '--api-port', String(apiPort)];
      await assertOneLine(startChatterbox(twice), 1, /--data-dir: store .* is in use by another process/);
      const api = ['--api', `http://127.0.0.1:${apiPort}`];
      const join_ = startChatterbox(['ranges', 'join', 'users', ...api]);
      assert.equal(await join_.exited, 0, join_.stderrLines.join('\n'));
      assert.deepEqual([join_.stdoutLines, join_.stderrLines], [[], []], 'a write prints nothing');
      await assertOneLine(startChatterbox(['ranges', 'release', 'users', '0', '100', ...api]), 1, /^chatterbox: not-found: this node holds no registration of \[0, 100\) in group "users"$/);
      const register = startChatterbox(['ranges', 'register', 'users', '0', '100', ...api]);
      assert.equal(await register.exited, 0, register.stderrLines.join('\n'));
      const release = startChatterbox(['ranges', 'release', 'users', '0', '100', ...api]);
      assert.equal(await release.exited, 0, release.stderrLines.join('\n'));
      await assertOneLine(startChatterbox(['ranges', 'register', 'users', '10', '5', ...api]), 1, /^chatterbox: bad-range: /);
    } finally {
      node.proc.kill('SIGTERM');
      assert.equal(await node.exited, 0);
    }
  });
});

describe('help says what the code does', () => {
  test("chat's help names the longest line it sends", () => {
    assert.match(fullHelp(defineChatCommand()), new RegExp(`over ${MAX_CHAT_LINE_CHARS} characters is not sent`));
  });
});

/** `--help` as printed, with the text after the options (addHelpText), which helpInformation() leaves out. */
function fullHelp(cmd: Command): string {
  let text = '';
  cmd.configureOutput({ writeOut: (s) => (text += s), writeErr: (s) => (text += s) });
  try {
    cmd.parse(['--help'], { from: 'user' });
  } catch {
    // commander ends help with an exit, overridden into a throw
  }
  return text;
}
