/**
 * Real hosts: chatterbox nodes as separate hosts, each in its own Linux network namespace on one bridge
 * (`helpers/netns.ts`), reached on those hosts' addresses only. First the lab itself is proven (hosts reach each
 * other's TCP ports through the bridge, a cut stops both directions and a heal restores them, teardown leaves
 * nothing behind, even when the test process dies); then key-range nodes run on it through a cut, a heal, a
 * SIGKILL and a fresh host.
 *
 * Needs root and iproute2. Where `ip netns add` cannot work (not root, no `ip`, a container without the
 * capability), the file prints one line, "multi-host: skipped: <why>", and defines no test.
 *
 * Every wait is for an event: a line printed, a process exiting, a connection answered or refused, the nodes'
 * answers becoming identical; HUNG_AFTER_MS only turns a hang into a failure that shows what differed.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { HUNG_AFTER_MS, startProcess, type Running } from './helpers/processes.js';
import { NetnsLab, leftoversOf, netnsUnavailable, sweepStaleLabs, type NetHost } from './helpers/netns.js';
import { api, ok, until, type ApiReply } from './helpers/ranges-api.js';

const cleanup: Array<() => void | Promise<void>> = [];
after(async () => {
  for (const step of cleanup.reverse()) await step();
});

/** A TCP server on every address of its host (loopback included) that answers each connection with one line. */
const ECHO_SERVER = `
const [port, name] = process.argv.slice(1);
require('node:net').createServer((socket) => socket.end('pong from ' + name + '\\n'))
  .listen(Number(port), '0.0.0.0', () => console.log('listening'));
`;
/** Connects once and prints "reply <line>" or "error <code>": a refusal or unreachability is an event, not a wait. */
const ECHO_CLIENT = `
const [host, port] = process.argv.slice(1);
const socket = require('node:net').connect(Number(port), host);
let got = '';
socket.on('data', (chunk) => { got += chunk; });
socket.on('end', () => console.log('reply ' + got.trim()));
socket.on('error', (error) => console.log('error ' + error.code));
`;
const ECHO_PORT = 4500;

const unavailable = await netnsUnavailable();
if (unavailable !== undefined) {
  console.log(`multi-host: skipped: ${unavailable}`);
} else {
  defineTests();
}

function defineTests(): void {
  describe('network namespaces as hosts', () => {
    /** What one connection from `from` (a host, or this process on the bridge) to `to`'s echo port got. */
    async function ping(lab: NetnsLab, from: NetHost | 'bridge', to: string): Promise<string> {
      if (from === 'bridge') return pingFromHere(to, ECHO_PORT);
      const client = lab.run(from, process.execPath, ['-e', ECHO_CLIENT, to, String(ECHO_PORT)]);
      assert.equal(await client.exited, 0, client.stderrLines.join('\n'));
      return client.stdoutLines.join('\n');
    }

    async function echoServer(lab: NetnsLab, host: NetHost): Promise<Running> {
      const server = lab.run(host, process.execPath, ['-e', ECHO_SERVER, String(ECHO_PORT), host.name]);
      await server.stdoutMatching((line) => line === 'listening');
      return server;
    }

    test('hosts reach each other and this process through the bridge; a cut stops both ways, a heal restores them; teardown leaves nothing', { timeout: 4 * HUNG_AFTER_MS }, async () => {
      const lab = await NetnsLab.create(2);
      cleanup.push(() => lab.destroy());
      const [h1, h2] = [lab.host(1), lab.host(2)];
      assert.notEqual(h1.address, h2.address);
      await echoServer(lab, h1);
      await echoServer(lab, h2);

      // Pings that do not depend on each other run at once.
      const pings = (list: ReadonlyArray<readonly [NetHost | 'bridge', string]>): Promise<string[]> => Promise.all(list.map(([from, to]) => ping(lab, from, to)));
      assert.deepEqual(
        await pings([[h2, h1.address], [h1, h2.address], ['bridge', h1.address], ['bridge', h2.address], [h1, '127.0.0.1'], [h2, '127.0.0.1']]),
        // Each host also has its own loopback, up, where only its own listeners are.
        ['reply pong from h1', 'reply pong from h2', 'reply pong from h1', 'reply pong from h2', 'reply pong from h1', 'reply pong from h2'],
      );

      // Cut h1. A fresh host (it knows no MAC address yet, so ARP must answer) cannot reach h1, nor h1 it; a cut
      // host still reaches itself.
      await lab.cut(h1);
      assert.equal(await lab.linked(h1), false);
      const h3 = await lab.addHost();
      await echoServer(lab, h3);
      assert.deepEqual(
        await pings([[h3, h2.address], [h3, h1.address], [h1, h3.address], [h1, '127.0.0.1']]),
        ['reply pong from h2', 'error EHOSTUNREACH', 'error EHOSTUNREACH', 'reply pong from h1'],
      );

      await lab.heal(h1);
      assert.equal(await lab.linked(h1), true);
      assert.deepEqual(await pings([[h3, h1.address], [h1, h3.address]]), ['reply pong from h1', 'reply pong from h3']);

      assert.ok(leftoversOf(process.pid).length >= 1 + 3 * 2, 'the lab is there before teardown');
      await lab.destroy();
      assert.deepEqual(leftoversOf(process.pid), []);
    });

    test('a test process that dies leaves nothing: its exit hook tears down, and a SIGKILLed one is swept by the next lab', { timeout: 4 * HUNG_AFTER_MS }, async () => {
      const helper = fileURLToPath(new URL('./helpers/netns.js', import.meta.url));
      const dying = (how: string): string =>
        `import { NetnsLab } from ${JSON.stringify(helper)};\n` +
        `const lab = await NetnsLab.create(2);\n` +
        `lab.run(lab.host(1), process.execPath, ['-e', 'setInterval(() => {}, 1000)']);\n` +
        `console.log('ready ' + process.pid);\n` +
        how;
      // An uncaught exception: the exit hook runs.
      const thrown = startProcess(process.execPath, ['--input-type=module', '-e', dying("throw new Error('a failing test');")]);
      const thrownPid = Number((await thrown.stdoutMatching((line) => line.startsWith('ready '))).split(' ')[1]);
      assert.equal(await thrown.exited, 1);
      assert.deepEqual(leftoversOf(thrownPid), []);

      // SIGKILL: no hook runs, so its namespaces stay until the next lab sweeps them.
      const killed = startProcess(process.execPath, ['--input-type=module', '-e', dying('setInterval(() => {}, 1000);')]);
      const killedPid = Number((await killed.stdoutMatching((line) => line.startsWith('ready '))).split(' ')[1]);
      killed.child.signal('SIGKILL');
      assert.equal(await killed.exited, 'SIGKILL');
      assert.ok(leftoversOf(killedPid).length > 0, 'a SIGKILLed lab leaves its namespaces');
      sweepStaleLabs();
      assert.deepEqual(leftoversOf(killedPid), []);
    });
  });

  describe('chatterbox ranges on separate hosts', () => {
    test('nodes on three hosts converge; one host cut and healed; one node killed; all live nodes answer every lookup identically', { timeout: 4 * HUNG_AFTER_MS }, async () => {
      const lab = await NetnsLab.create(3);
      cleanup.push(() => lab.destroy());
      const dir = mkdtempSync(join(tmpdir(), 'chatterbox-multi-host-'));
      cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
      const cluster = new RangesCluster(lab, dir);
      const [n1, n2, n3] = [cluster.add('n1', lab.host(1)), cluster.add('n2', lab.host(2)), cluster.add('n3', lab.host(3))];
      cluster.writePeersFile([n1, n2, n3]);
      for (const node of [n1, n2, n3]) cluster.serve(node);
      await Promise.all([n1, n2, n3].map((node) => node.proc.stderrMatching(/"msg":"ranges node started"/)));

      await joinAndRegisterEach([n1, n2, n3]);
      await cluster.converged([n1, n2, n3], ['n1', 'n2', 'n3']);

      // Cut h2, for as long as it takes n1 and n3 to declare it dead (membership runs beside the static peers
      // too). n1's new registration reaches n3 (the rest of the cluster goes on); this process cannot reach n2,
      // a client on n2's own host can, and n2 has not heard of it. After the heal, membership's reconnect finds
      // n2 again, every node sees every node alive, and n2 gets the write.
      await lab.cut(n2.host);
      await call(n1, 'POST', '/groups/users/ranges', { start: 3 * QUARTER, end: 4 * QUARTER, meta: 'during the cut' });
      await cluster.membersSeen([n1, n3], 'n1:alive n2:dead n3:alive');
      await cluster.converged([n1, n3], ['n1', 'n2', 'n3']);
      assert.equal((await cluster.registrationsFromOwnHost(n2)).length, 3);
      await lab.heal(n2.host);
      await cluster.membersSeen([n1, n2, n3], 'n1:alive n2:alive n3:alive');
      await cluster.converged([n1, n2, n3], ['n1', 'n2', 'n3']);
      assert.equal((await cluster.registrations(n2)).length, 4);

      // SIGKILL n3: the survivors still answer every lookup the same, n3's registrations included (nobody
      // released them), and take new writes.
      n3.proc.child.signal('SIGKILL');
      assert.equal(await n3.proc.exited, 'SIGKILL');
      await call(n2, 'POST', '/groups/users/ranges/increase', { start: QUARTER, end: 3 * QUARTER, by: 2 });
      await cluster.converged([n1, n2], ['n1', 'n2', 'n3']);
      const best = (await call(n1, 'GET', `/groups/users/lookup?position=${2 * QUARTER}`)) as { nodes: Registration[] };
      assert.deepEqual(best.nodes.map((r) => [r.node, r.priority]), [['n2', 3], ['n3', 1]]);
      await lab.destroy();
    });

    test('--join: 2 and 3 join through 1; a cut until 2 is declared dead, and a heal; 3 is killed and declared dead, then a fresh host 4 joins; every live node answers alike and marks 3 dead', { timeout: 8 * HUNG_AFTER_MS }, async () => {
      const lab = await NetnsLab.create(3);
      cleanup.push(() => lab.destroy());
      const dir = mkdtempSync(join(tmpdir(), 'chatterbox-multi-host-'));
      cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
      const cluster = new RangesCluster(lab, dir);
      const [n1, n2, n3] = [cluster.add('n1', lab.host(1)), cluster.add('n2', lab.host(2)), cluster.add('n3', lab.host(3))];
      // n1's only seed is itself: it starts the cluster.
      cluster.serveJoining(n1, n1);
      assert.match(await n1.proc.stderrMatching(/the seeds are only this node/), /new cluster/);
      cluster.serveJoining(n2, n1);
      cluster.serveJoining(n3, n1);
      await Promise.all([n1, n2, n3].map((node) => node.proc.stderrMatching(/"msg":"ranges node started"/)));
      await cluster.membersSeen([n1, n2, n3], 'n1:alive n2:alive n3:alive');
      const addresses = ((await call(n3, 'GET', '/members')) as Array<{ address: string }>).map((m) => m.address);
      assert.deepEqual(addresses, [n1, n2, n3].map((n) => `${n.host.address}:${NODE_PORT}`), 'each member carries its host\'s address');

      await joinAndRegisterEach([n1, n2, n3]);
      await cluster.converged([n1, n2, n3], ['n1', 'n2', 'n3']);

      // Cut h2 for as long as it takes n1 and n3 to declare it dead (a failed probe and the suspicion timeout);
      // n1 writes meanwhile and n3 gets it. Then heal: the sides find each other again through the members they
      // declared dead (kept for reconnection until forgotten), n2 gets the write, and every node sees every node
      // alive again.
      await lab.cut(n2.host);
      await call(n1, 'POST', '/groups/users/ranges', { start: 3 * QUARTER, end: 4 * QUARTER, meta: 'during the cut' });
      await cluster.membersSeen([n1, n3], 'n1:alive n2:dead n3:alive');
      await until(async () => (await cluster.registrations(n3)).length === 4, async () => JSON.stringify(await cluster.registrations(n3)), HUNG_AFTER_MS, 2 * INTERVAL_MS);
      await lab.heal(n2.host);
      await cluster.membersSeen([n1, n2, n3], 'n1:alive n2:alive n3:alive');
      await cluster.converged([n1, n2, n3], ['n1', 'n2', 'n3']);

      // SIGKILL n3, and wait until the live nodes have declared it dead.
      n3.proc.child.signal('SIGKILL');
      assert.equal(await n3.proc.exited, 'SIGKILL');
      await cluster.membersSeen([n1, n2], 'n1:alive n2:alive n3:dead');

      // Only then a node on a fresh host (listening on all its addresses, advertising its own) joins through n1
      // and gets the state. It never knew n3: SWIM, like memberlist, ignores news of the death of a node it does
      // not know, so n3 is not in n4's /members, which lists the members its membership knows. Its lookups
      // still mark n3's registrations dead (a node it does not know as a member is not a live one), as the
      // others do, so every live node answers alike whatever order nodes joined and died in.
      const n4 = cluster.add('n4', await lab.addHost());
      cluster.serveJoining(n4, n1, 'any');
      await n4.proc.stderrMatching(/"msg":"ranges node started"/);
      await call(n4, 'POST', '/groups/users/join');
      await call(n4, 'POST', '/groups/users/ranges', { start: QUARTER, end: 2 * QUARTER, meta: { host: n4.host.address } });
      const live = [n1, n2, n4];
      await cluster.membersSeen([n1, n2], 'n1:alive n2:alive n3:dead n4:alive');
      await cluster.membersSeen([n4], 'n1:alive n2:alive n4:alive');
      await cluster.converged(live, ['n1', 'n2', 'n3', 'n4']);
      // n3's registrations stay (nobody released them), served by a dead node, on every live node, n4 included.
      for (const node of live) {
        const last = (await call(node, 'GET', `/groups/users/lookup?position=${4 * QUARTER - 1}`)) as { nodes: Array<Registration & { state: string }> };
        assert.deepEqual(last.nodes.map((r) => [r.node, r.state]), [['n1', 'alive'], ['n3', 'dead']], node.id);
      }
      await lab.destroy();
    });
  });
}

interface RangesNodeOnHost {
  readonly id: string;
  readonly host: NetHost;
  readonly dataDir: string;
  proc: Running;
}

interface Registration {
  readonly node: string;
  readonly start: number;
  readonly end: number;
  readonly priority: number;
  readonly meta: unknown;
}

/** Each host has its own ports, so every node listens on the same two. */
const NODE_PORT = 4000;
const API_PORT = 7000;
/** Short, so that convergence after each step takes a few intervals of a fraction of a second. */
const INTERVAL_MS = 50;
const KEYS = ['alice', 'bob', 'carol', 'dave', 'erin', 'frank'];
const POSITIONS = [0, 2 ** 30 - 1, 2 ** 30, 2 ** 31, 3 * 2 ** 30 + 7, 2 ** 32 - 1];

class RangesCluster {
  private readonly nodes: RangesNodeOnHost[] = [];
  readonly peersFile: string;

  constructor(
    private readonly lab: NetnsLab,
    private readonly dir: string,
  ) {
    this.peersFile = join(dir, 'peers.json');
  }

  add(id: string, host: NetHost): RangesNodeOnHost {
    const node: RangesNodeOnHost = { id, host, dataDir: join(this.dir, `data-${id}`), proc: undefined as unknown as Running };
    this.nodes.push(node);
    return node;
  }

  writePeersFile(nodes: readonly RangesNodeOnHost[]): void {
    writeFileSync(this.peersFile, JSON.stringify(nodes.map((n) => ({ id: n.id, host: n.host.address, port: NODE_PORT }))));
  }

  /**
   * `chatterbox ranges serve` on the node's host, its API on the host's address; `place`: where it listens for
   * the other nodes and how it finds them (default: on its address, with the peers file).
   */
  serve(node: RangesNodeOnHost, place?: readonly string[]): void {
    const a = node.host.address;
    node.proc = this.lab.exec(node.host, [
      'ranges', 'serve',
      ...(place ?? ['-h', a, '-p', String(NODE_PORT), '--peer-config-file', this.peersFile]),
      '--data-dir', node.dataDir, '--api-host', a, '--api-port', String(API_PORT), '--interval-ms', String(INTERVAL_MS),
    ]);
  }

  /** `--join` through `seed` under the node's own id, listening on its address (or on every address of its host, advertising its own). */
  serveJoining(node: RangesNodeOnHost, seed: RangesNodeOnHost, listen: 'address' | 'any' = 'address'): void {
    const a = node.host.address;
    const where = listen === 'address' ? ['-h', a] : ['-h', '0.0.0.0', '--advertise', `${a}:${NODE_PORT}`];
    this.serve(node, [...where, '-p', String(NODE_PORT), '--join', `${seed.host.address}:${NODE_PORT}`, '--node-id', node.id]);
  }

  /** Each node's id and membership state as `node` sees them (`GET /members`), sorted by id. */
  async memberStates(node: RangesNodeOnHost): Promise<string> {
    const members = (await call(node, 'GET', '/members')) as Array<{ node: string; state: string }>;
    return members.map((m) => `${m.node}:${m.state}`).join(' ');
  }

  /**
   * Waits until every node of `live` sees exactly `want` ("n1:alive n2:alive …") in `GET /members`; fails after
   * HUNG_AFTER_MS with what each saw.
   */
  async membersSeen(live: readonly RangesNodeOnHost[], want: string): Promise<void> {
    const deadline = Date.now() + HUNG_AFTER_MS;
    for (;;) {
      const seen: string[] = [];
      for (const node of live) seen.push(await this.memberStates(node));
      if (seen.every((s) => s === want)) return;
      if (Date.now() > deadline) assert.fail(`members not seen as "${want}" within ${HUNG_AFTER_MS} ms:\n${live.map((n, i) => `${n.id}: ${seen[i]}`).join('\n')}`);
      await new Promise((resolve) => setTimeout(resolve, 2 * INTERVAL_MS));
    }
  }

  /** What a node answers to every read the live nodes must agree on. */
  async view(node: RangesNodeOnHost): Promise<string> {
    const reads = ['/groups', '/groups/users/members', '/groups/users/topology'];
    reads.push(...KEYS.map((key) => `/groups/users/lookup?key=${key}`), ...POSITIONS.map((p) => `/groups/users/lookup?position=${p}`));
    const answers: unknown[] = [];
    for (const path of reads) answers.push(await request(node, 'GET', path));
    return JSON.stringify(answers);
  }

  async registrations(node: RangesNodeOnHost): Promise<Registration[]> {
    return distinctRegistrations((await call(node, 'GET', '/groups/users/topology')) as Array<{ nodes: Registration[] }>);
  }

  /** The same, asked by `chatterbox ranges topology` run on the node's own host (which a cut does not cut off). */
  async registrationsFromOwnHost(node: RangesNodeOnHost): Promise<Registration[]> {
    const client = this.lab.exec(node.host, ['ranges', 'topology', 'users', '--api', `http://${node.host.address}:${API_PORT}`]);
    assert.equal(await client.exited, 0, client.stderrLines.join('\n'));
    const topology = JSON.parse(client.stdoutLines.join('\n')) as Array<{ nodes: Registration[] }>;
    return distinctRegistrations(topology);
  }

  /**
   * Waits until every node of `live` answers every read identically and the group's members are `members`; fails
   * after HUNG_AFTER_MS with what each node answered.
   */
  async converged(live: readonly RangesNodeOnHost[], members: readonly string[]): Promise<void> {
    const deadline = Date.now() + HUNG_AFTER_MS;
    const want = JSON.stringify(members);
    let last: string[] = [];
    for (;;) {
      last = [];
      for (const node of live) last.push(await this.view(node));
      const membersSeen = JSON.stringify(await call(live[0]!, 'GET', '/groups/users/members'));
      if (last.every((v) => v === last[0]) && membersSeen === want) return;
      if (Date.now() > deadline) {
        assert.fail(`the live nodes did not converge within ${HUNG_AFTER_MS} ms (members wanted ${want}):\n${live.map((n, i) => `${n.id}: ${last[i]}`).join('\n')}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 2 * INTERVAL_MS));
    }
  }
}

/** Every registration a topology lists, once (a registration appears in every subrange it covers). */
function distinctRegistrations(topology: ReadonlyArray<{ readonly nodes: readonly Registration[] }>): Registration[] {
  const all = new Map<string, Registration>();
  for (const sub of topology) for (const r of sub.nodes) all.set(`${r.node} ${r.start} ${r.end}`, r);
  return [...all.values()];
}

/** A quarter of the key space: node i registers [i, i + 2) quarters. */
const QUARTER = 2 ** 30;

/** Every node joins the group `users` and registers a range of its own, [i, i + 2) quarters. */
async function joinAndRegisterEach(nodes: readonly RangesNodeOnHost[]): Promise<void> {
  for (const [i, node] of nodes.entries()) {
    await call(node, 'POST', '/groups/users/join');
    await call(node, 'POST', '/groups/users/ranges', { start: i * QUARTER, end: (i + 2) * QUARTER, meta: { host: node.host.address } });
  }
}

/** A node's API, on its host's address only (no loopback). */
function apiOf(node: RangesNodeOnHost): string {
  return `http://${node.host.address}:${API_PORT}`;
}

/** One API request to a node; a hang (a cut link can swallow one) is bounded by HUNG_AFTER_MS. */
function request(node: RangesNodeOnHost, method: string, path: string, body?: unknown): Promise<ApiReply> {
  return api(apiOf(node), method, path, body, HUNG_AFTER_MS);
}

/** A request that must succeed; its result. */
function call(node: RangesNodeOnHost, method: string, path: string, body?: unknown): Promise<unknown> {
  return ok(apiOf(node), method, path, body, HUNG_AFTER_MS);
}

/** The ECHO_CLIENT's answer, from this process on the bridge. */
function pingFromHere(host: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, host);
    let got = '';
    socket.on('data', (chunk) => (got += String(chunk)));
    socket.on('end', () => resolve(`reply ${got.trim()}`));
    socket.on('error', (error: NodeJS.ErrnoException) => resolve(`error ${error.code}`));
  });
}
