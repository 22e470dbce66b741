/**
 * The pure parts of how user errors are told: system errors turned into one-line reasons, the flag validators,
 * the place flags declared once for the three commands that take them, and `mkdir -p` that always ends.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { isAbsolute, join, relative } from 'node:path';
import type { Command } from 'commander';
import { defineChatCommand } from '../src/cli/chat-command.js';
import { checkStdin } from '../src/platform/stdin.js';
import { RunError, UsageError, fileErrorText, listenErrorText, listenRunError, systemErrorOf } from '../src/platform/user-errors.js';
import { oneOf, pathOption, wholeNumber } from '../src/cli/flags.js';
import { harnessArgsFromOptions } from '../src/cli/harness-command.js';
import { defineNodeCommand } from '../src/cli/node-command.js';
import { MAX_INPUT_FILE_BYTES, readInputFile } from '../src/platform/peers-file.js';
import { placeArgsFromOptions } from '../src/cli/place-flags.js';
import { defineServeCommand } from '../src/cli/ranges-command.js';
import { makeDirectory } from '../src/runtime/make-directory.js';

let dir = '';
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'chatterbox-cli-errors-'));
});
after(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** What Node's net module throws when a port is taken, wrapped as the TCP transport wraps it. */
function listenError(code: string, address = '127.0.0.1', port = 3000): Error {
  const cause = Object.assign(new Error(`listen ${code}: ${address}:${port}`), { code, syscall: 'listen', address, port, errno: -98 });
  return new Error(`cannot listen on ${address}:${port}: ${cause.message}`, { cause });
}

describe('errors a user can cause', () => {
  test('usage errors exit 2 and run errors 1, both one line', () => {
    assert.equal(new UsageError('a\nb').message, 'a b');
    assert.equal(new UsageError('x').exitCode, 2);
    assert.equal(new RunError('line one\r\n  line two').message, 'line one line two');
    assert.equal(new RunError('x').exitCode, 1);
  });

  test('a system error is found through wrappers, and a cycle of causes ends', () => {
    assert.deepEqual(systemErrorOf(listenError('EADDRINUSE')), { code: 'EADDRINUSE', syscall: 'listen', address: '127.0.0.1', port: 3000 });
    const cyclic: { cause?: unknown } = new Error('loop');
    cyclic.cause = cyclic;
    assert.equal(systemErrorOf(cyclic), undefined);
    assert.equal(systemErrorOf('text'), undefined);
  });

  test('a failure to listen says where and why in one line; other errors are not listen failures', () => {
    assert.equal(listenErrorText(listenError('EADDRINUSE')), 'cannot listen on 127.0.0.1:3000: the address is already in use (is another process listening on that port?)');
    assert.equal(listenErrorText(listenError('EADDRNOTAVAIL', '192.0.2.1')), 'cannot listen on 192.0.2.1:3000: no network interface of this machine has that address');
    assert.equal(listenErrorText(listenError('EACCES', '::1', 80)), 'cannot listen on [::1]:80: permission denied (ports below 1024 need privileges)');
    const dns = Object.assign(new Error('getaddrinfo ENOTFOUND nowhere.invalid'), { code: 'ENOTFOUND', syscall: 'getaddrinfo', hostname: 'nowhere.invalid' });
    assert.equal(listenErrorText(dns), 'cannot listen on "nowhere.invalid": no such host name');
    // A resolver that cannot answer now: its code has an underscore, which the classifier once missed.
    const again = Object.assign(new Error('getaddrinfo EAI_AGAIN slow.example'), { code: 'EAI_AGAIN', syscall: 'getaddrinfo', hostname: 'slow.example' });
    assert.equal(systemErrorOf(again)?.code, 'EAI_AGAIN');
    assert.equal(listenErrorText(again), 'cannot listen on "slow.example": no such host name');
    // Node's own codes are not system errors: the walk goes on to the cause.
    const wrapped = Object.assign(new Error('x', { cause: again }), { code: 'ERR_SOCKET_BAD_PORT' });
    assert.equal(systemErrorOf(wrapped)?.code, 'EAI_AGAIN');
    assert.equal(listenErrorText(Object.assign(new Error('x'), { code: 'ENOENT', syscall: 'open' })), undefined);
    assert.equal(listenErrorText(new Error('no code')), undefined);
    const run = listenRunError(listenError('EADDRINUSE'), '-h/--host, -p/--port');
    assert.ok(run instanceof RunError);
    assert.match(run.message, /^-h\/--host, -p\/--port: cannot listen on 127\.0\.0\.1:3000: the address is already in use/);
  });

  test('stdin from a directory is a usage error; one that cannot be examined is left alone', () => {
    assert.throws(() => checkStdin(() => true), (e: unknown) => e instanceof UsageError && /^stdin: is a directory/.test(e.message));
    checkStdin(() => false);
    checkStdin(() => {
      throw Object.assign(new Error('EBADF'), { code: 'EBADF' });
    });
  });

  test('file errors read as reasons', () => {
    const fsError = (code: string): Error => Object.assign(new Error(`${code}: x`), { code });
    assert.equal(fileErrorText(fsError('ENOENT')), 'not found');
    assert.equal(fileErrorText(fsError('EISDIR')), 'is a directory, not a file');
    assert.equal(fileErrorText(fsError('ENOTDIR')), 'a part of the path is not a directory');
    assert.equal(fileErrorText(fsError('EACCES')), 'permission denied');
    assert.match(fileErrorText(fsError('EFBIG')), /far larger/);
    assert.equal(fileErrorText(new Error('odd\nthing')), 'cannot be read (odd thing)');
  });

  test('input files are read up to a bound, never to the end of an endless one', () => {
    const small = join(dir, 'small');
    writeFileSync(small, 'hello');
    assert.equal(readInputFile(small).toString(), 'hello');
    const big = join(dir, 'big');
    writeFileSync(big, Buffer.alloc(MAX_INPUT_FILE_BYTES + 1));
    assert.throws(() => readInputFile(big), (error: unknown) => systemErrorOf(error)?.code === 'EFBIG');
    if (existsSync('/dev/zero')) assert.throws(() => readInputFile('/dev/zero'), (error: unknown) => systemErrorOf(error)?.code === 'EFBIG');
    assert.throws(() => readInputFile(dir), (error: unknown) => systemErrorOf(error)?.code === 'EISDIR');
  });
});

describe('flag validators', () => {
  test('name the flag, what was expected and what was given', () => {
    assert.equal(wholeNumber('--n', '7', 1, 9), 7);
    assert.throws(() => wholeNumber('--n', '10', 1, 9), /^UsageError: --n: expected a whole number 1\.\.9, got "10"$/);
    assert.throws(() => wholeNumber('--t', 'x', 1, 9, ' of milliseconds'), /--t: expected a whole number of milliseconds 1\.\.9, got "x"/);
    assert.equal(oneOf('--p', 'b', ['a', 'b']), 'b');
    assert.throws(() => oneOf('--p', 'c', ['a', 'b']), /--p: expected one of a, b, got "c"/);
    assert.equal(pathOption({}, 'f', '--f'), undefined);
    assert.throws(() => pathOption({ f: '' }, 'f', '--f', 'directory'), /--f: expected a directory name, got ""/);
  });
});

describe('the place flags', () => {
  const PLACE_FLAGS = ['--host', '--port', '--peer-config-file', '--cluster-key-file', '--cluster-id'];
  const place = (cmd: Command): string[][] => cmd.options.filter((o) => PLACE_FLAGS.includes(o.long ?? '')).map((o) => [o.flags, o.description]);

  test('node, chat and ranges serve declare the same five, with one help text each', () => {
    const node = place(defineNodeCommand());
    assert.equal(node.length, PLACE_FLAGS.length);
    assert.deepEqual(place(defineChatCommand()), node);
    assert.deepEqual(place(defineServeCommand()), node);
  });

  test('validated once: defaults, and the environment for the key', () => {
    assert.deepEqual(placeArgsFromOptions({}, {}), { host: '127.0.0.1', port: 3000, peersFile: 'peers.json', clusterKeyFile: undefined, clusterId: undefined });
    assert.deepEqual(placeArgsFromOptions({}, { CHATTERBOX_CLUSTER_KEY_FILE: 'k' }).clusterKeyFile, { path: 'k', source: 'CHATTERBOX_CLUSTER_KEY_FILE' });
    assert.throws(() => placeArgsFromOptions({ peerConfigFile: '' }, {}), /--peer-config-file: expected a file name/);
    assert.throws(() => placeArgsFromOptions({ port: '0' }, {}), /-p\/--port: expected a port number/);
  });
});

describe('makeDirectory', () => {
  test('creates missing ancestors, accepts an existing directory, and says why it cannot', () => {
    const deep = join(dir, 'a', 'b', 'c');
    makeDirectory(deep);
    assert.ok(statSync(deep).isDirectory());
    makeDirectory(deep);
    const file = join(dir, 'file');
    writeFileSync(file, 'x');
    assert.throws(() => makeDirectory(join(file, 'below')), (error: unknown) => systemErrorOf(error)?.code === 'ENOTDIR');
  });

  test('a path the file system refuses (/proc/x) fails at once instead of spinning', { skip: !existsSync('/proc/self') }, () => {
    assert.throws(() => makeDirectory('/proc/x/y'), (error: unknown) => systemErrorOf(error) !== undefined);
  });
});

describe('harness --bin', () => {
  test('a relative path runs the file that was checked, not one of that name on PATH', () => {
    const bin = join(dir, 'my-node');
    writeFileSync(bin, '#!/bin/sh\n');
    chmodSync(bin, 0o755);
    const given = relative(process.cwd(), bin);
    const checked = harnessArgsFromOptions({ workload: 'echo', bin: given }, []).input.bin;
    assert.ok(checked !== undefined && isAbsolute(checked) && checked === bin, String(checked));
  });
});
