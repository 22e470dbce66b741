/**
 * `chatterbox ranges serve --join` as real processes on loopback: node 1 starts a cluster (its --join names only
 * itself), nodes 2 and 3 join through it, a fourth joins late through two seeds, every node answers every lookup
 * identically; a node killed with SIGKILL is shown dead on the others, comes back alive on its data dir, dies
 * again and is forgotten by an operator; a node leaves gracefully. A bad --join is a usage error.
 *
 * Waiting is on output (the "ranges node started" log line) or on polling the API until the nodes agree, failing
 * only after HUNG_AFTER_MS; no sleeps and no margins.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HUNG_AFTER_MS, startChatterbox, type Running } from './helpers/processes.js';
import { api, ok, until } from './helpers/ranges-api.js';
import { freePorts } from '../../src/supervisor/free-port.js';
import { defineServeCommand, parseClientArgv, parseServeArgv, buildServeConfig } from '../../src/cli/ranges-command.js';
import { JOIN_DEFAULT_CLUSTER_IDS } from '../../src/cli/join-flags.js';
import { UsageError } from '../../src/platform/user-errors.js';
import { routeRangesHttp } from '../../src/runtime/ranges-http.js';

const HALF = 2 ** 31;
const FULL = 2 ** 32;

const cleanup: Array<() => void | Promise<void>> = [];
after(async () => {
  for (const step of cleanup.reverse()) await step();
});

interface Node {
  readonly id: string;
  readonly port: number;
  readonly apiPort: number;
  proc: Running;
}

type MemberView = { node: string; address: string; incarnation: number; state: string };

describe('chatterbox ranges serve --join: processes that come and go', () => {
  test('2 and 3 join through 1, a 4th joins late; every node answers alike; a killed node is seen dead', { timeout: 4 * HUNG_AFTER_MS }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'chatterbox-join-'));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const ports = await freePorts(8);
    const nodes: Node[] = [];
    const serve = (index: number, seeds: string): Node => {
      const id = `n${index + 1}`;
      const [port, apiPort] = [ports[2 * index]!, ports[2 * index + 1]!];
      const proc = startChatterbox(['ranges', 'serve', '-p', String(port), '--join', seeds, '--node-id', id, '--data-dir', join(dir, id), '--api-port', String(apiPort), '--interval-ms', '50']);
      cleanup.push(() => {
        if (proc.proc.exitCode === null && proc.proc.signalCode === null) proc.proc.kill('SIGKILL');
      });
      const node = { id, port, apiPort, proc };
      nodes.push(node);
      return node;
    };
    const seed = (node: Node): string => `127.0.0.1:${node.port}`;

    const n1 = serve(0, `127.0.0.1:${ports[0]!}`);
    assert.match(await n1.proc.stderrMatching(/the seeds are only this node/), /new cluster/);
    const n2 = serve(1, seed(n1));
    const n3 = serve(2, `localhost:${n1.port}`); // a name, resolved to its addresses
    const started = [n1, n2, n3];
    await Promise.all(started.map((n) => n.proc.stderrMatching(/"msg":"ranges node started"/)));

    const aliveSeen = async (on: readonly Node[], ids: readonly string[]): Promise<boolean> => {
      for (const node of on) {
        const members = (await ok(node.apiPort, 'GET', '/members')) as MemberView[];
        const alive = members.filter((m) => m.state === 'alive').map((m) => m.node);
        if (ids.some((id) => !alive.includes(id))) return false;
      }
      return true;
    };
    const showMembers = async (): Promise<string> =>
      (await Promise.all(nodes.map(async (n) => `${n.id}: ${JSON.stringify(await api(n.apiPort, 'GET', '/members').catch((e: unknown) => String(e)))}`))).join('\n');
    await until(() => aliveSeen(started, ['n1', 'n2', 'n3']), showMembers);
    const n1Members = (await ok(n1.apiPort, 'GET', '/members')) as MemberView[];
    assert.deepEqual(
      n1Members.map((m) => [m.node, m.address]),
      started.map((n) => [n.id, `127.0.0.1:${n.port}`]),
      'every member carries the address it is dialed at',
    );

    // Register on n2 and n3; every node answers every lookup the same.
    await ok(n2.apiPort, 'POST', '/groups/users/join');
    await ok(n2.apiPort, 'POST', '/groups/users/ranges', { start: 0, end: HALF, meta: 'n2' });
    await ok(n3.apiPort, 'POST', '/groups/users/join');
    await ok(n3.apiPort, 'POST', '/groups/users/ranges', { start: HALF, end: FULL, meta: 'n3' });
    const reads = ['/groups', '/groups/users/members', '/groups/users/topology', ...['alice', 'bob', 'carol'].map((k) => `/groups/users/lookup?key=${k}`)];
    const view = async (node: Node): Promise<string> => JSON.stringify(await Promise.all(reads.map((path) => api(node.apiPort, 'GET', path))));
    const agree = async (on: readonly Node[]): Promise<boolean> => {
      const views = await Promise.all(on.map(view));
      const topology = (await ok(n1.apiPort, 'GET', '/groups/users/topology')) as unknown[];
      return views.every((v) => v === views[0]) && topology.length === 2;
    };
    const showViews = async (): Promise<string> => (await Promise.all(nodes.map(async (n) => `${n.id}: ${await view(n).catch((e: unknown) => String(e))}`))).join('\n');
    await until(() => agree(started), showViews);

    // A fourth node joins late, through two seeds, and gets the state: its answers are the others'.
    const n4 = serve(3, `${seed(n2)},${seed(n3)}`);
    await n4.proc.stderrMatching(/"msg":"ranges node started"/);
    await until(() => aliveSeen([n1, n2, n3, n4], ['n1', 'n2', 'n3', 'n4']), showMembers);
    await until(() => agree([n1, n2, n3, n4]), showViews);
    const alice = (await ok(n4.apiPort, 'GET', '/groups/users/lookup?key=alice')) as { nodes: Array<{ node: string; state: string }> };
    assert.equal(alice.nodes.length, 1);
    assert.equal(alice.nodes[0]?.state, 'alive');

    // SIGKILL n3: membership finds it out; the others show it dead, and its registration as served by a dead node.
    n3.proc.proc.kill('SIGKILL');
    assert.equal(await n3.proc.exited, 'SIGKILL');
    const survivors = [n1, n2, n4];
    const deadSeen = async (): Promise<boolean> => {
      for (const node of survivors) {
        const members = (await ok(node.apiPort, 'GET', '/members')) as MemberView[];
        if (members.find((m) => m.node === 'n3')?.state !== 'dead') return false;
      }
      return true;
    };
    await until(deadSeen, showMembers);
    const served = (await ok(n1.apiPort, 'GET', `/groups/users/lookup?position=${FULL - 1}`)) as { nodes: Array<{ node: string; state: string }> };
    assert.deepEqual(served.nodes.map((r) => [r.node, r.state]), [['n3', 'dead']]);
    await until(() => agree(survivors), showViews);

    // n3 comes back on its data dir: it refutes its death and serves its registration again, alive everywhere.
    const back = serve(2, `${seed(n1)},${seed(n2)}`);
    assert.match(await back.proc.stderrMatching(/"msg":"ranges node started"/), /"restored":true/);
    const all = [n1, n2, n4, back];
    await until(() => aliveSeen(all, ['n1', 'n2', 'n3', 'n4']), showMembers);
    const servedAlive = async (): Promise<boolean> => {
      for (const node of all) {
        const lookup = (await ok(node.apiPort, 'GET', `/groups/users/lookup?position=${FULL - 1}`)) as { nodes: Array<{ node: string; state: string }> };
        if (JSON.stringify(lookup.nodes.map((r) => [r.node, r.state])) !== JSON.stringify([['n3', 'alive']])) return false;
      }
      return true;
    };
    await until(servedAlive, showViews);
    await until(() => agree(all), showViews);
    // And dies again, for good this time.
    back.proc.proc.kill('SIGKILL');
    assert.equal(await back.proc.exited, 'SIGKILL');
    await until(deadSeen, showMembers);

    // `forget` is the operator's release of a dead node's registrations; a live node's is refused.
    assert.equal((await api(n1.apiPort, 'POST', '/members/n2/forget')).status, 409);
    await ok(n1.apiPort, 'POST', '/members/n3/forget');
    await until(async () => {
      for (const node of survivors) {
        const lookup = (await ok(node.apiPort, 'GET', `/groups/users/lookup?position=${FULL - 1}`)) as { nodes: unknown[] };
        if (lookup.nodes.length !== 0) return false;
      }
      return true;
    }, showViews);
    // n4 leaves gracefully: its registration is released everywhere, it is `left` on the others, it exits 0.
    await ok(n4.apiPort, 'POST', '/groups/users/join');
    await ok(n4.apiPort, 'POST', '/groups/users/ranges', { start: 0, end: 10, meta: 'n4' });
    const n4Serves = async (on: Node): Promise<boolean> => ((await ok(on.apiPort, 'GET', '/groups/users/lookup?position=5')) as { nodes: Array<{ node: string }> }).nodes.some((r) => r.node === 'n4');
    await until(async () => (await n4Serves(n1)) && (await n4Serves(n2)), showViews);
    const leave = startChatterbox(['ranges', 'leave-cluster', '--api', `http://127.0.0.1:${n4.apiPort}`]);
    assert.equal(await leave.exited, 0, leave.stderrLines.join('\n'));
    assert.deepEqual(JSON.parse(leave.stdoutLines.join('\n')), { left: true });
    assert.equal(await n4.proc.exited, 0);
    await until(async () => {
      for (const node of [n1, n2]) {
        const members = (await ok(node.apiPort, 'GET', '/members')) as MemberView[];
        if (members.find((m) => m.node === 'n4')?.state !== 'left' || (await n4Serves(node))) return false;
      }
      return true;
    }, showMembers);
  });

  test('a node paused past its suspicion timeout (SIGSTOP) is seen dead, and alive again on both sides once resumed', { timeout: 3 * HUNG_AFTER_MS }, async () => {
    // The dead stay dialled (membership-driver.ts): SWIM's reconnect push/pulls to the dead must reach it.
    const dir = mkdtempSync(join(tmpdir(), 'chatterbox-pause-'));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const ports = await freePorts(4);
    const serve = (index: number): Node => {
      const id = `p${index + 1}`;
      const [port, apiPort] = [ports[2 * index]!, ports[2 * index + 1]!];
      const proc = startChatterbox(['ranges', 'serve', '-p', String(port), '--join', `127.0.0.1:${ports[0]!}`, '--node-id', id, '--data-dir', join(dir, id), '--api-port', String(apiPort), '--interval-ms', '50']);
      cleanup.push(() => {
        if (proc.proc.exitCode === null && proc.proc.signalCode === null) {
          proc.proc.kill('SIGCONT');
          proc.proc.kill('SIGKILL');
        }
      });
      return { id, port, apiPort, proc };
    };
    const p1 = serve(0);
    await p1.proc.stderrMatching(/"msg":"ranges node started"/);
    const p2 = serve(1);
    await p2.proc.stderrMatching(/"msg":"ranges node started"/);
    const stateOf = async (on: Node, id: string): Promise<string | undefined> => ((await ok(on.apiPort, 'GET', '/members')) as MemberView[]).find((m) => m.node === id)?.state;
    const show = async (): Promise<string> =>
      (await Promise.all([p1, p2].map(async (n) => `${n.id}: ${JSON.stringify(await api(n.apiPort, 'GET', '/members').catch((e: unknown) => String(e)))}`))).join('\n');
    const bothAlive = async (): Promise<boolean> => (await stateOf(p1, 'p2')) === 'alive' && (await stateOf(p2, 'p1')) === 'alive';
    await until(bothAlive, show);
    p2.proc.proc.kill('SIGSTOP');
    await until(async () => (await stateOf(p1, 'p2')) === 'dead', show);
    p2.proc.proc.kill('SIGCONT');
    await until(bothAlive, show);
  });

  test('a bad --join entry, or --join with a peers file, exits 2 with one line', { timeout: HUNG_AFTER_MS }, async () => {
    for (const [flags, says] of [
      [['--join', 'seed:99999'], /^chatterbox: --join: port 99999 of "seed:99999" is out of range 1\.\.65535$/],
      [['--join', '10.0.0.1'], /^chatterbox: --join: "10\.0\.0\.1" is an address without a port/],
      [['--join', 'a:1', '--peer-config-file', 'peers.json'], /^chatterbox: --join and --peer-config-file exclude each other/],
      [['--join', 'a:1', '-h', '0.0.0.0'], /^chatterbox: -h 0\.0\.0\.0 without --advertise: "0\.0\.0\.0" is not an address other nodes can dial; pass --advertise/],
    ] as const) {
      const run = startChatterbox(['ranges', 'serve', '--data-dir', 'unused', ...flags]);
      assert.equal(await run.exited, 2, flags.join(' '));
      assert.equal(run.stderrLines.length, 1, run.stderrLines.join('\n'));
      assert.match(run.stderrLines[0] ?? '', says);
    }
  });
});

describe('--join flags', () => {
  test('parse into seeds, the advertised address and the node id; the config starts alone', () => {
    const args = parseServeArgv(['--data-dir', 'd', '-h', '0.0.0.0', '-p', '3001', '--join', 'seed-0.svc:3000,chatterbox.svc', '--advertise', 'pod-1.svc:3001']);
    assert.deepEqual(args.join, [
      { kind: 'address', host: 'seed-0.svc', port: 3000 },
      { kind: 'srv', name: 'chatterbox.svc' },
    ]);
    const config = buildServeConfig(args, () => assert.fail('no file is read'));
    assert.deepEqual(config.self, { id: 'pod-1.svc:3001', host: '0.0.0.0', port: 3001 });
    assert.deepEqual(config.peers, [config.self]);
    assert.equal(config.advertise, 'pod-1.svc:3001');
    assert.equal(config.clusterId, 'chatterbox-ranges');
    assert.equal(config.clusterId, JOIN_DEFAULT_CLUSTER_IDS.ranges);
    assert.equal(buildServeConfig(parseServeArgv(['--data-dir', 'd', '--join', 'a:1', '--node-id', 'n7'])).self.id, 'n7');
    // An unspecified host would become the node's id and gossiped address: refused, naming --advertise.
    for (const bad of [['-h', '0.0.0.0'], ['-h', '::'], ['-h', '0.0.0.0', '--advertise', '0.0.0.0:3001'], ['--advertise', '[::]:3001'], ['--advertise', '[0:0:0:0:0:0:0:0]:3001']]) {
      assert.throws(() => buildServeConfig(parseServeArgv(['--data-dir', 'd', '--join', 'a:1', ...bad]), () => assert.fail('no file is read')), (error: unknown) => {
        assert.ok(error instanceof UsageError, bad.join(' '));
        assert.equal(error.exitCode, 2);
        assert.match(error.message, /not an address other nodes can dial; pass --advertise/);
        return true;
      });
    }
    assert.equal(buildServeConfig(parseServeArgv(['--data-dir', 'd', '-h', '0.0.0.0', '--join', 'a:1', '--advertise', '10.0.0.5:3001'])).advertise, '10.0.0.5:3001');
    for (const bad of [['--advertise', 'x:1'], ['--node-id', 'n1'], ['--join', 'a:1', '--advertise', 'nope'], ['--join', 'a:1', '--node-id', '']]) {
      assert.throws(() => parseServeArgv(['--data-dir', 'd', ...bad]), UsageError, bad.join(' '));
    }
    const help = defineServeCommand().helpInformation();
    for (const flag of ['--join', '--advertise', '--node-id']) assert.match(help, new RegExp(`${flag}\\b`));
    assert.match(help.replace(/\s+/g, ' '), /_chatterbox\._tcp\.<name>, or the name as given if it starts with "_"/);
  });

  test('route and client of the graceful leave: POST /leave, ranges leave-cluster', () => {
    const route = (method: string, url: string, contentType?: string) => routeRangesHttp({ method, url, contentType, body: '' });
    const status = (r: ReturnType<typeof route>): number => (r.ok ? 200 : r.error.status);
    assert.deepEqual(route('POST', '/leave', 'application/json'), { ok: true, call: 'leave' });
    assert.equal(status(route('GET', '/leave')), 405);
    assert.equal(status(route('POST', '/leave')), 415);
    assert.equal(status(route('POST', '/leave?now=1', 'application/json')), 400);
    assert.deepEqual(parseClientArgv(['leave-cluster']).call, { method: 'POST', path: '/leave', prints: true });
  });

});
