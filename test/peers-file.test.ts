import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { nodeId } from '../src/core/ids.js';
import { UsageError } from '../src/platform/user-errors.js';
import { MAX_PEERS, deriveClusterId, findSelf, formatPeersFile, parsePeers, readPeersFile } from '../src/platform/peers-file.js';
import { MAX_HELLO_TEXT_CHARS } from '../src/transport/hello-text.js';

let dir = '';
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'chatterbox-peers-test-'));
});
after(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** Writes `text` to a fresh file in the test dir and returns its path. */
function fileWith(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

/** Asserts that reading `path` fails with a one-line UsageError naming the file and matching `problem`. */
function assertFileError(path: string, problem: RegExp): void {
  assert.throws(
    () => readPeersFile(path),
    (error: unknown) => {
      assert.ok(error instanceof UsageError, `expected a UsageError, got ${String(error)}`);
      assert.equal(error.exitCode, 2);
      assert.ok(error.message.includes(path), `message does not name the file: ${error.message}`);
      assert.match(error.message, problem);
      assert.ok(!error.message.includes('\n'), `message is not one line: ${error.message}`);
      return true;
    },
  );
}

describe('peers file: accepted forms', () => {
  test('the original form: "host:port:0" strings, id = host:port', () => {
    const peers = readPeersFile(fileWith('original.json', '["127.0.0.1:3000:0", "127.0.0.1:3001:0", "example.org:4000:0"]'));
    assert.deepEqual(peers, [
      { id: '127.0.0.1:3000', host: '127.0.0.1', port: 3000 },
      { id: '127.0.0.1:3001', host: '127.0.0.1', port: 3001 },
      { id: 'example.org:4000', host: 'example.org', port: 4000 },
    ]);
  });

  test('the object form, with and without ids', () => {
    const peers = readPeersFile(
      fileWith('objects.json', JSON.stringify([{ id: 'n1', host: '10.0.0.5', port: 3000 }, { host: '10.0.0.6', port: 3000 }])),
    );
    assert.deepEqual(peers, [
      { id: 'n1', host: '10.0.0.5', port: 3000 },
      { id: '10.0.0.6:3000', host: '10.0.0.6', port: 3000 },
    ]);
  });

  test('both forms mixed, file order kept', () => {
    const peers = parsePeers('["b:2:0", {"id": "a", "host": "a", "port": 1}]', 'mixed.json');
    assert.deepEqual(
      peers.map((p) => p.id),
      ['b:2', 'a'],
    );
  });

  test('IPv6 hosts in the original form, bracketed or not', () => {
    const peers = parsePeers('["::1:3000:0", "[::1]:3001:0"]', 'v6.json');
    assert.deepEqual(peers, [
      { id: '::1:3000', host: '::1', port: 3000 },
      { id: '[::1]:3001', host: '::1', port: 3001 },
    ]);
  });

  test('a byte order mark and surrounding whitespace are tolerated', () => {
    assert.equal(parsePeers('\ufeff \n["h:1:0"]\n', 'bom.json').length, 1);
  });
});

describe('peers file: every problem is one line naming the file', () => {
  test('missing file', () => assertFileError(join(dir, 'does-not-exist.json'), /not found/));

  test('a directory', () => {
    const path = join(dir, 'a-directory');
    mkdirSync(path);
    assertFileError(path, /directory/);
  });

  test('empty file', () => assertFileError(fileWith('empty.json', '  \n'), /empty/));

  test('more nodes than a cluster has, for every command that reads a peers file', () => {
    const entries = (n: number): string => JSON.stringify(Array.from({ length: n }, (_, i) => `127.0.0.1:${1 + i}:0`));
    assert.equal(parsePeers(entries(MAX_PEERS), 'most.json').length, MAX_PEERS);
    assertFileError(fileWith('too-many.json', entries(MAX_PEERS + 1)), new RegExp(`lists ${MAX_PEERS + 1} nodes; a cluster has at most ${MAX_PEERS}`));
  });

  test('bad JSON', () => assertFileError(fileWith('bad.json', '["127.0.0.1:3000:0",'), /not valid JSON/));

  test('not an array', () => {
    assertFileError(fileWith('object.json', '{"peers": []}'), /expected a JSON array/);
    assertFileError(fileWith('string.json', '"127.0.0.1:3000:0"'), /expected a JSON array/);
  });

  test('an empty list', () => assertFileError(fileWith('none.json', '[]'), /no nodes/));

  test('bad entries', () => {
    assertFileError(fileWith('number.json', '[42]'), /entry 1: expected "host:port:0"/);
    assertFileError(fileWith('null.json', '["h:1:0", null]'), /entry 2: expected/);
    assertFileError(fileWith('nested.json', '[["h", 1]]'), /entry 1: expected .* an array/);
    assertFileError(fileWith('no-endpoint.json', '["127.0.0.1:3000"]'), /entry 1: "127.0.0.1:3000" is not of the form "host:port:0"/);
    assertFileError(fileWith('no-port.json', '[{"host": "a"}]'), /entry 1: "port" is missing/);
    assertFileError(fileWith('no-host.json', '[{"port": 1}]'), /entry 1: "host" is missing/);
    assertFileError(fileWith('empty-host.json', '[{"host": "", "port": 1}]'), /entry 1: "host" must not be empty/);
    assertFileError(fileWith('space-host.json', '[{"host": "a b", "port": 1}]'), /entry 1: "host" must not contain whitespace/);
    assertFileError(fileWith('empty-id.json', '[{"id": "", "host": "a", "port": 1}]'), /entry 1: "id" must not be empty/);
    assertFileError(fileWith('numeric-id.json', '[{"id": 7, "host": "a", "port": 1}]'), /entry 1: "id" must be a string/);
    assertFileError(fileWith('control-id.json', '[{"id": "a\\nb", "host": "a", "port": 1}]'), /entry 1: "id" must not contain control/);
    assertFileError(fileWith('extra-key.json', '[{"host": "a", "port": 1, "prot": 2}]'), /entry 1: unknown key\(s\) "prot"/);
  });

  test('ids the handshake cannot carry: too long, or not valid Unicode', () => {
    const longest = 'x'.repeat(MAX_HELLO_TEXT_CHARS);
    const accepted = parsePeers(JSON.stringify([{ id: longest, host: 'a', port: 1 }]), 'ok.json');
    assert.equal(accepted[0]?.id, longest);
    assertFileError(
      fileWith('long-id.json', JSON.stringify([{ id: 'n1', host: 'a', port: 1 }, { id: `${longest}y`, host: 'a', port: 2 }])),
      new RegExp(`entry 2: id "x+…" is ${MAX_HELLO_TEXT_CHARS + 1} characters long; the handshake carries at most ${MAX_HELLO_TEXT_CHARS}`),
    );
    // In the original form the id is host:port, so a long host name makes a long id.
    assertFileError(fileWith('long-host.json', JSON.stringify([`${'h'.repeat(MAX_HELLO_TEXT_CHARS)}:3000:0`])), /entry 1: id "h+…" is 261 characters long/);
    // JSON can spell a lone surrogate; UTF-8 on the wire cannot carry it, so the peers would see another id.
    assertFileError(fileWith('surrogate-id.json', '[{"id": "n\\ud800", "host": "a", "port": 1}]'), /entry 1: id .* lone UTF-16 surrogate/);
  });

  test('bad ports', () => {
    assertFileError(fileWith('port-zero.json', '[{"host": "a", "port": 0}]'), /"port" must be an integer 1\.\.65535, got 0/);
    assertFileError(fileWith('port-big.json', '[{"host": "a", "port": 70000}]'), /"port" must be an integer 1\.\.65535, got 70000/);
    assertFileError(fileWith('port-frac.json', '[{"host": "a", "port": 1.5}]'), /"port" must be an integer/);
    assertFileError(fileWith('port-string.json', '[{"host": "a", "port": "3000"}]'), /"port" must be an integer 1\.\.65535, got "3000"/);
    assertFileError(fileWith('port-original.json', '["a:70000:0"]'), /entry 1: .*port must be an integer 1\.\.65535, got 70000/);
    assertFileError(fileWith('port-original-0.json', '["a:0:0"]'), /entry 1: .*got 0/);
  });

  test('duplicate id', () => {
    assertFileError(
      fileWith('dup-id.json', JSON.stringify([{ id: 'n1', host: 'a', port: 1 }, { id: 'n2', host: 'a', port: 2 }, { id: 'n1', host: 'a', port: 3 }])),
      /duplicate id "n1" \(entries 1 and 3\)/,
    );
    // An explicit id may collide with another entry's default id.
    assertFileError(fileWith('dup-id-default.json', JSON.stringify(['a:1:0', { id: 'a:1', host: 'b', port: 1 }])), /duplicate id "a:1"/);
  });

  test('duplicate address, host names compared case-insensitively', () => {
    assertFileError(fileWith('dup-addr.json', JSON.stringify([{ id: 'n1', host: 'a', port: 1 }, { id: 'n2', host: 'a', port: 1 }])), /duplicate address a:1 \(entries 1 and 2\)/);
    assertFileError(fileWith('dup-addr-case.json', JSON.stringify([{ id: 'n1', host: 'Host', port: 1 }, { id: 'n2', host: 'host', port: 1 }])), /duplicate address/);
  });

  test('self missing', () => {
    const file = fileWith('others.json', '["127.0.0.1:3001:0", "127.0.0.1:3002:0"]');
    const peers = readPeersFile(file);
    assert.throws(
      () => findSelf(peers, '127.0.0.1', 3000, file),
      (error: unknown) =>
        error instanceof UsageError &&
        error.message.includes(file) &&
        /does not list this node, 127\.0\.0\.1:3000/.test(error.message) &&
        error.message.includes('127.0.0.1:3001') &&
        !error.message.includes('\n'),
    );
  });
});

describe('peers file: finding self and the cluster id', () => {
  const peers = parsePeers(JSON.stringify([{ id: 'n2', host: 'Example.ORG', port: 2 }, { id: 'n1', host: '127.0.0.1', port: 1 }]), 'p.json');

  test('self is matched by host (case-insensitively) and port', () => {
    assert.equal(findSelf(peers, 'example.org', 2, 'p.json').id, 'n2');
    assert.equal(findSelf(peers, '127.0.0.1', 1, 'p.json').id, 'n1');
    assert.throws(() => findSelf(peers, '127.0.0.1', 2, 'p.json'), UsageError);
  });

  test('the derived cluster id: first 16 hex of sha256 over the sorted ids joined by newlines', () => {
    const expected = createHash('sha256').update('n1\nn2').digest('hex').slice(0, 16);
    assert.equal(deriveClusterId(peers.map((p) => p.id)), expected);
    assert.equal(deriveClusterId([nodeId('n1'), nodeId('n2')]), expected, 'independent of file order');
    assert.notEqual(deriveClusterId([nodeId('n1')]), expected);
  });
});

describe('peers file: round trips (property)', () => {
  const host = fc.oneof(fc.ipV4(), fc.ipV6(), fc.domain());
  const port = fc.integer({ min: 1, max: 65535 });
  const id = fc.oneof(fc.string({ minLength: 1, maxLength: 12 }), fc.string({ minLength: 1, maxLength: 6, unit: 'grapheme' })).filter(
    (s) => !/[\u0000-\u001f\u007f]/.test(s),
  );
  const addressKey = (p: { host: string; port: number }): string => `${p.host.toLowerCase()}:${p.port}`;

  test('any valid list written in the object form parses back to itself', () => {
    const list = fc
      .uniqueArray(fc.record({ id, host, port }), { minLength: 1, maxLength: 20, selector: addressKey })
      .filter((peers) => new Set(peers.map((p) => p.id)).size === peers.length);
    fc.assert(
      fc.property(list, (raw) => {
        const peers = raw.map((p) => ({ ...p, id: nodeId(p.id) }));
        assert.deepEqual(parsePeers(formatPeersFile(peers), 'gen.json'), peers);
        assert.deepEqual(parsePeers(JSON.stringify(peers), 'gen.json'), peers);
      }),
    );
  });

  test('any valid list written in the original form parses back, ids being host:port', () => {
    // Valid includes an id (host:port) short enough for the handshake; a long domain name can pass that.
    const address = fc.record({ host, port }).filter((a) => `${a.host}:${a.port}`.length <= MAX_HELLO_TEXT_CHARS);
    const list = fc.uniqueArray(address, { minLength: 1, maxLength: 20, selector: addressKey });
    fc.assert(
      fc.property(list, (addresses) => {
        const parsed = parsePeers(JSON.stringify(addresses.map((a) => `${a.host}:${a.port}:0`)), 'gen.json');
        assert.deepEqual(
          parsed,
          addresses.map((a) => ({ id: `${a.host}:${a.port}`, host: a.host, port: a.port })),
        );
        for (const a of addresses) assert.equal(findSelf(parsed, a.host, a.port, 'gen.json').host, a.host);
      }),
    );
  });
});
