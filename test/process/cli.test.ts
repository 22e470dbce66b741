import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { seed32 } from '../../src/core/prng.js';
import { HUNG_AFTER_MS } from './helpers/processes.js';
import { UsageError } from '../../src/platform/user-errors.js';
import { MAX_HELLO_TEXT_CHARS } from '../../src/transport/hello-text.js';
import { MAX_AGREEMENT_NODES } from '../../src/agreement/types.js';
import { isHelpOrVersion } from '../../src/cli/command.js';
import { buildNodeConfig, parseNodeArgv, type NodeArgs } from '../../src/cli/node-command.js';
import { CLUSTER_KEY_ENV } from '../../src/cli/place-flags.js';
import { HARNESS_WORKLOADS } from '../../src/harness/types.js';
import { SIM_WORKLOADS } from '../../src/harness/simulated.js';
import { HOSTED_WORKLOAD_NAMES } from '../../src/maelstrom/service.js';
import {
  EXIT_AGREEMENT,
  EXIT_DISAGREEMENT,
  EXIT_INCOMPLETE,
  ProgressBoard,
  childArgv,
  classifyChildLine,
  clusterPeers,
  formatPassThrough,
  formatProgressTable,
  judge,
  parseClusterArgv,
  runClusterCommand,
  shouldPassThrough,
  type NodeOutcome,
  type NodeProgress,
} from '../../src/cli/cluster-command.js';

// dist/test/process/cli.test.js → dist/src/cli/main.js
const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

let dir = '';
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'chatterbox-cli-test-'));
});
after(() => {
  rmSync(dir, { recursive: true, force: true });
});

function fileWith(name: string, text: string | Buffer): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

/** Asserts a one-line UsageError whose message matches. */
function assertUsage(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof UsageError, `expected a UsageError, got ${String(error)}`);
    assert.match(error.message, pattern);
    assert.ok(!error.message.includes('\n'), `not one line: ${error.message}`);
    return true;
  });
}

// -------------------------------------------------------------------------------------------------------
// Pure parsing

describe('parseNodeArgv', () => {
  test('defaults', () => {
    assert.deepEqual(parseNodeArgv([]), {
      host: '127.0.0.1',
      port: 3000,
      peersFile: 'peers.json',
      sendForMs: 3000,
      waitForMs: 1000,
      seed: undefined,
      tickMs: 100,
      verbose: false,
      protocol: 'stream',
      json: false,
      clusterKeyFile: undefined,
      clusterId: undefined,
      progress: false,
      metrics: undefined,
    } satisfies NodeArgs);
  });

  test('every flag, in short and long forms', () => {
    const args = parseNodeArgv([
      '-h', '10.0.0.5', '-p', '4000', '--peer-config-file', 'cluster.json', '--send-for', '0.5', '--wait-for', '2.25',
      '--with-seed', '123456789012345678901234567890', '--tick-duration', '7', '-v', '--protocol', 'lockstep', '--json',
      '--cluster-key-file', 'key.txt', '--cluster-id', 'prod-1', '--progress', '--metrics-port', '9100', '--metrics-host', '0.0.0.0',
    ]);
    assert.deepEqual(args, {
      host: '10.0.0.5',
      port: 4000,
      peersFile: 'cluster.json',
      sendForMs: 500,
      waitForMs: 2250,
      seed: 123456789012345678901234567890n,
      tickMs: 7,
      verbose: true,
      protocol: 'lockstep',
      json: true,
      clusterKeyFile: { path: 'key.txt', source: '--cluster-key-file' },
      clusterId: 'prod-1',
      progress: true,
      metrics: { host: '0.0.0.0', port: 9100 },
    } satisfies NodeArgs);
    assert.deepEqual(parseNodeArgv(['--host', 'a', '--port', '1', '--verbose']).host, 'a');
    assert.equal(parseNodeArgv(['-p3001']).port, 3001);
  });

  test('seconds: zero send time, fractions, tiny grace periods round up to 1 ms', () => {
    assert.equal(parseNodeArgv(['--send-for', '0']).sendForMs, 0);
    assert.equal(parseNodeArgv(['--send-for', '.25']).sendForMs, 250);
    assert.equal(parseNodeArgv(['--send-for', '2.']).sendForMs, 2000);
    assert.equal(parseNodeArgv(['--wait-for', '0.0001']).waitForMs, 1);
  });

  test('seeds of any size and sign', () => {
    assert.equal(parseNodeArgv(['--with-seed', '-5']).seed, -5n);
    assert.equal(parseNodeArgv(['--with-seed', '0']).seed, 0n);
    assert.equal(parseNodeArgv(['--with-seed', '18446744073709551617']).seed, 18446744073709551617n);
  });

  test('the key file: flag, else environment, flag wins, empty variable ignored', () => {
    assert.deepEqual(parseNodeArgv([], { [CLUSTER_KEY_ENV]: '/env/key' }).clusterKeyFile, { path: '/env/key', source: CLUSTER_KEY_ENV });
    assert.deepEqual(parseNodeArgv(['--cluster-key-file', '/flag/key'], { [CLUSTER_KEY_ENV]: '/env/key' }).clusterKeyFile, {
      path: '/flag/key',
      source: '--cluster-key-file',
    });
    assert.equal(parseNodeArgv([], { [CLUSTER_KEY_ENV]: '' }).clusterKeyFile, undefined);
  });

  const bad: [string[], RegExp][] = [
    [['-p', 'abc'], /^-p\/--port: expected a port number 1\.\.65535, got "abc"$/],
    [['-p', '0'], /--port: .*got "0"/],
    [['--port', '65536'], /--port: .*got "65536"/],
    [['-p', '30.5'], /--port/],
    [['-h', ''], /^-h\/--host: expected a host name or IP address, got ""$/],
    [['--host', 'a b'], /--host/],
    [['--send-for', '-1'], /^--send-for: expected a number of seconds ≥ 0/],
    [['--send-for', '1e3'], /--send-for/],
    [['--send-for', 'soon'], /--send-for/],
    [['--send-for', '86401'], /--send-for/],
    [['--wait-for', '0'], /^--wait-for: expected a number of seconds > 0/],
    [['--wait-for', ''], /--wait-for/],
    [['--with-seed', '1.5'], /^--with-seed: expected an integer, got "1\.5"$/],
    [['--with-seed', '0x10'], /--with-seed/],
    [['--tick-duration', '0'], /^--tick-duration: expected a whole number of milliseconds/],
    [['--tick-duration', '2.5'], /--tick-duration/],
    [['--protocol', 'paxos'], /^--protocol: expected one of stream, lockstep, got "paxos"$/],
    [['--cluster-id', ''], /^--cluster-id: /],
    // The handshake carries at most MAX_HELLO_TEXT_CHARS; one more would make every peer refuse the hello.
    [['--cluster-id', 'c'.repeat(MAX_HELLO_TEXT_CHARS + 1)], /^--cluster-id: expected a non-empty id of at most 256 characters/],
    [['--cluster-key-file', ''], /^--cluster-key-file: /],
    [['--peer-config-file', ''], /^--peer-config-file: /],
    [['--bogus'], /unknown option '--bogus'.*chatterbox node --help/],
    [['--prot', 'x'], /unknown option '--prot' \(Did you mean --port\?\)/],
    [['--port'], /option '-p, --port <port>' argument missing/],
    [['extra'], /too many arguments.*chatterbox node --help/],
    [['--help-me'], /unknown option/],
  ];
  for (const [argv, pattern] of bad) {
    test(`rejects ${JSON.stringify(argv)}`, () => assertUsage(() => parseNodeArgv(argv), pattern));
  }

  test('--help is not an error but commander help, and -h is the host, not help', () => {
    assert.throws(() => parseNodeArgv(['--help']), isHelpOrVersion);
    assert.equal(parseNodeArgv(['-h', 'localhost']).host, 'localhost');
  });
});

describe('buildNodeConfig', () => {
  const peersText = JSON.stringify([{ id: 'n2', host: '127.0.0.1', port: 3001 }, { id: 'n1', host: '127.0.0.1', port: 3000 }]);
  const files: Record<string, Buffer> = {
    'peers.json': Buffer.from(peersText),
    'key.txt': Buffer.from('  0123456789abcdef-secret \n'),
    'short.txt': Buffer.from('\t short-key \r\n'),
    'binary.key': Buffer.from([0x20, 0x00, 0xff, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 0x0a]),
  };
  const readFile = (path: string): Buffer => {
    const bytes = files[path];
    if (bytes === undefined) throw Object.assign(new Error(`ENOENT: ${path}`), { code: 'ENOENT' });
    return bytes;
  };

  test('reads the peers, finds self, derives the cluster id, folds the seed', () => {
    const { config, seed } = buildNodeConfig(parseNodeArgv(['--with-seed', '42']), { readFile });
    assert.deepEqual(config.self, { id: 'n1', host: '127.0.0.1', port: 3000 });
    assert.deepEqual(
      config.peers.map((p) => p.id),
      ['n2', 'n1'],
      'peers-file order is kept',
    );
    assert.equal(config.clusterId, createHash('sha256').update('n1\nn2').digest('hex').slice(0, 16));
    assert.equal(config.seed, seed32(42n));
    assert.deepEqual(seed, { value: 42n, random: false });
    assert.equal(config.clusterKey, undefined);
    assert.equal(config.sendForMs, 3000);
    assert.equal(config.json, false);
  });

  test('a peers file with more nodes than the agreement job takes is a usage error', () => {
    const many = Array.from({ length: MAX_AGREEMENT_NODES + 1 }, (_, i) => ({ id: `n${i}`, host: '127.0.0.1', port: 3000 + i }));
    const big = (path: string): Buffer => (path === 'peers.json' ? Buffer.from(JSON.stringify(many)) : readFile(path));
    assert.throws(() => buildNodeConfig(parseNodeArgv(['--with-seed', '1']), { readFile: big }), (e: unknown) => e instanceof UsageError && /lists 1025 nodes; a cluster has at most 1024/.test(e.message));
  });

  test('an explicit cluster id, and a random seed when none is given', () => {
    const { config, seed } = buildNodeConfig(parseNodeArgv(['--cluster-id', 'mine', '-p', '3001']), { readFile, randomSeed: () => 7n });
    assert.equal(config.self.id, 'n2');
    assert.equal(config.clusterId, 'mine');
    assert.deepEqual(seed, { value: 7n, random: true });
    assert.equal(config.seed, seed32(7n));
  });

  test('the key is the file trimmed of surrounding whitespace, bytes kept as they are', () => {
    const text = buildNodeConfig(parseNodeArgv(['--cluster-key-file', 'key.txt', '--with-seed', '1']), { readFile });
    assert.equal(text.config.clusterKey?.toString('utf8'), '0123456789abcdef-secret');
    const binary = buildNodeConfig(parseNodeArgv(['--with-seed', '1'], { [CLUSTER_KEY_ENV]: 'binary.key' }), { readFile });
    assert.deepEqual(binary.config.clusterKey, Buffer.from([0x00, 0xff, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14]));
  });

  test('key problems name the flag or the variable, never the key', () => {
    assertUsage(() => buildNodeConfig(parseNodeArgv(['--cluster-key-file', 'short.txt']), { readFile }), /^--cluster-key-file short\.txt: the key is 9 bytes after trimming whitespace; at least 16/);
    assertUsage(() => buildNodeConfig(parseNodeArgv([], { [CLUSTER_KEY_ENV]: 'short.txt' }), { readFile }), /^CHATTERBOX_CLUSTER_KEY_FILE short\.txt: /);
    assertUsage(() => buildNodeConfig(parseNodeArgv(['--cluster-key-file', 'nope.key']), { readFile }), /^--cluster-key-file nope\.key: not found$/);
    assert.throws(
      () => buildNodeConfig(parseNodeArgv(['--cluster-key-file', 'short.txt']), { readFile }),
      (error: unknown) => error instanceof Error && !error.message.includes('short-key'),
    );
  });

  test('peers problems name the peers file', () => {
    assertUsage(() => buildNodeConfig(parseNodeArgv(['-p', '3002']), { readFile }), /^peers file peers\.json: does not list this node, 127\.0\.0\.1:3002/);
    assertUsage(() => buildNodeConfig(parseNodeArgv(['--peer-config-file', 'other.json']), { readFile }), /^peers file other\.json: not found$/);
  });
});

describe('parseClusterArgv and childArgv', () => {
  test('cluster defaults: 5 nodes, 6 s of sending, 4 s of grace', () => {
    const args = parseClusterArgv([]);
    assert.equal(args.nodes, 5);
    assert.equal(args.sendForMs, 6000);
    assert.equal(args.waitForMs, 4000);
    assert.equal(args.protocol, 'stream');
    assert.equal(args.seed, undefined);
    assert.equal(args.peersOut, undefined);
    assert.equal(args.startApartMs, 0);
    assert.deepEqual(args.faults, []);
  });

  test('nodes started apart, killed and paused as planned', () => {
    const args = parseClusterArgv(['--nodes', '4', '--start-apart', '0.5', '--kill', 'n3@1.5', '--kill', 'n4@2', '--pause', 'n2@1+0.25']);
    assert.equal(args.startApartMs, 500);
    assert.deepEqual(args.faults, [
      { kind: 'kill', node: 'n3', atMs: 1500 },
      { kind: 'kill', node: 'n4', atMs: 2000 },
      { kind: 'pause', node: 'n2', atMs: 1000, forMs: 250 },
    ]);
  });

  const bad: [string[], RegExp][] = [
    [['--nodes', '0'], /^--nodes: expected a whole number 1\.\.64, got "0"$/],
    [['--nodes', '65'], /^--nodes: /],
    [['--nodes', 'five'], /^--nodes: /],
    [['--peers-out', ''], /^--peers-out: /],
    [['--send-for', 'x'], /^--send-for: /],
    [['--wait-for', '-1'], /^--wait-for: /],
    [['--protocol', 'raft'], /^--protocol: /],
    [['-h', 'host'], /unknown option '-h'.*chatterbox cluster --help/],
    [['--port', '1'], /unknown option '--port'/],
    [['--start-apart', 'soon'], /^--start-apart: /],
    [['--kill', 'n3'], /^--kill: expected node@seconds \(e\.g\. n3@1\.5\), got "n3"$/],
    [['--kill', 'n6@1'], /^--kill: expected a node n1\.\.n5, got "n6"$/],
    [['--nodes', '2', '--kill', 'n1@1', '--kill', 'n2@2'], /^--kill: every node would be killed/],
    [['--pause', 'n2@1'], /^--pause: expected node@seconds\+seconds/],
    [['--pause', 'n2@1+0'], /^--pause: /],
  ];
  for (const [argv, pattern] of bad) {
    test(`rejects ${JSON.stringify(argv)}`, () => assertUsage(() => parseClusterArgv(argv), pattern));
  }

  test('a child parses its argv back to the cluster settings (property)', () => {
    const settings = fc.record({
      sendMs: fc.integer({ min: 0, max: 86_400_000 }),
      waitMs: fc.integer({ min: 1, max: 86_400_000 }),
      tick: fc.integer({ min: 1, max: 60_000 }),
      seed: fc.bigInt({ min: -(2n ** 80n), max: 2n ** 80n }),
      lockstep: fc.boolean(),
      verbose: fc.boolean(),
      keyed: fc.boolean(),
      port: fc.integer({ min: 1, max: 65535 }),
    });
    fc.assert(
      fc.property(settings, (s) => {
        const argv = [
          '--send-for', String(s.sendMs / 1000), '--wait-for', String(s.waitMs / 1000), '--tick-duration', String(s.tick),
          '--protocol', s.lockstep ? 'lockstep' : 'stream', ...(s.verbose ? ['-v'] : []),
        ];
        const cluster = parseClusterArgv(argv);
        const [self] = clusterPeers([s.port]);
        assert.ok(self !== undefined);
        const child = childArgv(cluster, self, '/tmp/peers.json', s.seed, s.keyed ? '/tmp/key' : undefined);
        assert.equal(child[0], 'node');
        const node = parseNodeArgv(child.slice(1));
        assert.equal(node.sendForMs, s.sendMs);
        assert.equal(node.waitForMs, s.waitMs);
        assert.equal(node.tickMs, s.tick);
        assert.equal(node.seed, s.seed);
        assert.equal(node.protocol, cluster.protocol);
        assert.equal(node.verbose, s.verbose);
        assert.equal(node.progress, true);
        assert.equal(node.port, s.port);
        assert.equal(node.host, '127.0.0.1');
        assert.equal(node.peersFile, '/tmp/peers.json');
        assert.deepEqual(node.clusterKeyFile, s.keyed ? { path: '/tmp/key', source: '--cluster-key-file' } : undefined);
      }),
    );
  });
});

// -------------------------------------------------------------------------------------------------------
// Progress lines and the verdict

describe('child log lines', () => {
  test('progress lines are recognised by msg, fields read defensively', () => {
    assert.deepEqual(classifyChildLine('{"level":30,"node":"n1","msg":"progress","phase":"sending","sent":10,"committed":4}'), {
      kind: 'progress',
      node: 'n1',
      phase: 'sending',
      sent: 10,
      committed: 4,
    });
    assert.deepEqual(classifyChildLine('{"msg":"progress","sent":"many"}'), {
      kind: 'progress',
      node: undefined,
      phase: undefined,
      sent: undefined,
      committed: undefined,
    });
  });

  test('warnings and worse pass through always, info and debug only when verbose, foreign text always', () => {
    const info = classifyChildLine('{"level":30,"msg":"connected"}');
    const debug = classifyChildLine('{"level":20,"msg":"tick"}');
    const warn = classifyChildLine('{"level":40,"node":"n3","msg":"peer slow","peer":"n2"}');
    const fatal = classifyChildLine('{"level":60,"msg":"node failed","err":{"type":"Error","message":"EADDRINUSE","stack":"Error: EADDRINUSE\\n  at x"}}');
    const text = classifyChildLine('    at Object.<anonymous> (/x.js:1:1)');
    const progress = classifyChildLine('{"level":30,"msg":"progress"}');
    assert.equal(shouldPassThrough(info, false), false);
    assert.equal(shouldPassThrough(info, true), true);
    assert.equal(shouldPassThrough(debug, false), false);
    assert.equal(shouldPassThrough(warn, false), true);
    assert.equal(shouldPassThrough(fatal, false), true);
    assert.equal(shouldPassThrough(text, false), true);
    assert.equal(shouldPassThrough(progress, true), false);
    assert.equal(formatPassThrough('n3', warn, false), 'n3 WARN peer slow {"peer":"n2"}');
    assert.equal(formatPassThrough('n1', fatal, false), 'n1 FATAL node failed {"err":"EADDRINUSE"}');
    assert.match(formatPassThrough('n1', fatal, true), /"stack"/);
    assert.equal(formatPassThrough('n2', text, false), 'n2 |     at Object.<anonymous> (/x.js:1:1)');
    assert.equal(classifyChildLine('[1, 2]').kind, 'text');
    assert.equal(classifyChildLine('{"msg":"no level"}').kind, 'text');
  });
});

describe('judge', () => {
  const ok = (id: string, stdout: string): NodeOutcome => ({ id, stdout, exitCode: 0, signal: null, timedOut: false });

  test('agreement: every node exited 0 and printed the same line', () => {
    const verdict = judge([ok('n1', '(3, 1.5)\n'), ok('n2', '(3, 1.5)\n')], 15000);
    assert.equal(verdict.exitCode, EXIT_AGREEMENT);
    assert.deepEqual(verdict.lines, ['n1: (3, 1.5)', 'n2: (3, 1.5)', 'agreement: all 2 nodes printed (3, 1.5)']);
  });

  test('different lines are a disagreement (exit 1), grouped by result', () => {
    const verdict = judge([ok('n1', '(3, 1.5)\n'), ok('n2', '(4, 2.5)\n'), ok('n3', '(3, 1.5)\n')], 15000);
    assert.equal(verdict.exitCode, EXIT_DISAGREEMENT);
    assert.equal(verdict.lines.at(-1), 'DISAGREEMENT: 2 different results (n1, n3: (3, 1.5) | n2: (4, 2.5))');
  });

  test('crashed, silent, hung and signalled nodes are reported (exit 3 when the rest agree)', () => {
    const verdict = judge(
      [
        ok('n1', '(3, 1.5)\n'),
        { id: 'n2', stdout: '', exitCode: 1, signal: null, timedOut: false },
        { id: 'n3', stdout: '(3, 1.5)\n', exitCode: null, signal: 'SIGTERM', timedOut: true },
        { id: 'n4', stdout: '', exitCode: 0, signal: null, timedOut: false },
        { id: 'n5', stdout: '', exitCode: null, signal: 'SIGSEGV', timedOut: false },
        { id: 'n6', stdout: '(3, 1.5)', exitCode: 1, signal: null, timedOut: false },
        { id: 'n7', stdout: '', exitCode: null, signal: null, timedOut: false, spawnError: 'EAGAIN' },
      ],
      15000,
    );
    assert.equal(verdict.exitCode, EXIT_INCOMPLETE);
    assert.equal(verdict.lines[1], 'n2: (nothing printed)');
    assert.equal(
      verdict.lines.at(-1),
      'DISAGREEMENT: n2 exited with code 1 and printed nothing; n3 did not exit within 15.0 s and was killed; n4 printed nothing; ' +
        'n5 was killed by SIGSEGV and printed nothing; n6 exited with code 1; n7 could not be started (EAGAIN) and printed nothing',
    );
  });

  test('nodes killed as planned do not count: the live ones agree', () => {
    const killed: NodeOutcome = { id: 'n2', stdout: '', exitCode: null, signal: 'SIGKILL', timedOut: false, killedAsPlanned: true };
    const verdict = judge([ok('n1', '(3, 1.5)\n'), killed, ok('n3', '(3, 1.5)\n')], 15000);
    assert.equal(verdict.exitCode, EXIT_AGREEMENT);
    assert.deepEqual(verdict.lines, ['n1: (3, 1.5)', 'n2: (killed, --kill)', 'n3: (3, 1.5)', 'agreement: all 2 live nodes (n2 killed) printed (3, 1.5)']);
    assert.equal(judge([ok('n1', '(3, 1.5)\n'), killed, ok('n3', '(4, 1.5)\n')], 15000).exitCode, EXIT_DISAGREEMENT);
  });

  test('no output at all', () => {
    const verdict = judge([{ id: 'n1', stdout: '', exitCode: 1, signal: null, timedOut: false }], 1000);
    assert.equal(verdict.exitCode, EXIT_INCOMPLETE);
    assert.equal(verdict.lines.at(-1), 'DISAGREEMENT: no node printed a result; n1 exited with code 1 and printed nothing');
  });

  test('extra output lines count as a different result', () => {
    const verdict = judge([ok('n1', '(3, 1.5)\n'), ok('n2', '(3, 1.5)\nnoise\n')], 1000);
    assert.equal(verdict.exitCode, EXIT_DISAGREEMENT);
    assert.deepEqual(verdict.lines.slice(0, 3), ['n1: (3, 1.5)', 'n2: (3, 1.5)', 'n2: noise']);
  });
});

describe('ProgressBoard', () => {
  const rows = (): NodeProgress[] => [
    { id: 'n1', phase: 'sending', sent: 1200, committed: 900, state: 'running' },
    { id: 'n2', phase: 'starting', sent: undefined, committed: undefined, state: 'running' },
  ];

  test('the table aligns columns', () => {
    assert.deepEqual(formatProgressTable(rows(), 1500, 10000), [
      'cluster: 2 nodes, 1.5 s of about 10.0 s',
      'node  phase     sent  committed  state',
      'n1    sending   1200        900  running',
      'n2    starting     -          -  running',
    ]);
  });

  test('without a TTY: one summary line per second at most, and only after a change', () => {
    const written: string[] = [];
    let now = 0;
    const board = new ProgressBoard({ write: (text: string) => written.push(text) }, rows(), 10000, () => now, 0);
    board.tick();
    assert.equal(written.length, 1);
    assert.match(written[0] ?? '', /^progress at 0\.0 s \(sent\/committed\): n1 sending 1200\/900, n2 starting -\/-\n$/);
    now = 500;
    board.changed();
    board.tick();
    assert.equal(written.length, 1, 'throttled');
    now = 1000;
    board.tick();
    assert.equal(written.length, 2);
    now = 3000;
    board.tick();
    assert.equal(written.length, 2, 'nothing changed');
    board.print('n1 WARN x');
    assert.equal(written.at(-1), 'n1 WARN x\n');
  });

  test('on a TTY: redrawn in place, other lines printed above the table', () => {
    const written: string[] = [];
    const board = new ProgressBoard({ write: (text: string) => written.push(text), isTTY: true, columns: 30 }, rows(), 10000, () => 0, 0);
    board.tick();
    assert.equal(written.length, 1);
    assert.ok((written[0] ?? '').split('\n').every((line) => line.length <= 29), 'clipped to the terminal width');
    board.print('n2 WARN y');
    assert.deepEqual(written.slice(1, 3), ['\x1b[4F\x1b[J', 'n2 WARN y\n']);
    assert.equal(written.length, 4, 'and the table drawn again');
  });
});

// -------------------------------------------------------------------------------------------------------
// The program as a process

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function chatterbox(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return new Promise((resolve) => {
    const childEnv = { ...process.env, ...env };
    if (env[CLUSTER_KEY_ENV] === undefined) delete childEnv[CLUSTER_KEY_ENV];
    execFile(process.execPath, [MAIN, ...args], { timeout: HUNG_AFTER_MS, env: childEnv, cwd: dir }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : null;
      resolve({ code, stdout, stderr });
    });
  });
}

/** Exit 2, nothing on stdout, exactly one stderr line `chatterbox: ...` matching `pattern`. */
async function assertUsageExit(args: readonly string[], pattern: RegExp, env: NodeJS.ProcessEnv = {}): Promise<void> {
  const run = await chatterbox(args, env);
  assert.equal(run.code, 2, `exit code for ${JSON.stringify(args)}: ${run.code}; stderr: ${run.stderr}`);
  assert.equal(run.stdout, '');
  const lines = run.stderr.split('\n').filter((line) => line.length > 0);
  assert.equal(lines.length, 1, `one stderr line expected, got: ${run.stderr}`);
  assert.match(lines[0] ?? '', /^chatterbox: /);
  assert.match(lines[0] ?? '', pattern);
}

/**
 * The short runs below (a usage error, --help) wait only on the process's exit, so running a few at once cannot
 * make them fail; more than one per core would only slow the other process tests.
 */
const SHORT_RUNS_AT_ONCE = 2;

describe('chatterbox node: bad flags exit 2 with one line naming the flag', { concurrency: SHORT_RUNS_AT_ONCE }, () => {
  const cases: [string[], RegExp][] = [
    [['-p', 'abc'], /--port/],
    [['--port', '0'], /--port/],
    [['-p', '99999'], /--port/],
    [['-h', ''], /--host/],
    [['--send-for', '-1'], /--send-for/],
    [['--send-for', 'long'], /--send-for/],
    [['--wait-for', '0'], /--wait-for/],
    [['--with-seed', '3.5'], /--with-seed/],
    [['--with-seed', 'abc'], /--with-seed/],
    [['--tick-duration', '0'], /--tick-duration/],
    [['--tick-duration', 'fast'], /--tick-duration/],
    [['--protocol', 'paxos'], /--protocol/],
    [['--cluster-id', ''], /--cluster-id/],
    [['--peer-config-file', ''], /--peer-config-file/],
    [['--unknown-flag'], /--unknown-flag/],
    [['-x'], /'-x'/],
    [['--port'], /--port/],
    [['--json=yes'], /--json=yes/],
    [['positional'], /too many arguments/],
  ];
  for (const [argv, pattern] of cases) {
    test(`node ${argv.join(' ')}`, () => assertUsageExit(['node', ...argv], pattern));
  }
  test('unknown command', () => assertUsageExit(['bogus'], /unknown command 'bogus'/));
  test('cluster --nodes 65', () => assertUsageExit(['cluster', '--nodes', '65'], /--nodes/));
  test('cluster --send-for x', () => assertUsageExit(['cluster', '--send-for', 'x'], /--send-for/));
  test('cluster --bogus', () => assertUsageExit(['cluster', '--bogus'], /--bogus/));
  test('no command: usage on stderr, exit 2', async () => {
    const run = await chatterbox([]);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /Usage: chatterbox/);
  });
});

describe('chatterbox node: bad peers and key files exit 2 with one line naming the file', { concurrency: SHORT_RUNS_AT_ONCE }, () => {
  const peers: [string, string, RegExp][] = [
    ['bad-json.json', '[', /not valid JSON/],
    ['not-array.json', '{"a": 1}', /expected a JSON array/],
    ['bad-entry.json', '["127.0.0.1:3000:0", 5]', /entry 2/],
    ['bad-port.json', '[{"host": "127.0.0.1", "port": 0}]', /"port" must be an integer/],
    ['dup-id.json', '[{"id": "a", "host": "127.0.0.1", "port": 3000}, {"id": "a", "host": "127.0.0.1", "port": 3001}]', /duplicate id "a"/],
    ['dup-address.json', '["127.0.0.1:3000:0", {"id": "x", "host": "127.0.0.1", "port": 3000}]', /duplicate address 127\.0\.0\.1:3000/],
    ['no-self.json', '["127.0.0.1:3001:0"]', /does not list this node, 127\.0\.0\.1:3000/],
  ];
  for (const [name, text, pattern] of peers) {
    test(name, async () => {
      const path = fileWith(name, text);
      await assertUsageExit(['node', '--peer-config-file', path], new RegExp(`peers file ${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: .*${pattern.source}`));
    });
  }
  test('missing peers file (the default, peers.json in the working directory)', () => assertUsageExit(['node'], /^chatterbox: peers file peers\.json: not found$/));
  test('an id the handshake cannot carry, for every command that reads a peers file', async () => {
    const path = fileWith('long-id.json', JSON.stringify([{ id: 'x'.repeat(MAX_HELLO_TEXT_CHARS + 1), host: '127.0.0.1', port: 3000 }]));
    const problem = /: entry 1: id "x+…" is 257 characters long; the handshake carries at most 256$/;
    for (const command of [['node'], ['chat'], ['ranges', 'serve', '--data-dir', join(dir, 'ranges-data')]]) {
      await assertUsageExit([...command, '--peer-config-file', path], problem);
    }
  });

  test('key files: too short, missing, from the environment, flag over environment', async () => {
    const peersPath = fileWith('self.json', '["127.0.0.1:3000:0"]');
    const shortKey = fileWith('short.key', 'tooshort\n');
    await assertUsageExit(['node', '--peer-config-file', peersPath, '--cluster-key-file', shortKey], /--cluster-key-file .*short\.key: the key is 8 bytes/);
    await assertUsageExit(['node', '--peer-config-file', peersPath, '--cluster-key-file', join(dir, 'none.key')], /--cluster-key-file .*none\.key: not found/);
    await assertUsageExit(['node', '--peer-config-file', peersPath], /^chatterbox: CHATTERBOX_CLUSTER_KEY_FILE .*short\.key: /, { [CLUSTER_KEY_ENV]: shortKey });
    await assertUsageExit(['node', '--peer-config-file', peersPath, '--cluster-key-file', shortKey], /^chatterbox: --cluster-key-file /, {
      [CLUSTER_KEY_ENV]: join(dir, 'none.key'),
    });
    const run = await chatterbox(['node', '--peer-config-file', peersPath, '--cluster-key-file', shortKey]);
    assert.ok(!run.stderr.includes('tooshort'), 'the key is never printed');
  });

  test('cluster: a bad key file is reported once, before any node starts', () =>
    assertUsageExit(['cluster', '--cluster-key-file', fileWith('cluster-short.key', 'x')], /--cluster-key-file .*cluster-short\.key: the key is 1 bytes/));
});

describe('--help tells the truth', { concurrency: SHORT_RUNS_AT_ONCE }, () => {
  const helpCases: [string[], string[]][] = [
    [['--help'], ['node', 'cluster', '--help', '--version']],
    [
      ['node', '--help'],
      ['-p, --port', '-h, --host', '--peer-config-file', '--send-for', '--wait-for', '--with-seed', '--tick-duration', '-v, --verbose',
        '--protocol', '--json', '--cluster-key-file', CLUSTER_KEY_ENV, '--cluster-id', '--progress', '--metrics-port', '--metrics-host', '--help', 'default 3000',
        'default 127.0.0.1', 'default peers.json', 'default 3)', 'default 1)', 'default 100', 'default stream'],
    ],
    [
      ['cluster', '--help'],
      ['--nodes', '--peers-out', '--send-for', '--wait-for', '--with-seed', '--protocol', '--tick-duration', '--cluster-key-file',
        '-v, --verbose', '--help', 'default 5', 'default 6', 'default 4'],
    ],
    [['help', 'node'], ['-h, --host']],
    [['maelstrom', '--help'], ['--preset', '--topology', '--data-dir', '--log-level', ...HOSTED_WORKLOAD_NAMES, 'g-counter', 'error 10', ' 11 ', ' 12 ']],
    [['sim', '--help'], ['--workload', '--consistency-models', ...SIM_WORKLOADS, '4 with --workload']],
  ];
  test('chatterbox harness --help: the checks name every workload, the nemeses every fault, the exit statuses all', async () => {
    const run = await chatterbox(['harness', '--help']);
    assert.equal(run.code, 0, run.stderr);
    const flat = run.stdout.replace(/\s+/g, ' ');
    const checks = flat.slice(flat.indexOf('Checks, after Maelstrom'), flat.indexOf('Reported:'));
    for (const workload of HARNESS_WORKLOADS) assert.ok(checks.includes(workload), `the checks do not say how ${workload} is judged:\n${checks}`);
    for (const fault of ['partition (', 'kill (', 'pause (', '--node-data-dir']) assert.ok(flat.includes(fault), `help does not mention ${fault}`);
    for (const status of ['0 valid', '1 invalid', '2 usage error', '4 unknown', '130 interrupted']) assert.ok(flat.includes(status), `help does not give exit status ${status}`);
  });
  for (const [argv, mentions] of helpCases) {
    test(`chatterbox ${argv.join(' ')}`, async () => {
      const run = await chatterbox(argv);
      assert.equal(run.code, 0, run.stderr);
      assert.equal(run.stderr, '');
      const flat = run.stdout.replace(/\s+/g, ' '); // commander wraps descriptions at 80 columns
      for (const mention of mentions) assert.ok(flat.includes(mention), `help does not mention ${mention}:\n${run.stdout}`);
      assert.ok(!/-h, --help/.test(run.stdout), '-h is the host, never help');
    });
  }
});

// -------------------------------------------------------------------------------------------------------
// The cluster machinery, with scripted fake nodes instead of the runtime

/**
 * A stand-in for main.js: reads its own id from the peers file the cluster wrote, logs a progress line,
 * then behaves as `behaviours[id]` says. Printing the seed and protocol it was given shows they were passed.
 */
function fakeNode(name: string, behaviours: Record<string, string>): string {
  return fileWith(
    `${name}.mjs`,
    `import { readFileSync } from 'node:fs';
const argv = process.argv.slice(3);
const get = (flag) => argv[argv.indexOf(flag) + 1];
const peers = JSON.parse(readFileSync(get('--peer-config-file'), 'utf8'));
const self = peers.find((p) => p.port === Number(get('-p')) && p.host === get('-h'));
const log = (fields) => process.stderr.write(JSON.stringify({ level: 30, time: 't', node: self.id, ...fields }) + '\\n');
log({ msg: 'progress', phase: 'sending', sent: 5, committed: 2 });
log({ msg: 'info that stays hidden' });
const result = '(' + get('--with-seed') + ', ' + get('--protocol') + ')';
switch (${JSON.stringify(behaviours)}[self.id] ?? 'agree') {
  case 'agree': console.log(result); break;
  case 'differ': console.log('(0, other)'); break;
  case 'warn': log({ level: 40, msg: 'peer slow', peer: 'n1' }); console.log(result); break;
  case 'crash': throw new Error('boom');
  case 'silent': break;
  case 'hang': console.log(result); process.on('SIGTERM', () => {}); setInterval(() => {}, 1000); log({ level: 40, msg: 'hanging' }); break;
}
`,
  );
}

/**
 * Runs a cluster of fake nodes in-process; returns its exit code and both outputs. The hung-child deadline fires
 * once stderr matches `deadlineWhen`, not after a time; without it, only after HUNG_AFTER_MS (the fake nodes are
 * expected to exit by themselves long before).
 */
async function fakeCluster(script: string, argv: string[], deadlineWhen?: RegExp): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  let fireDeadline: (() => void) | undefined;
  const armDeadline = (_ms: number, fire: () => void): (() => void) => {
    if (deadlineWhen === undefined) {
      const timer = setTimeout(fire, HUNG_AFTER_MS);
      return () => clearTimeout(timer);
    }
    fireDeadline = fire;
    return () => (fireDeadline = undefined);
  };
  const out = new Writable({
    write(chunk: Buffer, _encoding, done) {
      stdout += chunk.toString('utf8');
      done();
    },
  });
  const code = await runClusterCommand(parseClusterArgv(argv), {
    stdout: out,
    stderr: {
      write: (text: string) => {
        stderr += text;
        if (deadlineWhen?.test(stderr) === true) {
          const fire = fireDeadline;
          fireDeadline = undefined;
          fire?.();
        }
      },
    },
    mainPath: script,
    armDeadline,
  });
  return { code, stdout, stderr };
}

describe('chatterbox cluster with fake nodes', () => {
  test('agreement: flags passed through, one line per node, the verdict, the peers file written', async () => {
    const peersOut = join(dir, 'cluster-peers.json');
    const run = await fakeCluster(fakeNode('agree', {}), ['--nodes', '3', '--with-seed', '99', '--protocol', 'lockstep', '--peers-out', peersOut]);
    assert.equal(run.code, EXIT_AGREEMENT, run.stderr);
    assert.equal(run.stdout, 'n1: (99, lockstep)\nn2: (99, lockstep)\nn3: (99, lockstep)\nagreement: all 3 nodes printed (99, lockstep)\n');
    assert.match(run.stderr, /seed 99/);
    assert.match(run.stderr, /n1 exit 0 5\/2/, 'progress fields reach the summary');
    assert.ok(!run.stderr.includes('info that stays hidden'));
    const written = JSON.parse(readFileSync(peersOut, 'utf8')) as { id: string; host: string }[];
    assert.deepEqual(
      written.map((p) => [p.id, p.host]),
      [['n1', '127.0.0.1'], ['n2', '127.0.0.1'], ['n3', '127.0.0.1']],
    );
  });

  test('a random seed is chosen, printed, and shared by all nodes', async () => {
    const run = await fakeCluster(fakeNode('agree-random', {}), ['--nodes', '2']);
    assert.equal(run.code, EXIT_AGREEMENT, run.stderr);
    const seed = /seed (\d+) \(repeat with --with-seed \1\)/.exec(run.stderr)?.[1];
    assert.ok(seed !== undefined, run.stderr);
    assert.match(run.stdout, new RegExp(`^agreement: all 2 nodes printed \\(${seed}, stream\\)$`, 'm'));
  });

  test('disagreement exits 1 and names the groups', async () => {
    const run = await fakeCluster(fakeNode('differ', { n2: 'differ' }), ['--nodes', '3', '--with-seed', '1']);
    assert.equal(run.code, EXIT_DISAGREEMENT);
    assert.match(run.stdout, /^DISAGREEMENT: 2 different results \(n1, n3: \(1, stream\) \| n2: \(0, other\)\)$/m);
  });

  test('a crash and a silent node are reported; the crash trace and warnings pass through, prefixed', async () => {
    const run = await fakeCluster(fakeNode('crash', { n1: 'warn', n2: 'crash', n3: 'silent' }), ['--nodes', '3', '--with-seed', '1']);
    assert.equal(run.code, EXIT_INCOMPLETE);
    assert.match(run.stdout, /^n2: \(nothing printed\)$/m);
    assert.match(run.stdout, /^DISAGREEMENT: n2 exited with code 1 and printed nothing; n3 printed nothing$/m);
    assert.match(run.stderr, /^n1 WARN peer slow \{"peer":"n1"\}$/m);
    assert.match(run.stderr, /^n2 \| .*Error: boom/m);
  });

  test('a node still running at the deadline (send-for + wait-for + slack) is killed and reported', async () => {
    // The deadline fires once the fake node says it is hanging (it has printed its result and ignores SIGTERM),
    // not after 6 s of a clock that a slow start-up on a loaded machine would race.
    const run = await fakeCluster(fakeNode('hang', { n1: 'hang' }), ['--nodes', '1', '--with-seed', '1', '--send-for', '0', '--wait-for', '1'], /^n1 WARN hanging$/m);
    assert.equal(run.code, EXIT_INCOMPLETE);
    assert.match(run.stdout, /^n1: \(1, stream\)$/m, 'what it printed before hanging is still shown');
    assert.match(run.stdout, /^DISAGREEMENT: n1 did not exit within 6\.0 s and was killed$/m);
    assert.match(run.stderr, /n1 still running after 6\.0 s: killing/);
  });
});
