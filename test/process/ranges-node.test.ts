/**
 * `chatterbox ranges` as real processes on loopback: three nodes gossip registrations made through the HTTP API
 * and the CLI until every node answers every lookup the same; a node killed with SIGKILL and restarted on its
 * data dir still serves its registrations, and its new writes win over its old ones everywhere.
 *
 * Waiting is on output (the "ranges node started" log line) or on polling the API until the nodes agree (failing
 * only after HUNG_AFTER_MS); no sleeps.
 * The parts (router, flag parsing, a node in this process) are tested below the processes.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request as httpRequest } from 'node:http';
import { HUNG_AFTER_MS, localCluster, startChatterbox, type LocalCluster, type Running } from './helpers/processes.js';
import { api, ok, until } from './helpers/ranges-api.js';
import { freePorts } from '../../src/supervisor/free-port.js';
import { nodeId } from '../../src/core/ids.js';
import { routeRangesHttp, MAX_BODY_BYTES, isLoopbackHost, type HttpInput } from '../../src/runtime/ranges-http.js';
import { startRangesNode, type RangesNode } from '../../src/runtime/ranges-node.js';
import { silentLogger } from '../../src/platform/log.js';
import { defineRangesCommand, defineServeCommand, parseClientArgv, parseServeArgv } from '../../src/cli/ranges-command.js';
import { UsageError } from '../../src/platform/user-errors.js';
import { AWORMap, AWORSet, encode } from '../../src/crdt/index.js';
import { SqliteStore, StoreError } from '../../src/runtime/durable-store.js';

const HALF = 2 ** 31;
const FULL = 2 ** 32;

const cleanup: Array<() => void | Promise<void>> = [];
after(async () => {
  for (const step of cleanup.reverse()) await step();
});

async function cli(args: readonly string[]): Promise<{ code: number | string; stdout: string; stderr: string }> {
  const run = startChatterbox(['ranges', ...args]);
  const code = await run.exited;
  return { code, stdout: run.stdoutLines.join('\n'), stderr: run.stderrLines.join('\n') };
}

interface Node {
  readonly index: number;
  readonly apiPort: number;
  readonly dataDir: string;
  proc: Running;
}

describe('chatterbox ranges: three processes over TCP', () => {
  let cluster: LocalCluster;
  const nodes: Node[] = [];

  function serve(node: Node): Running {
    const proc = startChatterbox([
      'ranges',
      'serve',
      '-p',
      String(cluster.ports[node.index]),
      '--peer-config-file',
      cluster.peersFile,
      '--data-dir',
      node.dataDir,
      '--api-port',
      String(node.apiPort),
      '--interval-ms',
      '50',
    ]);
    cleanup.push(() => {
      if (proc.proc.exitCode === null && proc.proc.signalCode === null) proc.proc.kill('SIGKILL');
    });
    return proc;
  }

  /** What a node answers for the reads every node must agree on. */
  async function view(port: number): Promise<string> {
    const reads = ['/groups', '/groups/users/members', '/groups/users/topology', ...['alice', 'bob', 'carol', 'dave'].map((k) => `/groups/users/lookup?key=${k}`)];
    reads.push(...[0, HALF - 1, HALF, FULL - 1].map((p) => `/groups/users/lookup?position=${p}`));
    const answers = await Promise.all(reads.map((path) => api(port, 'GET', path)));
    return JSON.stringify(answers);
  }

  async function views(): Promise<string[]> {
    return Promise.all(nodes.map((n) => view(n.apiPort)));
  }

  /** `state`: the node's membership state as the answering node sees it. */
  type Registration = { node: string; start: number; end: number; priority: number; meta: unknown; state: string };

  async function registrationsSeenBy(port: number): Promise<Registration[]> {
    const topology = (await api(port, 'GET', '/groups/users/topology')).json as { result?: { nodes: Registration[] }[] };
    const all = new Map<string, Registration>();
    for (const sub of topology.result ?? []) for (const r of sub.nodes) all.set(`${r.node} ${r.start} ${r.end}`, r);
    return [...all.values()].sort((a, b) => (a.node < b.node ? -1 : a.node > b.node ? 1 : 0));
  }

  test('join and register on different nodes (API and CLI), converge; bad input; SIGKILL and restart keep registrations; new writes win', { timeout: 4 * HUNG_AFTER_MS }, async () => {
    cluster = await localCluster(3);
    cleanup.push(() => rmSync(cluster.dir, { recursive: true, force: true }));
    const apiPorts = await freePorts(3);
    for (let i = 0; i < 3; i++) nodes.push({ index: i, apiPort: apiPorts[i]!, dataDir: join(cluster.dir, `data-n${i + 1}`), proc: undefined as unknown as Running });
    for (const node of nodes) node.proc = serve(node);
    await Promise.all(nodes.map((n) => n.proc.stderrMatching(/"msg":"ranges node started"/)));
    const [n1, n2, n3] = nodes as [Node, Node, Node];
    const n2Api = `http://127.0.0.1:${n2.apiPort}`;

    // n1 through the API, n2 through the CLI, n3 through the API.
    await ok(n1.apiPort, 'POST', '/groups/users/join');
    await ok(n1.apiPort, 'POST', '/groups/users/ranges', { start: 0, end: HALF, meta: { host: '10.0.0.1', port: 7000 } });
    await ok(n1.apiPort, 'POST', '/groups/n1-only/join');
    assert.deepEqual(await cli(['join', 'users', '--api', n2Api]), { code: 0, stdout: '', stderr: '' });
    assert.deepEqual(await cli(['register', 'users', '0x40000000', String(FULL), '--meta', '"n2-v1"', '--api', n2Api]), { code: 0, stdout: '', stderr: '' });
    await ok(n2.apiPort, 'POST', '/groups/users/ranges/increase', { start: 2 ** 30, end: FULL, by: 2 });
    await ok(n3.apiPort, 'POST', '/groups/users/join');
    await ok(n3.apiPort, 'POST', '/groups/users/ranges', { start: HALF, end: FULL });

    const expected: Registration[] = [
      { node: 'n1', start: 0, end: HALF, priority: 1, meta: { host: '10.0.0.1', port: 7000 }, state: 'alive' },
      { node: 'n2', start: 2 ** 30, end: FULL, priority: 3, meta: 'n2-v1', state: 'alive' },
      { node: 'n3', start: HALF, end: FULL, priority: 1, meta: null, state: 'alive' },
    ];
    const converged = async (want: Registration[]): Promise<boolean> => {
      const all = await views();
      if (!all.every((v) => v === all[0])) return false;
      return JSON.stringify(await registrationsSeenBy(n1.apiPort)) === JSON.stringify(want);
    };
    const show = async (): Promise<string> => (await views()).map((v, i) => `n${i + 1}: ${v}`).join('\n');
    await until(() => converged(expected), show);

    // Best first: priority, then node id. Position HALF is served by n2 (3), then n3 (1); n1's range ends there.
    const atHalf = (await ok(n3.apiPort, 'GET', `/groups/users/lookup?position=${HALF}`)) as { position: number; nodes: Registration[] };
    assert.deepEqual(atHalf, { position: HALF, nodes: [expected[1], expected[2]] });
    assert.deepEqual(await ok(n2.apiPort, 'GET', '/groups/users/members'), ['n1', 'n2', 'n3']);
    // The CLI prints the API's result as JSON.
    const viaCli = await cli(['lookup', 'users', 'alice', '--api', `http://127.0.0.1:${n3.apiPort}`]);
    assert.equal(viaCli.code, 0, viaCli.stderr);
    assert.deepEqual(JSON.parse(viaCli.stdout), await ok(n1.apiPort, 'GET', '/groups/users/lookup?key=alice'));

    // Bad ranges are 400 bad-range, unknown groups 404, with a message saying what is wrong.
    const backwards = await api(n1.apiPort, 'POST', '/groups/users/ranges', { start: 10, end: 5 });
    assert.deepEqual(backwards, { status: 400, json: { error: { code: 'bad-range', message: 'range start 10 is after its end 5' } } });
    const beyond = await api(n1.apiPort, 'POST', '/groups/users/ranges', { start: 0, end: FULL + 1 });
    assert.equal(beyond.status, 400);
    assert.match(JSON.stringify(beyond.json), /"code":"bad-range".*beyond the key space/);
    const released = await api(n1.apiPort, 'DELETE', '/groups/users/ranges?start=-1&end=5');
    assert.match(JSON.stringify(released), /"status":400.*"code":"bad-range".*below the key space/);
    assert.deepEqual(await api(n1.apiPort, 'GET', '/groups/nope/lookup?key=a'), { status: 404, json: { error: { code: 'unknown-group', message: 'unknown group "nope"' } } });
    assert.equal((await api(n1.apiPort, 'POST', '/groups/nope/ranges', { start: 0, end: 5 })).status, 404);
    // n3 knows the group n1 joined (the views agree), but is not a member of it.
    assert.deepEqual(await ok(n3.apiPort, 'GET', '/groups'), ['n1-only', 'users']);
    assert.deepEqual(await api(n3.apiPort, 'POST', '/groups/n1-only/ranges', { start: 0, end: 5 }), {
      status: 409,
      json: { error: { code: 'not-member', message: 'node "n3" is not a member of group "n1-only": join it first' } },
    });
    const cliBad = await cli(['register', 'users', '10', '5', '--api', n2Api]);
    assert.deepEqual(cliBad, { code: 1, stdout: '', stderr: 'chatterbox: bad-range: range start 10 is after its end 5' });

    // SIGKILL n2: no chance to flush or close anything. Restart it on the same data dir.
    n2.proc.proc.kill('SIGKILL');
    assert.equal(await n2.proc.exited, 'SIGKILL');
    n2.proc = serve(n2);
    assert.match(await n2.proc.stderrMatching(/"msg":"ranges node started"/), /"restored":true/);
    // Its own registration is there at once, from its store, before it has heard from anyone. (Its store holds
    // the replica as of its own last write, so n3's later registration may come only from the others.)
    const early = (await ok(n2.apiPort, 'GET', `/groups/users/lookup?position=${FULL - 1}`)) as { nodes: Registration[] };
    assert.deepEqual(early.nodes[0], expected[1]);

    // New writes from the restarted node, at once (perhaps before it has heard from anyone): they are numbered
    // after its old ones, so they must not lose to them anywhere. A node restarted without its store would
    // reuse its old dots here, and the others would take these writes for ones they already have.
    await ok(n2.apiPort, 'POST', '/groups/users/ranges', { start: 2 ** 30, end: FULL, meta: 'n2-v2' });
    await ok(n2.apiPort, 'POST', '/groups/users/ranges/increase', { start: 2 ** 30, end: FULL, by: 1 });
    const after: Registration[] = [expected[0]!, { ...expected[1]!, priority: 4, meta: 'n2-v2' }, expected[2]!];
    await until(() => converged(after), show);
    for (const node of nodes) assert.deepEqual(await registrationsSeenBy(node.apiPort), after);

    // SIGTERM stops every node cleanly.
    for (const node of nodes) node.proc.proc.kill('SIGTERM');
    assert.deepEqual(await Promise.all(nodes.map((n) => n.proc.exited)), [0, 0, 0]);

    // A data dir is one node's: n3 on n1's is refused with exit 2 and one line.
    const wrong = await cli(['serve', '-p', String(cluster.ports[2]), '--peer-config-file', cluster.peersFile, '--data-dir', n1.dataDir, '--api-port', String(n3.apiPort)]);
    assert.equal(wrong.code, 2);
    assert.match(wrong.stderr, /^chatterbox: --data-dir: data dir .*data-n1 belongs to node "n1" of cluster "[0-9a-f]+", not to node "n3"/);
  });

  test('an unreachable node exits 1; a usage error exits 2 with one line', { timeout: HUNG_AFTER_MS }, async () => {
    const [closed] = await freePorts(1);
    const [unreachable, bad] = await Promise.all([cli(['groups', '--api', `http://127.0.0.1:${closed}`]), cli(['register', 'g', 'zero', '5'])]);
    assert.equal(unreachable.code, 1);
    assert.match(unreachable.stderr, /^chatterbox: cannot reach the node's API at http:\/\/127\.0\.0\.1:\d+ \(connection refused\)/);
    assert.deepEqual(bad, { code: 2, stdout: '', stderr: 'chatterbox: <start>: expected a whole number (decimal, or hex as 0x…), got "zero"' });
  });
});

/** A one-node cluster in a fresh data dir (removed after the tests), its API on a free port. */
async function soloConfig(): Promise<Parameters<typeof startRangesNode>[0]> {
  const [peerPort] = await freePorts(1);
  const dir = mkdtempSync(join(tmpdir(), 'chatterbox-ranges-'));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  const self = { id: nodeId('solo'), host: '127.0.0.1', port: peerPort! };
  return { self, peers: [self], clusterId: 'test', dataDir: dir, apiHost: '127.0.0.1', apiPort: 0, fanout: 1, intervalMs: 20 };
}

describe('ranges node in this process', () => {
  let node: RangesNode;
  let port: number;

  test('starts on a free API port', async () => {
    node = await startRangesNode(await soloConfig(), silentLogger());
    cleanup.push(() => node.stop());
    port = node.apiPort;
    assert.equal(node.apiUrl, `http://127.0.0.1:${port}`);
    const info = (await ok(port, 'GET', '/node')) as { address: string };
    assert.deepEqual(info, { id: 'solo', clusterId: 'test', address: info.address, nodes: ['solo'] });
    assert.match(info.address, /^127\.0\.0\.1:\d+$/);
    assert.deepEqual(node.members().map((m) => [m.id, m.state]), [['solo', 'alive']]);
    assert.equal(node.transportStats().established, 0);
  });

  test('leave releases everything, the last leave removes the group, a decrease to zero releases, bad amounts are 400', async () => {
    await ok(port, 'POST', '/groups/g/join');
    await ok(port, 'POST', '/groups/g/leave');
    // The group is gone with its last member.
    assert.equal((await api(port, 'GET', '/groups/g/members')).status, 404);
    await ok(port, 'POST', '/groups/g/join');
    await ok(port, 'POST', '/groups/g/ranges', { start: 0, end: 100, meta: [1, 'two', { three: null }] });
    await ok(port, 'POST', '/groups/g/ranges/increase', { start: 0, end: 100, by: 2 });
    assert.deepEqual(await ok(port, 'GET', '/groups/g/lookup?position=99'), { position: 99, nodes: [{ node: 'solo', start: 0, end: 100, priority: 3, meta: [1, 'two', { three: null }], state: 'alive' }] });
    await ok(port, 'POST', '/groups/g/ranges/decrease', { start: 0, end: 100, by: 3 });
    assert.deepEqual(await ok(port, 'GET', '/groups/g/topology'), []);
    await ok(port, 'POST', '/groups/g/ranges', { start: 5, end: 6 });
    await ok(port, 'DELETE', '/groups/g/ranges?start=5&end=6');
    assert.deepEqual(await ok(port, 'GET', '/groups/g/lookup?position=5'), { position: 5, nodes: [] });
    await ok(port, 'POST', '/groups/g/leave');
    await ok(port, 'POST', '/groups/h/join');
    await ok(port, 'POST', '/groups/h/ranges', { start: 0, end: 1 });
    await ok(port, 'POST', '/groups/h/leave');
    const gone = await api(port, 'POST', '/groups/h/ranges', { start: 0, end: 1 });
    assert.equal(gone.status, 404, 'the last member left, so h is gone');
    await ok(port, 'POST', '/groups/i/join');
    const zero = await api(port, 'POST', '/groups/i/ranges/increase', { start: 0, end: 1, by: 0 });
    assert.deepEqual(zero.status, 400);
    assert.match(JSON.stringify(zero.json), /"code":"bad-request".*positive safe integer/);
  });

  test('HTTP-level errors: 405 with Allow, 404 route, 415, 413 (declared and streamed), forbidden Host, bad JSON', async () => {
    const put = await fetch(`http://127.0.0.1:${port}/groups`, { method: 'PUT' });
    assert.equal(put.status, 405);
    assert.equal(put.headers.get('allow'), 'GET');
    assert.deepEqual(((await put.json()) as { error: { code: string } }).error.code, 'method-not-allowed');
    assert.equal((await api(port, 'GET', '/nothing')).status, 404);
    const form = await fetch(`http://127.0.0.1:${port}/groups/g/join`, { method: 'POST', body: 'a=b', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    assert.equal(form.status, 415);
    const big = JSON.stringify({ start: 0, end: 1, meta: 'x'.repeat(MAX_BODY_BYTES) });
    const declared = await fetch(`http://127.0.0.1:${port}/groups/g/ranges`, { method: 'POST', body: big, headers: { 'content-type': 'application/json' } });
    assert.equal(declared.status, 413);
    assert.equal(((await declared.json()) as { error: { code: string } }).error.code, 'payload-too-large');
    // Without a Content-Length (chunked), the cap applies as the body streams in.
    const streamed = await rawRequest(port, { method: 'POST', path: '/groups/g/ranges', headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' }, body: big });
    assert.equal(streamed.status, 413);
    const rebound = await rawRequest(port, { method: 'GET', path: '/groups', headers: { host: 'evil.example:80' } });
    assert.equal(rebound.status, 403);
    const junk = await fetch(`http://127.0.0.1:${port}/groups/g/ranges`, { method: 'POST', body: '{"start": 1,', headers: { 'content-type': 'application/json' } });
    assert.equal(junk.status, 400);
    assert.match(JSON.stringify(await junk.json()), /"code":"bad-request","message":"the body is not valid JSON/);
    // The node still works after all that.
    assert.equal((await api(port, 'GET', '/groups')).status, 200);
  });

  test('stops cleanly and releases its store', async () => {
    await node.stop();
    await node.stop();
    await assert.rejects(fetch(`http://127.0.0.1:${port}/groups`));
  });
});

describe('ranges node with a saved state it cannot read', () => {
  test('refuses to start, says why and how to start over, and leaves the data dir alone', async () => {
    const config = await soloConfig();
    const dir = config.dataDir;
    // A replica of another shape, as an older version with nested maps would have saved it.
    const other = new AWORMap<string, AWORSet<string>>(() => new AWORSet<string>());
    other.update('g', (set) => set.add('solo', 'member'));
    const saved = encode(other);
    const store = SqliteStore.open(dir, { nodeId: 'solo', clusterId: 'test' });
    store.put('replica', saved);
    store.close();
    await assert.rejects(startRangesNode(config, silentLogger()), (error: unknown) => {
      assert.ok(error instanceof StoreError);
      assert.equal(error.code, 'unusable');
      assert.match(error.message, /cannot be read by this version of chatterbox .*move the data dir away/);
      return true;
    });
    const reopened = SqliteStore.open(dir, { nodeId: 'solo', clusterId: 'test' });
    assert.ok(Buffer.from(reopened.loadAll().get('replica')!).equals(Buffer.from(saved)), 'the saved state is untouched');
    reopened.close();
  });
});

function rawRequest(port: number, options: { method: string; path: string; headers: Record<string, string>; body?: string }): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, method: options.method, path: options.path, headers: options.headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    // The server may answer (and close) before the whole body is written: that is the point of the cap.
    req.on('error', (error: NodeJS.ErrnoException) => (error.code === 'EPIPE' || error.code === 'ECONNRESET' ? undefined : reject(error)));
    if (options.body !== undefined) {
      for (let i = 0; i < options.body.length; i += 8192) req.write(options.body.slice(i, i + 8192));
    }
    req.end();
  });
}

describe('ranges HTTP router', () => {
  /** `contentType` null: no Content-Type header. */
  const route = (method: string, url: string, body = '', contentType: string | null = 'application/json') =>
    routeRangesHttp({ method, url, body, contentType: contentType ?? undefined } satisfies HttpInput);

  test('maps each route to one protocol call', () => {
    assert.deepEqual(route('GET', '/groups'), { ok: true, call: { op: 'groups' } });
    assert.deepEqual(route('GET', '/groups/'), { ok: true, call: { op: 'groups' } });
    assert.deepEqual(route('GET', '/groups/a%2Fb%20c/members'), { ok: true, call: { op: 'members', group: 'a/b c' } });
    assert.deepEqual(route('GET', '/groups/g/topology'), { ok: true, call: { op: 'topology', group: 'g' } });
    assert.deepEqual(route('GET', '/groups/g/lookup?key=al%20ice'), { ok: true, call: { op: 'lookup', group: 'g', key: 'al ice' } });
    assert.deepEqual(route('GET', '/groups/g/lookup?position=0x10'), { ok: true, call: { op: 'lookup', group: 'g', key: 16 } });
    assert.deepEqual(route('POST', '/groups/g/join'), { ok: true, call: { op: 'join', group: 'g' } });
    assert.deepEqual(route('POST', '/groups/g/leave', '{}'), { ok: true, call: { op: 'leave', group: 'g' } });
    assert.deepEqual(route('POST', '/groups/g/ranges', '{"start":1,"end":2}'), { ok: true, call: { op: 'register', group: 'g', start: 1, end: 2 } });
    assert.deepEqual(route('POST', '/groups/g/ranges', '{"start":1,"end":2,"meta":{"a":[1]}}', 'application/json; charset=utf-8'), {
      ok: true,
      call: { op: 'register', group: 'g', start: 1, end: 2, meta: { a: [1] } },
    });
    assert.deepEqual(route('DELETE', '/groups/g/ranges?start=1&end=2', '', null), { ok: true, call: { op: 'release', group: 'g', start: 1, end: 2 } });
    assert.deepEqual(route('POST', '/groups/g/ranges/increase', '{"start":1,"end":2,"by":3}'), { ok: true, call: { op: 'increase', group: 'g', start: 1, end: 2, by: 3 } });
    assert.deepEqual(route('POST', '/groups/g/ranges/decrease', '{"start":1,"end":2,"by":3}'), { ok: true, call: { op: 'decrease', group: 'g', start: 1, end: 2, by: 3 } });
    assert.deepEqual(route('GET', '/node'), { ok: true, call: 'node' });
  });

  test('refuses what it cannot map, with the status and a message', () => {
    const refused = (r: ReturnType<typeof route>): [number, string, string] => {
      assert.equal(r.ok, false);
      const { error } = r as Extract<typeof r, { ok: false }>;
      return [error.status, error.code, error.message];
    };
    assert.deepEqual(refused(route('GET', '/groups/g/lookup')).slice(0, 2), [400, 'bad-request']);
    assert.match(refused(route('GET', '/groups/g/lookup?key=a&position=1'))[2], /exactly one of/);
    assert.match(refused(route('GET', '/groups/g/lookup?key=a&key=b'))[2], /given twice/);
    assert.match(refused(route('GET', '/groups/g/lookup?kye=a'))[2], /unknown query parameter "kye"/);
    assert.match(refused(route('GET', '/groups/g/lookup?position=abc'))[2], /position must be an integer/);
    assert.match(refused(route('POST', '/groups/g/ranges', '{"start":"1","end":2}'))[2], /^body\.start: /);
    assert.match(refused(route('POST', '/groups/g/ranges', '{"start":1,"end":2,"extra":1}'))[2], /extra/);
    assert.match(refused(route('POST', '/groups/g/ranges', ''))[2], /expected a JSON object/);
    assert.match(refused(route('POST', '/groups/g/ranges', '[1,2]'))[2], /^body: /);
    assert.match(refused(route('POST', '/groups/g/join', '{"x":1}'))[2], /x/);
    assert.match(refused(route('DELETE', '/groups/g/ranges?start=1'))[2], /\?start=…&end=…/);
    assert.match(refused(route('DELETE', '/groups/g/ranges?start=1&end=2', '{"a":1}'))[2], /not in a body/);
    assert.deepEqual(refused(route('POST', '/groups/g/join', '', 'text/plain')).slice(0, 2), [415, 'unsupported-media-type']);
    assert.deepEqual(refused(route('POST', '/groups/g/join', '', null)).slice(0, 2), [415, 'unsupported-media-type']);
    assert.deepEqual(refused(route('GET', '/groups/g/join')).slice(0, 2), [405, 'method-not-allowed']);
    assert.deepEqual((route('PATCH', '/groups/g/ranges') as { error: { allow?: readonly string[] } }).error.allow, ['POST', 'DELETE']);
    assert.deepEqual(refused(route('GET', '/groups/g')).slice(0, 2), [404, 'not-found']);
    assert.deepEqual(refused(route('GET', '/groups/g/ranges/other')).slice(0, 2), [404, 'not-found']);
    assert.deepEqual(refused(route('GET', '/')).slice(0, 2), [404, 'not-found']);
    assert.deepEqual(refused(route('GET', '/groups/g/toString')).slice(0, 2), [404, 'not-found']);
    assert.deepEqual(refused(route('GET', '/groups/g/__proto__')).slice(0, 2), [404, 'not-found']);
    assert.deepEqual(refused(route('constructor', '/groups')).slice(0, 2), [405, 'method-not-allowed']);
    assert.deepEqual(refused(route('GET', '/groups/%E0%A4%A/members')).slice(0, 2), [400, 'bad-request']);
    assert.deepEqual(refused(route('GET', `/groups/${'g'.repeat(2000)}/members`)).slice(0, 2), [400, 'bad-request']);
  });

  test('loopback Host headers', () => {
    for (const host of ['localhost', 'localhost:7000', '127.0.0.1:7000', '127.1.2.3', '[::1]:7000']) assert.ok(isLoopbackHost(host), host);
    for (const host of [undefined, '', 'evil.example', 'evil.example:7000', '127.0.0.1.evil.example', '10.0.0.1:7000']) assert.ok(!isLoopbackHost(host), String(host));
  });
});

describe('ranges flags', () => {
  test('serve: defaults, validation', () => {
    const args = parseServeArgv(['--data-dir', 'd']);
    assert.deepEqual(args, {
      host: '127.0.0.1',
      port: 3000,
      peersFile: 'peers.json',
      clusterKeyFile: undefined,
      clusterId: undefined,
      dataDir: 'd',
      apiHost: '127.0.0.1',
      apiPort: 7000,
      fanout: 3,
      intervalMs: 200,
      verbose: false,
    });
    assert.equal(parseServeArgv(['--data-dir', 'd', '--fanout', '5', '--interval-ms', '50']).fanout, 5);
    for (const bad of [['--fanout', '0'], ['--interval-ms', '1.5'], ['--api-port', '70000'], ['--api-port', '3000'], ['--data-dir', ''], ['--bogus']]) {
      assert.throws(() => parseServeArgv(['--data-dir', 'd', ...bad]), UsageError, bad.join(' '));
    }
  });

  test('--help lists every flag and subcommand', () => {
    const serveHelp = defineServeCommand().helpInformation();
    for (const flag of ['--host', '--port', '--peer-config-file', '--data-dir', '--api-host', '--api-port', '--fanout', '--interval-ms', '--cluster-key-file', '--cluster-id', '--verbose']) {
      assert.match(serveHelp, new RegExp(`${flag}\\b`));
    }
    const list = defineRangesCommand().helpInformation();
    for (const name of ['serve', 'join', 'leave', 'register', 'release', 'increase', 'decrease', 'groups', 'members', 'topology', 'lookup']) assert.match(list, new RegExp(`^  ${name} `, 'm'));
    assert.throws(() => parseServeArgv(['-p', '3000']), (e: unknown) => e instanceof UsageError && e.message === '--data-dir is required: the directory where this node keeps its state');
  });

  test('client: calls, --api and the environment', () => {
    assert.deepEqual(parseClientArgv(['lookup', 'a b', 'k/1']), { api: 'http://127.0.0.1:7000', call: { method: 'GET', path: '/groups/a%20b/lookup?key=k%2F1', prints: true }, timeoutMs: 10_000 });
    assert.equal(parseClientArgv(['lookup', 'g', '0xff', '--position']).call.path, '/groups/g/lookup?position=255');
    assert.deepEqual(parseClientArgv(['register', 'g', '0', '0x100000000', '--meta', '{"a":1}']).call, { method: 'POST', path: '/groups/g/ranges', body: { start: 0, end: 2 ** 32, meta: { a: 1 } }, prints: false });
    assert.deepEqual(parseClientArgv(['release', 'g', '1', '2']).call, { method: 'DELETE', path: '/groups/g/ranges?start=1&end=2', prints: false });
    assert.deepEqual(parseClientArgv(['decrease', 'g', '1', '2', '3']).call.body, { start: 1, end: 2, by: 3 });
    assert.equal(parseClientArgv(['groups', '--api', 'http://localhost:9/']).api, 'http://localhost:9');
    assert.equal(parseClientArgv(['groups'], { CHATTERBOX_RANGES_API: 'http://127.0.0.1:7002' }).api, 'http://127.0.0.1:7002');
    assert.equal(parseClientArgv(['groups', '--api', 'http://[::1]:7001'], { CHATTERBOX_RANGES_API: 'http://127.0.0.1:7002' }).api, 'http://[::1]:7001');
    for (const bad of [
      ['groups', '--api', 'https://x'],
      ['groups', '--api', 'http://x/path'],
      ['groups', '--api', 'not a url'],
      ['register', 'g', '1', '2', '--meta', '{bad'],
      ['register', 'g', '1.5', '2'],
      ['lookup', 'g', 'k', '--position'],
      ['join', ''],
      ['join'],
      ['join', 'a', 'b'],
    ]) {
      assert.throws(() => parseClientArgv(bad), UsageError, bad.join(' '));
    }
  });
});
