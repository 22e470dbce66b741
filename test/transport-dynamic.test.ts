/**
 * TcpTransport in dynamic mode: peers added and removed as membership reports them, nodes nobody has heard of
 * connecting, and `identify` turning a seed's address into its node id. Every wait is for an event; the timeout
 * only bounds how long a missing event takes to fail a test.
 */
import { describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { nodeId, type NodeId } from '../src/core/ids.js';
import { freePorts } from '../src/supervisor/free-port.js';
import { TcpTransport, type PeerAddress, type TcpTransportOptions } from '../src/transport/tcp-transport.js';
import { decodeHello, encodeHello, NONCE_BYTES, PROTOCOL_VERSION } from '../src/transport/secure-channel.js';
import { encodeFrame } from '../src/transport/framing.js';
import { MAX_PROVISIONAL_PEERS } from '../src/transport/tcp-transport.js';
import { connect, type Socket } from 'node:net';
import { formatHostPort, parseHostPort } from '../src/transport/host-port.js';

const WAIT_TIMEOUT_MS = 5_000;
const HOST = '127.0.0.1';
const CLUSTER = 'dynamic-test';

interface Node {
  readonly address: PeerAddress;
  readonly transport: TcpTransport;
  readonly inbox: Array<{ from: NodeId; msg: unknown }>;
  readonly ups: NodeId[];
  readonly downs: NodeId[];
  /** Resolves when `check` holds, re-checked after every transport event. */
  until(check: () => boolean, what: string): Promise<void>;
}

type Overrides = Partial<Omit<TcpTransportOptions, 'self' | 'log' | 'onMessage' | 'onPeerUp' | 'onPeerDown'>>;

async function start(t: TestContext, id: string, port: number, overrides: Overrides = {}): Promise<Node> {
  const address: PeerAddress = { id: nodeId(id), host: HOST, port };
  const inbox: Node['inbox'] = [];
  const ups: NodeId[] = [];
  const downs: NodeId[] = [];
  const waiters = new Set<() => void>();
  const changed = (): void => {
    for (const waiter of [...waiters]) waiter();
  };
  const transport = await TcpTransport.listen({
    self: address,
    peers: [address],
    clusterId: CLUSTER,
    incarnation: `${id}-1`,
    dynamic: true,
    log: pino({ level: 'silent' }),
    onMessage: (from, msg) => {
      inbox.push({ from, msg });
      changed();
    },
    onPeerUp: (peer) => {
      ups.push(peer);
      changed();
    },
    onPeerDown: (peer) => {
      downs.push(peer);
      changed();
    },
    ...overrides,
  });
  t.after(() => transport.close());
  const until = (check: () => boolean, what: string): Promise<void> =>
    new Promise((resolve, reject) => {
      const waiter = (): void => {
        if (!check()) return;
        waiters.delete(waiter);
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        waiters.delete(waiter);
        reject(new Error(`timed out after ${WAIT_TIMEOUT_MS} ms waiting for ${what}`));
      }, WAIT_TIMEOUT_MS);
      waiters.add(waiter);
      waiter();
    });
  return { address, transport, inbox, ups, downs, until };
}

/** Sends until one arrives: a send right after peer-up may race the other side's own peer-up, never the connection. */
async function exchange(from: Node, to: Node, tag: string): Promise<void> {
  assert.equal(from.transport.send(to.address.id, { tag }), true, `${from.address.id} sends ${tag}`);
  await to.until(() => to.inbox.some((r) => r.from === from.address.id && (r.msg as { tag?: string }).tag === tag), `${to.address.id} to receive ${tag}`);
}

async function joinThrough(joiner: Node, seed: Node): Promise<void> {
  const id = await joiner.transport.identify(HOST, seed.address.port);
  assert.equal(id, seed.address.id);
  assert.equal(joiner.transport.addPeer({ id, host: HOST, port: seed.address.port }), true);
  await joiner.until(() => joiner.transport.connectedPeers().includes(seed.address.id), `${joiner.address.id} to connect to ${seed.address.id}`);
  await seed.until(() => seed.transport.connectedPeers().includes(joiner.address.id), `${seed.address.id} to connect to ${joiner.address.id}`);
}

describe('host:port', () => {
  test('round-trips names, IPv4 and bracketed IPv6; refuses what is not one', () => {
    for (const [host, port] of [['10.0.0.5', 7000], ['::1', 1], ['node-1.svc', 65_535]] as const) {
      assert.deepEqual(parseHostPort(formatHostPort(host, port)), { host, port });
    }
    for (const bad of ['', 'host', 'host:', ':80', 'host:0', 'host:65536', '::1:80', '[::1]', 'a:b:80', 'host:8o']) assert.equal(parseHostPort(bad), undefined, bad);
  });
});

describe('Handshake hello in dynamic mode', () => {
  test('carries an optional listen address, which an old-style hello lacks', () => {
    const base = { v: PROTOCOL_VERSION, cluster: 'c', node: 'n', incarnation: 'i', nonce: randomBytes(NONCE_BYTES), keyed: false };
    assert.equal(decodeHello(encodeHello(base)).listen, undefined);
    assert.equal(decodeHello(encodeHello({ ...base, listen: '10.0.0.5:3000' })).listen, '10.0.0.5:3000');
    assert.throws(() => decodeHello(encodeHello({ ...base, listen: 7 as unknown as string })), /listen/);
  });
});

describe('TcpTransport, dynamic mode', () => {
  for (const [joinerId, seedId, which] of [
    ['a', 'b', 'the joiner is the lower id: its identify connection becomes the pair\'s'],
    ['b', 'a', 'the seed is the lower id: woken by the identify, it dials the joiner at its listen address'],
  ] as const) {
    test(`a node nobody knows joins through a seed's address (${which})`, async (t) => {
      const [seedPort, joinerPort] = (await freePorts(2, HOST)) as [number, number];
      const seed = await start(t, seedId, seedPort);
      const joiner = await start(t, joinerId, joinerPort);
      await joinThrough(joiner, seed);
      // The seed took an unknown id: provisional until membership adds it.
      assert.deepEqual(seed.transport.knownPeers(), [joiner.address.id]);
      assert.equal(seed.transport.addPeer(joiner.address), true);
      await exchange(joiner, seed, 'hello seed');
      await exchange(seed, joiner, 'hello joiner');
      assert.equal(seed.ups.filter((id) => id === joiner.address.id).length, 1, 'one connection per pair, not one per way in');
    });
  }

  test('a third node learns of the others by addPeer (as from gossip) and connects both ways', async (t) => {
    const ports = (await freePorts(3, HOST)) as [number, number, number];
    const [n1, n2, n3] = await Promise.all(['n1', 'n2', 'n3'].map((id, i) => start(t, id, ports[i] ?? 0)));
    assert.ok(n1 !== undefined && n2 !== undefined && n3 !== undefined);
    await joinThrough(n3, n1);
    n1.transport.addPeer(n3.address);
    // n2 hears of n1 and n3 from gossip: n2 dials n3 (lower id) and wakes n1 (higher... lower id: n1 dials it).
    n2.transport.addPeer(n1.address);
    n2.transport.addPeer(n3.address);
    await n2.until(() => n2.transport.connectedPeers().length === 2, 'n2 to connect to n1 and n3');
    await exchange(n2, n1, '2->1');
    await exchange(n2, n3, '2->3');
    await exchange(n3, n2, '3->2');
  });

  test('removePeer closes and forgets a peer; one that still knows us comes back, provisional', async (t) => {
    const [p1, p2] = (await freePorts(2, HOST)) as [number, number];
    const n1 = await start(t, 'n1', p1);
    const n2 = await start(t, 'n2', p2);
    n1.transport.addPeer(n2.address);
    n2.transport.addPeer(n1.address);
    await n1.until(() => n1.transport.connectedPeers().includes(n2.address.id), 'n1 to connect');

    assert.equal(n1.transport.removePeer(n2.address.id), true);
    assert.equal(n1.transport.removePeer(n2.address.id), false, 'only once');
    assert.deepEqual(n1.downs, [n2.address.id]);
    assert.equal(n1.transport.send(n2.address.id, { tag: 'gone' }), false);
    // n2 still has n1 added: it wakes n1, which dials it once (a provisional peer) and takes it back.
    await n1.until(() => n1.transport.connectedPeers().includes(n2.address.id), 'n2 back at n1');
    await n2.until(() => n2.transport.connectedPeers().includes(n1.address.id), 'n1 back at n2');
    await exchange(n2, n1, 'back');

    // Removed on both sides, nobody reconnects: both tables are empty at once.
    n2.transport.removePeer(n1.address.id);
    n1.transport.removePeer(n2.address.id);
    assert.deepEqual(n1.transport.knownPeers(), []);
    assert.deepEqual(n2.transport.knownPeers(), []);
    assert.equal(n2.transport.send(n1.address.id, { tag: 'gone' }), false);
  });

  test('identify: its own address names this node; a closed port or another cluster key is refused', async (t) => {
    const [p1, p2, p3, p4, closed] = (await freePorts(5, HOST)) as [number, number, number, number, number];
    const key = randomBytes(32);
    const n1 = await start(t, 'n1', p1, { clusterKey: key });
    assert.equal(await n1.transport.identify(HOST, p1), 'n1');
    await assert.rejects(n1.transport.identify(HOST, closed), /ECONNREFUSED|closed/);
    // A higher id holding another key fails at the proof (a lower one is named by its hello alone: see the top of tcp-transport.ts).
    const otherKey = await start(t, 'n9', p2, { clusterKey: randomBytes(32) });
    await assert.rejects(n1.transport.identify(HOST, otherKey.address.port), /prove|key|closed/);
    const keyless = await start(t, 'n0', p4);
    await assert.rejects(n1.transport.identify(HOST, keyless.address.port), /key/);
    // With the same key, both directions of the id order work.
    const n2 = await start(t, 'n2', p3, { clusterKey: key });
    await joinThrough(n2, n1);
    await exchange(n1, n2, 'keyed');
  });

  test(`nodes nobody added are at most MAX_PROVISIONAL_PEERS (${MAX_PROVISIONAL_PEERS}) at once; past it a newcomer is refused`, async (t) => {
    const [port] = (await freePorts(1, HOST)) as [number];
    const node = await start(t, 'z', port);
    const sockets: Socket[] = [];
    t.after(() => {
      for (const socket of sockets) socket.destroy();
    });
    const hello = (id: string): Promise<Socket> =>
      new Promise((resolve, reject) => {
        const socket = connect({ host: HOST, port }, () => {
          socket.write(encodeFrame(encodeHello({ v: PROTOCOL_VERSION, cluster: CLUSTER, node: id, incarnation: 'raw', nonce: randomBytes(NONCE_BYTES), keyed: false })));
          resolve(socket);
        });
        socket.on('error', () => {});
        socket.once('error', reject);
        socket.resume();
        sockets.push(socket);
      });
    // Lower ids than the node's: full connections (no wake-ups), each a provisional peer.
    for (let i = 0; i < MAX_PROVISIONAL_PEERS; i++) await hello(`a${String(i).padStart(3, '0')}`);
    await node.until(() => node.ups.length === MAX_PROVISIONAL_PEERS, `${MAX_PROVISIONAL_PEERS} provisional peers up`);
    const extra = await hello('b000');
    await new Promise((resolve) => extra.once('close', resolve));
    assert.equal(node.transport.knownPeers().length, MAX_PROVISIONAL_PEERS);
    assert.equal(node.transport.stats().refused, 1);
    // Membership confirming one makes room: it is no longer provisional.
    assert.equal(node.transport.addPeer({ id: nodeId('a000'), host: HOST, port: 1 }), true);
    await hello('b001');
    await node.until(() => node.ups.includes(nodeId('b001')), 'b001 up once there was room');
  });

  test('a static transport has no dynamic operations', async (t) => {
    const [p1] = (await freePorts(1, HOST)) as [number];
    const stat = await start(t, 'n1', p1, { dynamic: false });
    assert.throws(() => stat.transport.addPeer({ id: nodeId('n2'), host: HOST, port: 1 }), /dynamic/);
    assert.throws(() => stat.transport.removePeer(nodeId('n2')), /dynamic/);
    await assert.rejects(async () => stat.transport.identify(HOST, p1), /dynamic/);
  });
});
