/**
 * `--join` as a pure unit: entry syntax, SRV and A/AAAA resolution through an injected resolver, and the rounds
 * of `findSeeds` with an injected identify and sleep (no DNS server, no sockets, no clock).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { nodeId, type NodeId } from '../src/core/ids.js';
import { UsageError } from '../src/platform/user-errors.js';
import {
  JOIN_RETRY_INITIAL_MS,
  JOIN_RETRY_MAX_MS,
  findSeeds,
  joinRetryDelayMs,
  orderSrv,
  parseJoinList,
  resolveSeeds,
  srvName,
  type SeedResolver,
  type SrvRecord,
} from '../src/runtime/join-seeds.js';

function fakeResolver(hosts: Record<string, string[]>, srv: Record<string, SrvRecord[]>): SeedResolver & { asked: string[] } {
  const asked: string[] = [];
  return {
    asked,
    lookupAll: async (host) => {
      asked.push(`A ${host}`);
      const found = hosts[host];
      if (found === undefined) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
      return found;
    },
    resolveSrv: async (name) => {
      asked.push(`SRV ${name}`);
      const found = srv[name];
      if (found === undefined) throw Object.assign(new Error(`querySrv ENOTFOUND ${name}`), { code: 'ENOTFOUND' });
      return found;
    },
  };
}

describe('--join entries', () => {
  test('host:port, [v6]:port and bare names for SRV', () => {
    assert.deepEqual(parseJoinList('--join', '10.0.0.5:3000, seed.example.com:3001,[::1]:3002,chatterbox.default.svc.cluster.local'), [
      { kind: 'address', host: '10.0.0.5', port: 3000 },
      { kind: 'address', host: 'seed.example.com', port: 3001 },
      { kind: 'address', host: '::1', port: 3002 },
      { kind: 'srv', name: 'chatterbox.default.svc.cluster.local' },
    ]);
  });

  test('bad entries are usage errors of one line that name the entry', () => {
    for (const [raw, says] of [
      ['', /empty entry/],
      ['a:1,,b:2', /empty entry/],
      ['host:0', /out of range/],
      ['host:65536', /out of range/],
      ['10.0.0.5', /without a port/],
      ['::1:3000', /brackets/],
      ['[host]:3000', /IPv6/],
      ['host:port', /expected host:port/],
      ['bad name:3000', /expected host:port/],
      ['under_score..name', /expected host:port/],
    ] as const) {
      assert.throws(() => parseJoinList('--join', raw), (error: unknown) => error instanceof UsageError && says.test(error.message) && !error.message.includes('\n'), raw);
    }
  });

  test('SRV names: _chatterbox._tcp. is prefixed unless the name starts with _; records by priority, then weight', () => {
    assert.equal(srvName('chatterbox.ns.svc'), '_chatterbox._tcp.chatterbox.ns.svc');
    assert.equal(srvName('_peer._tcp.chatterbox.ns.svc'), '_peer._tcp.chatterbox.ns.svc');
    const records: SrvRecord[] = [
      { name: 'c', port: 1, priority: 10, weight: 5 },
      { name: 'b', port: 1, priority: 0, weight: 1 },
      { name: 'a', port: 1, priority: 0, weight: 9 },
    ];
    assert.deepEqual(orderSrv(records).map((r) => r.name), ['a', 'b', 'c']);
  });
});

describe('seed resolution', () => {
  test('names expand to every A/AAAA record, SRV to its targets and ports; duplicates once; failures are problems', async () => {
    const resolver = fakeResolver(
      { 'seed.local': ['10.0.0.1', '10.0.0.2'], 'pod-0.svc': ['10.0.1.0'], 'pod-1.svc': ['10.0.1.1', 'fd00::1'] },
      {
        '_chatterbox._tcp.svc': [
          { name: 'pod-1.svc', port: 3000, priority: 0, weight: 1 },
          { name: 'pod-0.svc', port: 3000, priority: 0, weight: 2 },
        ],
      },
    );
    const entries = parseJoinList('--join', 'seed.local:3000,svc,10.0.0.1:3000,missing.local:1,nosrv');
    const { addresses, problems } = await resolveSeeds(entries, resolver);
    assert.deepEqual(addresses, [
      { host: '10.0.0.1', port: 3000 },
      { host: '10.0.0.2', port: 3000 },
      { host: '10.0.1.0', port: 3000 },
      { host: '10.0.1.1', port: 3000 },
      { host: 'fd00::1', port: 3000 },
    ]);
    assert.deepEqual(problems, ['missing.local: ENOTFOUND', '_chatterbox._tcp.nosrv: ENOTFOUND']);
    assert.ok(!resolver.asked.includes('A 10.0.0.1'), 'an address literal is not looked up');
  });
});

describe('findSeeds', () => {
  const self = nodeId('n9');
  const addresses: Record<string, NodeId | Error> = {
    '10.0.0.1:3000': nodeId('n1'),
    '10.0.0.2:3000': new Error('ECONNREFUSED'),
    '10.0.0.9:3000': self,
  };

  function io(answering: (round: number) => Record<string, NodeId | Error>, hosts: Record<string, string[]>) {
    let round = 1;
    const lines: string[] = [];
    const sleeps: number[] = [];
    return {
      lines,
      sleeps,
      io: {
        resolver: fakeResolver(hosts, {}),
        self,
        identify: async (host: string, port: number) => {
          const answer = answering(round)[`${host}:${port}`] ?? new Error('ECONNREFUSED');
          if (answer instanceof Error) throw answer;
          return answer;
        },
        onFailedRound: (r: number, reasons: readonly string[], retryInMs: number) => lines.push(`${r} ${retryInMs} ${reasons.join('; ')}`),
        sleep: async (ms: number) => {
          sleeps.push(ms);
          round++;
          return round <= 12;
        },
      },
    };
  }

  test('retries with capped exponential backoff, one line per failed round, until a seed answers', async () => {
    const run = io((round) => (round < 8 ? {} : addresses), { seeds: ['10.0.0.1', '10.0.0.2', '10.0.0.9'] });
    const seeds = await findSeeds(parseJoinList('--join', 'seeds:3000'), run.io);
    assert.deepEqual(seeds, [{ host: '10.0.0.1', port: 3000, id: 'n1' }]);
    assert.equal(run.lines.length, 7);
    assert.deepEqual(run.sleeps, [1, 2, 3, 4, 5, 6, 7].map(joinRetryDelayMs));
    assert.equal(run.sleeps[0], JOIN_RETRY_INITIAL_MS);
    assert.equal(run.sleeps.at(-1), JOIN_RETRY_MAX_MS);
    assert.match(run.lines[0] ?? '', /^1 250 10\.0\.0\.1:3000: ECONNREFUSED/);
  });

  test('a list naming only this node starts a new cluster; itself among silent seeds keeps waiting', async () => {
    const alone = io(() => addresses, { me: ['10.0.0.9'] });
    assert.deepEqual(await findSeeds(parseJoinList('--join', 'me:3000'), alone.io), []);
    assert.equal(alone.lines.length, 0);
    const waiting = io(() => addresses, { some: ['10.0.0.9', '10.0.0.2'] });
    assert.deepEqual(await findSeeds(parseJoinList('--join', 'some:3000'), waiting.io), [], 'ends only when stopped');
    assert.equal(waiting.lines.length, 12);
  });
});
